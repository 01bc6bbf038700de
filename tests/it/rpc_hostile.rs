//! The RPC under attack, one test per way in (issue "nobody can hijack or sink the node
//! through its RPC"): a foreign browser origin, a batch whose answer would be hundreds of
//! megabytes, a WebSocket client that stops reading, subscriptions past the caps, a raw
//! blob tx built to cost seconds of KZG work, and connections past the cap. Each test checks
//! the node's reaction and that an honest client is still served. (A subscriber that stays
//! full is dropped by the hub: `feed::hub`'s unit tests.) (Busy ports and bad flags
//! are `cli::node_refuses_bad_flags_and_files_with_one_line_and_writes_nothing`.)

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, B256, U256};
use ethpeer_actors::api::rpc::{self, ConnectionGate, RpcAccess, RpcLimits};
use ethpeer_actors::node::{Node, NodeBuilder};
use futures::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::binary::http;
use crate::common::poll::eventually;
use crate::ws::{connect, request};

/// A dev node (at most `subscriptions` subscriptions in all) with HTTP and WebSocket
/// servers on free loopback ports, both under `limits`.
async fn served(limits: RpcLimits, subscriptions: usize) -> (Node, SocketAddr, SocketAddr) {
    let mut builder = NodeBuilder::dev().listen("127.0.0.1:0".parse().unwrap());
    builder.config_mut().max_subscriptions = subscriptions;
    let node = builder.start().await.expect("starts");
    let access = RpcAccess {
        limits,
        ..RpcAccess::all()
    };
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (server, http_addr) = rpc::server_with(node.clone(), local, access.clone()).unwrap();
    actix_rt::spawn(server);
    let (server, ws_addr) = rpc::ws::server(node.clone(), local, access).unwrap();
    actix_rt::spawn(server);
    (node, http_addr, ws_addr)
}

/// An honest client's `eth_chainId` over HTTP.
async fn honest_call(http_addr: SocketAddr) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []});
    let (status, text) = http(
        &format!("http://{http_addr}"),
        "POST",
        "/",
        &body.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("0x539"), "{text}");
}

/// A WebSocket upgrade with `origin` (none: no header); the HTTP status it got.
async fn upgrade_status(addr: SocketAddr, origin: Option<&str>) -> u16 {
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
    }
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("upgrade failed otherwise: {other}"),
    }
}

#[actix_rt::test]
async fn a_foreign_browser_origin_cannot_open_a_websocket() {
    let (_node, http_addr, ws_addr) = served(RpcLimits::default(), 16).await;
    assert_eq!(
        upgrade_status(ws_addr, Some("https://evil.example")).await,
        403
    );
    assert_eq!(upgrade_status(ws_addr, Some("null")).await, 403);
    // geth's defaults: localhost pages, and clients that are not browsers.
    assert_eq!(
        upgrade_status(ws_addr, Some("http://localhost:3000")).await,
        101
    );
    assert_eq!(upgrade_status(ws_addr, None).await, 101);
    honest_call(http_addr).await;
}

/// Dev account 0's transfer of nonce 0 with 100 kB of calldata: about 200 kB of JSON
/// in `eth_getTransactionByHash`.
fn big_tx() -> (B256, String) {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    let key: B256 = ethpeer_actors::eth::genesis::DEV_ACCOUNT_KEYS[0]
        .parse()
        .unwrap();
    let calldata = 100_000u64;
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000 + 16 * calldata + 40 * calldata,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: vec![0xab; calldata as usize].into(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).unwrap();
    let tx = ethpeer_actors::eth::PooledTx::Eip1559(tx.into_signed(signature));
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()))
}

/// `count` calls of `eth_getTransactionByHash(hash)` as one batch.
fn batch(hash: B256, count: usize) -> String {
    let calls: Vec<Value> = (0..count)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "eth_getTransactionByHash", "params": [hash]}))
        .collect();
    Value::Array(calls).to_string()
}

#[actix_rt::test]
async fn a_batch_stops_at_the_response_budget_with_geths_error() {
    let (node, http_addr, _) = served(RpcLimits::default(), 16).await;
    let (hash, raw) = big_tx();
    let sent = crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash), "{sent}");
    let (status, text) = http(
        &format!("http://{http_addr}"),
        "POST",
        "/",
        &batch(hash, 1000),
    )
    .await;
    assert_eq!(status, 200);
    // Unbounded this was about 200 MB; the budget is 25 MB plus the answer crossing it.
    let answers: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
    assert_eq!(answers.len(), 1000, "every call is answered");
    let full = answers
        .iter()
        .filter(|a| a["result"]["hash"] == json!(hash))
        .count();
    let refused: Vec<&Value> = answers.iter().filter(|a| a["error"].is_object()).collect();
    assert_eq!(full + refused.len(), 1000);
    assert!(full > 0 && !refused.is_empty(), "{full} answered");
    assert_eq!(refused[0]["error"]["code"], json!(-32003));
    assert_eq!(refused[0]["error"]["message"], json!("response too large"));
    // The calls are answered in order: results first, then only errors; the results fill
    // the budget and cross it by at most one answer.
    assert!(answers[..full].iter().all(|a| a["result"].is_object()));
    let one = answers[0].to_string().len();
    let spent: usize = answers[..full].iter().map(|a| a.to_string().len()).sum();
    let budget = rpc::limits::BATCH_RESPONSE_MAX_SIZE;
    assert!(
        spent > budget && spent <= budget + one,
        "{spent} bytes of results"
    );
    // Over the call limit: refused whole, with geth's words.
    let body = batch(hash, 1001);
    let (_, text) = http(&format!("http://{http_addr}"), "POST", "/", &body).await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["error"]["message"],
        json!("batch too large"),
        "{answer}"
    );
    honest_call(http_addr).await;
}

#[actix_rt::test]
async fn a_websocket_client_that_stops_reading_is_closed_at_the_write_deadline() {
    let limits = RpcLimits {
        ws_write_timeout: Duration::from_millis(300),
        ..RpcLimits::default()
    };
    let gate = limits.connections.clone();
    let (node, http_addr, ws_addr) = served(limits, 16).await;
    let (hash, raw) = big_tx();
    crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([raw])).await;
    // A client with a small receive buffer asks for 4 MB answers and never reads them.
    let mut stuck = connect(ws_addr, Some(4096)).await;
    for _ in 0..8 {
        stuck
            .send(Message::text(batch(hash, 20)))
            .await
            .expect("the request goes out");
    }
    eventually(
        "the stuck connection is closed at its write deadline",
        || async { gate.ws_timeouts.load(Ordering::Relaxed) >= 1 },
    )
    .await;
    // Its place is given back, and others are served all along.
    eventually("the stuck connection's place comes back", || async {
        gate.open() == 0
    })
    .await;
    let mut honest = connect(ws_addr, None).await;
    let chain = request(&mut honest, "eth_chainId", json!([])).await;
    assert_eq!(chain["result"], json!("0x539"));
    honest_call(http_addr).await;
}

#[actix_rt::test]
async fn subscriptions_are_capped_per_connection_and_in_all() {
    let limits = RpcLimits {
        subscriptions_per_connection: 3,
        ..RpcLimits::default()
    };
    let (_node, http_addr, ws_addr) = served(limits, 4).await;
    let mut first = connect(ws_addr, None).await;
    for _ in 0..3 {
        let sub = request(
            &mut first,
            "eth_subscribe",
            json!(["newPendingTransactions", true]),
        )
        .await;
        assert!(sub["result"].is_string(), "{sub}");
    }
    let over = request(&mut first, "eth_subscribe", json!(["newHeads"])).await;
    assert_eq!(over["error"]["code"], json!(-32005), "{over}");
    assert!(over["error"]["message"]
        .as_str()
        .unwrap()
        .contains("per connection"));
    let mut second = connect(ws_addr, None).await;
    let last = request(&mut second, "eth_subscribe", json!(["newHeads"])).await;
    assert!(last["result"].is_string(), "{last}");
    let over = request(&mut second, "eth_subscribe", json!(["newHeads"])).await;
    assert_eq!(over["error"]["code"], json!(-32005), "{over}");
    assert!(
        over["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 4"),
        "{over}"
    );
    honest_call(http_addr).await;
}

/// A type-3 tx with a version-0 sidecar of `blobs` zero blobs and a signature of nobody's.
fn zero_blob_tx(blobs: usize) -> String {
    use alloy_consensus::{Signed, TxEip4844, TxEip4844WithSidecar};
    use alloy_eips::eip4844::{BlobTransactionSidecar, Bytes48};
    use alloy_eips::eip7594::BlobTransactionSidecarVariant;
    let sidecar = BlobTransactionSidecar {
        blobs: vec![Default::default(); blobs],
        commitments: vec![Bytes48::ZERO; blobs],
        proofs: vec![Bytes48::ZERO; blobs],
    };
    let tx = TxEip4844 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(7),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: vec![B256::repeat_byte(1); blobs],
        max_fee_per_blob_gas: 1_000_000_000,
        input: Default::default(),
    };
    let signature = alloy_primitives::Signature::new(U256::from(1), U256::from(1), false);
    let tx = ethpeer_actors::eth::PooledTx::Eip4844(Signed::new_unhashed(
        TxEip4844WithSidecar {
            tx,
            sidecar: BlobTransactionSidecarVariant::Eip4844(sidecar),
        },
        signature,
    ));
    hex::encode_prefixed(tx.encoded_2718())
}

#[actix_rt::test]
async fn a_raw_blob_tx_is_checked_cheaply_before_any_sidecar_conversion() {
    let (node, http_addr, _) = served(RpcLimits::default(), 16).await;
    // 16 blobs: refused on the count, before the signature and long before cell proofs
    // (which took the old node 4.5-7.1 s for these 16 blobs).
    let answer =
        crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([zero_blob_tx(16)])).await;
    let message = answer["error"]["message"]
        .as_str()
        .expect("an error")
        .to_string();
    assert!(message.contains("too many blobs"), "{message}");
    // 2 blobs under the count: the bad signature stops it, still before any conversion.
    let answer =
        crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([zero_blob_tx(2)])).await;
    let message = answer["error"]["message"]
        .as_str()
        .expect("an error")
        .to_string();
    assert!(!message.contains("conversion"), "{message}");
    assert!(
        message.contains("mismatch") || message.contains("sender"),
        "{message}"
    );
    honest_call(http_addr).await;
}

#[actix_rt::test]
async fn rpc_connections_are_capped_per_address_and_in_all_while_peers_still_connect() {
    let limits = RpcLimits {
        connections: Arc::new(ConnectionGate::new(8)),
        ..RpcLimits::default()
    };
    let gate = limits.connections.clone();
    let (node, http_addr, ws_addr) = served(limits, 16).await;
    assert_eq!(gate.per_ip(), 2);
    // One address holds its two places with idle WebSocket connections...
    let _idle = [connect(ws_addr, None).await, connect(ws_addr, None).await];
    assert_eq!(
        upgrade_status(ws_addr, None).await,
        503,
        "a third from the same address"
    );
    assert_eq!(gate.open(), 2);
    // ...while a client from another loopback address is served.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.2.1:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(http_addr).await.unwrap();
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {http_addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer)
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("0x539"),
        "{answer}"
    );
    assert!(gate.refused.load(Ordering::Relaxed) >= 1);
    // Peers are not RPC clients: p2p still accepts.
    let other = NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect("starts");
    other
        .dial(node.local_addr(), node.node_id())
        .await
        .expect("p2p accepts");
}
