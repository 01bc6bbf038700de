//! The DNS discovery client over an in-memory resolver, on paused time: the EIP example
//! tree, forged, deep, wide and linked trees, rate limit, cache and root rechecks.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::*;
use crate::discovery::dns::testing::{self, build_tree, MapResolver, EXAMPLE_RECORDS, EXAMPLE_URL};
use crate::discovery::dns::tree::RECHECK_INTERVAL;

type Id = alloy_primitives::B512;

fn id(record: &Record) -> Id {
    crate::discovery::enr::node_id(record)
}

/// Calls `next_node` until every wanted node was seen, at most 3 calls per node (geth's
/// `checkIterator` bound).
async fn find_all(client: &mut Client<MapResolver>, want: &[Record]) -> HashSet<Id> {
    let mut missing: HashSet<Id> = want.iter().map(id).collect();
    for _ in 0..want.len() * 3 {
        if missing.is_empty() {
            break;
        }
        let record = tokio::time::timeout(Duration::from_secs(600), client.next_node())
            .await
            .expect("a node within 10 minutes")
            .expect("trees");
        missing.remove(&id(&record));
    }
    missing
}

fn config() -> ClientConfig {
    ClientConfig::default()
}

#[tokio::test(start_paused = true)]
async fn the_eip_example_tree_yields_its_three_nodes_and_follows_its_link() {
    let resolver = MapResolver::new(EXAMPLE_RECORDS);
    let mut client = Client::new(
        resolver.clone(),
        vec![EXAMPLE_URL.parse().unwrap()],
        config(),
    );
    let want: Vec<Record> = EXAMPLE_RECORDS[3..]
        .iter()
        .map(|(_, text)| crate::discovery::enr::parse_record(text).unwrap())
        .collect();
    assert!(find_all(&mut client, &want).await.is_empty());
    // The link subtree is synced first: the linked tree is followed (its root lookup
    // fails here: the example does not publish it).
    assert_eq!(client.tree_domains(), vec!["morenodes.example.org", "n"]);
    let metrics = client.metrics();
    assert_eq!(metrics.roots_verified.load(Ordering::Relaxed), 1);
    assert!(metrics.nodes_found.load(Ordering::Relaxed) >= 3);
    assert_eq!(metrics.error_count("signature"), 0);
    assert!(resolver
        .queries
        .borrow()
        .iter()
        .any(|q| q == "morenodes.example.org"));
}

#[tokio::test(start_paused = true)]
async fn linked_trees_are_walked_and_every_node_found() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..40).map(testing::record).collect();
    let t1 = build_tree(&key, "t1", 1, &nodes[..10], &[]);
    let t2 = build_tree(&key, "t2", 1, &nodes[10..], &[testing::url(&key, "t1")]);
    let resolver = MapResolver::default();
    resolver.add_tree(&t1);
    resolver.add_tree(&t2);
    let mut client = Client::new(resolver, vec![testing::url(&key, "t2")], config());
    let missing = find_all(&mut client, &nodes).await;
    assert!(missing.is_empty(), "{} not found", missing.len());
    assert_eq!(client.tree_domains(), vec!["t1", "t2"]);
}

#[tokio::test(start_paused = true)]
async fn a_new_root_seq_is_picked_up_at_the_recheck_and_unlinked_trees_dropped() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..30).map(testing::record).collect();
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(
        &key,
        "t1",
        1,
        &nodes[..10],
        &[testing::url(&key, "t2")],
    ));
    resolver.add_tree(&build_tree(&key, "t2", 1, &nodes[10..20], &[]));
    resolver.add_tree(&build_tree(&key, "t3", 1, &nodes[20..], &[]));
    let mut client = Client::new(resolver.clone(), vec![testing::url(&key, "t1")], config());
    assert!(find_all(&mut client, &nodes[..20]).await.is_empty());
    // t1 now links t3 instead of t2 and lists other nodes.
    let updated: Vec<Record> = (100..110).map(testing::record).collect();
    resolver.add_tree(&build_tree(
        &key,
        "t1",
        2,
        &updated,
        &[testing::url(&key, "t3")],
    ));
    tokio::time::advance(RECHECK_INTERVAL).await;
    let want: Vec<Record> = updated.iter().chain(&nodes[20..]).cloned().collect();
    assert!(find_all(&mut client, &want).await.is_empty());
    assert_eq!(client.tree_domains(), vec!["t1", "t3"]);
}

#[tokio::test(start_paused = true)]
async fn a_forged_root_yields_nothing_and_lookups_keep_to_the_rate_limit() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..5).map(testing::record).collect();
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(&key, "t1", 1, &nodes, &[]));
    // The URL names another key than the one that signed the root.
    let url = testing::url(&testing::key(2), "t1");
    let mut client = Client::new(resolver.clone(), vec![url], config());
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(60), client.next_node()).await;
    assert!(result.is_err(), "no node from a forged tree");
    let metrics = client.metrics();
    assert!(metrics.error_count("signature") > 0);
    assert_eq!(metrics.nodes_found.load(Ordering::Relaxed), 0);
    // Only the root was ever asked for, and at most burst + rate * seconds times.
    let queries = resolver.queries.borrow();
    assert!(queries.iter().all(|q| q == "t1"));
    let seconds = u32::try_from((Instant::now() - started).as_secs()).unwrap();
    let bound = usize::try_from(RATE_BURST + RATE_LIMIT * seconds).unwrap();
    assert!(
        queries.len() <= bound,
        "{} lookups in {seconds} s",
        queries.len()
    );
    assert!(queries.len() >= 10, "{} lookups", queries.len());
}

#[tokio::test(start_paused = true)]
async fn an_entry_that_does_not_match_its_hash_is_refused_and_the_rest_found() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..6).map(testing::record).collect();
    let mut tree = build_tree(&key, "t1", 1, &nodes, &[]);
    // Serve another valid record under the first node's name.
    let name = format!("{}.t1", EntryHash::of(&nodes[0].to_base64()));
    tree.insert(name, testing::record(99).to_base64());
    let resolver = MapResolver::default();
    resolver.add_tree(&tree);
    let mut client = Client::new(resolver, vec![testing::url(&key, "t1")], config());
    let mut seen = HashSet::new();
    for _ in 0..30 {
        let record = client.next_node().await.unwrap();
        assert_ne!(id(&record), id(&testing::record(99)), "a forged leaf");
        seen.insert(id(&record));
    }
    assert_eq!(seen.len(), 5);
    assert!(client.metrics().error_count("hash_mismatch") > 0);
}

#[tokio::test(start_paused = true)]
async fn the_cache_stays_within_its_limit() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..40).map(testing::record).collect();
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(&key, "t1", 1, &nodes, &[]));
    let config = ClientConfig {
        cache_limit: 8,
        ..ClientConfig::default()
    };
    let mut client = Client::new(resolver, vec![testing::url(&key, "t1")], config);
    assert!(find_all(&mut client, &nodes).await.is_empty());
    assert!(client.cached() <= 8, "{}", client.cached());
}

/// A resolver that never answers.
struct Silent;

impl Resolver for Silent {
    async fn lookup_txt(&self, _: &str) -> Result<Vec<String>, crate::discovery::dns::LookupError> {
        futures::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn lookups_time_out() {
    let key = testing::key(1);
    let mut client = Client::new(Silent, vec![testing::url(&key, "t1")], config());
    let result = tokio::time::timeout(Duration::from_secs(30), client.next_node()).await;
    assert!(result.is_err());
    let timeouts = client.metrics().error_count("timeout");
    // 30 s of back-to-back 5 s timeouts.
    assert!((5..=6).contains(&timeouts), "{timeouts}");
}

#[tokio::test(start_paused = true)]
async fn links_to_many_trees_are_followed_up_to_the_bound() {
    let key = testing::key(1);
    let links: Vec<Link> = (0..MAX_TREES + 10)
        .map(|i| testing::url(&key, &format!("l{i}.test")))
        .collect();
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(
        &key,
        "hub.test",
        1,
        &[testing::record(1)],
        &links,
    ));
    for link in &links {
        resolver.add_tree(&build_tree(&key, &link.domain, 1, &[], &[]));
    }
    let mut client = Client::new(resolver, vec![testing::url(&key, "hub.test")], config());
    let _ = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            client.next_node().await;
        }
    })
    .await;
    assert_eq!(client.tree_domains().len(), MAX_TREES);
}

#[tokio::test(start_paused = true)]
async fn trees_that_link_each_other_and_themselves_are_each_walked_once() {
    let key = testing::key(1);
    let nodes: Vec<Record> = (0..20).map(testing::record).collect();
    let (u1, u2) = (testing::url(&key, "t1"), testing::url(&key, "t2"));
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(
        &key,
        "t1",
        1,
        &nodes[..10],
        &[u2.clone(), u1.clone()],
    ));
    resolver.add_tree(&build_tree(
        &key,
        "t2",
        1,
        &nodes[10..],
        std::slice::from_ref(&u1),
    ));
    let mut client = Client::new(resolver.clone(), vec![u1], config());
    assert!(find_all(&mut client, &nodes).await.is_empty());
    assert_eq!(client.tree_domains(), vec!["t1", "t2"]);
    // Each root was fetched once: no tree was added twice through the loop.
    let roots = resolver
        .queries
        .borrow()
        .iter()
        .filter(|q| !q.contains('.'))
        .count();
    assert_eq!(roots, 2);
}

#[tokio::test(start_paused = true)]
async fn an_empty_tree_waits_for_its_root_recheck_without_spinning() {
    let key = testing::key(1);
    let resolver = MapResolver::default();
    resolver.add_tree(&build_tree(&key, "t1", 1, &[], &[]));
    let mut client = Client::new(resolver.clone(), vec![testing::url(&key, "t1")], config());
    let waited = tokio::time::timeout(RECHECK_INTERVAL / 2, client.next_node()).await;
    assert!(waited.is_err(), "nothing to find yet");
    // The root and the empty branch both subtrees start from (the second time from the
    // cache); then it sleeps until the recheck.
    assert_eq!(
        resolver.queries.borrow().len(),
        2,
        "{:?}",
        resolver.queries.borrow()
    );
    let node = testing::record(5);
    resolver.add_tree(&build_tree(&key, "t1", 2, std::slice::from_ref(&node), &[]));
    let found = tokio::time::timeout(RECHECK_INTERVAL, client.next_node()).await;
    assert_eq!(found.ok().flatten().map(|r| id(&r)), Some(id(&node)));
}
