//! discv4 costs: decoding (hash check, signature recovery, RLP) a Ping and a full
//! Neighbors packet, a Ping flood packet refused by the per-source budget before any
//! recovery, and the table's insert and closest-16 query with 200 nodes.
//!
//! Run: `cargo bench -p ethpeer-actors --bench discv4`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alloy_primitives::{keccak256, B512};
use criterion::{criterion_group, criterion_main, Criterion};
use ethpeer_actors::discovery::v4::limiter::RequestLimiter;
use ethpeer_actors::discovery::v4::table::{NodeEntry, Table, BUCKET_SIZE};
use ethpeer_actors::discovery::v4::wire::{Neighbors, Ping, MAX_NEIGHBORS, PING_VERSION};
use ethpeer_actors::discovery::v4::{Endpoint, NodeRecord, Packet};
use secp256k1::SecretKey;
use tokio::time::Instant;

fn endpoint(n: u8) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(203, 0, n, 1)),
        udp: 30303,
        tcp: 30303,
    }
}

fn id(n: u32) -> B512 {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(keccak256(n.to_be_bytes()).as_slice());
    B512::from(bytes)
}

fn decode(c: &mut Criterion) {
    let key = SecretKey::from_byte_array([7; 32]).unwrap();
    let ping = Packet::Ping(Ping {
        version: PING_VERSION,
        from: endpoint(1),
        to: endpoint(2),
        expiration: 1_900_000_000,
        enr_seq: Some(3),
    })
    .encode(&key)
    .0;
    let neighbors = Packet::Neighbors(Neighbors {
        nodes: (0..MAX_NEIGHBORS as u32)
            .map(|n| NodeRecord {
                endpoint: endpoint(n as u8),
                id: id(n),
            })
            .collect(),
        expiration: 1_900_000_000,
    })
    .encode(&key)
    .0;
    let mut group = c.benchmark_group("discv4_decode");
    group.bench_function("ping", |b| b.iter(|| Packet::decode(&ping).unwrap()));
    group.bench_function("neighbors_12", |b| {
        b.iter(|| Packet::decode(&neighbors).unwrap())
    });
    group.bench_function("flood_packet_refused_by_budget", |b| {
        let mut limiter = RequestLimiter::default();
        let from = SocketAddr::from(([203, 0, 113, 9], 30303));
        let now = Instant::now();
        // Spend the budget once; every later check is a refusal.
        while limiter.allow(from.ip(), now) {}
        b.iter(|| limiter.allow(from.ip(), now))
    });
    group.finish();
}

fn table(c: &mut Criterion) {
    let now = Instant::now();
    let entries: Vec<NodeEntry> = (0..200u32)
        .map(|n| {
            let addr = SocketAddr::from(([10, (n >> 8) as u8, n as u8, 1], 30303));
            NodeEntry::new(id(n), addr, 30303, now)
        })
        .collect();
    let mut group = c.benchmark_group("discv4_table");
    group.bench_function("add_200", |b| {
        b.iter(|| {
            let mut table = Table::new(id(u32::MAX));
            for entry in &entries {
                table.add(entry.clone());
            }
            table
        })
    });
    let mut full = Table::new(id(u32::MAX));
    for entry in &entries {
        full.add(entry.clone());
    }
    let target = keccak256(id(12345));
    group.bench_function("closest_16", |b| {
        b.iter(|| full.closest(&target, BUCKET_SIZE))
    });
    group.finish();
}

criterion_group!(benches, decode, table);
criterion_main!(benches);
