//! A real geth sees our Status at the followed head and syncs the chain from us alone
//! (issue 24): go-ethereum v1.17.10 serving the ethtest chain and an ethpeer on another
//! /24 serving it too bring an ethpeer started from the bare genesis (`--history.window
//! 600`) to block 600 by following; then a fresh geth (`init` only, `--syncmode full`)
//! peered with that ethpeer alone, given block 600's payload and forkchoice by the test
//! acting as its consensus client, downloads all 600 blocks from it and executes them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::binary::Binary;
use crate::common::poll::eventually_within;
use crate::common::testdata_or_skip;
use crate::geth::go_bin_or_skip;
use crate::geth_peer::{head_hash, Geth};

#[actix_rt::test]
async fn a_fresh_geth_syncs_the_followed_chain_from_ethpeer_alone() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let file = |name: &str| {
        testdata
            .join("ethtest")
            .join(name)
            .to_str()
            .expect("utf-8")
            .to_string()
    };
    std::fs::create_dir_all(path("serving")).expect("dir");
    let serving = Geth::start_with(&go, &testdata, &path("serving"), true).await;
    serving.follow_head(head_hash(&testdata)).await;
    // A second voter on its own /24: an ethpeer with the chain imported.
    let second = Binary::start(
        &path("second"),
        &[
            "--addr",
            "127.0.61.1",
            "--nodiscover",
            "--genesis",
            &file("genesis.json"),
            "--import",
            &file("chain.rlp"),
        ],
    )
    .await;
    let peers = format!("{},{}", serving.enode, second.enode);
    let follower = Binary::start(
        &path("follower"),
        &[
            "--nodiscover",
            "--genesis",
            &file("genesis.json"),
            "--history.window",
            "600",
            "--follow.interval",
            "1",
            "--peers",
            &peers,
        ],
    )
    .await;
    eventually_within(
        "ethpeer follows to block 600",
        Duration::from_secs(60),
        || async { follower.call("eth_blockNumber", json!([])).await["result"] == json!("0x258") },
    )
    .await;

    std::fs::create_dir_all(path("fresh")).expect("dir");
    let fresh = Geth::start_with(&go, &testdata, &path("fresh"), false).await;
    let follower_enode = follower.enode.split('?').next().expect("enode").to_string();
    assert_eq!(
        fresh.call("admin_addPeer", json!([follower_enode])).await,
        json!(true)
    );
    // geth sees our Status at the followed head.
    eventually_within(
        "geth peers with ethpeer",
        Duration::from_secs(30),
        || async {
            let peers = fresh.call("admin_peers", json!([])).await;
            peers.as_array().is_some_and(|p| {
                p.iter()
                    .any(|p| p["protocols"]["eth"]["latestBlock"] == json!(600))
            })
        },
    )
    .await;
    // The test as geth's consensus client: block 600's payload, then the forkchoice.
    let payloads: Value =
        serde_json::from_str(&std::fs::read_to_string(file("newpayload.json")).expect("file"))
            .expect("JSON");
    let answer = fresh.engine(&payloads[600]).await;
    let status = answer["result"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ["SYNCING", "ACCEPTED"].contains(&status.as_str()),
        "{answer}"
    );
    let fcu: Value =
        serde_json::from_str(&std::fs::read_to_string(file("headfcu.json")).expect("file"))
            .expect("JSON");
    let answer = fresh.engine(&fcu).await;
    assert_eq!(
        answer["result"]["payloadStatus"]["status"], "SYNCING",
        "{answer}"
    );
    eventually_within(
        "the fresh geth reaches block 600",
        Duration::from_secs(180),
        || async { fresh.call("eth_blockNumber", json!([])).await == json!("0x258") },
    )
    .await;
    let block = fresh
        .call("eth_getBlockByNumber", json!(["0x258", false]))
        .await;
    assert_eq!(block["hash"], json!(head_hash(&testdata)));
    // It had no other peer to learn them from.
    let peers = fresh.call("admin_peers", json!([])).await;
    assert_eq!(peers.as_array().map(Vec::len), Some(1), "{peers}");
}
