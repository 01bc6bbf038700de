//! A summary of a chain (genesis plus imported blocks): what `ethpeer chain info` prints.

use alloy_consensus::Header;
use alloy_genesis::Genesis;
use alloy_primitives::{B256, U256};

use super::{verify_chain, ChainFileError};
use crate::eth::{genesis, EthBlock, ForkId};

/// Head, total difficulty and fork id of a chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChainInfo {
    /// Hash of the genesis block.
    pub genesis_hash: B256,
    /// Number of the head block.
    pub head_number: u64,
    /// Hash of the head block.
    pub head_hash: B256,
    /// Sum of the difficulties from genesis to head.
    pub total_difficulty: U256,
    /// EIP-2124 fork id at the head (by its number and timestamp).
    pub fork_id: ForkIdJson,
}

/// A fork id as JSON: `{"hash": "0x377aaa78", "next": 0}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ForkIdJson {
    /// The CRC32 fork hash, hex.
    pub hash: String,
    /// The next fork's block or timestamp, 0 if none.
    pub next: u64,
}

impl From<ForkId> for ForkIdJson {
    fn from(id: ForkId) -> Self {
        Self {
            hash: format!("0x{}", alloy_primitives::hex::encode(id.hash.0)),
            next: id.next,
        }
    }
}

/// Why a chain summary could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChainInfoError {
    /// The genesis file cannot be turned into a header.
    #[error(transparent)]
    Genesis(#[from] genesis::GenesisError),
    /// The blocks do not extend the genesis.
    #[error(transparent)]
    Chain(#[from] ChainFileError),
}

/// Summarises `blocks` on top of `genesis`, checking links and body roots on the way.
pub fn chain_info(
    genesis_spec: &Genesis,
    blocks: &[EthBlock],
) -> Result<ChainInfo, ChainInfoError> {
    let genesis_header = genesis::genesis_header(genesis_spec)?;
    verify_chain(&genesis_header, blocks)?;
    let genesis_hash = genesis_header.hash_slow();
    let head: &Header = blocks.last().map_or(&genesis_header, |b| &b.header);
    let total_difficulty = blocks
        .iter()
        .fold(genesis_header.difficulty, |td, b| td + b.header.difficulty);
    let schedule = genesis::fork_schedule(genesis_spec, genesis_hash);
    Ok(ChainInfo {
        genesis_hash,
        head_number: head.number,
        head_hash: head.hash_slow(),
        total_difficulty,
        fork_id: schedule.fork_id(head.number, head.timestamp).into(),
    })
}
