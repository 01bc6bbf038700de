//! The peer actor alone on an in-memory connection: write order, one write in flight,
//! disconnect, write errors.

use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::U256;
use futures::StreamExt;

use super::*;
use crate::eth::{EthBlock, EthMessage, EthMessageId, EthVersion};
use crate::p2p::DisconnectReason;
use crate::testing::{next_eth, peer_id, pool, sender, spawn_peer, tx};

/// Records what a peer actor reports when it stops.
struct StopRecorder(futures::channel::mpsc::UnboundedSender<PeerStopped>);

impl Actor for StopRecorder {
    type Context = Context<Self>;
}

impl Handler<PeerStopped> for StopRecorder {
    type Result = ();

    fn handle(&mut self, msg: PeerStopped, _: &mut Self::Context) {
        let _ = self.0.unbounded_send(msg);
    }
}

#[actix_rt::test]
async fn a_block_queued_behind_a_flood_of_transactions_is_written_next() {
    let (mem, pool) = pool();
    let txs: Vec<_> = (0..4000).map(|n| tx(sender(1), n, 200)).collect();
    let hashes = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    // No buffer: each write completes only when the test reads it.
    let (peer, mut rx) = spawn_peer(1, EthVersion::Eth68, pool, 0);
    peer.txs.try_send(QueueTxs(hashes)).expect("queued");
    peer.props
        .try_send(QueueProp {
            block: Arc::new(EthBlock::default()),
            td: U256::from(1),
        })
        .expect("queued");
    // The first tx message was already in flight when the block arrived; the block is next.
    assert_eq!(
        next_eth(&mut rx).await.map(|m| m.message_id()),
        Some(EthMessageId::Transactions)
    );
    assert_eq!(
        next_eth(&mut rx).await.map(|m| m.message_id()),
        Some(EthMessageId::NewBlock)
    );
    let mut txs_received = 0;
    while let Some(EthMessage::Transactions(batch)) = next_eth(&mut rx).await {
        txs_received += batch.0.len();
        if PeerMetrics::get(&peer.metrics.queued_txs) == 0 && txs_received > 3000 {
            break;
        }
    }
    assert!(txs_received > 3000, "{txs_received}");
}

#[actix_rt::test]
async fn only_one_write_is_in_flight() {
    let (mem, pool) = pool();
    let txs: Vec<_> = (0..3).map(|n| tx(sender(2), n, 100_000)).collect();
    let hashes = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    // Each 100 KB tx fills a message by itself. The in-memory channel holds one message
    // (futures' mpsc keeps a slot per sender even at capacity 0); nobody reads it yet.
    let (peer, mut rx) = spawn_peer(2, EthVersion::Eth68, pool, 0);
    peer.txs.try_send(QueueTxs(hashes)).expect("queued");
    // Let the actor process the command (a round trip through its mailbox).
    peer.tx_anns.send(QueueTxAnns(vec![])).await.expect("alive");
    // One message sits in the channel, one write is in flight, the third waits its turn.
    assert_eq!(PeerMetrics::get(&peer.metrics.sent_txs), 2);
    assert_eq!(PeerMetrics::get(&peer.metrics.queued_txs), 1);
    // Reading one message completes the in-flight write, which lets the third be packed.
    assert!(next_eth(&mut rx).await.is_some());
    peer.tx_anns.send(QueueTxAnns(vec![])).await.expect("alive");
    assert_eq!(PeerMetrics::get(&peer.metrics.sent_txs), 3);
    assert_eq!(PeerMetrics::get(&peer.metrics.queued_txs), 0);
}

#[actix_rt::test]
async fn disconnect_writes_the_reason_and_reports_the_stop() {
    let (_, pool) = pool();
    let (stops_tx, mut stops) = futures::channel::mpsc::unbounded();
    let recorder = StopRecorder(stops_tx).start();
    let (sink, mut rx) = memory_connection(4);
    let peer = PeerActor::new(peer_id(3), EthVersion::Eth69, pool, sink)
        .on_stop(recorder.recipient())
        .spawn();
    peer.disconnect
        .try_send(Disconnect {
            reason: DisconnectReason::UselessPeer,
        })
        .expect("sent");
    assert_eq!(
        rx.next().await,
        Some(Outbound::Disconnect(DisconnectReason::UselessPeer))
    );
    assert_eq!(
        rx.next().await,
        None,
        "connection closed after the disconnect"
    );
    let stopped = stops.next().await.expect("stop reported");
    assert_eq!(stopped.id, peer_id(3));
    assert_eq!(
        stopped.reason,
        StopReason::Disconnected(DisconnectReason::UselessPeer)
    );
}

#[actix_rt::test]
async fn a_write_error_stops_the_actor() {
    let (mem, pool) = pool();
    let t = tx(sender(4), 0, 0);
    let hash = t.hash;
    mem.insert([t]);
    let (stops_tx, mut stops) = futures::channel::mpsc::unbounded();
    let recorder = StopRecorder(stops_tx).start();
    let (sink, rx) = memory_connection(4);
    drop(rx); // the remote is gone: the next write fails
    let peer = PeerActor::new(peer_id(4), EthVersion::Eth68, pool, sink)
        .on_stop(recorder.recipient())
        .spawn();
    peer.txs.try_send(QueueTxs(vec![hash])).expect("queued");
    let stopped = stops.next().await.expect("stop reported");
    assert!(
        matches!(stopped.reason, StopReason::WriteFailed(_)),
        "{:?}",
        stopped.reason
    );
    assert!(!peer.txs.connected(), "actor gone");
}

#[actix_rt::test]
async fn eth69_peers_ignore_block_broadcasts() {
    let (_, pool) = pool();
    let (peer, mut rx) = spawn_peer(5, EthVersion::Eth69, pool, 4);
    peer.props
        .try_send(QueueProp {
            block: Arc::new(EthBlock::default()),
            td: U256::from(1),
        })
        .expect("sent");
    peer.block_anns
        .try_send(QueueAnn {
            hash: Default::default(),
            number: 1,
        })
        .expect("sent");
    peer.disconnect
        .try_send(Disconnect {
            reason: DisconnectReason::DisconnectRequested,
        })
        .expect("sent");
    assert_eq!(
        rx.next().await,
        Some(Outbound::Disconnect(DisconnectReason::DisconnectRequested))
    );
}

#[actix_rt::test]
async fn a_write_that_never_completes_times_out_and_stops_the_peer() {
    let (mem, pool) = pool();
    let t = tx(sender(6), 0, 0);
    let hash = t.hash;
    mem.insert([t]);
    let (stops_tx, mut stops) = futures::channel::mpsc::unbounded();
    let recorder = StopRecorder(stops_tx).start();
    // Capacity 0 and never read: the second write can never complete.
    let (sink, _rx) = memory_connection(0);
    let peer = PeerActor::new(peer_id(6), EthVersion::Eth68, pool, sink)
        .write_timeout(std::time::Duration::from_millis(50))
        .on_stop(recorder.recipient())
        .spawn();
    peer.txs.try_send(QueueTxs(vec![hash])).expect("queued");
    peer.block_anns
        .try_send(QueueAnn {
            hash: Default::default(),
            number: 1,
        })
        .expect("queued");
    let stopped = stops.next().await.expect("stop reported");
    assert_eq!(
        stopped.reason,
        StopReason::WriteFailed("write timed out after 50ms".into())
    );
}
