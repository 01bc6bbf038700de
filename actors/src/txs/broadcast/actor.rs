//! [`TxBroadcaster`]: subscribed to the pool's new-tx events, routes them to the peers that
//! lack them (go-ethereum's `txBroadcastLoop` / `BroadcastTransactions`), in rounds: every
//! event that came while a round was being routed goes out in the next one (as reth's
//! transactions manager drains its pool listener before it propagates).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::{Address, B256};

use super::held::{HeldAnnouncements, ANNOUNCE_TICK};
use super::DirectPeerChoice;
use crate::peer::{PeerHandle, PeerId, QueueTxAnns, QueueTxs};
use crate::peer_set::{
    FilterUnknownTxs, PeerEvent, PeersWithoutTx, SubscribePeerEvents, TxRecipients,
};
use crate::txs::pool::{NewTxs, PoolTx, TxPool};

/// Transactions larger than this are only announced, never broadcast in full (geth
/// `txMaxBroadcastSize`, 4096 bytes).
pub const TX_MAX_BROADCAST_SIZE: usize = 4096;

/// Pending hashes announced to a newly registered peer (geth `syncTransactions`, capped by
/// the 4096-hash announcement queue).
pub const MAX_SYNC_ANNOUNCEMENTS: usize = 4096;

/// Pool txs one routing round takes at most (ours, geth's 4096-hash per-peer queues'
/// size): a round's peer-set work is bounded (4096 txs to 1,000 peers is about 0.9 s at the
/// routing bench's rate), so other work on the coordinating thread runs between rounds;
/// the rest waits for the next round.
pub const MAX_ROUND_TXS: usize = 4096;

/// Pool txs waiting to be routed, at most: 16 rounds (ours). Pool events come no faster
/// than the verifiers admit txs, and this takes over the backlog the broadcaster's
/// unbounded mailbox held before rounds (pointers to pool txs, 8 bytes each); a backlog
/// beyond it means routing cannot keep up, and the oldest are dropped and counted.
pub const MAX_PENDING_ROUTE: usize = 16 * MAX_ROUND_TXS;

/// Announcement commands the broadcaster hands out per second across all its peers, at
/// most (ours). Each becomes a frame: encrypted, MACed, written, about 6 µs of CPU
/// (measured with the arrivals bench, 500 peers at 200 tx/s: node CPU 3.43 s with
/// announcements every 10 ms, 1.82 s every 50 ms), so 10,000 a second keep announcing
/// near 6% of a core from 100 to 1,000 peers. With more than 100 peers the interval grows
/// past [`MIN_ANNOUNCE_HOLD`] (50 ms at 500 peers); past 1,000 it stays at
/// [`MAX_ANNOUNCE_HOLD`] and the commands grow with the peers (20,000 a second at 2,000).
/// A newly registered peer's one-time announcement of the pending txs is not counted.
pub const MAX_ANNOUNCE_COMMANDS_PER_SEC: u32 = 10_000;

/// Shortest time announcements are held (ours): below 100 peers a busy node still sends
/// each peer one announcement per 10 ms rather than one per routing round (at 2,000 tx/s
/// a round per pool event, so up to 2,000 frames a second to every peer).
pub const MIN_ANNOUNCE_HOLD: Duration = Duration::from_millis(10);

/// Longest time an announcement is held (ours): a fifth of the 500 ms a geth receiver
/// waits for a broadcast before it fetches an announced tx (`txArriveTimeout`). Reached
/// at 1,000 peers.
pub const MAX_ANNOUNCE_HOLD: Duration = Duration::from_millis(100);

/// How long announcements are held with `peers` peers (see
/// [`MAX_ANNOUNCE_COMMANDS_PER_SEC`]).
pub fn announce_hold(peers: usize) -> Duration {
    let peers = u32::try_from(peers).unwrap_or(u32::MAX);
    (Duration::from_secs(1) * peers / MAX_ANNOUNCE_COMMANDS_PER_SEC)
        .clamp(MIN_ANNOUNCE_HOLD, MAX_ANNOUNCE_HOLD)
}

/// What the broadcaster needs from the peer set.
#[derive(Clone)]
pub struct PeerSetLink {
    /// Lookup-and-mark of the peers lacking each transaction.
    pub peers_without_tx: Recipient<PeersWithoutTx>,
    /// Lookup-and-mark for one peer.
    pub filter_unknown: Recipient<FilterUnknownTxs>,
    /// Subscription to registrations.
    pub subscribe: Recipient<SubscribePeerEvents>,
}

impl PeerSetLink {
    /// The link to an actor that handles the three messages (the [`crate::peer_set::PeerSetActor`]).
    pub fn new<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<PeersWithoutTx>
            + Handler<FilterUnknownTxs>
            + Handler<SubscribePeerEvents>,
    {
        Self {
            peers_without_tx: addr.clone().recipient(),
            filter_unknown: addr.clone().recipient(),
            subscribe: addr.clone().recipient(),
        }
    }
}

/// Query: the broadcaster's counters. Answered after every pool event received before it
/// has been routed (rounds are routed in order), so it also serves as a barrier.
#[derive(Debug, Message)]
#[rtype(result = "BroadcastStats")]
pub struct GetBroadcastStats;

/// Answer to [`GetBroadcastStats`]: a snapshot of [`BroadcastMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastStats {
    /// Routing rounds (each takes every pool event that came before it began).
    pub batches: u64,
    /// (transaction, peer) pairs routed.
    pub pairs: u64,
    /// Transactions queued in full, summed over peers.
    pub full: u64,
    /// Transactions queued as announcements, summed over peers.
    pub announced: u64,
    /// Queue commands refused by a full peer mailbox.
    pub mailbox_full: u64,
    /// Pool txs dropped unrouted beyond [`MAX_PENDING_ROUTE`].
    pub dropped_pending: u64,
}

/// Counters of the broadcaster's work.
#[derive(Debug, Default)]
pub struct BroadcastMetrics {
    /// Routing rounds (each takes every pool event that came before it began).
    pub batches: AtomicU64,
    /// (transaction, peer) pairs routed.
    pub pairs: AtomicU64,
    /// Transactions queued in full, summed over peers.
    pub full: AtomicU64,
    /// Transactions queued as announcements, summed over peers.
    pub announced: AtomicU64,
    /// Queue commands refused by a full peer mailbox (the peer's loss, counted).
    pub mailbox_full: AtomicU64,
    /// Pool txs dropped unrouted beyond [`MAX_PENDING_ROUTE`].
    pub dropped_pending: AtomicU64,
}

/// Routes new pool transactions to peers: each transaction to every peer lacking it, in
/// full to the ⌈√n⌉ direct peers of its sender (unless it is a blob or over 4096 bytes) and
/// as an announcement to the others. A round takes every tx that arrived since the last one
/// began: when the coordinating thread is idle a pool event is routed at once, and under
/// load rounds grow instead of multiplying. Full sends are queued at once, one command per
/// direct peer per round; announcements are held here and handed to each peer once per
/// [`announce_hold`] (10 ms up to 100 peers, 50 ms at 500), each at its own turn within
/// that period, so a busy node sends each peer one announcement frame per period instead
/// of one per round, and the frames are spread over the period.
pub struct TxBroadcaster {
    /// The pool whose events we route and whose pending set new peers get.
    pool: Arc<dyn TxPool>,
    /// The peer set.
    peer_set: PeerSetLink,
    /// Keyed per-sender choice of direct peers.
    choice: DirectPeerChoice,
    /// Shared counters.
    metrics: Arc<BroadcastMetrics>,
    /// Pool txs not yet routed, oldest first (at most [`MAX_PENDING_ROUTE`]).
    pending: VecDeque<Arc<PoolTx>>,
    /// Whether a [`RoutePending`] is on its way to this actor.
    round_scheduled: bool,
    /// Announcements routed but not yet handed to their peer.
    held: HeldAnnouncements,
    /// Whether a timer will hand over the held announcements whose turn has come.
    tick_scheduled: bool,
    /// Whether to subscribe at all: without gossip the broadcaster hears no pool or peer
    /// events, so nothing is sent or announced.
    gossip: bool,
}

/// Self-command: route what is pending. Sent with `notify`, which actix runs after the
/// messages already in the mailbox, so one round takes all of them.
#[derive(Message)]
#[rtype(result = "()")]
struct RoutePending;

impl TxBroadcaster {
    /// A broadcaster for node `self_id`; `key` is the secret SipHash key of the per-sender
    /// peer choice (random per node in production).
    pub fn new(
        self_id: PeerId,
        key: (u64, u64),
        pool: Arc<dyn TxPool>,
        peer_set: PeerSetLink,
    ) -> Self {
        Self {
            pool,
            peer_set,
            choice: DirectPeerChoice::new(self_id, key),
            metrics: Arc::default(),
            pending: VecDeque::new(),
            round_scheduled: false,
            held: HeldAnnouncements::new(tokio::time::Instant::now()),
            tick_scheduled: false,
            gossip: true,
        }
    }

    /// Turns gossip off (`false`) or on: off, the broadcaster subscribes to nothing and
    /// peers get no txs from us (reth's `--disable-tx-gossip`).
    pub fn gossip(mut self, gossip: bool) -> Self {
        self.gossip = gossip;
        self
    }

    /// The broadcaster's counters.
    pub fn metrics(&self) -> Arc<BroadcastMetrics> {
        self.metrics.clone()
    }
}

impl Actor for TxBroadcaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, measured rather than capped: pool events come at the rate txs enter
        // the pool, at most what the verifier threads pass (42,381 txs/s with 2 threads in
        // the ingest bench), while routing takes 6.06 M (tx, peer) pairs/s (routing bench):
        // 50 peers' worth of the fastest ingest is 2.1 M pairs/s, a third of that. So the
        // mailbox holds only a burst, and dropping pool events would lose broadcasts.
        ctx.set_mailbox_capacity(0);
        if !self.gossip {
            log::info!("tx gossip disabled: pool txs are neither sent nor announced");
            return;
        }
        self.pool.subscribe(ctx.address().recipient());
        self.peer_set
            .subscribe
            .do_send(SubscribePeerEvents(ctx.address().recipient()));
    }
}

impl Handler<NewTxs> for TxBroadcaster {
    type Result = ();

    fn handle(&mut self, msg: NewTxs, ctx: &mut Self::Context) {
        self.pending.extend(msg.txs.iter().cloned());
        let excess = self.pending.len().saturating_sub(MAX_PENDING_ROUTE);
        if excess > 0 {
            self.pending.drain(..excess);
            let dropped = &self.metrics.dropped_pending;
            dropped.fetch_add(excess as u64, Ordering::Relaxed);
            log::debug!("tx broadcast: {excess} pool txs dropped unrouted");
        }
        if !self.round_scheduled {
            self.round_scheduled = true;
            ctx.notify(RoutePending);
        }
    }
}

impl Handler<RoutePending> for TxBroadcaster {
    type Result = ();

    fn handle(&mut self, _msg: RoutePending, ctx: &mut Self::Context) {
        self.round_scheduled = false;
        // `wait`: rounds are routed one at a time, in the order the pool's events came
        // (a peer looks bodies up when it writes, so order is not needed); what comes meanwhile
        // waits in the mailbox for the next round. We wait on the peer set (local,
        // quick), never on a peer.
        ctx.wait(self.round());
        if !self.pending.is_empty() {
            // More than one round's worth: the rest after what the mailbox has.
            self.round_scheduled = true;
            ctx.notify(RoutePending);
        }
    }
}

impl Handler<PeerEvent> for TxBroadcaster {
    type Result = ();

    fn handle(&mut self, msg: PeerEvent, ctx: &mut Self::Context) {
        let PeerEvent::Registered(peer) = msg else {
            return;
        };
        let hashes = self.pool.pending_hashes(MAX_SYNC_ANNOUNCEMENTS);
        if hashes.is_empty() {
            return;
        }
        let query = self.peer_set.filter_unknown.send(FilterUnknownTxs {
            peer: peer.id,
            hashes,
        });
        ctx.wait(query.into_actor(self).map(move |result, act, _| {
            if let Ok(unknown) = result {
                if !unknown.is_empty() {
                    act.send_anns(&peer, unknown);
                }
            }
        }));
    }
}

impl Handler<GetBroadcastStats> for TxBroadcaster {
    type Result = AtomicResponse<Self, BroadcastStats>;

    fn handle(&mut self, _msg: GetBroadcastStats, _ctx: &mut Self::Context) -> Self::Result {
        // Route what came before the query first, and hand over what is held: the answer
        // is a barrier.
        AtomicResponse::new(Box::pin(self.all_rounds().map(|(), act, _| {
            act.flush_held();
            act.stats()
        })))
    }
}

impl TxBroadcaster {
    /// A snapshot of the counters.
    fn stats(&self) -> BroadcastStats {
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        BroadcastStats {
            batches: get(&m.batches),
            pairs: get(&m.pairs),
            full: get(&m.full),
            announced: get(&m.announced),
            mailbox_full: get(&m.mailbox_full),
            dropped_pending: get(&m.dropped_pending),
        }
    }

    /// Rounds until nothing is pending (for the stats barrier).
    fn all_rounds(&mut self) -> ResponseActFuture<Self, ()> {
        if self.pending.is_empty() {
            return Box::pin(fut::ready(()));
        }
        Box::pin(self.round().then(|(), act, _| act.all_rounds()))
    }

    /// One round: asks the peer set which peers lack each of the oldest pending txs (at
    /// most [`MAX_ROUND_TXS`]; marking them as known there), then routes. Ready at once
    /// when nothing is pending.
    fn round(&mut self) -> ResponseActFuture<Self, ()> {
        if self.pending.is_empty() {
            return Box::pin(fut::ready(()));
        }
        let take = self.pending.len().min(MAX_ROUND_TXS);
        let txs: Vec<Arc<PoolTx>> = self.pending.drain(..take).collect();
        let hashes = txs.iter().map(|tx| tx.hash).collect();
        let query = self
            .peer_set
            .peers_without_tx
            .send(PeersWithoutTx { hashes, mark: true });
        Box::pin(
            query
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(recipients) => act.route(&txs, recipients, ctx),
                    Err(err) => log::warn!("tx broadcast: peer set unavailable: {err}"),
                }),
        )
    }

    /// Groups one round per peer and queues it: full or announced per the rules above.
    fn route(&mut self, txs: &[Arc<PoolTx>], recipients: TxRecipients, ctx: &mut Context<Self>) {
        let TxRecipients { peers, lacking } = recipients;
        let mut full: Vec<Vec<B256>> = vec![Vec::new(); peers.len()];
        let mut anns: Vec<Vec<B256>> = vec![Vec::new(); peers.len()];
        let mut direct_by_sender: HashMap<Address, Vec<bool>> = HashMap::new();
        // Each peer's half of the score, once per round rather than once per sender.
        let mut scores = None;
        let mut pairs = 0u64;
        for (tx, lacking) in txs.iter().zip(&lacking) {
            pairs += lacking.len() as u64;
            let announce_only = tx.is_blob() || tx.size > TX_MAX_BROADCAST_SIZE;
            let direct = (!announce_only).then(|| {
                &*direct_by_sender.entry(tx.sender).or_insert_with(|| {
                    scores
                        .get_or_insert_with(|| self.choice.peer_scores(&peers))
                        .direct_mask(&tx.sender)
                })
            });
            for &i in lacking {
                let i = i as usize;
                if direct.is_some_and(|mask| mask[i]) {
                    full[i].push(tx.hash);
                } else {
                    anns[i].push(tx.hash);
                }
            }
        }
        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
        self.metrics.pairs.fetch_add(pairs, Ordering::Relaxed);
        let (now, hold) = (tokio::time::Instant::now(), announce_hold(peers.len()));
        for ((peer, full), anns) in peers.iter().zip(full).zip(anns) {
            if !full.is_empty() {
                let n = full.len() as u64;
                match peer.txs.try_send(QueueTxs(full)) {
                    Ok(()) => {
                        self.metrics.full.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(err) => self.count_refused(peer, n, &err),
                }
            }
            if !anns.is_empty() {
                self.held.hold(peer, anns, now, hold);
            }
        }
        self.schedule_tick(ctx);
    }

    /// Makes sure a timer will hand over what is held, each peer at its turn.
    fn schedule_tick(&mut self, ctx: &mut Context<Self>) {
        if self.held.is_empty() || self.tick_scheduled {
            return;
        }
        self.tick_scheduled = true;
        ctx.run_later(ANNOUNCE_TICK, |act, ctx| {
            act.tick_scheduled = false;
            for (peer, hashes) in act.held.take_due(tokio::time::Instant::now()) {
                act.send_anns(&peer, hashes);
            }
            act.schedule_tick(ctx);
        });
    }

    /// Hands every held announcement to its peer now.
    fn flush_held(&mut self) {
        for (peer, hashes) in self.held.take_all() {
            self.send_anns(&peer, hashes);
        }
    }

    fn send_anns(&self, peer: &PeerHandle, hashes: Vec<B256>) {
        let n = hashes.len() as u64;
        match peer.tx_anns.try_send(QueueTxAnns(hashes)) {
            Ok(()) => {
                self.metrics.announced.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => self.count_refused(peer, n, &err),
        }
    }

    /// A full mailbox: the items are that peer's loss; nobody waits. A closed one: the
    /// peer is gone and about to be unregistered.
    fn count_refused<M>(&self, peer: &PeerHandle, items: u64, err: &SendError<M>) {
        if let SendError::Full(_) = err {
            self.metrics.mailbox_full.fetch_add(1, Ordering::Relaxed);
            crate::peer::PeerMetrics::add(&peer.metrics.dropped_mailbox, items);
            log::debug!(
                "tx broadcast: peer {} mailbox full, dropped {items} hashes",
                crate::peer::short(&peer.id)
            );
        }
    }
}
