//! The fast lane of `seen` arrivals: [`ArrivalLane`] runs on the thread of the peer that
//! decoded a message (as its [`SeenHook`]), records the message's sightings in the shared
//! [`SightingTable`] and, for each tx the message delivers first, renders the `seen`
//! arrival once and offers it straight to the `txArrivals` subscribers' buffers through
//! the [`ArrivalOutlet`]. Before, a `seen` arrival crossed the feeds' arbiter first (the
//! observer, then the hub): one more thread to wake between the decode and the client's
//! socket, 0.4 ms at the median on a loaded 2-core machine (`benches/first_seen.rs`). The
//! observer still gets the report (with what was recorded) for the trace file, embedders'
//! events and the later tiers.
//!
//! As the pool's [`AdmissionHook`], the lane does the same for `validated` arrivals on the
//! thread that pooled the txs (a verifier, an RPC worker): before, they crossed to the
//! feeds' arbiter first.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use actix::prelude::*;

use super::arrivals::PeerCard;
use super::arrivals::{ArrivalDemand, ArrivalFilter, ArrivalTier, TxArrival, TxArrivals};
use super::events::Direction;
use super::hub::{
    Notification, NotificationSink, Offer, SubscriptionKind, SubscriptionMetrics, DROP_LOG_EVERY,
    MAX_MISSED_IN_A_ROW,
};
use super::sightings::{Recorded, SightingTable};
use crate::peer::{PeerId, Seen, SeenHook, SeenNote};
use crate::txs::pool::{AdmissionHook, AdmissionNote, PoolTx};

/// What a peer's lane recorded of one report, handed to the observer with it.
#[derive(Debug)]
pub(crate) struct LaneRecord {
    /// Per item of the report, in order; `None` for what the lane leaves to the observer
    /// (blocks).
    pub recorded: Vec<Option<Recorded>>,
    /// Whether the `seen` arrivals went to subscribers already, written here or handed to
    /// the hub (the observer then gives them to embedders only).
    pub offered: bool,
}

/// The peers' hook and the pool's (see the module doc).
#[derive(Debug)]
pub struct ArrivalLane {
    table: Arc<SightingTable>,
    demand: ArrivalDemand,
    outlet: Arc<ArrivalOutlet>,
}

impl ArrivalLane {
    /// A lane recording into `table`, building arrivals while `demand` says anyone wants
    /// them, and offering them through `outlet`.
    pub fn new(
        table: Arc<SightingTable>,
        demand: ArrivalDemand,
        outlet: Arc<ArrivalOutlet>,
    ) -> Self {
        Self {
            table,
            demand,
            outlet,
        }
    }
}

impl SeenHook for ArrivalLane {
    fn record(&self, report: &Seen) -> Option<SeenNote> {
        let recorded = self.table.record(report, self.demand.any(), true);
        let arrivals: Vec<Arc<TxArrival>> = recorded
            .iter()
            .filter_map(|r| r.as_ref()?.seen.clone())
            .collect();
        let outcome = match self.demand.wanted() {
            true => self.outlet.deliver(&arrivals),
            false => Offered::Not,
        };
        // Written (not waiting at the hub): the pool's lane may now write their
        // `validated` arrivals itself.
        self.table.lane_done(
            arrivals.iter().map(|a| &a.hash),
            ArrivalTier::Seen,
            outcome == Offered::Written,
        );
        let offered = outcome != Offered::Not;
        Some(SeenNote(Arc::new(LaneRecord { recorded, offered })))
    }

    fn introduce(&self, peer: PeerId, client: &str, addr: std::net::SocketAddr, dialed: bool) {
        let direction = match dialed {
            true => Direction::Outbound,
            false => Direction::Inbound,
        };
        let card = PeerCard {
            client: client.to_string(),
            addr,
            direction,
        };
        self.table.cards.put(peer, Arc::new(card));
    }
}

/// What the pool's lane made of one admission, handed to the observer with the pool's event.
#[derive(Debug)]
pub(crate) struct AdmissionRecord {
    /// The `validated` arrivals built and written here, in order (the observer gives them
    /// to embedders and builds the others).
    pub arrivals: Vec<Arc<TxArrival>>,
}

/// Raw bytes of an admitted batch's txs above which the pool's lane leaves its arrivals to
/// the hub: a lane writes a batch into a subscriber's buffer whole or not at all, and
/// `fullTx` JSON is about twice the raw bytes, so 512 KiB keeps a batch well inside the 8 MiB
/// a subscriber may have waiting ([`super::hub::SUBSCRIBER_BYTES`]), where the hub would
/// offer its arrivals one by one. Ours; a verifier's batch is at most 64 txs
/// (`INGEST_BATCH`), an RPC or re-added batch may be larger.
pub const MAX_LANE_BATCH_BYTES: usize = 512 * 1024;

/// The pool's hook: the same lane, on the admitting thread. It writes an accepted tx's
/// `validated` arrival itself only where nothing can overtake or be overtaken: the tx's
/// `seen` was written by a lane (not waiting at the hub), the subscribers take it now, and
/// the batch is small; else the observer sends it through the hub as before.
impl AdmissionHook for ArrivalLane {
    fn admitted(&self, txs: &[Arc<PoolTx>]) -> Option<AdmissionNote> {
        if !self.demand.wanted() {
            return None;
        }
        // Sidecars are not rendered (a pooled blob tx's JSON has no blobs).
        let bytes = txs
            .iter()
            .fold(0usize, |sum, tx| sum.saturating_add(tx.size_without_blobs));
        if bytes > MAX_LANE_BATCH_BYTES {
            return None;
        }
        let entries = self.outlet.writable(ArrivalTier::Validated)?;
        let arrivals = self.table.admit(txs, true);
        if arrivals.is_empty() {
            return None;
        }
        self.outlet.offer_to(&entries, &arrivals);
        self.table.lane_done(
            arrivals.iter().map(|a| &a.hash),
            ArrivalTier::Validated,
            true,
        );
        Some(AdmissionNote(Arc::new(AdmissionRecord { arrivals })))
    }
}

/// Subscribers of a tier a lane writes to itself at most; past it the hub does, so a peer
/// or verifier thread pays for a handful of feed consumers per tx, not for up to the hub's
/// 2,048 subscriptions (ours: the consumers of one node's feed are a few processes; each
/// costs the lane's thread a write of its own).
pub const MAX_LANE_SUBSCRIBERS: usize = 8;

/// Per-subscriber counters the hub and the lane share.
#[derive(Debug, Default)]
pub(crate) struct SubscriberCounters {
    /// Notifications this subscriber missed.
    pub dropped: AtomicU64,
    /// Notifications it missed since the last one it took.
    pub missed_in_a_row: AtomicU64,
    /// Whether the hub was told to end it (once).
    pub gone: AtomicBool,
}

impl SubscriberCounters {
    /// Counts one offer's outcome; whether the subscriber must now be ended (its client
    /// left, or it has missed [`MAX_MISSED_IN_A_ROW`] in a row).
    pub fn count(
        &self,
        id: &str,
        offer: Result<(), Offer>,
        metrics: &SubscriptionMetrics,
    ) -> Result<(), Offer> {
        match offer {
            Ok(()) => {
                metrics.delivered.fetch_add(1, Ordering::Relaxed);
                self.missed_in_a_row.store(0, Ordering::Relaxed);
                Ok(())
            }
            Err(Offer::Full) => {
                metrics.dropped.fetch_add(1, Ordering::Relaxed);
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let missed = self.missed_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped % DROP_LOG_EVERY == 1 {
                    log::warn!(
                        "subscription {id}: client not reading, {dropped} notifications dropped"
                    );
                }
                if missed >= MAX_MISSED_IN_A_ROW {
                    return Err(Offer::Full);
                }
                Ok(())
            }
            Err(Offer::Closed) => Err(Offer::Closed),
        }
    }
}

/// One `txArrivals` subscription, as the lanes see it.
#[derive(Clone, Debug)]
pub(crate) struct OutletEntry {
    /// Its id.
    pub id: Arc<str>,
    /// Its buffer.
    pub sink: NotificationSink,
    /// Shared with the hub's record of it.
    pub counters: Arc<SubscriberCounters>,
    /// Its tiers, and whether it wants the tx.
    pub filter: ArrivalFilter,
}

/// Event: the lane found a subscriber gone (its client left, or missed too many in a row);
/// the hub ends it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscriberGone {
    /// The subscription id.
    pub id: Arc<str>,
    /// Whether it was dropped for not reading (else its connection closed).
    pub full: bool,
}

/// What became of arrivals the peers' lane offered ([`ArrivalOutlet::deliver`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Written into every subscriber's buffer here (or no subscriber takes the tier).
    Written,
    /// Handed to the hub (or dropped and counted at its full mailbox).
    Handed,
    /// Neither: no hub connected.
    Not,
}

/// The `txArrivals` subscribers by tier, kept by the hub, offered to by the lanes.
#[derive(Debug, Default)]
pub struct ArrivalOutlet {
    /// Those that want `seen`.
    seen: RwLock<Arc<[OutletEntry]>>,
    /// Those that want `validated`.
    validated: RwLock<Arc<[OutletEntry]>>,
    /// The hub's counters (delivered, dropped).
    pub(crate) metrics: Arc<SubscriptionMetrics>,
    /// Where gone subscribers are reported (the hub, once started).
    gone: OnceLock<Recipient<SubscriberGone>>,
    /// Where `seen` arrivals go that the lane does not write itself (the hub, once started).
    hub: OnceLock<Recipient<TxArrivals>>,
}

impl ArrivalOutlet {
    /// Reports gone subscribers to the hub, and hands it the `seen` arrivals the lane does
    /// not write itself.
    pub fn connect(&self, gone: Recipient<SubscriberGone>, hub: Recipient<TxArrivals>) {
        let _ = self.gone.set(gone);
        let _ = self.hub.set(hub);
    }

    /// Gets `seen` `arrivals` (of one report) to the subscribers: written here when the
    /// lane may ([`Self::writable`]), else handed to the hub (dropped and counted if its
    /// mailbox is full).
    pub(crate) fn deliver(&self, arrivals: &[Arc<TxArrival>]) -> Offered {
        let entries = read(&self.seen);
        if arrivals.is_empty() || entries.is_empty() {
            // Nobody takes `seen`: the hub would offer them to no one.
            return Offered::Written;
        }
        if may_write(&entries) {
            self.offer_to(&entries, arrivals);
            return Offered::Written;
        }
        let Some(hub) = self.hub.get() else {
            return Offered::Not;
        };
        let count = arrivals.len() as u64;
        if hub.try_send(TxArrivals(arrivals.to_vec())).is_err() {
            self.metrics.dropped.fetch_add(count, Ordering::Relaxed);
        }
        Offered::Handed
    }

    /// Replaces the subscribers (the hub, after any change): every `txArrivals`
    /// subscription, with its filter.
    pub(crate) fn set(&self, entries: Vec<OutletEntry>) {
        let of = |tier: ArrivalTier| -> Arc<[OutletEntry]> {
            entries
                .iter()
                .filter(|e| e.filter.passes(tier))
                .cloned()
                .collect()
        };
        let (seen, validated) = (of(ArrivalTier::Seen), of(ArrivalTier::Validated));
        *write(&self.seen) = seen;
        *write(&self.validated) = validated;
    }

    /// The subscribers of `tier` (`seen` or `validated`), if a lane should write to them
    /// itself now (see [`may_write`]); `None` also if there are none.
    pub(crate) fn writable(&self, tier: ArrivalTier) -> Option<Arc<[OutletEntry]>> {
        let entries = match tier {
            ArrivalTier::Seen => read(&self.seen),
            _ => read(&self.validated),
        };
        (!entries.is_empty() && may_write(&entries)).then_some(entries)
    }

    /// Renders each of `arrivals` once (and once more with its tx if a subscriber wants
    /// it) and offers them to every subscriber in `entries`, all of them in one write to
    /// each (only subscribers of the arrivals' tier are here).
    pub(crate) fn offer_to(&self, entries: &[OutletEntry], arrivals: &[Arc<TxArrival>]) {
        if entries.is_empty() || arrivals.is_empty() {
            return;
        }
        let rendered = render(entries, arrivals);
        for entry in entries.iter() {
            let notes: Vec<Notification> = rendered
                .iter()
                .filter_map(|(bare, whole)| if entry.filter.full { whole } else { bare }.clone())
                .map(|result| Notification {
                    method: SubscriptionKind::TxArrivals.method(),
                    subscription: entry.id.clone(),
                    result,
                })
                .collect();
            let offered = notes.len();
            let (taken, refused) = entry.sink.offer_many(notes);
            let outcomes = (0..offered).map(|k| if k < taken { Ok(()) } else { refused });
            let counted = outcomes
                .map(|outcome| entry.counters.count(&entry.id, outcome, &self.metrics))
                .find_map(Result::err);
            if let Some(reason) = counted {
                let first = !entry.counters.gone.swap(true, Ordering::Relaxed);
                if let (true, Some(hub)) = (first, self.gone.get()) {
                    hub.do_send(SubscriberGone {
                        id: entry.id.clone(),
                        full: reason == Offer::Full,
                    });
                }
            }
        }
    }
}

/// Whether a lane should write to `entries` itself: at most [`MAX_LANE_SUBSCRIBERS`], none
/// with a backlog (a client that is behind gets the rest through the hub, so the lanes never
/// add to a backlog or wait on it).
fn may_write(entries: &[OutletEntry]) -> bool {
    entries.len() <= MAX_LANE_SUBSCRIBERS && entries.iter().all(|e| e.sink.write_backlog() == 0)
}

/// An arrival's JSON without its tx and with it (each only if wanted).
type Texts = (Option<Arc<str>>, Option<Arc<str>>);

/// Each arrival's JSON without its tx and with it, each rendered once and only if one of
/// `entries` wants it (an arrival without a tx, as every `seen` one, has one text).
fn render(entries: &[OutletEntry], arrivals: &[Arc<TxArrival>]) -> Vec<Texts> {
    let wants_bare = entries.iter().any(|e| !e.filter.full);
    let wants_whole = entries.iter().any(|e| e.filter.full);
    arrivals
        .iter()
        .map(|arrival| {
            let text = |full: bool| Arc::<str>::from(arrival.to_json(full));
            let bare = wants_bare.then(|| text(false));
            let whole = match (wants_whole, &arrival.tx) {
                (false, _) => None,
                (true, Some(_)) => Some(text(true)),
                (true, None) => bare.clone().or_else(|| Some(text(false))),
            };
            (bare, whole)
        })
        .collect()
}

fn read(list: &RwLock<Arc<[OutletEntry]>>) -> Arc<[OutletEntry]> {
    list.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn write(list: &RwLock<Arc<[OutletEntry]>>) -> std::sync::RwLockWriteGuard<'_, Arc<[OutletEntry]>> {
    list.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
