//! discv5 end to end, in one process over loopback: nodes running discv5 alone
//! (`--discovery.v4=false`) that know one bootnode's record find each other and peer; a
//! node of another chain is found by the bootnode but never dialed.

use std::time::Duration;

use ethpeer_actors::enr::Record;
use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::node::manager::{ConnectedPeer, ConnectedPeers, GetManagerStats, PeerSource};
use ethpeer_actors::node::{DiscoveryConfig, Node, NodeBuilder};

async fn start(builder: NodeBuilder, bootnodes: Vec<Record>) -> Node {
    builder
        .listen("127.0.0.1:0".parse().expect("addr"))
        .discovery(DiscoveryConfig {
            v5: true,
            v5_bootnodes: bootnodes,
            ..DiscoveryConfig::default()
        })
        .start()
        .await
        .expect("node starts")
}

async fn peers(node: &Node) -> Vec<ConnectedPeer> {
    node.manager.send(ConnectedPeers).await.expect("manager")
}

fn record(node: &Node) -> Record {
    node.discovery.as_ref().expect("discovery").record().clone()
}

#[actix_rt::test]
async fn three_nodes_find_and_peer_with_each_other_by_discv5_alone() {
    const NODES: usize = 3;
    let boot = start(NodeBuilder::dev(), vec![]).await;
    let discovery = boot.discovery.as_ref().expect("discovery");
    assert!(discovery.v4.is_none() && discovery.v5.is_some());
    let entry = record(&boot);
    let mut nodes = vec![boot];
    for _ in 1..NODES {
        nodes.push(start(NodeBuilder::dev(), vec![entry.clone()]).await);
    }
    // Same bootnode, another chain: its `eth` entry fails everyone's fork filter.
    let alien = start(NodeBuilder::network(Network::Sepolia), vec![entry]).await;

    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        let mut counts = Vec::new();
        for node in &nodes {
            counts.push(peers(node).await.len());
        }
        if counts.iter().all(|n| *n == NODES - 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "peers per node after 30 s: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{NODES} nodes fully peered through discv5 in {:?}",
        started.elapsed()
    );
    let mut by_discv5 = 0;
    for node in &nodes {
        for peer in peers(node).await {
            assert_ne!(
                peer.session.enode.id,
                alien.node_id(),
                "the alien was dialed"
            );
            assert!(
                matches!(peer.found, PeerSource::Discv5 | PeerSource::Inbound),
                "{:?}",
                peer.found
            );
            by_discv5 += usize::from(peer.found == PeerSource::Discv5);
        }
    }
    // Every connection was dialed by one side because discv5 found the other.
    assert_eq!(by_discv5, NODES * (NODES - 1) / 2);
    assert!(peers(&alien).await.is_empty());
    // The bootnode had a session with the alien and judged its record.
    let stats = nodes[0].manager.send(GetManagerStats).await.expect("stats");
    assert!(stats.candidates_incompatible >= 1, "{stats:?}");
    let v5 = nodes[0]
        .discovery
        .as_ref()
        .and_then(|d| d.v5.as_ref())
        .expect("discv5");
    // The bootnode's table holds the other nodes and the alien.
    assert!(v5.table_nodes() >= NODES, "{}", v5.table_nodes());
    for node in nodes.iter().chain([&alien]) {
        node.shutdown(Duration::from_secs(2)).await;
    }
}
