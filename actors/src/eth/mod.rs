//! The eth wire protocol, eth/66 to eth/71 (and eth/72's messages): versions, message types and their codecs, fork
//! ids and genesis. Pure data: no actix, no I/O.
//!
//! Types from the alloy stack (headers, transaction envelopes, receipts) are used as they
//! are; this module adds the message envelopes and the version rules.

mod access_lists;
mod blocks;
pub mod cells;
mod error;
pub mod forkid;
pub mod genesis;
mod message;
mod receipts;
mod request;
pub mod sampled;
mod status;
mod transactions;
mod version;

pub use access_lists::{BlockAccessListEntry, BlockAccessLists, GetBlockAccessLists};
pub use blocks::{
    BlockBodies, BlockHashNumber, BlockHeaders, BlockRangeUpdate, EthBlock, EthBlockBody,
    GetBlockBodies, GetBlockHeaders, NewBlock, NewBlockHashes,
};
pub use cells::{Cells, CustodyBitmap, GetCells, NewPooledTransactionHashes72};
pub use error::EthWireError;
pub use forkid::{ForkId, ForkSchedule};
pub use message::{EthMessage, EthMessageId, MAX_MESSAGE_SIZE};
pub use receipts::{GetReceipts, GetReceipts70, Receipt69, Receipts, Receipts69, Receipts70};
pub use request::RequestPair;
pub use sampled::SampledCells;
pub use status::{PeerHead, Status, Status69};
pub use transactions::{
    GetNodeData, GetPooledTransactions, NewPooledTransactionHashes66, NewPooledTransactionHashes68,
    NodeData, PooledTransactions, PooledTx, Transactions, MAX_TX_RETRIEVALS, MAX_TX_RETRIEVAL_SIZE,
};
pub use version::{EthVersion, UnsupportedEthVersion};
