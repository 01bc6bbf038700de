//! Shared by the benches that run a release `ethpeer node` on the ethtest chain as a child
//! process: finding the test data, an eth/68 session to the node, the honest peer's
//! header round trips, the node's threads' CPU, percentiles.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy_primitives::keccak256;
use ethpeer_actors::chain::{self, ChainStore, MemoryChainStore};
use ethpeer_actors::eth::{genesis, EthMessage, EthVersion, GetBlockHeaders, RequestPair};
use ethpeer_actors::p2p::{self as p2p, P2pMessage};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{self, ChainStatus, Established, SessionConfig};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::net::TcpStream;

/// Requests the honest peer sends, and their spacing.
pub const ROUNDS: usize = 200;
pub const INTERVAL: Duration = Duration::from_millis(25);

pub fn testdata() -> PathBuf {
    std::env::var_os("ETHPEER_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"))
}

pub fn status(dir: &Path) -> ChainStatus {
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).unwrap();
    let header = genesis::genesis_header(&spec).unwrap();
    let genesis_hash = header.hash_slow();
    let store = MemoryChainStore::new(header);
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).unwrap();
    for block in chain::read_chain_file(&bytes).unwrap() {
        store.insert_block(block, None).unwrap();
    }
    ChainStatus::from_store(
        spec.config.chain_id,
        genesis::fork_schedule(&spec, genesis_hash),
        &store,
    )
}

pub async fn dial(enode: &str, status: &ChainStatus, key: u8) -> Established<TcpStream> {
    dial_at(enode, status, key, EthVersion::Eth68).await
}

/// An eth session to the node at `version`, as node key `[key; 32]`.
pub async fn dial_at(
    enode: &str,
    status: &ChainStatus,
    key: u8,
    version: EthVersion,
) -> Established<TcpStream> {
    let url: ethpeer_actors::node::Enode = enode.parse().unwrap();
    let stream = TcpStream::connect(url.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut config = SessionConfig::new(
        SecretKey::from_byte_array([key; 32]).unwrap(),
        format!("bench-{key}"),
    );
    config.eth_versions = vec![version];
    session::dial(stream, &config, url.id, status)
        .await
        .unwrap()
}

/// Peer `index`'s eth/68 session from a loopback address of its own, `127.{second}.x.y`
/// (distinct hosts to the node: no per-address limit mistakes them for one), with a key
/// derived from `index`.
pub async fn dial_from_loopback(
    enode: &str,
    status: &ChainStatus,
    index: usize,
    second: u8,
) -> Established<TcpStream> {
    let url: ethpeer_actors::node::Enode = enode.parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    let source = std::net::Ipv4Addr::new(127, second, (index / 250) as u8, (index % 250 + 1) as u8);
    socket.bind((source, 0).into()).unwrap();
    let stream = socket.connect(url.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut seed = [0x11u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    seed[8] = second;
    let mut config = SessionConfig::new(SecretKey::from_byte_array(seed).unwrap(), "bench-peer");
    config.eth_versions = vec![EthVersion::Eth68];
    session::dial(stream, &config, url.id, status)
        .await
        .unwrap()
}

/// Resident memory of process `pid` in bytes (Linux `VmRSS`).
pub fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

pub async fn send(conn: &mut Established<TcpStream>, message: &EthMessage) -> bool {
    let frame = RlpxMessage {
        id: conn.eth_offset + message.message_id() as u64,
        payload: message.encoded().into(),
    };
    conn.writer.send(frame).await.is_ok()
}

pub fn header_request(id: u64, limit: u64) -> EthMessage {
    EthMessage::GetBlockHeaders(RequestPair::new(
        id,
        GetBlockHeaders {
            start_block: 1u64.into(),
            limit,
            skip: 0,
            reverse: false,
        },
    ))
}

/// The honest peer: 200 requests 25 ms apart; the round trips, sorted.
pub async fn honest(mut conn: Established<TcpStream>) -> Vec<Duration> {
    let mut rtts = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS as u64 {
        let started = Instant::now();
        assert!(send(&mut conn, &header_request(round, 1)).await);
        loop {
            let frame = conn.reader.next().await.unwrap().unwrap();
            if frame.id == p2p::ids::PING {
                let pong = P2pMessage::Pong;
                let _ = conn
                    .writer
                    .send(RlpxMessage {
                        id: pong.id(),
                        payload: pong.encoded().into(),
                    })
                    .await;
            }
            if frame.id == conn.eth_offset + 0x04 {
                break;
            }
        }
        rtts.push(started.elapsed());
        tokio::time::sleep(INTERVAL.saturating_sub(started.elapsed())).await;
    }
    rtts.sort();
    rtts
}

/// CPU ticks (user + system) per thread of process `pid`, by thread name and id.
pub fn thread_ticks(pid: u32) -> std::collections::HashMap<String, u64> {
    let mut ticks = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return ticks;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (name) state ... utime stime ...": fields after the name's closing paren.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |(_, n)| n);
        let tid = task.file_name().to_string_lossy().to_string();
        // The main thread has the process id; actix names its arbiters' threads; the
        // other threads of ours are the verifier threads (and actix-web's worker).
        let name = if tid == pid.to_string() {
            "main"
        } else if name.starts_with("actix-rt|system") {
            "arbiter"
        } else if name.starts_with("actix-server") || name.starts_with("actix-rt|worker") {
            "http"
        } else {
            "other"
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used = fields
            .get(11)
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        ticks.insert(
            format!("{name}/{}", task.file_name().to_string_lossy()),
            used,
        );
    }
    ticks
}

/// Each thread's share of the CPU the process used between two samples, largest first.
pub fn shares(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> String {
    let mut used: Vec<(String, u64)> = after
        .iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(*before.get(k).unwrap_or(&0))))
        .filter(|(_, v)| *v > 0)
        .collect();
    let total: u64 = used.iter().map(|(_, v)| v).sum();
    used.sort_by_key(|u| std::cmp::Reverse(u.1));
    used.iter()
        .take(4)
        .map(|(k, v)| {
            format!(
                "{} {:.0}%",
                k.split('/').next().unwrap_or(""),
                *v as f64 * 100.0 / total.max(1) as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
        + &format!(" of {:.2} s CPU", total as f64 / 100.0)
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// A release `ethpeer node` on the ethtest chain (discovery on its default, UDP beside an
/// ephemeral RLPx port) with HTTP-RPC and metrics, its stdout piped: the enode, then
/// `rpc http://…`, then `metrics http://…/metrics`.
pub fn ethtest_node(dir: &Path, datadir: &Path) -> std::process::Child {
    let file = |name: &str| dir.join("ethtest").join(name);
    std::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("node")
        .arg("--datadir")
        .arg(datadir)
        .arg("--genesis")
        .arg(file("genesis.json"))
        .arg("--import")
        .arg(file("chain.rlp"))
        .arg("--state")
        .arg(file("headstate.json"))
        .args([
            "--port",
            "0",
            "--addr",
            "127.0.0.1",
            "--metrics",
            "127.0.0.1:0",
        ])
        .args(["--http", "--http.port", "0", "--http.api", "eth"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The value of metric line `prefix` (name and labels, then a space) at `url`.
pub async fn metric(url: &str, prefix: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return 0;
    };
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text).await;
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// One JSON-RPC call over HTTP (`rpc` as the node printed it); the answer.
pub async fn rpc(rpc: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = rpc.trim_start_matches("http://").trim_end_matches('/');
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_default()
}

/// The node's stdout, line by line.
pub type NodeLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>;

/// The bench's node ([`ethtest_node`]) and its data directory, or `None` (said on stderr)
/// without the test data.
pub struct BenchNode {
    child: std::process::Child,
    _datadir: tempfile::TempDir,
}

/// Starts the node for bench `name`, or tells why it cannot.
pub fn bench_node(name: &str) -> Option<BenchNode> {
    let dir = testdata();
    if !dir.join("ethtest").is_dir() {
        eprintln!("{name} bench: {} not found, skipped", dir.display());
        return None;
    }
    let datadir = tempfile::tempdir().unwrap();
    let child = ethtest_node(&dir, datadir.path());
    Some(BenchNode {
        child,
        _datadir: datadir,
    })
}

impl BenchNode {
    /// Runs `body` on a current-thread runtime with the node's stdout lines and process id,
    /// then stops the node.
    pub fn run<F, Fut>(mut self, body: F)
    where
        F: FnOnce(NodeLines, u32) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        use tokio::io::AsyncBufReadExt;
        let stdout = self.child.stdout.take().unwrap();
        let pid = self.child.id();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let stdout = tokio::process::ChildStdout::from_std(stdout).unwrap();
            body(tokio::io::BufReader::new(stdout).lines(), pid).await
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rest of the first line the node printed that starts with `prefix` (`"rpc "`,
/// `"metrics "`), skipping the lines before it.
pub async fn line_with(lines: &mut NodeLines, prefix: &str) -> String {
    loop {
        let line = lines.next_line().await.unwrap().unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
}

/// `count` sender keys derived from `label` and the dev network's genesis funding each
/// with 1,000 ether: the benches' genesis (chain 1337, every fork at 0).
pub fn funded_senders(count: usize, label: &str) -> (Vec<SecretKey>, alloy_genesis::Genesis) {
    let keys: Vec<SecretKey> = (0..count)
        .map(|i| SecretKey::from_byte_array(keccak256(format!("{label} {i}")).0).unwrap())
        .collect();
    let mut spec = genesis::dev_genesis();
    for key in &keys {
        let public = key
            .public_key(secp256k1::SECP256K1)
            .serialize_uncompressed();
        let address = alloy_primitives::Address::from_slice(&keccak256(&public[1..])[12..]);
        spec.alloc.insert(
            address,
            alloy_genesis::GenesisAccount::default()
                .with_balance(alloy_primitives::U256::from(10u128.pow(21))),
        );
    }
    (keys, spec)
}

/// A signed EIP-1559 transfer of 1 wei to 0x4242… on chain 1337 (the benches' genesis),
/// from `key` with `nonce`.
pub fn transfer(
    key: &SecretKey,
    nonce: u64,
) -> alloy_consensus::Signed<alloy_consensus::TxEip1559> {
    use alloy_consensus::SignableTransaction;
    let tx = alloy_consensus::TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(alloy_primitives::Address::repeat_byte(0x42)),
        value: alloy_primitives::U256::from(1),
        ..Default::default()
    };
    let secret = alloy_primitives::B256::from(key.secret_bytes());
    let signature = alloy_consensus::crypto::secp256k1::sign_message(secret, tx.signature_hash())
        .expect("a valid key signs");
    tx.into_signed(signature)
}

/// Reads a child node's stdout facts: its enode URL (the first line), then the first
/// line starting with `prefix` (`ws `, `metrics `, ...), without it; the rest of stdout
/// is drained on a thread so the node never blocks on it.
pub fn printed(child: &mut std::process::Child, prefix: &str) -> (String, String) {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let enode = lines.next().expect("an enode line").expect("readable");
    let value = loop {
        let line = lines.next().expect("the node's facts").expect("readable");
        if let Some(value) = line.strip_prefix(prefix) {
            break value.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (enode, value)
}

/// Nanoseconds into the UTC day of an RFC 3339 time (`...THH:MM:SS.nnnnnnnnnZ`).
pub fn day_nanos(time: &str) -> Option<u64> {
    let clock = time.split_once('T')?.1.trim_end_matches('Z');
    let (hms, frac) = clock.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000 + frac.parse::<u64>().ok()?)
}

/// Now as nanoseconds into the UTC day.
pub fn now_day_nanos() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_nanos() % 86_400_000_000_000) as u64
}
