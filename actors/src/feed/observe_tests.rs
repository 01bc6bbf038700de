//! The propagation observer's tests: reports, first sightings, arrivals and inclusions.
use super::*;
use crate::feed::arrivals::ArrivalKind;
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
    let observer = PropagationObserver::new(Some(std::fs::File::create(&path).unwrap())).start();
    let events = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let collector = Collect(events.clone()).start();
    observer
        .send(SubscribeEvents(collector.clone().recipient()))
        .await
        .unwrap();
    let (a, b, c) = (
        PeerId::repeat_byte(0xaa),
        PeerId::repeat_byte(0xbb),
        PeerId::repeat_byte(0xcc),
    );
    let pooled = Arc::new(crate::testing::tx(crate::testing::sender(1), 0, 0));
    let tx = pooled.hash;
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let report = |peer, delivery, items: Vec<SeenItem>| Seen {
        peer,
        at,
        delivery,
        reply: false,
        items,
        note: None,
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
        .send(Seen {
            // b's copy answers our request: the tx was fetched.
            reply: true,
            ..report(b, Delivery::Full, vec![SeenItem::Tx(tx)])
        })
        .await
        .unwrap();
    // c only 2 s later: outside the spread window.
    observer
        .send(Seen {
            at: at + Duration::from_secs(2),
            ..report(c, Delivery::Announced, vec![SeenItem::Tx(tx)])
        })
        .await
        .unwrap();
    // The pool accepts it: TxSeen, with the first sighting (a's announcement).
    let pool_event = NewTxs::new(vec![pooled.clone()].into());
    observer.send(pool_event.clone()).await.unwrap();
    // Accepted again (e.g. after a reorg): not reported twice.
    observer.send(pool_event).await.unwrap();
    let block = SeenItem::Block {
        hash: B256::repeat_byte(2),
        number: 7,
    };
    observer
        .send(report(b, Delivery::Full, vec![block]))
        .await
        .unwrap();
    let included_at = at + Duration::from_secs(12);
    let included = BlockIncluded {
        block: alloy_eips::BlockNumHash::new(551, B256::repeat_byte(3)),
        txs: vec![B256::repeat_byte(9), tx],
        at: included_at,
        timestamp: 1_796_500_000,
    };
    observer.send(included.clone()).await.unwrap();
    // Reported once: a second inclusion of the same hash (a reorg) finds it forgotten.
    observer.send(included).await.unwrap();
    assert_eq!(observer.send(GetObserverStats).await.unwrap(), (4, 0));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["kind"], "tx");
    assert_eq!(lines[0]["delivery"], "announced");
    assert_eq!(lines[0]["peer"], format!("{a}"));
    assert_eq!(lines[0]["time_ms"], 1_700_000_000_123.0);
    assert_eq!(lines[1]["delivery"], "full");
    assert_eq!(lines[3]["kind"], "block");
    assert_eq!(lines[3]["number"], 7);
    // Wait until the collector has handled five events (TxSeen, BlockSeen, TxIncluded
    // and the seen and validated arrivals), then ask once more: another would be in
    // its mailbox by then. Only a settled arrival may come on top (the settle tick is
    // on the wall clock; the inclusion may have forgotten the tx before it).
    tokio::time::timeout(Duration::from_secs(5), async {
        while collector.send(Collected).await.unwrap() < 5 {}
    })
    .await
    .expect("five events within 5 s");
    collector.send(Collected).await.unwrap();
    let all = events.borrow();
    let (arrivals, events): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|e| matches!(e, NodeEvent::TxArrival(_)));
    assert_eq!(events.len(), 3, "{events:?}");
    let arrivals: Vec<&TxArrival> = arrivals
        .iter()
        .filter_map(|e| match e {
            NodeEvent::TxArrival(arrival) => Some(&**arrival),
            _ => None,
        })
        .collect();
    let tiers: Vec<ArrivalTier> = arrivals.iter().map(|a| a.tier).collect();
    assert!(
        tiers == [ArrivalTier::Seen, ArrivalTier::Validated]
            || tiers
                == [
                    ArrivalTier::Seen,
                    ArrivalTier::Validated,
                    ArrivalTier::Settled
                ],
        "{tiers:?}"
    );
    // a announced first, b delivered: fetched; c's announcement 2 s later not counted.
    let seen = arrivals[0];
    assert_eq!(
        (seen.hash, seen.peer, seen.kind),
        (tx, a, ArrivalKind::Fetched)
    );
    assert_eq!(
        (seen.first_announced, seen.first_delivered),
        (Some(at), Some(at))
    );
    assert_eq!((seen.announcers, seen.deliverers), (1, 1));
    assert_eq!(seen.verdict, None);
    let validated = arrivals[1];
    assert_eq!(validated.verdict, Some(Verdict::Accepted));
    assert_eq!(validated.tx.as_ref().map(|t| t.hash), Some(tx));
    assert_eq!(validated.tx_type, Some(pooled.tx_type));
    match &events[0] {
        NodeEvent::TxSeen {
            hash,
            tx: seen_tx,
            peer,
            delivery,
            first_seen,
        } => {
            assert_eq!((*hash, *peer, *delivery), (tx, a, Delivery::Announced));
            assert_eq!(*seen_tx, pooled);
            assert_eq!(*first_seen, at);
        }
        other => panic!("not TxSeen: {other:?}"),
    }
    assert!(matches!(events[1], NodeEvent::BlockSeen { number: 7, .. }));
    match &events[2] {
        NodeEvent::TxIncluded {
            hash,
            block,
            first_seen,
            included_at: when,
            peers_within_window,
            block_timestamp,
        } => {
            assert_eq!(*block_timestamp, 1_796_500_000);
            assert_eq!(*hash, tx);
            assert_eq!(
                *block,
                alloy_eips::BlockNumHash::new(551, B256::repeat_byte(3))
            );
            assert_eq!((*first_seen, *when), (at, included_at));
            // a and b within the second; c came 2 s later.
            assert_eq!(*peers_within_window, 2);
        }
        other => panic!("not TxIncluded: {other:?}"),
    }
}

/// An observer whose arrivals are wanted, a tx, and a report delivering it (recorded by a
/// peer's lane, so its `seen` is being written).
fn laned_delivery() -> (PropagationObserver, Arc<crate::txs::pool::PoolTx>, Seen) {
    let observer = PropagationObserver::new(None);
    observer.arrival_demand().set(1);
    let tx = Arc::new(crate::testing::tx(crate::testing::sender(1), 0, 0));
    let delivered = Seen {
        peer: PeerId::repeat_byte(1),
        at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_489_893),
        delivery: Delivery::Full,
        reply: false,
        items: vec![SeenItem::Tx(tx.hash)],
        note: None,
    };
    observer.table.record(&delivered, true, true);
    (observer, tx, delivered)
}

#[test]
fn settled_waits_while_a_lane_is_writing_an_earlier_tier() {
    let (mut observer, tx, delivered) = laned_delivery();
    let table = observer.table.clone();
    let settled = |table: &SightingTable| {
        let shard = table.shard(&tx.hash);
        shard.peek(&tx.hash).expect("sighted").tiers_sent & ArrivalTier::Settled.bit() != 0
    };
    let due = delivered.at + SPREAD_WINDOW;
    // A peer's lane built `seen` and has not written it yet.
    observer.settle(due);
    assert!(!settled(&table), "put back behind the seen");
    table.lane_done([tx.hash].iter(), ArrivalTier::Seen, true);
    // The pool's lane decided `validated` and has not written it yet.
    assert_eq!(table.admit(std::slice::from_ref(&tx), true).len(), 1);
    observer.settle(due + SETTLE_TICK);
    assert!(!settled(&table), "put back behind the validated");
    table.lane_done([tx.hash].iter(), ArrivalTier::Validated, true);
    observer.settle(due + 2 * SETTLE_TICK);
    assert!(settled(&table), "settled at the next tick");
}

#[test]
fn a_validated_decided_after_settled_is_left_to_the_observer() {
    let (mut observer, tx, delivered) = laned_delivery();
    let table = observer.table.clone();
    table.lane_done([tx.hash].iter(), ArrivalTier::Seen, true);
    observer.settle(delivered.at + SPREAD_WINDOW);
    // Pooled after its second: the lane leaves it, the observer sends it (behind settled,
    // as it always did).
    assert!(table.admit(std::slice::from_ref(&tx), true).is_empty());
    assert_eq!(table.admit(std::slice::from_ref(&tx), false).len(), 1);
}
