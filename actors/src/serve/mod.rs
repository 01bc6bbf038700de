//! Serving the remote's requests: the [`RequestHandler`] actor answers GetBlockHeaders,
//! GetBlockBodies, GetReceipts (in the negotiated version's shape), GetPooledTransactions
//! GetNodeData and GetCells ([`CellServer`]: extensions computed once, rationed per peer)
//! from the chain store and the pool, mirroring request ids.

mod actor;
mod cells;

pub use actor::{pooled_transactions, RequestHandler, MAX_POOLED_TXS_SERVE};
pub use cells::{
    CellServer, COMPUTE_BLOBS_PER_PEER_PER_SECOND, MAX_CACHED_BLOBS, MAX_CELLS_SERVE,
    MAX_CELL_COMPUTE_BLOBS, MAX_CELL_TXS_SERVE,
};

#[cfg(test)]
mod tests;
