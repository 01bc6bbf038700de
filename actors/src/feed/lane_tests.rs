//! The fast lane's tests: `seen` arrivals decided on the reporting thread, once per tx
//! however many threads race, offered to the outlet's subscribers, and gone subscribers
//! reported to the hub once; the observer then leaves those arrivals to the lane.
use super::*;
use crate::feed::arrivals::{ArrivalKind, PeerCard, TxArrivals};
use crate::feed::events::Direction;
use crate::feed::hub::{notification_buffer, NotificationQueue};
use crate::peer::{Delivery, PeerId, SeenItem};
use alloy_primitives::B256;
use serde_json::Value;
use std::time::{Duration, SystemTime};

fn report(peer: PeerId, delivery: Delivery, hashes: &[B256]) -> Seen {
    Seen {
        peer,
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_489_893),
        delivery,
        reply: false,
        items: hashes.iter().copied().map(SeenItem::Tx).collect(),
        note: None,
    }
}

/// A lane with one `seen` subscriber, its queue, and its table.
fn lane_with_subscriber() -> (ArrivalLane, NotificationQueue, Arc<SightingTable>) {
    lane_with_subscriber_buffer(64)
}

/// [`lane_with_subscriber`] whose subscriber buffers `capacity` notifications.
fn lane_with_subscriber_buffer(
    capacity: usize,
) -> (ArrivalLane, NotificationQueue, Arc<SightingTable>) {
    let table = Arc::new(SightingTable::default());
    let demand = ArrivalDemand::default();
    demand.set(1);
    let outlet = Arc::new(ArrivalOutlet::default());
    let (sink, queue) = notification_buffer(capacity);
    outlet.set(vec![OutletEntry {
        id: "0x01".into(),
        sink,
        counters: Arc::default(),
        filter: ArrivalFilter::ALL,
    }]);
    (
        ArrivalLane::new(table.clone(), demand, outlet),
        queue,
        table,
    )
}

async fn next(queue: &mut NotificationQueue) -> Value {
    let note = tokio::time::timeout(Duration::from_secs(5), queue.recv())
        .await
        .expect("a notification")
        .expect("open");
    assert_eq!(note.method, "ethpeer_subscription");
    assert_eq!(&*note.subscription, "0x01");
    serde_json::from_str(&note.result).expect("JSON")
}

fn no_more(queue: &mut NotificationQueue) {
    let more = futures::FutureExt::now_or_never(queue.recv());
    assert!(more.is_none(), "nothing else is offered");
}

#[actix_rt::test]
async fn the_first_delivery_is_offered_on_the_reporting_thread_once_with_its_provenance() {
    let (lane, mut queue, table) = lane_with_subscriber();
    let (a, b, c, d) = (
        PeerId::repeat_byte(0xaa),
        PeerId::repeat_byte(0xbb),
        PeerId::repeat_byte(0xcc),
        PeerId::repeat_byte(0xdd),
    );
    table.cards.put(
        a,
        Arc::new(PeerCard {
            client: "Geth/v1.17.10".into(),
            addr: "127.0.1.1:30303".parse().expect("addr"),
            direction: Direction::Outbound,
        }),
    );
    let (broadcast, announced) = (B256::repeat_byte(1), B256::repeat_byte(2));
    // a broadcasts the first tx; b delivers it again: one arrival, a's.
    let note = lane.record(&report(a, Delivery::Full, &[broadcast]));
    let note = note.expect("a note for the observer");
    let record = note
        .0
        .downcast_ref::<LaneRecord>()
        .expect("the lane's record");
    let recorded = record.recorded[0]
        .as_ref()
        .expect("a tx is recorded by the lane");
    assert!(record.offered && recorded.added && recorded.first);
    let seen = next(&mut queue).await;
    assert_eq!(seen["tier"], "seen");
    assert_eq!(seen["hash"], format!("{broadcast:#x}"));
    assert_eq!(seen["kind"], "broadcast");
    assert_eq!(seen["peer"]["id"], format!("{a:#x}"));
    assert_eq!(seen["peer"]["client"], "Geth/v1.17.10");
    assert_eq!(seen["peer"]["direction"], "outbound");
    assert_eq!(
        (seen["deliverers"].clone(), seen["announcers"].clone()),
        (1.into(), 0.into())
    );
    lane.record(&report(b, Delivery::Full, &[broadcast]));
    no_more(&mut queue);
    // c announces the second tx, d delivers it in a reply: the arrival names c, fetched.
    lane.record(&report(c, Delivery::Announced, &[announced]));
    no_more(&mut queue);
    let reply = Seen {
        reply: true,
        ..report(d, Delivery::Full, &[announced])
    };
    lane.record(&reply);
    let seen = next(&mut queue).await;
    assert_eq!(seen["kind"], "fetched");
    assert_eq!(seen["peer"]["id"], format!("{c:#x}"));
    assert!(seen["peer"].get("client").is_none(), "c never registered");
    assert!(seen["firstAnnounced"].is_string() && seen["firstDelivered"].is_string());
    assert_eq!(seen["announcers"], 1);
    let kind = table.shard(&announced).peek(&announced).map(|s| s.kind());
    assert_eq!(kind, Some(ArrivalKind::Fetched));
    // Announced by c, then broadcast whole by d: a broadcast, with c's announcement.
    let third = B256::repeat_byte(3);
    lane.record(&report(c, Delivery::Announced, &[third]));
    lane.record(&report(d, Delivery::Full, &[third]));
    let seen = next(&mut queue).await;
    assert_eq!(
        (seen["kind"].clone(), seen["peer"]["id"].clone()),
        ("broadcast".into(), format!("{c:#x}").into())
    );
    assert!(seen["firstAnnounced"].is_string());
}

#[actix_rt::test]
async fn peers_racing_on_two_threads_offer_each_tx_once() {
    let (lane, mut queue, _table) = lane_with_subscriber();
    let lane = Arc::new(lane);
    // Fewer than the subscriber's 64 slots, so none is dropped.
    let hashes: Vec<B256> = (0u8..60).map(B256::repeat_byte).collect();
    let threads: Vec<_> = [0x11u8, 0x22]
        .into_iter()
        .map(|peer| {
            let (lane, hashes) = (lane.clone(), hashes.clone());
            std::thread::spawn(move || {
                for hash in hashes {
                    lane.record(&report(PeerId::repeat_byte(peer), Delivery::Full, &[hash]));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    let mut heard = std::collections::HashSet::new();
    for _ in 0..hashes.len() {
        let seen = next(&mut queue).await;
        assert!(heard.insert(seen["hash"].as_str().expect("hash").to_string()));
    }
    no_more(&mut queue);
}

/// The (subscription id, dropped for not reading) reports a hub would get.
type GoneReports = Arc<std::sync::Mutex<Vec<(Arc<str>, bool)>>>;

struct Gone(GoneReports);
impl Actor for Gone {
    type Context = Context<Self>;
}
impl Handler<SubscriberGone> for Gone {
    type Result = ();
    fn handle(&mut self, msg: SubscriberGone, _ctx: &mut Self::Context) {
        self.0.lock().expect("lock").push((msg.id, msg.full));
    }
}

#[actix_rt::test]
async fn a_subscriber_whose_connection_closed_is_reported_gone_once() {
    let (lane, queue, _table) = lane_with_subscriber();
    let gone = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hub = Gone(gone.clone()).start();
    lane.outlet.connect(
        hub.clone().recipient(),
        Hub(Arc::default()).start().recipient(),
    );
    drop(queue);
    for byte in 1u8..=3 {
        lane.record(&report(
            PeerId::repeat_byte(1),
            Delivery::Full,
            &[B256::repeat_byte(byte)],
        ));
    }
    // Anything sent before this query has been handled when it is answered.
    hub.send(Flush).await.expect("alive");
    assert_eq!(
        *gone.lock().expect("lock"),
        vec![(Arc::from("0x01"), false)]
    );
}

impl Handler<Flush> for Gone {
    type Result = ();
    fn handle(&mut self, _msg: Flush, _ctx: &mut Self::Context) {}
}

struct Hub(Arc<std::sync::Mutex<usize>>);
impl Actor for Hub {
    type Context = Context<Self>;
}
impl Handler<TxArrivals> for Hub {
    type Result = ();
    fn handle(&mut self, msg: TxArrivals, _ctx: &mut Self::Context) {
        *self.0.lock().expect("lock") += msg.0.len();
    }
}

#[actix_rt::test]
async fn the_observer_leaves_arrivals_the_lane_offered_to_it_and_tells_embedders() {
    use crate::feed::events::NodeEvent;
    let rig = observer_rig(ArrivalFilter::ALL).await;
    let (lane, observer, mut queue, hub, to_hub) =
        (rig.seen, rig.observer, rig.queue, rig.hub, rig.to_hub);
    let (events, embedder) = (rig.events, rig.embedder);
    // Through the lane: recorded and offered there; the observer must not send it again.
    let mut laned = report(
        PeerId::repeat_byte(1),
        Delivery::Full,
        &[B256::repeat_byte(7)],
    );
    laned.note = lane.record(&laned);
    observer.send(laned).await.expect("alive");
    // Without the lane (a report from elsewhere): the observer records and sends it.
    let plain = report(
        PeerId::repeat_byte(2),
        Delivery::Full,
        &[B256::repeat_byte(8)],
    );
    observer.send(plain).await.expect("alive");
    // Both were handled, so what they sent is queued ahead of these queries.
    hub.send(Flush).await.expect("alive");
    assert_eq!(
        *to_hub.lock().expect("lock"),
        1,
        "only the report without a lane"
    );
    assert_eq!(
        next(&mut queue).await["hash"],
        format!("{:#x}", B256::repeat_byte(7))
    );
    embedder.send(Flush).await.expect("alive");
    let seen = events
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| matches!(e, NodeEvent::TxArrival(a) if a.tier == ArrivalTier::Seen))
        .count();
    assert_eq!(seen, 2, "embedders hear both");
}

#[derive(Message)]
#[rtype(result = "()")]
struct Flush;
impl Handler<Flush> for Hub {
    type Result = ();
    fn handle(&mut self, _msg: Flush, _ctx: &mut Self::Context) {}
}

/// A connection writing its own notifications, with a settable backlog.
#[derive(Debug, Default)]
struct Writer {
    backlog: std::sync::atomic::AtomicUsize,
    written: std::sync::Mutex<Vec<String>>,
}

impl crate::feed::hub::NotificationWriter for Writer {
    fn write_note(&self, note: &crate::feed::hub::Notification) -> Result<(), Offer> {
        self.written.lock().expect("lock").push(note.to_json());
        Ok(())
    }
    fn backlog(&self) -> usize {
        self.backlog.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[actix_rt::test]
async fn the_lane_leaves_a_client_that_is_behind_and_too_many_subscribers_to_the_hub() {
    let demand = ArrivalDemand::default();
    demand.set(1);
    let outlet = Arc::new(ArrivalOutlet::default());
    let to_hub = Arc::new(std::sync::Mutex::new(0));
    let hub = Hub(to_hub.clone()).start();
    let gone = Gone(Arc::default()).start();
    outlet.connect(gone.recipient(), hub.clone().recipient());
    let lane = ArrivalLane::new(Arc::default(), demand, outlet.clone());
    let writers: Vec<Arc<Writer>> = (0..=MAX_LANE_SUBSCRIBERS).map(|_| Arc::default()).collect();
    let entry = |i: usize| OutletEntry {
        id: format!("0x{i:02x}").into(),
        sink: NotificationSink::writer(writers[i].clone()),
        counters: Arc::default(),
        filter: ArrivalFilter::ALL,
    };
    let offered = |hash: u8| {
        let note = lane
            .record(&report(
                PeerId::repeat_byte(1),
                Delivery::Full,
                &[B256::repeat_byte(hash)],
            ))
            .expect("a note");
        note.0.downcast_ref::<LaneRecord>().expect("record").offered
    };
    // One writer, nothing waiting: written here, on the reporting thread.
    outlet.set(vec![entry(0)]);
    assert!(offered(1));
    assert_eq!(writers[0].written.lock().expect("lock").len(), 1);
    // Its socket is behind: the hub takes this one.
    writers[0]
        .backlog
        .store(1, std::sync::atomic::Ordering::Relaxed);
    assert!(offered(2), "handed to the hub");
    writers[0]
        .backlog
        .store(0, std::sync::atomic::Ordering::Relaxed);
    // As many as the bound: all written here; one more: all left to the hub.
    outlet.set((0..MAX_LANE_SUBSCRIBERS).map(entry).collect());
    assert!(offered(3));
    outlet.set((0..=MAX_LANE_SUBSCRIBERS).map(entry).collect());
    assert!(offered(4), "handed to the hub");
    hub.send(Flush).await.expect("alive");
    assert_eq!(
        *to_hub.lock().expect("lock"),
        2,
        "the two the lane did not write"
    );
    let written: Vec<usize> = writers
        .iter()
        .map(|w| w.written.lock().expect("lock").len())
        .collect();
    let mut expected = vec![1; MAX_LANE_SUBSCRIBERS + 1];
    expected[0] = 2;
    expected[MAX_LANE_SUBSCRIBERS] = 0;
    assert_eq!(written, expected);
}

#[test]
fn a_tx_is_settled_from_the_table_though_its_report_never_reached_the_observer() {
    let table = SightingTable::default();
    let first = report(
        PeerId::repeat_byte(1),
        Delivery::Full,
        &[B256::repeat_byte(9)],
    );
    // Recorded by a lane; the report is then dropped (the observer's mailbox was full).
    table.record(&first, true, true);
    let at = first.at;
    assert!(table
        .due(at + crate::feed::sightings::SPREAD_WINDOW - Duration::from_millis(1))
        .is_empty());
    let due = table.due(at + crate::feed::sightings::SPREAD_WINDOW);
    assert_eq!(due, vec![B256::repeat_byte(9)]);
    assert!(
        table.due(at + Duration::from_secs(5)).is_empty(),
        "taken once"
    );
    // Nobody listening: nothing queued.
    let quiet = report(
        PeerId::repeat_byte(1),
        Delivery::Full,
        &[B256::repeat_byte(10)],
    );
    table.record(&quiet, false, true);
    assert!(table.due(quiet.at + Duration::from_secs(5)).is_empty());
}

#[test]
fn a_queue_that_takes_part_of_a_report_is_counted_for_what_it_took() {
    let (lane, _queue, _table) = lane_with_subscriber_buffer(2);
    let hashes: Vec<B256> = (1u8..=3).map(B256::repeat_byte).collect();
    lane.record(&report(PeerId::repeat_byte(1), Delivery::Full, &hashes));
    let metrics = &lane.outlet.metrics;
    let (delivered, dropped) = (
        metrics.delivered.load(std::sync::atomic::Ordering::Relaxed),
        metrics.dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert_eq!((delivered, dropped), (2, 1));
}

#[actix_rt::test]
async fn a_peer_introduced_before_its_first_message_is_named_in_its_first_arrival() {
    let (lane, mut queue, _table) = lane_with_subscriber();
    let (dialed, inbound) = (PeerId::repeat_byte(0x1d), PeerId::repeat_byte(0x1b));
    let addr: std::net::SocketAddr = "127.0.3.1:30303".parse().expect("addr");
    lane.introduce(dialed, "Geth/v1.17.10-stable", addr, true);
    lane.introduce(inbound, "reth/v1.9.0", addr, false);
    lane.record(&report(dialed, Delivery::Full, &[B256::repeat_byte(7)]));
    lane.record(&report(inbound, Delivery::Full, &[B256::repeat_byte(8)]));
    for (client, direction) in [
        ("Geth/v1.17.10-stable", "outbound"),
        ("reth/v1.9.0", "inbound"),
    ] {
        let seen = next(&mut queue).await;
        assert_eq!(seen["peer"]["client"], client, "{seen}");
        assert_eq!(seen["peer"]["address"], "127.0.3.1:30303");
        assert_eq!(seen["peer"]["direction"], direction);
    }
}

#[test]
fn an_introduced_peer_is_known_behind_its_tag_for_later_tiers() {
    let (lane, _queue, table) = lane_with_subscriber();
    let peer = PeerId::repeat_byte(0x5e);
    let tag = crate::feed::sightings::peer_tag(&peer);
    assert_eq!(table.cards.id_of(tag), None);
    lane.introduce(
        peer,
        "Nethermind/v1.30.0",
        "127.0.4.1:30303".parse().expect("addr"),
        true,
    );
    // `validated` and `settled` arrivals name their sources by tag: the id is there
    // before the registration event reaches the observer.
    assert_eq!(table.cards.id_of(tag), Some(peer));
    assert_eq!(
        table.cards.get(&peer).map(|card| card.client.clone()),
        Some("Nethermind/v1.30.0".to_string())
    );
}

/// One subscriber, an observer with an embedder and a hub, and the lane as the peers' and
/// as the pool's hook.
struct ObserverRig {
    observer: Addr<crate::feed::observe::PropagationObserver>,
    seen: ArrivalLane,
    admission: ArrivalLane,
    queue: NotificationQueue,
    to_hub: Arc<std::sync::Mutex<usize>>,
    hub: Addr<Hub>,
    events: Arc<std::sync::Mutex<Vec<crate::feed::events::NodeEvent>>>,
    embedder: Addr<Embedder>,
}

struct Embedder(Arc<std::sync::Mutex<Vec<crate::feed::events::NodeEvent>>>);
impl Actor for Embedder {
    type Context = Context<Self>;
}
impl Handler<crate::feed::events::NodeEvent> for Embedder {
    type Result = ();
    fn handle(&mut self, msg: crate::feed::events::NodeEvent, _ctx: &mut Self::Context) {
        self.0.lock().expect("lock").push(msg);
    }
}
impl Handler<Flush> for Embedder {
    type Result = ();
    fn handle(&mut self, _msg: Flush, _ctx: &mut Self::Context) {}
}

async fn observer_rig(filter: ArrivalFilter) -> ObserverRig {
    use crate::feed::events::SubscribeEvents;
    use crate::feed::observe::{ConnectArrivals, PropagationObserver};
    let observer = PropagationObserver::new(None);
    observer.arrival_demand().set(1);
    let outlet = Arc::new(ArrivalOutlet::default());
    let (sink, queue) = notification_buffer(8);
    outlet.set(vec![OutletEntry {
        id: "0x01".into(),
        sink,
        counters: Arc::default(),
        filter,
    }]);
    let (seen, admission) = (observer.lane(outlet.clone()), observer.lane(outlet));
    let observer = observer.start();
    let to_hub = Arc::new(std::sync::Mutex::new(0));
    let hub = Hub(to_hub.clone()).start();
    observer
        .send(ConnectArrivals(hub.clone().recipient()))
        .await
        .expect("alive");
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let embedder = Embedder(events.clone()).start();
    observer
        .send(SubscribeEvents(embedder.clone().recipient()))
        .await
        .expect("alive");
    ObserverRig {
        observer,
        seen,
        admission,
        queue,
        to_hub,
        hub,
        events,
        embedder,
    }
}

#[actix_rt::test]
async fn a_pooled_tx_is_offered_validated_with_its_tx_on_the_admitting_thread_once() {
    use crate::feed::events::NodeEvent;
    use crate::txs::pool::{AdmissionHook, NewTxs};
    // A subscriber of `validated` alone, with txs.
    let validated = ArrivalFilter {
        tiers: ArrivalTier::Validated.bit(),
        full: true,
    };
    let mut rig = observer_rig(validated).await;
    let (laned, plain) = (
        Arc::new(crate::testing::tx(crate::testing::sender(1), 0, 0)),
        Arc::new(crate::testing::tx(crate::testing::sender(2), 0, 0)),
    );
    for (n, tx) in [(1u8, &laned), (2, &plain)] {
        let mut delivered = report(PeerId::repeat_byte(n), Delivery::Full, &[tx.hash]);
        delivered.note = rig.seen.record(&delivered);
        rig.observer.send(delivered).await.expect("alive");
    }
    // The subscriber takes no `seen`: nothing was offered for the deliveries.
    no_more(&mut rig.queue);
    // Pooled with the lane: decided, rendered with the tx and written here.
    let note = rig.admission.admitted(std::slice::from_ref(&laned));
    let record = note.clone().expect("a note");
    let record = record.0.downcast_ref::<AdmissionRecord>().expect("record");
    assert_eq!(record.arrivals.len(), 1);
    let arrival = next(&mut rig.queue).await;
    assert_eq!(arrival["tier"], "validated");
    assert_eq!(arrival["hash"], format!("{:#x}", laned.hash));
    assert_eq!(arrival["verdict"], serde_json::json!({"accepted": true}));
    assert!(arrival["tx"].is_object(), "fullTx: the tx rides along");
    // The event with the note: the observer hands nothing more to the hub.
    let mut event = NewTxs::new(vec![laned.clone()].into());
    event.note = note;
    rig.observer.send(event).await.expect("alive");
    // Pooled without a hook (an event without a note): the observer decides and hands it on.
    rig.observer
        .send(NewTxs::new(vec![plain.clone()].into()))
        .await
        .expect("alive");
    // Admitted again (a second event for the same tx): nothing is offered twice.
    assert!(rig
        .admission
        .admitted(std::slice::from_ref(&laned))
        .is_none());
    rig.hub.send(Flush).await.expect("alive");
    assert_eq!(*rig.to_hub.lock().expect("lock"), 1, "only the plain one");
    no_more(&mut rig.queue);
    // Embedders hear both: each `validated` arrival and each TxSeen, once.
    rig.embedder.send(Flush).await.expect("alive");
    let events = rig.events.lock().expect("lock");
    let validated = events
        .iter()
        .filter(|e| matches!(e, NodeEvent::TxArrival(a) if a.tier == ArrivalTier::Validated))
        .count();
    let pooled = events
        .iter()
        .filter(|e| matches!(e, NodeEvent::TxSeen { .. }))
        .count();
    assert_eq!((validated, pooled), (2, 2));
}

#[actix_rt::test]
async fn a_validated_arrival_is_written_by_the_pools_lane_only_after_its_seen_was() {
    let demand = ArrivalDemand::default();
    demand.set(1);
    let table: Arc<SightingTable> = Arc::default();
    let outlet = Arc::new(ArrivalOutlet::default());
    let to_hub = Arc::new(std::sync::Mutex::new(0));
    let hub = Hub(to_hub.clone()).start();
    outlet.connect(
        Gone(Arc::default()).start().recipient(),
        hub.clone().recipient(),
    );
    let writer: Arc<Writer> = Arc::default();
    outlet.set(vec![OutletEntry {
        id: "0x01".into(),
        sink: NotificationSink::writer(writer.clone()),
        counters: Arc::default(),
        filter: ArrivalFilter::ALL,
    }]);
    let lane = ArrivalLane::new(table.clone(), demand, outlet.clone());
    let (first, second) = (
        Arc::new(crate::testing::tx(crate::testing::sender(1), 0, 0)),
        Arc::new(crate::testing::tx(crate::testing::sender(2), 0, 0)),
    );
    // The client is behind when `first` is decoded: its `seen` goes to the hub.
    writer
        .backlog
        .store(1, std::sync::atomic::Ordering::Relaxed);
    lane.record(&report(
        PeerId::repeat_byte(1),
        Delivery::Full,
        &[first.hash],
    ));
    writer
        .backlog
        .store(0, std::sync::atomic::Ordering::Relaxed);
    lane.record(&report(
        PeerId::repeat_byte(1),
        Delivery::Full,
        &[second.hash],
    ));
    assert_eq!(
        writer.written.lock().expect("lock").len(),
        1,
        "second's seen"
    );
    hub.send(Flush).await.expect("alive");
    assert_eq!(*to_hub.lock().expect("lock"), 1, "first's seen");
    // Caught up, but `first`'s `seen` went the hub's way: its `validated` is left to the
    // observer, which sends it the same way, behind it.
    let laned = |tx: &Arc<crate::txs::pool::PoolTx>| {
        crate::txs::pool::AdmissionHook::admitted(&lane, std::slice::from_ref(tx)).map_or(
            0,
            |note| {
                note.0
                    .downcast_ref::<AdmissionRecord>()
                    .expect("record")
                    .arrivals
                    .len()
            },
        )
    };
    assert_eq!(laned(&first), 0);
    assert_eq!(writer.written.lock().expect("lock").len(), 1);
    assert_eq!(table.admit(std::slice::from_ref(&first), false).len(), 1);
    // `second`'s `seen` was written here: its `validated` is written here too.
    assert_eq!(laned(&second), 1);
    let written = writer.written.lock().expect("lock").clone();
    assert_eq!(written.len(), 2);
    assert!(written[1].contains("\"validated\""), "{}", written[1]);
}

#[actix_rt::test]
async fn a_batch_too_big_to_write_whole_is_left_to_the_hub() {
    use crate::txs::pool::{AdmissionHook, NewTxs};
    let validated = ArrivalFilter {
        tiers: ArrivalTier::Validated.bit(),
        full: true,
    };
    let mut rig = observer_rig(validated).await;
    let big = Arc::new(crate::testing::tx(
        crate::testing::sender(1),
        0,
        MAX_LANE_BATCH_BYTES,
    ));
    let mut delivered = report(PeerId::repeat_byte(1), Delivery::Full, &[big.hash]);
    delivered.note = rig.seen.record(&delivered);
    rig.observer.send(delivered).await.expect("alive");
    assert!(rig.admission.admitted(std::slice::from_ref(&big)).is_none());
    no_more(&mut rig.queue);
    rig.observer
        .send(NewTxs::new(vec![big].into()))
        .await
        .expect("alive");
    rig.hub.send(Flush).await.expect("alive");
    assert_eq!(
        *rig.to_hub.lock().expect("lock"),
        1,
        "offered one by one there"
    );
}
