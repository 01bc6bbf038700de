//! Block-related eth messages: header and body requests, block broadcasts (eth <= 68) and
//! BlockRangeUpdate (eth >= 69).

use alloy_consensus::{Block, BlockBody, Header, TxEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{B256, U256};
use alloy_rlp::{RlpDecodable, RlpDecodableWrapper, RlpEncodable, RlpEncodableWrapper};

use super::EthWireError;

/// A full block as carried in NewBlock: header, transactions, ommers, withdrawals.
pub type EthBlock = Block<TxEnvelope>;
/// A block body as carried in BlockBodies: transactions, ommers, withdrawals.
pub type EthBlockBody = BlockBody<TxEnvelope>;

/// GetBlockHeaders (0x03) body: `[startblock: {P, B_32}, limit, skip, reverse]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetBlockHeaders {
    /// The first block, by number or hash.
    pub start_block: BlockHashOrNumber,
    /// Maximum number of headers to return.
    pub limit: u64,
    /// Blocks to skip between consecutive headers.
    pub skip: u64,
    /// Walk towards genesis instead of towards the head.
    pub reverse: bool,
}

/// BlockHeaders (0x04) body: a list of headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct BlockHeaders(pub Vec<Header>);

/// GetBlockBodies (0x05) body: a list of block hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct GetBlockBodies(pub Vec<B256>);

/// BlockBodies (0x06) body: a list of `[txs, ommers(, withdrawals)]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct BlockBodies(pub Vec<EthBlockBody>);

/// One entry of NewBlockHashes: `[hash, number]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockHashNumber {
    /// The block hash.
    pub hash: B256,
    /// The block number.
    pub number: u64,
}

/// NewBlockHashes (0x01, eth <= 68): announcements of new blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct NewBlockHashes(pub Vec<BlockHashNumber>);

/// NewBlock (0x07, eth <= 68): `[block, td]`.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewBlock {
    /// The block.
    pub block: EthBlock,
    /// Total difficulty including this block.
    pub td: U256,
}

/// BlockRangeUpdate (0x11, eth >= 69, EIP-7642): `[earliest, latest, latestHash]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BlockRangeUpdate {
    /// Earliest block whose bodies and receipts the sender serves.
    pub earliest: u64,
    /// The sender's latest block number.
    pub latest: u64,
    /// The sender's latest block hash.
    pub latest_hash: B256,
}

impl BlockRangeUpdate {
    /// Checks the two rules geth enforces: `earliest <= latest` and a nonzero hash.
    pub fn validate(&self) -> Result<(), EthWireError> {
        if self.earliest > self.latest {
            return Err(EthWireError::InvalidBlockRange {
                earliest: self.earliest,
                latest: self.latest,
            });
        }
        if self.latest_hash.is_zero() {
            return Err(EthWireError::ZeroLatestHash);
        }
        Ok(())
    }
}
