//! Wiring the inbound side: the actors peers hand their decoded messages to.

use std::sync::Arc;

use actix::prelude::*;

use super::NodeConfig;
use crate::blocks::import::{BlockHandler, BlockHandlerLinks};
use crate::blocks::propagation::BlockPropagator;
use crate::chain::ChainStore;
use crate::peer::{InboundRoutes, SeenRoute};
use crate::peer_set::PeerSetActor;
use crate::serve::RequestHandler;
use crate::txs::inbox::{TxInbox, TxInboxLinks};
use crate::txs::ingest::{start_verifiers, TxIngest, TxsRejected};
use crate::txs::pool::{TxPool, ValidatingTxPool};

/// Threads answering GetCells (ours: one; a request computes at most 32 blob extensions,
/// about 120 ms, and each peer at most 32 a second, so one core's share bounds the cost while
/// header and body serving keep their own workers).
pub const CELL_WORKERS: usize = 1;

/// Starts the actors that take peers' inbound messages (request handler, block handler,
/// tx fetcher with the ingest path and its verifier threads) and returns where each kind
/// of message goes; the ingest path tells `rejections` what it refused.
pub(super) fn start_inbound_handlers(
    config: &NodeConfig,
    (store, served): (&Arc<dyn ChainStore>, &Arc<dyn ChainStore>),
    pool: &Arc<ValidatingTxPool>,
    peer_set: &Addr<PeerSetActor>,
    propagator: &Addr<BlockPropagator>,
    (seen, rejections): (SeenRoute, Recipient<TxsRejected>),
) -> InboundRoutes {
    let shared_pool: Arc<dyn TxPool> = pool.clone();
    let block_links = BlockHandlerLinks {
        mark: peer_set.clone().recipient(),
        head: peer_set.clone().recipient(),
        propagate: propagator.clone().recipient(),
        announce: propagator.clone().recipient(),
        range: peer_set.clone().recipient(),
    };
    InboundRoutes {
        requests: Some(
            RequestHandler::spawn(served.clone(), shared_pool.clone(), config.verify_threads)
                .recipient(),
        ),
        cells: Some(RequestHandler::spawn(served.clone(), shared_pool, CELL_WORKERS).recipient()),
        blocks: Some(
            BlockHandler::new(store.clone(), block_links, config.block_policy)
                .start()
                .recipient(),
        ),
        transactions: Some(
            TxInbox::new(
                pool.clone(),
                TxInboxLinks {
                    mark: peer_set.clone().recipient(),
                    ingest: TxIngest::new(
                        pool.clone(),
                        start_verifiers(pool.clone(), config.verify_threads).recipient(),
                        config.verify_threads,
                    )
                    .with_rejections(rejections)
                    .start()
                    .recipient(),
                },
                config.arrival_wait,
            )
            .with_blob_policy(match config.blob_fetch.salt().is_zero() {
                true => config.blob_fetch.salted(blob_fetch_salt(&config.key)),
                false => config.blob_fetch,
            })
            .start()
            .recipient(),
        ),
        seen: Some(seen),
        // Fetching at once: the announcing peer's thread asks for never-seen hashes
        // itself, without the two hand-offs through the inbox (see `peer::prefetch`).
        prefetch: config
            .arrival_wait
            .is_zero()
            .then(|| Arc::new(crate::peer::PrefetchClaims::default())),
    }
}

/// The salt of this node's whole-or-sample choice per blob tx unless the embedder set one:
/// derived from its key, so stable across restarts and unknown to peers.
fn blob_fetch_salt(key: &secp256k1::SecretKey) -> alloy_primitives::B256 {
    let mut input = b"ethpeer blob fetch salt".to_vec();
    input.extend_from_slice(&key.secret_bytes());
    alloy_primitives::keccak256(input)
}
