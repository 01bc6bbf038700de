//! discv5 end to end, in one process over loopback: nodes running discv5 alone
//! (`--discovery.v4=false`) that know one bootnode's record find each other and peer; a
//! node of another chain is found by the bootnode but never dialed.

use std::time::Duration;

use ethpeer_actors::discovery::enr::Record;
use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::node::manager::{GetManagerStats, PeerSource};

use crate::discovery::{found_by, wait_fully_peered};
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

fn record(node: &Node) -> Record {
    node.internals()
        .discovery
        .expect("discovery")
        .record()
        .clone()
}

#[actix_rt::test]
async fn three_nodes_find_and_peer_with_each_other_by_discv5_alone() {
    const NODES: usize = 3;
    let boot = start(NodeBuilder::dev(), vec![]).await;
    let discovery = boot.internals().discovery.expect("discovery");
    assert!(discovery.v4.is_none() && discovery.v5.is_some());
    let entry = record(&boot);
    let mut nodes = vec![boot];
    for _ in 1..NODES {
        nodes.push(start(NodeBuilder::dev(), vec![entry.clone()]).await);
    }
    // Same bootnode, another chain: its `eth` entry fails everyone's fork filter.
    let alien = start(NodeBuilder::network(Network::Sepolia), vec![entry]).await;

    let elapsed = wait_fully_peered(&nodes).await;
    eprintln!("{NODES} nodes fully peered through discv5 in {elapsed:?}");
    found_by(&nodes, &alien, PeerSource::Discv5).await;
    // The bootnode had a session with the alien and judged its record.
    let stats = nodes[0]
        .internals()
        .manager
        .send(GetManagerStats)
        .await
        .expect("stats");
    assert!(stats.candidates_incompatible >= 1, "{stats:?}");
    let v5 = nodes[0]
        .internals()
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
