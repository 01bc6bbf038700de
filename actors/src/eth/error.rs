//! Errors of the eth wire layer, each mapped to the disconnect reason geth would send.

use super::{EthMessageId, EthVersion};
use crate::p2p::DisconnectReason;

/// Why an eth message could not be decoded or is not acceptable as encoded.
///
/// Every variant is a protocol violation by the sender; geth answers all of them with
/// `DiscSubprotocolError` (0x10), see [`EthWireError::disconnect_reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EthWireError {
    /// The message id is not an eth message id at all.
    #[error("unknown eth message id {id:#04x}")]
    UnknownMessageId {
        /// The id as received (relative to the eth capability's offset).
        id: u8,
    },
    /// The message exists in some eth version but not in the negotiated one (e.g.
    /// NewBlock on eth/69, GetNodeData on eth/67).
    #[error("{id:?} is not part of {version}")]
    IllegalInVersion {
        /// The message.
        id: EthMessageId,
        /// The negotiated version.
        version: EthVersion,
    },
    /// The payload is not valid RLP for the message's shape.
    #[error("invalid RLP in {id:?}: {source}")]
    Rlp {
        /// The message being decoded.
        id: EthMessageId,
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
    /// Bytes are left over after the message's top-level RLP item.
    #[error("{trailing} trailing bytes after {id:?}")]
    TrailingBytes {
        /// The message being decoded.
        id: EthMessageId,
        /// How many bytes were left.
        trailing: usize,
    },
    /// An eth/68 NewPooledTransactionHashes whose three lists differ in length.
    #[error("announcement lists differ in length: {types} types, {sizes} sizes, {hashes} hashes")]
    AnnouncementLengthMismatch {
        /// Number of type bytes.
        types: usize,
        /// Number of sizes.
        sizes: usize,
        /// Number of hashes.
        hashes: usize,
    },
    /// An eth/72 Cells message whose hash and cell lists differ in length.
    #[error("cells for {lists} transactions under {hashes} hashes")]
    CellsLengthMismatch {
        /// Number of hashes.
        hashes: usize,
        /// Number of per-transaction cell lists.
        lists: usize,
    },
    /// A BlockRangeUpdate whose earliest block is above its latest block.
    #[error("block range earliest {earliest} is above latest {latest}")]
    InvalidBlockRange {
        /// Earliest available block.
        earliest: u64,
        /// Latest available block.
        latest: u64,
    },
    /// A BlockRangeUpdate whose latest hash is zero (geth rejects it).
    #[error("block range update with a zero latest hash")]
    ZeroLatestHash,
    /// The message is larger than the eth protocol allows.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The message size.
        size: usize,
        /// The limit it broke.
        limit: usize,
    },
}

impl EthWireError {
    /// The reason to disconnect a peer that sent such a message: geth's
    /// `DiscSubprotocolError` for every eth-level violation (`p2p.discReasonForError`).
    pub fn disconnect_reason(&self) -> DisconnectReason {
        DisconnectReason::SubprotocolSpecific
    }
}
