//! The table's bucket, replacement and IP-limit rules with deterministic node ids.

use super::*;

fn id(n: u64) -> B512 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(keccak256(n.to_be_bytes()).as_slice());
    bytes[32..].copy_from_slice(keccak256((n ^ u64::MAX).to_be_bytes()).as_slice());
    B512::from(bytes)
}

fn entry(n: u64, ip: &str, now: Instant) -> NodeEntry {
    let addr = SocketAddr::new(ip.parse().expect("ip"), 30303);
    NodeEntry::new(id(n), addr, 30303, now)
}

/// Ids (from 1 up) whose bucket in `table` is `bucket`.
fn ids_in_bucket(table: &Table, bucket: usize, count: usize) -> Vec<u64> {
    (1u64..)
        .filter(|n| table.bucket_index(&keccak256(id(*n))) == bucket)
        .take(count)
        .collect()
}

#[test]
fn log_distance_counts_from_the_first_differing_bit() {
    let zero = B256::ZERO;
    assert_eq!(log_distance(&zero, &zero), 0);
    let mut b = [0u8; 32];
    b[31] = 1;
    assert_eq!(log_distance(&zero, &B256::from(b)), 1);
    b[0] = 0x80;
    assert_eq!(log_distance(&zero, &B256::from(b)), 256);
    let mut c = [0u8; 32];
    c[1] = 0x10;
    assert_eq!(log_distance(&zero, &B256::from(c)), 256 - 11);
}

#[test]
fn a_full_bucket_keeps_newcomers_as_replacements_until_a_node_fails() {
    let now = Instant::now();
    let mut table = Table::new(id(0));
    let ids = ids_in_bucket(&table, 16, BUCKET_SIZE + 3);
    for (i, n) in ids.iter().enumerate() {
        // Loopback: the IP limits do not apply, only the bucket size.
        let added = table.add(entry(*n, "127.0.0.1", now));
        let want = if i < BUCKET_SIZE {
            Added::Inserted
        } else {
            Added::Replacement
        };
        assert_eq!(added, want, "node {i}");
    }
    assert_eq!(table.len(), BUCKET_SIZE);
    assert_eq!(table.replacements_len(), 3);
    // Seen again: updated in place, nothing added.
    assert_eq!(table.add(entry(ids[0], "127.0.0.1", now)), Added::Updated);
    assert_eq!(table.len(), BUCKET_SIZE);
    // A failed node leaves; the most recent replacement takes its place.
    assert!(table.remove(&id(ids[3])));
    assert_eq!(table.len(), BUCKET_SIZE);
    assert!(table.get(&id(ids[BUCKET_SIZE + 2])).is_some());
    assert!(table.get(&id(ids[3])).is_none());
    assert_eq!(table.replacements_len(), 2);
    // Ourselves never.
    assert_eq!(table.add(entry(0, "127.0.0.1", now)), Added::Refused);
}

#[test]
fn at_most_two_nodes_of_one_slash_24_share_a_bucket() {
    let now = Instant::now();
    let mut table = Table::new(id(0));
    let ids = ids_in_bucket(&table, 16, 4);
    assert_eq!(
        table.add(entry(ids[0], "203.0.113.1", now)),
        Added::Inserted
    );
    assert_eq!(
        table.add(entry(ids[1], "203.0.113.2", now)),
        Added::Inserted
    );
    assert_eq!(table.add(entry(ids[2], "203.0.113.3", now)), Added::Refused);
    // Another /24 is fine.
    assert_eq!(
        table.add(entry(ids[3], "203.0.114.3", now)),
        Added::Inserted
    );
    // Removing one frees the room again.
    assert!(table.remove(&id(ids[0])));
    assert_eq!(
        table.add(entry(ids[2], "203.0.113.3", now)),
        Added::Inserted
    );
}

#[test]
fn at_most_ten_nodes_of_one_slash_24_in_the_table() {
    let now = Instant::now();
    let mut table = Table::new(id(0));
    // Two per bucket over six buckets: twelve candidates from one /24.
    let mut inserted = 0;
    for bucket in 11..=16 {
        for n in ids_in_bucket(&table, bucket, 2) {
            if table.add(entry(n, &format!("198.51.100.{}", n % 250), now)) == Added::Inserted {
                inserted += 1;
            }
        }
    }
    assert_eq!(inserted, TABLE_IP_LIMIT);
    assert_eq!(table.len(), TABLE_IP_LIMIT);
}

#[test]
fn lan_and_loopback_nodes_are_exempt_from_the_ip_limits() {
    let now = Instant::now();
    let mut table = Table::new(id(0));
    for (i, n) in ids_in_bucket(&table, 16, BUCKET_SIZE)
        .into_iter()
        .enumerate()
    {
        let ip = if i % 2 == 0 {
            "127.0.0.1"
        } else {
            "192.168.1.7"
        };
        assert_eq!(table.add(entry(n, ip, now)), Added::Inserted);
    }
    assert_eq!(table.len(), BUCKET_SIZE);
}

#[test]
fn closest_sorts_by_xor_distance_to_the_target() {
    let now = Instant::now();
    let mut table = Table::new(id(0));
    for n in 1..=60 {
        table.add(entry(n, "127.0.0.1", now));
    }
    let target = keccak256(id(1000));
    let found = table.closest(&target, BUCKET_SIZE);
    assert_eq!(found.len(), BUCKET_SIZE);
    for pair in found.windows(2) {
        assert_ne!(
            closer(&target, &pair[0].hash, &pair[1].hash),
            std::cmp::Ordering::Greater
        );
    }
    // Nothing left out is closer than the farthest returned.
    let farthest = found[BUCKET_SIZE - 1].hash;
    for e in table.entries() {
        if !found.iter().any(|f| f.id == e.id) {
            assert_eq!(
                closer(&target, &e.hash, &farthest),
                std::cmp::Ordering::Greater
            );
        }
    }
}
