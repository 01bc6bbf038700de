//! Propagation observation: [`PropagationObserver`] receives every [`Seen`] report of the
//! node's peers, records when each peer first delivered or announced each tx and block (as
//! JSON lines, `--trace-propagation`), and tells subscribers the first time the node sees a
//! hash ([`NodeEvent::BlockSeen`]), when a tx it saw enters the pool
//! ([`NodeEvent::TxSeen`]) and when a followed block includes one ([`NodeEvent::TxIncluded`]).
//! While someone listens it also builds each tx's arrivals with provenance
//! ([`super::arrivals::TxArrival`]: first delivery decoded, the pool's verdict, the counts
//! a second later) for embedders and the `txArrivals` subscriptions.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use alloy_primitives::B256;
use lru::LruCache;

use super::arrivals::{
    blob_arrival, ArrivalDemand, ArrivalKind, ArrivalSource, ArrivalTier, BlobArrival, PeerCard,
    TxArrival, TxArrivals, Verdict,
};
use super::events::{NodeEvent, SubscribeEvents, Subscribers};
use crate::blocks::follow::BlockIncluded;
#[cfg(doc)]
use crate::peer::SeenRoute;
use crate::peer::{Delivery, PeerId, Seen, SeenItem};
use crate::txs::ingest::TxsRejected;
use crate::txs::pool::NewTxs;

/// Hashes whose sightings (first-seen time, first peer, who else) are remembered (LRU),
/// which bounds what [`NodeEvent::TxIncluded`] can report. A hash forgotten and seen again
/// is reported again. 16,384 is 3.2x geth's whole legacy pool (legacypool `DefaultConfig`:
/// GlobalSlots 4096 + GlobalQueue 1024 = 5,120 txs, our `MAX_POOL_TXS`), so a tx still
/// pending at a geth peer is normally still here; it covers over ten minutes of mainnet's
/// ~20 tx/s. With every one of 50 peers recorded (16 bytes each, plus ~300 bytes per
/// hash for the key, first sighting, arrival fields and LRU links) that is about 18 MiB,
/// 22 MiB at the cap.
pub const SEEN_WINDOW: usize = 16_384;

/// The window after a tx's first sighting within which the peers that also delivered or
/// announced it are counted ([`NodeEvent::TxIncluded`]'s `peers_within_window`): one
/// second, the spread of a tx through a well-connected node's peers (geth announces to
/// every peer within its 500 ms fetch/announce cycle).
pub const SPREAD_WINDOW: Duration = Duration::from_secs(1);

/// What the observer remembers of one hash.
#[derive(Debug)]
struct Sighting {
    /// When the first report carrying it was decoded.
    first_seen: SystemTime,
    /// Who sent that report.
    first_peer: PeerId,
    /// How.
    first_delivery: Delivery,
    /// The (peer tag, delivery, microseconds after `first_seen`) sightings already
    /// recorded. A tag is the first 8 bytes of the peer id: enough to tell a node's peers
    /// apart (ids are public keys, spoofing a prefix only hides a peer's own sightings),
    /// 8x smaller than the id. The offset saturates at 71 minutes.
    peers: Vec<(u64, Delivery, u32)>,
    /// Distinct peers seen within [`SPREAD_WINDOW`] of `first_seen`.
    peers_within_window: u32,
    /// Whether [`NodeEvent::TxSeen`] went out.
    reported: bool,
    /// Whether the first sighting was a reply to our request (`PooledTransactions`).
    first_reply: bool,
    /// The first announcement by anyone.
    first_announced: Option<SystemTime>,
    /// The first delivery of the whole tx by anyone.
    first_delivered: Option<SystemTime>,
    /// Distinct peers that announced it within [`SPREAD_WINDOW`] of `first_seen`.
    announcers: u32,
    /// Distinct peers that delivered it within [`SPREAD_WINDOW`] of `first_seen`.
    deliverers: u32,
    /// The [`ArrivalTier::bit`]s of the arrivals already sent.
    tiers_sent: u8,
    /// The pool's verdict, once known.
    verdict: Option<Verdict>,
    /// Its EIP-2718 type and blob fields, once pooled.
    pooled: Option<(u8, Option<BlobArrival>)>,
    /// The pooled tx, held from its verdict to its `settled` arrival (a second at most),
    /// which carries it to the archive.
    tx: Option<Arc<crate::txs::pool::PoolTx>>,
}

impl Sighting {
    /// How the tx first came, as far as known now.
    fn kind(&self) -> ArrivalKind {
        match (self.first_delivery, self.first_reply, self.first_delivered) {
            (Delivery::Announced, _, Some(_)) => ArrivalKind::Fetched,
            (Delivery::Announced, _, None) => ArrivalKind::Announced,
            (Delivery::Full, true, _) => ArrivalKind::Pooled,
            (Delivery::Full, false, _) => ArrivalKind::Broadcast,
        }
    }
}

/// Peers whose Hello and address the observer keeps for arrivals (LRU): 4x the 1,000 peers
/// a wide node holds, so a peer that left is still named in the arrivals it caused.
pub const MAX_PEER_CARDS: usize = 4096;

/// How often arrivals whose [`SPREAD_WINDOW`] has passed are settled: a tenth of the
/// window, so a `settled` event comes at most 100 ms after its second.
pub const SETTLE_TICK: Duration = Duration::from_millis(100);

/// Peers recorded per hash at most: enough for every peer of a default node (50).
pub const MAX_SIGHTINGS_PER_HASH: usize = 64;

/// Reports waiting in the observer's mailbox at most (ours: a second of a busy mainnet
/// node's tx traffic from 50 peers).
pub const OBSERVER_MAILBOX_CAPACITY: usize = 4096;

/// One trace line.
#[derive(Debug, serde::Serialize)]
struct TraceLine<'a> {
    /// `tx` or `block`.
    kind: &'static str,
    hash: &'a B256,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<u64>,
    peer: &'a PeerId,
    /// Milliseconds since the Unix epoch, with microseconds.
    time_ms: f64,
    delivery: Delivery,
}

/// The observer of a node.
pub struct PropagationObserver {
    /// What is known of each recent hash.
    sightings: LruCache<B256, Sighting>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    subscribers: Subscribers,
    /// Trace lines written.
    lines: u64,
    /// Shared with the peers: whether reports are wanted (a trace or a subscriber).
    active: Arc<AtomicBool>,
    /// The `txArrivals` subscriptions' count (kept by the hub) and the report switch.
    demand: ArrivalDemand,
    /// Where arrivals go for `txArrivals` subscriptions (the hub).
    arrivals_to: Option<Recipient<TxArrivals>>,
    /// The registered peers' Hello and address.
    cards: LruCache<PeerId, Arc<PeerCard>>,
    /// The ids behind the tags of the peers that registered (as many as `cards`), which
    /// name each source of a `settled` arrival.
    tags: LruCache<u64, PeerId>,
    /// Tx hashes in order of first sighting, to settle a [`SPREAD_WINDOW`] later (at most
    /// [`SEEN_WINDOW`]).
    to_settle: std::collections::VecDeque<(SystemTime, B256)>,
}

impl PropagationObserver {
    /// An observer; `trace` is where JSON lines go, if anywhere.
    pub fn new(trace: Option<std::fs::File>) -> Self {
        let active = Arc::new(AtomicBool::new(trace.is_some()));
        Self {
            demand: ArrivalDemand {
                subscriptions: Arc::default(),
                reports: active.clone(),
            },
            arrivals_to: None,
            cards: LruCache::new(NonZeroUsize::new(MAX_PEER_CARDS).unwrap_or(NonZeroUsize::MIN)),
            tags: LruCache::new(NonZeroUsize::new(MAX_PEER_CARDS).unwrap_or(NonZeroUsize::MIN)),
            to_settle: std::collections::VecDeque::new(),
            active,
            sightings: LruCache::new(NonZeroUsize::new(SEEN_WINDOW).unwrap_or(NonZeroUsize::MIN)),
            trace: trace.map(std::io::BufWriter::new),
            subscribers: Subscribers::default(),
            lines: 0,
        }
    }

    /// The flag peers check before collecting reports (see [`SeenRoute`]).
    pub fn activity(&self) -> Arc<AtomicBool> {
        self.active.clone()
    }

    /// What the hub shares to tell the observer of `txArrivals` subscriptions.
    pub fn arrival_demand(&self) -> ArrivalDemand {
        self.demand.clone()
    }

    /// Whether anything needs [`Seen`] reports (a trace or a subscriber).
    fn wants_reports(&self) -> bool {
        self.trace.is_some() || !self.subscribers.is_empty() || self.demand.wanted()
    }

    /// Whether anyone listens for arrivals (an embedder or a `txArrivals` subscription).
    fn wants_arrivals(&self) -> bool {
        !self.subscribers.is_empty() || self.demand.wanted()
    }
}

impl Actor for PropagationObserver {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Peers report with try_send: an observer that falls behind loses reports (counted
        // per peer as `dropped_seen`) instead of growing without bound.
        ctx.set_mailbox_capacity(OBSERVER_MAILBOX_CAPACITY);
        ctx.run_interval(SETTLE_TICK, |act, _| act.settle(SystemTime::now()));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(trace) = &mut self.trace {
            let _ = trace.flush();
        }
    }
}

impl Handler<Seen> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: Seen, _ctx: &mut Self::Context) {
        if !self.wants_reports() {
            // The trace failed and every subscriber is gone: tell peers to stop reporting.
            self.active.store(false, Ordering::Relaxed);
            return;
        }
        let time_ms = msg
            .at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as f64 / 1000.0)
            .unwrap_or_default();
        let mut arrivals = Vec::new();
        for item in &msg.items {
            let (hash, number) = match item {
                SeenItem::Tx(hash) => (*hash, None),
                SeenItem::Block { hash, number } => (*hash, Some(*number)),
            };
            let Some(first_delivery) = self.record(hash, &msg, number.is_none()) else {
                continue;
            };
            if first_delivery && number.is_none() && self.wants_arrivals() {
                arrivals.extend(self.arrival(hash, ArrivalTier::Seen, None));
            }
            if let Some(trace) = &mut self.trace {
                let line = TraceLine {
                    kind: if number.is_some() { "block" } else { "tx" },
                    hash: &hash,
                    number,
                    peer: &msg.peer,
                    time_ms,
                    delivery: msg.delivery,
                };
                let written = serde_json::to_writer(&mut *trace, &line)
                    .map_err(std::io::Error::from)
                    .and_then(|()| trace.write_all(b"\n"));
                if let Err(error) = written {
                    log::warn!("propagation trace: {error}; tracing stops");
                    self.trace = None;
                } else {
                    self.lines += 1;
                }
            }
            let first = self
                .sightings
                .peek(&hash)
                .is_some_and(|s| s.peers.len() == 1);
            if let (true, Some(number)) = (first, number) {
                self.subscribers.publish(NodeEvent::BlockSeen {
                    hash,
                    number,
                    peer: msg.peer,
                    delivery: msg.delivery,
                });
            }
        }
        self.emit(arrivals);
        // One flush per report: lines reach the file promptly for tools tailing it,
        // without a syscall per hash.
        if let Some(trace) = &mut self.trace {
            let _ = trace.flush();
        }
    }
}

impl PropagationObserver {
    /// Records `report`'s sighting of `hash`: `None` if this peer and delivery were already
    /// recorded for it (or the hash has [`MAX_SIGHTINGS_PER_HASH`]), else whether it was the
    /// hash's first whole delivery.
    fn record(&mut self, hash: B256, report: &Seen, tx: bool) -> Option<bool> {
        let tag = peer_tag(&report.peer);
        if tx && !self.sightings.contains(&hash) && self.wants_arrivals() {
            if self.to_settle.len() >= SEEN_WINDOW {
                self.to_settle.pop_front();
            }
            self.to_settle.push_back((report.at, hash));
        }
        let seen = self.sightings.get_or_insert_mut(hash, || Sighting {
            first_seen: report.at,
            first_peer: report.peer,
            first_delivery: report.delivery,
            peers: Vec::new(),
            peers_within_window: 0,
            reported: false,
            first_reply: report.reply,
            first_announced: None,
            first_delivered: None,
            announcers: 0,
            deliverers: 0,
            tiers_sent: 0,
            verdict: None,
            pooled: None,
            tx: None,
        });
        if seen
            .peers
            .iter()
            .any(|(t, d, _)| (*t, *d) == (tag, report.delivery))
            || seen.peers.len() >= MAX_SIGHTINGS_PER_HASH
        {
            return None;
        }
        let new_peer = !seen.peers.iter().any(|(t, _, _)| *t == tag);
        let within = report
            .at
            .duration_since(seen.first_seen)
            .map_or(true, |after| after <= SPREAD_WINDOW);
        if new_peer && within {
            seen.peers_within_window = seen.peers_within_window.saturating_add(1);
        }
        let offset = report
            .at
            .duration_since(seen.first_seen)
            .map_or(0, |after| {
                u32::try_from(after.as_micros()).unwrap_or(u32::MAX)
            });
        seen.peers.push((tag, report.delivery, offset));
        let (first, count) = match report.delivery {
            Delivery::Announced => (&mut seen.first_announced, &mut seen.announcers),
            Delivery::Full => (&mut seen.first_delivered, &mut seen.deliverers),
        };
        if within {
            *count = count.saturating_add(1);
        }
        let first_time = first.is_none();
        if first_time {
            *first = Some(report.at);
        }
        Some(first_time && report.delivery == Delivery::Full)
    }

    /// The arrival of `hash` at `tier` as its sighting tells it, marking the tier sent;
    /// `None` if it was sent already or the hash is forgotten.
    fn arrival(
        &mut self,
        hash: B256,
        tier: ArrivalTier,
        tx: Option<Arc<crate::txs::pool::PoolTx>>,
    ) -> Option<Arc<TxArrival>> {
        let seen = self.sightings.peek_mut(&hash)?;
        if seen.tiers_sent & tier.bit() != 0 {
            return None;
        }
        seen.tiers_sent |= tier.bit();
        // The seen tier goes out on the hot path: it lists no sources.
        let (tx, sources) = if tier != ArrivalTier::Seen {
            let sources = seen
                .peers
                .iter()
                .map(|&(tag, delivery, offset)| {
                    let peer = self.tags.peek(&tag).copied();
                    ArrivalSource {
                        tag,
                        card: peer.and_then(|p| self.cards.peek(&p).cloned()),
                        peer,
                        delivery,
                        at: seen.first_seen + Duration::from_micros(u64::from(offset)),
                    }
                })
                .collect();
            let tx = if tier == ArrivalTier::Settled {
                seen.tx.take()
            } else {
                tx
            };
            (tx, sources)
        } else {
            (tx, Vec::new())
        };
        Some(Arc::new(TxArrival {
            hash,
            tier,
            peer: seen.first_peer,
            peer_card: self.cards.peek(&seen.first_peer).cloned(),
            kind: seen.kind(),
            first_announced: seen.first_announced,
            first_delivered: seen.first_delivered,
            announcers: seen.announcers,
            deliverers: seen.deliverers,
            verdict: seen.verdict.clone(),
            tx,
            tx_type: seen.pooled.map(|(ty, _)| ty),
            blob: seen.pooled.and_then(|(_, blob)| blob),
            sources,
        }))
    }

    /// Hands `arrivals` to embedders and, for `txArrivals` subscriptions, to the hub.
    fn emit(&mut self, arrivals: Vec<Arc<TxArrival>>) {
        if arrivals.is_empty() {
            return;
        }
        if !self.subscribers.is_empty() {
            for arrival in &arrivals {
                self.subscribers
                    .publish(NodeEvent::TxArrival(arrival.clone()));
            }
        }
        if let (Some(hub), true) = (&self.arrivals_to, self.demand.wanted()) {
            hub.do_send(TxArrivals(arrivals));
        }
    }

    /// Sends the `settled` arrival of every delivered tx first sighted a
    /// [`SPREAD_WINDOW`] before `now`.
    fn settle(&mut self, now: SystemTime) {
        let mut arrivals = Vec::new();
        while let Some(&(first_seen, hash)) = self.to_settle.front() {
            let due = now
                .duration_since(first_seen)
                .is_ok_and(|age| age >= SPREAD_WINDOW);
            if !due {
                break;
            }
            self.to_settle.pop_front();
            let delivered = self
                .sightings
                .peek(&hash)
                .is_some_and(|s| s.first_delivered.is_some());
            if delivered && self.wants_arrivals() {
                arrivals.extend(self.arrival(hash, ArrivalTier::Settled, None));
            }
        }
        self.emit(arrivals);
    }
}

/// Pool admissions: the first time a tx a peer sent or announced is pooled, it goes out
/// as [`NodeEvent::TxSeen`] with the pooled tx and the first sighting.
impl Handler<NewTxs> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: NewTxs, _ctx: &mut Self::Context) {
        if !self.wants_arrivals() {
            return;
        }
        let mut arrivals = Vec::new();
        for tx in msg.txs.iter() {
            let Some(seen) = self.sightings.peek_mut(&tx.hash) else {
                continue;
            };
            if seen.verdict.is_none() {
                seen.verdict = Some(Verdict::Accepted);
                seen.pooled = Some((tx.tx_type, blob_arrival(tx)));
                if seen.tiers_sent & ArrivalTier::Settled.bit() == 0 {
                    seen.tx = Some(tx.clone());
                }
            }
            let reported = std::mem::replace(&mut seen.reported, true);
            arrivals.extend(self.arrival(tx.hash, ArrivalTier::Validated, Some(tx.clone())));
            let Some(seen) = self.sightings.peek(&tx.hash) else {
                continue;
            };
            if reported || self.subscribers.is_empty() {
                continue;
            }
            let event = NodeEvent::TxSeen {
                hash: tx.hash,
                tx: tx.clone(),
                peer: seen.first_peer,
                delivery: seen.first_delivery,
                first_seen: seen.first_seen,
            };
            self.subscribers.publish(event);
        }
        self.emit(arrivals);
    }
}

/// Refusals of txs a peer sent: the first verdict on a sighted tx goes out as its
/// `validated` arrival, with the reason.
impl Handler<TxsRejected> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: TxsRejected, _ctx: &mut Self::Context) {
        if !self.wants_arrivals() {
            return;
        }
        let mut arrivals = Vec::new();
        for (hash, error) in msg.txs.iter() {
            let Some(seen) = self.sightings.peek_mut(hash) else {
                continue;
            };
            if seen.verdict.is_some() {
                continue;
            }
            seen.verdict = Some(Verdict::Rejected(error.clone()));
            arrivals.extend(self.arrival(*hash, ArrivalTier::Validated, None));
        }
        self.emit(arrivals);
    }
}

/// Peers registering: their Hello and address name them in later arrivals.
impl Handler<NodeEvent> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: NodeEvent, _ctx: &mut Self::Context) {
        if let NodeEvent::PeerConnected {
            id,
            addr,
            direction,
            client,
            ..
        } = msg
        {
            let card = PeerCard {
                client,
                addr,
                direction,
            };
            self.tags.put(peer_tag(&id), id);
            self.cards.put(id, Arc::new(card));
        }
    }
}

/// Command: send arrivals for `txArrivals` subscriptions to this recipient (the hub).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectArrivals(pub Recipient<TxArrivals>);

impl Handler<ConnectArrivals> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: ConnectArrivals, _ctx: &mut Self::Context) {
        self.arrivals_to = Some(msg.0);
    }
}

/// Followed blocks: each included tx a peer had sent or announced goes out as
/// [`NodeEvent::TxIncluded`], once (its sighting is forgotten).
impl Handler<BlockIncluded> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: BlockIncluded, _ctx: &mut Self::Context) {
        for hash in &msg.txs {
            let Some(seen) = self.sightings.pop(hash) else {
                continue;
            };
            self.subscribers.publish(NodeEvent::TxIncluded {
                hash: *hash,
                block: msg.block,
                first_seen: seen.first_seen,
                included_at: msg.at,
                block_timestamp: msg.timestamp,
                peers_within_window: seen.peers_within_window,
            });
        }
    }
}

fn peer_tag(peer: &PeerId) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&peer[..8]);
    u64::from_be_bytes(prefix)
}

impl Handler<SubscribeEvents> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: SubscribeEvents, _ctx: &mut Self::Context) {
        self.subscribers.add(msg.0);
        self.active.store(true, Ordering::Relaxed);
    }
}

/// Query: trace lines written and events dropped.
#[derive(Debug, Message)]
#[rtype(result = "(u64, u64)")]
pub struct GetObserverStats;

impl Handler<GetObserverStats> for PropagationObserver {
    type Result = MessageResult<GetObserverStats>;

    fn handle(&mut self, _msg: GetObserverStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult((
            self.lines,
            self.subscribers
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed),
        ))
    }
}

/// Command: flush and stop the observer (the node sends it at shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopObserver;

impl Handler<StopObserver> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, _msg: StopObserver, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
