//! Node to node relay on one core: 1000 signed dev-network transfers added to node A's
//! pool reach node B's pool over loopback TCP (A's broadcaster, peer actor, RLPx frames;
//! B's decoder, sender recovery, validation and pool insert), both nodes on one actix
//! thread. Measured from A's `add` until B's pool holds all 1000.
//!
//! Run: `cargo bench -p ethpeer-actors --bench relay`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ethpeer_actors::eth::genesis;
use ethpeer_actors::node::NodeBuilder;

/// Four dev accounts × 250 consecutive nonces.
const TXS: usize = 1000;

fn relay(c: &mut Criterion) {
    let txs: Vec<_> = (0..TXS)
        .map(|i| {
            genesis::dev_transfer(
                i % 4,
                (i / 4) as u64,
                Address::repeat_byte(7),
                U256::from(1),
            )
            .unwrap()
        })
        .collect();
    let mut group = c.benchmark_group("relay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(TXS as u64));
    // "one thread": peers on the node's own arbiter, one verifier thread; "all cores": a
    // peer arbiter and a verifier thread per core (the default).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let variants = [
        ("add at A + relay to B, one thread", true, 0, 1),
        ("relay to B, one thread", false, 0, 1),
        ("relay to B, all cores", false, cores, cores),
    ];
    for (name, from_add, arbiters, verifiers) in variants {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs = txs.clone();
                    total += actix_rt::System::new().block_on(async move {
                        let start = || {
                            let mut builder = NodeBuilder::dev()
                                .listen("127.0.0.1:0".parse().unwrap())
                                .arrival_wait(Duration::ZERO);
                            builder.config_mut().peer_arbiters = arbiters;
                            builder.config_mut().verify_threads = verifiers;
                            builder.start()
                        };
                        let (a, b) = (start().await.unwrap(), start().await.unwrap());
                        // A registers B on its own schedule: wait until it would broadcast
                        // (PeerConnected is sent on registration).
                        let mut events = a.events(16);
                        b.dial(a.local_addr(), a.node_id()).await.unwrap();
                        while !matches!(
                            events.next().await,
                            Some(ethpeer_actors::node::NodeEvent::PeerConnected { .. })
                        ) {}
                        // A validates on add (recovery included) before anything is sent;
                        // the broadcast starts when this thread next yields.
                        let added = Instant::now();
                        let accepted = a.submit_transactions(txs);
                        assert!(accepted.iter().all(Result::is_ok));
                        let began = if from_add { added } else { Instant::now() };
                        // Polled, not spun: a spinning main thread would take a core
                        // from the peer arbiters and verifiers.
                        while b.pool_status().0 + b.pool_status().1 < TXS {
                            tokio::time::sleep(Duration::from_micros(200)).await;
                        }
                        let took = began.elapsed();
                        a.shutdown(Duration::from_secs(1)).await;
                        took
                    });
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
