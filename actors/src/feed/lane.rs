//! The fast lane of `seen` arrivals: [`ArrivalLane`] runs on the thread of the peer that
//! decoded a message (as its [`SeenHook`]), records the message's sightings in the shared
//! [`SightingTable`] and, for each tx the message delivers first, renders the `seen`
//! arrival once and offers it straight to the `txArrivals` subscribers' buffers through
//! the [`ArrivalOutlet`]. Before, a `seen` arrival crossed the feeds' arbiter first (the
//! observer, then the hub): one more thread to wake between the decode and the client's
//! socket, 0.4 ms at the median on a loaded 2-core machine (`benches/first_seen.rs`). The
//! observer still gets the report (with what was recorded) for the trace file, embedders'
//! events and the later tiers.

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

/// The peers' hook (see the module doc).
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
        let offered = self.demand.wanted() && self.outlet.deliver(arrivals);
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

/// `seen` subscribers the lane writes to itself at most; past it the hub does (as it does
/// for the other tiers), so a peer thread pays for a handful of feed consumers per tx, not
/// for up to the hub's 2,048 subscriptions (ours: the consumers of one node's feed are a
/// few processes; each costs the peer thread a write of its own).
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

/// One `txArrivals` subscription that wants the `seen` tier, as the lane sees it.
#[derive(Clone, Debug)]
pub(crate) struct OutletEntry {
    /// Its id.
    pub id: Arc<str>,
    /// Its buffer.
    pub sink: NotificationSink,
    /// Shared with the hub's record of it.
    pub counters: Arc<SubscriberCounters>,
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

/// The `seen`-tier subscribers, kept by the hub, offered to by the peers' lanes.
#[derive(Debug, Default)]
pub struct ArrivalOutlet {
    entries: RwLock<Arc<[OutletEntry]>>,
    /// The hub's counters (delivered, dropped).
    pub(crate) metrics: Arc<SubscriptionMetrics>,
    /// Where gone subscribers are reported (the hub, once started).
    gone: OnceLock<Recipient<SubscriberGone>>,
    /// Where arrivals go that the lane does not write itself (the hub, once started).
    hub: OnceLock<Recipient<TxArrivals>>,
}

impl ArrivalOutlet {
    /// Reports gone subscribers to the hub, and hands it the arrivals the lane does not
    /// write itself.
    pub fn connect(&self, gone: Recipient<SubscriberGone>, hub: Recipient<TxArrivals>) {
        let _ = self.gone.set(gone);
        let _ = self.hub.set(hub);
    }

    /// Gets `arrivals` (`seen`, of one report) to the subscribers: written here when the
    /// lane may ([`Self::takers`]), else handed to the hub (dropped and counted if its
    /// mailbox is full). `false` if neither could be done (no hub connected).
    pub(crate) fn deliver(&self, arrivals: Vec<Arc<TxArrival>>) -> bool {
        if arrivals.is_empty() {
            return true;
        }
        if let Some(entries) = self.takers() {
            self.offer_to(&entries, &arrivals);
            return true;
        }
        let Some(hub) = self.hub.get() else {
            return false;
        };
        let count = arrivals.len() as u64;
        if hub.try_send(TxArrivals(arrivals)).is_err() {
            self.metrics.dropped.fetch_add(count, Ordering::Relaxed);
        }
        true
    }

    /// Replaces the subscribers (the hub, after any change).
    pub(crate) fn set(&self, entries: Vec<OutletEntry>) {
        let entries: Arc<[OutletEntry]> = entries.into();
        *self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = entries;
    }

    fn snapshot(&self) -> Arc<[OutletEntry]> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The subscribers, if the lane should write to them itself: at most
    /// [`MAX_LANE_SUBSCRIBERS`], none with a backlog (a client that is behind gets the
    /// rest through the hub, so the peer threads never add to a backlog or wait on it).
    pub(crate) fn takers(&self) -> Option<Arc<[OutletEntry]>> {
        let entries = self.snapshot();
        let idle = entries.iter().all(|e| e.sink.write_backlog() == 0);
        (!entries.is_empty() && entries.len() <= MAX_LANE_SUBSCRIBERS && idle).then_some(entries)
    }

    /// Renders each of `arrivals` once and offers them to every subscriber in `entries`,
    /// all of them in one write to each (see [`ArrivalFilter`]: only `seen`-tier
    /// subscribers are here; a `seen` arrival carries no tx, so `fullTx` subscribers get
    /// the same text).
    pub(crate) fn offer_to(&self, entries: &[OutletEntry], arrivals: &[Arc<TxArrival>]) {
        if entries.is_empty() || arrivals.is_empty() {
            return;
        }
        let results: Vec<Arc<str>> = arrivals
            .iter()
            .map(|arrival| {
                debug_assert_eq!(arrival.tier, ArrivalTier::Seen);
                Arc::from(arrival.to_json(false))
            })
            .collect();
        for entry in entries.iter() {
            let notes: Vec<Notification> = results
                .iter()
                .map(|result| Notification {
                    method: SubscriptionKind::TxArrivals.method(),
                    subscription: entry.id.clone(),
                    result: result.clone(),
                })
                .collect();
            let (taken, refused) = entry.sink.offer_many(notes);
            let outcomes = (0..results.len()).map(|k| if k < taken { Ok(()) } else { refused });
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

/// Whether `filter` belongs in the outlet.
pub(crate) fn wants_seen(filter: &ArrivalFilter) -> bool {
    filter.passes(ArrivalTier::Seen)
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
