//! The engine API as a consensus client uses it (issue 24): the test, holding the JWT
//! secret, feeds the ethtest chain's 600 payloads (`newpayload.json`, made by hive for
//! geth) to an ethpeer started from the bare genesis; each is executed and VALID, the
//! forkchoice makes block 600 our head, and eth_blockNumber says so. A payload whose
//! state root is wrong (its block hash recomputed) is INVALID with the parent as the
//! latest valid block; one whose block hash does not match is INVALID; a missing, stale
//! or foreign token is answered 401.

use alloy_primitives::B256;
use ethpeer_actors::chain;
use serde_json::{json, Value};

use crate::common::binary::{http_with, Binary};
use crate::common::testdata_or_skip;
use crate::geth_peer::jwt_token;

const SECRET: [u8; 32] = [0x5e; 32];

async fn engine(url: &str, token: Option<String>, body: &Value) -> (u16, String) {
    let headers: Vec<String> = token
        .map(|t| format!("Authorization: Bearer {t}"))
        .into_iter()
        .collect();
    http_with(url, "POST", "/", &headers, &body.to_string()).await
}

async fn call(url: &str, body: &Value) -> Value {
    let (status, text) = engine(url, Some(jwt_token(&SECRET)), body).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

/// The file writes V4's `executionRequests` as base64 (Go's default for `[][]byte`); the
/// engine API (and geth's `[]hexutil.Bytes`) takes hex, which a consensus client sends.
fn hex_requests(payload: &Value) -> Value {
    let mut payload = payload.clone();
    if let Some(requests) = payload["params"].get_mut(3).and_then(Value::as_array_mut) {
        for request in requests {
            if let Some(text) = request.as_str().filter(|t| !t.starts_with("0x")) {
                let bytes = data_encoding::BASE64
                    .decode(text.as_bytes())
                    .expect("base64");
                *request = json!(alloy_primitives::hex::encode_prefixed(bytes));
            }
        }
    }
    payload
}

#[actix_rt::test]
async fn a_consensus_client_drives_the_ethtest_chain_through_the_engine_api() {
    let testdata = testdata_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("jwt.hex");
    std::fs::write(&secret, alloy_primitives::hex::encode(SECRET)).expect("secret");
    let file = |name: &str| testdata.join("ethtest").join(name);
    let node = Binary::start(
        &dir.path().join("node"),
        &[
            "--nodiscover",
            "--follow=false",
            "--genesis",
            file("genesis.json").to_str().expect("utf-8"),
            "--authrpc.jwtsecret",
            secret.to_str().expect("utf-8"),
            "--authrpc.port",
            "0",
        ],
    )
    .await;
    let url = node.authrpc.clone().expect("an engine API");
    let payloads: Value =
        serde_json::from_str(&std::fs::read_to_string(file("newpayload.json")).expect("file"))
            .expect("JSON");

    // Authentication first: none, a foreign secret, a stale token.
    let capabilities =
        json!({"jsonrpc": "2.0", "id": 1, "method": "engine_exchangeCapabilities", "params": [[]]});
    assert_eq!(engine(&url, None, &capabilities).await.0, 401);
    assert_eq!(
        engine(&url, Some(jwt_token(&[1; 32])), &capabilities)
            .await
            .0,
        401
    );
    let answer = call(&url, &capabilities).await;
    assert!(
        answer["result"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("engine_newPayloadV4"))),
        "{answer}"
    );

    // Block 1 with a wrong state root, its block hash made to match: executed, INVALID.
    let bytes = std::fs::read(file("chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain");
    let mut header = blocks[0].header.clone();
    header.state_root = B256::repeat_byte(0xbd);
    let mut bad = payloads[1].clone();
    bad["params"][0]["stateRoot"] = json!(header.state_root);
    bad["params"][0]["blockHash"] = json!(header.hash_slow());
    let answer = call(&url, &bad).await;
    assert_eq!(answer["result"]["status"], "INVALID", "{answer}");
    assert_eq!(
        answer["result"]["latestValidHash"],
        json!(blocks[0].header.parent_hash)
    );
    assert!(
        answer["result"]["validationError"]
            .as_str()
            .is_some_and(|e| e.contains("state root")),
        "{answer}"
    );
    // A block hash that does not match the payload.
    let mut mismatched = payloads[1].clone();
    mismatched["params"][0]["blockHash"] = json!(B256::repeat_byte(1));
    let answer = call(&url, &mismatched).await;
    assert_eq!(answer["result"]["status"], "INVALID", "{answer}");

    // The real chain: 600 payloads (V2, then V3 from Cancun, V4 from Prague), each VALID.
    for (number, payload) in payloads
        .as_array()
        .expect("list")
        .iter()
        .enumerate()
        .skip(1)
    {
        let answer = call(&url, &hex_requests(payload)).await;
        assert_eq!(
            answer["result"]["status"], "VALID",
            "block {number}: {answer}"
        );
    }
    let fcu: Value =
        serde_json::from_str(&std::fs::read_to_string(file("headfcu.json")).expect("file"))
            .expect("JSON");
    let answer = call(&url, &fcu).await;
    assert_eq!(
        answer["result"]["payloadStatus"]["status"], "VALID",
        "{answer}"
    );
    assert_eq!(answer["result"]["payloadId"], Value::Null);
    assert_eq!(
        node.call("eth_blockNumber", json!([])).await["result"],
        json!("0x258")
    );
    let version = call(
        &url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "engine_getClientVersionV1",
        "params": [{"code": "LH", "name": "Lighthouse", "version": "v8", "commit": "0x01020304"}]}),
    )
    .await;
    assert_eq!(version["result"][0]["name"], "ethpeer");
}
