//! The queue rules: bounds and what is dropped, priorities, packing, send-time lookups.

use std::sync::Arc;

use alloy_primitives::{B256, U256};

use super::*;
use crate::eth::{EthBlock, EthMessage, EthVersion};
use crate::testing::{blob_tx, legacy_tx, pool, sender, tx};

fn hashes(n: u64) -> Vec<B256> {
    (0..n).map(|i| B256::from(U256::from(i))).collect()
}

#[test]
fn tx_queues_keep_the_newest_4096_and_count_the_oldest_dropped() {
    let metrics = PeerMetrics::default();
    let mut queues = PeerQueues::default();
    assert_eq!(queues.push_txs(hashes(4000), &metrics), 0);
    assert_eq!(queues.push_txs(hashes(200), &metrics), 104);
    assert_eq!(
        queues.push_tx_anns(hashes(5000), &metrics),
        5000 - MAX_QUEUED_TX_ANNS
    );
    assert_eq!(queues.len(), MAX_QUEUED_TXS + MAX_QUEUED_TX_ANNS);
    assert_eq!(PeerMetrics::get(&metrics.dropped_txs), 104);
    assert_eq!(PeerMetrics::get(&metrics.dropped_tx_anns), 904);
}

#[test]
fn block_queues_hold_four_and_drop_the_new_one() {
    let metrics = PeerMetrics::default();
    let mut queues = PeerQueues::default();
    let block = Arc::new(EthBlock::default());
    for _ in 0..MAX_QUEUED_PROPS {
        assert!(queues.push_prop(
            QueuedProp {
                block: block.clone(),
                td: U256::from(1)
            },
            &metrics
        ));
    }
    assert!(!queues.push_prop(
        QueuedProp {
            block,
            td: U256::from(2)
        },
        &metrics
    ));
    for n in 0..5 {
        let accepted = queues.push_block_ann(
            crate::eth::BlockHashNumber {
                hash: B256::ZERO,
                number: n,
            },
            &metrics,
        );
        assert_eq!(accepted, n < 4);
    }
    assert_eq!(PeerMetrics::get(&metrics.dropped_props), 1);
    assert_eq!(PeerMetrics::get(&metrics.dropped_block_anns), 1);
}

#[test]
fn blocks_are_packed_before_transactions() {
    let (mem, pool) = pool();
    let txs: Vec<_> = (0..10).map(|n| tx(sender(1), n, 0)).collect();
    let tx_hashes = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    let metrics = PeerMetrics::default();
    let mut queues = PeerQueues::default();
    queues.push_txs(tx_hashes, &metrics);
    queues.push_block_ann(
        crate::eth::BlockHashNumber {
            hash: B256::ZERO,
            number: 9,
        },
        &metrics,
    );
    queues.push_prop(
        QueuedProp {
            block: Arc::new(EthBlock::default()),
            td: U256::from(7),
        },
        &metrics,
    );
    let order: Vec<_> =
        std::iter::from_fn(|| queues.next_message(pool.as_ref(), EthVersion::Eth68, &metrics))
            .map(|m| m.message_id())
            .collect();
    use crate::eth::EthMessageId::*;
    assert_eq!(order, vec![NewBlock, NewBlockHashes, Transactions]);
}

#[test]
fn transactions_are_packed_to_about_100_kib_and_gone_ones_skipped() {
    let (mem, pool) = pool();
    // 300 txs of ~1 KiB: a message holds ~100 of them.
    let txs: Vec<_> = (0..300).map(|n| tx(sender(2), n, 1000)).collect();
    let all: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    mem.remove(&all[..5]);
    let metrics = PeerMetrics::default();
    let mut queues = PeerQueues::default();
    queues.push_txs(all.clone(), &metrics);
    let mut sent = Vec::new();
    while let Some(EthMessage::Transactions(batch)) =
        queues.next_message(pool.as_ref(), EthVersion::Eth68, &metrics)
    {
        let size: usize = batch
            .0
            .iter()
            .map(alloy_eips::eip2718::Encodable2718::encode_2718_len)
            .sum();
        // Items are added while below the limit, so one tx may cross it.
        assert!(size < MAX_TX_PACKET_SIZE + 1200, "{size}");
        sent.extend(batch.0.iter().map(|t| *t.tx_hash()));
    }
    assert_eq!(sent, all[5..].to_vec());
    assert_eq!(PeerMetrics::get(&metrics.skipped_gone), 5);
    assert!(PeerMetrics::get(&metrics.sent_txs) == 295);
}

#[test]
fn announcements_take_the_negotiated_versions_shape() {
    let (mem, pool) = pool();
    let txs = vec![
        tx(sender(3), 0, 10),
        legacy_tx(sender(3), 1),
        blob_tx(sender(4), 0),
    ];
    let expected: Vec<(u8, u64, B256)> = txs
        .iter()
        .map(|t| (t.tx_type, t.size as u64, t.hash))
        .collect();
    let hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    let metrics = PeerMetrics::default();

    let mut queues = PeerQueues::default();
    queues.push_tx_anns(hashes.clone(), &metrics);
    let Some(EthMessage::NewPooledTransactionHashes68(ann)) =
        queues.next_message(pool.as_ref(), EthVersion::Eth68, &metrics)
    else {
        panic!("eth/68 announcement expected")
    };
    let got: Vec<(u8, u64, B256)> = ann.iter().map(|(t, s, h)| (t, s, *h)).collect();
    assert_eq!(got, expected);
    assert_eq!(got[2].0, 3, "blob tx announced with type 3");
    assert!(got[2].1 > 131_072, "blob tx size includes the sidecar");

    queues.push_tx_anns(hashes.clone(), &metrics);
    let Some(EthMessage::NewPooledTransactionHashes66(ann)) =
        queues.next_message(pool.as_ref(), EthVersion::Eth67, &metrics)
    else {
        panic!("eth/67 announcement expected")
    };
    assert_eq!(ann.0, hashes);
}

#[test]
fn blob_transactions_are_never_packed_in_full() {
    let (mem, pool) = pool();
    let blob = blob_tx(sender(5), 0);
    let hash = blob.hash;
    mem.insert([blob]);
    let metrics = PeerMetrics::default();
    let mut queues = PeerQueues::default();
    queues.push_txs(vec![hash], &metrics);
    assert!(queues
        .next_message(pool.as_ref(), EthVersion::Eth68, &metrics)
        .is_none());
    assert_eq!(mem.len(), 1);
}

#[test]
fn eth72_announcements_name_each_txs_columns_and_older_peers_never_see_sampled_txs() {
    use crate::eth::cells::{cell_sidecar, without_blobs, CustodyBitmap};
    use crate::eth::SampledCells;
    use crate::testing::{cell_blob_tx, column_cells};
    use crate::txs::pool::PoolTx;
    let (mem, shared) = pool();
    let custody = CustodyBitmap::from_indices([1, 2, 3, 4]).expect("mask");
    // A sampled blob tx: blobless, with its custody cells.
    let full = cell_blob_tx(sender(2), 0, &[7]);
    let sidecar = cell_sidecar(&full).expect("7594").clone();
    let cells = SampledCells::verify(&sidecar, custody, column_cells(&full, &custody))
        .expect("cells verify");
    let sampled = PoolTx::new(without_blobs(&full), sender(2)).with_cells(cells);
    let (plain, whole) = (tx(sender(1), 0, 10), blob_tx(sender(3), 0));
    mem.insert([plain.clone(), sampled.clone(), whole.clone()]);
    let order = vec![plain.hash, sampled.hash, whole.hash];
    let metrics = PeerMetrics::default();

    // eth/72: every column for blob txs held whole, the custody for the sampled one; one
    // mask per message, so the whole one waits for the next message.
    let mut queues = PeerQueues::default();
    queues.push_tx_anns(order.clone(), &metrics);
    let mut sent = Vec::new();
    while let Some(message) = queues.next_message(shared.as_ref(), EthVersion::Eth72, &metrics) {
        let EthMessage::NewPooledTransactionHashes72(ann) = message else {
            panic!("{message:?}")
        };
        sent.push((ann.hashes, ann.mask));
    }
    assert_eq!(
        sent,
        vec![
            (vec![plain.hash, sampled.hash], custody),
            (vec![whole.hash], CustodyBitmap::ALL),
        ]
    );

    // eth/68: the sampled tx is left out (its announcement would ask for blobs we lack).
    let mut queues = PeerQueues::default();
    queues.push_tx_anns(order, &metrics);
    let message = queues.next_message(shared.as_ref(), EthVersion::Eth68, &metrics);
    let Some(EthMessage::NewPooledTransactionHashes68(ann)) = message else {
        panic!("{message:?}")
    };
    assert_eq!(ann.hashes, vec![plain.hash, whole.hash]);
    // Without blob txs the mask is empty (geth's zero bitmap).
    let mut queues = PeerQueues::default();
    queues.push_tx_anns(vec![plain.hash], &metrics);
    let message = queues.next_message(shared.as_ref(), EthVersion::Eth72, &metrics);
    let Some(EthMessage::NewPooledTransactionHashes72(ann)) = message else {
        panic!("{message:?}")
    };
    assert_eq!(ann.mask, CustodyBitmap::default());
}
