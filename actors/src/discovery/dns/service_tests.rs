//! DNS discovery into the dial scheduler, with an in-process resolver and paused time.

use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::discovery::dns::testing::{self, build_tree, MapResolver};
use crate::node::manager::{DialFn, GetManagerStats};
use crate::node::PeerManager;

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
        parse_urls(&format!(
            " {} ,, {}",
            known_tree(Network::Sepolia),
            known_tree(Network::Hoodi)
        ))
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
        manager.clone().recipient(),
    );
    // Ten records at most three lookups a second (burst 10): well within a minute.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert!(stats.candidates["dns"] >= 10, "{:?}", stats.candidates);
    assert!(stats.candidates_incompatible >= 1);
    assert!(dials.get() >= 9, "{} dials", dials.get());
    assert!(
        dns.metrics
            .nodes_found
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 10
    );
    dns.stop();
}

#[actix_rt::test]
async fn a_running_nodes_metrics_show_the_dns_client() {
    let mut node = crate::node::NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    assert!(node.dns.is_none(), "no trees configured, no DNS client");
    let key = testing::key(1);
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(
        &key,
        "nodes.test",
        1,
        &[testing::record(1)],
        &[],
    ));
    let trees = vec![testing::url(&key, "nodes.test")];
    let verdict = |_: &Record| ForkVerdict::Absent;
    node.dns = Some(Arc::new(start(
        resolver,
        trees,
        1,
        verdict,
        node.manager.clone().recipient(),
    )));
    let metrics = node.dns.as_ref().unwrap().metrics.clone();
    for _ in 0..100 {
        if metrics
            .nodes_found
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = crate::api::metrics::render(&node).await;
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
    };
    assert_eq!(value("ethpeer_dns_trees"), 1);
    assert_eq!(value("ethpeer_dns_roots_verified_total"), 1);
    // A one-leaf tree yields its node again on every pass (from the cache, rate-limited).
    assert!(value("ethpeer_dns_nodes_found_total") >= 1);
    // The leaf and the empty link branch, each fetched once.
    assert_eq!(value("ethpeer_dns_entries_resolved_total"), 2);
    assert_eq!(value("ethpeer_dns_errors_total{kind=\"signature\"}"), 0);
    assert!(value("ethpeer_dial_candidates_total{source=\"dns\"}") >= 1);
    node.shutdown(Duration::from_secs(1)).await;
}
