//! Interop with an independent implementation: the Node.js peer in `tests/interop/`
//! (`@ethereumjs/devp2p` 10.0.0). In both directions (it dials us; we dial it) RLPx, Hello
//! and the eth/68 Status complete and eth messages flow both ways.
//!
//! Needs `npm ci` in `tests/interop` (CI runs it). Without `node_modules` the tests skip
//! with a notice, unless `ETHPEER_REQUIRE_INTEROP=1`, which makes them fail instead.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use alloy_consensus::{Signed, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Signature, TxKind, B256, B512, U256};
use ethpeer_actors::eth::forkid::ForkSchedule;
use ethpeer_actors::eth::{EthMessage, EthVersion, Transactions};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{self, ChainStatus, Established, SessionConfig};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const NETWORK_ID: u64 = 7;

pub(crate) fn interop_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop");
    if dir
        .join("node_modules")
        .join("@ethereumjs")
        .join("devp2p")
        .is_dir()
    {
        return Some(dir);
    }
    if std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!(
            "tests/interop/node_modules missing and ETHPEER_REQUIRE_INTEROP=1 (run npm ci there)"
        );
    }
    eprintln!("notice: skipping interop test, run `npm ci` in tests/interop");
    None
}

fn chain() -> ChainStatus {
    let genesis = B256::repeat_byte(0x42);
    ChainStatus {
        network_id: NETWORK_ID,
        genesis,
        forks: ForkSchedule {
            genesis_hash: genesis,
            genesis_timestamp: 0,
            block_forks: vec![],
            time_forks: vec![],
        },
        head_number: 1,
        head_timestamp: 12,
        head_hash: B256::repeat_byte(0x43),
        total_difficulty: U256::from(0x20000),
        earliest: 0,
    }
}

/// The Node peer as a child process speaking JSON lines.
pub(crate) struct NodePeer {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl NodePeer {
    pub(crate) async fn start(dir: &PathBuf, dial: Option<String>, chain: &ChainStatus) -> Self {
        let fork = chain.forks.fork_id(chain.head_number, chain.head_timestamp);
        let fork_args = [
            "--fork-hash".to_string(),
            hex::encode(fork.hash.0),
            "--fork-next".to_string(),
            fork.next.to_string(),
        ];
        Self::start_with(dir, dial, chain, &fork_args).await
    }

    /// A peer whose fork ids come from ethereumjs's own EIP-2124 code over the chain's
    /// `genesis` file (its own id, and its validation of ours), not from our schedule.
    pub(crate) async fn start_with_genesis(
        dir: &PathBuf,
        dial: Option<String>,
        chain: &ChainStatus,
        genesis: &std::path::Path,
    ) -> Self {
        let args = [
            "--geth-genesis".to_string(),
            genesis.display().to_string(),
            "--head-number".to_string(),
            chain.head_number.to_string(),
            "--head-time".to_string(),
            chain.head_timestamp.to_string(),
        ];
        Self::start_with(dir, dial, chain, &args).await
    }

    async fn start_with(
        dir: &PathBuf,
        dial: Option<String>,
        chain: &ChainStatus,
        fork_args: &[String],
    ) -> Self {
        let mut cmd = Command::new("node");
        cmd.current_dir(dir)
            .arg("peer.mjs")
            .args([
                "--key",
                &"11".repeat(32),
                "--listen",
                "0",
                "--network-id",
                &chain.network_id.to_string(),
            ])
            .args([
                "--genesis",
                &hex::encode(chain.genesis),
                "--best",
                &hex::encode(chain.head_hash),
            ])
            .args(["--td", &chain.total_difficulty.to_string()])
            .args(fork_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(enode) = dial {
            cmd.args(["--dial", &enode]);
        }
        let mut child = cmd.spawn().expect("node starts");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            _child: child,
            stdin,
            lines,
        }
    }

    /// The next event named `name` (others are skipped; an error event fails the test).
    pub(crate) async fn event(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within 15 s"))
                .expect("read stdout")
                .unwrap_or_else(|| panic!("node peer exited before {name}"));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line}: {e}"));
            match event["event"].as_str() {
                Some(n) if n == name => return event,
                Some("error") => panic!("node peer error: {event}"),
                Some("disconnect") => {
                    panic!("node peer disconnected while waiting for {name}: {event}")
                }
                _ => {}
            }
        }
    }

    pub(crate) async fn send(&mut self, code: u8, payload: &[u8]) {
        let command = format!(
            "{}\n",
            serde_json::json!({"cmd": "send", "code": code, "payload": hex::encode(payload)})
        );
        self.stdin
            .write_all(command.as_bytes())
            .await
            .expect("stdin");
    }
}

fn config() -> SessionConfig {
    SessionConfig::new(
        SecretKey::from_byte_array([0x22; 32]).expect("key"),
        "ethpeer/interop-test",
    )
}

fn a_transaction() -> EthMessage {
    let tx = TxLegacy {
        chain_id: Some(NETWORK_ID),
        nonce: 3,
        gas_price: 7,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(5)),
        value: U256::from(9),
        input: Default::default(),
    };
    EthMessage::Transactions(Transactions(vec![TxEnvelope::Legacy(
        Signed::new_unhashed(tx, Signature::test_signature()),
    )]))
}

/// eth/68 established; a Transactions message each way arrives intact.
async fn exchange<S>(node: &mut NodePeer, mut ours: Established<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    assert_eq!(
        ours.eth_version,
        EthVersion::Eth68,
        "ethereumjs speaks eth up to 68"
    );
    let peer = node.event("peer").await;
    assert_eq!(peer["eth"], 68);
    assert_eq!(peer["client"], "ethpeer/interop-test");
    let status = node.event("status").await;
    assert_eq!(status["status"]["networkId"], NETWORK_ID);
    assert_eq!(
        status["status"]["genesisHash"],
        hex::encode(chain().genesis)
    );
    node.event("ready").await;

    let message = a_transaction();
    ours.writer
        .send(RlpxMessage {
            id: ours.eth_offset + 2,
            payload: message.encoded().into(),
        })
        .await
        .expect("send");
    let received = node.event("message").await;
    assert_eq!(received["code"], 2);
    assert_eq!(received["payload"], hex::encode(message.encoded()));
    // ethereumjs's own tx codec reads our bytes as the same transaction.
    let EthMessage::Transactions(Transactions(txs)) = &message else {
        unreachable!("a Transactions message")
    };
    assert_eq!(
        received["decoded"]["txHashes"],
        serde_json::json!([hex::encode(txs[0].tx_hash())]),
        "{received}"
    );

    node.send(2, &message.encoded()).await;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ours.reader.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("valid frame");
        if frame.id == ours.eth_offset + 2 {
            assert_eq!(
                EthMessage::decode(EthVersion::Eth68, 2, &frame.payload).expect("decodes"),
                message
            );
            break;
        }
        // Pings and the like may come first.
        assert!(frame.id < 0x10, "unexpected message {:#x}", frame.id);
    }
}

#[tokio::test]
async fn we_dial_the_ethereumjs_peer() {
    let Some(dir) = interop_dir() else { return };
    let mut node = NodePeer::start(&dir, None, &chain()).await;
    let listening = node.event("listening").await;
    let port = listening["port"].as_u64().expect("port");
    let id: B512 = format!("0x{}", listening["id"].as_str().expect("id"))
        .parse()
        .expect("node id");
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port as u16))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let established = session::dial(stream, &config(), id, &chain())
        .await
        .expect("handshake with ethereumjs");
    exchange(&mut node, established).await;
}

#[tokio::test]
async fn the_ethereumjs_peer_dials_us() {
    let Some(dir) = interop_dir() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let enode = format!(
        "enode://{}@127.0.0.1:{port}",
        hex::encode(config().node_id())
    );
    let mut node = NodePeer::start(&dir, Some(enode), &chain()).await;
    let (stream, _) = tokio::time::timeout(Duration::from_secs(15), listener.accept())
        .await
        .expect("dialed in time")
        .expect("accept");
    stream.set_nodelay(true).expect("nodelay");
    let established = session::accept(stream, &config(), &chain())
        .await
        .expect("handshake with ethereumjs");
    exchange(&mut node, established).await;
}

/// Our node serving the ethtest chain (`ETHPEER_TESTDATA`) to the ethereumjs peer, which
/// requests headers at eth/68 and must get the chain's hashes.
#[actix_rt::test]
async fn the_ethereumjs_peer_gets_ethtest_headers_from_us() {
    use actix::Actor;
    use alloy_eips::BlockHashOrNumber;
    use ethpeer_actors::eth::{GetBlockBodies, GetBlockHeaders, RequestPair};
    use ethpeer_actors::peer_set::PeerSetActor;
    use ethpeer_actors::peer_set::{start_session_peer, SessionPeerLinks};
    use ethpeer_actors::serve::RequestHandler;
    use ethpeer_actors::txs::pool::InMemoryTxPool;
    use std::sync::Arc;

    let Some(dir) = interop_dir() else { return };
    let data = crate::common::testdata_or_skip!();
    let crate::common::Ethtest {
        blocks,
        store,
        status,
    } = crate::common::ethtest(&data);

    let pool = Arc::new(InMemoryTxPool::new());
    let handler = RequestHandler::spawn(store.clone(), pool.clone(), 1);
    let set = PeerSetActor::new().start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let enode = format!(
        "enode://{}@127.0.0.1:{port}",
        hex::encode(config().node_id())
    );
    let mut node = NodePeer::start_with_genesis(
        &dir,
        Some(enode),
        &status,
        &data.join("ethtest/genesis.json"),
    )
    .await;
    let (stream, _) = tokio::time::timeout(Duration::from_secs(15), listener.accept())
        .await
        .expect("dialed in time")
        .expect("accept");
    stream.set_nodelay(true).expect("nodelay");
    let session = session::accept(stream, &config(), &status)
        .await
        .expect("handshake with ethereumjs");
    assert_eq!(session.eth_version, EthVersion::Eth68);
    let links = SessionPeerLinks {
        register: set.clone().recipient(),
        stopped: set.recipient(),
        on_message: ethpeer_actors::peer::InboundRoutes::all(handler.recipient()),
        keepalive: None,
        request_timeout: None,
        wire: None,
        remote: None,
    };
    start_session_peer(session, pool, links)
        .await
        .expect("registered");
    // ethereumjs computed its own fork id from the genesis file; ours must equal it, and
    // its EIP-2124 validation of ours must pass ("ready").
    let remote_status = node.event("status").await;
    assert_eq!(
        remote_status["status"]["forkHash"], remote_status["local"]["forkHash"],
        "{remote_status}"
    );
    assert_eq!(
        remote_status["status"]["forkNext"], remote_status["local"]["forkNext"],
        "{remote_status}"
    );
    node.event("ready").await;

    let cases: [(u64, BlockHashOrNumber, u64, u64, bool, Vec<u64>); 3] = [
        (
            1,
            blocks[0].header.hash_slow().into(),
            2,
            1,
            false,
            vec![1, 3],
        ),
        (2, 600u64.into(), 3, 0, true, vec![600, 599, 598]),
        (3, u64::MAX.into(), 1, 0, false, vec![]),
    ];
    for (id, start_block, limit, skip, reverse, expected) in cases {
        let request = EthMessage::GetBlockHeaders(RequestPair::new(
            id,
            GetBlockHeaders {
                start_block,
                limit,
                skip,
                reverse,
            },
        ));
        node.send(3, &request.encoded()).await;
        let reply = node.event("message").await;
        assert_eq!(reply["code"], 4, "BlockHeaders");
        // Read by ethereumjs's header codec, hashed by ethereumjs, compared with the
        // chain file's hashes.
        let decoded = &reply["decoded"];
        assert_eq!(decoded["requestId"], id, "{reply}");
        let want: Vec<String> = expected
            .iter()
            .map(|n| hex::encode(blocks[*n as usize - 1].header.hash_slow()))
            .collect();
        assert_eq!(
            decoded["headerHashes"],
            serde_json::json!(want),
            "request {id}: {reply}"
        );
    }

    // Bodies of the first three blocks with transactions: ethereumjs's tx codec must find
    // exactly the chain file's transactions in them.
    let with_txs: Vec<&ethpeer_actors::eth::EthBlock> = blocks
        .iter()
        .filter(|b| !b.body.transactions.is_empty())
        .take(3)
        .collect();
    assert_eq!(with_txs.len(), 3);
    let request = EthMessage::GetBlockBodies(RequestPair::new(
        4,
        GetBlockBodies(with_txs.iter().map(|b| b.header.hash_slow()).collect()),
    ));
    node.send(5, &request.encoded()).await;
    let reply = node.event("message").await;
    assert_eq!(reply["code"], 6, "BlockBodies");
    assert_eq!(reply["decoded"]["requestId"], 4, "{reply}");
    let want: Vec<Vec<String>> = with_txs
        .iter()
        .map(|b| {
            b.body
                .transactions
                .iter()
                .map(|t| hex::encode(t.tx_hash()))
                .collect()
        })
        .collect();
    assert_eq!(
        reply["decoded"]["bodyTxHashes"],
        serde_json::json!(want),
        "{reply}"
    );
}

/// `selfcheck.mjs` (two interop peers talking to each other) still passes, so a broken
/// peer script shows up here rather than as a confusing failure of the tests above.
#[tokio::test]
async fn the_interop_peers_selfcheck_passes() {
    let Some(dir) = interop_dir() else { return };
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("selfcheck.mjs")
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SELFCHECK OK"),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
