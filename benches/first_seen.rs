//! First seen, side by side with geth (issue 26, item 4): a loopback network of go-ethereum
//! v1.17.10 origin nodes (a full mesh on a genesis funding 200 senders, each told by an
//! engine-API forkchoice that genesis is its head, so it takes and relays txs) into which a
//! release `ethpeer node` and a listening geth are each peered with every origin and with
//! nothing else. Each node listens on a loopback host of its own (ethpeer 127.0.1.1, the
//! listener 127.0.2.1, the origins 127.0.3.1 up). The bench sends txs one by one to the origins in turn and times, at one
//! clock in this process, when each watcher tells its WebSocket client about each tx:
//! ethpeer's `txArrivals` (`seen`, at decode, and `validated`) and geth's
//! `newPendingTransactions`. It prints how often each was first, the lead's percentiles
//! and each one's coverage.
//!
//! The origins are geth only: ethereumjs's devp2p (the `tests/interop` peer) speaks eth/68 at
//! most, and geth v1.17.10 drops an eth/68-only peer at the handshake as "useless peer"
//! (tried), so an ethereumjs origin could reach ethpeer but never the geth listener.
//!
//! Run: `cargo bench --bench first_seen` (needs `.ci/go-tools`' geth, or `$ETHPEER_GO_BIN`).
//! `FIRST_SEEN_TXS` (300), `FIRST_SEEN_ORIGINS` (4), `FIRST_SEEN_ARRIVAL_WAIT` (ethpeer's
//! `--txpool.arrivalwait`, 500), `FIRST_SEEN_ORIGIN_NICE` (10, see [`ORIGIN_NICE`]) and
//! `FIRST_SEEN_VERBOSITY` (ethpeer's, 2) change the run.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use ethpeer_actors::eth::{genesis, PooledTx};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use support::{day_nanos, now_day_nanos, rpc};

const SENDERS: usize = 200;
/// The origins' `nice` (`FIRST_SEEN_ORIGIN_NICE`): in a real network the origins are other
/// machines, but here they share the two cores with both watchers, and when a tx lands all
/// four wake at once. At 10 they yield to the watchers (both at 0, alike); at 0 the race is
/// also one of who gets a core first (tcpdump: ethpeer's announcement-to-request p50 0.80
/// ms at 0, 0.29 ms with ethpeer alone raised).
const ORIGIN_NICE: usize = 10;
const JWT: [u8; 32] = [0x42; 32];
/// geth's `--cache` (MiB): at its default (a quarter of RAM) pebble preallocates a 290 MB
/// write-ahead log per datadir, 1.5 GB of disk for this bench's five geths.
const GETH_CACHE_MB: &str = "64";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn go_bin() -> PathBuf {
    std::env::var_os("ETHPEER_GO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/go-bin"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Unpadded base64url (RFC 4648 section 5), as JWTs use.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// An engine-API token for [`JWT`] (HS256, `iat` now), as a consensus client sends.
fn jwt_token() -> String {
    use hmac::{Hmac, Mac};
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = base64url(format!(r#"{{"iat":{iat}}}"#).as_bytes());
    let input = format!("{header}.{claims}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&JWT).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", base64url(&mac.finalize().into_bytes()))
}

/// One geth on the bench genesis.
struct Geth {
    child: Child,
    /// Its stderr, shown when it fails.
    log: PathBuf,
    http: String,
    ws: String,
    auth: u16,
    enode: String,
}

impl Geth {
    /// Starts geth `name`, its p2p listener on `ip` (a loopback address of its own: geth's
    /// `--port` listens on every address, so the address is set in a config file), at
    /// `nice` (see [`ORIGIN_NICE`]).
    fn start(dir: &Path, name: &str, ip: &str, nice: u8) -> Self {
        let geth = go_bin().join("geth");
        let datadir = dir.join(name);
        let init = Command::new(&geth)
            .arg("--datadir")
            .arg(&datadir)
            .arg("init")
            .arg(dir.join("genesis.json"))
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "geth init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        std::fs::write(dir.join("jwt.hex"), hex::encode(JWT)).unwrap();
        let (p2p, http, ws, auth) = (free_port(), free_port(), free_port(), free_port());
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!("[Node.P2P]\nListenAddr = \"{ip}:{p2p}\"\n"),
        )
        .unwrap();
        let child = Command::new("nice")
            .args(["-n", &nice.to_string()])
            .arg(&geth)
            .arg("--config")
            .arg(&config)
            .arg("--datadir")
            .arg(&datadir)
            .args(["--networkid", "1337", "--syncmode", "full"])
            .args(["--cache", GETH_CACHE_MB])
            .args(["--nodiscover", "--nat", "none"])
            .args([
                "--http",
                "--http.addr",
                "127.0.0.1",
                "--http.port",
                &http.to_string(),
            ])
            .args(["--http.api", "admin,eth,net,txpool"])
            .args([
                "--ws",
                "--ws.addr",
                "127.0.0.1",
                "--ws.port",
                &ws.to_string(),
            ])
            .args(["--ws.api", "eth"])
            .args([
                "--authrpc.addr",
                "127.0.0.1",
                "--authrpc.port",
                &auth.to_string(),
            ])
            .arg("--authrpc.jwtsecret")
            .arg(dir.join("jwt.hex"))
            .args(["--ipcdisable", "--verbosity", "2"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        Self {
            log: dir.join(format!("{name}.log")),
            child,
            http: format!("http://127.0.0.1:{http}"),
            ws: format!("ws://127.0.0.1:{ws}"),
            auth,
            enode: format!("@{ip}:{p2p}"),
        }
    }

    /// Waits for its HTTP server, learns its enode, and makes genesis its head.
    async fn ready(&mut self, genesis: B256) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let info = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "geth exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "geth not ready in 60 s: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            if TcpStream::connect(self.http.trim_start_matches("http://"))
                .await
                .is_ok()
            {
                let info = rpc(&self.http, "admin_nodeInfo", json!([])).await;
                if info["result"]["enode"].is_string() {
                    break info;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let id = info["result"]["enode"]
            .as_str()
            .unwrap()
            .trim_start_matches("enode://")
            .split('@')
            .next()
            .unwrap()
            .to_string();
        self.enode = format!("enode://{id}{}", self.enode);
        let state = json!({"headBlockHash": genesis, "safeBlockHash": genesis,
                           "finalizedBlockHash": genesis});
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "engine_forkchoiceUpdatedV3",
                          "params": [state, null]})
        .to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.auth)).await.unwrap();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            jwt_token(),
            body.len()
        );
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        assert!(answer.contains("VALID"), "forkchoice: {answer}");
    }
}

impl Drop for Geth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How ethpeer first had each tx (`kind` of its `seen` arrival: broadcast, fetched, pooled).
/// What ethpeer's `seen` arrival said of one tx.
struct Seen {
    /// How its first copy came (`broadcast`, `fetched`, `pooled`).
    kind: String,
    /// Its decode time (`firstDelivered`), nanoseconds into the UTC day.
    decoded: Option<u64>,
    /// Its first announcement's time (`firstAnnounced`), when it was announced first.
    announced: Option<u64>,
    /// The first peer's node id (hex, no `0x`; `~` first when that peer only announced it).
    peer: String,
}

/// Per tx, what ethpeer's `seen` arrival said.
type Kinds = Arc<Mutex<HashMap<B256, Seen>>>;

/// A socket to `url` subscribed with `method` and `params`; each notification's result
/// goes to `heard` with the instant it arrived, through `key`, and the `kind` of a `seen`
/// arrival to `kinds`.
async fn watch(
    url: &str,
    method: &str,
    params: Value,
    heard: Arc<Mutex<HashMap<(B256, u8), Instant>>>,
    key: fn(&Value) -> Option<(B256, u8)>,
    kinds: Kinds,
) {
    let stream = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches('/'))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut client, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    client.send(Message::text(body.to_string())).await.unwrap();
    let answer = client.next().await.unwrap().unwrap();
    assert!(
        answer.to_string().contains("\"result\""),
        "{method}: {answer}"
    );
    tokio::spawn(async move {
        while let Some(Ok(message)) = client.next().await {
            let at = Instant::now();
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(note) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let result = &note["params"]["result"];
            if let Some(k) = key(result) {
                heard.lock().unwrap().entry(k).or_insert(at);
                if let (1, Some(kind)) = (k.1, result["kind"].as_str()) {
                    let decoded = result["firstDelivered"].as_str().and_then(day_nanos);
                    let peer = result["peer"]["id"].as_str().unwrap_or_default();
                    let mut peer = peer.trim_start_matches("0x").to_lowercase();
                    let announced = result["firstAnnounced"].as_str().and_then(day_nanos);
                    if !result["firstAnnounced"].is_null() {
                        // Announced before its first whole copy: not whole from anyone first.
                        peer.insert(0, '~');
                    }
                    let seen = Seen {
                        kind: kind.to_string(),
                        decoded,
                        announced,
                        peer,
                    };
                    kinds.lock().unwrap().insert(k.0, seen);
                }
            }
        }
    });
}

/// A child process killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tiers in `heard`: 0 geth, 1 ethpeer `seen`, 2 ethpeer `validated`.
fn ethpeer_key(result: &Value) -> Option<(B256, u8)> {
    let hash = result["hash"].as_str()?.parse().ok()?;
    match result["tier"].as_str()? {
        "seen" => Some((hash, 1)),
        "validated" if result["verdict"]["accepted"] == true => Some((hash, 2)),
        _ => None,
    }
}

fn geth_key(result: &Value) -> Option<(B256, u8)> {
    Some((result.as_str()?.parse().ok()?, 0))
}

/// Lead of `ours` over geth per tx (positive: ours first), first counts and coverage.
fn compare(name: &str, sent: &[B256], heard: &HashMap<(B256, u8), Instant>, tier: u8) {
    let (mut leads, mut first, mut ours_only, mut geth_only) = (Vec::new(), 0, 0, 0);
    let (mut ours_seen, mut geth_seen) = (0, 0);
    for hash in sent {
        let (ours, geth) = (heard.get(&(*hash, tier)), heard.get(&(*hash, 0)));
        ours_seen += usize::from(ours.is_some());
        geth_seen += usize::from(geth.is_some());
        match (ours, geth) {
            (Some(o), Some(g)) => {
                let lead = g.saturating_duration_since(*o).as_secs_f64()
                    - o.saturating_duration_since(*g).as_secs_f64();
                first += usize::from(lead > 0.0);
                leads.push(lead * 1e3);
            }
            (Some(_), None) => ours_only += 1,
            (None, Some(_)) => geth_only += 1,
            (None, None) => {}
        }
    }
    leads.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| {
        if leads.is_empty() {
            return f64::NAN;
        }
        leads[((leads.len() as f64 - 1.0) * p).round() as usize]
    };
    let both = leads.len().max(1);
    println!(
        "| {name} | {:.1}% ({first}/{}) | {:.2} | {:.2} | {:.2} | {ours_seen}/{} | {geth_seen}/{} | {ours_only} / {geth_only} |",
        first as f64 * 100.0 / both as f64,
        leads.len(),
        at(0.5),
        at(0.1),
        at(0.01),
        sent.len(),
        sent.len()
    );
}

fn main() {
    let txs = env("FIRST_SEEN_TXS", 300);
    let origins = env("FIRST_SEEN_ORIGINS", 4).max(1);
    if !go_bin().join("geth").is_file() {
        eprintln!("no geth in {} (run .ci/go-tools)", go_bin().display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (keys, spec) = support::funded_senders(SENDERS, "first seen");
    std::fs::write(
        dir.path().join("genesis.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let genesis_hash = genesis::genesis_header(&spec).unwrap().hash_slow();
    let signed: Vec<(B256, String)> = (0..txs)
        .map(|k| {
            let tx = PooledTx::Eip1559(support::transfer(&keys[k % SENDERS], (k / SENDERS) as u64));
            (
                *tx.hash(),
                alloy_primitives::hex::encode_prefixed(tx.encoded_2718()),
            )
        })
        .collect();

    // Milliseconds ethpeer waits for a broadcast before fetching an announced tx (geth
    // waits 500 ms, and so do we by default).
    let origin_nice = env("FIRST_SEEN_ORIGIN_NICE", ORIGIN_NICE).min(19) as u8;
    let arrival_wait: u64 = std::env::var("FIRST_SEEN_ARRIVAL_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let ours = Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("node")
        .arg("--datadir")
        .arg(dir.path().join("ethpeer"))
        .arg("--genesis")
        .arg(dir.path().join("genesis.json"))
        .args([
            "--port",
            "0",
            "--addr",
            "127.0.1.1",
            "--nodiscover",
            "--verbosity",
            &std::env::var("FIRST_SEEN_VERBOSITY").unwrap_or_else(|_| "2".into()),
        ])
        .args(["--txpool.arrivalwait", &arrival_wait.to_string()])
        .args(["--http", "--http.port", "0", "--http.api", "eth,admin,net"])
        .args(["--ws", "--ws.port", "0", "--ws.api", "eth,ethpeer"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Killed on every way out, a panic included (its stderr holds the bench's pipe open).
    let mut ours = Reaped(ours);
    let mut lines = std::io::BufReader::new(ours.0.stdout.take().unwrap()).lines();
    let _enode = lines.next().unwrap().unwrap();
    let (mut our_rpc, mut our_ws) = (String::new(), String::new());
    while our_rpc.is_empty() || our_ws.is_empty() {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("rpc ") {
            our_rpc = url.to_string();
        } else if let Some(url) = line.strip_prefix("ws ") {
            our_ws = url.to_string();
        }
    }
    std::thread::spawn(move || for _ in lines {});

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let heard: Arc<Mutex<HashMap<(B256, u8), Instant>>> = Arc::default();
    let kinds: Kinds = Arc::default();
    // One instant and the UTC day's nanoseconds at it, to put ethpeer's decode stamps on
    // the bench's clock.
    let base = (Instant::now(), now_day_nanos());
    // Each tx's origin's node id (hex): which peer had it first.
    let origin_of: Arc<Mutex<HashMap<B256, String>>> = Arc::default();
    let origin_ids = origin_of.clone();
    let sent_hashes = runtime.block_on(async {
        // Distinct loopback hosts: ethpeer 127.0.1.1, the listening geth 127.0.2.1, origin
        // `i` 127.0.{i + 3}.1 (the addresses the watchers dial and report as remotes).
        let mut listener = Geth::start(dir.path(), "listener", "127.0.2.1", 0);
        let mut nodes: Vec<Geth> = (0..origins)
            .map(|i| {
                let ip = format!("127.0.{}.1", i + 3);
                Geth::start(dir.path(), &format!("origin{i}"), &ip, origin_nice)
            })
            .collect();
        listener.ready(genesis_hash).await;
        for node in &mut nodes {
            node.ready(genesis_hash).await;
        }
        // A full mesh of origins; each watcher peers with every origin and nothing else.
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                rpc(&a.http, "admin_addPeer", json!([b.enode])).await;
            }
            rpc(&listener.http, "admin_addPeer", json!([a.enode])).await;
            rpc(&our_rpc, "admin_addPeer", json!([a.enode])).await;
        }
        let wanted = origins as u64;
        let count = |v: &Value| {
            v["result"]
                .as_str()
                .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let theirs = count(&rpc(&listener.http, "net_peerCount", json!([])).await);
            let mine = count(&rpc(&our_rpc, "net_peerCount", json!([])).await);
            if theirs == wanted && mine == wanted {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "peering: geth {theirs}, ethpeer {mine} of {wanted}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("{origins} origins; both watchers have {wanted} peers");
        watch(
            &listener.ws,
            "eth_subscribe",
            json!(["newPendingTransactions"]),
            heard.clone(),
            geth_key,
            kinds.clone(),
        )
        .await;
        watch(
            &our_ws,
            "ethpeer_subscribe",
            json!(["txArrivals", {"tiers": ["seen", "validated"]}]),
            heard.clone(),
            ethpeer_key,
            kinds.clone(),
        )
        .await;
        let mut sent = Vec::new();
        for (k, (hash, raw)) in signed.iter().enumerate() {
            let origin = &nodes[k % nodes.len()];
            let answer = rpc(&origin.http, "eth_sendRawTransaction", json!([raw])).await;
            assert!(answer["result"].is_string(), "{answer}");
            sent.push(*hash);
            let id = origin.enode.trim_start_matches("enode://");
            let id = id.split('@').next().unwrap_or_default().to_lowercase();
            origin_ids.lock().unwrap().insert(*hash, id);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(nodes);
        drop(listener);
        sent
    });
    drop(ours);
    let heard = heard.lock().unwrap();
    println!("{txs} txs sent one by one (20 ms apart) to {origins} geth v1.17.10 origins in turn; each watcher peered with every origin; ethpeer --txpool.arrivalwait {arrival_wait}; origins at nice {origin_nice}");
    println!("| ethpeer event vs geth's newPendingTransactions | ethpeer first | lead p50 ms | p10 ms | p1 ms | ethpeer saw | geth saw | only ethpeer / only geth |");
    println!("|---|---|---|---|---|---|---|---|");
    compare("`seen` (decoded)", &sent_hashes, &heard, 1);
    compare("`validated` (pooled)", &sent_hashes, &heard, 2);
    // The race by how ethpeer first had the tx: a broadcast to it (geth's origins send
    // whole txs to ⌈√n⌉ of their peers and announce them to the rest) or an announcement
    // it then fetched.
    let kinds = kinds.lock().unwrap();
    for kind in ["broadcast", "fetched", "pooled"] {
        let subset: Vec<B256> = sent_hashes
            .iter()
            .filter(|h| kinds.get(*h).is_some_and(|seen| seen.kind == kind))
            .copied()
            .collect();
        if !subset.is_empty() {
            compare(
                &format!("`seen`, ethpeer's first copy {kind}"),
                &subset,
                &heard,
                1,
            );
        }
    }
    // The race by how ethpeer first heard of the tx: whole from its origin (which chose
    // ethpeer among the ⌈√n⌉ peers it sends a sender's txs to whole), or otherwise (an
    // announcement first, or a copy relayed by another origin one hop and one geth pool
    // admission later).
    let origin_of = origin_of.lock().unwrap();
    for (name, straight) in [
        ("whole from the tx's origin", true),
        ("announced first or relayed", false),
    ] {
        let subset: Vec<B256> = sent_hashes
            .iter()
            .filter(|h| {
                let first = kinds.get(*h).map(|seen| seen.peer.as_str());
                let origin = origin_of.get(*h).map(String::as_str);
                first.is_some() && (first == origin) == straight
            })
            .copied()
            .collect();
        if !subset.is_empty() {
            compare(
                &format!("`seen`, ethpeer's first copy {name}"),
                &subset,
                &heard,
                1,
            );
        }
    }
    from_decode(&sent_hashes, &heard, &kinds, base);
}

/// From ethpeer's decode of each tx (its `firstDelivered` stamp) to when each watcher's
/// client heard of it: ethpeer's own decode-to-subscriber path, and how long geth's
/// notification came after ethpeer had the tx decoded.
fn from_decode(
    sent: &[B256],
    heard: &HashMap<(B256, u8), Instant>,
    kinds: &HashMap<B256, Seen>,
    base: (Instant, u64),
) {
    let wall = |at: &Instant| base.1 as i128 + at.duration_since(base.0).as_nanos() as i128;
    let (mut ours, mut theirs, mut fetches) = (Vec::new(), Vec::new(), Vec::new());
    for hash in sent {
        let Some(seen) = kinds.get(hash) else {
            continue;
        };
        let Some(decoded) = seen.decoded else {
            continue;
        };
        if let Some(announced) = seen.announced {
            fetches.push((decoded as i128 - announced as i128) as f64 / 1e6);
        }
        let decoded = decoded as i128;
        if let Some(at) = heard.get(&(*hash, 1)) {
            ours.push((wall(at) - decoded) as f64 / 1e6);
        }
        if let Some(at) = heard.get(&(*hash, 0)) {
            theirs.push((wall(at) - decoded) as f64 / 1e6);
        }
    }
    for (name, values) in [
        ("after ethpeer's decode, ethpeer `seen` heard", &mut ours),
        ("after ethpeer's decode, geth heard", &mut theirs),
        (
            "announced to ethpeer first: from the announcement to the decoded reply",
            &mut fetches,
        ),
    ] {
        values.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| values[((values.len() as f64 - 1.0) * p).round() as usize];
        if !values.is_empty() {
            println!(
                "{name}: p10 {:.3} / p50 {:.3} / p90 {:.3} ms ({} txs)",
                at(0.1),
                at(0.5),
                at(0.9),
                values.len()
            );
        }
    }
}
