//! A head that liars cannot fake (issue 24's attack, in one process): two peers on one
//! network (127.0.41.0/24) serve 300 made-up but rule-abiding blocks on the dev genesis;
//! the follower does not move, whatever the rounds, and `eth_syncing` reports nothing.
//! Two peers on two other networks serving a longer chain then arrive and the follower
//! takes their chain; a pooled transaction the blocks do not include stays pooled. A
//! branch that wins three blocks deep reorgs the followed chain: the dropped block's
//! transaction returns to the pool and `newHeads` streams the new branch.

use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::proofs::calculate_transaction_root;
use alloy_consensus::{Header, TxEnvelope, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, Bytes, U256};
use ethpeer_actors::blocks::follow::FollowConfig;
use ethpeer_actors::chain::{ChainStore, HeaderRules, MemoryChainStore};
use ethpeer_actors::eth::genesis;
use ethpeer_actors::eth::{EthBlock, EthBlockBody};
use ethpeer_actors::node::{Node, NodeBuilder};

use crate::common::poll::eventually;

/// `len` empty blocks on `parent` that pass every header rule of the dev network, each
/// tagged `tag` in its extra data (a beacon root of `tag` too, so two chains differ).
fn chain_on(parent: &Header, len: u64, tag: &str, rules: &HeaderRules) -> Vec<EthBlock> {
    chain_with(parent, len, tag, rules, &[])
}

/// [`chain_on`], with `txs` in the blocks of their numbers.
fn chain_with(
    parent: &Header,
    len: u64,
    tag: &str,
    rules: &HeaderRules,
    txs: &[(u64, TxEnvelope)],
) -> Vec<EthBlock> {
    let mut parent = parent.clone();
    let mut blocks = Vec::new();
    for _ in 0..len {
        let number = parent.number + 1;
        let transactions: Vec<TxEnvelope> = txs
            .iter()
            .filter(|(at, _)| *at == number)
            .map(|(_, tx)| tx.clone())
            .collect();
        let timestamp = parent.timestamp + 12;
        let params = rules.blob_params_at(timestamp).expect("dev has blobs");
        let header = Header {
            parent_hash: parent.hash_slow(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: Address::ZERO,
            state_root: parent.state_root,
            transactions_root: calculate_transaction_root(&transactions),
            receipts_root: EMPTY_ROOT_HASH,
            number,
            gas_limit: parent.gas_limit,
            gas_used: 21_000 * transactions.len() as u64,
            timestamp,
            extra_data: Bytes::from(tag.as_bytes().to_vec()),
            base_fee_per_gas: parent.next_block_base_fee(BaseFeeParams::ethereum()),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: parent.next_block_excess_blob_gas(params),
            parent_beacon_block_root: Some(alloy_primitives::keccak256(tag)),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Header::default()
        };
        blocks.push(EthBlock {
            header: header.clone(),
            body: EthBlockBody {
                transactions,
                withdrawals: Some(Default::default()),
                ..Default::default()
            },
        });
        parent = header;
    }
    blocks
}

/// A dev node listening on `ip` whose store holds `blocks` above genesis.
async fn serving(ip: &str, blocks: &[EthBlock]) -> Node {
    let spec = genesis::dev_genesis();
    let store = Arc::new(MemoryChainStore::new(
        genesis::genesis_header(&spec).expect("genesis"),
    ));
    for block in blocks {
        store.insert_block(block.clone(), None).expect("links");
    }
    NodeBuilder::dev()
        .listen(format!("{ip}:0").parse().expect("addr"))
        .store(store)
        .start()
        .await
        .expect("starts")
}

#[actix_rt::test]
async fn liars_on_one_network_never_move_the_head_and_two_networks_do() {
    let spec = genesis::dev_genesis();
    let genesis_header = genesis::genesis_header(&spec).expect("genesis");
    let rules = HeaderRules::from_config(&spec.config);
    let fake = chain_on(&genesis_header, 300, "FAKE-A", &rules);
    let honest = chain_on(&genesis_header, 400, "HONEST", &rules);
    // Every made-up header passes the rules: only the quorum can stop them.
    let mut parent = genesis_header.clone();
    for block in &fake {
        rules
            .check(&parent, &block.header, block.header.timestamp)
            .expect("a rule-abiding fake");
        parent = block.header.clone();
    }

    let mut builder = NodeBuilder::dev().listen("127.0.40.1:0".parse().expect("addr"));
    // A follower without the chain's state: peers' quorum is all it has (with the state,
    // blocks are executed instead; `dev_blocks.rs`).
    builder.config_mut().genesis = None;
    builder.config_mut().follow = FollowConfig {
        enabled: true,
        interval: Duration::from_millis(50),
        quorum: 2,
    };
    let follower = builder.start().await.expect("starts");
    let pending = genesis::dev_transfer(0, 0, Address::repeat_byte(7), U256::from(1))
        .expect("a dev transfer");
    let pending_hash = *pending.hash();
    assert!(follower.submit_transactions(vec![pending])[0].is_ok());

    let fakes = [
        serving("127.0.41.1", &fake).await,
        serving("127.0.41.2", &fake).await,
    ];
    for liar in &fakes {
        follower
            .dial(liar.local_addr(), liar.node_id())
            .await
            .expect("dials");
    }
    // Rounds pass (each asks the fakes, who answer 192 headers): nothing is followed.
    let rounds = follower.internals().follow.rounds();
    eventually("ten rounds asked the fakes", || async {
        follower.internals().follow.rounds() >= rounds + 10
    })
    .await;
    assert_eq!(follower.followed_head(), None);
    assert_eq!(follower.internals().follow.highest_claimed(), 0);

    let honest_peers = [
        serving("127.0.42.1", &honest).await,
        serving("127.0.43.1", &honest).await,
    ];
    for peer in &honest_peers {
        follower
            .dial(peer.local_addr(), peer.node_id())
            .await
            .expect("dials");
    }
    let honest_head = honest.last().expect("blocks").header.hash_slow();
    eventually("the follower takes the honest chain", || async {
        follower.followed_head().map(|h| h.hash) == Some(honest_head)
    })
    .await;
    let head = follower.internals().follow.head().expect("a head");
    assert_eq!(head.header.number, 400);
    assert_eq!(head.header.extra_data.as_ref(), b"HONEST");
    assert!(
        follower.pooled(&pending_hash).is_some(),
        "the pooled tx stayed"
    );
    for node in fakes.iter().chain(&honest_peers).chain([&follower]) {
        node.shutdown(Duration::from_secs(2)).await;
    }
}

#[actix_rt::test]
async fn a_branch_three_blocks_deep_wins_and_its_dropped_tx_returns() {
    let spec = genesis::dev_genesis();
    let genesis_header = genesis::genesis_header(&spec).expect("genesis");
    let rules = HeaderRules::from_config(&spec.config);
    let pooled = genesis::dev_transfer(0, 0, Address::repeat_byte(9), U256::from(1))
        .expect("a dev transfer");
    let hash = *pooled.hash();
    let ethpeer_actors::eth::PooledTx::Eip1559(signed) = pooled.clone() else {
        panic!("an EIP-1559 transfer");
    };
    // X: 10 blocks, the transfer in block 9. Y: X's first 7, then 5 of its own.
    let x = chain_with(
        &genesis_header,
        10,
        "X",
        &rules,
        &[(9, TxEnvelope::Eip1559(signed))],
    );
    let mut y = x[..7].to_vec();
    y.extend(chain_on(&x[6].header, 5, "Y", &rules));

    let mut builder = NodeBuilder::dev().listen("127.0.50.1:0".parse().expect("addr"));
    // A follower without the chain's state: peers' quorum is all it has (with the state,
    // blocks are executed instead; `dev_blocks.rs`).
    builder.config_mut().genesis = None;
    builder.config_mut().follow = FollowConfig {
        enabled: true,
        interval: Duration::from_millis(50),
        quorum: 2,
    };
    let follower = builder.start().await.expect("starts");
    assert!(follower.submit_transactions(vec![pooled])[0].is_ok());
    let (server, ws) = ethpeer_actors::api::rpc::ws::server(
        follower.clone(),
        "127.0.0.1:0".parse::<std::net::SocketAddr>().expect("addr"),
        ethpeer_actors::api::rpc::RpcAccess::all(),
    )
    .expect("ws");
    actix_rt::spawn(server);
    let mut heads = crate::ws::connect(ws, None).await;
    let sub =
        crate::ws::request(&mut heads, "eth_subscribe", serde_json::json!(["newHeads"])).await;
    assert!(sub["result"].is_string(), "{sub}");

    let x_peers = [
        serving("127.0.51.1", &x).await,
        serving("127.0.52.1", &x).await,
    ];
    for peer in &x_peers {
        follower
            .dial(peer.local_addr(), peer.node_id())
            .await
            .expect("dials");
    }
    let x_head = x[9].header.hash_slow();
    eventually("the follower takes X", || async {
        follower.followed_head().map(|h| h.hash) == Some(x_head)
    })
    .await;
    assert!(follower.pooled(&hash).is_none(), "included in X's block 9");
    for peer in &x_peers {
        peer.shutdown(Duration::from_secs(2)).await;
    }
    let y_peers = [
        serving("127.0.53.1", &y).await,
        serving("127.0.54.1", &y).await,
    ];
    for peer in &y_peers {
        follower
            .dial(peer.local_addr(), peer.node_id())
            .await
            .expect("dials");
    }
    let y_head = y[11].header.hash_slow();
    eventually("the follower reorgs to Y", || async {
        follower.followed_head().map(|h| h.hash) == Some(y_head)
    })
    .await;
    assert_eq!(follower.internals().follow.reorgs(), 1);
    for n in 8..=12u64 {
        let block = follower.internals().follow.by_number(n).expect("followed");
        assert_eq!(
            block.hash,
            y[n as usize - 1].header.hash_slow(),
            "block {n} is Y's"
        );
    }
    assert!(
        follower.pooled(&hash).is_some(),
        "the dropped block's tx is back"
    );
    // newHeads: X's 1..=10, then Y's 8..=12.
    let mut seen = Vec::new();
    while seen.len() < 15 {
        let note = crate::ws::next_json(&mut heads).await;
        let head = &note["params"]["result"];
        seen.push((
            head["number"].as_str().expect("number").to_string(),
            head["hash"].clone(),
        ));
    }
    for (i, n) in (8..=12u64).enumerate() {
        assert_eq!(seen[10 + i].0, format!("{n:#x}"));
        assert_eq!(
            seen[10 + i].1,
            serde_json::json!(y[n as usize - 1].header.hash_slow())
        );
    }
    for node in y_peers.iter().chain([&follower]) {
        node.shutdown(Duration::from_secs(2)).await;
    }
}
