//! Archive throughput and size (issue 27, item 4): synthetic mainnet-like events (signed
//! EIP-1559 transfers and contract calls, calldata 0-1,024 bytes from a seeded RNG, three
//! sightings each) appended to an [`ArchiveStore`] and synced every 1,000 events (the
//! node syncs every second), then the hour written as Parquet. Prints events per second
//! into the segment, the seconds to write the hour, and bytes per transaction on disk.
//!
//! Run: `cargo bench -p ethpeer-actors --bench archive` (`ARCHIVE_TXS`, default 100,000).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, UNIX_EPOCH};

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::archive::record::{
    tx_fields, ArchiveEvent, EventBody, SightingRecord, SightingsRecord, SCHEMA_VERSION,
};
use ethpeer_actors::archive::store::ArchiveStore;
use ethpeer_actors::eth::PooledTx;

/// A small xorshift RNG: the same events on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The bench's hour: the one that began two hours ago (over, and inside the store's
/// window of accepted times).
fn start_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from((now / 3600 - 2) * 3600).expect("fits") * 1_000_000_000
}

fn events(n: usize) -> Vec<ArchiveEvent> {
    let key = B256::repeat_byte(0x11);
    let start_ns = start_ns();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(2 * n);
    for i in 0..n {
        // Half transfers, half calls with a 4-byte selector and 32-byte words.
        let words = if i % 2 == 0 {
            0
        } else {
            (rng.next() % 32) as usize
        };
        let mut input = Vec::new();
        if words > 0 {
            input.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
            for _ in 0..words {
                let mut word = [0u8; 32];
                word[24..].copy_from_slice(&(rng.next() % 1_000_000).to_be_bytes());
                input.extend_from_slice(&word);
            }
        }
        let tx = TxEip1559 {
            chain_id: 1,
            nonce: rng.next() % 500,
            gas_limit: 21_000 + 16 * input.len() as u64,
            max_fee_per_gas: 20_000_000_000 + u128::from(rng.next() % 10_000_000_000),
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::from_word(B256::from(U256::from(
                rng.next() % 5_000,
            )))),
            value: U256::from(rng.next() % 1_000_000_000_000_000),
            input: Bytes::from(input),
            ..Default::default()
        };
        let signature = alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash())
            .expect("sign");
        let pooled = PooledTx::Eip1559(tx.into_signed(signature));
        let sender = Address::from_word(B256::from(U256::from(rng.next() % 100_000)));
        let at = start_ns + i as i64 * 36_000_000;
        let sightings: Vec<SightingRecord> = (0..3)
            .map(|k| SightingRecord {
                peer: format!("{:0128x}", rng.next() % 50),
                client: "Geth/v1.17.10-stable/linux-amd64/go1.26.8".into(),
                delivery: if k == 0 { "delivered" } else { "announced" }.into(),
                time_ns: at + k * 2_500_000,
            })
            .collect();
        let mut record = tx_fields(&pooled, sender);
        record.timestamp_ms = at / 1_000_000;
        record.first_seen_ns = at;
        record.peer = sightings[0].peer.clone();
        record.client = sightings[0].client.clone();
        record.peer_addr = "203.0.113.7:30303".into();
        record.kind = "broadcast".into();
        record.first_delivered_ns = Some(at);
        record.deliverers = 1;
        record.announcers = 2;
        out.push(ArchiveEvent {
            v: SCHEMA_VERSION,
            source: "bench".into(),
            body: EventBody::Tx(Box::new(record.clone())),
        });
        out.push(ArchiveEvent {
            v: SCHEMA_VERSION,
            source: "bench".into(),
            body: EventBody::Sightings(SightingsRecord {
                hash: record.hash,
                timestamp_ms: record.timestamp_ms,
                announcers: 2,
                deliverers: 1,
                sightings,
            }),
        });
    }
    out
}

fn dir_bytes(dir: &std::path::Path, suffix: &str) -> u64 {
    let mut total = 0;
    for entry in walk(dir) {
        if entry.to_string_lossy().ends_with(suffix) {
            total += std::fs::metadata(&entry).map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn main() {
    let n: usize = std::env::var("ARCHIVE_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let events = events(n);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = ArchiveStore::open(dir.path(), None).expect("open");
    let started = Instant::now();
    for (i, event) in events.iter().enumerate() {
        store.append(event).expect("append");
        if i % 1000 == 999 {
            store.sync().expect("sync");
        }
    }
    store.sync().expect("sync");
    let append = started.elapsed();
    let wal = dir_bytes(dir.path(), ".wal");
    let started = Instant::now();
    let end = std::time::SystemTime::now() + Duration::from_secs(60);
    let written = store.finalize_due(end).expect("finalize");
    let finalize = started.elapsed();
    let txs = dir_bytes(dir.path(), ".transactions.parquet");
    let log = dir_bytes(dir.path(), ".sourcelog.parquet");
    let raw: usize = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Tx(r) => Some(r.raw_tx.len() / 2 - 1),
            _ => None,
        })
        .sum();
    println!(
        "{n} txs ({} events, {} hours), raw txs {:.0} B each on average",
        events.len(),
        written.len(),
        raw as f64 / n as f64
    );
    println!("| step | figure |");
    println!("|---|---|");
    println!(
        "| append + sync every 1,000 | {:.0} events/s ({:.2} s) |",
        events.len() as f64 / append.as_secs_f64(),
        append.as_secs_f64()
    );
    println!(
        "| segment on disk | {:.0} B per tx |",
        wal as f64 / n as f64
    );
    println!(
        "| write the hours' Parquet | {:.2} s ({:.0} txs/s) |",
        finalize.as_secs_f64(),
        n as f64 / finalize.as_secs_f64()
    );
    println!(
        "| transactions file | {:.0} B per tx |",
        txs as f64 / n as f64
    );
    println!(
        "| sourcelog file (3 sightings a tx) | {:.0} B per tx |",
        log as f64 / n as f64
    );
    println!("| both | {:.0} B per tx |", (txs + log) as f64 / n as f64);
}
