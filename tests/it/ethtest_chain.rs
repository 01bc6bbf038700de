//! The hive `ethtest` chain (600 post-merge blocks, `ethtest/`): every block decodes and
//! re-encodes byte for byte, links to its parent, has matching tx and withdrawals roots,
//! and every transaction's sender recovers; our genesis header hashes to block 1's parent.

use std::collections::HashSet;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::{Address, B256};
use alloy_rlp::{Decodable, Encodable};
use ethpeer_actors::chain::{self, verify_block};
use ethpeer_actors::eth::{genesis, EthBlock, EthMessage, EthVersion, NewBlock};

use crate::common::{json, testdata_or_skip};

/// Genesis hash and head recomputed independently (geth-reth-notes.md, section 7).
const GENESIS_HASH: &str = "bd6a252af394d80904c5993b859574bd4669642cea00a116970ec7887db67533";
const HEAD_HASH: &str = "44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a";

#[test]
fn all_600_blocks_decode_reencode_link_and_verify() {
    let dir = testdata_or_skip!();
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let mut rest = bytes.as_slice();
    let mut previous: Option<B256> = None;
    let mut blocks = 0;
    let mut txs = 0;
    while !rest.is_empty() {
        let before = rest;
        let block = EthBlock::decode(&mut rest).expect("block decodes");
        let raw = &before[..before.len() - rest.len()];
        let mut again = Vec::with_capacity(raw.len());
        block.encode(&mut again);
        assert!(
            again == raw,
            "block {} does not re-encode identically",
            block.header.number
        );
        if let Some(parent) = previous {
            assert_eq!(
                block.header.parent_hash, parent,
                "block {}",
                block.header.number
            );
        }
        verify_block(&block).expect("roots match");
        previous = Some(block.header.hash_slow());
        blocks += 1;
        txs += block.body.transactions.len();
    }
    assert_eq!(blocks, 600);
    assert_eq!(txs, 603, "geth-reth-notes.md: 603 txs in the chain");
    assert_eq!(
        previous.expect("head").to_string(),
        format!("0x{HEAD_HASH}")
    );
}

#[test]
fn genesis_from_genesis_json_is_block_1s_parent() {
    let dir = testdata_or_skip!();
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis.json");
    let header = genesis::genesis_header(&spec).expect("genesis header");
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let first = EthBlock::decode(&mut bytes.as_slice()).expect("block 1");
    assert_eq!(header.hash_slow(), first.header.parent_hash);
    assert_eq!(header.hash_slow().to_string(), format!("0x{GENESIS_HASH}"));
}

#[test]
fn every_transaction_sender_recovers_to_a_known_account() {
    let dir = testdata_or_skip!();
    let accounts = json(&dir, "ethtest/accounts.json");
    let known: HashSet<Address> = accounts
        .as_object()
        .expect("accounts")
        .keys()
        .map(|k| k.parse().expect("address"))
        .collect();
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    let mut recovered = 0;
    for block in &blocks {
        for tx in &block.body.transactions {
            let sender = tx
                .recover_signer()
                .unwrap_or_else(|e| panic!("tx {}: {e}", tx.tx_hash()));
            assert!(
                known.contains(&sender),
                "tx {} sent by unknown {sender}",
                tx.tx_hash()
            );
            recovered += 1;
        }
    }
    assert_eq!(recovered, 603);
}

#[test]
fn chain_info_reports_head_td_and_fork_id() {
    let dir = testdata_or_skip!();
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis.json");
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    let info = chain::chain_info(&spec, &blocks).expect("chain info");
    assert_eq!(info.head_number, 600);
    assert_eq!(info.head_hash.to_string(), format!("0x{HEAD_HASH}"));
    // Merged at genesis: TD is the genesis difficulty (0x20000) and stays there.
    assert_eq!(info.total_difficulty, alloy_primitives::U256::from(0x20000));
    assert_eq!(info.fork_id.hash, "0x377aaa78");
    assert_eq!(info.fork_id.next, 0);
    // Before Cancun (t=60, block 6) the next fork is announced.
    let early = chain::chain_info(&spec, &blocks[..3]).expect("chain info");
    assert_eq!(early.fork_id.next, 60);
}

#[test]
fn real_blocks_round_trip_as_new_block_and_block_bodies() {
    let dir = testdata_or_skip!();
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    for block in blocks.iter().step_by(37) {
        let message = EthMessage::NewBlock(Box::new(NewBlock {
            block: block.clone(),
            td: alloy_primitives::U256::from(0x20000),
        }));
        let decoded =
            EthMessage::decode(EthVersion::Eth68, 0x07, &message.encoded()).expect("decodes");
        assert_eq!(decoded, message);
    }
}

/// Executing the chain from the genesis alloc reproduces every header's gas used, receipts
/// root, logs bloom, requests hash and state root (the checks live in `ChainExecutor`); the
/// receipts count matches the txs, and the chain's one EIP-7002 request tx (txinfo.json
/// `tx-request-eip7002`, block 0xd) logs what the withdrawal contract emits.
#[test]
fn the_chain_executes_to_every_headers_roots() {
    let dir = testdata_or_skip!();
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis");
    let header = genesis::genesis_header(&spec).expect("genesis header");
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    let mut executor = chain::ChainExecutor::new(&spec, header);
    let mut receipts = 0;
    let mut with_logs = 0;
    for block in &blocks {
        let got = executor
            .execute(block)
            .unwrap_or_else(|e| panic!("block {}: {e}", block.header.number));
        assert_eq!(got.len(), block.body.transactions.len());
        receipts += got.len();
        with_logs += got.iter().filter(|r| !r.logs().is_empty()).count();
    }
    assert_eq!(executor.head().number, 600);
    assert_eq!(receipts, 603);
    assert!(with_logs > 0, "the chain's emit txs log something");
}

/// A block whose header lies about its state root (one byte changed, hash recomputed by
/// linking) is refused with a state-root mismatch, and no receipts come back for it.
#[test]
fn a_header_with_a_wrong_state_root_is_refused() {
    let dir = testdata_or_skip!();
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis");
    let header = genesis::genesis_header(&spec).expect("genesis header");
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let mut blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    let mut executor = chain::ChainExecutor::new(&spec, header);
    let mut forged = blocks.swap_remove(0);
    forged.header.state_root.0[0] ^= 1;
    let error = executor.execute(&forged).expect_err("forged state root");
    assert!(
        matches!(
            error,
            chain::ExecutionError::Mismatch {
                number: 1,
                field: "state root",
                ..
            }
        ),
        "{error}"
    );
}
