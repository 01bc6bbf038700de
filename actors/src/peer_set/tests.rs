//! The peer set alone: registration errors, close, lookups and marks, best peer, events.

use actix::prelude::*;
use alloy_primitives::{B256, U256};
use futures::StreamExt;

use super::*;
use crate::eth::EthVersion;
use crate::p2p::DisconnectReason;
use crate::peer::{Outbound, PeerHandle};
use crate::testing::{peer_id, pool, spawn_peer};

fn td_head(td: u64) -> PeerHead {
    PeerHead::TotalDifficulty {
        td: U256::from(td),
        best_hash: B256::repeat_byte(1),
    }
}

fn range_head(latest: u64) -> PeerHead {
    PeerHead::Range {
        earliest: 0,
        latest,
        latest_hash: B256::repeat_byte(2),
    }
}

async fn register(
    set: &Addr<PeerSetActor>,
    peer: &PeerHandle,
    head: PeerHead,
) -> Result<(), RegisterError> {
    set.send(Register {
        peer: peer.clone(),
        head,
    })
    .await
    .expect("peer set alive")
}

#[actix_rt::test]
async fn registering_twice_is_already_registered() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (peer, _rx) = spawn_peer(1, EthVersion::Eth68, pool, 4);
    assert_eq!(register(&set, &peer, td_head(1)).await, Ok(()));
    assert_eq!(
        register(&set, &peer, td_head(1)).await,
        Err(RegisterError::AlreadyRegistered)
    );
    assert_eq!(
        RegisterError::AlreadyRegistered.disconnect_reason(),
        DisconnectReason::AlreadyConnected
    );
    assert_eq!(set.send(Len).await.expect("alive"), 1);
    assert!(set.send(Unregister { id: peer.id }).await.expect("alive"));
    assert!(!set.send(Unregister { id: peer.id }).await.expect("alive"));
    assert_eq!(set.send(Len).await.expect("alive"), 0);
}

#[actix_rt::test]
async fn close_disconnects_everyone_with_client_quitting_and_refuses_registrations() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let mut receivers = Vec::new();
    for n in 1..=3 {
        let (peer, rx) = spawn_peer(n, EthVersion::Eth68, pool.clone(), 4);
        let peer = PeerHandle { ..peer };
        register(&set, &peer, td_head(1)).await.expect("registered");
        receivers.push(rx);
    }
    set.send(Close).await.expect("alive");
    for rx in &mut receivers {
        assert_eq!(
            rx.next().await,
            Some(Outbound::Disconnect(DisconnectReason::ClientQuitting))
        );
    }
    let (late, _rx) = spawn_peer(9, EthVersion::Eth68, pool, 4);
    assert_eq!(
        register(&set, &late, td_head(1)).await,
        Err(RegisterError::Closed)
    );
}

#[actix_rt::test]
async fn a_stopped_peer_is_unregistered_and_subscribers_hear_both_events() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (events_tx, mut events) = futures::channel::mpsc::unbounded();
    set.send(SubscribePeerEvents(
        EventSink(events_tx).start().recipient(),
    ))
    .await
    .expect("alive");
    let (sink, _rx) = crate::peer::memory_connection(4);
    let peer = crate::peer::PeerActor::new(peer_id(4), EthVersion::Eth69, pool, sink)
        .on_stop(set.clone().recipient())
        .spawn();
    register(&set, &peer, range_head(10))
        .await
        .expect("registered");
    assert!(matches!(events.next().await, Some(PeerEvent::Registered(p)) if p.id == peer_id(4)));
    peer.disconnect
        .try_send(crate::peer::Disconnect {
            reason: DisconnectReason::UselessPeer,
        })
        .expect("sent");
    match events.next().await {
        Some(PeerEvent::Unregistered { id, reason }) => {
            assert_eq!(id, peer_id(4));
            assert_eq!(
                reason,
                Some(crate::peer::StopReason::Disconnected(
                    DisconnectReason::UselessPeer
                ))
            );
        }
        other => panic!("expected unregistration, got {other:?}"),
    }
    assert_eq!(set.send(Len).await.expect("alive"), 0);
}

struct EventSink(futures::channel::mpsc::UnboundedSender<PeerEvent>);
impl Actor for EventSink {
    type Context = Context<Self>;
}
impl Handler<PeerEvent> for EventSink {
    type Result = ();
    fn handle(&mut self, msg: PeerEvent, _: &mut Self::Context) {
        let _ = self.0.unbounded_send(msg);
    }
}

#[actix_rt::test]
async fn lookups_return_peers_lacking_a_tx_and_marking_removes_them() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let mut peers = Vec::new();
    for n in 1..=3 {
        let (peer, rx) = spawn_peer(n, EthVersion::Eth68, pool.clone(), 4);
        register(&set, &peer, td_head(1)).await.expect("registered");
        peers.push((peer, rx));
    }
    let (a, b) = (B256::repeat_byte(0xa), B256::repeat_byte(0xb));
    set.send(MarkTxs {
        peer: peer_id(2),
        hashes: vec![a],
        ticket: None,
    })
    .await
    .expect("alive");
    let answer = set
        .send(PeersWithoutTx {
            hashes: vec![a, b],
            mark: false,
        })
        .await
        .expect("alive");
    let ids = |idx: &Vec<u32>| {
        idx.iter()
            .map(|i| answer.peers[*i as usize].id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&answer.lacking[0]), vec![peer_id(1), peer_id(3)]);
    assert_eq!(
        ids(&answer.lacking[1]),
        vec![peer_id(1), peer_id(2), peer_id(3)]
    );
    // With mark, the answer is given once: a second query finds nobody lacking them.
    let first = set
        .send(PeersWithoutTx {
            hashes: vec![a, b],
            mark: true,
        })
        .await
        .expect("alive");
    assert_eq!(first.lacking.iter().map(Vec::len).sum::<usize>(), 5);
    let second = set
        .send(PeersWithoutTx {
            hashes: vec![a, b],
            mark: true,
        })
        .await
        .expect("alive");
    assert!(second.lacking.iter().all(Vec::is_empty));
    // One peer's view.
    let c = B256::repeat_byte(0xc);
    let unknown = set
        .send(FilterUnknownTxs {
            peer: peer_id(1),
            hashes: vec![a, c],
        })
        .await
        .expect("alive");
    assert_eq!(unknown, vec![c]);
    // Blocks, filtered by version.
    let block = B256::repeat_byte(0xd);
    set.send(MarkBlock {
        peer: peer_id(3),
        hash: block,
    })
    .await
    .expect("alive");
    let lacking = set
        .send(PeersWithoutBlock {
            hash: block,
            max_version: Some(EthVersion::Eth68),
            mark: true,
        })
        .await
        .expect("alive");
    assert_eq!(
        lacking.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![peer_id(1), peer_id(2)]
    );
}

#[actix_rt::test]
async fn known_tx_sets_are_bounded_lrus() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (peer, _rx) = spawn_peer(1, EthVersion::Eth68, pool, 4);
    register(&set, &peer, td_head(1)).await.expect("registered");
    let hashes: Vec<B256> = (0..MAX_KNOWN_TXS as u64 + 100)
        .map(|i| B256::from(U256::from(i)))
        .collect();
    set.send(MarkTxs {
        peer: peer.id,
        hashes: hashes.clone(),
        ticket: None,
    })
    .await
    .expect("alive");
    let peers = set.send(Peers).await.expect("alive");
    assert_eq!(peers[0].known_txs, MAX_KNOWN_TXS);
    // The newest are still known; the oldest 100 were evicted, so the peer counts as
    // lacking them again.
    let newest = hashes[hashes.len() - 1000..].to_vec();
    let unknown = set
        .send(FilterUnknownTxs {
            peer: peer.id,
            hashes: newest,
        })
        .await
        .expect("alive");
    assert!(
        unknown.is_empty(),
        "{} of the newest unknown",
        unknown.len()
    );
    let unknown = set
        .send(FilterUnknownTxs {
            peer: peer.id,
            hashes: hashes[..100].to_vec(),
        })
        .await
        .expect("alive");
    assert!(
        unknown == hashes[..100],
        "{} of the oldest unknown",
        unknown.len()
    );
}

#[actix_rt::test]
async fn best_peer_by_total_difficulty_and_by_latest_block() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let heads = [
        (1, EthVersion::Eth68, td_head(5)),
        (2, EthVersion::Eth68, td_head(9)),
        (3, EthVersion::Eth69, range_head(100)),
        (4, EthVersion::Eth70, range_head(120)),
    ];
    let mut keep = Vec::new();
    for (n, version, head) in heads {
        let (peer, rx) = spawn_peer(n, version, pool.clone(), 4);
        register(&set, &peer, head).await.expect("registered");
        keep.push(rx);
    }
    let best = set.send(BestPeer).await.expect("alive");
    assert_eq!(
        best,
        BestPeers {
            by_total_difficulty: Some(peer_id(2)),
            by_latest_block: Some(peer_id(4))
        }
    );
    set.send(UpdatePeerHead {
        peer: peer_id(3),
        head: range_head(130),
    })
    .await
    .expect("alive");
    let best = set.send(BestPeer).await.expect("alive");
    assert_eq!(best.by_latest_block, Some(peer_id(3)));
}

#[actix_rt::test]
async fn registrations_beyond_the_peer_limit_are_too_many_peers() {
    let (_, pool) = pool();
    let set = PeerSetActor::new().with_max_peers(2).start();
    let mut keep = Vec::new();
    for n in 1..=3 {
        let (peer, rx) = spawn_peer(n, EthVersion::Eth68, pool.clone(), 4);
        let result = register(&set, &peer, td_head(1)).await;
        if n <= 2 {
            assert_eq!(result, Ok(()));
        } else {
            assert_eq!(result, Err(RegisterError::TooManyPeers { limit: 2 }));
            assert_eq!(
                RegisterError::TooManyPeers { limit: 2 }.disconnect_reason(),
                DisconnectReason::TooManyPeers
            );
        }
        keep.push(rx);
    }
}
