//! RLPx costs: encrypted stream throughput for 1 MiB messages on one core (egress frame
//! encoding, and encode + decode), next to raw keccak256 over the same bytes (the limit:
//! every byte goes through a keccak MAC on each side); RLPx handshakes per second with
//! both sides in process; and whole sessions (RLPx + Hello + Status) over an in-memory pipe.
//!
//! Run: `cargo bench -p ethpeer-actors --bench rlpx`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alloy_primitives::{keccak256, B256, U256};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ethpeer_actors::eth::forkid::ForkSchedule;
use ethpeer_actors::eth::EthVersion;
use ethpeer_actors::rlpx::handshake::{
    self, Exchange, HandshakeRandomness, NodeKey, PacketFormat, Secrets,
};
use ethpeer_actors::rlpx::{codecs, RlpxMessage};
use ethpeer_actors::session::{self, ChainStatus, SessionConfig};
use secp256k1::{PublicKey, SecretKey, SECP256K1};
use tokio_util::codec::{Decoder, Encoder};

/// One complete RLPx handshake, both sides: (initiator secrets, recipient secrets).
fn rlpx_handshake(a: &NodeKey, b: &SecretKey, b_pub: &PublicKey) -> (Secrets, Secrets) {
    let (ra, rb) = (HandshakeRandomness::random(), HandshakeRandomness::random());
    let auth = handshake::auth_packet(a, b_pub, &ra);
    let received = handshake::read_auth(b, &auth).unwrap();
    let a_pub = handshake::public_key(&received.initiator_id).unwrap();
    let ack = handshake::ack_packet(&a_pub, &rb, PacketFormat::Eip8);
    let acked = handshake::read_ack(a.secret(), &ack).unwrap();
    let sa = Exchange {
        initiator: true,
        our_ephemeral: &ra.ephemeral,
        remote_ephemeral: &acked.recipient_ephemeral,
        initiator_nonce: ra.nonce,
        recipient_nonce: acked.recipient_nonce,
        auth: &auth,
        ack: &ack,
        remote_id: handshake::node_id(b_pub),
    }
    .secrets();
    let sb = Exchange {
        initiator: false,
        our_ephemeral: &rb.ephemeral,
        remote_ephemeral: &received.initiator_ephemeral,
        initiator_nonce: received.initiator_nonce,
        recipient_nonce: rb.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: received.initiator_id,
    }
    .secrets();
    (sa, sb)
}

fn keys() -> (NodeKey, SecretKey, PublicKey) {
    let a = NodeKey::new(SecretKey::from_byte_array([1; 32]).unwrap());
    let b = SecretKey::from_byte_array([2; 32]).unwrap();
    let b_pub = PublicKey::from_secret_key(SECP256K1, &b);
    (a, b, b_pub)
}

fn stream(c: &mut Criterion) {
    const MIB: usize = 1024 * 1024;
    let payload: bytes::Bytes = (0..MIB)
        .map(|i| (i * 7 % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let (a, b, b_pub) = keys();
    let (sa, sb) = rlpx_handshake(&a, &b, &b_pub);
    let (mut encoder, _) = codecs(sa.clone());
    let (mut rt_encoder, _) = codecs(sa);
    let (_, mut rt_decoder) = codecs(sb);

    let mut group = c.benchmark_group("rlpx_1mib");
    group.throughput(Throughput::Bytes(MIB as u64));
    group.bench_function("keccak256", |bench| {
        bench.iter(|| keccak256(black_box(&payload[..])))
    });
    let mut wire = BytesMut::with_capacity(MIB + 64);
    group.bench_function("encode", |bench| {
        bench.iter(|| {
            wire.clear();
            encoder
                .encode(
                    RlpxMessage {
                        id: 0x12,
                        payload: payload.clone(),
                    },
                    &mut wire,
                )
                .unwrap();
        })
    });
    group.bench_function("encode_decode", |bench| {
        bench.iter(|| {
            wire.clear();
            rt_encoder
                .encode(
                    RlpxMessage {
                        id: 0x12,
                        payload: payload.clone(),
                    },
                    &mut wire,
                )
                .unwrap();
            rt_decoder.decode(&mut wire).unwrap().unwrap()
        })
    });
    group.finish();
}

fn handshakes(c: &mut Criterion) {
    let (a, b, b_pub) = keys();
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.bench_function("rlpx_both_sides", |bench| {
        bench.iter(|| rlpx_handshake(&a, &b, &b_pub))
    });
    // The same on both cores of this machine: two threads, each doing half the handshakes.
    group.bench_function("rlpx_both_sides_2_threads", |bench| {
        bench.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|scope| {
                for share in [iters / 2, iters - iters / 2] {
                    let (a, b, b_pub) = (&a, &b, &b_pub);
                    scope.spawn(move || {
                        (0..share).for_each(|_| {
                            black_box(rlpx_handshake(a, b, b_pub));
                        })
                    });
                }
            });
            start.elapsed()
        })
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let genesis = B256::repeat_byte(1);
    let status = ChainStatus {
        network_id: 1,
        genesis,
        forks: ForkSchedule {
            genesis_hash: genesis,
            genesis_timestamp: 0,
            block_forks: vec![],
            time_forks: vec![],
        },
        head_number: 1,
        head_timestamp: 1,
        head_hash: B256::repeat_byte(2),
        total_difficulty: U256::from(1),
        earliest: 0,
    };
    let (ca, cb) = (
        SessionConfig::new(*a.secret(), "bench-a"),
        SessionConfig::new(b, "bench-b"),
    );
    group.bench_function("session_rlpx_hello_status", |bench| {
        bench.iter(|| {
            runtime.block_on(async {
                let (x, y) = tokio::io::duplex(64 * 1024);
                let (da, db) = tokio::join!(
                    session::dial(x, &ca, cb.node_id(), &status),
                    session::accept(y, &cb, &status)
                );
                assert_eq!(da.unwrap().eth_version, EthVersion::LATEST);
                db.unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, stream, handshakes);
criterion_main!(benches);
