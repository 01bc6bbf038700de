//! Memory per peer at full known caches (geth's 32,768 tx hashes and 1,024 block hashes):
//! the peer set's [`KnownSet`] (6-byte keyed digests in a ring, 16-bit index table) next to the
//! `lru::LruCache<B256, ()>` it replaced. Each kind is measured in a child process of its
//! own (the bench re-runs itself), as the growth of its resident memory while 20 peers'
//! sets are filled past capacity, so allocator overhead counts. Prints one table.
//!
//! Run: `cargo bench -p ethpeer-actors --bench known_sets`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroUsize;

use alloy_primitives::map::DefaultHashBuilder;
use alloy_primitives::B256;
use ethpeer_actors::peer_set::{KnownSet, MAX_KNOWN_BLOCKS, MAX_KNOWN_TXS};

const PEERS: usize = 20;

/// Resident memory of this process, in bytes (Linux `VmRSS`).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

fn hash(peer: usize, n: usize) -> B256 {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&(peer as u64).to_be_bytes());
    out[8..16].copy_from_slice(&(n as u64).to_be_bytes());
    B256::from(out)
}

/// Resident bytes per peer once `PEERS` peers' sets were filled past capacity by `fill`.
fn per_peer<T>(fill: impl Fn(usize) -> T) -> usize {
    let before = rss();
    let peers: Vec<T> = (0..PEERS).map(fill).collect();
    let after = rss();
    std::hint::black_box(&peers);
    (after - before) / PEERS
}

fn lru_sets(peer: usize) -> impl Sized {
    let lru = |capacity: usize| {
        lru::LruCache::<B256, (), DefaultHashBuilder>::with_hasher(
            NonZeroUsize::new(capacity).unwrap(),
            DefaultHashBuilder::default(),
        )
    };
    let (mut txs, mut blocks) = (lru(MAX_KNOWN_TXS), lru(MAX_KNOWN_BLOCKS));
    for n in 0..MAX_KNOWN_TXS + 1_000 {
        txs.put(hash(peer, n), ());
    }
    for n in 0..MAX_KNOWN_BLOCKS + 100 {
        blocks.put(hash(peer, n), ());
    }
    (txs, blocks)
}

fn known_sets(peer: usize) -> impl Sized {
    let (mut txs, mut blocks) = (
        KnownSet::new(MAX_KNOWN_TXS),
        KnownSet::new(MAX_KNOWN_BLOCKS),
    );
    for n in 0..MAX_KNOWN_TXS + 1_000 {
        txs.insert(&hash(peer, n));
    }
    for n in 0..MAX_KNOWN_BLOCKS + 100 {
        blocks.insert(&hash(peer, n));
    }
    assert_eq!(txs.len(), MAX_KNOWN_TXS);
    (txs, blocks)
}

fn measure(kind: &str) -> usize {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--measure", kind])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        let bytes = match args[at + 1].as_str() {
            "lru" => per_peer(lru_sets),
            _ => per_peer(known_sets),
        };
        println!("{bytes}");
        return;
    }
    let (old, new) = (measure("lru"), measure("known"));
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!("| known sets per peer, full (32,768 txs + 1,024 blocks) | resident bytes | MiB |");
    println!("|---|---|---|");
    println!(
        "| lru::LruCache<B256, ()> (before) | {old} | {:.2} |",
        mib(old)
    );
    println!(
        "| KnownSet (6-byte keyed digests in a ring, 16-bit index table) | {new} | {:.2} ({:.2}x) |",
        mib(new),
        new as f64 / old as f64
    );
}
