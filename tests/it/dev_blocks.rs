//! Block production on the dev network (`--dev.period`, geth's flag), through the binary
//! as a user runs it: with a period of 0 a transaction sent over JSON-RPC is mined into
//! block 1 at once (it leaves the pool, the block names it, the store's head moves); with
//! a period of 1 s empty blocks follow one another.

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, U256};
use ethpeer_actors::eth::genesis;
use serde_json::{json, Value};

use crate::common::binary::Binary;
use crate::common::poll::eventually;

fn raw_transfer(nonce: u64) -> (String, String) {
    let tx = genesis::dev_transfer(0, nonce, Address::repeat_byte(0x77), U256::from(5))
        .expect("a dev transfer");
    (
        tx.hash().to_string(),
        hex::encode_prefixed(tx.encoded_2718()),
    )
}

#[actix_rt::test]
async fn a_transaction_is_mined_at_once_with_period_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "0"]).await;
    for nonce in 0..2u64 {
        let (hash, raw) = raw_transfer(nonce);
        let sent = node.call("eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(sent["result"], json!(hash), "{sent}");
        let number = format!("{:#x}", nonce + 1);
        eventually("the transaction is mined", || async {
            node.call("eth_blockNumber", json!([])).await["result"] == json!(number)
        })
        .await;
        let block = node
            .call("eth_getBlockByNumber", json!([number, false]))
            .await;
        let txs: Vec<Value> = block["result"]["transactions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(txs, vec![json!(hash)], "{block}");
        assert_eq!(block["result"]["gasUsed"], json!("0x5208"));
        let status = node.call("txpool_status", json!([])).await;
        assert_eq!(status["result"]["pending"], json!("0x0"), "{status}");
        // Its receipt, its place, its bytes.
        let receipt = node.call("eth_getTransactionReceipt", json!([hash])).await["result"].clone();
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
        assert_eq!(receipt["blockNumber"], json!(number));
        assert_eq!(receipt["gasUsed"], json!("0x5208"));
        assert_eq!(receipt["cumulativeGasUsed"], json!("0x5208"));
        assert_eq!(receipt["transactionIndex"], json!("0x0"));
        assert_eq!(
            receipt["from"],
            json!(format!("{:?}", dev_address()).to_lowercase())
        );
        assert_eq!(
            receipt["to"],
            json!(format!("{:?}", Address::repeat_byte(0x77)))
        );
        assert_eq!(receipt["contractAddress"], Value::Null);
        assert_eq!(receipt["logs"], json!([]));
        assert!(
            receipt["effectiveGasPrice"]
                .as_str()
                .is_some_and(|p| p != "0x0"),
            "{receipt}"
        );
        let block_receipts = node.call("eth_getBlockReceipts", json!([number])).await;
        assert_eq!(block_receipts["result"][0], receipt);
        let found = node.call("eth_getTransactionByHash", json!([hash])).await;
        assert_eq!(found["result"]["blockNumber"], json!(number), "{found}");
        let raw_back = node
            .call("eth_getRawTransactionByHash", json!([hash]))
            .await;
        assert_eq!(raw_back["result"], json!(raw));
    }
    // The nonce after the mined ones is what the pool expects next.
    let count = node
        .call("eth_getTransactionCount", json!([dev_address(), "pending"]))
        .await;
    assert_eq!(count["result"], json!("0x2"), "{count}");
    // The state after the two blocks: the recipient has 2 x 5 wei, the sender's nonce is 2.
    let recipient = format!("{:?}", Address::repeat_byte(0x77));
    let balance = node
        .call("eth_getBalance", json!([recipient, "latest"]))
        .await;
    assert_eq!(balance["result"], json!("0xa"), "{balance}");
    let state_nonce = node
        .call("eth_getTransactionCount", json!([dev_address(), "0x2"]))
        .await;
    assert_eq!(state_nonce["result"], json!("0x2"), "{state_nonce}");
    let code = node
        .call("eth_getCode", json!([dev_address(), "latest"]))
        .await;
    assert_eq!(code["result"], json!("0x"));
    let slot = node
        .call("eth_getStorageAt", json!([recipient, "0x0", "latest"]))
        .await;
    assert_eq!(slot["result"], json!(format!("0x{}", "0".repeat(64))));
    // Past blocks' state is kept (--state.window): after block 1 the recipient had 5 wei,
    // at genesis nothing; a later block does not exist yet.
    let at_one = node.call("eth_getBalance", json!([recipient, "0x1"])).await;
    assert_eq!(at_one["result"], json!("0x5"), "{at_one}");
    let nonce_at_one = node
        .call("eth_getTransactionCount", json!([dev_address(), "0x1"]))
        .await;
    assert_eq!(nonce_at_one["result"], json!("0x1"), "{nonce_at_one}");
    let at_genesis = node
        .call("eth_getBalance", json!([recipient, "earliest"]))
        .await;
    assert_eq!(at_genesis["result"], json!("0x0"), "{at_genesis}");
    let future = node.call("eth_getBalance", json!([recipient, "0x9"])).await;
    assert_eq!(future["error"]["message"], json!("header not found"));
    // geth's fee history of the two blocks: the 1 gwei tip at every percentile.
    let history = node
        .call("eth_feeHistory", json!(["0x2", "latest", [25.0, 75.0]]))
        .await["result"]
        .clone();
    assert_eq!(history["oldestBlock"], json!("0x1"), "{history}");
    assert_eq!(
        history["baseFeePerGas"].as_array().map(Vec::len),
        Some(3),
        "{history}"
    );
    assert_eq!(history["gasUsedRatio"][0], json!(21_000.0 / 30_000_000.0));
    let tip = json!(["0x3b9aca00", "0x3b9aca00"]);
    assert_eq!(history["reward"], json!([tip, tip]), "{history}");
    assert_eq!(
        node.call("eth_accounts", json!([])).await["result"],
        json!([])
    );
    let datadir = node.call("admin_datadir", json!([])).await;
    assert_eq!(datadir["result"], json!(dir.path().display().to_string()));
}

/// Without state (a public network) the state reads answer geth's missing-state error,
/// never "method not found".
#[actix_rt::test]
async fn state_reads_without_state_say_the_state_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--sepolia", "--nodiscover"]).await;
    for method in ["eth_getBalance", "eth_getCode"] {
        let answer = node.call(method, json!([dev_address(), "latest"])).await;
        assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("missing trie node")),
            "{answer}"
        );
    }
}

fn dev_address() -> Address {
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        .parse()
        .expect("address")
}

#[actix_rt::test]
async fn a_period_makes_empty_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "1"]).await;
    eventually("two blocks pass", || async {
        node.call("eth_blockNumber", json!([])).await["result"]
            .as_str()
            .and_then(|n| u64::from_str_radix(n.trim_start_matches("0x"), 16).ok())
            .is_some_and(|n| n >= 2)
    })
    .await;
    let block = node
        .call("eth_getBlockByNumber", json!(["0x2", false]))
        .await;
    assert_eq!(block["result"]["transactions"], json!([]), "{block}");
}

/// `eth_call` and `eth_estimateGas` on the head's state, in geth's shapes: a transfer
/// estimates at exactly 21,000; init code that returns 42 gives it back; init code that
/// reverts with `Error("nope")` is code 3 with the reason and the revert data.
#[actix_rt::test]
async fn calls_and_estimates_run_on_the_head_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover"]).await;
    let from = format!("{:?}", dev_address());
    let transfer =
        json!({"from": from, "to": format!("{:?}", Address::repeat_byte(0x77)), "value": "0x1"});
    let estimate = node.call("eth_estimateGas", json!([transfer])).await;
    assert_eq!(estimate["result"], json!("0x5208"), "{estimate}");
    // PUSH1 42, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN.
    let returns_42 = json!({"from": from, "data": "0x602a60005260206000f3"});
    let output = node.call("eth_call", json!([returns_42, "latest"])).await;
    assert_eq!(
        output["result"],
        json!(format!("0x{}2a", "0".repeat(62))),
        "{output}"
    );
    let estimate = node.call("eth_estimateGas", json!([returns_42])).await;
    let gas = u64::from_str_radix(
        estimate["result"]
            .as_str()
            .expect("gas")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex");
    // 53,000 for a create, 6,400 to deposit 32 bytes of code, calldata and a few opcodes;
    // the search stops within geth's 1.5%.
    assert!((59_000..61_000).contains(&gas), "{gas}");
    let mut with_estimate = returns_42.clone();
    with_estimate["gas"] = json!(format!("{gas:#x}"));
    let output = node
        .call("eth_call", json!([with_estimate, "latest"]))
        .await;
    assert!(
        output["result"].is_string(),
        "the estimate is enough: {output}"
    );
    // CODECOPY 100 bytes of Error("nope") revert data from offset 12, REVERT them.
    let mut revert_data = vec![0x08, 0xc3, 0x79, 0xa0];
    revert_data.extend_from_slice(&U256::from(32).to_be_bytes::<32>());
    revert_data.extend_from_slice(&U256::from(4).to_be_bytes::<32>());
    let mut reason = b"nope".to_vec();
    reason.resize(32, 0);
    revert_data.extend_from_slice(&reason);
    let mut code = vec![
        0x60, 0x64, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x64, 0x60, 0x00, 0xfd,
    ];
    code.extend_from_slice(&revert_data);
    let reverting = json!({"from": from, "data": hex::encode_prefixed(&code)});
    for method in ["eth_call", "eth_estimateGas"] {
        let answer = node.call(method, json!([reverting])).await;
        assert_eq!(answer["error"]["code"], json!(3), "{method}: {answer}");
        assert_eq!(
            answer["error"]["message"],
            json!("execution reverted: nope")
        );
        assert_eq!(
            answer["error"]["data"],
            json!(hex::encode_prefixed(&revert_data))
        );
    }
}

/// viem's ordinary wallet path (`tests/interop/wallet.mjs`): `sendTransaction` with a
/// local account and no gas limit, `waitForTransactionReceipt`, and the revert reason of a
/// reverting `estimateGas`, against a dev node producing blocks; then an emitter contract
/// deployed and called, its log in the receipt, by `getLogs` and over a `logs` subscription.
#[actix_rt::test]
async fn viem_sends_a_transaction_and_waits_for_its_receipt() {
    let Some(interop) = crate::interop::interop_dir() else {
        return;
    };
    if !interop.join("node_modules").join("viem").is_dir() {
        assert_ne!(
            std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "viem missing in tests/interop/node_modules (run npm ci there)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(
        dir.path(),
        &[
            "--nodiscover",
            "--dev.period",
            "0",
            "--ws",
            "--ws.port",
            "0",
        ],
    )
    .await;
    let ws = node.ws.clone().expect("--ws");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(interop.join("wallet.mjs"))
            .arg(&node.rpc)
            .arg(&ws)
            .stderr(std::process::Stdio::inherit())
            .output(),
    )
    .await
    .expect("the viem script within 60 s")
    .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["ok"], json!(true), "{result:#}");
    assert_eq!(result["status"], json!("success"), "{result:#}");
    assert_eq!(result["blockNumber"], json!("1"), "{result:#}");
    assert_eq!(result["gasUsed"], json!("21000"), "{result:#}");
    assert_eq!(result["balance"], json!("1000"), "{result:#}");
    assert!(
        result["revert"]
            .as_str()
            .is_some_and(|r| r.contains("nope")),
        "viem shows the revert reason: {result:#}"
    );
    // The emitter's call (block 3, after the transfer and the deployment): one log with the
    // topic in its receipt, by getLogs, and over the logs subscription.
    let topic = json!(format!("0x{}", "ef".repeat(32)));
    assert_eq!(result["deployLogs"], json!(0), "{result:#}");
    assert_eq!(result["callLogs"], json!([[topic]]), "{result:#}");
    assert_eq!(
        result["getLogs"],
        json!([{"block": "3", "topics": [topic]}]),
        "{result:#}"
    );
    assert_eq!(
        result["subscribed"],
        json!({"block": "0x3", "topics": [topic], "removed": false}),
        "{result:#}"
    );
}

/// A contract creation whose init code emits one log (`LOG1` with a known topic), mined
/// on a producing dev node; `eth_getLogs` finds it by topic, address and block, its
/// receipt carries it, and filters that do not match find nothing.
#[actix_rt::test]
async fn logs_of_produced_blocks_are_found_by_filter() {
    use alloy_primitives::B256;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "0"]).await;
    let topic = B256::repeat_byte(0xab);
    let signed = log_emitting_creation(topic, 0);
    let hash = signed.hash().to_string();
    let sent = node
        .call(
            "eth_sendRawTransaction",
            json!([hex::encode_prefixed(signed.encoded_2718())]),
        )
        .await;
    assert_eq!(sent["result"], json!(hash), "{sent}");
    eventually("the creation is mined", || async {
        node.call("eth_blockNumber", json!([])).await["result"] == json!("0x1")
    })
    .await;
    let contract = dev_address().create(0);
    let receipt = node.call("eth_getTransactionReceipt", json!([hash])).await["result"].clone();
    assert_eq!(receipt["contractAddress"], json!(contract), "{receipt}");
    assert_eq!(receipt["logs"][0]["topics"], json!([topic]), "{receipt}");
    let by_topic = node
        .call(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}]),
        )
        .await;
    let logs = by_topic["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(logs.len(), 1, "{by_topic}");
    assert_eq!(logs[0]["address"], json!(contract));
    assert_eq!(logs[0]["transactionHash"], json!(hash));
    assert_eq!(logs[0]["blockNumber"], json!("0x1"));
    assert_eq!(logs[0]["logIndex"], json!("0x0"));
    let by_address = node
        .call(
            "eth_getLogs",
            json!([{"address": contract, "blockHash": logs[0]["blockHash"]}]),
        )
        .await;
    assert_eq!(by_address["result"], json!(logs));
    for filter in [
        json!({"topics": [B256::repeat_byte(1)]}),
        json!({"address": Address::repeat_byte(9)}),
        json!({"topics": [null, topic]}),
    ] {
        let none = node.call("eth_getLogs", json!([filter])).await;
        assert_eq!(none["result"], json!([]), "{filter}: {none}");
    }
    let bad = node
        .call(
            "eth_getLogs",
            json!([{"fromBlock": "0x2", "toBlock": "0x1"}]),
        )
        .await;
    assert_eq!(bad["error"]["message"], json!("invalid block range"));
}

/// Three dev nodes, one producing (issue 25, item 2): a transaction sent to B reaches the
/// producer A, which mines it and announces its range; B and C fetch the block, execute it
/// against their own state before it counts, store it, and end on A's head with the
/// transaction gone from their pools. One producer is one network, so the followers take
/// `--follow.quorum 1` (the default 2 keeps the sybil defence on every network).
#[actix_rt::test]
async fn two_dev_nodes_follow_a_producer_by_execution() {
    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let a = Binary::start(
        dirs[0].path(),
        &["--addr", "127.0.71.1", "--nodiscover", "--dev.period", "0"],
    )
    .await;
    let b = Binary::start(
        dirs[1].path(),
        &[
            "--addr",
            "127.0.72.1",
            "--nodiscover",
            "--follow.interval",
            "1",
            "--follow.quorum",
            "1",
            "--peers",
            &a.enode,
        ],
    )
    .await;
    let peers = format!("{},{}", a.enode, b.enode);
    let c = Binary::start(
        dirs[2].path(),
        &[
            "--addr",
            "127.0.73.1",
            "--nodiscover",
            "--follow.interval",
            "1",
            "--follow.quorum",
            "1",
            "--peers",
            &peers,
        ],
    )
    .await;
    eventually("A has both followers as peers", || async {
        a.call("net_peerCount", json!([])).await["result"] == json!("0x2")
    })
    .await;
    let (hash, raw) = raw_transfer(0);
    let sent = b.call("eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash), "{sent}");
    eventually("A mines the transaction B sent", || async {
        a.call("eth_blockNumber", json!([])).await["result"] == json!("0x1")
    })
    .await;
    let head =
        a.call("eth_getBlockByNumber", json!(["0x1", false])).await["result"]["hash"].clone();
    for node in [&b, &c] {
        eventually("the follower executes A's block", || async {
            node.call("eth_getBlockByNumber", json!(["0x1", false]))
                .await["result"]["hash"]
                == head
        })
        .await;
        let receipt = node.call("eth_getTransactionReceipt", json!([hash])).await;
        assert_eq!(
            receipt["result"]["status"],
            json!("0x1"),
            "executed here: {receipt}"
        );
        let status = node.call("txpool_status", json!([])).await;
        assert_eq!(status["result"]["pending"], json!("0x0"), "{status}");
    }
}

/// ethers v6 (`tests/interop/ethers_wallet.mjs`): `wallet.sendTransaction({ to, value })`
/// without a gas limit, `tx.wait()` for the receipt, and `provider.on('block')` hearing
/// the block, against a dev node producing blocks.
#[actix_rt::test]
async fn ethers_sends_waits_and_hears_the_block() {
    let Some(interop) = crate::interop::interop_dir() else {
        return;
    };
    if !interop.join("node_modules").join("ethers").is_dir() {
        assert_ne!(
            std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "ethers missing in tests/interop/node_modules (run npm ci there)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "0"]).await;
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(interop.join("ethers_wallet.mjs"))
            .arg(&node.rpc)
            .stderr(std::process::Stdio::inherit())
            .output(),
    )
    .await
    .expect("the ethers script within 60 s")
    .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["ok"], json!(true), "{result:#}");
    assert_eq!(result["status"], json!(1), "{result:#}");
    assert_eq!(result["blockNumber"], json!(1), "{result:#}");
    assert_eq!(result["gasUsed"], json!("21000"), "{result:#}");
    assert_eq!(result["balance"], json!("1234"), "{result:#}");
    assert_eq!(result["heardBlock"], json!(true), "{result:#}");
    // The emitter's call (block 3): its log in the receipt and by getLogs.
    let topic = json!(format!("0x{}", "ef".repeat(32)));
    assert_eq!(result["callBlock"], json!(3), "{result:#}");
    assert_eq!(result["callLogs"], json!([[topic]]), "{result:#}");
    assert_eq!(
        result["getLogs"],
        json!([{"block": 3, "topics": [topic]}]),
        "{result:#}"
    );
}

/// web3.py (`tests/interop/web3_wallet.py`, installed by `.ci/py-tools`): the signing
/// middleware's `send_transaction({to, value})` with nothing else given (nonce, gas and
/// fees come from the node), and `wait_for_transaction_receipt`.
#[actix_rt::test]
async fn web3_py_sends_and_waits_for_the_receipt() {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/py/bin/python");
    if !python.is_file() {
        assert_ne!(
            std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "web3.py missing (run .ci/py-tools)"
        );
        return;
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/web3_wallet.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "0"]).await;
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&node.rpc)
            .stderr(std::process::Stdio::inherit())
            .output(),
    )
    .await
    .expect("the web3.py script within 60 s")
    .expect("python runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["ok"], json!(true), "{result:#}");
    assert_eq!(result["status"], json!(1), "{result:#}");
    assert_eq!(result["blockNumber"], json!(1), "{result:#}");
    // web3.py buffers the node's estimate (21,000) by 100,000 (`get_buffered_gas_estimate`).
    assert_eq!(result["gas"], json!(121_000), "{result:#}");
    assert_eq!(result["gasUsed"], json!(21000), "{result:#}");
    assert_eq!(result["balance"], json!(4321), "{result:#}");
    // The emitter's call (block 3): its log in the receipt and by get_logs.
    let topic = json!(format!("0x{}", "ef".repeat(32)));
    assert_eq!(result["callBlock"], json!(3), "{result:#}");
    assert_eq!(result["callLogs"], json!([[topic]]), "{result:#}");
    assert_eq!(
        result["getLogs"],
        json!([{"block": 3, "topics": [topic]}]),
        "{result:#}"
    );
}

/// Dev account 0's contract creation (at `nonce`) whose init code emits one log with
/// `topic` (PUSH32 topic, PUSH1 0, PUSH1 0, LOG1, STOP).
fn log_emitting_creation(
    topic: alloy_primitives::B256,
    nonce: u64,
) -> ethpeer_actors::eth::PooledTx {
    dev_tx(nonce, alloy_primitives::TxKind::Create, log1(topic))
}

/// Code that emits one log with `topic` and stops.
fn log1(topic: alloy_primitives::B256) -> Vec<u8> {
    let mut code = vec![0x7f];
    code.extend_from_slice(topic.as_slice());
    code.extend_from_slice(&[0x60, 0x00, 0x60, 0x00, 0xa1, 0x00]);
    code
}

/// Dev account 0's EIP-1559 transaction at `nonce` (100,000 gas, 2 gwei cap, 1 gwei tip).
fn dev_tx(
    nonce: u64,
    to: alloy_primitives::TxKind,
    input: Vec<u8>,
) -> ethpeer_actors::eth::PooledTx {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{Bytes, B256};
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 100_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    let key: B256 = genesis::DEV_ACCOUNT_KEYS[0].parse().expect("key");
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).expect("signs");
    ethpeer_actors::eth::PooledTx::Eip1559(tx.into_signed(signature))
}

/// A contract deployed, then called: its runtime code emits a log on every call; the
/// call's log is found by `eth_getLogs` at the contract's address in block 2, and
/// `eth_getCode` answers the deployed code.
#[actix_rt::test]
async fn a_deployed_contract_emits_a_log_when_called() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover", "--dev.period", "0"]).await;
    let topic = alloy_primitives::B256::repeat_byte(0xef);
    let runtime = log1(topic);
    // PUSH1 len, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 len, PUSH1 0, RETURN; then the runtime.
    let len = u8::try_from(runtime.len()).expect("short");
    let mut init = vec![
        0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    init.extend_from_slice(&runtime);
    let contract = dev_address().create(0);
    for (nonce, tx) in [
        (1u64, dev_tx(0, alloy_primitives::TxKind::Create, init)),
        (
            2,
            dev_tx(1, alloy_primitives::TxKind::Call(contract), Vec::new()),
        ),
    ] {
        let raw = hex::encode_prefixed(tx.encoded_2718());
        let sent = node.call("eth_sendRawTransaction", json!([raw])).await;
        assert!(sent["result"].is_string(), "{sent}");
        let number = format!("{nonce:#x}");
        eventually("the transaction is mined", || async {
            node.call("eth_blockNumber", json!([])).await["result"] == json!(number)
        })
        .await;
    }
    let code = node.call("eth_getCode", json!([contract, "latest"])).await;
    assert_eq!(
        code["result"],
        json!(hex::encode_prefixed(&runtime)),
        "{code}"
    );
    let logs = node
        .call(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "address": contract}]),
        )
        .await;
    let logs = logs["result"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        logs.len(),
        1,
        "the call's log only (the creation emitted none)"
    );
    assert_eq!(logs[0]["blockNumber"], json!("0x2"));
    assert_eq!(logs[0]["topics"], json!([topic]));
}

/// `eth_subscribe logs` over WebSocket: a subscription whose filter names the topic gets
/// the produced block's log (geth's shape, `removed: false`) ahead of the block's
/// `newHeads` notification; one whose filter names another address gets nothing.
#[actix_rt::test]
async fn a_logs_subscription_gets_the_matching_logs_of_new_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(
        dir.path(),
        &[
            "--nodiscover",
            "--dev.period",
            "0",
            "--ws",
            "--ws.addr",
            "127.0.0.1",
            "--ws.port",
            "0",
        ],
    )
    .await;
    let ws = node.ws.clone().expect("a ws endpoint");
    let addr: std::net::SocketAddr = ws.trim_start_matches("ws://").parse().expect("addr");
    let mut client = crate::ws::connect(addr, None).await;
    let topic = alloy_primitives::B256::repeat_byte(0xcd);
    let matching = crate::ws::request(
        &mut client,
        "eth_subscribe",
        json!(["logs", {"topics": [topic]}]),
    )
    .await;
    let matching = matching["result"].as_str().expect("an id").to_string();
    let other = crate::ws::request(
        &mut client,
        "eth_subscribe",
        json!(["logs", {"address": format!("{:?}", Address::repeat_byte(0x01))}]),
    )
    .await;
    assert!(other["result"].is_string(), "{other}");
    let heads = crate::ws::request(&mut client, "eth_subscribe", json!(["newHeads"])).await;
    let heads = heads["result"].as_str().expect("an id").to_string();
    let bad = crate::ws::request(
        &mut client,
        "eth_subscribe",
        json!(["logs", {"topics": "x"}]),
    )
    .await;
    assert_eq!(bad["error"]["code"], json!(-32602), "{bad}");
    let signed = log_emitting_creation(topic, 0);
    let sent = node
        .call(
            "eth_sendRawTransaction",
            json!([hex::encode_prefixed(signed.encoded_2718())]),
        )
        .await;
    assert!(sent["result"].is_string(), "{sent}");
    let first = crate::ws::next_json(&mut client).await;
    assert_eq!(first["params"]["subscription"], json!(matching), "{first}");
    let log = &first["params"]["result"];
    assert_eq!(log["topics"], json!([topic]));
    assert_eq!(log["address"], json!(dev_address().create(0)));
    assert_eq!(log["removed"], json!(false));
    assert_eq!(log["blockNumber"], json!("0x1"));
    let second = crate::ws::next_json(&mut client).await;
    assert_eq!(
        second["params"]["subscription"],
        json!(heads),
        "only the matching filter got a log: {second}"
    );
}

/// `--state.window 1` keeps only the head's state: a block behind it answers geth's
/// missing-state error.
#[actix_rt::test]
async fn state_older_than_the_window_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(
        dir.path(),
        &["--nodiscover", "--dev.period", "0", "--state.window", "1"],
    )
    .await;
    for nonce in 0..2u64 {
        let (_, raw) = raw_transfer(nonce);
        node.call("eth_sendRawTransaction", json!([raw])).await;
        let number = format!("{:#x}", nonce + 1);
        eventually("mined", || async {
            node.call("eth_blockNumber", json!([])).await["result"] == json!(number)
        })
        .await;
    }
    let recipient = format!("{:?}", Address::repeat_byte(0x77));
    let head = node.call("eth_getBalance", json!([recipient, "0x2"])).await;
    assert_eq!(head["result"], json!("0xa"), "{head}");
    let old = node.call("eth_getBalance", json!([recipient, "0x1"])).await;
    assert!(
        old["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing trie node")),
        "{old}"
    );
}
