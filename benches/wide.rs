//! A wide node (issue 26, item 2): a release `ethpeer node --maxpeers 1502` (dev network;
//! two thirds of the limit may dial in) takes 1,000 eth/68 peers, each from a loopback address of its own; then every peer
//! announces 33,768 distinct hashes (9 `NewPooledTransactionHashes` of up to 4,096: its
//! known-tx set full, 32,768, and past it) and answers the fetches they cause with none
//! of the txs, as an honest peer that saw them go would. The
//! bench prints the node's resident memory with no peers, with 1,000 idle peers, at the
//! peak while announcements are taken, and 32 s later (fetches answered, the inbox's prune
//! past), as totals and per peer, with the time each step took and the node's CPU by thread.
//!
//! Run: `cargo bench --bench wide` (`WIDE_PEERS` changes the 1,000).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use ethpeer_actors::chain::MemoryChainStore;
use ethpeer_actors::eth::{
    genesis, EthMessage, EthVersion, NewPooledTransactionHashes68, PooledTransactions, RequestPair,
};
use ethpeer_actors::p2p::{self as p2p, P2pMessage};
use ethpeer_actors::peer_set::MAX_KNOWN_TXS;
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{ChainStatus, Established};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;

use support::{dial_from_loopback, metric, rss, shares, thread_ticks};

/// Hashes each peer announces: a full known set and 1,000 more (the oldest are evicted).
const ANNOUNCED: usize = MAX_KNOWN_TXS + 1_000;
/// Hashes per announcement (geth's `maxTxAnnounces` per peer; a larger message is allowed
/// but gets the sender paused).
const PER_MESSAGE: usize = 4_096;

fn peers() -> usize {
    std::env::var("WIDE_PEERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// The node; its enode and metrics URL from its stdout.
fn start_node(dir: &std::path::Path, peers: usize) -> (std::process::Child, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("node")
        .arg("--datadir")
        .arg(dir)
        .args(["--port", "0", "--addr", "127.0.0.1", "--nodiscover"])
        // All our peers dial in, and inbound peers get two thirds of the limit (a third is
        // kept for dialing, geth's ratio).
        .args(["--maxpeers", &(peers * 3 / 2 + 2).to_string()])
        .args(["--metrics", "127.0.0.1:0", "--verbosity", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let (enode, metrics) = support::printed(&mut child, "metrics ");
    (child, enode, metrics)
}

/// Peer `index`'s announcements: distinct hashes (the index and a counter in the first
/// bytes; the node reduces every hash to a keyed digest anyway).
fn announcements(index: usize) -> Vec<EthMessage> {
    let count = std::env::var("WIDE_ANNOUNCED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ANNOUNCED);
    let hashes: Vec<B256> = (0..count)
        .map(|n| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(index as u64 + 1).to_be_bytes());
            bytes[8..16].copy_from_slice(&(n as u64).to_be_bytes());
            B256::from(bytes)
        })
        .collect();
    hashes
        .chunks(PER_MESSAGE)
        .map(|chunk| {
            EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                types: vec![2u8; chunk.len()].into(),
                sizes: vec![120; chunk.len()],
                hashes: chunk.to_vec(),
            })
        })
        .collect()
}

/// One peer: answers Pings, ignores requests, and once `go` turns true sends its
/// announcements, counting each message written in `sent`.
async fn peer(
    conn: Established<TcpStream>,
    index: usize,
    mut go: tokio::sync::watch::Receiver<bool>,
    sent: Arc<AtomicU64>,
) {
    let Established {
        mut reader,
        mut writer,
        eth_offset,
        ..
    } = conn;
    // Pings get a Pong; GetPooledTransactions an empty answer (we have none of the txs),
    // as an honest peer's would, so the node forgets the hashes at once.
    let (pongs, mut pending) = tokio::sync::mpsc::unbounded_channel::<RlpxMessage>();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = reader.next().await {
            let reply = if frame.id == p2p::ids::PING {
                let pong = P2pMessage::Pong;
                Some(RlpxMessage {
                    id: pong.id(),
                    payload: pong.encoded().into(),
                })
            } else if frame.id >= eth_offset {
                let id = u8::try_from(frame.id - eth_offset).unwrap_or(u8::MAX);
                match EthMessage::decode(EthVersion::Eth68, id, &frame.payload) {
                    Ok(EthMessage::GetPooledTransactions(request)) => {
                        let answer = EthMessage::PooledTransactions(RequestPair::new(
                            request.request_id,
                            PooledTransactions(Vec::new()),
                        ));
                        Some(RlpxMessage {
                            id: eth_offset + answer.message_id() as u64,
                            payload: answer.encoded().into(),
                        })
                    }
                    _ => None,
                }
            } else {
                None
            };
            if let Some(reply) = reply {
                let _ = pongs.send(reply);
            }
        }
    });
    let mut queue: Vec<EthMessage> = Vec::new();
    let mut started = false;
    loop {
        let frame = tokio::select! {
            Some(reply) = pending.recv() => reply,
            changed = go.changed(), if !started => {
                if changed.is_err() {
                    return;
                }
                started = true;
                queue = announcements(index);
                queue.reverse();
                continue;
            }
            () = std::future::ready(()), if !queue.is_empty() => {
                let message = queue.pop().expect("not empty");
                sent.fetch_add(1, Ordering::Relaxed);
                RlpxMessage {
                    id: eth_offset + message.message_id() as u64,
                    payload: message.encoded().into(),
                }
            }
            // The node hung up (its reader ended) and nothing is left to send.
            else => return,
        };
        if writer.send(frame).await.is_err() {
            return;
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let peers = peers().clamp(1, 60_000);
    let dir = tempfile::tempdir().unwrap();
    let spec = genesis::dev_genesis();
    let header = genesis::genesis_header(&spec).unwrap();
    let hash = header.hash_slow();
    let status = ChainStatus::from_store(
        spec.config.chain_id,
        genesis::fork_schedule(&spec, hash),
        &MemoryChainStore::new(header),
    );
    let (mut child, enode, metrics) = start_node(dir.path(), peers);
    let pid = child.id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut rows = vec![("no peers".to_string(), rss(pid), Duration::ZERO)];
        let clock = Instant::now();
        let (go, wait) = tokio::sync::watch::channel(false);
        let sent = Arc::new(AtomicU64::new(0));
        let indices: Vec<usize> = (0..peers).collect();
        for chunk in indices.chunks(25) {
            let dials = chunk
                .iter()
                .map(|i| dial_from_loopback(&enode, &status, *i, 2));
            for (conn, index) in futures::future::join_all(dials)
                .await
                .into_iter()
                .zip(chunk)
            {
                tokio::spawn(peer(conn, *index, wait.clone(), sent.clone()));
            }
        }
        eprintln!(
            "{peers} peers connected in {:.1} s ({metrics})",
            clock.elapsed().as_secs_f64()
        );
        // Registered on the node's side too.
        while metric(
            &metrics,
            "ethpeer_peers{direction=\"inbound\",version=\"68\"} ",
        )
        .await
            < peers as u64
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        rows.push((format!("{peers} idle peers"), rss(pid), clock.elapsed()));
        let before = thread_ticks(pid);
        let clock = Instant::now();
        go.send(true).unwrap();
        eprintln!("announcing");
        let count = std::env::var("WIDE_ANNOUNCED")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(ANNOUNCED);
        let messages = (peers * count.div_ceil(PER_MESSAGE)) as u64;
        let mut peak = 0;
        // Every announcement read by the node (the peers are paused while they flood).
        let read = "ethpeer_messages_in_total{type=\"NewPooledTransactionHashes\"} ";
        while metric(&metrics, read).await < messages {
            peak = peak.max(rss(pid));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let took = clock.elapsed();
        rows.push((
            format!("every peer announced {ANNOUNCED} hashes (peak)"),
            peak.max(rss(pid)),
            took,
        ));
        // The fetches those announcements caused are answered and forgotten, and the
        // inbox's prune (every 30 s) gives back the room the burst took.
        tokio::time::sleep(Duration::from_secs(32)).await;
        rows.push((
            "32 s later: known sets full, fetches answered".to_string(),
            rss(pid),
            clock.elapsed(),
        ));
        let cpu = shares(&before, &thread_ticks(pid));
        let still = metric(
            &metrics,
            "ethpeer_peers{direction=\"inbound\",version=\"68\"} ",
        )
        .await;
        (rows, cpu, still, sent.load(Ordering::Relaxed))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (rows, cpu, still, sent) = rows;
    let base = rows[0].1;
    println!("{peers} peers ({still} still connected at the end; {sent} announcements written); node CPU while announcing: {cpu}");
    println!("| state | resident MiB | per peer MiB | after s |");
    println!("|---|---|---|---|");
    for (state, bytes, after) in &rows {
        println!(
            "| {state} | {:.1} | {:.3} | {:.1} |",
            mib(*bytes),
            mib(bytes.saturating_sub(base)) / peers as f64,
            after.as_secs_f64()
        );
    }
}
