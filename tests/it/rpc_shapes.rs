//! The shapes of our JSON-RPC answers against geth's (`internal/ethapi`'s `RPCTransaction`
//! and `RPCMarshalHeader`, `txpool`'s API, documented at geth.ethereum.org/docs/interacting-
//! with-geth/rpc): a transaction of each type carries exactly geth's fields, `txpool_*`
//! group by checksum address and decimal nonce, nonces count pending transactions, fee
//! suggestions and blocks are hex quantities with geth's header fields.

use std::collections::BTreeSet;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEip2930, TxEip7702, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::Authorization;
use alloy_primitives::{hex, Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::api::rpc;
use ethpeer_actors::eth::genesis::DEV_ACCOUNT_KEYS;
use ethpeer_actors::eth::PooledTx;
use ethpeer_actors::node::{Node, NodeBuilder};
use serde_json::{json, Value};

pub(crate) async fn dev_node() -> Node {
    NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .arrival_wait(Duration::ZERO)
        .start()
        .await
        .expect("starts")
}

pub(crate) async fn call(node: &Node, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    rpc::handle_body(node, body.to_string().as_bytes())
        .await
        .expect("an answer")
}

fn key(index: usize) -> B256 {
    DEV_ACCOUNT_KEYS[index].parse().unwrap()
}

fn sign<T: SignableTransaction<alloy_primitives::Signature>>(index: usize, tx: T) -> Signed<T> {
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key(index), tx.signature_hash())
            .expect("signs");
    tx.into_signed(signature)
}

fn raw(tx: PooledTx) -> (B256, String) {
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()))
}

const GWEI: u128 = 1_000_000_000;

fn access_list() -> AccessList {
    AccessList(vec![AccessListItem {
        address: Address::repeat_byte(0x11),
        storage_keys: vec![B256::repeat_byte(0x22)],
    }])
}

/// One transaction of each non-blob type, from dev accounts 0-3.
fn one_of_each_type() -> Vec<(&'static str, B256, String)> {
    let to = TxKind::Call(Address::repeat_byte(0x42));
    let legacy = TxLegacy {
        chain_id: Some(1337),
        nonce: 0,
        gas_price: 3 * GWEI,
        gas_limit: 21_000,
        to,
        value: U256::from(1),
        input: Bytes::new(),
    };
    let eip2930 = TxEip2930 {
        chain_id: 1337,
        nonce: 0,
        gas_price: 3 * GWEI,
        gas_limit: 30_000,
        to,
        value: U256::from(2),
        access_list: access_list(),
        input: Bytes::from_static(&[1, 2, 3]),
    };
    let eip1559 = TxEip1559 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to,
        value: U256::from(3),
        access_list: AccessList::default(),
        input: Bytes::new(),
    };
    let auth = Authorization {
        chain_id: U256::from(1337),
        address: Address::repeat_byte(0x77),
        nonce: 1,
    };
    let signature = alloy_consensus::crypto::secp256k1::sign_message(key(3), auth.signature_hash())
        .expect("signs");
    let eip7702 = TxEip7702 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 60_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(0x42),
        value: U256::ZERO,
        access_list: AccessList::default(),
        authorization_list: vec![auth.into_signed(signature)],
        input: Bytes::new(),
    };
    [
        ("legacy", raw(PooledTx::Legacy(sign(0, legacy)))),
        ("eip2930", raw(PooledTx::Eip2930(sign(1, eip2930)))),
        ("eip1559", raw(PooledTx::Eip1559(sign(2, eip1559)))),
        ("eip7702", raw(PooledTx::Eip7702(sign(3, eip7702)))),
    ]
    .into_iter()
    .map(|(name, (hash, raw))| (name, hash, raw))
    .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

/// geth's `RPCTransaction` fields for each type (fields with `omitempty` left out where
/// geth leaves them out).
fn geth_fields(kind: &str) -> BTreeSet<String> {
    let mut fields: Vec<&str> = vec![
        "blockHash",
        "blockNumber",
        "from",
        "gas",
        "gasPrice",
        "hash",
        "input",
        "nonce",
        "to",
        "transactionIndex",
        "value",
        "type",
        "chainId",
        "v",
        "r",
        "s",
    ];
    if kind != "legacy" {
        fields.extend(["accessList", "yParity"]);
    }
    if kind == "eip1559" || kind == "eip7702" {
        fields.extend(["maxFeePerGas", "maxPriorityFeePerGas"]);
    }
    if kind == "eip7702" {
        fields.push("authorizationList");
    }
    fields.into_iter().map(String::from).collect()
}

#[actix_rt::test]
async fn pending_transactions_of_each_type_carry_geths_fields() {
    let node = dev_node().await;
    for (kind, hash, raw) in one_of_each_type() {
        let sent = call(&node, "eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(sent["result"], json!(hash), "{kind}: {sent}");
        let tx = call(&node, "eth_getTransactionByHash", json!([hash])).await["result"].clone();
        assert_eq!(keys(&tx), geth_fields(kind), "{kind}: {tx}");
        assert_eq!(tx["hash"], json!(hash));
        assert_eq!(tx["blockHash"], Value::Null);
        assert_eq!(tx["nonce"], json!("0x0"));
        assert_eq!(tx["chainId"], json!("0x539"));
    }
    let tx = call(
        &node,
        "eth_getTransactionByHash",
        json!([one_of_each_type()[0].1]),
    )
    .await["result"]
        .clone();
    // EIP-155: v = 35 + 2 * 1337 + parity.
    let v = u64::from_str_radix(tx["v"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(v == 2709 || v == 2710, "{tx}");
    let tx = call(
        &node,
        "eth_getTransactionByHash",
        json!([one_of_each_type()[3].1]),
    )
    .await["result"]
        .clone();
    let auth = &tx["authorizationList"][0];
    assert_eq!(
        keys(auth),
        ["address", "chainId", "nonce", "r", "s", "yParity"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    // A pending dynamic-fee tx shows its fee cap as gasPrice (geth).
    let tx = call(
        &node,
        "eth_getTransactionByHash",
        json!([one_of_each_type()[2].1]),
    )
    .await["result"]
        .clone();
    assert_eq!(tx["gasPrice"], json!("0x77359400"));
    let unknown = call(&node, "eth_getTransactionByHash", json!([B256::ZERO])).await;
    assert_eq!(unknown["result"], Value::Null);
}

#[actix_rt::test]
async fn txpool_methods_group_by_sender_and_nonce_as_geth_does() {
    let node = dev_node().await;
    // Account 0: nonces 0 and 1 (pending) and 3 (queued: nonce 2 is missing).
    let transfer = |nonce| crate::node_dev::dev_transfer(0, nonce).1;
    for nonce in [0, 1, 3] {
        let sent = call(&node, "eth_sendRawTransaction", json!([transfer(nonce)])).await;
        assert!(sent["result"].is_string(), "{sent}");
    }
    let status = call(&node, "txpool_status", json!([])).await["result"].clone();
    assert_eq!(status, json!({"pending": "0x2", "queued": "0x1"}));

    let content = call(&node, "txpool_content", json!([])).await["result"].clone();
    let pending = content["pending"].as_object().expect("pending");
    assert_eq!(pending.len(), 1);
    let (address, by_nonce) = pending.iter().next().unwrap();
    // A checksum address (mixed case), nonces as decimal strings.
    assert_ne!(address, &address.to_lowercase(), "{address}");
    assert_eq!(
        keys(by_nonce),
        ["0", "1"].into_iter().map(String::from).collect()
    );
    assert_eq!(
        keys(&content["queued"][address]),
        BTreeSet::from(["3".to_string()])
    );
    assert_eq!(by_nonce["1"]["nonce"], json!("0x1"));

    let from = call(&node, "txpool_contentFrom", json!([address])).await["result"].clone();
    assert_eq!(
        keys(&from),
        BTreeSet::from(["pending".into(), "queued".into()])
    );
    assert_eq!(from["pending"]["0"], by_nonce["0"]);
    assert_eq!(keys(&from["queued"]), BTreeSet::from(["3".to_string()]));

    let inspect = call(&node, "txpool_inspect", json!([])).await["result"].clone();
    // geth: "to: value wei + gas gas × price wei" (dynamic fee: the fee cap).
    assert_eq!(
        inspect["pending"][address]["0"],
        json!("0x4242424242424242424242424242424242424242: 1 wei + 21000 gas × 2000000000 wei")
    );

    let count = |tag: &'static str| {
        let node = node.clone();
        let address = address.clone();
        async move {
            call(&node, "eth_getTransactionCount", json!([address, tag])).await["result"].clone()
        }
    };
    assert_eq!(count("latest").await, json!("0x0"));
    assert_eq!(count("pending").await, json!("0x2"));
    let old = call(&node, "eth_getTransactionCount", json!([address, "0x5"])).await;
    assert_eq!(old["error"]["code"], json!(-32000), "{old}");
}

fn is_quantity(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.strip_prefix("0x").is_some_and(|d| {
            !d.is_empty()
                && (d == "0" || !d.starts_with('0'))
                && d.chars().all(|c| c.is_ascii_hexdigit())
        })
    })
}

#[actix_rt::test]
async fn fees_blocks_and_sync_state_read_as_geths() {
    let node = dev_node().await;
    let gas_price = call(&node, "eth_gasPrice", json!([])).await["result"].clone();
    let tip = call(&node, "eth_maxPriorityFeePerGas", json!([])).await["result"].clone();
    assert!(
        is_quantity(&gas_price) && is_quantity(&tip),
        "{gas_price} {tip}"
    );
    // No block has a tip yet: geth's default suggestion (0.001 gwei), plus the genesis
    // base fee in the gas price.
    assert_eq!(tip, json!("0xf4240"));
    assert_eq!(
        call(&node, "eth_syncing", json!([])).await["result"],
        json!(false)
    );

    let block = call(&node, "eth_getBlockByNumber", json!(["0x0", false])).await["result"].clone();
    let expected: BTreeSet<String> = [
        "baseFeePerGas",
        "blobGasUsed",
        "difficulty",
        "excessBlobGas",
        "extraData",
        "gasLimit",
        "gasUsed",
        "hash",
        "logsBloom",
        "miner",
        "mixHash",
        "nonce",
        "number",
        "parentBeaconBlockRoot",
        "parentHash",
        "receiptsRoot",
        "requestsHash",
        "sha3Uncles",
        "size",
        "stateRoot",
        "timestamp",
        "transactions",
        "transactionsRoot",
        "uncles",
        "withdrawals",
        "withdrawalsRoot",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys(&block), expected, "{block}");
    assert_eq!(block["number"], json!("0x0"));
    let by_hash =
        call(&node, "eth_getBlockByHash", json!([block["hash"], true])).await["result"].clone();
    assert_eq!(
        by_hash, block,
        "an empty block reads the same with full txs"
    );
    let latest =
        call(&node, "eth_getBlockByNumber", json!(["latest", false])).await["result"].clone();
    assert_eq!(latest["hash"], block["hash"]);
    let missing = call(&node, "eth_getBlockByNumber", json!(["0x10", false])).await;
    assert_eq!(missing["result"], Value::Null, "{missing}");
    let finalized = call(&node, "eth_getBlockByNumber", json!(["finalized", false])).await;
    assert_eq!(finalized["error"]["code"], json!(-32000), "{finalized}");
}

#[actix_rt::test]
async fn a_pending_blob_transaction_shows_its_blob_fields_without_the_sidecar() {
    use alloy_consensus::{TxEip4844, TxEip4844WithSidecar};
    use alloy_eips::eip4844::env_settings::EnvKzgSettings;
    use alloy_eips::eip4844::{Blob, BlobTransactionSidecar};
    use alloy_eips::eip7594::BlobTransactionSidecarVariant;
    let node = dev_node().await;
    let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(
        vec![Blob::repeat_byte(1)],
        EnvKzgSettings::Default.get(),
    )
    .expect("kzg");
    let tx = TxEip4844 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 2 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::repeat_byte(0x42),
        value: U256::ZERO,
        access_list: AccessList::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 3 * GWEI,
        input: Bytes::new(),
    };
    let with_sidecar = TxEip4844WithSidecar {
        tx,
        sidecar: BlobTransactionSidecarVariant::Eip4844(sidecar),
    };
    let (hash, raw) = raw(PooledTx::Eip4844(sign(0, with_sidecar)));
    let sent = call(&node, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash), "{sent}");
    let tx = call(&node, "eth_getTransactionByHash", json!([hash])).await["result"].clone();
    let mut expected = geth_fields("eip1559");
    expected.extend(["maxFeePerBlobGas".into(), "blobVersionedHashes".into()]);
    assert_eq!(keys(&tx), expected, "{tx}");
    assert_eq!(tx["type"], json!("0x3"));
    assert_eq!(tx["maxFeePerBlobGas"], json!("0xb2d05e00"));
    assert_eq!(tx["blobVersionedHashes"].as_array().map(Vec::len), Some(1));
}

#[actix_rt::test]
async fn namespaces_outside_the_api_list_are_unknown_methods() {
    let node = dev_node().await;
    let access = rpc::RpcAccess::default().with_apis("eth,txpool");
    let ask = |method: &str| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []});
        let (node, access) = (node.clone(), access.clone());
        async move {
            rpc::handle_body_with(&node, &access, body.to_string().as_bytes())
                .await
                .expect("an answer")
        }
    };
    assert_eq!(
        ask("txpool_status").await["result"]["pending"],
        json!("0x0")
    );
    assert_eq!(ask("eth_chainId").await["result"], json!("0x539"));
    for method in ["admin_peers", "net_version", "web3_clientVersion"] {
        let answer = ask(method).await;
        assert_eq!(answer["error"]["code"], json!(-32601), "{method}: {answer}");
        assert_eq!(
            answer["error"]["message"],
            json!(format!(
                "the method {method} does not exist/is not available"
            ))
        );
    }
    // Over HTTP there are no notifications (geth's answer).
    let answer = ask("eth_subscribe").await;
    assert_eq!(
        answer["error"]["message"],
        json!("notifications not supported")
    );
}
