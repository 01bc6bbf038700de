//! [`RequestHandler`]: every peer's requests, answered on worker threads (an actix
//! `SyncArbiter`: lookups in the chain store and the pool are synchronous reads, and large
//! replies take milliseconds to assemble), each answer going to the requesting peer's
//! response queue. Answers to one peer may come back in another order than its requests;
//! eth/66+ request ids match them (EIP-2481).

use std::sync::Arc;

use actix::prelude::*;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;

use super::cells::CellServer;
use crate::chain::{serve, ChainStore};
use crate::eth::cells;
use crate::eth::{
    BlockAccessLists, BlockBodies, BlockHeaders, Cells, EthMessage, EthVersion, NodeData,
    PooledTransactions, PooledTx, Receipts, Receipts69, Receipts70,
};
use crate::p2p::PeerId;
use crate::peer::{short, InboundEth, SendEth};
use crate::txs::pool::TxPool;

/// Most transactions served per GetPooledTransactions (geth serves up to the 2 MiB soft
/// limit; reth caps at 4096 items as well).
pub const MAX_POOLED_TXS_SERVE: usize = 4096;

/// Answers eth requests. Messages that are not requests are ignored here (other actors
/// handle them).
pub struct RequestHandler {
    /// The chain.
    store: Arc<dyn ChainStore>,
    /// The transaction pool.
    pool: Arc<dyn TxPool>,
    /// GetCells: the extension cache and the per-peer compute budgets, shared.
    cells: Arc<CellServer>,
}

impl RequestHandler {
    /// A handler serving from `store` and `pool`.
    pub fn new(store: Arc<dyn ChainStore>, pool: Arc<dyn TxPool>) -> Self {
        Self {
            store,
            pool,
            cells: Arc::default(),
        }
    }

    /// Serves GetCells with `cells` (shared by every handler that answers them).
    pub fn with_cells(mut self, cells: Arc<CellServer>) -> Self {
        self.cells = cells;
        self
    }

    /// Starts `threads` handler threads (at least one) serving from `store` and `pool`.
    /// What each peer may have waiting is bounded upstream: a peer's socket is not read
    /// while 4 of its requests are unanswered (`peer::MAX_UNANSWERED_REQUESTS`).
    pub fn spawn(store: Arc<dyn ChainStore>, pool: Arc<dyn TxPool>, threads: usize) -> Addr<Self> {
        let cells = Arc::new(CellServer::default());
        SyncArbiter::start(threads.max(1), move || {
            Self::new(store.clone(), pool.clone()).with_cells(cells.clone())
        })
    }
}

impl Actor for RequestHandler {
    type Context = SyncContext<Self>;
}

impl Handler<InboundEth> for RequestHandler {
    type Result = ();

    fn handle(&mut self, msg: InboundEth, _ctx: &mut SyncContext<Self>) {
        let Some(response) = self.answer(msg.peer.id, msg.peer.version, &msg.message) else {
            return;
        };
        if let Err(error) = msg.peer.send.try_send(SendEth(response)) {
            log::debug!("peer {}: response not queued: {error}", short(&msg.peer.id));
        }
    }
}

impl RequestHandler {
    /// The response to `request`, or `None` if it is not a request.
    fn answer(
        &self,
        peer: PeerId,
        version: EthVersion,
        request: &EthMessage,
    ) -> Option<EthMessage> {
        let store = self.store.as_ref();
        Some(match request {
            EthMessage::GetBlockHeaders(r) => {
                EthMessage::BlockHeaders(r.answer(BlockHeaders(serve::headers(store, &r.message))))
            }
            EthMessage::GetBlockBodies(r) => {
                EthMessage::BlockBodies(r.answer(BlockBodies(serve::bodies(store, &r.message.0))))
            }
            EthMessage::GetReceipts(r) if version >= EthVersion::Eth69 => {
                EthMessage::Receipts69(r.answer(Receipts69(serve::receipts69(store, &r.message.0))))
            }
            EthMessage::GetReceipts(r) => {
                EthMessage::Receipts(r.answer(Receipts(serve::receipts(store, &r.message.0))))
            }
            EthMessage::GetReceipts70(r) => {
                let (receipts, last_block_incomplete) =
                    serve::receipts70(store, &r.block_hashes, r.first_block_receipt_index);
                EthMessage::Receipts70(Receipts70 {
                    request_id: r.request_id,
                    last_block_incomplete,
                    receipts,
                })
            }
            EthMessage::GetPooledTransactions(r) => {
                let mut txs = pooled_transactions(self.pool.as_ref(), &r.message.0, version);
                if version >= EthVersion::Eth72 {
                    // eth/72 sends blob txs without blobs; their cells go by GetCells.
                    txs = txs.iter().map(cells::without_blobs).collect();
                }
                EthMessage::PooledTransactions(r.answer(PooledTransactions(txs)))
            }
            EthMessage::GetCells(r) => {
                let (hashes, cells) =
                    self.cells
                        .pooled_cells(self.pool.as_ref(), peer, &r.hashes, &r.mask);
                EthMessage::Cells(Cells {
                    request_id: r.request_id,
                    hashes,
                    cells,
                    mask: r.mask,
                })
            }
            EthMessage::GetBlockAccessLists(r) => EthMessage::BlockAccessLists(r.answer(
                BlockAccessLists(serve::block_access_lists(store, &r.message.0)),
            )),
            // We keep no state trie to serve from: an empty answer, as geth's snap-synced
            // nodes give.
            EthMessage::GetNodeData(r) => EthMessage::NodeData(r.answer(NodeData(Vec::new()))),
            _ => return None,
        })
    }
}

/// The pool's transactions for `hashes`, in request order, unknown ones skipped, blob txs
/// with their sidecars, up to [`MAX_POOLED_TXS_SERVE`] and about 2 MiB.
///
/// Sampled blob txs (held without blobs) go only to eth/72 peers: an older peer needs the
/// blobs, which we do not have, so for it they are unknown.
pub fn pooled_transactions(
    pool: &dyn TxPool,
    hashes: &[B256],
    version: EthVersion,
) -> Vec<PooledTx> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for hash in hashes.iter().take(MAX_POOLED_TXS_SERVE) {
        if bytes >= serve::SOFT_RESPONSE_LIMIT {
            break;
        }
        let pooled = pool.get(hash);
        if let Some(tx) = pooled.filter(|tx| version >= EthVersion::Eth72 || !tx.is_sampled()) {
            bytes += tx.tx.encode_2718_len();
            out.push(tx.tx.clone());
        }
    }
    out
}
