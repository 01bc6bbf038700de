//! [`SubscriptionHub`]: the node side of `eth_subscribe` and `ethpeer_subscribe`. It hears
//! of new pool transactions ([`NewTxs`]), followed heads
//! ([`crate::blocks::follow::NewHead`]) and transaction arrivals ([`TxArrivals`]),
//! renders each result once per kind into shared bytes, and offers a [`Notification`] (the
//! subscription id and a reference to those bytes) to every subscriber's bounded buffer
//! with `try_send`; the connection writes the JSON envelope around them. The byte budget is
//! checked before anything is queued; a subscriber that stops reading loses notifications
//! (counted and logged), one that stays full is dropped, and the hub never waits on a
//! connection, so no client can slow the node or grow its memory. The node runs the hub on
//! an arbiter of its own, not on the thread that coordinates peers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use alloy_consensus::Sealed;
use tokio::sync::mpsc;

use super::arrivals::{ArrivalDemand, ArrivalFilter, ArrivalTier, TxArrivals};
use super::lane::{ArrivalOutlet, OutletEntry, SubscriberCounters, SubscriberGone};
use super::shapes::pending_tx;
use crate::blocks::follow::NewHeads;
use crate::txs::pool::NewTxs;

/// Notifications buffered per WebSocket connection before new ones are dropped: geth's
/// `txChanSize` (4096), the buffer of its pending-transaction subscriptions.
pub const SUBSCRIBER_BUFFER: usize = 4096;

/// Bytes of rendered notifications buffered per connection: full transactions are up to
/// 256 KiB of JSON each, so the count bound alone would allow 1 GiB; 8 MiB holds
/// thousands of hash notifications or dozens of large full ones.
pub const SUBSCRIBER_BYTES: usize = 8 * 1024 * 1024;

/// Subscriptions one connection may hold by default. geth sets no limit (reth 1,024); a
/// monitor needs a few (pending hashes or txs, heads), and 128 bounds the hub's work per
/// connection.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 128;

/// Subscriptions held by all connections together by default: ours, 16 full connections'
/// worth (16 x 128); each costs the hub one buffer offer per notification.
pub const MAX_SUBSCRIPTIONS: usize = 2048;

/// Notifications missed in a row after which a subscriber is dropped: a whole
/// [`SUBSCRIBER_BUFFER`] of them, i.e. the client read nothing while its buffer could have
/// been refilled once over.
pub const MAX_MISSED_IN_A_ROW: u64 = SUBSCRIBER_BUFFER as u64;

/// Log one line per this many notifications a subscriber missed (and at the first).
pub(crate) const DROP_LOG_EVERY: u64 = 1000;

/// What a subscription streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionKind {
    /// `newPendingTransactions`: hashes of transactions the pool accepted.
    PendingHashes,
    /// `newPendingTransactions` with `true`: those transactions in geth's JSON shape.
    PendingFull,
    /// `newHeads`: the headers of followed (and imported) heads.
    NewHeads,
    /// `logs`: the new heads' logs that pass the subscription's filter, one notification
    /// per log.
    Logs,
    /// `ethpeer_subscribe("txArrivals")`: transaction arrivals with provenance
    /// ([`crate::feed::arrivals::TxArrival`]), in the tiers its filter names.
    TxArrivals,
}

impl SubscriptionKind {
    /// The notification method: geth names it after the subscription's namespace.
    pub const fn method(self) -> &'static str {
        match self {
            Self::TxArrivals => "ethpeer_subscription",
            _ => "eth_subscription",
        }
    }
}

/// One notification for one subscriber: its subscription id and the result, rendered once
/// for every subscriber of its kind and shared.
#[derive(Clone, Debug)]
pub struct Notification {
    /// The notification method (`eth_subscription`, `ethpeer_subscription`).
    pub method: &'static str,
    /// The subscription id (`0x` + 32 hex digits).
    pub subscription: Arc<str>,
    /// The `result` member, as JSON text.
    pub result: Arc<str>,
}

impl Notification {
    /// The `eth_subscription` message a connection writes (geth's shape).
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"{}","params":{{"subscription":"{}","result":{}}}}}"#,
            self.method, self.subscription, self.result
        )
    }
}

/// Where one connection's notifications go: a buffer bounded in count
/// ([`SUBSCRIBER_BUFFER`]) and bytes ([`SUBSCRIBER_BYTES`]) that the connection drains, or
/// a connection that writes them itself ([`NotificationWriter`]).
#[derive(Clone, Debug)]
pub struct NotificationSink {
    route: SinkRoute,
}

#[derive(Clone, Debug)]
enum SinkRoute {
    Queue {
        tx: mpsc::Sender<Notification>,
        queued_bytes: Arc<AtomicUsize>,
    },
    Writer(Arc<dyn NotificationWriter>),
}

/// A connection that takes notifications by writing them to its socket itself, on the
/// offering thread (the WebSocket server's connections): no queue between, and no thread
/// to wake before the write.
pub trait NotificationWriter: Send + Sync + std::fmt::Debug {
    /// Writes `note`, or holds what the socket does not take for the connection to flush;
    /// [`Offer::Full`] when [`SUBSCRIBER_BYTES`] wait already, [`Offer::Closed`] once the
    /// connection is gone.
    fn write_note(&self, note: &Notification) -> Result<(), Offer>;

    /// Writes `notes` in order (in one write, where the connection can); how many it took
    /// before a refusal, and the refusal.
    fn write_notes(&self, notes: &[Notification]) -> (usize, Result<(), Offer>) {
        take_in_order(notes.iter(), |note| self.write_note(note))
    }

    /// Bytes written but not yet taken by the socket.
    fn backlog(&self) -> usize;
}

impl NotificationSink {
    /// Bytes a connection that writes notifications itself has not got into its socket
    /// yet (a write there adds to them); 0 for a queue, whose offers only enqueue.
    pub fn write_backlog(&self) -> usize {
        match &self.route {
            SinkRoute::Queue { .. } => 0,
            SinkRoute::Writer(writer) => writer.backlog(),
        }
    }

    /// Offers `notes` in order (to a connection that writes them itself, in one write);
    /// how many were taken before a refusal, and the refusal.
    pub(crate) fn offer_many(&self, notes: Vec<Notification>) -> (usize, Result<(), Offer>) {
        match &self.route {
            SinkRoute::Writer(writer) => writer.write_notes(&notes),
            SinkRoute::Queue { .. } => take_in_order(notes, |note| self.offer(note)),
        }
    }

    /// A sink into a connection that writes notifications itself.
    pub fn writer(writer: Arc<dyn NotificationWriter>) -> Self {
        Self {
            route: SinkRoute::Writer(writer),
        }
    }
}

/// The connection's end of a [`NotificationSink`].
#[derive(Debug)]
pub struct NotificationQueue {
    rx: mpsc::Receiver<Notification>,
    queued_bytes: Arc<AtomicUsize>,
}

/// A connection's notification buffer holding up to `capacity` notifications.
pub fn notification_buffer(capacity: usize) -> (NotificationSink, NotificationQueue) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        NotificationSink {
            route: SinkRoute::Queue {
                tx,
                queued_bytes: queued_bytes.clone(),
            },
        },
        NotificationQueue { rx, queued_bytes },
    )
}

impl NotificationQueue {
    /// The next notification (`None` once every sink is gone).
    pub async fn recv(&mut self) -> Option<Notification> {
        let note = self.rx.recv().await?;
        self.queued_bytes
            .fetch_sub(note.result.len(), Ordering::Relaxed);
        Some(note)
    }
}

/// Why a notification was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// The connection's buffer is full (its client reads too slowly).
    Full,
    /// The connection is gone.
    Closed,
}

impl NotificationSink {
    /// Queues `note` unless the buffer is full in count or bytes (checked first: nothing
    /// is copied for a subscriber without room).
    pub(crate) fn offer(&self, note: Notification) -> Result<(), Offer> {
        let (tx, queued_bytes) = match &self.route {
            SinkRoute::Queue { tx, queued_bytes } => (tx, queued_bytes),
            SinkRoute::Writer(writer) => return writer.write_note(&note),
        };
        let len = note.result.len();
        if queued_bytes.load(Ordering::Relaxed).saturating_add(len) > SUBSCRIBER_BYTES {
            return Err(Offer::Full);
        }
        queued_bytes.fetch_add(len, Ordering::Relaxed);
        tx.try_send(note).map_err(|error| {
            queued_bytes.fetch_sub(len, Ordering::Relaxed);
            match error {
                mpsc::error::TrySendError::Full(_) => Offer::Full,
                mpsc::error::TrySendError::Closed(_) => Offer::Closed,
            }
        })
    }
}

/// Offers each of `items` with `offer` until one is refused: how many were taken, and the
/// refusal.
fn take_in_order<T>(
    items: impl IntoIterator<Item = T>,
    mut offer: impl FnMut(T) -> Result<(), Offer>,
) -> (usize, Result<(), Offer>) {
    let mut taken = 0;
    for item in items {
        if let Err(refused) = offer(item) {
            return (taken, Err(refused));
        }
        taken += 1;
    }
    (taken, Ok(()))
}

/// Command: start a subscription for a connection; answers its id (`0x` + 32 hex digits,
/// as geth's `rpc.NewID`), or why not.
#[derive(Message)]
#[rtype(result = "Result<String, SubscribeRefused>")]
pub struct Subscribe {
    /// The connection (its id, unique per hub).
    pub connection: u64,
    /// What to stream.
    pub kind: SubscriptionKind,
    /// Its buffer.
    pub sink: NotificationSink,
    /// Subscriptions this connection may hold (its server's limit).
    pub per_connection: usize,
    /// The filter of a `logs` subscription.
    pub filter: Option<crate::feed::logs::LogFilter>,
    /// The tiers (and whether whole txs) of a `txArrivals` subscription.
    pub arrivals: Option<ArrivalFilter>,
}

/// Why a subscription was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubscribeRefused {
    /// The connection holds its limit already.
    #[error("at most {limit} subscriptions per connection")]
    PerConnection {
        /// The connection's limit.
        limit: usize,
    },
    /// All connections together hold the hub's limit.
    #[error("the node serves at most {limit} subscriptions")]
    Total {
        /// The hub's limit.
        limit: usize,
    },
}

/// Command: end a subscription of a connection; answers whether it existed.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Unsubscribe {
    /// The connection asking (one connection cannot end another's subscriptions).
    pub connection: u64,
    /// The subscription id.
    pub id: String,
}

/// Command: end every subscription of a closed connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectionClosed(pub u64);

struct Subscriber {
    connection: u64,
    /// Its id, shared by every notification it gets.
    id: Arc<str>,
    kind: SubscriptionKind,
    sink: NotificationSink,
    /// A `logs` subscription's filter.
    filter: Option<crate::feed::logs::LogFilter>,
    /// A `txArrivals` subscription's filter.
    arrivals: Option<ArrivalFilter>,
    /// Notifications missed, shared with the peers' lane (see [`ArrivalOutlet`]).
    counters: Arc<SubscriberCounters>,
}

/// Counters of the hub, shared with metrics.
#[derive(Debug, Default)]
pub struct SubscriptionMetrics {
    /// Notifications queued for a subscriber.
    pub delivered: AtomicU64,
    /// Notifications dropped because a subscriber's buffer was full.
    pub dropped: AtomicU64,
    /// Subscriptions ended because they missed [`MAX_MISSED_IN_A_ROW`] notifications.
    pub subscribers_dropped: AtomicU64,
}

/// The subscriptions of every WebSocket connection (see the module doc).
pub struct SubscriptionHub {
    subscribers: HashMap<Arc<str>, Subscriber>,
    /// Subscriptions held by all connections together at most.
    max_total: usize,
    metrics: Arc<SubscriptionMetrics>,
    /// Told how many `txArrivals` subscriptions exist (the observer's switch).
    demand: Option<ArrivalDemand>,
    /// The `txArrivals` subscribers, for the lanes (peers', pool's).
    outlet: Arc<ArrivalOutlet>,
}

impl Default for SubscriptionHub {
    fn default() -> Self {
        Self::new(MAX_SUBSCRIPTIONS)
    }
}

impl SubscriptionHub {
    /// A hub without subscribers that holds at most `max_total` of them.
    pub fn new(max_total: usize) -> Self {
        Self {
            subscribers: HashMap::new(),
            max_total,
            metrics: Arc::default(),
            demand: None,
            outlet: Arc::default(),
        }
    }

    /// Keeps `outlet` told of the `txArrivals` subscribers (the lanes offer to
    /// them), sharing its counters.
    #[must_use]
    pub fn with_outlet(mut self, outlet: Arc<ArrivalOutlet>) -> Self {
        self.metrics = outlet.metrics.clone();
        self.outlet = outlet;
        self
    }

    /// Keeps `demand` told of the `txArrivals` subscriptions held.
    #[must_use]
    pub fn with_arrival_demand(mut self, demand: ArrivalDemand) -> Self {
        self.demand = Some(demand);
        self
    }

    /// Tells the observer how many `txArrivals` subscriptions exist, and the outlet each
    /// one with its filter (after any change).
    fn update_demand(&self) {
        self.outlet.set(
            self.subscribers
                .values()
                .filter_map(|s| {
                    Some(OutletEntry {
                        id: s.id.clone(),
                        sink: s.sink.clone(),
                        counters: s.counters.clone(),
                        filter: s.arrivals?,
                    })
                })
                .collect(),
        );
        if let Some(demand) = &self.demand {
            demand.set(
                self.subscribers
                    .values()
                    .filter(|s| s.kind == SubscriptionKind::TxArrivals)
                    .count(),
            );
        }
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<SubscriptionMetrics> {
        self.metrics.clone()
    }

    /// Offers the results rendered for each kind to every subscriber of that kind; a
    /// subscriber that has missed [`MAX_MISSED_IN_A_ROW`] is dropped.
    fn publish(&mut self, results: &[(SubscriptionKind, Vec<Arc<str>>)]) {
        let mut gone = Vec::new();
        for subscriber in self.subscribers.values_mut() {
            let Some((_, items)) = results.iter().find(|(k, _)| *k == subscriber.kind) else {
                continue;
            };
            if let Err(reason) = offer_all(subscriber, items, &self.metrics) {
                gone.push((subscriber.id.clone(), reason));
            }
        }
        self.remove_gone(gone);
    }

    /// Ends the subscriptions whose client left or read nothing for too long.
    fn remove_gone(&mut self, gone: Vec<(Arc<str>, Offer)>) {
        if gone.is_empty() {
            return;
        }
        for (id, reason) in &gone {
            self.subscribers.remove(id);
            if *reason == Offer::Full {
                self.metrics
                    .subscribers_dropped
                    .fetch_add(1, Ordering::Relaxed);
                log::warn!("subscription {id}: dropped, its client read nothing for {MAX_MISSED_IN_A_ROW} notifications");
            }
        }
        self.update_demand();
    }

    fn wants(&self, kind: SubscriptionKind) -> bool {
        self.subscribers.values().any(|s| s.kind == kind)
    }

    /// Offers each `logs` subscriber the heads' logs its filter passes, one notification
    /// per log in geth's shape (rendered per subscriber: filters differ); `removed` for the
    /// logs of heads a reorg dropped.
    fn publish_logs(&mut self, heads: &[crate::blocks::follow::NewHead], removed: bool) {
        let mut gone = Vec::new();
        for subscriber in self.subscribers.values_mut() {
            let (SubscriptionKind::Logs, Some(filter)) = (subscriber.kind, &subscriber.filter)
            else {
                continue;
            };
            let items: Vec<Arc<str>> = heads
                .iter()
                .flat_map(|head| {
                    head.logs
                        .iter()
                        .filter(|placed| filter.matches(&placed.log))
                        .filter_map(move |placed| render_log(head, placed, removed))
                })
                .collect();
            if let Err(reason) = offer_all(subscriber, &items, &self.metrics) {
                gone.push((subscriber.id.clone(), reason));
            }
        }
        self.remove_gone(gone);
    }
}

/// One log in geth's notification shape.
fn render_log(
    head: &crate::blocks::follow::NewHead,
    placed: &crate::blocks::follow::HeadLog,
    removed: bool,
) -> Option<Arc<str>> {
    let log = alloy_rpc_types_eth::Log {
        inner: placed.log.clone(),
        block_hash: Some(head.hash),
        block_number: Some(head.header.number),
        block_timestamp: Some(head.header.timestamp),
        transaction_hash: Some(placed.tx_hash),
        transaction_index: Some(placed.tx_index),
        log_index: Some(placed.log_index),
        removed,
    };
    serde_json::to_string(&log).ok().map(Arc::from)
}

/// Offers `items` to one subscriber in order; the reason to drop it, if any (its
/// connection closed, or it has missed [`MAX_MISSED_IN_A_ROW`] in a row).
fn offer_all(
    subscriber: &mut Subscriber,
    items: &[Arc<str>],
    metrics: &SubscriptionMetrics,
) -> Result<(), Offer> {
    for item in items {
        let note = Notification {
            method: subscriber.kind.method(),
            subscription: subscriber.id.clone(),
            result: item.clone(),
        };
        let offered = subscriber.sink.offer(note);
        subscriber
            .counters
            .count(&subscriber.id, offered, metrics)?;
    }
    Ok(())
}

/// Messages waiting in the hub's mailbox at most for what is sent with `try_send` (the
/// peers' lane hands it the `seen` arrivals it does not write itself): the observer's
/// bound, 4,096.
pub const HUB_MAILBOX_CAPACITY: usize = super::observe::OBSERVER_MAILBOX_CAPACITY;

impl Actor for SubscriptionHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(HUB_MAILBOX_CAPACITY);
    }
}

impl Handler<Subscribe> for SubscriptionHub {
    type Result = Result<String, SubscribeRefused>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        if self.subscribers.len() >= self.max_total {
            return Err(SubscribeRefused::Total {
                limit: self.max_total,
            });
        }
        let held = self
            .subscribers
            .values()
            .filter(|s| s.connection == msg.connection)
            .count();
        if held >= msg.per_connection {
            return Err(SubscribeRefused::PerConnection {
                limit: msg.per_connection,
            });
        }
        // geth's rpc.NewID: 16 random bytes in hex.
        let id: Arc<str> = format!("{:#034x}", secp256k1::rand::random::<u128>()).into();
        self.subscribers.insert(
            id.clone(),
            Subscriber {
                connection: msg.connection,
                id: id.clone(),
                kind: msg.kind,
                sink: msg.sink,
                filter: msg.filter,
                arrivals: msg.arrivals,
                counters: Arc::default(),
            },
        );
        self.update_demand();
        Ok(id.to_string())
    }
}

impl Handler<Unsubscribe> for SubscriptionHub {
    type Result = bool;

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) -> bool {
        let owned = self
            .subscribers
            .get(msg.id.as_str())
            .is_some_and(|s| s.connection == msg.connection);
        let ended = owned && self.subscribers.remove(msg.id.as_str()).is_some();
        self.update_demand();
        ended
    }
}

impl Handler<ConnectionClosed> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: ConnectionClosed, _ctx: &mut Context<Self>) {
        self.subscribers.retain(|_, s| s.connection != msg.0);
        self.update_demand();
    }
}

/// A subscriber the lane found gone: ended here, as [`SubscriptionHub::publish`] would.
impl Handler<SubscriberGone> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: SubscriberGone, _ctx: &mut Context<Self>) {
        if self.subscribers.contains_key(&msg.id) {
            let reason = if msg.full { Offer::Full } else { Offer::Closed };
            self.remove_gone(vec![(msg.id, reason)]);
        }
    }
}

impl Handler<NewTxs> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: NewTxs, _ctx: &mut Context<Self>) {
        let mut results = Vec::new();
        if self.wants(SubscriptionKind::PendingHashes) {
            let hashes = msg
                .txs
                .iter()
                .map(|tx| Arc::from(format!("\"{}\"", tx.hash)))
                .collect();
            results.push((SubscriptionKind::PendingHashes, hashes));
        }
        if self.wants(SubscriptionKind::PendingFull) {
            let full = msg
                .txs
                .iter()
                .filter_map(|tx| serde_json::to_string(&pending_tx(tx)).ok())
                .map(Arc::from)
                .collect();
            results.push((SubscriptionKind::PendingFull, full));
        }
        self.publish(&results);
    }
}

impl Handler<NewHeads> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: NewHeads, _ctx: &mut Context<Self>) {
        if self.wants(SubscriptionKind::Logs) {
            self.publish_logs(&msg.0, false);
        }
        if !self.wants(SubscriptionKind::NewHeads) {
            return;
        }
        let rendered = msg
            .0
            .into_iter()
            .filter_map(|head| {
                let header = alloy_rpc_types_eth::Header::from_consensus(
                    Sealed::new_unchecked(head.header, head.hash),
                    None,
                    None,
                );
                serde_json::to_string(&header).ok().map(Arc::from)
            })
            .collect();
        self.publish(&[(SubscriptionKind::NewHeads, rendered)]);
    }
}

impl Handler<crate::blocks::follow::RemovedHeads> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: crate::blocks::follow::RemovedHeads, _ctx: &mut Context<Self>) {
        if self.wants(SubscriptionKind::Logs) {
            self.publish_logs(&msg.0, true);
        }
    }
}

/// An arrival's tier and its JSON without and with the tx (each only if wanted).
type RenderedArrival = (ArrivalTier, Option<Arc<str>>, Option<Arc<str>>);

/// Arrivals: each rendered once without the tx and, if a subscriber wants it, once with it;
/// offered to every `txArrivals` subscriber whose filter takes its tier.
impl Handler<TxArrivals> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: TxArrivals, _ctx: &mut Context<Self>) {
        let filters: Vec<ArrivalFilter> = self
            .subscribers
            .values()
            .filter_map(|s| s.arrivals)
            .collect();
        let rendered: Vec<RenderedArrival> = msg
            .0
            .iter()
            .filter(|a| filters.iter().any(|f| f.passes(a.tier)))
            .map(|arrival| {
                let wants = |full: bool| {
                    filters
                        .iter()
                        .any(|f| f.full == full && f.passes(arrival.tier))
                };
                let render = |full: bool| Some(Arc::from(arrival.to_json(full)));
                let bare = wants(false).then(|| render(false)).flatten();
                // Only an accepted `validated` arrival carries a tx to add.
                let whole = match (&arrival.tx, wants(true)) {
                    (Some(_), true) => render(true),
                    (None, true) => bare.clone().or_else(|| render(false)),
                    _ => None,
                };
                (arrival.tier, bare, whole)
            })
            .collect();
        let mut gone = Vec::new();
        for subscriber in self.subscribers.values_mut() {
            let Some(filter) = subscriber.arrivals else {
                continue;
            };
            let items: Vec<Arc<str>> = rendered
                .iter()
                .filter(|(tier, _, _)| filter.passes(*tier))
                .filter_map(|(_, bare, whole)| if filter.full { whole } else { bare }.clone())
                .collect();
            if let Err(reason) = offer_all(subscriber, &items, &self.metrics) {
                gone.push((subscriber.id.clone(), reason));
            }
        }
        self.remove_gone(gone);
    }
}

impl SubscriptionMetrics {
    /// Notifications delivered and dropped (`ethpeer_rpc_notifications_total`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        out.family(
            "ethpeer_rpc_notifications_total",
            crate::exposition::Kind::Counter,
            "eth_subscribe notifications queued to subscribers, or dropped because a \
             subscriber's buffer was full.",
        )
        .sample(
            &[("outcome", "delivered")],
            self.delivered.load(Ordering::Relaxed),
        )
        .sample(
            &[("outcome", "dropped")],
            self.dropped.load(Ordering::Relaxed),
        );
        out.counter(
            "ethpeer_rpc_subscriptions_dropped_total",
            "Subscriptions ended because their client read nothing for a whole buffer.",
            self.subscribers_dropped.load(Ordering::Relaxed),
        );
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
