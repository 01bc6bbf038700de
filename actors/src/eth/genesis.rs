//! The genesis block of a geth-style `genesis.json`: its header (state root from the alloc
//! through the Merkle-Patricia trie, plus the fields the forks active at genesis require)
//! and its fork schedule.

use std::path::Path;

use alloy_consensus::{constants::EMPTY_OMMER_ROOT_HASH, Header, EMPTY_ROOT_HASH};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{B256, B64};
use alloy_trie::root::state_root_ref_unhashed;

use super::ForkSchedule;

/// The base fee of the first London block (EIP-1559 `INITIAL_BASE_FEE`, 1 gwei), used when
/// London is active at genesis and `genesis.json` names no base fee.
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// Why a genesis file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a geth-style genesis JSON.
    #[error("invalid genesis file {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON has no chain configuration (geth: "genesis has no chain configuration").
    #[error("genesis file {path} has no config.chainId")]
    MissingConfig {
        /// The file.
        path: String,
    },
    /// The base fee does not fit a header's u64 field.
    #[error("genesis base fee {base_fee} does not fit in 64 bits")]
    BaseFeeTooLarge {
        /// The configured base fee.
        base_fee: u128,
    },
}

/// Reads and parses a geth-style `genesis.json`.
pub fn load_genesis(path: &Path) -> Result<Genesis, GenesisError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
        path: shown.clone(),
        source,
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| GenesisError::Json {
            path: shown.clone(),
            source,
        })?;
    // alloy's Genesis defaults every field, so any JSON object would parse: insist on the
    // chain configuration that every real genesis file has.
    if json.get("config").and_then(|c| c.get("chainId")).is_none() {
        return Err(GenesisError::MissingConfig { path: shown });
    }
    serde_json::from_value(json).map_err(|source| GenesisError::Json {
        path: shown,
        source,
    })
}

/// Builds the genesis header: the state root of the alloc, empty roots for transactions,
/// receipts and ommers, and the fork fields that the forks active at genesis require
/// (base fee for London, withdrawals root for Shanghai, blob gas and beacon root for Cancun,
/// requests hash for Prague).
pub fn genesis_header(genesis: &Genesis) -> Result<Header, GenesisError> {
    let config = &genesis.config;
    let time_active = |fork: Option<u64>| fork.is_some_and(|t| t <= genesis.timestamp);
    let london = config.london_block.is_some_and(|b| b == 0);
    let shanghai = time_active(config.shanghai_time);
    let cancun = time_active(config.cancun_time);
    let prague = time_active(config.prague_time);

    let base_fee_per_gas = match (london, genesis.base_fee_per_gas) {
        (false, _) => None,
        (true, None) => Some(INITIAL_BASE_FEE),
        (true, Some(fee)) => {
            Some(u64::try_from(fee).map_err(|_| GenesisError::BaseFeeTooLarge { base_fee: fee })?)
        }
    };
    Ok(Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: state_root_ref_unhashed(&genesis.alloc),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: genesis.number.unwrap_or_default(),
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas,
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    })
}

/// The fork schedule of a genesis file, anchored at its genesis hash.
pub fn fork_schedule(genesis: &Genesis, genesis_hash: B256) -> ForkSchedule {
    ForkSchedule::from_chain_config(genesis_hash, genesis.timestamp, &genesis.config)
}
