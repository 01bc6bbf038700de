//! Tx routing throughput in (tx, peer) pairs per second: the actor path (pool event ->
//! TxBroadcaster -> PeerSetActor lookup-and-mark -> grouping -> one queue command per peer)
//! with 50 in-memory peers (`ROUTING_PEERS` to change), next to a plain single-threaded loop doing the same known-set
//! lookups, marks, per-sender direct choice and grouping with no actors (the limit).
//!
//! Run: `cargo bench -p ethpeer-actors --bench routing`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use alloy_consensus::{Signed, TxEip1559};
use alloy_primitives::{Address, Signature, TxKind, B256, B512, U256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ethpeer_actors::eth::{EthVersion, PooledTx};
use ethpeer_actors::peer::{
    Disconnect, PeerHandle, PeerMetrics, QueueAnn, QueueProp, QueueTxAnns, QueueTxs, RequestError,
    SendEth, SendRequest,
};
use ethpeer_actors::peer_set::{
    known_set, KnownSet, PeerHead, PeerSetActor, Register, MAX_KNOWN_TXS,
};
use ethpeer_actors::txs::broadcast::{
    DirectPeerChoice, GetBroadcastStats, PeerSetLink, TxBroadcaster, TX_MAX_BROADCAST_SIZE,
};
use ethpeer_actors::txs::pool::{InMemoryTxPool, NewTxs, PoolTx, TxPool};

/// Peers routed to: 50 (geth's default), or `ROUTING_PEERS` (e.g. 1000 for a wide node).
fn peers() -> usize {
    std::env::var("ROUTING_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}
const BATCH: usize = 1000;
const SENDERS: u64 = 200;
const KEY: (u64, u64) = (1, 2);

/// A peer that only counts what it is asked to queue (the routing's output).
struct CountingPeer(Arc<AtomicU64>);

impl Actor for CountingPeer {
    type Context = Context<Self>;
}

impl Handler<QueueTxs> for CountingPeer {
    type Result = ();
    fn handle(&mut self, msg: QueueTxs, _: &mut Self::Context) {
        self.0.fetch_add(msg.0.len() as u64, Ordering::Relaxed);
    }
}
impl Handler<QueueTxAnns> for CountingPeer {
    type Result = ();
    fn handle(&mut self, msg: QueueTxAnns, _: &mut Self::Context) {
        self.0.fetch_add(msg.0.len() as u64, Ordering::Relaxed);
    }
}
impl Handler<QueueProp> for CountingPeer {
    type Result = ();
    fn handle(&mut self, _: QueueProp, _: &mut Self::Context) {}
}
impl Handler<QueueAnn> for CountingPeer {
    type Result = ();
    fn handle(&mut self, _: QueueAnn, _: &mut Self::Context) {}
}
impl Handler<SendRequest> for CountingPeer {
    type Result = Result<ethpeer_actors::eth::EthMessage, RequestError>;
    fn handle(&mut self, _: SendRequest, _: &mut Self::Context) -> Self::Result {
        Err(RequestError::PeerGone)
    }
}
impl Handler<SendEth> for CountingPeer {
    type Result = ();
    fn handle(&mut self, _: SendEth, _: &mut Self::Context) {}
}
impl Handler<Disconnect> for CountingPeer {
    type Result = ();
    fn handle(&mut self, _: Disconnect, _: &mut Self::Context) {}
}

/// Batch `b` of fresh transactions (new hashes every batch, as a pool would emit).
fn batch(b: u64) -> Arc<[Arc<PoolTx>]> {
    (0..BATCH as u64)
        .map(|i| {
            let n = b * BATCH as u64 + i;
            let tx = TxEip1559 {
                chain_id: 1,
                nonce: n,
                gas_limit: 21_000,
                to: TxKind::Call(Address::ZERO),
                value: U256::from(n),
                ..Default::default()
            };
            let sender = Address::left_padding_from(&(n % SENDERS).to_be_bytes());
            Arc::new(PoolTx::new(
                PooledTx::Eip1559(Signed::new_unhashed(tx, Signature::test_signature())),
                sender,
            ))
        })
        .collect::<Vec<_>>()
        .into()
}

fn peer_id(n: usize) -> B512 {
    B512::left_padding_from(&(n as u64 + 1).to_be_bytes())
}

fn actor_routing(c: &mut Criterion) {
    let system = System::new();
    let (set, broadcaster, counters) = system.block_on(async {
        let pool: Arc<dyn TxPool> = Arc::new(InMemoryTxPool::new());
        let set = PeerSetActor::new().start();
        let broadcaster =
            TxBroadcaster::new(peer_id(999), KEY, pool, PeerSetLink::new(&set)).start();
        let mut counters = Vec::new();
        for n in 0..peers() {
            let count = Arc::new(AtomicU64::new(0));
            let addr = CountingPeer::create(|ctx| {
                ctx.set_mailbox_capacity(1024);
                CountingPeer(count.clone())
            });
            let peer = PeerHandle::new(
                peer_id(n),
                EthVersion::Eth68,
                &addr,
                Arc::new(PeerMetrics::default()),
            );
            let head = PeerHead::TotalDifficulty {
                td: U256::ZERO,
                best_hash: B256::ZERO,
            };
            set.send(Register { peer, head }).await.unwrap().unwrap();
            counters.push((addr, count));
        }
        (set, broadcaster, counters)
    });
    let mut next_batch = 0u64;
    let mut group = c.benchmark_group(format!("tx_routing_{}_peers", peers()));
    group.throughput(Throughput::Elements((BATCH * peers()) as u64));
    group.bench_function("actors", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..iters).map(|i| batch(next_batch + i)).collect();
            next_batch += iters;
            system.block_on(async {
                let start = Instant::now();
                // One round per batch: the broadcaster would merge batches sent together
                // into rounds of up to 4096 txs, and drop a backlog past 65,536.
                for txs in batches {
                    broadcaster.do_send(NewTxs::new(txs));
                    broadcaster.send(GetBroadcastStats).await.unwrap();
                }
                // Every peer has handled its queue commands.
                for (addr, _) in &counters {
                    addr.send(QueueTxs(Vec::new())).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    let routed: u64 = counters
        .iter()
        .map(|(_, c)| c.load(Ordering::Relaxed))
        .sum();
    assert_eq!(
        routed,
        next_batch * (BATCH * peers()) as u64,
        "every pair reached its peer"
    );
    drop((set, broadcaster));

    let mut known: Vec<KnownSet> = (0..peers()).map(|_| known_set(MAX_KNOWN_TXS)).collect();
    let choice = DirectPeerChoice::new(peer_id(999), KEY);
    let handles: Vec<PeerHandle> = counters
        .iter()
        .enumerate()
        .map(|(n, (addr, _))| PeerHandle::new(peer_id(n), EthVersion::Eth68, addr, Arc::default()))
        .collect();
    group.bench_function("plain_loop", |b| {
        b.iter_custom(|iters| {
            let batches: Vec<_> = (0..iters).map(|i| batch(next_batch + i)).collect();
            next_batch += iters;
            let start = Instant::now();
            for txs in batches {
                // The same work without actors: lookup-and-mark, per-sender choice, grouping.
                let mut full: Vec<Vec<B256>> = vec![Vec::new(); peers()];
                let mut anns: Vec<Vec<B256>> = vec![Vec::new(); peers()];
                let mut direct: HashMap<Address, Vec<bool>> = HashMap::new();
                let scores = choice.peer_scores(&handles);
                for tx in txs.iter() {
                    let digest = ethpeer_actors::peer_set::KnownDigest::of(&tx.hash);
                    let announce_only = tx.is_blob() || tx.size > TX_MAX_BROADCAST_SIZE;
                    let mask = (!announce_only).then(|| {
                        &*direct
                            .entry(tx.sender)
                            .or_insert_with(|| scores.direct_mask(&tx.sender))
                    });
                    for (i, set) in known.iter_mut().enumerate() {
                        if set.insert_digest(digest) {
                            if mask.is_some_and(|m| m[i]) {
                                full[i].push(tx.hash);
                            } else {
                                anns[i].push(tx.hash);
                            }
                        }
                    }
                }
                std::hint::black_box((full, anns));
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = actor_routing
}
criterion_main!(benches);
