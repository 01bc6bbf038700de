//! A real go-ethereum node as a peer: `geth init` with the ethtest genesis, `geth import`
//! of its 600 blocks, then geth on loopback (`--nodiscover --nat none`, HTTP RPC with
//! admin,eth,txpool,net). Two `ethpeer node` binaries meet it (one dials geth, geth dials
//! the other), txs cross both ways, and an in-process ethpeer requests headers, bodies and
//! receipts from geth at eth/69, eth/70 and eth/71 (with eth/70 paging) and checks them
//! against the chain's roots, and at eth/71 block access lists (none: the chain is
//! pre-Amsterdam). At eth/72 blob txs cross both ways by cells. geth only accepts txs from peers once synced, which a consensus client
//! normally says through the engine API; the test sends it the same forkchoice update.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use alloy_consensus::proofs::calculate_receipt_root;
use alloy_consensus::ReceiptEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::chain::{verify_block, ChainStore};
use ethpeer_actors::eth::{
    BlockAccessListEntry, BlockAccessLists, EthBlock, EthMessage, EthVersion, GetBlockAccessLists,
    GetReceipts, GetReceipts70, Receipts69, RequestPair,
};
use ethpeer_actors::peer::PeerHandle;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::common::binary::{counter, http, http_with, Binary, LogFollower};
use crate::common::poll::eventually;
use crate::common::testdata_or_skip;
use crate::geth::{ethtest_node, go_bin_or_skip, GETH_VERSION};
use crate::tx_validation::{sender, signed, transfer};

/// geth's `--cache` (MiB) for every geth a test runs. geth sizes pebble's memtable from
/// it and pebble preallocates its write-ahead log to that size: at geth's default (a
/// quarter of RAM, 2 GiB here) each datadir takes 290 MB of disk for a 14 MB chain, and a
/// run of the geth tests on a CI disk that the build has nearly filled crashed geth with
/// "no space left on device" mid-test. At 64 MiB the datadir is 21 MB and the 600-block
/// import takes the same 7 s.
pub(crate) const GETH_CACHE_MB: &str = "64";

/// A free loopback TCP port (bound and released; geth takes ports as numbers).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One running geth.
pub(crate) struct Geth {
    child: Child,
    pub(crate) http: String,
    auth: String,
    jwt: [u8; 32],
    /// Its enode on 127.0.0.1.
    pub(crate) enode: String,
    log: LogFollower,
}

impl Geth {
    async fn start(go: &Path, testdata: &Path, dir: &Path) -> Self {
        Self::start_with(go, testdata, dir, true).await
    }

    /// geth on the ethtest genesis with (`import`) or without the chain's 600 blocks.
    pub(crate) async fn start_with(go: &Path, testdata: &Path, dir: &Path, import: bool) -> Self {
        let geth = go.join("geth");
        let datadir = dir.join("geth");
        let ethtest = testdata.join("ethtest");
        let version = run(Command::new(&geth).arg("version")).await;
        assert!(version.contains(GETH_VERSION), "{version}");
        run(Command::new(&geth)
            .arg("--datadir")
            .arg(&datadir)
            .arg("init")
            .arg(ethtest.join("genesis.json")))
        .await;
        if import {
            run(Command::new(&geth)
                .arg("--datadir")
                .arg(&datadir)
                .arg("import")
                .arg(ethtest.join("chain.rlp")))
            .await;
        }
        let jwt = [0x42u8; 32];
        let jwt_file = dir.join("jwt.hex");
        std::fs::write(&jwt_file, hex::encode(jwt)).expect("jwt file");
        let (p2p, http_port, auth_port) = (free_port(), free_port(), free_port());
        let mut child = Command::new(&geth)
            .arg("--datadir")
            .arg(&datadir)
            .args(["--networkid", "3503995874084926", "--syncmode", "full"])
            .args(["--cache", GETH_CACHE_MB])
            .args(["--port", &p2p.to_string(), "--nodiscover", "--nat", "none"])
            .args(["--http", "--http.addr", "127.0.0.1"])
            .args(["--http.port", &http_port.to_string()])
            .args(["--http.api", "admin,eth,txpool,net"])
            .args(["--authrpc.addr", "127.0.0.1"])
            .args(["--authrpc.port", &auth_port.to_string()])
            .arg("--authrpc.jwtsecret")
            .arg(&jwt_file)
            .args(["--ipcdisable", "--verbosity", "4"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("geth starts");
        let log = LogFollower::start(child.stderr.take().expect("stderr"), "geth");
        let mut geth = Self {
            child,
            http: format!("http://127.0.0.1:{http_port}"),
            auth: format!("http://127.0.0.1:{auth_port}"),
            jwt,
            enode: String::new(),
            log,
        };
        geth.log_line(&["HTTP server started"]).await;
        let info = geth.call("admin_nodeInfo", json!([])).await;
        let enode = info["enode"].as_str().expect("enode").to_string();
        let pubkey = enode
            .trim_start_matches("enode://")
            .split('@')
            .next()
            .expect("id");
        geth.enode = format!("enode://{pubkey}@127.0.0.1:{p2p}");
        geth
    }

    pub(crate) async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, text) = http(&self.http, "POST", "/", &body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Tells geth, as a consensus client would, that the imported head is the chain's head
    /// (`engine_forkchoiceUpdatedV3`, JWT-authenticated): it then counts itself synced and
    /// accepts transactions from peers.
    pub(crate) async fn follow_head(&self, head: B256) {
        let state =
            json!({"headBlockHash": head, "safeBlockHash": head, "finalizedBlockHash": head});
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "engine_forkchoiceUpdatedV3",
                          "params": [state, null]});
        let auth = format!("Authorization: Bearer {}", jwt_token(&self.jwt));
        let (status, text) = http_with(&self.auth, "POST", "/", &[auth], &body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            answer["result"]["payloadStatus"]["status"], "VALID",
            "{answer}"
        );
    }

    /// Sends one engine API request (JWT-authenticated) and answers geth's reply.
    pub(crate) async fn engine(&self, request: &Value) -> Value {
        let auth = format!("Authorization: Bearer {}", jwt_token(&self.jwt));
        let (status, text) =
            http_with(&self.auth, "POST", "/", &[auth], &request.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("JSON")
    }

    /// Waits (up to 60 s) for a log line containing every one of `needles`.
    async fn log_line(&mut self, needles: &[&str]) -> String {
        self.log.line(needles, Duration::from_secs(60)).await
    }

    fn interrupt(&self) {
        crate::common::binary::interrupt(&self.child);
    }
}

impl Drop for Geth {
    /// A failed test shows what geth said about its peers, whether it is still running,
    /// and its last lines (where a crash, such as a full disk, shows).
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.log.drain();
            let peers: Vec<&String> = self
                .log
                .logs
                .iter()
                .filter(|l| l.contains("peer") || l.contains("Peer"))
                .collect();
            eprintln!("geth's peer log lines:\n{peers:#?}");
            let exited = self.child.try_wait().ok().flatten();
            let last = &self.log.logs[self.log.logs.len().saturating_sub(25)..];
            eprintln!("geth exited: {exited:?}; its last lines:\n{last:#?}");
        }
    }
}

/// Runs a command to completion; its combined output, or a panic with it on failure.
async fn run(command: &mut Command) -> String {
    let output = command.output().await.expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// An HS256 JWT with only `iat` (the engine API's authentication, EIP-3675 era spec
/// `engine/authentication.md`).
pub(crate) fn jwt_token(secret: &[u8; 32]) -> String {
    use hmac::{Hmac, Mac};
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = base64url(format!(r#"{{"iat":{iat}}}"#).as_bytes());
    let signing_input = format!("{header}.{claims}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key size");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        base64url(&mac.finalize().into_bytes())
    )
}

/// Unpadded base64url (RFC 4648 section 5), as JWTs use.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The ethtest chain's head hash (block 600).
pub(crate) fn head_hash(testdata: &Path) -> B256 {
    let ethtest = crate::common::ethtest(testdata);
    ethtest.store.head().hash_slow()
}

/// A signed transfer from the ethtest sender `0x7435…` with `nonce`, as raw hex.
pub(crate) fn raw_transfer(testdata: &Path, nonce: u64) -> (B256, String) {
    let (_, key) = sender(testdata);
    let tx = signed(
        key,
        transfer(
            nonce,
            U256::from(1),
            21_000,
            TxKind::Call(Address::repeat_byte(0x42)),
            Bytes::new(),
        ),
    );
    (*tx.hash(), format!("0x{}", hex::encode(tx.encoded_2718())))
}

/// Polls `check` until it holds ([`eventually`]); the time it took, for the log only.
async fn poll_until<F, Fut>(what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    eventually(what, check).await;
    start.elapsed()
}

/// The peer entry of `peers` (an `admin_peers` answer) whose enode names `pubkey`.
fn peer_with<'a>(peers: &'a Value, pubkey: &str) -> Option<&'a Value> {
    peers
        .as_array()?
        .iter()
        .find(|p| p["enode"].as_str().is_some_and(|e| e.contains(pubkey)))
}

fn pubkey_of(enode: &str) -> &str {
    enode
        .trim_start_matches("enode://")
        .split('@')
        .next()
        .expect("enode id")
}

fn metric(metrics: &str, kind: &str) -> u64 {
    counter(
        metrics,
        &format!("ethpeer_messages_in_total{{type=\"{kind}\"}}"),
    )
}

#[actix_rt::test]
async fn geth_and_ethpeer_peer_both_ways_and_exchange_transactions() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let mut geth = Geth::start(&go, &testdata, dir.path()).await;
    geth.follow_head(head_hash(&testdata)).await;
    let geth_key = pubkey_of(&geth.enode).to_string();

    // A dials geth; geth dials B (B has no head state, see the rejected tx below).
    let mut a = ethtest_node(&path("a"), &testdata, &["--peers", &geth.enode]).await;
    a.log_line(&["peer connected", "outbound", "eth/72", "Geth/"])
        .await;
    let mut b = Binary::start(
        &path("b"),
        &[
            "--genesis",
            testdata
                .join("ethtest/genesis.json")
                .to_str()
                .expect("utf-8"),
            "--import",
            testdata.join("ethtest/chain.rlp").to_str().expect("utf-8"),
            // B stops at eth/69, so geth speaks it with B and eth/72 with A.
            "--eth",
            "66,67,68,69",
        ],
    )
    .await;
    assert_eq!(geth.call("admin_addPeer", json!([b.enode])).await, true);
    b.log_line(&["peer connected", "inbound", "eth/69", "Geth/"])
        .await;

    // Both sides agree on ids and on the highest version both offer (geth v1.17.10 offers
    // 72, 71, 70, 69; A offers 66-72, B 66-69).
    // geth lists a peer as "handshake" until its side of Status is done: wait for both.
    let keys = [pubkey_of(&a.enode), pubkey_of(&b.enode)];
    poll_until("geth's eth handshakes", || async {
        let peers = geth.call("admin_peers", json!([])).await;
        keys.iter().all(|key| {
            peer_with(&peers, key).is_some_and(|p| p["protocols"]["eth"]["version"].is_u64())
        })
    })
    .await;
    let geth_peers = geth.call("admin_peers", json!([])).await;
    for (node, version) in [(&a, 72), (&b, 69)] {
        let key = pubkey_of(&node.enode);
        let entry = peer_with(&geth_peers, key).expect("geth lists the ethpeer node");
        assert_eq!(entry["protocols"]["eth"]["version"], version, "{entry}");
        let info = node.call("admin_nodeInfo", json!([])).await["result"].clone();
        assert_eq!(
            entry["id"], info["id"],
            "geth and ethpeer name the node alike"
        );
        let ours = node.call("admin_peers", json!([])).await["result"].clone();
        let geth_entry = peer_with(&ours, &geth_key).expect("ethpeer lists geth");
        assert_eq!(geth_entry["protocols"]["eth"]["version"], version);
        assert_eq!(
            geth_entry["id"],
            hex::encode(keccak256(hex::decode(&geth_key).expect("hex")))
        );
    }

    // ethpeer -> geth: a tx sent to A's RPC reaches geth's pool.
    let (hash_a, raw_a) = raw_transfer(&testdata, 603);
    let out = |m: &str| counter(m, "ethpeer_messages_out_total{type=\"Transactions\"}");
    let out_before = out(&a.metrics().await);
    let sent = a.call("eth_sendRawTransaction", json!([raw_a])).await;
    assert_eq!(sent["result"], json!(hash_a), "{sent}");
    let took = poll_until("tx from ethpeer in geth's pool", || async {
        let content = geth.call("txpool_content", json!([])).await;
        content["pending"].to_string().contains(&hash_a.to_string())
    })
    .await;
    // One peer: ⌈√1⌉ = 1 gets the full tx (geth's rule), so it went as Transactions.
    let full_out = out(&a.metrics().await) - out_before;
    eprintln!("ethpeer -> geth: {took:?} ({full_out} Transactions)");
    assert_eq!(full_out, 1);

    // geth -> ethpeer: a tx sent to geth's RPC reaches A's pool.
    let (hash_g, raw_g) = raw_transfer(&testdata, 604);
    let before = a.metrics().await;
    assert_eq!(
        geth.call("eth_sendRawTransaction", json!([raw_g])).await,
        json!(hash_g)
    );
    let took = poll_until("tx from geth in A's pool", || async {
        let found = a.call("eth_getTransactionByHash", json!([hash_g])).await;
        !found["result"].is_null()
    })
    .await;
    let after = a.metrics().await;
    let full = metric(&after, "Transactions") - metric(&before, "Transactions");
    let announced = metric(&after, "NewPooledTransactionHashes")
        - metric(&before, "NewPooledTransactionHashes");
    eprintln!("geth -> ethpeer: {took:?} ({full} Transactions, {announced} announcements)");
    assert!(full + announced >= 1, "A counted how it got the tx");
    // And B at eth/69 (its pool, on the genesis alloc, keeps it as a future tx).
    poll_until("tx from geth in B's pool", || async {
        let found = b.call("eth_getTransactionByHash", json!([hash_g])).await;
        !found["result"].is_null()
    })
    .await;

    // ethpeer -> geth at eth/69: the next nonce sent to B's RPC reaches geth's pool.
    let (hash_b, raw_b) = raw_transfer(&testdata, 605);
    let sent = b.call("eth_sendRawTransaction", json!([raw_b])).await;
    assert_eq!(sent["result"], json!(hash_b), "{sent}");
    let took = poll_until("tx from B (eth/69) in geth's pool", || async {
        let content = geth.call("txpool_content", json!([])).await;
        content["pending"].to_string().contains(&hash_b.to_string())
    })
    .await;
    eprintln!("ethpeer -> geth at eth/69: {took:?}");

    // B's pool checks against the genesis alloc only (no --state), so it takes a tx with
    // nonce 0 that geth refuses ("nonce too low": the sender is at 603). B sends it to geth
    // once and never again: the hash is marked known for geth when queued.
    let out_before = out(&b.metrics().await);
    let (hash_bad, raw_bad) = raw_transfer(&testdata, 0);
    let sent = b.call("eth_sendRawTransaction", json!([raw_bad])).await;
    assert_eq!(sent["result"], json!(hash_bad), "{sent}");
    poll_until("B sends the tx", || async {
        out(&b.metrics().await) > out_before
    })
    .await;
    let sent_once = out(&b.metrics().await);
    // An observation window, not a deadline: nothing should happen in it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(out(&b.metrics().await), sent_once, "B re-sent a tx");
    let content = geth.call("txpool_content", json!([])).await;
    assert!(!content.to_string().contains(&hash_bad.to_string()));
    assert!(
        peer_with(
            &geth.call("admin_peers", json!([])).await,
            pubkey_of(&b.enode)
        )
        .is_some(),
        "geth keeps B: a refused tx is not a violation"
    );

    // A clean shutdown is seen by the other side with the reason: A quits, geth logs
    // "client quitting"; geth quits, B logs it.
    let id_a = a.call("admin_nodeInfo", json!([])).await["result"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    a.interrupt();
    // geth logs the first 8 bytes of the node id.
    geth.log_line(&["Removing p2p peer", &id_a[..16], "client quitting"])
        .await;
    geth.interrupt();
    b.log_line(&["peer disconnected", "client_quitting (0x08)"])
        .await;
}

/// eth/72 with geth: blob txs of 1, 2 and 6 blobs (cell proofs) sent to geth's RPC reach
/// ethpeer's pool: geth announces each with its mask, we fetch it without blobs, then its
/// data columns with GetCells (cells blob by blob, geth's order), verify them and rebuild
/// the blobs.
#[actix_rt::test]
async fn a_blob_tx_from_geth_reaches_ethpeer_by_cells_at_eth72() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    use alloy_eips::eip2718::Encodable2718;
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let geth = Geth::start(&go, &testdata, dir.path()).await;
    geth.follow_head(head_hash(&testdata)).await;
    let mut a = ethtest_node(&dir.path().join("a"), &testdata, &["--peers", &geth.enode]).await;
    a.log_line(&["peer connected", "outbound", "eth/72", "Geth/"])
        .await;
    let cells_in = |m: &str| metric(m, "Cells");

    // geth -> ethpeer, with 1, 2 and 6 blobs: the cells' order only shows with several.
    let before = cells_in(&a.metrics().await);
    for (nonce, blobs) in [(603, 1), (604, 2), (605, 6)] {
        let tx = crate::node::cell_proof_blobs_tx(&testdata, nonce, 2, blobs);
        let (hash_g, raw_g) = (*tx.hash(), format!("0x{}", hex::encode(tx.encoded_2718())));
        let sent = geth.call("eth_sendRawTransaction", json!([raw_g])).await;
        assert_eq!(sent, json!(hash_g), "{sent}");
        let took = poll_until(
            &format!("{blobs}-blob tx from geth in A's pool"),
            || async {
                let found = a.call("eth_getTransactionByHash", json!([hash_g])).await;
                !found["result"].is_null()
            },
        )
        .await;
        eprintln!("{blobs}-blob tx geth -> ethpeer at eth/72: {took:?}");
    }
    let cells = cells_in(&a.metrics().await) - before;
    eprintln!("{cells} Cells messages");
    assert!(cells >= 3, "A got the blobs by cells");
    geth.interrupt();
}

/// eth/72 towards geth: blob txs of 1, 2 and 6 blobs sent to A's RPC reach geth's pool,
/// geth fetching their cells from us (in its blob-by-blob order). geth fetches whole blobs for only 15% of blob txs (its
/// `DefaultFetchProbability`) and otherwise only its custody columns, and only once two
/// peers announced them; so B, fed by A, announces it too.
#[actix_rt::test]
async fn a_blob_tx_from_ethpeer_reaches_geth_by_cells_at_eth72() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    use alloy_eips::eip2718::Encodable2718;
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let geth = Geth::start(&go, &testdata, dir.path()).await;
    geth.follow_head(head_hash(&testdata)).await;
    let mut a = ethtest_node(&dir.path().join("a"), &testdata, &["--peers", &geth.enode]).await;
    a.log_line(&["peer connected", "outbound", "eth/72", "Geth/"])
        .await;
    let peers = format!("{},{}", geth.enode, a.enode);
    let mut b = ethtest_node(&dir.path().join("b"), &testdata, &["--peers", &peers]).await;
    b.log_line(&["peer connected", "outbound", "eth/72", "Geth/"])
        .await;
    b.log_line(&["peer connected", "outbound", "eth/72", "ethpeer/"])
        .await;
    let get_cells = |m: &str| metric(m, "GetCells");
    for (nonce, blobs) in [(603, 1), (604, 2), (605, 6)] {
        let tx = crate::node::cell_proof_blobs_tx(&testdata, nonce, 3, blobs);
        let (hash, raw) = (*tx.hash(), format!("0x{}", hex::encode(tx.encoded_2718())));
        let sent = a.call("eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(sent["result"], json!(hash), "{sent}");
        poll_until(&format!("{blobs}-blob tx in B's pool"), || async {
            let found = b.call("eth_getTransactionByHash", json!([hash])).await;
            !found["result"].is_null()
        })
        .await;
        // geth's txpool_content leaves out its blob pool; a pooled blob tx is found by hash.
        let took = poll_until(
            &format!("{blobs}-blob tx from ethpeer in geth's pool"),
            || async {
                let found = geth.call("eth_getTransactionByHash", json!([hash])).await;
                !found.is_null()
            },
        )
        .await;
        eprintln!("{blobs}-blob tx ethpeer -> geth at eth/72: {took:?}");
    }
    let asked = get_cells(&a.metrics().await) + get_cells(&b.metrics().await);
    eprintln!("{asked} GetCells served");
    assert!(asked >= 1, "geth took the blobs by cells");
    geth.interrupt();
}

#[actix_rt::test]
async fn ethpeer_fetches_headers_bodies_and_receipts_from_geth_at_eth69_to_eth71() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    let _ = env_logger::builder().is_test(true).try_init();
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let geth = Geth::start(&go, &testdata, dir.path()).await;
    let blocks = crate::common::ethtest(&testdata).blocks;
    let (addr, id) = {
        let url: ethpeer_actors::node::Enode = geth.enode.parse().expect("enode");
        (url.addr, url.id)
    };
    for version in [EthVersion::Eth69, EthVersion::Eth70, EthVersion::Eth71] {
        let node = crate::node::node_with(&testdata, 0x61 + version as u8, &[version]).await;
        let peer = node.dial(addr, id).await.expect("dials geth");
        assert_eq!(peer.version, version);

        // Headers 1..=64 by number: exactly the chain's.
        let headers = crate::fetch::headers(&peer, 1, 64).await;
        let want: Vec<B256> = blocks[..64].iter().map(|b| b.header.hash_slow()).collect();
        let got: Vec<B256> = headers.iter().map(|h| h.hash_slow()).collect();
        assert_eq!(got, want);

        // Bodies of blocks 1..=32: each matches its header's tx and withdrawals roots.
        let bodies = crate::fetch::bodies(&peer, want[..32].to_vec()).await;
        assert_eq!(bodies.len(), 32);
        for (header, body) in headers.iter().zip(bodies) {
            verify_block(&EthBlock {
                header: header.clone(),
                body,
            })
            .expect("body matches its header's roots");
        }

        // Receipts, each block's list hashing to its receipts root. Block 11 holds the
        // chain's large receipt (10.6 MB at eth/69): no eth/69 message can carry it within
        // the 10 MiB cap (geth sends it anyway and we disconnect, as geth would), so eth/69
        // asks for blocks 2..=10, and eth/70 for 9..=13, which geth pages.
        let range: Vec<&EthBlock> = match version {
            EthVersion::Eth69 => blocks[1..10].iter().collect(),
            _ => blocks[8..13].iter().collect(),
        };
        let lists = receipts(&peer, version, &range).await;
        for (block, list) in range.iter().zip(&lists) {
            assert_eq!(list.len(), block.body.transactions.len());
            assert_eq!(
                calculate_receipt_root(list),
                block.header.receipts_root,
                "block {}",
                block.header.number
            );
        }
        if version >= EthVersion::Eth71 {
            access_lists_are_unavailable(&peer, &want).await;
        }
        node.shutdown(Duration::from_secs(3)).await;
    }
}

/// geth's answer to GetBlockAccessLists for known blocks of this pre-Amsterdam chain and
/// an unknown hash: one entry per hash, in request order, each the RLP empty string.
async fn access_lists_are_unavailable(peer: &PeerHandle, known: &[B256]) {
    let hashes = vec![known[3], B256::repeat_byte(0xde), known[0], known[3]];
    let answer = crate::fetch::request(
        peer,
        EthMessage::GetBlockAccessLists(RequestPair::new(0, GetBlockAccessLists(hashes))),
    )
    .await;
    let EthMessage::BlockAccessLists(RequestPair {
        message: BlockAccessLists(entries),
        ..
    }) = answer
    else {
        panic!("{answer:?}")
    };
    assert_eq!(entries, vec![BlockAccessListEntry::Unavailable; 4]);
}

/// Every receipt of `blocks` from `peer`: one GetReceipts at eth/69; at eth/70, pages that
/// continue at `firstBlockReceiptIndex` while the answer says the last block is incomplete.
async fn receipts(
    peer: &PeerHandle,
    version: EthVersion,
    blocks: &[&EthBlock],
) -> Vec<Vec<ReceiptEnvelope>> {
    let hashes: Vec<B256> = blocks.iter().map(|b| b.header.hash_slow()).collect();
    if version == EthVersion::Eth69 {
        let answer = crate::fetch::request(
            peer,
            EthMessage::GetReceipts(RequestPair::new(0, GetReceipts(hashes))),
        )
        .await;
        let EthMessage::Receipts69(RequestPair {
            message: Receipts69(lists),
            ..
        }) = answer
        else {
            panic!("{answer:?}")
        };
        return lists
            .into_iter()
            .map(|list| list.into_iter().map(|r| r.into_envelope()).collect())
            .collect();
    }
    let mut out: Vec<Vec<ReceiptEnvelope>> = vec![Vec::new(); blocks.len()];
    let (mut block, mut pages) = (0, 0);
    loop {
        pages += 1;
        let answer = crate::fetch::request(
            peer,
            EthMessage::GetReceipts70(GetReceipts70 {
                request_id: 0,
                first_block_receipt_index: out[block].len() as u64,
                block_hashes: hashes[block..].to_vec(),
            }),
        )
        .await;
        let EthMessage::Receipts70(page) = answer else {
            panic!("{answer:?}")
        };
        let count = page.receipts.len();
        assert!(count > 0, "an empty page");
        for (i, list) in page.receipts.into_iter().enumerate() {
            out[block + i].extend(list.into_iter().map(|r| r.into_envelope()));
        }
        block += count - 1;
        if !page.last_block_incomplete {
            if block + 1 == blocks.len() {
                break;
            }
            block += 1;
        }
    }
    eprintln!(
        "{version}: receipts of {} blocks in {pages} pages",
        blocks.len()
    );
    assert!(pages > 1, "block 11's receipts exceed one 10 MiB page");
    out
}
