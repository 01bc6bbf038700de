//! Tests of the [`super::SubscriptionHub`]: buffers, limits, drops, logs.

use super::*;
use crate::testing::{legacy_tx, sender};

#[actix_rt::test]
async fn a_subscriber_that_stops_reading_loses_notifications_and_others_do_not() {
    let hub = SubscriptionHub::default();
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
                per_connection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
                filter: None,
                arrivals: None,
            })
            .await
            .unwrap();
        assert!(id.is_ok_and(|id| id.len() == 34));
    }
    let txs: Vec<_> = (0..5).map(|n| Arc::new(legacy_tx(sender(1), n))).collect();
    hub.send(NewTxs::new(txs.clone().into())).await.unwrap();
    // The fast reader got all five, in order; the slow one's buffer held two.
    for tx in &txs {
        let note = fast.recv().await.unwrap().to_json();
        let note: serde_json::Value = serde_json::from_str(&note).unwrap();
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
    let hub = SubscriptionHub::new(MAX_SUBSCRIPTIONS_PER_CONNECTION + 1).start();
    let (sink, _rx) = notification_buffer(1);
    let subscribe = |connection| Subscribe {
        connection,
        kind: SubscriptionKind::NewHeads,
        sink: sink.clone(),
        per_connection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
        filter: None,
        arrivals: None,
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
    assert_eq!(
        hub.send(subscribe(1)).await.unwrap(),
        Err(SubscribeRefused::PerConnection {
            limit: MAX_SUBSCRIPTIONS_PER_CONNECTION
        })
    );
    assert!(
        hub.send(subscribe(2)).await.unwrap().is_ok(),
        "per connection"
    );
    // The node-wide cap (here one above one connection's) holds across connections.
    assert_eq!(
        hub.send(subscribe(3)).await.unwrap(),
        Err(SubscribeRefused::Total {
            limit: MAX_SUBSCRIPTIONS_PER_CONNECTION + 1
        })
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
    assert!(hub.send(subscribe(1)).await.unwrap().is_ok());
}

/// A subscriber that read nothing while a whole buffer's worth more was offered is
/// dropped; a subscriber that reads keeps its subscription.
#[actix_rt::test]
async fn a_subscriber_that_stays_full_is_dropped() {
    let hub = SubscriptionHub::default();
    let metrics = hub.metrics();
    let hub = hub.start();
    let (stuck_sink, _stuck) = notification_buffer(1);
    let (reader_sink, mut reader) = notification_buffer(SUBSCRIBER_BUFFER);
    for (connection, sink) in [(1, stuck_sink), (2, reader_sink)] {
        hub.send(Subscribe {
            connection,
            kind: SubscriptionKind::PendingHashes,
            sink,
            per_connection: 1,
            filter: None,
            arrivals: None,
        })
        .await
        .unwrap()
        .unwrap();
    }
    let batch = |from: u64| NewTxs {
        note: None,
        txs: (from..from + 512)
            .map(|n| Arc::new(legacy_tx(sender(1), n)))
            .collect::<Vec<_>>()
            .into(),
    };
    let rounds = MAX_MISSED_IN_A_ROW / 512 + 1;
    for round in 0..rounds {
        hub.send(batch(round * 512)).await.unwrap();
        while reader.rx.try_recv().is_ok() {}
    }
    assert_eq!(metrics.subscribers_dropped.load(Ordering::Relaxed), 1);
    // The stuck one is gone: it may subscribe again (its connection holds none).
    let (again, _rx) = notification_buffer(1);
    let resubscribed = hub
        .send(Subscribe {
            connection: 1,
            kind: SubscriptionKind::PendingHashes,
            sink: again,
            per_connection: 1,
            filter: None,
            arrivals: None,
        })
        .await
        .unwrap();
    assert!(resubscribed.is_ok());
}

/// A `logs` subscriber gets a new head's matching log with `removed: false`, and the
/// same log with `removed: true` when a reorg drops that head; other logs and other
/// filters stay quiet.
#[actix_rt::test]
async fn logs_arrive_with_new_heads_and_again_as_removed_on_a_reorg() {
    use crate::blocks::follow::{HeadLog, NewHead, RemovedHeads};
    let hub = SubscriptionHub::default().start();
    let (sink, mut rx) = notification_buffer(16);
    let topic = alloy_primitives::B256::repeat_byte(7);
    let filter = crate::feed::logs::LogFilter {
        addresses: Vec::new(),
        topics: vec![vec![topic]],
    };
    let id = hub
        .send(Subscribe {
            connection: 1,
            kind: SubscriptionKind::Logs,
            sink,
            per_connection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
            filter: Some(filter),
            arrivals: None,
        })
        .await
        .unwrap()
        .unwrap();
    let log = |topic| HeadLog {
        log: alloy_primitives::Log::new_unchecked(
            alloy_primitives::Address::repeat_byte(1),
            vec![topic],
            Default::default(),
        ),
        tx_hash: alloy_primitives::B256::repeat_byte(2),
        tx_index: 0,
        log_index: 0,
    };
    let head = NewHead {
        hash: alloy_primitives::B256::repeat_byte(3),
        header: alloy_consensus::Header {
            number: 9,
            ..Default::default()
        },
        logs: vec![log(topic), log(alloy_primitives::B256::repeat_byte(8))].into(),
    };
    hub.send(NewHeads(vec![head.clone()])).await.unwrap();
    hub.send(RemovedHeads(vec![head])).await.unwrap();
    for removed in [false, true] {
        let note: serde_json::Value =
            serde_json::from_str(&rx.recv().await.unwrap().to_json()).unwrap();
        assert_eq!(note["params"]["subscription"], serde_json::json!(id));
        assert_eq!(
            note["params"]["result"]["topics"],
            serde_json::json!([topic])
        );
        assert_eq!(
            note["params"]["result"]["removed"],
            serde_json::json!(removed)
        );
        assert_eq!(
            note["params"]["result"]["blockNumber"],
            serde_json::json!("0x9")
        );
    }
    assert!(
        rx.rx.try_recv().is_err(),
        "the other topic's log was filtered out"
    );
}
