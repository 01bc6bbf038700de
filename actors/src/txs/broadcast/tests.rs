//! The broadcaster with a real peer set and peer actors on in-memory connections:
//! routing rules, no duplicates, new-peer sync, and a stuck peer under a 100,000-tx flood.
//! No sleeps: the tests wait on the broadcaster's in-order replies and read each connection
//! until it falls quiet on a paused clock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::{Address, B256, U256};
use futures::channel::mpsc;
use futures::StreamExt;

use super::*;
use crate::eth::{EthMessage, EthVersion};
use crate::peer::{
    Outbound, PeerHandle, PeerId, PeerMetrics, QueueTxAnns, MAX_QUEUED_TXS, MAX_QUEUED_TX_ANNS,
};
use crate::peer_set::{MarkTxs, PeerEvent, PeerHead, PeerSetActor, Register};
use crate::testing::{blob_tx, peer_id, pool, sender, spawn_peer, tx};
use crate::txs::pool::{InMemoryTxPool, NewTxs, PoolTx, TxPool};

const KEY: (u64, u64) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
const SELF_ID: u8 = 0xee;

/// What one peer received, by hash: full sends and announcements, with counts.
#[derive(Default, Debug)]
struct Received {
    full: HashMap<B256, u32>,
    announced: HashMap<B256, u32>,
    distinct: HashSet<B256>,
    messages: u32,
    announcements: u32,
}

impl Received {
    fn record(&mut self, message: EthMessage) {
        self.messages += 1;
        let (hashes, counts): (Vec<B256>, _) = match message {
            EthMessage::Transactions(txs) => {
                (txs.0.iter().map(|t| *t.tx_hash()).collect(), &mut self.full)
            }
            EthMessage::NewPooledTransactionHashes68(ann) => {
                self.announcements += 1;
                (ann.hashes, &mut self.announced)
            }
            EthMessage::NewPooledTransactionHashes66(ann) => {
                self.announcements += 1;
                (ann.0, &mut self.announced)
            }
            other => panic!("unexpected message {other:?}"),
        };
        for hash in hashes {
            *counts.entry(hash).or_default() += 1;
            self.distinct.insert(hash);
        }
    }

    fn distinct(&self) -> usize {
        self.distinct.len()
    }

    fn total(&self) -> u64 {
        self.full
            .values()
            .chain(self.announced.values())
            .map(|n| u64::from(*n))
            .sum()
    }
}

/// One peer of the rig: its handle, the far end of its connection, what was read.
struct TestPeer {
    handle: PeerHandle,
    rx: mpsc::Receiver<Outbound>,
    received: Received,
}

/// A peer set, a pool, a broadcaster and peers on in-memory connections.
struct Rig {
    mem: Arc<InMemoryTxPool>,
    set: Addr<PeerSetActor>,
    broadcaster: Addr<TxBroadcaster>,
    peers: Vec<TestPeer>,
    /// Messages each peer's in-memory connection holds before a write waits for the test
    /// to read (0: every write waits).
    capacity: usize,
}

impl Rig {
    async fn new(peers: u8) -> Self {
        Self::with_capacity(peers, 0).await
    }

    async fn with_capacity(peers: u8, capacity: usize) -> Self {
        Self::build(peers, capacity, true).await
    }

    async fn build(peers: u8, capacity: usize, gossip: bool) -> Self {
        let (mem, pool) = pool();
        let set = PeerSetActor::new().start();
        let broadcaster = TxBroadcaster::new(peer_id(SELF_ID), KEY, pool, PeerSetLink::new(&set))
            .gossip(gossip)
            .start();
        let mut rig = Self {
            mem,
            set,
            broadcaster,
            peers: Vec::new(),
            capacity,
        };
        for n in 1..=peers {
            rig.add_peer(n, EthVersion::Eth68).await;
        }
        rig
    }

    async fn add_peer(&mut self, n: u8, version: EthVersion) {
        let (handle, rx) = spawn_peer(n, version, self.pool(), self.capacity);
        let head = PeerHead::TotalDifficulty {
            td: U256::from(1),
            best_hash: B256::ZERO,
        };
        self.set
            .send(Register {
                peer: handle.clone(),
                head,
            })
            .await
            .expect("alive")
            .expect("registered");
        self.peers.push(TestPeer {
            handle,
            rx,
            received: Received::default(),
        });
    }

    fn pool(&self) -> Arc<dyn TxPool> {
        self.mem.clone()
    }

    fn handles(&self) -> Vec<PeerHandle> {
        self.peers.iter().map(|p| p.handle.clone()).collect()
    }

    /// Inserts a batch and returns once the broadcaster has routed it.
    async fn insert(&self, txs: Vec<PoolTx>) -> BroadcastStats {
        self.mem.insert(txs);
        self.stats().await
    }

    /// The broadcaster's counters, after everything it received so far is routed.
    async fn stats(&self) -> BroadcastStats {
        self.broadcaster
            .send(GetBroadcastStats)
            .await
            .expect("broadcaster alive")
    }

    /// Reads every peer's connection until it falls quiet: nothing for a second of the
    /// paused clock, which moves only when every actor is idle. What was read is what was
    /// sent, whatever the peers' own counters say. Tests using it pause the clock.
    async fn settle(&mut self) {
        for peer in &mut self.peers {
            while let Ok(Some(outbound)) = tokio::time::timeout(QUIET, peer.rx.next()).await {
                match outbound {
                    Outbound::Eth(message) => peer.received.record(message),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
}

/// How long a connection must stay silent, on the paused clock, to count as quiet.
const QUIET: std::time::Duration = std::time::Duration::from_secs(1);

/// geth's choice of direct peers (`eth/handler.go` `broadcastChoice.choosePeers`),
/// computed without the production code: SipHash-2-4 keyed with the 16 key bytes
/// (`github.com/dchest/siphash`, halves little-endian) over our node id, the peer's node id
/// and the sender, where a node id is keccak256 of the 64-byte public key (`enode.ID`);
/// the ⌈√n⌉ lowest scores are direct.
fn geth_direct_mask(
    self_id: &PeerId,
    key: (u64, u64),
    sender: &Address,
    peers: &[PeerId],
) -> Vec<bool> {
    use std::hash::Hasher;
    let node_id = |id: &PeerId| alloy_primitives::keccak256(id.as_slice());
    let mut scores: Vec<(u64, usize)> = peers
        .iter()
        .enumerate()
        .map(|(i, peer)| {
            let mut hash = siphasher::sip::SipHasher24::new_with_keys(key.0, key.1);
            hash.write(node_id(self_id).as_slice());
            hash.write(node_id(peer).as_slice());
            hash.write(sender.as_slice());
            (hash.finish(), i)
        })
        .collect();
    scores.sort();
    let n = (peers.len() as f64).sqrt().ceil() as usize;
    let mut mask = vec![false; peers.len()];
    for (_, i) in &scores[..n] {
        mask[*i] = true;
    }
    mask
}

#[test]
fn the_geth_rule_oracle_uses_siphash_2_4() {
    // The SipHash paper's vector (Aumasson and Bernstein, appendix A): key 00..0f,
    // message 00..0e, SipHash-2-4 = a129ca6149be45e5.
    use std::hash::Hasher;
    let key: Vec<u8> = (0..16).collect();
    let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
    let k1 = u64::from_le_bytes(key[8..].try_into().unwrap());
    let mut hash = siphasher::sip::SipHasher24::new_with_keys(k0, k1);
    hash.write(&(0..15).collect::<Vec<u8>>());
    assert_eq!(hash.finish(), 0xa129_ca61_49be_45e5);
}

#[actix_rt::test]
async fn without_gossip_no_peer_hears_of_pool_txs_old_or_new() {
    tokio::time::pause();
    for gossip in [true, false] {
        let mut rig = Rig::build(4, 0, gossip).await;
        let txs: Vec<PoolTx> = (0..6).map(|n| tx(sender(1), n, 50)).collect();
        rig.insert(txs).await;
        // A peer joining later would be told of the pending set.
        rig.add_peer(5, EthVersion::Eth68).await;
        rig.stats().await;
        rig.settle().await;
        let heard: usize = rig.peers.iter().map(|p| p.received.distinct()).sum();
        if gossip {
            assert_eq!(heard, 5 * 6, "with gossip every peer hears of every tx");
        } else {
            assert_eq!(heard, 0, "without gossip no peer hears of any tx");
            assert_eq!(
                rig.mem.pending_hashes(100).len(),
                6,
                "the pool still holds them"
            );
        }
    }
}

#[actix_rt::test]
async fn each_sender_goes_in_full_to_the_same_sqrt_n_peers_and_is_announced_to_the_rest() {
    tokio::time::pause();
    let mut rig = Rig::new(9).await;
    let (alice, bob) = (sender(1), sender(2));
    let txs: Vec<PoolTx> = (0..5)
        .map(|n| tx(alice, n, 50))
        .chain((0..5).map(|n| tx(bob, n, 50)))
        .collect();
    rig.insert(txs.clone()).await;
    rig.settle().await;

    let choice = DirectPeerChoice::new(peer_id(SELF_ID), KEY);
    let handles = rig.handles();
    let ids: Vec<PeerId> = handles.iter().map(|h| h.id).collect();
    for who in [alice, bob] {
        // What arrived is compared with geth's rule computed here, and the production
        // choice with the same.
        let mask = geth_direct_mask(&peer_id(SELF_ID), KEY, &who, &ids);
        assert_eq!(
            choice.direct_mask(&who, &handles),
            mask,
            "the production choice is geth's rule for {who}"
        );
        assert_eq!(
            mask.iter().filter(|d| **d).count(),
            3,
            "ceil(sqrt(9)) direct peers"
        );
        for (i, peer) in rig.peers.iter().enumerate() {
            for t in txs.iter().filter(|t| t.sender == who) {
                let (full, announced) = (
                    peer.received.full.get(&t.hash),
                    peer.received.announced.get(&t.hash),
                );
                if mask[i] {
                    assert_eq!(
                        (full, announced),
                        (Some(&1), None),
                        "peer {i} should get {who}'s tx in full"
                    );
                } else {
                    assert_eq!(
                        (full, announced),
                        (None, Some(&1)),
                        "peer {i} should get {who}'s tx announced"
                    );
                }
            }
        }
    }
    let full_sets: HashSet<Vec<bool>> = [alice, bob]
        .iter()
        .map(|w| choice.direct_mask(w, &handles))
        .collect();
    assert_eq!(
        full_sets.len(),
        2,
        "with this key, alice and bob take different paths"
    );
}

#[actix_rt::test]
async fn blob_and_large_transactions_are_only_announced() {
    tokio::time::pause();
    let mut rig = Rig::new(4).await;
    let blob = blob_tx(sender(3), 0);
    let large = tx(sender(3), 1, 5000);
    assert!(large.size > TX_MAX_BROADCAST_SIZE);
    let small = tx(sender(3), 2, 10);
    rig.insert(vec![blob.clone(), large.clone(), small.clone()])
        .await;
    rig.settle().await;
    let mut full_small = 0;
    for peer in &rig.peers {
        for hash in [blob.hash, large.hash] {
            assert_eq!(peer.received.announced.get(&hash), Some(&1));
            assert!(!peer.received.full.contains_key(&hash));
        }
        full_small += peer.received.full.len();
    }
    assert_eq!(
        full_small, 2,
        "the small tx goes in full to ceil(sqrt(4)) = 2 peers"
    );
}

#[actix_rt::test]
async fn no_tx_is_sent_twice_to_a_peer_or_back_to_its_origin() {
    tokio::time::pause();
    let mut rig = Rig::new(5).await;
    let txs: Vec<PoolTx> = (0..50).map(|n| tx(sender(n % 7), n, 20)).collect();
    // Peer 1 delivered these: the inbound path marks them known before the pool has them.
    let origin = rig.peers[0].handle.id;
    rig.set
        .send(MarkTxs {
            peer: origin,
            hashes: txs.iter().map(|t| t.hash).collect(),
            ticket: None,
        })
        .await
        .expect("alive");
    rig.insert(txs.clone()).await;
    // The same transactions reach the broadcaster again (as a re-announcing pool would).
    let event = NewTxs::new(txs.iter().cloned().map(Arc::new).collect::<Vec<_>>().into());
    rig.broadcaster.send(event).await.expect("alive");
    let stats = rig.stats().await;
    assert_eq!(stats.batches, 2);
    assert_eq!(
        stats.pairs,
        4 * 50,
        "the second batch finds no peer lacking them"
    );
    rig.settle().await;

    assert_eq!(
        rig.peers[0].received.total(),
        0,
        "nothing goes back to the origin"
    );
    for peer in &rig.peers[1..] {
        assert_eq!(peer.received.distinct(), 50);
        assert_eq!(peer.received.total(), 50, "each tx exactly once per peer");
    }
}

#[actix_rt::test]
async fn a_new_peer_gets_the_pending_hashes_announced_once() {
    tokio::time::pause();
    let mut rig = Rig::new(2).await;
    let txs: Vec<PoolTx> = (0..30)
        .map(|n| tx(sender(9), n, 20))
        .chain([blob_tx(sender(8), 0)])
        .collect();
    rig.insert(txs.clone()).await;
    rig.add_peer(7, EthVersion::Eth67).await;
    // The registration event is handled before this query is answered.
    rig.stats().await;
    rig.settle().await;
    let late = &rig.peers[2].received;
    assert!(late.full.is_empty());
    assert_eq!(
        late.announced.len(),
        30,
        "pending non-blob hashes, as geth's syncTransactions"
    );
    assert!(late.announced.values().all(|n| *n == 1));
    assert!(
        !late.announced.contains_key(&txs[30].hash),
        "blob txs are not synced"
    );
}

#[actix_rt::test]
async fn a_stuck_peer_loses_only_its_own_items_while_100_000_txs_flow() {
    const BATCHES: u64 = 100;
    const PER_BATCH: u64 = 1000;
    const TOTAL: u64 = BATCHES * PER_BATCH;
    let mut rig = Rig::new(10).await;
    // Peers 1-9 are read as fast as they write; peer 10's connection is never read.
    let stuck = rig.peers.pop().expect("ten peers");
    let readers: Vec<_> = rig
        .peers
        .drain(..)
        .map(|mut peer| {
            actix_rt::spawn(async move {
                while (peer.received.distinct() as u64) < TOTAL {
                    match peer.rx.next().await {
                        Some(Outbound::Eth(message)) => peer.received.record(message),
                        other => panic!("connection ended early: {other:?}"),
                    }
                }
                peer
            })
        })
        .collect();

    let senders: Vec<Address> = (0..1000).map(sender).collect();
    for b in 0..BATCHES {
        let txs = (0..PER_BATCH)
            .map(|i| tx(senders[(i % 1000) as usize], b * PER_BATCH + i, 40))
            .collect();
        // Each batch is routed while the stuck peer has not taken a byte: the
        // broadcaster never waits for it.
        let stats = rig.insert(txs).await;
        assert_eq!(stats.batches, b + 1);
    }
    let stats = rig.stats().await;
    assert_eq!(stats.mailbox_full, 0, "no mailbox ever filled");
    assert_eq!(stats.pairs, 10 * TOTAL);

    // Every healthy peer receives every transaction exactly once.
    for reader in readers {
        let peer = reader.await.expect("reader finished");
        assert_eq!(
            peer.received.total(),
            TOTAL,
            "{:?} got duplicates",
            peer.handle
        );
        assert_eq!(peer.handle.metrics.total_dropped(), 0);
    }

    // The stuck peer: bounded queues, and every item routed to it is accounted for as
    // packed (the message in the pipe and the one in flight), still queued, or dropped.
    stuck
        .handle
        .tx_anns
        .send(QueueTxAnns(Vec::new()))
        .await
        .expect("stuck peer's actor is alive");
    let m = &stuck.handle.metrics;
    let queued = PeerMetrics::get(&m.queued_txs) + PeerMetrics::get(&m.queued_tx_anns);
    let dropped = PeerMetrics::get(&m.dropped_txs) + PeerMetrics::get(&m.dropped_tx_anns);
    let packed = PeerMetrics::get(&m.sent_txs) + PeerMetrics::get(&m.sent_tx_anns);
    assert!(PeerMetrics::get(&m.queued_txs) <= MAX_QUEUED_TXS as u64);
    assert!(PeerMetrics::get(&m.queued_tx_anns) <= MAX_QUEUED_TX_ANNS as u64);
    assert!(
        packed < 2 * 3200,
        "at most two messages left the queues: {packed}"
    );
    assert_eq!(queued + dropped + packed, TOTAL);
    assert!(dropped > 90_000, "dropped {dropped}");
}

#[actix_rt::test]
async fn pool_events_that_come_during_a_round_go_out_together_in_the_next() {
    tokio::time::pause();
    let mut rig = Rig::with_capacity(4, 64).await;
    // Three pool events reach the broadcaster's mailbox before it runs: one round, one
    // queue command of each kind per peer, so one message of each kind on each wire.
    let batches: Vec<Vec<PoolTx>> = (0..3)
        .map(|b| (0..10).map(|i| tx(sender(i), b, 20)).collect())
        .collect();
    for batch in batches {
        rig.mem.insert(batch);
    }
    let stats = rig.stats().await;
    assert_eq!(stats.batches, 1, "{stats:?}");
    assert_eq!(stats.pairs, 30 * 4);
    assert_eq!(stats.dropped_pending, 0);
    rig.settle().await;
    for peer in &rig.peers {
        assert_eq!(peer.received.distinct(), 30);
        assert_eq!(peer.received.total(), 30, "nothing twice");
        assert!(
            peer.received.messages <= 2,
            "one Transactions and one announcement at most: {}",
            peer.received.messages
        );
    }
}

#[actix_rt::test]
async fn a_backlog_beyond_one_round_is_routed_in_several() {
    let rig = Rig::new(2).await;
    let total = MAX_ROUND_TXS as u64 + 10;
    let txs: Vec<PoolTx> = (0..total).map(|n| tx(sender(n % 1000), n, 1)).collect();
    let stats = rig.insert(txs).await;
    assert_eq!(stats.batches, 2, "{stats:?}");
    assert_eq!(stats.pairs, 2 * total);
    assert_eq!(stats.dropped_pending, 0);
}

#[actix_rt::test]
async fn a_backlog_beyond_its_bound_drops_the_oldest_txs_and_counts_them() {
    let rig = Rig::new(2).await;
    let over = 10;
    let total = MAX_PENDING_ROUTE as u64 + over;
    let txs: Vec<PoolTx> = (0..total).map(|n| tx(sender(n % 1000), n, 1)).collect();
    // The newest 1,000 (a peer's known set keeps the last 32,768 of the 65,536 routed).
    let newest: Vec<B256> = txs[txs.len() - 1000..].iter().map(|t| t.hash).collect();
    let stats = rig.insert(txs).await;
    assert_eq!(stats.dropped_pending, over);
    assert_eq!(stats.pairs, 2 * MAX_PENDING_ROUTE as u64);
    assert_eq!(stats.batches, (MAX_PENDING_ROUTE / MAX_ROUND_TXS) as u64);
    // The newest were routed, so both peers know them now.
    for peer in &rig.peers {
        let unknown = rig
            .set
            .send(crate::peer_set::FilterUnknownTxs {
                peer: peer.handle.id,
                hashes: newest.clone(),
            })
            .await
            .expect("alive");
        assert!(unknown.is_empty(), "{} newest not routed", unknown.len());
    }
}

#[actix_rt::test]
async fn announcements_of_rounds_within_the_interval_reach_each_peer_together() {
    tokio::time::pause();
    // Connections that take every write at once: nothing coalesces behind a slow write.
    let mut rig = Rig::with_capacity(9, 64).await;
    // A message the broadcaster answers without flushing. Its answer goes out before the
    // round begins (the round is notified, so it runs once the mailbox is empty), but the
    // round takes the pending txs in that same poll, before this task runs again: the next
    // insert makes a round of its own.
    let routed = || {
        rig.broadcaster.send(PeerEvent::Unregistered {
            id: peer_id(0xfe),
            reason: None,
        })
    };
    // Two rounds, each of txs from nine senders (⌈√9⌉ = 3 direct peers each).
    rig.mem
        .insert((0..9).map(|i| tx(sender(i), 0, 20)).collect::<Vec<_>>());
    routed().await.expect("alive");
    rig.mem
        .insert((0..9).map(|i| tx(sender(i), 1, 20)).collect::<Vec<_>>());
    routed().await.expect("alive");
    assert_eq!(rig.stats().await.batches, 2);
    rig.settle().await;
    for peer in &rig.peers {
        assert_eq!(peer.received.total(), 18, "every tx once");
        assert_eq!(
            peer.received.announcements, 1,
            "both rounds' announcements in one message"
        );
    }
}

#[test]
fn announcements_are_held_longer_with_more_peers_within_bounds() {
    use std::time::Duration;
    let ms = Duration::from_millis;
    assert_eq!(announce_hold(0), MIN_ANNOUNCE_HOLD);
    assert_eq!(announce_hold(100), ms(10));
    assert_eq!(announce_hold(500), ms(50));
    assert_eq!(announce_hold(1_000), MAX_ANNOUNCE_HOLD);
    assert_eq!(announce_hold(usize::MAX), MAX_ANNOUNCE_HOLD);
    // The rate bound holds between the two ends: peers / hold <= the command budget.
    for peers in [150usize, 333, 700, 999] {
        let per_sec = peers as f64 / announce_hold(peers).as_secs_f64();
        assert!(per_sec <= f64::from(MAX_ANNOUNCE_COMMANDS_PER_SEC) + 1e-6);
    }
}
