//! DNS discovery into the dial scheduler, with an in-process resolver and paused time.

use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::dnsdisc::testing::{self, build_tree, MapResolver};
use crate::node::manager::{DialFn, GetManagerStats};

#[test]
fn built_in_trees_are_geths_and_parse() {
    assert_eq!(
        known_tree(Network::Mainnet),
        "enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@all.mainnet.ethdisco.net"
    );
    for network in Network::ALL {
        let links = parse_urls(&known_tree(network)).unwrap();
        assert_eq!(links.len(), 1);
        assert!(links[0].domain.starts_with("all."), "{network:?}");
    }
    assert!(parse_urls("").unwrap().is_empty());
    assert_eq!(
        parse_urls(&format!(" {} ,, {}", known_tree(Network::Sepolia), known_tree(Network::Hoodi)))
            .unwrap()
            .len(),
        2
    );
    assert!(parse_urls("enrtree://nope@x").is_err());
    assert!(parse_urls("enode://abc@1.2.3.4:30303").is_err());
}

#[actix_rt::test]
async fn tree_nodes_reach_the_scheduler_as_dns_candidates_with_their_fork_verdict() {
    tokio::time::pause();
    let key = testing::key(1);
    let nodes: Vec<Record> = (1..=10).map(testing::record).collect();
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(&key, "nodes.test", 1, &nodes, &[]));
    let dials: Rc<std::cell::Cell<usize>> = Rc::default();
    let counter = dials.clone();
    let dial: DialFn = Rc::new(move |_, _| {
        counter.set(counter.get() + 1);
        Box::pin(async {
            Err(crate::node::DialError::Connect(std::io::Error::other(
                "refused",
            )))
        })
    });
    let self_id = enr::node_id(&testing::record(500));
    let manager = PeerManager::new(self_id, 50, dial).start();
    let refused = enr::node_id(&nodes[2]);
    let verdict = move |record: &Record| match enr::node_id(record) == refused {
        true => ForkVerdict::Incompatible,
        false => ForkVerdict::Compatible,
    };
    let dns = start(
        resolver,
        vec![testing::url(&key, "nodes.test")],
        7,
        verdict,
        manager.clone(),
    );
    // Ten records at most three lookups a second (burst 10): well within a minute.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert!(stats.candidates["dns"] >= 10, "{:?}", stats.candidates);
    assert!(stats.candidates_incompatible >= 1);
    assert!(dials.get() >= 9, "{} dials", dials.get());
    assert!(dns.metrics.nodes_found.load(std::sync::atomic::Ordering::Relaxed) >= 10);
    dns.stop();
}
