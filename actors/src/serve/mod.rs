//! Serving the remote's requests: the [`RequestHandler`] actor answers GetBlockHeaders,
//! GetBlockBodies, GetReceipts (in the negotiated version's shape), GetPooledTransactions
//! and GetNodeData from the chain store and the pool, mirroring request ids.

mod actor;

pub use actor::{pooled_transactions, RequestHandler, MAX_POOLED_TXS_SERVE};

#[cfg(test)]
mod tests;
