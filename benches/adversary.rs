//! An honest peer's latency while another peer floods the node (issue 14's table): a
//! release `ethpeer node` serving the ethtest chain runs as a child process; in this
//! process an honest eth/68 peer asks for header 1 every 25 ms (200 times) while an
//! attacker floods, and the bench prints the honest round trip's p50, p99 and max for each
//! flood next to the quiet baseline, and what became of the attacker.
//!
//! Run: `cargo bench --bench adversary` (needs `../shared/testdata`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Signature, TxKind, B256, U256};
use ethpeer_actors::chain::{self, ChainStore, MemoryChainStore};
use ethpeer_actors::eth::{
    genesis, EthMessage, EthVersion, GetBlockHeaders, NewPooledTransactionHashes68, RequestPair,
    Transactions,
};
use ethpeer_actors::p2p::{self as p2p, P2pMessage};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{self, ChainStatus, Established, SessionConfig};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

const ROUNDS: usize = 200;
const INTERVAL: Duration = Duration::from_millis(25);

/// A deterministic generator (xorshift64*), so every run floods with the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn b256(&mut self) -> B256 {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        B256::from(out)
    }
}

fn testdata() -> PathBuf {
    std::env::var_os("ETHPEER_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"))
}

fn status(dir: &Path) -> ChainStatus {
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

fn transfer(nonce: u64, value: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: 3_503_995_874_084_926,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(3)),
        value: U256::from(value),
        ..Default::default()
    }
}

/// 2,000 transfers with random (r, s): each costs the node a full sender recovery.
fn junk(rng: &mut Rng) -> Vec<TxEnvelope> {
    (0..2_000)
        .map(|i| {
            let r = U256::from_be_bytes(rng.b256().0);
            let s = U256::from_be_bytes(rng.b256().0) >> 2;
            let signature = Signature::new(r, s, rng.next() & 1 == 1);
            TxEnvelope::Eip1559(Signed::new_unhashed(transfer(i, 1), signature))
        })
        .collect()
}

/// 2,000 validly signed transfers from the ethtest sender with nonces below its 603:
/// refused after recovery ("nonce too low"), never by the signature check.
fn stale(dir: &Path) -> Vec<TxEnvelope> {
    let accounts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ethtest/accounts.json")).unwrap()).unwrap();
    let key: B256 = accounts["0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f"]["key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    (0..2_000u64)
        .map(|i| {
            let tx = transfer(i % 600, i);
            let signature =
                alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).unwrap();
            TxEnvelope::Eip1559(Signed::new_unhashed(tx, signature))
        })
        .collect()
}

async fn dial(enode: &str, status: &ChainStatus, key: u8) -> Established<TcpStream> {
    let url: ethpeer_actors::node::Enode = enode.parse().unwrap();
    let stream = TcpStream::connect(url.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut config = SessionConfig::new(
        SecretKey::from_byte_array([key; 32]).unwrap(),
        format!("bench-{key}"),
    );
    config.eth_versions = vec![EthVersion::Eth68];
    session::dial(stream, &config, url.id, status)
        .await
        .unwrap()
}

async fn send(conn: &mut Established<TcpStream>, message: &EthMessage) -> bool {
    let frame = RlpxMessage {
        id: conn.eth_offset + message.message_id() as u64,
        payload: message.encoded().into(),
    };
    conn.writer.send(frame).await.is_ok()
}

fn header_request(id: u64, limit: u64) -> EthMessage {
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
async fn honest(mut conn: Established<TcpStream>) -> Vec<Duration> {
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

/// The attacker's flood; what became of it.
async fn flood(mut conn: Established<TcpStream>, messages: Vec<EthMessage>, read: bool) -> String {
    let total = messages.len();
    let mut sent = 0;
    for message in &messages {
        let write = tokio::time::timeout(Duration::from_secs(2), send(&mut conn, message));
        if !matches!(write.await, Ok(true)) {
            break;
        }
        sent += 1;
    }
    let stalled = if sent < total {
        format!("stalled after {sent}/{total} messages")
    } else {
        format!("sent {total} messages")
    };
    if !read {
        // Never reading: see whether the node still accepts our bytes.
        return stalled;
    }
    let end = tokio::time::Instant::now() + Duration::from_secs(6);
    loop {
        match tokio::time::timeout_at(end, conn.reader.next()).await {
            Ok(Some(Ok(frame))) if frame.id == p2p::ids::DISCONNECT => {
                let reason = P2pMessage::decode(frame.id, &frame.payload);
                return format!("{stalled}, disconnected: {reason:?}");
            }
            Ok(Some(Ok(_))) => continue,
            Ok(_) => return format!("{stalled}, connection closed"),
            Err(_) => return format!("{stalled}, still connected"),
        }
    }
}

/// CPU ticks (user + system) per thread of process `pid`, by thread name and id.
fn thread_ticks(pid: u32) -> std::collections::HashMap<String, u64> {
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
fn shares(
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let dir = testdata();
    if !dir.join("ethtest").is_dir() {
        eprintln!("adversary bench: {} not found, skipped", dir.display());
        return;
    }
    let datadir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.join("ethtest").join(name);
    let mut node = std::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("node")
        .arg("--datadir")
        .arg(datadir.path())
        .arg("--genesis")
        .arg(file("genesis.json"))
        .arg("--chain")
        .arg(file("chain.rlp"))
        .arg("--state")
        .arg(file("headstate.json"))
        .args(["--port", "0"])
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
        let status = status(&dir);
        let mut rng = Rng(0x5eed);
        let junk_messages: Vec<EthMessage> = (0..20)
            .map(|_| EthMessage::Transactions(Transactions(junk(&mut rng))))
            .collect();
        let replayed = EthMessage::Transactions(Transactions(stale(&dir)));
        let headers: Vec<EthMessage> = (0..2_000).map(|i| header_request(i, 600)).collect();
        let announcements: Vec<EthMessage> = (0..100)
            .map(|_| {
                let hashes: Vec<B256> = (0..4096).map(|_| rng.b256()).collect();
                EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                    types: vec![2; hashes.len()].into(),
                    sizes: vec![120; hashes.len()],
                    hashes,
                })
            })
            .collect();
        let floods: Vec<(&str, Vec<EthMessage>, bool)> = vec![
            ("quiet baseline", vec![], true),
            ("20 x 2,000 txs, random signatures", junk_messages, true),
            (
                "one 2,000-tx message (stale nonces) x 30",
                vec![replayed; 30],
                true,
            ),
            ("2,000 GetBlockHeaders(600), never reading", headers, false),
            ("100 x 4,096 announced random hashes", announcements, true),
        ];
        println!("| flood | honest p50 | p99 | max | attacker | node threads' CPU |");
        println!("|---|---|---|---|---|---|");
        for (n, (name, messages, read)) in floods.into_iter().enumerate() {
            let honest_conn = dial(&enode, &status, 10 + n as u8).await;
            let attacker = dial(&enode, &status, 40 + n as u8).await;
            let ticks = thread_ticks(pid);
            let (rtts, outcome) = tokio::join!(honest(honest_conn), async {
                if messages.is_empty() {
                    "-".to_string()
                } else {
                    flood(attacker, messages, read).await
                }
            });
            println!(
                "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {outcome} | {} |",
                percentile(&rtts, 0.5).as_secs_f64() * 1e3,
                percentile(&rtts, 0.99).as_secs_f64() * 1e3,
                rtts.last().unwrap().as_secs_f64() * 1e3,
                shares(&ticks, &thread_ticks(pid)),
            );
        }
    });
    let _ = node.kill();
    let _ = node.wait();
}
