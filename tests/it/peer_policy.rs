//! Who may be a peer at all: geth's `--netrestrict` (addresses outside the networks are
//! refused before the handshake and never dialed) and reth's `--trusted-only`. Each node
//! listens on its own loopback address, as distinct hosts would.

use std::sync::atomic::Ordering;

use ethpeer_actors::node::manager::{GetManagerStats, PeerPolicy};
use ethpeer_actors::node::{Node, NodeBuilder};

use crate::common::poll::eventually;
use crate::discovery::peers;

async fn node_at(ip: &str, policy: PeerPolicy, trusted: &[&Node]) -> Node {
    let mut builder = NodeBuilder::dev().listen(format!("{ip}:0").parse().expect("addr"));
    builder.config_mut().peer_policy = policy;
    for node in trusted {
        builder = builder.trusted_peer(node.enode());
    }
    builder.start().await.expect("node starts")
}

#[actix_rt::test]
async fn netrestrict_admits_only_its_networks() {
    let policy = PeerPolicy {
        netrestrict: PeerPolicy::parse_netrestrict("127.0.12.0/24").expect("list"),
        trusted_only: false,
    };
    let a = node_at("127.0.11.1", policy, &[]).await;
    let inside = node_at("127.0.12.1", PeerPolicy::default(), &[]).await;
    let outside = node_at("127.0.13.1", PeerPolicy::default(), &[]).await;
    // Outbound connections leave from 127.0.0.1 whatever the listening address, so the
    // outsider's dial comes from outside 127.0.12.0/24 and a's own dial goes inside it.
    outside.add_peer(a.enode()).await;
    eventually("the outsider was refused before its handshake", || async {
        a.internals().listener.refused_gate.load(Ordering::Relaxed) >= 1
    })
    .await;
    assert_eq!(peers(&outside).await.len(), 0);
    // a dials inside its networks; a static peer outside them is never even tried.
    a.add_peer(outside.enode()).await;
    a.add_peer(inside.enode()).await;
    eventually("the node inside the network is a peer", || async {
        peers(&a).await.len() == 1 && peers(&inside).await.len() == 1
    })
    .await;
    let ids: Vec<_> = peers(&a).await.iter().map(|p| p.session.enode.id).collect();
    assert_eq!(ids, [inside.enode().id]);
    let stats = a
        .internals()
        .manager
        .send(GetManagerStats)
        .await
        .expect("stats");
    assert_eq!(stats.dials, 1, "one dial, to the node inside");
    for node in [&a, &inside, &outside] {
        node.shutdown(std::time::Duration::from_secs(2)).await;
    }
}

#[actix_rt::test]
async fn trusted_only_admits_trusted_peers_only() {
    let friend = node_at("127.0.14.1", PeerPolicy::default(), &[]).await;
    let stranger = node_at("127.0.15.1", PeerPolicy::default(), &[]).await;
    let policy = PeerPolicy {
        netrestrict: Vec::new(),
        trusted_only: true,
    };
    let a = node_at("127.0.16.1", policy, &[&friend]).await;
    stranger.add_peer(a.enode()).await;
    eventually("a refused the stranger at admission", || async {
        let stats = a
            .internals()
            .manager
            .send(GetManagerStats)
            .await
            .expect("stats");
        stats.refused.values().sum::<u64>() >= 1
    })
    .await;
    // The trusted friend is dialed by a itself.
    eventually("the trusted friend is a peer", || async {
        peers(&a).await.len() == 1
    })
    .await;
    let ids: Vec<_> = peers(&a).await.iter().map(|p| p.session.enode.id).collect();
    assert_eq!(ids, [friend.enode().id]);
    for node in [&a, &friend, &stranger] {
        node.shutdown(std::time::Duration::from_secs(2)).await;
    }
}

/// The embedding API's peer handles: a peer found by id disconnects (a static one comes
/// back), a ban keeps it out until it ends; the event stream reports each step with the
/// peer's client and capabilities, and discovery's candidates as `NodeFound`.
#[actix_rt::test]
async fn peer_handles_disconnect_and_ban_and_events_report_them() {
    use ethpeer_actors::node::NodeEvent;
    let a = node_at("127.0.17.1", PeerPolicy::default(), &[]).await;
    let b = node_at("127.0.18.1", PeerPolicy::default(), &[]).await;
    let mut events = a.events(256);
    a.add_peer(b.enode()).await;
    let caps = loop {
        if let Some(NodeEvent::PeerConnected { id, caps, .. }) = events.next().await {
            assert_eq!(id, b.node_id());
            break caps;
        }
    };
    assert!(caps.iter().any(|c| c.starts_with("eth/")), "{caps:?}");
    let peer = a.peer(b.node_id()).await.expect("b is a peer");
    assert_eq!(peer.info().caps, caps);
    assert!(peer.info().is_static);
    // Disconnected, and redialed as the static peer it is.
    assert!(peer.disconnect().await);
    let mut seen = (false, false);
    while seen != (true, true) {
        match events.next().await.expect("events") {
            NodeEvent::PeerDisconnected { id, .. } if id == b.node_id() => seen.0 = true,
            NodeEvent::PeerConnected { id, .. } if id == b.node_id() && seen.0 => seen.1 = true,
            _ => {}
        }
    }
    // Banned: out now and not back while the ban lasts, though a keeps it static.
    assert!(
        a.ban(b.node_id(), std::time::Duration::from_secs(3600))
            .await
    );
    eventually("the banned peer left", || async {
        a.peers().await.is_empty()
    })
    .await;
    b.add_peer(a.enode()).await;
    eventually("b's dial was refused at admission", || async {
        let stats = a
            .internals()
            .manager
            .send(GetManagerStats)
            .await
            .expect("stats");
        stats.refused.values().sum::<u64>() >= 1
    })
    .await;
    assert!(a.peers().await.is_empty());
    assert_eq!(events.dropped(), 0);
    for node in [&a, &b] {
        node.shutdown(std::time::Duration::from_secs(2)).await;
    }
}
