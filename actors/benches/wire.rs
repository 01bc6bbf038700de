//! Wire codec benchmarks: BlockHeaders (1024 post-Cancun headers), BlockBodies,
//! Transactions (100 mixed-type txs), PooledTransactions with a blob tx; and the same
//! header and a 100-tx list through parity's `rlp` + `ethereum-types` for comparison.
//!
//! Run: `cargo bench -p ethpeer-actors --bench wire`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use alloy_consensus::{
    Header, Signed, TxEip1559, TxEip2930, TxEip4844, TxEip4844WithSidecar, TxEip7702, TxEnvelope,
    TxLegacy,
};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
use alloy_eips::eip4895::{Withdrawal, Withdrawals};
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{Address, Bloom, Bytes, Signature, TxKind, B256, B64, U256};
use alloy_rlp::{Decodable, Encodable};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ethpeer_actors::eth::{
    BlockBodies, BlockHeaders, EthBlockBody, EthMessage, EthVersion, PooledTransactions, PooledTx,
    RequestPair, Transactions,
};
use std::hint::black_box;

/// Deterministic filler so runs compare: byte `i` of item `n`.
fn b256(n: u64) -> B256 {
    B256::from(
        U256::from(n)
            .wrapping_mul(U256::from(0x9e37_79b9_7f4a_7c15u64))
            .wrapping_add(U256::MAX / U256::from(3)),
    )
}

fn header(n: u64) -> Header {
    Header {
        parent_hash: b256(n),
        ommers_hash: b256(n + 1),
        beneficiary: Address::repeat_byte(n as u8),
        state_root: b256(n + 2),
        transactions_root: b256(n + 3),
        receipts_root: b256(n + 4),
        logs_bloom: Bloom::repeat_byte(0x5a),
        difficulty: U256::ZERO,
        number: 20_000_000 + n,
        gas_limit: 36_000_000,
        gas_used: 17_123_456,
        timestamp: 1_730_000_000 + 12 * n,
        extra_data: Bytes::from_static(b"ethpeer bench header"),
        mix_hash: b256(n + 5),
        nonce: B64::ZERO,
        base_fee_per_gas: Some(7_000_000_000),
        withdrawals_root: Some(b256(n + 6)),
        blob_gas_used: Some(393_216),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(b256(n + 7)),
        requests_hash: Some(b256(n + 8)),
        ..Default::default()
    }
}

fn signature(n: u64) -> Signature {
    Signature::new(
        U256::from_be_bytes(b256(n).0),
        U256::from_be_bytes(b256(n + 9).0) >> 2,
        n.is_multiple_of(2),
    )
}

fn access_list(n: u64) -> AccessList {
    AccessList(vec![AccessListItem {
        address: Address::repeat_byte(7),
        storage_keys: vec![b256(n), b256(n + 1)],
    }])
}

/// 100 transactions: legacy, 2930, 1559, 4844 (consensus form) and 7702, round robin,
/// each with ~100 bytes of calldata (a token transfer is 68).
fn mixed_txs(count: u64) -> Vec<TxEnvelope> {
    (0..count)
        .map(|n| {
            let input = Bytes::from(vec![n as u8; 100]);
            let to = Address::repeat_byte(n as u8);
            let value = U256::from(n) * U256::from(10u64.pow(15));
            match n % 5 {
                0 => TxEnvelope::Legacy(Signed::new_unhashed(
                    TxLegacy {
                        chain_id: Some(1),
                        nonce: n,
                        gas_price: 20_000_000_000,
                        gas_limit: 21_000,
                        to: TxKind::Call(to),
                        value,
                        input,
                    },
                    signature(n),
                )),
                1 => TxEnvelope::Eip2930(Signed::new_unhashed(
                    TxEip2930 {
                        chain_id: 1,
                        nonce: n,
                        gas_price: 20_000_000_000,
                        gas_limit: 50_000,
                        to: TxKind::Call(to),
                        value,
                        access_list: access_list(n),
                        input,
                    },
                    signature(n),
                )),
                2 => TxEnvelope::Eip1559(Signed::new_unhashed(
                    TxEip1559 {
                        chain_id: 1,
                        nonce: n,
                        gas_limit: 50_000,
                        max_fee_per_gas: 30_000_000_000,
                        max_priority_fee_per_gas: 1_000_000_000,
                        to: TxKind::Call(to),
                        value,
                        access_list: AccessList::default(),
                        input,
                    },
                    signature(n),
                )),
                3 => TxEnvelope::Eip4844(Signed::new_unhashed(blob_tx(n).into(), signature(n))),
                _ => TxEnvelope::Eip7702(Signed::new_unhashed(
                    TxEip7702 {
                        chain_id: 1,
                        nonce: n,
                        gas_limit: 80_000,
                        max_fee_per_gas: 30_000_000_000,
                        max_priority_fee_per_gas: 1_000_000_000,
                        to,
                        value,
                        access_list: AccessList::default(),
                        authorization_list: vec![],
                        input,
                    },
                    signature(n),
                )),
            }
        })
        .collect()
}

fn blob_tx(n: u64) -> TxEip4844 {
    TxEip4844 {
        chain_id: 1,
        nonce: n,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(9),
        value: U256::ZERO,
        access_list: AccessList::default(),
        blob_versioned_hashes: vec![b256(n)],
        max_fee_per_blob_gas: 1_000_000_000,
        input: Bytes::new(),
    }
}

fn body(n: u64) -> EthBlockBody {
    let withdrawals = (0..16)
        .map(|i| Withdrawal {
            index: n * 16 + i,
            validator_index: i,
            address: Address::repeat_byte(i as u8),
            amount: 32_000,
        })
        .collect();
    EthBlockBody {
        transactions: mixed_txs(100),
        ommers: vec![],
        withdrawals: Some(Withdrawals::new(withdrawals)),
    }
}

fn bench_message(c: &mut Criterion, name: &str, version: EthVersion, message: &EthMessage) {
    let id = message.message_id() as u8;
    let encoded = message.encoded();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(message).encoded()));
    group.bench_function("decode", |b| {
        b.iter(|| EthMessage::decode(version, id, black_box(&encoded)).unwrap())
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    let headers = EthMessage::BlockHeaders(RequestPair::new(
        1,
        BlockHeaders((0..1024).map(header).collect()),
    ));
    bench_message(c, "BlockHeaders_1024", EthVersion::Eth68, &headers);

    let bodies = EthMessage::BlockBodies(RequestPair::new(
        1,
        BlockBodies((0..16).map(body).collect()),
    ));
    bench_message(c, "BlockBodies_16x100tx", EthVersion::Eth68, &bodies);

    let txs = EthMessage::Transactions(Transactions(mixed_txs(100)));
    bench_message(c, "Transactions_100_mixed", EthVersion::Eth68, &txs);

    let sidecar = BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar {
        blobs: vec![Blob::repeat_byte(0x11)],
        commitments: vec![Bytes48::repeat_byte(0x22)],
        proofs: vec![Bytes48::repeat_byte(0x33)],
    });
    let mut pooled: Vec<PooledTx> = mixed_txs(9)
        .into_iter()
        .filter_map(|tx| match tx {
            TxEnvelope::Legacy(t) => Some(PooledTx::Legacy(t)),
            TxEnvelope::Eip2930(t) => Some(PooledTx::Eip2930(t)),
            TxEnvelope::Eip1559(t) => Some(PooledTx::Eip1559(t)),
            TxEnvelope::Eip7702(t) => Some(PooledTx::Eip7702(t)),
            _ => None,
        })
        .collect();
    pooled.push(PooledTx::Eip4844(Signed::new_unhashed(
        TxEip4844WithSidecar {
            tx: blob_tx(99),
            sidecar,
        },
        signature(99),
    )));
    let pooled = EthMessage::PooledTransactions(RequestPair::new(1, PooledTransactions(pooled)));
    bench_message(c, "PooledTransactions_blob", EthVersion::Eth68, &pooled);
}

/// The README comparison: one post-Cancun header and a 100-tx list (legacy txs, the one
/// shape both stacks decode field by field) through alloy-rlp and through parity `rlp`.
// The decoded values are only black-boxed, never read.
#[allow(dead_code)]
mod parity {
    use ethereum_types::{Address, Bloom, H256, H64, U256};
    use rlp::{DecoderError, Rlp};

    pub struct Header {
        pub parent_hash: H256,
        pub ommers_hash: H256,
        pub beneficiary: Address,
        pub state_root: H256,
        pub transactions_root: H256,
        pub receipts_root: H256,
        pub logs_bloom: Bloom,
        pub difficulty: U256,
        pub number: u64,
        pub gas_limit: u64,
        pub gas_used: u64,
        pub timestamp: u64,
        pub extra_data: Vec<u8>,
        pub mix_hash: H256,
        pub nonce: H64,
        pub base_fee: U256,
        pub withdrawals_root: H256,
        pub blob_gas_used: u64,
        pub excess_blob_gas: u64,
        pub beacon_root: H256,
        pub requests_hash: H256,
    }

    impl rlp::Decodable for Header {
        fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
            Ok(Self {
                parent_hash: r.val_at(0)?,
                ommers_hash: r.val_at(1)?,
                beneficiary: r.val_at(2)?,
                state_root: r.val_at(3)?,
                transactions_root: r.val_at(4)?,
                receipts_root: r.val_at(5)?,
                logs_bloom: r.val_at(6)?,
                difficulty: r.val_at(7)?,
                number: r.val_at(8)?,
                gas_limit: r.val_at(9)?,
                gas_used: r.val_at(10)?,
                timestamp: r.val_at(11)?,
                extra_data: r.val_at(12)?,
                mix_hash: r.val_at(13)?,
                nonce: r.val_at(14)?,
                base_fee: r.val_at(15)?,
                withdrawals_root: r.val_at(16)?,
                blob_gas_used: r.val_at(17)?,
                excess_blob_gas: r.val_at(18)?,
                beacon_root: r.val_at(19)?,
                requests_hash: r.val_at(20)?,
            })
        }
    }

    pub struct LegacyTx {
        pub nonce: u64,
        pub gas_price: U256,
        pub gas: u64,
        pub to: Address,
        pub value: U256,
        pub data: Vec<u8>,
        pub v: u64,
        pub r: U256,
        pub s: U256,
    }

    impl rlp::Decodable for LegacyTx {
        fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
            Ok(Self {
                nonce: r.val_at(0)?,
                gas_price: r.val_at(1)?,
                gas: r.val_at(2)?,
                to: r.val_at(3)?,
                value: r.val_at(4)?,
                data: r.val_at(5)?,
                v: r.val_at(6)?,
                r: r.val_at(7)?,
                s: r.val_at(8)?,
            })
        }
    }
}

fn alloy_vs_parity(c: &mut Criterion) {
    let header_bytes = alloy_rlp::encode(header(1));
    let legacy: Vec<TxEnvelope> = (0..100)
        .map(|n| {
            TxEnvelope::Legacy(Signed::new_unhashed(
                TxLegacy {
                    chain_id: Some(1),
                    nonce: n,
                    gas_price: 20_000_000_000,
                    gas_limit: 21_000,
                    to: TxKind::Call(Address::repeat_byte(n as u8)),
                    value: U256::from(n),
                    input: Bytes::from(vec![n as u8; 100]),
                },
                signature(n),
            ))
        })
        .collect();
    let txs_bytes = alloy_rlp::encode(&legacy);

    let mut group = c.benchmark_group("rlp_stack");
    group.bench_with_input(
        BenchmarkId::new("alloy", "header_decode"),
        &header_bytes,
        |b, bytes| b.iter(|| Header::decode(&mut black_box(bytes.as_slice())).unwrap()),
    );
    group.bench_with_input(
        BenchmarkId::new("parity", "header_decode"),
        &header_bytes,
        |b, bytes| b.iter(|| rlp::decode::<parity::Header>(black_box(bytes)).unwrap()),
    );
    group.bench_with_input(
        BenchmarkId::new("alloy", "txs100_decode"),
        &txs_bytes,
        |b, bytes| b.iter(|| Vec::<TxEnvelope>::decode(&mut black_box(bytes.as_slice())).unwrap()),
    );
    group.bench_with_input(
        BenchmarkId::new("parity", "txs100_decode"),
        &txs_bytes,
        |b, bytes| b.iter(|| rlp::decode_list::<parity::LegacyTx>(black_box(bytes))),
    );
    let decoded_header = Header::decode(&mut header_bytes.as_slice()).unwrap();
    group.bench_function(BenchmarkId::new("alloy", "header_encode"), |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(600);
            black_box(&decoded_header).encode(&mut out);
            out
        })
    });
    group.finish();
}

criterion_group!(benches, wire, alloy_vs_parity);
criterion_main!(benches);
