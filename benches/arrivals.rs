//! Transaction arrival latency (issue 26, item 3): a release `ethpeer node` (child process,
//! a genesis funding 2,000 senders, no block production) takes txs from many peers at a
//! fixed rate; a WebSocket client subscribed to `ethpeer_subscribe("txArrivals")` hears
//! each tx's `seen` and `validated` arrivals. The bench times, per tx, from the moment its
//! peer's frame write returned (the last byte is in the socket) to each notification's
//! arrival at the client, and the `seen` to `validated` gap, and prints percentiles with
//! the node's CPU by thread. Peers and the WebSocket client run in this process, so the two
//! cores are shared by the node and its load.
//!
//! Run: `cargo bench --bench arrivals` (no test data needed). `ARRIVALS_PEERS` (500),
//! `ARRIVALS_RATE` (txs per second, 20,000) and `ARRIVALS_SECONDS` (5) change the load;
//! `ARRIVALS_TIMELINE=1` also prints the decode delay per quarter second of the run, and
//! `ARRIVALS_DECRYPT=1` makes the peers decrypt the node's broadcasts (see [`decrypting`]);
//! `ARRIVALS_GOSSIP=0` runs the node with `--disable-tx-gossip` (a watcher that relays
//! nothing).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_consensus::TxEnvelope;
use alloy_primitives::B256;
use ethpeer_actors::chain::MemoryChainStore;
use ethpeer_actors::eth::{genesis, EthMessage, Transactions};
use ethpeer_actors::p2p::{self as p2p, P2pMessage};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{ChainStatus, Established};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use support::{day_nanos, now_day_nanos, percentile, shares, thread_ticks};

/// Funded senders; tx `k` is sender `k % SENDERS`'s, sent by peer `k % peers`, so each
/// sender's nonces reach the node in order through one peer.
const SENDERS: usize = 2_000;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `total` signed transfers (two signing threads), tx `k` as described at [`SENDERS`].
fn sign_all(keys: &[SecretKey], total: usize) -> Vec<TxEnvelope> {
    let sign =
        |k: usize| TxEnvelope::Eip1559(support::transfer(&keys[k % SENDERS], (k / SENDERS) as u64));
    let half = total / 2;
    std::thread::scope(|scope| {
        let first = scope.spawn(|| (0..half).map(sign).collect::<Vec<_>>());
        let mut second: Vec<TxEnvelope> = (half..total).map(sign).collect();
        let mut all = first.join().unwrap();
        all.append(&mut second);
        all
    })
}

/// The node, and its enode and WebSocket URL from its stdout.
fn start_node(
    dir: &std::path::Path,
    peers: usize,
    total: usize,
) -> (std::process::Child, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"));
    command.arg("node");
    if std::env::var("ARRIVALS_GOSSIP").is_ok_and(|v| v == "0") {
        command.arg("--disable-tx-gossip");
    }
    let mut child = command
        .arg("--datadir")
        .arg(dir.join("data"))
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .args(["--port", "0", "--addr", "127.0.0.1", "--nodiscover"])
        .args(["--maxpeers", &(peers * 2).to_string()])
        .args(["--txpool.globalslots", &(total + 1_000).to_string()])
        .args(["--ws", "--ws.port", "0", "--ws.api", "eth,ethpeer"])
        .args(["--verbosity", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let (enode, ws) = support::printed(&mut child, "ws ");
    (child, enode, ws)
}

/// When each (hash, seen?) notification reached the client, and the node's decode time
/// (`firstDelivered`) as nanoseconds into the UTC day.
type Heard = Arc<Mutex<HashMap<(B256, bool), (Instant, Option<u64>)>>>;

/// Subscribes to `seen` and `validated` arrivals and records each one's arrival.
async fn listen(ws: &str, heard: Heard) -> impl std::future::Future<Output = ()> {
    let addr = ws
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let stream = TcpStream::connect(&addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut client, _) = tokio_tungstenite::client_async(ws, stream).await.unwrap();
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "ethpeer_subscribe",
        "params": ["txArrivals", {"tiers": ["seen", "validated"]}]});
    client.send(Message::text(body.to_string())).await.unwrap();
    let _ = client.next().await.unwrap().unwrap();
    async move {
        #[derive(serde::Deserialize)]
        struct Arrival<'a> {
            hash: B256,
            tier: &'a str,
            #[serde(rename = "firstDelivered")]
            first_delivered: Option<&'a str>,
        }
        #[derive(serde::Deserialize)]
        struct Params<'a> {
            #[serde(borrow)]
            result: Arrival<'a>,
        }
        #[derive(serde::Deserialize)]
        struct Note<'a> {
            #[serde(borrow)]
            params: Params<'a>,
        }
        while let Some(Ok(message)) = client.next().await {
            let at = Instant::now();
            if let Message::Text(text) = message {
                if let Ok(note) = serde_json::from_str::<Note<'_>>(&text) {
                    let seen = note.params.result.tier == "seen";
                    let decoded = note.params.result.first_delivered.and_then(day_nanos);
                    heard
                        .lock()
                        .unwrap()
                        .insert((note.params.result.hash, seen), (at, decoded));
                }
            }
        }
    }
}

/// Whether the bench's peers decrypt what the node sends them (`ARRIVALS_DECRYPT=1`), or
/// only drain their sockets (the default). The node encrypts and writes its fan-out either
/// way; decrypting 500 peers' copies of it here took about one of the two cores at 2,000
/// tx/s, which a real node's peers spend on their own machines. Draining peers cannot see
/// the node's Pings, so a run must end before its first Pong is missed (15 s ping interval
/// plus a 20 s timeout after the connections are made).
fn decrypting() -> bool {
    std::env::var_os("ARRIVALS_DECRYPT").is_some()
}

/// One peer: drains (or decrypts, answering Pings) what the node sends, and sends its txs
/// on the global schedule (tx `k` at `start + k / rate`), recording when each write
/// returned.
async fn peer(
    conn: Established<TcpStream>,
    txs: Vec<(usize, TxEnvelope)>,
    start: tokio::time::Instant,
    rate: usize,
    sent: Arc<Mutex<HashMap<B256, (Instant, u64)>>>,
) {
    let (pongs, mut pending) = tokio::sync::mpsc::unbounded_channel::<()>();
    let Established {
        mut reader,
        mut writer,
        eth_offset,
        ..
    } = conn;
    if decrypting() {
        tokio::spawn(async move {
            while let Some(Ok(frame)) = reader.next().await {
                if frame.id == p2p::ids::PING {
                    let _ = pongs.send(());
                }
            }
        });
    } else {
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut raw = reader.into_inner();
            let mut buffer = vec![0u8; 64 * 1024];
            while matches!(raw.read(&mut buffer).await, Ok(n) if n > 0) {}
            drop(pongs);
        });
    }
    for (k, tx) in txs {
        let due = start + Duration::from_secs_f64(k as f64 / rate as f64);
        tokio::time::sleep_until(due).await;
        while pending.try_recv().is_ok() {
            let pong = P2pMessage::Pong;
            let frame = RlpxMessage {
                id: pong.id(),
                payload: pong.encoded().into(),
            };
            let _ = writer.send(frame).await;
        }
        let hash = *tx.tx_hash();
        let message = EthMessage::Transactions(Transactions(vec![tx]));
        let frame = RlpxMessage {
            id: eth_offset + message.message_id() as u64,
            payload: message.encoded().into(),
        };
        if writer.send(frame).await.is_err() {
            return;
        }
        sent.lock()
            .unwrap()
            .insert(hash, (Instant::now(), now_day_nanos()));
    }
}

/// CPU seconds used between two [`thread_ticks`] readings of one process, all threads.
fn ticks_between(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> f64 {
    let used: u64 = after
        .iter()
        .map(|(k, v)| v.saturating_sub(*before.get(k).unwrap_or(&0)))
        .sum();
    used as f64 / 100.0
}

fn row(name: &str, mut values: Vec<Duration>) -> String {
    values.sort();
    if values.is_empty() {
        return format!("| {name} | 0 | | | |");
    }
    let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    format!(
        "| {name} | {} | {} | {} | {} |",
        values.len(),
        ms(percentile(&values, 0.5)),
        ms(percentile(&values, 0.99)),
        ms(*values.last().unwrap())
    )
}

fn main() {
    let peers = env("ARRIVALS_PEERS", 500).clamp(1, 60_000);
    let rate = env("ARRIVALS_RATE", 20_000).max(1);
    let seconds = env("ARRIVALS_SECONDS", 5).max(1);
    let total = rate * seconds;
    let dir = tempfile::tempdir().unwrap();
    let (keys, spec) = support::funded_senders(SENDERS, "arrivals");
    std::fs::write(
        dir.path().join("genesis.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let signing = Instant::now();
    let txs = sign_all(&keys, total);
    eprintln!(
        "signed {total} txs in {:.1} s",
        signing.elapsed().as_secs_f64()
    );
    let header = genesis::genesis_header(&spec).unwrap();
    let hash = header.hash_slow();
    let status = ChainStatus::from_store(
        spec.config.chain_id,
        genesis::fork_schedule(&spec, hash),
        &MemoryChainStore::new(header),
    );
    let (mut child, enode, ws) = start_node(dir.path(), peers, total);
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The WebSocket client gets a thread and runtime of its own: the peers' runtime is
    // busy reading the node's broadcasts, and a starved client would time its own queue.
    let heard: Heard = Arc::default();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    {
        let (heard, ws) = (heard.clone(), ws.clone());
        std::thread::spawn(move || {
            let client = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            client.block_on(async {
                let listening = listen(&ws, heard).await;
                ready_tx.send(()).unwrap();
                listening.await;
            });
        });
    }
    ready.recv().unwrap();
    let (sent, elapsed, cpu) = runtime.block_on(async {
        let mut conns = Vec::with_capacity(peers);
        for chunk in (0..peers).collect::<Vec<_>>().chunks(32) {
            let dials = chunk
                .iter()
                .map(|i| support::dial_from_loopback(&enode, &status, *i, 1));
            conns.extend(futures::future::join_all(dials).await);
        }
        eprintln!("{peers} peers connected");
        let mut shares_of: Vec<Vec<(usize, TxEnvelope)>> = vec![Vec::new(); peers];
        for (k, tx) in txs.into_iter().enumerate() {
            shares_of[k % peers].push((k, tx));
        }
        let sent: Arc<Mutex<HashMap<B256, (Instant, u64)>>> = Arc::default();
        let before = thread_ticks(pid);
        let load_before = thread_ticks(std::process::id());
        let start = tokio::time::Instant::now() + Duration::from_millis(200);
        let tasks: Vec<_> = conns
            .into_iter()
            .zip(shares_of)
            .map(|(conn, share)| tokio::spawn(peer(conn, share, start, rate, sent.clone())))
            .collect();
        for task in tasks {
            let _ = task.await;
        }
        let elapsed = start.elapsed();
        // Let the last notifications arrive.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu = shares(&before, &thread_ticks(pid));
        let load = ticks_between(&load_before, &thread_ticks(std::process::id()));
        (sent, elapsed, (cpu, load))
    });
    let (cpu, load) = cpu;
    let _ = child.kill();
    let _ = child.wait();
    let heard = heard.lock().unwrap();
    let sent = sent.lock().unwrap();
    let (mut seen, mut validated, mut gap, mut decode) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (hash, (at, wall)) in sent.iter() {
        let s = heard.get(&(*hash, true));
        let v = heard.get(&(*hash, false));
        if let Some((s, decoded)) = s {
            seen.push(s.saturating_duration_since(*at));
            if let Some(decoded) = decoded {
                decode.push(Duration::from_nanos(decoded.saturating_sub(*wall)));
            }
        }
        if let Some((v, _)) = v {
            validated.push(v.saturating_duration_since(*at));
        }
        if let (Some((s, _)), Some((v, _))) = (s, v) {
            gap.push(v.saturating_duration_since(*s));
        }
    }
    println!(
        "{peers} peers ({}), {} txs sent in {:.2} s ({:.0} tx/s; target {rate}); node CPU: {cpu}; \
         this process (the peers and the client): {load:.2} s CPU",
        if decrypting() {
            "decrypting"
        } else {
            "draining"
        },
        sent.len(),
        elapsed.as_secs_f64(),
        sent.len() as f64 / elapsed.as_secs_f64()
    );
    println!("| from the frame's last byte to | txs | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    println!("{}", row("the node's decode (`firstDelivered`)", decode));
    println!("{}", row("`seen` on the WebSocket", seen));
    println!("{}", row("`validated` on the WebSocket", validated));
    println!("{}", row("(gap `seen` to `validated`)", gap));
    if std::env::var_os("ARRIVALS_TIMELINE").is_some() {
        timeline(&sent, &heard);
    }
}

/// The node's decode delay by when the tx was sent, per quarter second: whether the delay
/// is steady (a saturated node) or comes in stalls.
fn timeline(
    sent: &HashMap<B256, (Instant, u64)>,
    heard: &HashMap<(B256, bool), (Instant, Option<u64>)>,
) {
    let Some(first) = sent.values().map(|(at, _)| *at).min() else {
        return;
    };
    let mut buckets: std::collections::BTreeMap<u64, Vec<Duration>> = Default::default();
    for (hash, (at, wall)) in sent {
        if let Some((_, Some(decoded))) = heard.get(&(*hash, true)) {
            let bucket = at.duration_since(first).as_millis() as u64 / 250;
            let delay = Duration::from_nanos(decoded.saturating_sub(*wall));
            buckets.entry(bucket).or_default().push(delay);
        }
    }
    println!("| sent at s | txs | decode p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for (bucket, mut delays) in buckets {
        delays.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {:.2} | {} | {:.3} | {:.3} | {:.3} |",
            bucket as f64 / 4.0,
            delays.len(),
            ms(percentile(&delays, 0.5)),
            ms(percentile(&delays, 0.99)),
            ms(*delays.last().unwrap())
        );
    }
}
