//! viem (npm, `tests/interop/mempool.mjs`) against the `ethpeer` binary on the dev network
//! with `--ws`: it watches pending transactions over WebSocket, sends a raw transaction
//! there, reads `txpool_status`, the pending nonce, `eth_gasPrice`,
//! `eth_maxPriorityFeePerGas` and the transaction over HTTP, and classifies the pool's
//! refusals with viem's own node-error classifier (geth's texts are what it matches).
//!
//! Needs `npm ci` in `tests/interop` (skips with a notice otherwise, unless
//! `ETHPEER_REQUIRE_INTEROP=1`).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::binary::Binary;

/// A state dump: dev accounts 1 funded, 2 funded at nonce 5.
const STATE: &str = r#"{"root": "0x00", "accounts": {
  "0x70997970C51812dc3A010C7d01b50e0d17dc79C8": {"balance": "10000000000000000000000", "nonce": 0},
  "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC": {"balance": "10000000000000000000000", "nonce": 5}
}}"#;

#[actix_rt::test]
async fn viem_subscribes_sends_reads_the_pool_and_classifies_its_errors() {
    let Some(interop) = crate::interop::interop_dir() else {
        return;
    };
    if !interop.join("node_modules").join("viem").is_dir() {
        if std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("viem missing in tests/interop/node_modules (run npm ci there)");
        }
        eprintln!("notice: skipping viem test, run `npm ci` in tests/interop");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, STATE).unwrap();
    let node = Binary::start(
        &dir.path().join("data"),
        &[
            "--state",
            state.to_str().unwrap(),
            "--ws",
            "--ws.addr",
            "127.0.0.1",
            "--ws.port",
            "0",
            "--ws.api",
            "eth,txpool",
        ],
    )
    .await;
    let ws = node.ws.clone().expect("a ws line");
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg(interop.join("mempool.mjs"))
            .args(["--http", &node.rpc, "--ws", &ws])
            .stderr(Stdio::inherit())
            .output(),
    )
    .await
    .expect("viem script within 60 s")
    .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(result["ok"], json!(true), "{result:#}");
    println!(
        "viem: newPendingTransactions {} ms after sendRawTransaction over ws",
        result["latencyMs"]
    );
    assert!(
        result["notified"]
            .as_array()
            .unwrap()
            .contains(&result["hash"]),
        "{result:#}"
    );
    assert_eq!(result["status"], json!({"pending": "0x1", "queued": "0x0"}));
    assert_eq!(result["pendingNonce"], json!(1));
    assert_eq!(result["pooled"]["hash"], result["hash"]);
    assert_eq!(result["pooled"]["type"], json!("eip1559"));
    assert_eq!(result["pooled"]["blockHash"], Value::Null);
    assert!(
        result["gasPrice"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
            > 0
    );
    let classified = &result["classified"];
    let class = |name: &str| classified[name]["class"].as_str().unwrap_or("").to_string();
    let details = |name: &str| {
        classified[name]["details"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    // The errors viem has classes for.
    assert_eq!(class("alreadyKnown"), "NonceTooLowError", "{classified:#}");
    assert_eq!(class("nonceTooLow"), "NonceTooLowError", "{classified:#}");
    assert_eq!(
        class("insufficientFunds"),
        "InsufficientFundsError",
        "{classified:#}"
    );
    assert_eq!(
        class("intrinsicGasTooLow"),
        "IntrinsicGasTooLowError",
        "{classified:#}"
    );
    // The rest reach the client with geth's text (viem refuses to sign a tip above the
    // fee cap, so that refusal is only tested in Rust).
    for (name, text) in [
        ("alreadyKnown", "already known"),
        ("nonceTooLow", "nonce too low"),
        (
            "replacementUnderpriced",
            "replacement transaction underpriced",
        ),
        (
            "insufficientFunds",
            "insufficient funds for gas * price + value",
        ),
        ("intrinsicGasTooLow", "intrinsic gas too low"),
        ("exceedsBlockGasLimit", "exceeds block gas limit"),
        ("oversizedData", "oversized data"),
        ("maxInitcodeSizeExceeded", "max initcode size exceeded"),
    ] {
        assert!(details(name).starts_with(text), "{name}: {classified:#}");
    }
}
