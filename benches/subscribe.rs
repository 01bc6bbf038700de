//! End-to-end latency of `eth_subscribe newPendingTransactions` (issue 13): a dev node in
//! this process serves HTTP and WebSocket JSON-RPC; a client sends 300 transfers one by
//! one with `eth_sendRawTransaction` over HTTP (keep-alive), and for each the bench times
//! the interval from writing the request to the hash notification arriving on every
//! WebSocket subscriber. Prints p50, p99 and max for 1 and for 10 subscribers.
//!
//! Run: `cargo bench --bench subscribe` (no test data needed).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, U256};
use ethpeer_actors::api::rpc::{self, RpcAccess};
use ethpeer_actors::eth::genesis;
use ethpeer_actors::node::NodeBuilder;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const TXS: u64 = 300;

type Client = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn subscriber(addr: SocketAddr) -> Client {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut client, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
        "params": ["newPendingTransactions"]});
    client.send(Message::text(body.to_string())).await.unwrap();
    let _ = client.next().await.unwrap().unwrap();
    client
}

/// One keep-alive HTTP/1.1 connection posting JSON bodies.
struct Http(BufReader<TcpStream>);

impl Http {
    async fn post(&mut self, body: &str) -> Value {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.0
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut answer = vec![0; length];
        self.0.read_exact(&mut answer).await.unwrap();
        serde_json::from_slice(&answer).unwrap()
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

async fn run(subscribers: usize, first_nonce: u64, http: SocketAddr, ws: SocketAddr) {
    let mut clients = Vec::new();
    for _ in 0..subscribers {
        clients.push(subscriber(ws).await);
    }
    let stream = TcpStream::connect(http).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut http = Http(BufReader::new(stream));
    let mut latencies = Vec::new();
    for nonce in first_nonce..first_nonce + TXS {
        let tx =
            genesis::dev_transfer(1, nonce, Address::repeat_byte(0x42), U256::from(1)).unwrap();
        let raw = hex::encode_prefixed(tx.encoded_2718());
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction",
            "params": [raw]})
        .to_string();
        let started = Instant::now();
        let answer = http.post(&body).await;
        assert!(answer["result"].is_string(), "{answer}");
        for client in &mut clients {
            loop {
                let Message::Text(text) = client.next().await.unwrap().unwrap() else {
                    continue;
                };
                let note: Value = serde_json::from_str(&text).unwrap();
                if note["params"]["result"] == json!(tx.hash()) {
                    break;
                }
            }
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "| {subscribers} | {TXS} | {:.2} | {:.2} | {:.2} |",
        percentile(&latencies, 50).as_secs_f64() * 1e3,
        percentile(&latencies, 99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    actix_rt::System::new().block_on(async {
        let node = NodeBuilder::dev()
            .listen("127.0.0.1:0".parse().unwrap())
            .start()
            .await
            .unwrap();
        let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (http_server, http) = rpc::server_with(node.clone(), local, RpcAccess::all()).unwrap();
        let (ws_server, ws) = rpc::ws::server(node.clone(), local, RpcAccess::all()).unwrap();
        actix_rt::spawn(http_server);
        actix_rt::spawn(ws_server);
        println!("| subscribers | txs | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|");
        run(1, 0, http, ws).await;
        run(10, TXS, http, ws).await;
    });
}
