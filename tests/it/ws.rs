//! JSON-RPC over WebSocket against a dev node: `eth_subscribe newPendingTransactions`
//! delivers a transaction sent through the RPC handler (the end-to-end latency is
//! printed), a subscriber that stops reading loses full-transaction notifications while
//! another connection keeps getting every hash and answers calls, and an oversized
//! message gets a JSON-RPC error.

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::api::rpc::{self, RpcAccess};
use ethpeer_actors::eth::genesis::DEV_ACCOUNT_KEYS;
use ethpeer_actors::eth::PooledTx;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

pub(crate) type Client = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

pub(crate) async fn connect(addr: std::net::SocketAddr, recv_buffer: Option<u32>) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = socket.connect(addr).await.unwrap();
    let (client, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .expect("upgrade");
    client
}

pub(crate) async fn request(client: &mut Client, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    client.send(Message::text(body.to_string())).await.unwrap();
    next_json(client).await
}

pub(crate) async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("a message within 10 s")
            .expect("open")
            .expect("valid");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Dev account 0's transfer with `calldata` nonzero bytes.
fn tx(nonce: u64, calldata: usize) -> (B256, String) {
    let key: B256 = DEV_ACCOUNT_KEYS[0].parse().unwrap();
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000 + 16 * calldata as u64 + 10 * 4 * calldata as u64,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::from(vec![0xab; calldata]),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).unwrap();
    let tx = PooledTx::Eip1559(tx.into_signed(signature));
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()))
}

/// A dev node with a WebSocket server (every namespace) on a free loopback port.
pub(crate) async fn ws_dev_node() -> (ethpeer_actors::node::Node, std::net::SocketAddr) {
    let node = crate::rpc_shapes::dev_node().await;
    let (server, addr) = rpc::ws::server(
        node.clone(),
        "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap(),
        RpcAccess::all(),
    )
    .unwrap();
    actix_rt::spawn(server);
    (node, addr)
}

#[actix_rt::test]
async fn subscribers_get_pending_txs_and_a_slow_one_only_loses_its_own() {
    let (node, addr) = ws_dev_node().await;
    let mut fast = connect(addr, None).await;
    let mut slow = connect(addr, Some(4096)).await;
    let sub = request(
        &mut fast,
        "eth_subscribe",
        json!(["newPendingTransactions"]),
    )
    .await;
    let fast_id = sub["result"].as_str().expect("an id").to_string();
    let sub = request(
        &mut slow,
        "eth_subscribe",
        json!(["newPendingTransactions", true]),
    )
    .await;
    assert!(sub["result"].is_string(), "{sub}");
    let unknown = request(&mut fast, "eth_subscribe", json!(["noSuchThing"])).await;
    assert_eq!(unknown["error"]["code"], json!(-32602), "{unknown}");

    // Latency: from the RPC call to the notification on the socket.
    let (hash, raw) = tx(0, 0);
    let sent = Instant::now();
    let answer = crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(answer["result"], json!(hash));
    let note = next_json(&mut fast).await;
    let latency = sent.elapsed();
    assert_eq!(note["method"], "eth_subscription");
    assert_eq!(note["params"]["subscription"], json!(fast_id));
    assert_eq!(note["params"]["result"], json!(hash));
    println!("eth_subscribe newPendingTransactions latency: {latency:?}");
    // The slow client reads its first (full) notification, then stops reading.
    let first = next_json(&mut slow).await;
    assert_eq!(first["params"]["result"]["hash"], json!(hash));
    assert_eq!(first["params"]["result"]["type"], json!("0x2"));

    // 150 txs of 100 KB calldata: 30 MB of full-tx JSON, more than the slow client's
    // buffers (8 MiB of ours, actix's 32 frames, the sockets') can hold.
    for nonce in 1..=150 {
        let (hash, raw) = tx(nonce, 100_000);
        let answer = crate::rpc_shapes::call(&node, "eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(answer["result"], json!(hash), "{answer}");
        let note = next_json(&mut fast).await;
        assert_eq!(note["params"]["result"], json!(hash));
    }
    let dropped = node
        .internals()
        .subscription_metrics
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 0, "the slow subscriber lost notifications");
    println!("slow subscriber: {dropped} of 150 full-tx notifications dropped");
    // The node and the other connection stay responsive.
    let chain = request(&mut fast, "eth_chainId", json!([])).await;
    assert_eq!(chain["result"], json!("0x539"));
    let status = request(&mut fast, "txpool_status", json!([])).await;
    assert_eq!(status["result"]["pending"], json!("0x97"));
    let ended = request(&mut fast, "eth_unsubscribe", json!([fast_id])).await;
    assert_eq!(ended["result"], json!(true));

    // A message above the limit: a JSON-RPC error, then the connection closes.
    let huge = "x".repeat(rpc::ws::MAX_WS_MESSAGE + 1);
    fast.send(Message::text(huge)).await.unwrap();
    let refused = next_json(&mut fast).await;
    assert_eq!(refused["error"]["code"], json!(-32005), "{refused}");
}

/// IPC carries what WebSocket carries: a subscription made over the Unix socket gets the
/// hash of a tx sent afterwards, and calls are answered in order on the same stream.
#[actix_rt::test]
async fn an_ipc_subscriber_gets_pending_txs_and_answers() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let node = crate::rpc_shapes::dev_node().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ipc");
    let endpoint = rpc::ipc::IpcEndpoint::bind(&path).unwrap();
    let _arbiter = rpc::ipc::serve_on_arbiter(endpoint, node.clone(), RpcAccess::all());
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    // Two requests in one write, the second split across two writes.
    write
        .write_all(br#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newPendingTransactions"]}{"jsonrpc":"2.0","#)
        .await
        .unwrap();
    write
        .write_all(br#""id":2,"method":"rpc_modules"}"#)
        .await
        .unwrap();
    let subscribed = ipc_line(&mut lines).await;
    let id = subscribed["result"]
        .as_str()
        .expect("a subscription id")
        .to_string();
    let modules = ipc_line(&mut lines).await;
    assert_eq!(modules["id"], 2);
    assert_eq!(modules["result"]["txpool"], "1.0");
    let (hash, raw) = tx(0, 0);
    let sent = rpc::handle_body(
        &node,
        json!({"jsonrpc": "2.0", "id": 3, "method": "eth_sendRawTransaction", "params": [raw]})
            .to_string()
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(sent["result"], json!(hash));
    let note = ipc_line(&mut lines).await;
    assert_eq!(note["method"], "eth_subscription");
    assert_eq!(note["params"]["subscription"], json!(id));
    assert_eq!(note["params"]["result"], json!(hash));
    // Garbage ends the connection after a parse error.
    write.write_all(b"}}not json").await.unwrap();
    let refusal = ipc_line(&mut lines).await;
    assert_eq!(refusal["error"]["code"], -32700);
}

async fn ipc_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>>,
) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("an answer within 10 s")
        .unwrap()
        .expect("open");
    serde_json::from_str(&line).unwrap()
}
