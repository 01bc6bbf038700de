//! Propagation observation: [`PropagationObserver`] receives every [`Seen`] report of the
//! node's peers, records when each peer first delivered or announced each tx and block (as
//! JSON lines, `--trace-propagation`), and tells subscribers the first time the node sees a
//! hash ([`NodeEvent::BlockSeen`]), when a tx it saw enters the pool
//! ([`NodeEvent::TxSeen`]) and when a followed block includes one ([`NodeEvent::TxIncluded`]).
//! While someone listens it also builds each tx's arrivals with provenance
//! ([`super::arrivals::TxArrival`]: first delivery decoded, the pool's verdict, the counts
//! a second later) for embedders and the `txArrivals` subscriptions.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use alloy_primitives::B256;

use super::arrivals::{ArrivalDemand, ArrivalTier, PeerCard, TxArrival, TxArrivals, Verdict};
use super::events::{NodeEvent, SubscribeEvents, Subscribers};
use super::lane::{AdmissionRecord, ArrivalLane, ArrivalOutlet, LaneRecord};
use super::sightings::{Recorded, SettleStep, SightingTable};
pub use super::sightings::{MAX_PEER_CARDS, MAX_SIGHTINGS_PER_HASH, SEEN_WINDOW, SPREAD_WINDOW};
use crate::blocks::follow::BlockIncluded;
#[cfg(doc)]
use crate::peer::SeenRoute;
use crate::peer::{Delivery, PeerId, Seen, SeenItem};
use crate::txs::ingest::TxsRejected;
use crate::txs::pool::NewTxs;

/// How often arrivals whose [`SPREAD_WINDOW`] has passed are settled: a tenth of the
/// window, so a `settled` event comes at most 100 ms after its second (one tick more while a
/// lane is still writing an earlier tier of it).
pub const SETTLE_TICK: Duration = Duration::from_millis(100);

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
    /// What is known of each recent hash, shared with the lanes (peers', pool's).
    table: Arc<SightingTable>,
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
}

impl PropagationObserver {
    /// An observer; `trace` is where JSON lines go, if anywhere.
    pub fn new(trace: Option<std::fs::File>) -> Self {
        let active = Arc::new(AtomicBool::new(trace.is_some()));
        Self {
            demand: ArrivalDemand {
                reports: active.clone(),
                ..ArrivalDemand::default()
            },
            arrivals_to: None,
            active,
            table: Arc::default(),
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

    /// The peers' hook ([`SeenRoute::hook`]) and the pool's
    /// ([`crate::txs::pool::ValidatingTxPool::set_admission_hook`]): records into this
    /// observer's table and offers `seen` and accepted `validated` arrivals through
    /// `outlet` (the hub's).
    pub fn lane(&self, outlet: Arc<ArrivalOutlet>) -> ArrivalLane {
        ArrivalLane::new(self.table.clone(), self.demand.clone(), outlet)
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
        let wants_arrivals = self.wants_arrivals();
        // Told to the peers' lane, which builds arrivals only while someone listens.
        self.demand
            .embedders
            .store(!self.subscribers.is_empty(), Ordering::Relaxed);
        // Recorded by the peer's lane on its own thread, or here.
        let lane = msg
            .note
            .as_ref()
            .and_then(|note| note.0.downcast_ref::<LaneRecord>());
        let (mut recorded, offered) = match lane {
            Some(lane) if lane.recorded.len() == msg.items.len() => {
                (lane.recorded.clone(), lane.offered)
            }
            _ => (self.table.record(&msg, wants_arrivals, false), false),
        };
        // What the lane left (blocks) is recorded here.
        for (slot, item) in recorded.iter_mut().zip(&msg.items) {
            if slot.is_none() {
                *slot = Some(self.table.record_item(&msg, item, wants_arrivals));
            }
        }
        let mut arrivals = Vec::new();
        for (item, recorded) in msg.items.iter().zip(recorded) {
            if let Some(recorded) = recorded {
                self.observe(&msg, item, recorded, &mut arrivals);
            }
        }
        self.emit(arrivals, offered);
        // One flush per report: lines reach the file promptly for tools tailing it,
        // without a syscall per hash.
        if let Some(trace) = &mut self.trace {
            let _ = trace.flush();
        }
    }
}

impl PropagationObserver {
    /// What follows from one recorded item of `report`: its `seen` arrival, its trace
    /// line and a block's first sighting.
    fn observe(
        &mut self,
        report: &Seen,
        item: &SeenItem,
        recorded: Recorded,
        arrivals: &mut Vec<Arc<TxArrival>>,
    ) {
        let (hash, number) = match item {
            SeenItem::Tx(hash) => (*hash, None),
            SeenItem::Block { hash, number } => (*hash, Some(*number)),
        };
        if !recorded.added {
            return;
        }
        arrivals.extend(recorded.seen);
        if let Some(trace) = &mut self.trace {
            let time_ms = report
                .at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as f64 / 1000.0)
                .unwrap_or_default();
            let line = TraceLine {
                kind: if number.is_some() { "block" } else { "tx" },
                hash: &hash,
                number,
                peer: &report.peer,
                time_ms,
                delivery: report.delivery,
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
        if let (true, Some(number)) = (recorded.first, number) {
            self.subscribers.publish(NodeEvent::BlockSeen {
                hash,
                number,
                peer: report.peer,
                delivery: report.delivery,
            });
        }
    }

    /// The arrival of `hash` at `tier` as its sighting tells it, marking the tier sent;
    /// `None` if it was sent already or the hash is forgotten.
    fn arrival(
        &self,
        hash: B256,
        tier: ArrivalTier,
        tx: Option<Arc<crate::txs::pool::PoolTx>>,
    ) -> Option<Arc<TxArrival>> {
        let mut shard = self.table.shard(&hash);
        let cards = &self.table.cards;
        shard
            .peek_mut(&hash)?
            .arrival(hash, tier, tx, cards, &|tag| cards.id_of(tag))
    }

    /// Hands `arrivals` to embedders and, for `txArrivals` subscriptions, to the hub
    /// (unless `offered`: a lane offered them already).
    fn emit(&mut self, arrivals: Vec<Arc<TxArrival>>, offered: bool) {
        if arrivals.is_empty() {
            return;
        }
        if !self.subscribers.is_empty() {
            for arrival in &arrivals {
                self.subscribers
                    .publish(NodeEvent::TxArrival(arrival.clone()));
            }
        }
        if let (Some(hub), true, false) = (&self.arrivals_to, self.demand.wanted(), offered) {
            hub.do_send(TxArrivals(arrivals));
        }
    }

    /// Sends the `settled` arrival of every delivered tx first sighted a
    /// [`SPREAD_WINDOW`] before `now`.
    fn settle(&mut self, now: SystemTime) {
        let mut arrivals = Vec::new();
        let mut later = Vec::new();
        let wanted = self.wants_arrivals();
        for hash in self.table.due(now) {
            match self.table.settle_one(hash, wanted) {
                SettleStep::Built(arrival) => arrivals.push(arrival),
                // A lane is writing an earlier tier of it: `settled` must not overtake.
                SettleStep::Later(first_seen) => later.push((first_seen, hash)),
                SettleStep::Gone => {}
            }
        }
        self.table.settle_later(later);
        self.emit(arrivals, false);
    }
}

/// Pool admissions: each sighted tx's `validated` arrival (decided here unless the pool's
/// lane wrote it on the admitting thread), and the first time a tx a peer sent or
/// announced is pooled it goes out as [`NodeEvent::TxSeen`] with the pooled tx and the
/// first sighting.
impl Handler<NewTxs> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: NewTxs, _ctx: &mut Self::Context) {
        if !self.wants_arrivals() {
            return;
        }
        // Written by the pool's lane already; the rest are decided here.
        let laned = msg
            .note
            .as_ref()
            .and_then(|note| note.0.downcast_ref::<AdmissionRecord>())
            .map(|lane| lane.arrivals.clone())
            .unwrap_or_default();
        let arrivals = self.table.admit(&msg.txs, false);
        for tx in msg.txs.iter() {
            let mut shard = self.table.shard(&tx.hash);
            let Some(seen) = shard.peek_mut(&tx.hash) else {
                continue;
            };
            let reported = std::mem::replace(&mut seen.reported, true);
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
            drop(shard);
            self.subscribers.publish(event);
        }
        self.emit(laned, true);
        self.emit(arrivals, false);
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
            {
                let mut shard = self.table.shard(hash);
                let Some(seen) = shard.peek_mut(hash) else {
                    continue;
                };
                if seen.verdict.is_some() {
                    continue;
                }
                seen.verdict = Some(Verdict::Rejected(error.clone()));
            }
            arrivals.extend(self.arrival(*hash, ArrivalTier::Validated, None));
        }
        self.emit(arrivals, false);
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
            self.table.cards.put(id, Arc::new(card));
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
            let Some(seen) = self.table.shard(hash).pop(hash) else {
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

impl Handler<SubscribeEvents> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, msg: SubscribeEvents, _ctx: &mut Self::Context) {
        self.subscribers.add(msg.0);
        self.demand.embedders.store(true, Ordering::Relaxed);
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
