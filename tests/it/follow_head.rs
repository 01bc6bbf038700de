//! Following the head from in-process peers: a node whose store stops at block 550 of the
//! ethtest chain, peered with two nodes at 600, follows to 600 (two peers agree), drops
//! from its pool the transactions blocks 551-600 include and a stale-nonce transaction of
//! an included sender, answers RPC from the followed blocks, and keeps its own Status
//! head (the store) at 550. A tx a peer had announced comes out as `TxSeen` when pooled
//! and as `TxIncluded` with its block when followed.

use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::Transaction;
use alloy_primitives::{Bytes, TxKind, U256};
use ethpeer_actors::blocks::follow::FollowConfig;
use ethpeer_actors::chain::{ChainStore, MemoryChainStore};
use ethpeer_actors::eth::{genesis, PooledTx};
use ethpeer_actors::node::{Node, NodeConfig, NodeEvent};
use ethpeer_actors::peer::{Delivery, Seen, SeenItem};
use ethpeer_actors::txs::pool::{NoState, TxPool};
use secp256k1::SecretKey;
use serde_json::json;

use crate::common::testdata_or_skip;
use crate::tx_validation::{rules, sender, signed, transfer};
use ethpeer_actors::chain::HeaderRules;

/// A node at block 550 of the ethtest chain, without state (a relay), polling every 50 ms.
async fn follower(dir: &std::path::Path) -> Node {
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis");
    let ethtest = crate::common::ethtest(dir);
    let genesis_header = ethtest.store.header_by_number(0).expect("genesis");
    let store = Arc::new(MemoryChainStore::new(genesis_header.clone()));
    for block in &ethtest.blocks[..550] {
        store.insert_block(block.clone(), None).expect("links");
    }
    let config = NodeConfig::new(
        SecretKey::from_byte_array([9; 32]).expect("key"),
        "127.0.0.1:0".parse().expect("addr"),
        spec.config.chain_id,
        genesis::fork_schedule(&spec, genesis_header.hash_slow()),
        rules(),
    );
    Node::start(
        NodeConfig {
            arrival_wait: Duration::ZERO,
            follow: FollowConfig {
                enabled: true,
                interval: Duration::from_millis(50),
                quorum: 2,
            },
            header_rules: Some(Arc::new(HeaderRules::from_config(&spec.config))),
            ..config
        },
        store,
        Arc::new(NoState),
    )
    .await
    .expect("starts")
}

/// A node serving the whole ethtest chain with its receipts, listening on `ip` (a host of
/// its own).
pub(crate) async fn serving_at(dir: &std::path::Path, key: u8, ip: &str) -> Node {
    let listen = format!("{ip}:0").parse().expect("addr");
    let ethtest = crate::common::ethtest_with(dir, true);
    crate::node::node_from(
        dir,
        key,
        &ethpeer_actors::eth::EthVersion::ALL,
        |config| config.listen = listen,
        ethtest,
    )
    .await
}

#[actix_rt::test]
async fn a_node_at_550_follows_two_peers_to_600_and_drops_included_txs() {
    let dir = testdata_or_skip!();
    let ethtest = crate::common::ethtest(&dir);
    let c = follower(&dir).await;
    // Non-blob txs of blocks 551-600 (blob txs travel with sidecars, which blocks lack).
    let included: Vec<PooledTx> = ethtest.blocks[550..]
        .iter()
        .flat_map(|b| b.body.transactions.iter())
        .filter(|tx| !tx.is_eip4844())
        .map(|tx| PooledTx::try_from(tx.clone()).expect("non-blob"))
        .collect();
    assert!(!included.is_empty());
    // A peer's announcement of the first one, as a peer actor reports it to the observer
    // (stamped 5 s ago, so time to inclusion is at least that).
    let mut events = crate::common::events::subscribe(&c);
    let watched = *included[0].hash();
    let announcer = ethpeer_actors::peer::PeerId::repeat_byte(0x42);
    let first_seen = std::time::SystemTime::now() - Duration::from_secs(5);
    c.internals()
        .observer
        .send(Seen {
            peer: announcer,
            at: first_seen,
            delivery: Delivery::Announced,
            reply: false,
            items: vec![SeenItem::Tx(watched)],
            note: None,
        })
        .await
        .expect("observer alive");
    let results = c.internals().pool.add(included.clone(), None);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // A tx of an included sender at a nonce the blocks use, with another body: stale.
    let (address, key) = sender(&dir);
    let used = included
        .iter()
        .filter(|tx| tx.recover_signer().ok() == Some(address))
        .map(|tx| tx.nonce())
        .max()
        .expect("the sender has txs in 551-600");
    let stale = signed(
        key,
        transfer(
            used,
            U256::from(7),
            21_000,
            TxKind::Call(address),
            Bytes::new(),
        ),
    );
    let stale_hash = *stale.hash();
    let outcome = c.internals().pool.add(vec![stale], None);
    assert!(
        outcome[0].is_ok()
            || outcome[0] == Err(ethpeer_actors::txs::pool::PoolError::ReplacementUnderpriced),
        "{outcome:?}"
    );
    let stale_pooled = outcome[0].is_ok();
    let (tx, peer, delivery, seen_at) = crate::common::events::wait_for(&mut events, |e| match e {
        NodeEvent::TxSeen {
            hash,
            tx,
            peer,
            delivery,
            first_seen,
        } if *hash == watched => Some((tx.clone(), *peer, *delivery, *first_seen)),
        _ => None,
    })
    .await;
    assert_eq!(tx.tx, included[0]);
    assert_eq!(
        (peer, delivery, seen_at),
        (announcer, Delivery::Announced, first_seen)
    );

    // A newHeads subscriber over WebSocket.
    let (server, ws) = ethpeer_actors::api::rpc::ws::server(
        c.clone(),
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
        ethpeer_actors::api::rpc::RpcAccess::all(),
    )
    .unwrap();
    actix_rt::spawn(server);
    let mut heads = crate::ws::connect(ws, None).await;
    let sub = crate::ws::request(&mut heads, "eth_subscribe", json!(["newHeads"])).await;
    assert!(sub["result"].is_string(), "{sub}");

    // Two networks vouch (127.0.31.0/24 and 127.0.32.0/24): C dials each at its address.
    let a = serving_at(&dir, 1, "127.0.31.1").await;
    let b = serving_at(&dir, 2, "127.0.32.1").await;
    c.dial(a.local_addr(), a.node_id())
        .await
        .expect("C dials A");
    c.dial(b.local_addr(), b.node_id())
        .await
        .expect("C dials B");

    crate::common::poll::eventually("C follows to block 600", || async {
        c.internals().follow.head().map(|h| h.header.number) == Some(600)
    })
    .await;

    assert_eq!(
        c.internals().follow.head().unwrap().hash,
        ethtest.blocks[599].header.hash_slow()
    );
    // Our Status advertises the followed head, and the followed blocks are served: a node
    // at 550 that dials C gets 600 in C's Status and C's headers and bodies above 550.
    let status = c.status();
    assert_eq!(status.head_number, 600);
    assert_eq!(status.head_hash, ethtest.blocks[599].header.hash_slow());
    let d = serving_at(&dir, 4, "127.0.33.1").await;
    let peer = d
        .dial(c.local_addr(), c.node_id())
        .await
        .expect("D dials C");
    let headers = peer
        .client()
        .request(ethpeer_actors::eth::GetBlockHeaders {
            start_block: 598u64.into(),
            limit: 3,
            skip: 0,
            reverse: false,
        })
        .await
        .expect("C answers");
    let served: Vec<_> = headers.iter().map(|h| h.hash_slow()).collect();
    let expected: Vec<_> = ethtest.blocks[597..600]
        .iter()
        .map(|b| b.header.hash_slow())
        .collect();
    assert_eq!(served, expected);
    let bodies = peer
        .client()
        .request(ethpeer_actors::eth::GetBlockBodies(vec![expected[2]]))
        .await
        .expect("C answers");
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0].transactions.len(),
        ethtest.blocks[599].body.transactions.len()
    );
    // Receipts of followed blocks were fetched, checked and are served: each block's match
    // its header's receipts root (D speaks eth/72, so it pages with GetReceipts70).
    let hashes: Vec<_> = ethtest.blocks[550..]
        .iter()
        .map(|b| b.header.hash_slow())
        .collect();
    let page = peer
        .client()
        .request(ethpeer_actors::eth::GetReceipts70 {
            request_id: 0,
            first_block_receipt_index: 0,
            block_hashes: hashes,
        })
        .await
        .expect("C answers");
    assert_eq!(page.receipts.len(), 50, "every followed block's receipts");
    for (receipts, block) in page.receipts.into_iter().zip(&ethtest.blocks[550..]) {
        let envelopes: Vec<_> = receipts.into_iter().map(|r| r.into_envelope()).collect();
        assert_eq!(
            alloy_consensus::proofs::calculate_receipt_root(&envelopes),
            block.header.receipts_root,
            "block {}",
            block.header.number
        );
    }
    // newHeads streamed each followed head, in order, in geth's header shape.
    for number in 551..=600u64 {
        let note = crate::ws::next_json(&mut heads).await;
        let head = &note["params"]["result"];
        assert_eq!(head["number"], json!(format!("{number:#x}")), "{note}");
        let expected = ethtest.blocks[number as usize - 1].header.hash_slow();
        assert_eq!(head["hash"], json!(expected));
        assert!(head["parentHash"].is_string() && head["transactions"].is_null());
    }
    for tx in &included {
        assert!(
            c.internals().pool.get(tx.hash()).is_none(),
            "included tx left the pool"
        );
    }
    if stale_pooled {
        assert!(
            c.internals().pool.get(&stale_hash).is_none(),
            "stale-nonce tx left the pool"
        );
        assert!(c.internals().pool.counters().evicted() >= 1);
    }
    // The stale tx may have replaced the included one of its nonce (a 10% fee bump).
    let replaced = c.internals().pool.counters().replaced();
    assert_eq!(
        c.internals().pool.counters().included() + replaced,
        included.len() as u64
    );
    // The announced tx's inclusion, with the block that has it.
    let including = ethtest.blocks[550..]
        .iter()
        .find(|b| b.body.transactions.iter().any(|tx| *tx.hash() == watched))
        .expect("a block of 551-600 has it");
    let (block, seen_at, included_at, peers) =
        crate::common::events::wait_for(&mut events, |e| match e {
            NodeEvent::TxIncluded {
                hash,
                block,
                first_seen,
                included_at,
                peers_within_window,
                block_timestamp,
            } if *hash == watched => {
                assert_eq!(
                    *block_timestamp,
                    ethtest.blocks[usize::try_from(block.number).unwrap() - 1]
                        .header
                        .timestamp
                );
                Some((*block, *first_seen, *included_at, *peers_within_window))
            }
            _ => None,
        })
        .await;
    assert_eq!(block.number, including.header.number);
    assert_eq!(block.hash, including.header.hash_slow());
    assert_eq!((seen_at, peers), (first_seen, 1));
    let wait = included_at
        .duration_since(first_seen)
        .expect("after the sighting");
    assert!(wait >= Duration::from_secs(5), "{wait:?}");
    assert!(included_at <= std::time::SystemTime::now());
    // Followed blocks never enter the store, which stays at 550; our Status advertises the
    // followed head.
    assert_eq!(c.internals().store.head().number, 550);
    assert_eq!(c.status().head_hash, ethtest.blocks[599].header.hash_slow());

    let answer = crate::rpc_shapes::call(&c, "eth_blockNumber", json!([])).await;
    assert_eq!(answer["result"], json!("0x258"));
    // The followed block's receipts (checked against its header) answer for its txs.
    let receipt =
        crate::rpc_shapes::call(&c, "eth_getTransactionReceipt", json!([included[0].hash()])).await;
    assert_eq!(
        receipt["result"]["transactionHash"],
        json!(included[0].hash()),
        "{receipt}"
    );
    assert!(receipt["result"]["status"].is_string(), "{receipt}");
    let tx =
        crate::rpc_shapes::call(&c, "eth_getTransactionByHash", json!([included[0].hash()])).await;
    assert!(tx["result"]["blockNumber"].is_string(), "{tx}");
    let block = crate::rpc_shapes::call(&c, "eth_getBlockByNumber", json!(["0x258", true])).await;
    assert_eq!(
        block["result"]["hash"],
        json!(ethtest.blocks[599].header.hash_slow())
    );
    assert_eq!(
        crate::rpc_shapes::call(&c, "eth_syncing", json!([])).await["result"],
        json!(false)
    );
}
