//! An honest RPC client's latency and the node's memory while other clients attack the RPC
//! (the table of the issue "nobody can hijack or sink the node through its RPC"): a
//! release `ethpeer node` on the dev network with `--http --ws` runs as a child process; in
//! this process an honest client on its own loopback address (127.0.2.1) calls
//! `eth_blockNumber` every 10 ms over one keep-alive HTTP connection while an attack runs,
//! and the bench prints the honest call's p50, p99 and max, the node's RSS after the attack
//! and what became of the attacker, next to the quiet baseline.
//!
//! Run: `cargo bench --bench rpc_hostile`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEip4844, TxEip4844WithSidecar};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar};
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{hex, Address, TxKind, B256, U256};
use ethpeer_actors::eth::genesis::DEV_ACCOUNT_KEYS;
use ethpeer_actors::eth::PooledTx;
use futures::SinkExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const ROUNDS: usize = 300;
const INTERVAL: Duration = Duration::from_millis(10);

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

fn key(index: usize) -> B256 {
    DEV_ACCOUNT_KEYS[index].parse().unwrap()
}

/// Dev account `account`'s transfer with `calldata` bytes.
fn tx(account: usize, nonce: u64, calldata: usize) -> (B256, String) {
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000 + 56 * calldata as u64,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: vec![0xab; calldata].into(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key(account), tx.signature_hash())
            .unwrap();
    let tx = PooledTx::Eip1559(tx.into_signed(signature));
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()))
}

/// A signed 6-blob tx with a version-0 sidecar (what wallets send; the node computes its
/// cell proofs).
fn blob_tx() -> String {
    let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    let blobs: Vec<Blob> = (1..=6u8).map(Blob::repeat_byte).collect();
    let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(blobs, settings).unwrap();
    let tx = TxEip4844 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(7),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 1_000_000_000,
        input: Default::default(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key(2), tx.signature_hash()).unwrap();
    let tx = PooledTx::Eip4844(Signed::new_unhashed(
        TxEip4844WithSidecar {
            tx,
            sidecar: BlobTransactionSidecarVariant::Eip4844(sidecar),
        },
        signature,
    ));
    hex::encode_prefixed(tx.encoded_2718())
}

/// One HTTP call on a fresh connection (the attackers' and the set-up's).
async fn call(http: SocketAddr, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut stream = TcpStream::connect(http).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The honest client: `eth_blockNumber` every 10 ms on one keep-alive connection from
/// 127.0.2.1; the sorted round trips.
async fn honest(http: SocketAddr) -> Vec<Duration> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.2.1:0".parse().unwrap()).unwrap();
    let stream = socket.connect(http).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut rtts = Vec::with_capacity(ROUNDS);
    let mut ticker = tokio::time::interval(INTERVAL);
    for _ in 0..ROUNDS {
        ticker.tick().await;
        let start = Instant::now();
        write.write_all(request.as_bytes()).await.unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            read.read_line(&mut line).await.unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut answer = vec![0; length];
        read.read_exact(&mut answer).await.unwrap();
        rtts.push(start.elapsed());
    }
    rtts.sort();
    rtts
}

async fn ws(addr: SocketAddr) -> Option<Ws> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.set_recv_buffer_size(4096).ok()?;
    let stream = socket.connect(addr).await.ok()?;
    tokio_tungstenite::client_async(format!("ws://{addr}/"), stream)
        .await
        .ok()
        .map(|(client, _)| client)
}

/// 100 connections x 128 full-tx subscriptions that never read, then 8 txs of 50 kB.
async fn subscriptions(http: SocketAddr, ws_addr: SocketAddr) -> String {
    let mut clients = Vec::new();
    let mut subscribed = 0;
    for _ in 0..100 {
        let Some(mut client) = ws(ws_addr).await else {
            continue;
        };
        for id in 0..128 {
            let body = json!({"jsonrpc":"2.0","id":id,"method":"eth_subscribe","params":["newPendingTransactions", true]});
            if client.send(Message::text(body.to_string())).await.is_ok() {
                subscribed += 1;
            }
        }
        clients.push(client);
    }
    for nonce in 0..8 {
        let (_, raw) = tx(0, nonce, 50_000);
        call(http, "eth_sendRawTransaction", json!([raw])).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    format!(
        "{} connections, {subscribed} subscribe calls sent",
        clients.len()
    )
}

/// 20 batches of 1,000 `eth_getTransactionByHash` of a 120 kB tx on one WebSocket that
/// never reads.
async fn batches(ws_addr: SocketAddr, hash: B256) -> String {
    let Some(mut client) = ws(ws_addr).await else {
        return "refused".into();
    };
    let calls: Vec<Value> = (0..1000)
        .map(|id| json!({"jsonrpc":"2.0","id":id,"method":"eth_getTransactionByHash","params":[hash]}))
        .collect();
    let body = Value::Array(calls).to_string();
    let mut sent = 0;
    for _ in 0..20 {
        if client.send(Message::text(body.clone())).await.is_ok() {
            sent += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    format!("{sent} batches sent")
}

/// A 6-blob version-0 sidecar tx (cell proofs computed by the node) while the honest client
/// runs; what the call answered.
async fn blob_call(http: SocketAddr) -> String {
    let raw = blob_tx();
    let start = Instant::now();
    let answer = call(http, "eth_sendRawTransaction", json!([raw])).await;
    let outcome = match answer.get("result") {
        Some(hash) => format!("pooled {}", &hash.to_string()[..12]),
        None => answer["error"]["message"].to_string(),
    };
    format!("{outcome} after {:.1} s", start.elapsed().as_secs_f64())
}

/// 2,000 WebSocket connection attempts, kept open; whether p2p still accepts.
async fn connections(ws_addr: SocketAddr, p2p: SocketAddr) -> String {
    let mut held = Vec::new();
    for _ in 0..2000 {
        if let Some(client) = ws(ws_addr).await {
            held.push(client);
        }
    }
    let p2p_ok = TcpStream::connect(p2p).await.is_ok();
    format!("{} upgraded, p2p accepting: {p2p_ok}", held.len())
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let datadir = tempfile::tempdir().unwrap();
    let mut node = std::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("node")
        .arg("--datadir")
        .arg(datadir.path())
        .args(["--port", "0", "--addr", "127.0.0.1", "--nodiscover"])
        .args(["--http", "--http.port", "0", "--ws", "--ws.port", "0"])
        .args(["--txpool.arrivalwait", "0", "--dev.period", "off"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = node.stdout.take().unwrap();
    let pid = node.id();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut lines =
            BufReader::new(tokio::process::ChildStdout::from_std(stdout).unwrap()).lines();
        let enode = lines.next_line().await.unwrap().unwrap();
        let addr = |prefix: &str, line: String| -> SocketAddr {
            line.trim_start_matches(prefix)
                .trim_end_matches('/')
                .parse()
                .unwrap()
        };
        let http = addr("rpc http://", lines.next_line().await.unwrap().unwrap());
        let ws_addr = addr("ws ws://", lines.next_line().await.unwrap().unwrap());
        let p2p: SocketAddr = enode
            .rsplit('@')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (big, raw) = tx(1, 0, 120_000);
        call(http, "eth_sendRawTransaction", json!([raw])).await;
        println!("| attack | honest p50 | p99 | max | node RSS after | attacker |");
        println!("|---|---|---|---|---|---|");
        let attacks: Vec<(&str, u8)> = vec![
            ("quiet baseline", 0),
            (
                "100 WS x 128 full-tx subscriptions, never reading, then 8 txs of 50 kB",
                1,
            ),
            (
                "20 batches of 1,000 x a 120 kB tx on a WS that never reads",
                2,
            ),
            ("eth_sendRawTransaction, 6 blobs, version-0 sidecar", 3),
            ("2,000 WS connections held open", 4),
        ];
        for (name, which) in attacks {
            let attack = async {
                match which {
                    1 => subscriptions(http, ws_addr).await,
                    2 => batches(ws_addr, big).await,
                    3 => blob_call(http).await,
                    4 => connections(ws_addr, p2p).await,
                    _ => "-".to_string(),
                }
            };
            let (rtts, outcome) = tokio::join!(honest(http), attack);
            println!(
                "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} MiB | {outcome} |",
                percentile(&rtts, 0.5).as_secs_f64() * 1e3,
                percentile(&rtts, 0.99).as_secs_f64() * 1e3,
                rtts.last().unwrap().as_secs_f64() * 1e3,
                rss_mib(pid),
            );
        }
    });
    let _ = node.kill();
    let _ = node.wait();
}
