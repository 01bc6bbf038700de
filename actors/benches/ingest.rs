//! Transaction ingest on one core: decode a Transactions payload of 1000 signed EIP-1559
//! txs, recover each sender and run the pool's stateless and state checks, next to bare
//! ecrecover of the same signatures over precomputed hashes (the limit). Then the node's
//! inbound path (`TxIngest` with its verifier threads) taking 2,000 txs from four peers
//! into a validating pool, with one and with two verifier threads.
//!
//! Run: `cargo bench -p ethpeer-actors --bench ingest`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alloy_consensus::crypto::secp256k1::{recover_signer, sign_message};
use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope};
use alloy_genesis::{Genesis, GenesisAccount};
use alloy_primitives::{Address, TxKind, B256, U256};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ethpeer_actors::eth::{EthMessage, EthVersion, PooledTx, Transactions};
use ethpeer_actors::txs::pool::validate::{validate_state, validate_stateless, ValidationRules};
use ethpeer_actors::txs::pool::MemoryState;

const TXS: u64 = 1000;

fn ingest(c: &mut Criterion) {
    let key = B256::repeat_byte(0x42);
    let rules = ValidationRules {
        chain_id: 1,
        block_gas_limit: 30_000_000,
        max_blobs_per_tx: 9,
        calldata_floor: true,
    };
    let signed: Vec<(TxEnvelope, B256)> = (0..TXS)
        .map(|nonce| {
            let tx = TxEip1559 {
                chain_id: 1,
                nonce,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(1)),
                value: U256::from(1),
                ..Default::default()
            };
            let hash = tx.signature_hash();
            let signature = sign_message(key, hash).unwrap();
            (
                TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature)),
                hash,
            )
        })
        .collect();
    let sender =
        alloy_consensus::transaction::SignerRecoverable::recover_signer(&signed[0].0).unwrap();
    let mut genesis = Genesis::default();
    genesis.alloc.insert(
        sender,
        GenesisAccount {
            balance: U256::MAX,
            ..Default::default()
        },
    );
    let state = MemoryState::from_genesis(&genesis);
    let payload = EthMessage::Transactions(Transactions(
        signed.iter().map(|(tx, _)| tx.clone()).collect(),
    ))
    .encoded();
    let signatures: Vec<_> = signed
        .iter()
        .map(|(tx, hash)| (*tx.signature(), *hash))
        .collect();

    let mut group = c.benchmark_group("ingest_1000_txs");
    group.throughput(Throughput::Elements(TXS));
    group.bench_function("ecrecover_only", |b| {
        b.iter(|| {
            signatures.iter().for_each(|(sig, hash)| {
                black_box(recover_signer(sig, *hash).unwrap());
            })
        })
    });
    group.bench_function("decode_recover_validate", |b| {
        b.iter(|| {
            let EthMessage::Transactions(txs) =
                EthMessage::decode(EthVersion::Eth68, 2, black_box(&payload)).unwrap()
            else {
                unreachable!()
            };
            txs.0
                .into_iter()
                .map(|tx| {
                    let pool_tx =
                        validate_stateless(PooledTx::try_from(tx).unwrap(), &rules).unwrap();
                    validate_state(&pool_tx, &state).unwrap();
                })
                .count()
        })
    });
    group.finish();
}

/// 500 transfers from each of four keys, as four peers' Transactions.
fn four_peers() -> (Vec<Vec<PooledTx>>, Genesis) {
    let mut genesis = Genesis::default();
    let batches = (1..=4u8)
        .map(|k| {
            let key = B256::repeat_byte(k);
            let txs: Vec<PooledTx> = (0..500)
                .map(|nonce| {
                    let tx = TxEip1559 {
                        chain_id: 1,
                        nonce,
                        gas_limit: 21_000,
                        max_fee_per_gas: 10_000_000_000,
                        max_priority_fee_per_gas: 1,
                        to: TxKind::Call(Address::repeat_byte(1)),
                        value: U256::from(1),
                        ..Default::default()
                    };
                    let signature = sign_message(key, tx.signature_hash()).unwrap();
                    PooledTx::Eip1559(Signed::new_unhashed(tx, signature))
                })
                .collect();
            let sender =
                alloy_consensus::transaction::SignerRecoverable::recover_signer(&txs[0]).unwrap();
            genesis.alloc.insert(
                sender,
                GenesisAccount {
                    balance: U256::from(10).pow(U256::from(24)),
                    ..Default::default()
                },
            );
            txs
        })
        .collect();
    (batches, genesis)
}

fn workers(c: &mut Criterion) {
    use actix::Actor;
    use ethpeer_actors::peer::{Disconnect, ReadGate};
    use ethpeer_actors::txs::ingest::{start_verifiers, IngestTxs, TxIngest};
    use ethpeer_actors::txs::pool::{TxPool, ValidatingTxPool};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Takes the Disconnects nobody should get.
    struct Nobody;
    impl actix::Actor for Nobody {
        type Context = actix::Context<Self>;
    }
    impl actix::Handler<Disconnect> for Nobody {
        type Result = ();
        fn handle(&mut self, _: Disconnect, _: &mut Self::Context) {
            panic!("a valid peer was disconnected")
        }
    }

    let (batches, genesis) = four_peers();
    let rules = ValidationRules {
        chain_id: 1,
        block_gas_limit: 30_000_000,
        max_blobs_per_tx: 9,
        calldata_floor: true,
    };
    let mut group = c.benchmark_group("ingest_2000_txs_from_4_peers");
    group.throughput(Throughput::Elements(2_000));
    group.sample_size(10);
    for threads in [1usize, 2] {
        group.bench_function(format!("{threads}_verifier_threads"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (batches, genesis, rules) =
                        (batches.clone(), genesis.clone(), rules.clone());
                    total += actix_rt::System::new().block_on(async move {
                        let pool = Arc::new(ValidatingTxPool::new(
                            rules,
                            Arc::new(MemoryState::from_genesis(&genesis)),
                        ));
                        let verifiers = start_verifiers(pool.clone(), threads);
                        let ingest =
                            TxIngest::new(pool.clone(), verifiers.recipient(), threads).start();
                        let nobody = Nobody.start().recipient();
                        let started = Instant::now();
                        let sends = batches.into_iter().enumerate().map(|(i, txs)| {
                            ingest.send(IngestTxs {
                                peer: alloy_primitives::B512::repeat_byte(i as u8 + 1),
                                txs,
                                gate: ReadGate::default(),
                                disconnect: nobody.clone(),
                                ticket: None,
                                cells: Default::default(),
                            })
                        });
                        for outcome in futures::future::join_all(sends).await {
                            assert!(outcome.unwrap().iter().all(Result::is_ok));
                        }
                        let took = started.elapsed();
                        assert_eq!(pool.len(), 2_000);
                        took
                    });
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, ingest, workers);
criterion_main!(benches);
