//! Round-trip property tests: every message of every version, generated with random
//! contents (all tx types, blob sidecars in both wrapper versions, headers of every fork
//! shape), encodes and decodes back to itself. Seeded RNG, so failures reproduce.

use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Signed, TxEip1559, TxEip2930,
    TxEip4844, TxEip4844Variant, TxEip4844WithSidecar, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
use alloy_eips::eip4895::{Withdrawal, Withdrawals};
use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::{Address, Bloom, Bytes, Log, LogData, Signature, TxKind, B256, B64, U256};
use ethpeer_actors::eth::forkid::{ForkHash, ForkId};
use ethpeer_actors::eth::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn b256() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}
fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}
fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        any::<[u64; 4]>().prop_map(U256::from_limbs)
    ]
}
fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}
fn signature() -> impl Strategy<Value = Signature> {
    (u256(), u256(), any::<bool>()).prop_map(|(r, s, y)| Signature::new(r, s, y))
}
fn to() -> impl Strategy<Value = TxKind> {
    prop_oneof![Just(TxKind::Create), address().prop_map(TxKind::Call)]
}
fn access_list() -> impl Strategy<Value = AccessList> {
    vec((address(), vec(b256(), 0..3)), 0..3).prop_map(|items| {
        AccessList(
            items
                .into_iter()
                .map(|(address, storage_keys)| AccessListItem {
                    address,
                    storage_keys,
                })
                .collect(),
        )
    })
}

fn legacy() -> impl Strategy<Value = TxLegacy> {
    (
        proptest::option::of(1u64..u32::MAX as u64),
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        to(),
        u256(),
        bytes(64),
    )
        .prop_map(
            |(chain_id, nonce, gas_price, gas_limit, to, value, input)| TxLegacy {
                chain_id,
                nonce,
                gas_price,
                gas_limit,
                to,
                value,
                input,
            },
        )
}
fn eip2930() -> impl Strategy<Value = TxEip2930> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u128>(),
        any::<u64>(),
        to(),
        u256(),
        access_list(),
        bytes(64),
    )
        .prop_map(
            |(chain_id, nonce, gas_price, gas_limit, to, value, access_list, input)| TxEip2930 {
                chain_id,
                nonce,
                gas_price,
                gas_limit,
                to,
                value,
                access_list,
                input,
            },
        )
}
fn eip1559() -> impl Strategy<Value = TxEip1559> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u128>(),
        any::<u128>(),
        to(),
        u256(),
        access_list(),
        bytes(64),
    )
        .prop_map(
            |(
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value,
                access_list,
                input,
            )| TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value,
                access_list,
                input,
            },
        )
}
fn eip4844() -> impl Strategy<Value = TxEip4844> {
    (eip1559(), address(), vec(b256(), 1..4), any::<u128>()).prop_map(
        |(base, to, blob_versioned_hashes, max_fee_per_blob_gas)| TxEip4844 {
            chain_id: base.chain_id,
            nonce: base.nonce,
            gas_limit: base.gas_limit,
            max_fee_per_gas: base.max_fee_per_gas,
            max_priority_fee_per_gas: base.max_priority_fee_per_gas,
            to,
            value: base.value,
            access_list: base.access_list,
            blob_versioned_hashes,
            max_fee_per_blob_gas,
            input: base.input,
        },
    )
}
fn eip7702() -> impl Strategy<Value = TxEip7702> {
    let auth = (u256(), address(), any::<u64>(), any::<u8>(), u256(), u256()).prop_map(
        |(chain_id, address, nonce, y, r, s)| {
            SignedAuthorization::new_unchecked(
                Authorization {
                    chain_id,
                    address,
                    nonce,
                },
                y % 2,
                r,
                s,
            )
        },
    );
    (eip1559(), address(), vec(auth, 0..3)).prop_map(|(base, to, authorization_list)| TxEip7702 {
        chain_id: base.chain_id,
        nonce: base.nonce,
        gas_limit: base.gas_limit,
        max_fee_per_gas: base.max_fee_per_gas,
        max_priority_fee_per_gas: base.max_priority_fee_per_gas,
        to,
        value: base.value,
        access_list: base.access_list,
        authorization_list,
        input: base.input,
    })
}

/// A transaction of any type in its consensus form (blob txs without sidecar).
fn tx() -> BoxedStrategy<TxEnvelope> {
    prop_oneof![
        (legacy(), signature()).prop_map(|(t, s)| TxEnvelope::Legacy(Signed::new_unhashed(t, s))),
        (eip2930(), signature()).prop_map(|(t, s)| TxEnvelope::Eip2930(Signed::new_unhashed(t, s))),
        (eip1559(), signature()).prop_map(|(t, s)| TxEnvelope::Eip1559(Signed::new_unhashed(t, s))),
        (eip4844(), signature()).prop_map(|(t, s)| TxEnvelope::Eip4844(Signed::new_unhashed(
            TxEip4844Variant::TxEip4844(t),
            s
        ))),
        (eip7702(), signature()).prop_map(|(t, s)| TxEnvelope::Eip7702(Signed::new_unhashed(t, s))),
    ]
    .boxed()
}

/// A sidecar: v0 (EIP-4844 proofs) or v1 (EIP-7594 cell proofs). Blobs are 128 KiB, so
/// they are filled with one random byte rather than random data.
fn sidecar() -> impl Strategy<Value = BlobTransactionSidecarVariant> {
    (1usize..3, any::<u8>(), any::<bool>()).prop_map(|(n, fill, v1)| {
        let blobs = vec![Blob::repeat_byte(fill); n];
        let commitments = vec![Bytes48::repeat_byte(fill ^ 1); n];
        if v1 {
            let cell_proofs =
                vec![Bytes48::repeat_byte(fill ^ 2); n * alloy_eips::eip7594::CELLS_PER_EXT_BLOB];
            BlobTransactionSidecarVariant::Eip7594(BlobTransactionSidecarEip7594 {
                blobs,
                commitments,
                cell_proofs,
            })
        } else {
            let proofs = vec![Bytes48::repeat_byte(fill ^ 2); n];
            BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar {
                blobs,
                commitments,
                proofs,
            })
        }
    })
}

/// A transaction as served in PooledTransactions (blob txs with sidecar).
fn pooled_tx() -> BoxedStrategy<PooledTx> {
    prop_oneof![
        3 => tx().prop_filter_map("non-blob", |tx| match tx {
            TxEnvelope::Legacy(t) => Some(PooledTx::Legacy(t)),
            TxEnvelope::Eip2930(t) => Some(PooledTx::Eip2930(t)),
            TxEnvelope::Eip1559(t) => Some(PooledTx::Eip1559(t)),
            TxEnvelope::Eip7702(t) => Some(PooledTx::Eip7702(t)),
            _ => None,
        }),
        1 => (eip4844(), sidecar(), signature()).prop_map(|(tx, sidecar, s)| PooledTx::Eip4844(Signed::new_unhashed(TxEip4844WithSidecar { tx, sidecar }, s))),
    ]
    .boxed()
}

/// A header of any fork shape: the optional fields come in order without gaps.
fn header() -> impl Strategy<Value = Header> {
    let base = (
        b256(),
        b256(),
        address(),
        b256(),
        b256(),
        b256(),
        u256(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        bytes(32),
    );
    let rest = (
        b256(),
        any::<u64>(),
        0usize..=7,
        any::<u64>(),
        b256(),
        any::<u64>(),
        any::<u64>(),
        b256(),
        b256(),
        b256(),
    );
    (base, rest).prop_map(|(base, rest)| {
        let (
            parent_hash,
            ommers_hash,
            beneficiary,
            state_root,
            transactions_root,
            receipts_root,
            difficulty,
            number,
            gas_limit,
            gas_used,
            timestamp,
            extra_data,
        ) = base;
        let (
            mix_hash,
            nonce,
            optional,
            base_fee,
            withdrawals_root,
            blob_gas_used,
            excess_blob_gas,
            beacon_root,
            requests_hash,
            bal_hash,
        ) = rest;
        Header {
            parent_hash,
            ommers_hash,
            beneficiary,
            state_root,
            transactions_root,
            receipts_root,
            logs_bloom: Bloom::repeat_byte(number as u8),
            difficulty,
            number,
            gas_limit,
            gas_used,
            timestamp,
            extra_data,
            mix_hash,
            nonce: B64::from(nonce),
            base_fee_per_gas: (optional >= 1).then_some(base_fee),
            withdrawals_root: (optional >= 2).then_some(withdrawals_root),
            blob_gas_used: (optional >= 3).then_some(blob_gas_used),
            excess_blob_gas: (optional >= 4).then_some(excess_blob_gas),
            parent_beacon_block_root: (optional >= 5).then_some(beacon_root),
            requests_hash: (optional >= 6).then_some(requests_hash),
            block_access_list_hash: (optional >= 7).then_some(bal_hash),
            ..Default::default()
        }
    })
}

fn withdrawals() -> impl Strategy<Value = Option<Withdrawals>> {
    let withdrawal = (any::<u64>(), any::<u64>(), address(), any::<u64>()).prop_map(
        |(index, validator_index, address, amount)| Withdrawal {
            index,
            validator_index,
            address,
            amount,
        },
    );
    proptest::option::of(vec(withdrawal, 0..3).prop_map(Withdrawals::new))
}

fn body() -> impl Strategy<Value = EthBlockBody> {
    (vec(tx(), 0..4), vec(header(), 0..2), withdrawals()).prop_map(
        |(transactions, ommers, withdrawals)| EthBlockBody {
            transactions,
            ommers,
            withdrawals,
        },
    )
}

fn log() -> impl Strategy<Value = Log> {
    (address(), vec(b256(), 0..4), bytes(40)).prop_map(|(address, topics, data)| Log {
        address,
        data: LogData::new_unchecked(topics, data),
    })
}

fn receipt() -> impl Strategy<Value = ReceiptEnvelope> {
    (
        0u8..5,
        any::<bool>(),
        any::<u64>(),
        vec(log(), 0..3),
        any::<u8>(),
    )
        .prop_map(|(ty, status, cumulative_gas_used, logs, bloom)| {
            let r = ReceiptWithBloom {
                receipt: Receipt {
                    status: Eip658Value::Eip658(status),
                    cumulative_gas_used,
                    logs,
                },
                logs_bloom: Bloom::repeat_byte(bloom),
            };
            match ty {
                0 => ReceiptEnvelope::Legacy(r),
                1 => ReceiptEnvelope::Eip2930(r),
                2 => ReceiptEnvelope::Eip1559(r),
                3 => ReceiptEnvelope::Eip4844(r),
                _ => ReceiptEnvelope::Eip7702(r),
            }
        })
}

fn receipt69() -> impl Strategy<Value = Receipt69> {
    let status = prop_oneof![
        any::<bool>().prop_map(Eip658Value::Eip658),
        b256().prop_map(Eip658Value::PostState)
    ];
    (0u8..5, status, any::<u64>(), vec(log(), 0..3)).prop_map(
        |(tx_type, status, cumulative_gas_used, logs)| Receipt69 {
            tx_type,
            status,
            cumulative_gas_used,
            logs,
        },
    )
}

fn fork_id() -> impl Strategy<Value = ForkId> {
    (any::<[u8; 4]>(), any::<u64>()).prop_map(|(hash, next)| ForkId {
        hash: ForkHash(hash),
        next,
    })
}

fn hashes() -> impl Strategy<Value = Vec<B256>> {
    vec(b256(), 0..8)
}

/// Any message that is legal with id `id` on an `version` connection.
fn message(version: EthVersion, id: EthMessageId) -> BoxedStrategy<EthMessage> {
    let v = version.as_u8();
    let rid = any::<u64>();
    match id {
        EthMessageId::Status if version >= EthVersion::Eth69 => (
            any::<u64>(),
            b256(),
            fork_id(),
            any::<u64>(),
            any::<u64>(),
            b256(),
        )
            .prop_map(
                move |(network_id, genesis, fork_id, earliest, latest, latest_hash)| {
                    EthMessage::Status69(Status69 {
                        version: v,
                        network_id,
                        genesis,
                        fork_id,
                        earliest,
                        latest,
                        latest_hash,
                    })
                },
            )
            .boxed(),
        EthMessageId::Status => (any::<u64>(), u256(), b256(), b256(), fork_id())
            .prop_map(
                move |(network_id, total_difficulty, best_hash, genesis, fork_id)| {
                    EthMessage::Status(Status {
                        version: v,
                        network_id,
                        total_difficulty,
                        best_hash,
                        genesis,
                        fork_id,
                    })
                },
            )
            .boxed(),
        EthMessageId::NewBlockHashes => vec(
            (b256(), any::<u64>()).prop_map(|(hash, number)| BlockHashNumber { hash, number }),
            0..5,
        )
        .prop_map(|v| EthMessage::NewBlockHashes(NewBlockHashes(v)))
        .boxed(),
        EthMessageId::Transactions => vec(tx(), 0..5)
            .prop_map(|t| EthMessage::Transactions(Transactions(t)))
            .boxed(),
        EthMessageId::GetBlockHeaders => {
            let start = prop_oneof![
                any::<u64>().prop_map(BlockHashOrNumber::Number),
                b256().prop_map(BlockHashOrNumber::Hash)
            ];
            (rid, start, any::<u64>(), any::<u64>(), any::<bool>())
                .prop_map(|(r, start_block, limit, skip, reverse)| {
                    EthMessage::GetBlockHeaders(RequestPair::new(
                        r,
                        GetBlockHeaders {
                            start_block,
                            limit,
                            skip,
                            reverse,
                        },
                    ))
                })
                .boxed()
        }
        EthMessageId::BlockHeaders => (rid, vec(header(), 0..4))
            .prop_map(|(r, h)| EthMessage::BlockHeaders(RequestPair::new(r, BlockHeaders(h))))
            .boxed(),
        EthMessageId::GetBlockBodies => (rid, hashes())
            .prop_map(|(r, h)| EthMessage::GetBlockBodies(RequestPair::new(r, GetBlockBodies(h))))
            .boxed(),
        EthMessageId::BlockBodies => (rid, vec(body(), 0..3))
            .prop_map(|(r, b)| EthMessage::BlockBodies(RequestPair::new(r, BlockBodies(b))))
            .boxed(),
        EthMessageId::NewBlock => (header(), body(), u256())
            .prop_map(|(header, body, td)| {
                EthMessage::NewBlock(Box::new(NewBlock {
                    block: EthBlock { header, body },
                    td,
                }))
            })
            .boxed(),
        EthMessageId::NewPooledTransactionHashes if version >= EthVersion::Eth72 => {
            (vec((0u8..5, any::<u32>(), b256()), 0..8), any::<[u8; 16]>())
                .prop_map(|(entries, mask)| {
                    EthMessage::NewPooledTransactionHashes72(NewPooledTransactionHashes72 {
                        types: entries.iter().map(|e| e.0).collect::<Vec<_>>().into(),
                        sizes: entries.iter().map(|e| u64::from(e.1)).collect(),
                        hashes: entries.iter().map(|e| e.2).collect(),
                        mask: CustodyBitmap(mask.into()),
                    })
                })
                .boxed()
        }
        EthMessageId::NewPooledTransactionHashes if version >= EthVersion::Eth68 => {
            vec((0u8..5, any::<u32>(), b256()), 0..8)
                .prop_map(|entries| {
                    let types = entries.iter().map(|e| e.0).collect::<Vec<_>>().into();
                    let sizes = entries.iter().map(|e| u64::from(e.1)).collect();
                    let hashes = entries.iter().map(|e| e.2).collect();
                    EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                        types,
                        sizes,
                        hashes,
                    })
                })
                .boxed()
        }
        EthMessageId::NewPooledTransactionHashes => hashes()
            .prop_map(|h| EthMessage::NewPooledTransactionHashes66(NewPooledTransactionHashes66(h)))
            .boxed(),
        EthMessageId::GetPooledTransactions => (rid, hashes())
            .prop_map(|(r, h)| {
                EthMessage::GetPooledTransactions(RequestPair::new(r, GetPooledTransactions(h)))
            })
            .boxed(),
        EthMessageId::PooledTransactions => (rid, vec(pooled_tx(), 0..3))
            .prop_map(|(r, t)| {
                EthMessage::PooledTransactions(RequestPair::new(r, PooledTransactions(t)))
            })
            .boxed(),
        EthMessageId::GetNodeData => (rid, hashes())
            .prop_map(|(r, h)| EthMessage::GetNodeData(RequestPair::new(r, GetNodeData(h))))
            .boxed(),
        EthMessageId::NodeData => (rid, vec(bytes(100), 0..4))
            .prop_map(|(r, d)| EthMessage::NodeData(RequestPair::new(r, NodeData(d))))
            .boxed(),
        EthMessageId::GetReceipts if version >= EthVersion::Eth70 => (rid, any::<u64>(), hashes())
            .prop_map(|(request_id, first_block_receipt_index, block_hashes)| {
                EthMessage::GetReceipts70(GetReceipts70 {
                    request_id,
                    first_block_receipt_index,
                    block_hashes,
                })
            })
            .boxed(),
        EthMessageId::GetReceipts => (rid, hashes())
            .prop_map(|(r, h)| EthMessage::GetReceipts(RequestPair::new(r, GetReceipts(h))))
            .boxed(),
        EthMessageId::Receipts if version >= EthVersion::Eth70 => {
            (rid, any::<bool>(), vec(vec(receipt69(), 0..3), 0..3))
                .prop_map(|(request_id, last_block_incomplete, receipts)| {
                    EthMessage::Receipts70(Receipts70 {
                        request_id,
                        last_block_incomplete,
                        receipts,
                    })
                })
                .boxed()
        }
        EthMessageId::Receipts if version >= EthVersion::Eth69 => {
            (rid, vec(vec(receipt69(), 0..3), 0..3))
                .prop_map(|(r, rs)| EthMessage::Receipts69(RequestPair::new(r, Receipts69(rs))))
                .boxed()
        }
        EthMessageId::Receipts => (rid, vec(vec(receipt(), 0..3), 0..3))
            .prop_map(|(r, rs)| EthMessage::Receipts(RequestPair::new(r, Receipts(rs))))
            .boxed(),
        EthMessageId::BlockRangeUpdate => (any::<u64>(), any::<u64>(), b256())
            .prop_filter("valid range", |(_, _, h)| !h.is_zero())
            .prop_map(|(a, b, latest_hash)| {
                EthMessage::BlockRangeUpdate(BlockRangeUpdate {
                    earliest: a.min(b),
                    latest: a.max(b),
                    latest_hash,
                })
            })
            .boxed(),
        EthMessageId::GetBlockAccessLists => (rid, hashes())
            .prop_map(|(r, h)| {
                EthMessage::GetBlockAccessLists(RequestPair::new(r, GetBlockAccessLists(h)))
            })
            .boxed(),
        EthMessageId::BlockAccessLists => (rid, vec(access_list_entry(), 0..5))
            .prop_map(|(r, e)| {
                EthMessage::BlockAccessLists(RequestPair::new(r, BlockAccessLists(e)))
            })
            .boxed(),
        EthMessageId::GetCells => (rid, hashes(), any::<[u8; 16]>())
            .prop_map(|(request_id, hashes, mask)| {
                EthMessage::GetCells(GetCells {
                    request_id,
                    hashes,
                    mask: CustodyBitmap(mask.into()),
                })
            })
            .boxed(),
        EthMessageId::Cells => (rid, cell_lists(), any::<[u8; 16]>())
            .prop_map(|(request_id, (hashes, cells), mask)| {
                EthMessage::Cells(Cells {
                    request_id,
                    hashes,
                    cells,
                    mask: CustodyBitmap(mask.into()),
                })
            })
            .boxed(),
    }
}

/// Every version with a codec.
fn codec_versions() -> impl Iterator<Item = EthVersion> {
    EthVersion::ALL.into_iter()
}

/// Cells for `hashes` transactions (a few random cells each).
fn cell_lists() -> impl Strategy<Value = (Vec<B256>, Vec<Vec<cells::Cell>>)> {
    vec(
        (
            b256(),
            vec(any::<u8>().prop_map(cells::Cell::repeat_byte), 0..3),
        ),
        0..3,
    )
    .prop_map(|entries| entries.into_iter().unzip())
}

/// A BlockAccessLists entry: unavailable, or some RLP list standing in for a BAL (any list
/// is carried verbatim).
fn access_list_entry() -> impl Strategy<Value = BlockAccessListEntry> {
    prop_oneof![
        Just(BlockAccessListEntry::Unavailable),
        vec(bytes(40), 0..4)
            .prop_map(|items| BlockAccessListEntry::Available(alloy_rlp::encode(items).into())),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn every_message_of_every_version_round_trips() {
    let mut covered = 0;
    for version in codec_versions() {
        for id in EthMessageId::ALL
            .into_iter()
            .filter(|id| id.is_valid_in(version))
        {
            runner(32)
                .run(&message(version, id), |message| {
                    prop_assert!(
                        message.is_valid_for(version),
                        "{message:?} not valid for {version}"
                    );
                    let encoded = message.encoded();
                    prop_assert_eq!(encoded.len(), message.length());
                    let decoded = EthMessage::decode(version, id as u8, &encoded)
                        .map_err(|e| TestCaseError::fail(format!("{version} {id:?}: {e}")))?;
                    prop_assert_eq!(&decoded, &message);
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{version} {id:?}: {e}"));
            covered += 1;
        }
    }
    // 66: 15 ids (no BlockRangeUpdate); 67, 68: 13; 69, 70: 12; 71: 14; 72: 16.
    assert_eq!(covered, 15 + 13 + 13 + 12 + 12 + 14 + 16);
}

#[test]
fn receipts_convert_between_the_bloom_and_bloomless_shapes() {
    runner(64)
        .run(&receipt69(), |r| {
            let envelope = r.clone().into_envelope();
            prop_assert_eq!(Receipt69::from_envelope(&envelope), r);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic_any_decoder() {
    // Every (version, id) including ids no version defines, fed random payloads and
    // random mutations of valid ones.
    for version in codec_versions() {
        for id in 0u8..=0x16 {
            runner(64)
                .run(&vec(any::<u8>(), 0..300), |bytes| {
                    let _ = EthMessage::decode(version, id, &bytes);
                    Ok(())
                })
                .unwrap();
        }
        for id in EthMessageId::ALL
            .into_iter()
            .filter(|id| id.is_valid_in(version))
        {
            let mutated = (
                message(version, id),
                any::<prop::sample::Index>(),
                any::<u8>(),
            )
                .prop_map(|(m, at, byte)| {
                    let mut bytes = m.encoded();
                    if !bytes.is_empty() {
                        let i = at.index(bytes.len());
                        bytes[i] ^= byte | 1;
                    }
                    bytes
                });
            runner(16)
                .run(&mutated, |bytes| {
                    let _ = EthMessage::decode(version, id as u8, &bytes);
                    Ok(())
                })
                .unwrap();
        }
    }
}
