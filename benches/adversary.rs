//! An honest peer's latency while another peer floods the node (issue 14's table): a
//! release `ethpeer node` serving the ethtest chain runs as a child process; in this
//! process an honest eth/68 peer asks for header 1 every 25 ms (200 times) while an
//! attacker floods, and the bench prints the honest round trip's p50, p99 and max for each
//! flood next to the quiet baseline, and what became of the attacker.
//!
//! Run: `cargo bench --bench adversary` (needs `../shared/testdata`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, Signed, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Signature, TxKind, B256, U256};
use ethpeer_actors::eth::{EthMessage, NewPooledTransactionHashes68, Transactions};
use ethpeer_actors::p2p::{self as p2p, P2pMessage};
use ethpeer_actors::session::Established;
use futures::StreamExt;
use tokio::net::TcpStream;

use ethpeer_actors::eth::{CustodyBitmap, EthVersion, GetCells};
use ethpeer_actors::session::ChainStatus;
use support::{
    dial, header_request, honest, percentile, send, shares, status, testdata, thread_ticks,
};

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

/// `count` six-blob txs (version-1 sidecars: cell proofs) from the ethtest sender, nonces
/// 603 on (its next at the head), as raw hex for `eth_sendRawTransaction`; their hashes.
fn blob_txs(dir: &Path, count: u64) -> Vec<(B256, String)> {
    use alloy_consensus::{TxEip4844, TxEip4844WithSidecar};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_eips::eip4844::Blob;
    use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
    let accounts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ethtest/accounts.json")).unwrap()).unwrap();
    let key: B256 = accounts["0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f"]["key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let settings = alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    (0..count)
        .map(|i| {
            let blobs = (0..6u8)
                .map(|b| Blob::repeat_byte(b + 10 * i as u8 + 1))
                .collect();
            let sidecar =
                BlobTransactionSidecarEip7594::try_from_blobs_with_settings(blobs, settings)
                    .unwrap();
            let tx = TxEip4844 {
                chain_id: 3_503_995_874_084_926,
                nonce: 603 + i,
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
                alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).unwrap();
            let sidecar = BlobTransactionSidecarVariant::Eip7594(sidecar);
            let tx = ethpeer_actors::eth::PooledTx::Eip4844(Signed::new_unhashed(
                TxEip4844WithSidecar { tx, sidecar },
                signature,
            ));
            (
                *tx.hash(),
                format!("0x{}", alloy_primitives::hex::encode(tx.encoded_2718())),
            )
        })
        .collect()
}

/// Four eth/72 peers each send 250 GetCells for the extension columns of `hashes` and never
/// read, while the honest peer asks for headers; the row.
async fn cells_flood(enode: &str, status: &ChainStatus, hashes: Vec<B256>, pid: u32) -> String {
    let mask = CustodyBitmap::from_indices(64..128).unwrap();
    let requests: Vec<EthMessage> = (0..250)
        .map(|id| {
            EthMessage::GetCells(GetCells {
                request_id: id,
                hashes: hashes.clone(),
                mask,
            })
        })
        .collect();
    eprintln!("adversary: 4 eth/72 peers dial");
    let mut attackers = Vec::new();
    for key in 0..4u8 {
        attackers.push(support::dial_at(enode, status, 80 + key, EthVersion::Eth72).await);
    }
    let honest_conn = dial(enode, status, 90).await;
    let ticks = thread_ticks(pid);
    let floods = futures::future::join_all(
        attackers
            .into_iter()
            .map(|conn| flood(conn, requests.clone(), false)),
    );
    let (rtts, outcomes) = tokio::join!(honest(honest_conn), floods);
    format!(
        "| 4 peers x 250 GetCells of {} six-blob txs' extension columns, never reading | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} |",
        hashes.len(),
        percentile(&rtts, 0.5).as_secs_f64() * 1e3,
        percentile(&rtts, 0.99).as_secs_f64() * 1e3,
        rtts.last().unwrap().as_secs_f64() * 1e3,
        outcomes.join("; "),
        shares(&ticks, &thread_ticks(pid)),
    )
}

fn main() {
    let Some(node) = support::bench_node("adversary") else {
        return;
    };
    let dir = testdata();
    node.run(|mut lines, pid| async move {
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
        let rpc = support::line_with(&mut lines, "rpc ").await;
        eprintln!("adversary: pooling 4 six-blob txs through {rpc}");
        let mut hashes = Vec::new();
        for (hash, raw) in blob_txs(&dir, 4) {
            let answer =
                support::rpc(&rpc, "eth_sendRawTransaction", serde_json::json!([raw])).await;
            assert_eq!(answer["result"], serde_json::json!(hash), "{answer}");
            hashes.push(hash);
        }
        println!("{}", cells_flood(&enode, &status, hashes, pid).await);
    });
}
