//! Propagation observation: [`PropagationObserver`] receives every [`Seen`] report of the
//! node's peers, records when each peer first delivered or announced each tx and block (as
//! JSON lines, `--trace-propagation`), and tells subscribers the first time the node sees a
//! hash ([`NodeEvent::TxSeen`] / [`NodeEvent::BlockSeen`]).

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use actix::prelude::*;
use alloy_primitives::B256;
use lru::LruCache;

use super::events::{NodeEvent, SubscribeEvents, Subscribers};
#[cfg(doc)]
use crate::peer::SeenRoute;
use crate::peer::{Delivery, PeerId, Seen, SeenItem};

/// Hashes whose sightings are remembered (LRU). A hash forgotten and seen again is
/// reported again. 16,384 hashes cover over ten minutes of mainnet's ~20 tx/s; with every
/// one of 50 peers recorded (16 bytes each) that is about 13 MiB, 17 MiB at the cap.
pub const SEEN_WINDOW: usize = 16_384;

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
    /// For each hash, the (peer tag, delivery) pairs already recorded. A tag is the first
    /// 8 bytes of the peer id: enough to tell a node's peers apart (ids are public keys,
    /// spoofing a prefix only hides a peer's own sightings), 8x smaller than the id.
    sightings: LruCache<B256, Vec<(u64, Delivery)>>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    subscribers: Subscribers,
    /// Trace lines written.
    lines: u64,
    /// Shared with the peers: whether reports are wanted (a trace or a subscriber).
    active: Arc<AtomicBool>,
}

impl PropagationObserver {
    /// An observer; `trace` is where JSON lines go, if anywhere.
    pub fn new(trace: Option<std::fs::File>) -> Self {
        Self {
            active: Arc::new(AtomicBool::new(trace.is_some())),
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

    /// Whether anything needs [`Seen`] reports (a trace or a subscriber).
    fn wants_reports(&self) -> bool {
        self.trace.is_some() || !self.subscribers.is_empty()
    }
}

impl Actor for PropagationObserver {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Peers report with try_send: an observer that falls behind loses reports (counted
        // per peer as `dropped_seen`) instead of growing without bound.
        ctx.set_mailbox_capacity(OBSERVER_MAILBOX_CAPACITY);
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
        for item in &msg.items {
            let (hash, number) = match item {
                SeenItem::Tx(hash) => (*hash, None),
                SeenItem::Block { hash, number } => (*hash, Some(*number)),
            };
            let tag = peer_tag(&msg.peer);
            let seen = self.sightings.get_or_insert_mut(hash, Vec::new);
            let first = seen.is_empty();
            if seen.contains(&(tag, msg.delivery)) || seen.len() >= MAX_SIGHTINGS_PER_HASH {
                continue;
            }
            seen.push((tag, msg.delivery));
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
            if first {
                self.subscribers.publish(match number {
                    None => NodeEvent::TxSeen {
                        hash,
                        peer: msg.peer,
                        delivery: msg.delivery,
                    },
                    Some(number) => NodeEvent::BlockSeen {
                        hash,
                        number,
                        peer: msg.peer,
                        delivery: msg.delivery,
                    },
                });
            }
        }
        // One flush per report: lines reach the file promptly for tools tailing it,
        // without a syscall per hash.
        if let Some(trace) = &mut self.trace {
            let _ = trace.flush();
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

/// Command (internal): flush and stop the observer at shutdown.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct StopObserver;

impl Handler<StopObserver> for PropagationObserver {
    type Result = ();

    fn handle(&mut self, _msg: StopObserver, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    struct Collect(std::rc::Rc<std::cell::RefCell<Vec<NodeEvent>>>);
    impl Actor for Collect {
        type Context = Context<Self>;
    }
    impl Handler<NodeEvent> for Collect {
        type Result = ();
        fn handle(&mut self, msg: NodeEvent, _ctx: &mut Self::Context) {
            self.0.borrow_mut().push(msg);
        }
    }

    /// Query: how many events the collector has handled (answered after those queued).
    #[derive(Message)]
    #[rtype(result = "usize")]
    struct Collected;
    impl Handler<Collected> for Collect {
        type Result = usize;
        fn handle(&mut self, _msg: Collected, _ctx: &mut Self::Context) -> usize {
            self.0.borrow().len()
        }
    }

    #[actix_rt::test]
    async fn records_each_peers_first_delivery_and_reports_new_hashes_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let observer =
            PropagationObserver::new(Some(std::fs::File::create(&path).unwrap())).start();
        let events = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let collector = Collect(events.clone()).start();
        observer
            .send(SubscribeEvents(collector.clone().recipient()))
            .await
            .unwrap();
        let (a, b) = (PeerId::repeat_byte(0xaa), PeerId::repeat_byte(0xbb));
        let tx = B256::repeat_byte(1);
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let report = |peer, delivery, items: Vec<SeenItem>| Seen {
            peer,
            at,
            delivery,
            items,
        };
        observer
            .send(report(a, Delivery::Announced, vec![SeenItem::Tx(tx)]))
            .await
            .unwrap();
        // The same again from a: not recorded twice.
        observer
            .send(report(a, Delivery::Announced, vec![SeenItem::Tx(tx)]))
            .await
            .unwrap();
        observer
            .send(report(b, Delivery::Full, vec![SeenItem::Tx(tx)]))
            .await
            .unwrap();
        let block = SeenItem::Block {
            hash: B256::repeat_byte(2),
            number: 7,
        };
        observer
            .send(report(b, Delivery::Full, vec![block]))
            .await
            .unwrap();
        assert_eq!(observer.send(GetObserverStats).await.unwrap(), (3, 0));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["kind"], "tx");
        assert_eq!(lines[0]["delivery"], "announced");
        assert_eq!(lines[0]["peer"], format!("{a}"));
        assert_eq!(lines[0]["time_ms"], 1_700_000_000_123.0);
        assert_eq!(lines[1]["delivery"], "full");
        assert_eq!(lines[2]["kind"], "block");
        assert_eq!(lines[2]["number"], 7);
        // Wait until the collector has handled two events (one TxSeen from a, one
        // BlockSeen), then ask once more: a third would be in its mailbox by then.
        tokio::time::timeout(Duration::from_secs(5), async {
            while collector.send(Collected).await.unwrap() < 2 {}
        })
        .await
        .expect("two events within 5 s");
        assert_eq!(collector.send(Collected).await.unwrap(), 2);
        let events = events.borrow();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(events[0], NodeEvent::TxSeen { peer, delivery: Delivery::Announced, .. } if peer == a)
        );
        assert!(matches!(events[1], NodeEvent::BlockSeen { number: 7, .. }));
    }
}
