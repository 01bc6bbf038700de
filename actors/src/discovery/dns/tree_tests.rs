//! One tree's sync state alone: which hash comes next, subtree passes, depth and size
//! bounds, root rechecks and sequence numbers.

use super::*;
use crate::discovery::dns::entry::BRANCH_PREFIX;
use crate::discovery::dns::testing::{self, sign_root};

fn hash(text: &str) -> EntryHash {
    EntryHash::of(text)
}

fn tree_with_root(eroot: &EntryHash, lroot: &EntryHash) -> TreeSync {
    let key = testing::key(3);
    let mut tree = TreeSync::new(testing::url(&key, "t.test"));
    let root = Root::parse(&sign_root(&key, eroot.as_str(), lroot.as_str(), 1)).unwrap();
    tree.set_root(root, Instant::now()).unwrap();
    tree
}

fn branch(children: &[EntryHash]) -> Entry {
    let text: Vec<&str> = children.iter().map(EntryHash::as_str).collect();
    Entry::parse(&format!("{BRANCH_PREFIX}{}", text.join(","))).unwrap()
}

/// Resolves every link request with an empty branch, so node requests come next.
fn finish_links(tree: &mut TreeSync) {
    while let Some(request) = tree.next_request(0).filter(|r| r.link) {
        tree.resolved(&request, &branch(&[])).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_chain_of_branches_deeper_than_the_limit_is_refused() {
    let mut tree = tree_with_root(&hash("e0"), &hash("l"));
    finish_links(&mut tree);
    for depth in 0..=MAX_TREE_DEPTH {
        let request = tree.next_request(0).unwrap();
        assert!(!request.link);
        let child = hash(&format!("e{}", depth + 1));
        let result = tree.resolved(&request, &branch(&[child]));
        if depth + 1 > MAX_TREE_DEPTH {
            assert!(
                matches!(result, Err(DnsError::TooDeep { depth: 9, .. })),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "depth {depth}: {result:?}");
        }
    }
    // Nothing left of that pass: a tree without leaves offers nothing more.
    assert_eq!(tree.next_request(0), None);
}

#[tokio::test(start_paused = true)]
async fn a_hash_listed_many_times_is_fetched_once() {
    let mut tree = tree_with_root(&hash("e0"), &hash("l"));
    finish_links(&mut tree);
    let request = tree.next_request(0).unwrap();
    let child = hash("leaf");
    tree.resolved(&request, &branch(&vec![child.clone(); 18]))
        .unwrap();
    let next = tree.next_request(0).unwrap();
    assert_eq!(next.hash, child);
    let record = testing::record(1);
    let found = tree
        .resolved(&next, &Entry::Enr(Box::new(record.clone())))
        .unwrap();
    assert_eq!(found.map(|r| r.node_id()), Some(record.node_id()));
    // The pass is over; a new one starts from the root.
    assert!(tree.node_pass_done());
    assert_eq!(tree.next_request(0).map(|r| r.hash), Some(hash("e0")));
}

#[tokio::test(start_paused = true)]
async fn a_subtree_wider_than_the_pending_limit_is_refused() {
    let mut tree = tree_with_root(&hash("e0"), &hash("l"));
    finish_links(&mut tree);
    let mut refused = None;
    let mut n = 0u32;
    // Every branch fetched names 18 new hashes; the pending list grows by 17 each time.
    // Only branches above depth 3 are expanded (18^3 = 5,832 hashes would be pending).
    let mut random = 0u64;
    'expand: for _ in 0..MAX_PENDING {
        let mut request = None;
        for _ in 0..10_000 {
            random = random.wrapping_add(0x9e37_79b9_7f4a_7c15);
            request = tree.next_request(random).filter(|r| r.depth < 3);
            if request.is_some() {
                break;
            }
        }
        let Some(request) = request else {
            break 'expand;
        };
        let children: Vec<EntryHash> = (0..18)
            .map(|_| {
                n += 1;
                hash(&format!("c{n}"))
            })
            .collect();
        if let Err(error) = tree.resolved(&request, &branch(&children)) {
            refused = Some(error);
            break;
        }
    }
    assert!(
        matches!(
            refused,
            Some(DnsError::TreeTooLarge {
                max: MAX_PENDING,
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn leaves_in_the_wrong_subtree_are_refused() {
    let mut tree = tree_with_root(&hash("e0"), &hash("l"));
    let request = tree.next_request(0).unwrap();
    assert!(request.link);
    let record = Entry::Enr(Box::new(testing::record(2)));
    assert!(matches!(
        tree.resolved(&request, &record),
        Err(DnsError::WrongSubtree {
            found: "enr",
            subtree: "link",
            ..
        })
    ));
    let request = tree.next_request(0).unwrap();
    assert!(!request.link);
    let link = Entry::Link(testing::url(&testing::key(9), "other.test"));
    assert!(matches!(
        tree.resolved(&request, &link),
        Err(DnsError::WrongSubtree {
            found: "link",
            subtree: "node",
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn roots_are_rechecked_on_the_timer_and_after_failures_and_never_go_back() {
    let key = testing::key(3);
    let mut tree = TreeSync::new(testing::url(&key, "t.test"));
    let start = Instant::now();
    assert!(tree.root_update_due(start));
    let root = |seq| {
        Root::parse(&sign_root(
            &key,
            hash("e").as_str(),
            hash("l").as_str(),
            seq,
        ))
        .unwrap()
    };
    tree.set_root(root(5), start).unwrap();
    assert!(!tree.root_update_due(start));
    assert_eq!(tree.next_root_check(), Some(start + RECHECK_INTERVAL));
    assert!(tree.root_update_due(start + RECHECK_INTERVAL));
    // Leaf failures in a row bring the recheck forward.
    let request = tree.next_request(0).unwrap();
    for _ in 0..=ROOT_RECHECK_FAIL_COUNT {
        tree.failed(&request);
    }
    assert!(tree.root_update_due(start));
    // A lower sequence number is refused; the same one is accepted (EIP-1459: ">=").
    assert!(matches!(
        tree.set_root(root(4), start),
        Err(DnsError::SeqRegressed {
            seq: 4,
            previous: 5,
            ..
        })
    ));
    assert_eq!(tree.root().map(|r| r.seq), Some(5));
    tree.set_root(root(5), start).unwrap();
    // Repeated root failures slow root fetches down, as geth.
    for _ in 0..=ROOT_SLOWDOWN_AFTER {
        tree.root_failed(start);
    }
    assert_eq!(tree.root_delay(), ROOT_SLOWDOWN);
    // With no root yet, a failing tree waits the slowdown before its next root fetch.
    let mut fresh = TreeSync::new(testing::url(&key, "u.test"));
    for _ in 0..=ROOT_SLOWDOWN_AFTER {
        fresh.root_failed(start);
    }
    assert!(!fresh.root_update_due(start));
    assert!(fresh.root_update_due(start + ROOT_SLOWDOWN));
    for _ in 0..ROOT_SLOWDOWN_MAX_AFTER {
        tree.root_failed(start);
    }
    assert_eq!(tree.root_delay(), ROOT_SLOWDOWN_MAX);
}
