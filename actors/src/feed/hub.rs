//! [`SubscriptionHub`]: the node side of `eth_subscribe`. It hears of new pool
//! transactions ([`NewTxs`]) and followed heads ([`NewHead`]), renders each notification
//! once per kind, and offers it to every subscriber's bounded buffer with `try_send`: a
//! subscriber that stops reading loses notifications (counted and logged), and the hub
//! never waits on a connection, so no client can slow the node or grow its memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use alloy_consensus::Sealed;
use serde_json::Value;
use tokio::sync::mpsc;

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

/// Subscriptions one connection may hold. geth sets no limit; a monitor needs a few
/// (pending hashes or txs, heads), and 128 bounds the hub's work per connection.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 128;

/// Log one line per this many notifications a subscriber missed (and at the first).
const DROP_LOG_EVERY: u64 = 1000;

/// What a subscription streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriptionKind {
    /// `newPendingTransactions`: hashes of transactions the pool accepted.
    PendingHashes,
    /// `newPendingTransactions` with `true`: those transactions in geth's JSON shape.
    PendingFull,
    /// `newHeads`: the headers of followed (and imported) heads.
    NewHeads,
}

/// Where one connection's notifications go: a buffer bounded in count
/// ([`SUBSCRIBER_BUFFER`]) and bytes ([`SUBSCRIBER_BYTES`]) that the connection drains.
#[derive(Clone, Debug)]
pub struct NotificationSink {
    tx: mpsc::Sender<String>,
    queued_bytes: Arc<AtomicUsize>,
}

/// The connection's end of a [`NotificationSink`].
#[derive(Debug)]
pub struct NotificationQueue {
    rx: mpsc::Receiver<String>,
    queued_bytes: Arc<AtomicUsize>,
}

/// A connection's notification buffer holding up to `capacity` notifications.
pub fn notification_buffer(capacity: usize) -> (NotificationSink, NotificationQueue) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        NotificationSink {
            tx,
            queued_bytes: queued_bytes.clone(),
        },
        NotificationQueue { rx, queued_bytes },
    )
}

impl NotificationQueue {
    /// The next notification (`None` once every sink is gone).
    pub async fn recv(&mut self) -> Option<String> {
        let note = self.rx.recv().await?;
        self.queued_bytes.fetch_sub(note.len(), Ordering::Relaxed);
        Some(note)
    }
}

/// Why a notification was not queued.
enum Offer {
    Full,
    Closed,
}

impl NotificationSink {
    fn offer(&self, note: String) -> Result<(), Offer> {
        let len = note.len();
        if self.queued_bytes.load(Ordering::Relaxed) + len > SUBSCRIBER_BYTES {
            return Err(Offer::Full);
        }
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        self.tx.try_send(note).map_err(|error| {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            match error {
                mpsc::error::TrySendError::Full(_) => Offer::Full,
                mpsc::error::TrySendError::Closed(_) => Offer::Closed,
            }
        })
    }
}

/// Command: start a subscription for a connection; answers its id (`0x` + 32 hex digits,
/// as geth's `rpc.NewID`), or `None` when the connection has
/// [`MAX_SUBSCRIPTIONS_PER_CONNECTION`] already.
#[derive(Message)]
#[rtype(result = "Option<String>")]
pub struct Subscribe {
    /// The connection (its id, unique per hub).
    pub connection: u64,
    /// What to stream.
    pub kind: SubscriptionKind,
    /// Its buffer.
    pub sink: NotificationSink,
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
    kind: SubscriptionKind,
    sink: NotificationSink,
    /// Notifications this subscriber missed.
    dropped: u64,
}

/// Counters of the hub, shared with metrics.
#[derive(Debug, Default)]
pub struct SubscriptionMetrics {
    /// Notifications queued for a subscriber.
    pub delivered: AtomicU64,
    /// Notifications dropped because a subscriber's buffer was full.
    pub dropped: AtomicU64,
}

/// The subscriptions of every WebSocket connection (see the module doc).
#[derive(Default)]
pub struct SubscriptionHub {
    subscribers: HashMap<String, Subscriber>,
    metrics: Arc<SubscriptionMetrics>,
}

impl SubscriptionHub {
    /// A hub without subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<SubscriptionMetrics> {
        self.metrics.clone()
    }

    /// Offers one rendered result per kind to each subscriber of that kind.
    fn publish(&mut self, results: &[(SubscriptionKind, Vec<String>)]) {
        let mut closed = Vec::new();
        for (id, subscriber) in &mut self.subscribers {
            let Some((_, items)) = results.iter().find(|(k, _)| *k == subscriber.kind) else {
                continue;
            };
            for item in items {
                let note = format!(
                    r#"{{"jsonrpc":"2.0","method":"eth_subscription","params":{{"subscription":"{id}","result":{item}}}}}"#
                );
                match subscriber.sink.offer(note) {
                    Ok(()) => {
                        self.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Offer::Full) => {
                        self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
                        subscriber.dropped += 1;
                        if subscriber.dropped % DROP_LOG_EVERY == 1 {
                            log::warn!(
                                "subscription {id}: client not reading, {} notifications dropped",
                                subscriber.dropped
                            );
                        }
                    }
                    Err(Offer::Closed) => {
                        closed.push(id.clone());
                        break;
                    }
                }
            }
        }
        for id in closed {
            self.subscribers.remove(&id);
        }
    }

    fn wants(&self, kind: SubscriptionKind) -> bool {
        self.subscribers.values().any(|s| s.kind == kind)
    }
}

impl Actor for SubscriptionHub {
    type Context = Context<Self>;
}

impl Handler<Subscribe> for SubscriptionHub {
    type Result = Option<String>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Option<String> {
        let held = self
            .subscribers
            .values()
            .filter(|s| s.connection == msg.connection)
            .count();
        if held >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            return None;
        }
        // geth's rpc.NewID: 16 random bytes in hex.
        let id = format!("{:#034x}", secp256k1::rand::random::<u128>());
        self.subscribers.insert(
            id.clone(),
            Subscriber {
                connection: msg.connection,
                kind: msg.kind,
                sink: msg.sink,
                dropped: 0,
            },
        );
        Some(id)
    }
}

impl Handler<Unsubscribe> for SubscriptionHub {
    type Result = bool;

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) -> bool {
        let owned = self
            .subscribers
            .get(&msg.id)
            .is_some_and(|s| s.connection == msg.connection);
        owned && self.subscribers.remove(&msg.id).is_some()
    }
}

impl Handler<ConnectionClosed> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: ConnectionClosed, _ctx: &mut Context<Self>) {
        self.subscribers.retain(|_, s| s.connection != msg.0);
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
                .map(|tx| format!("\"{}\"", tx.hash))
                .collect();
            results.push((SubscriptionKind::PendingHashes, hashes));
        }
        if self.wants(SubscriptionKind::PendingFull) {
            let full = msg
                .txs
                .iter()
                .filter_map(|tx| serde_json::to_string(&pending_tx(tx)).ok())
                .collect();
            results.push((SubscriptionKind::PendingFull, full));
        }
        self.publish(&results);
    }
}

impl Handler<NewHeads> for SubscriptionHub {
    type Result = ();

    fn handle(&mut self, msg: NewHeads, _ctx: &mut Context<Self>) {
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
                serde_json::to_value(header)
                    .map(|v: Value| v.to_string())
                    .ok()
            })
            .collect();
        self.publish(&[(SubscriptionKind::NewHeads, rendered)]);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{legacy_tx, sender};

    #[actix_rt::test]
    async fn a_subscriber_that_stops_reading_loses_notifications_and_others_do_not() {
        let hub = SubscriptionHub::new();
        let metrics = hub.metrics();
        let hub = hub.start();
        let (slow_sink, mut slow) = notification_buffer(2);
        let (fast_sink, mut fast) = notification_buffer(16);
        for (connection, sink) in [(1, slow_sink), (2, fast_sink)] {
            let id = hub
                .send(Subscribe {
                    connection,
                    kind: SubscriptionKind::PendingHashes,
                    sink,
                })
                .await
                .unwrap();
            assert!(id.is_some_and(|id| id.len() == 34));
        }
        let txs: Vec<_> = (0..5).map(|n| Arc::new(legacy_tx(sender(1), n))).collect();
        hub.send(NewTxs {
            txs: txs.clone().into(),
        })
        .await
        .unwrap();
        // The fast reader got all five, in order; the slow one's buffer held two.
        for tx in &txs {
            let note: Value = serde_json::from_str(&fast.recv().await.unwrap()).unwrap();
            assert_eq!(note["method"], "eth_subscription");
            assert_eq!(note["params"]["result"], serde_json::json!(tx.hash));
        }
        assert_eq!(metrics.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(metrics.delivered.load(Ordering::Relaxed), 7);
        assert!(slow.recv().await.is_some() && slow.recv().await.is_some());
        assert!(
            slow.rx.try_recv().is_err(),
            "the rest were dropped, not queued"
        );
    }

    #[actix_rt::test]
    async fn subscriptions_per_connection_are_capped_and_only_their_owner_ends_them() {
        let hub = SubscriptionHub::new().start();
        let (sink, _rx) = notification_buffer(1);
        let subscribe = |connection| Subscribe {
            connection,
            kind: SubscriptionKind::NewHeads,
            sink: sink.clone(),
        };
        let mut ids = Vec::new();
        for _ in 0..MAX_SUBSCRIPTIONS_PER_CONNECTION {
            ids.push(
                hub.send(subscribe(1))
                    .await
                    .unwrap()
                    .expect("under the cap"),
            );
        }
        assert_eq!(hub.send(subscribe(1)).await.unwrap(), None);
        assert!(
            hub.send(subscribe(2)).await.unwrap().is_some(),
            "per connection"
        );
        let id = ids[0].clone();
        assert!(!hub
            .send(Unsubscribe {
                connection: 2,
                id: id.clone()
            })
            .await
            .unwrap());
        assert!(hub
            .send(Unsubscribe {
                connection: 1,
                id: id.clone()
            })
            .await
            .unwrap());
        assert!(!hub.send(Unsubscribe { connection: 1, id }).await.unwrap());
        hub.send(ConnectionClosed(1)).await.unwrap();
        assert!(hub.send(subscribe(1)).await.unwrap().is_some());
    }
}
