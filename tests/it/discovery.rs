//! Discovery end to end, in one process over loopback: nodes that only know one bootnode
//! find each other through discv4 and end up peered with every other node; a node whose
//! record's `eth` entry names another chain is found but never dialed.

use std::time::Duration;

use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::node::manager::{ConnectedPeers, GetManagerStats, PeerSource};
use ethpeer_actors::node::{Bootnode, DiscoveryConfig, Node, NodeBuilder};

fn discovery(bootnodes: Vec<Bootnode>) -> DiscoveryConfig {
    DiscoveryConfig {
        v4: true,
        bootnodes,
        ..DiscoveryConfig::default()
    }
}

async fn start(builder: NodeBuilder, bootnodes: Vec<Bootnode>) -> Node {
    builder
        .listen("127.0.0.1:0".parse().expect("addr"))
        .discovery(discovery(bootnodes))
        .start()
        .await
        .expect("node starts")
}

pub(crate) async fn peers(node: &Node) -> Vec<ethpeer_actors::node::manager::ConnectedPeer> {
    node.internals()
        .manager
        .send(ConnectedPeers)
        .await
        .expect("manager")
}

/// How many nodes `node`'s discv4 table holds.
pub(crate) fn table_size(node: &Node) -> u64 {
    node.internals()
        .discovery
        .as_ref()
        .and_then(|d| d.v4.as_ref())
        .expect("discv4 runs")
        .metrics
        .table_size
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Waits (polling every 50 ms, failing after 30 s) until each of `nodes` is peered with
/// all the others; answers how long that took.
pub(crate) async fn wait_fully_peered(nodes: &[Node]) -> Duration {
    let started = tokio::time::Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        let mut counts = Vec::new();
        for node in nodes {
            counts.push(peers(node).await.len());
        }
        if counts.iter().all(|n| *n == nodes.len() - 1) {
            return started.elapsed();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "peers per node after 30 s: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks that every connection among `nodes` was dialed by one side because `source`
/// found the other (the other side sees it inbound), and that `alien` was never dialed
/// and has no peer.
pub(crate) async fn found_by(nodes: &[Node], alien: &Node, source: PeerSource) {
    let mut dialed = 0;
    for node in nodes {
        for peer in peers(node).await {
            assert_ne!(
                peer.session.enode.id,
                alien.node_id(),
                "the alien was dialed"
            );
            assert!(
                peer.found == source || peer.found == PeerSource::Inbound,
                "{:?}",
                peer.found
            );
            dialed += usize::from(peer.found == source);
        }
    }
    assert_eq!(dialed, nodes.len() * (nodes.len() - 1) / 2);
    assert!(peers(alien).await.is_empty());
}

#[actix_rt::test]
async fn nodes_that_know_one_bootnode_find_and_peer_with_each_other() {
    const NODES: usize = 5;
    let boot = start(NodeBuilder::dev(), vec![]).await;
    let entry = Bootnode {
        enode: boot.enode(),
        udp: boot.internals().discovery.expect("discovery runs").port(),
    };
    // The bootnode's embedders see discovery's candidates as events.
    let mut events = boot.events(1024);
    let mut nodes = vec![boot];
    for _ in 1..NODES {
        nodes.push(start(NodeBuilder::dev(), vec![entry]).await);
    }
    // Same bootnode, another chain: its record's fork id fails everyone's filter.
    let alien = start(NodeBuilder::network(Network::Sepolia), vec![entry]).await;

    let elapsed = wait_fully_peered(&nodes).await;
    eprintln!("{NODES} nodes fully peered through discovery in {elapsed:?}");
    loop {
        use ethpeer_actors::node::NodeEvent;
        if let Some(NodeEvent::NodeFound { enode, source }) = events.next().await {
            assert_eq!(source, PeerSource::Discv4);
            assert!(
                nodes[1..].iter().any(|n| n.node_id() == enode.id) || enode.id == alien.node_id()
            );
            break;
        }
    }
    found_by(&nodes, &alien, PeerSource::Discv4).await;
    // The bootnode bonded with the alien and judged its record.
    let stats = nodes[0]
        .internals()
        .manager
        .send(GetManagerStats)
        .await
        .expect("stats");
    assert!(stats.candidates_incompatible >= 1, "{stats:?}");
    let m = &nodes[0]
        .internals()
        .discovery
        .as_ref()
        .and_then(|d| d.v4.as_ref())
        .expect("discv4")
        .metrics;
    assert!(m.table_size.load(std::sync::atomic::Ordering::Relaxed) >= NODES as u64 - 1);
    for node in nodes.iter().chain([&alien]) {
        node.shutdown(Duration::from_secs(2)).await;
    }
}

/// The check: 20 nodes on 127.0.0.1 with one bootnode; every node gets at least 5
/// peers within 60 s and its table holds at least 15 of the others. Prints the time to
/// every node's first peer and to every node's dialed share (maxpeers/3 = 16 peers).
#[actix_rt::test]
async fn twenty_nodes_with_one_bootnode_peer_widely_within_a_minute() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    const NODES: usize = 20;
    let boot = start(NodeBuilder::dev(), vec![]).await;
    let entry = Bootnode {
        enode: boot.enode(),
        udp: boot.internals().discovery.expect("discovery runs").port(),
    };
    let mut nodes = vec![boot];
    for _ in 1..NODES {
        let mut builder = NodeBuilder::dev();
        // One arbiter per node keeps 20 nodes to a sane number of threads.
        builder.config_mut().peer_arbiters = 1;
        builder.config_mut().verify_threads = 1;
        nodes.push(start(builder, vec![entry]).await);
    }
    // The minute counts from the last node's start: starting 20 nodes one after another
    // takes seconds of its own on a loaded 2-core CI machine.
    let started = tokio::time::Instant::now();
    let dialed_share = ethpeer_actors::node::DEFAULT_MAX_PEERS / 3;
    let (mut first, mut share, mut tables_full) = (None, None, None);
    let deadline = started + Duration::from_secs(60);
    loop {
        let mut counts = Vec::new();
        for node in &nodes {
            counts.push(peers(node).await.len());
        }
        let tables: Vec<u64> = nodes.iter().map(table_size).collect();
        let min = counts.iter().copied().min().unwrap_or(0);
        let min_table = tables.iter().copied().min().unwrap_or(0);
        if first.is_none() && min >= 1 {
            first = Some(started.elapsed());
        }
        if share.is_none() && min >= dialed_share {
            share = Some(started.elapsed());
        }
        if tables_full.is_none() && min_table >= 15 {
            tables_full = Some(started.elapsed());
        }
        if share.is_some() && tables_full.is_some() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            assert!(
                min >= 5,
                "after 60 s the least-connected node has {min}: {counts:?}"
            );
            assert!(
                min_table >= 15,
                "after 60 s a table holds {min_table} of {} others: {tables:?}",
                NODES - 1
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{NODES} nodes, one bootnode: every node has a peer after {first:?}, \
         {dialed_share} peers after {share:?}, 15 others in every table after {tables_full:?}"
    );
    for node in &nodes {
        node.shutdown(Duration::from_secs(2)).await;
    }
}
