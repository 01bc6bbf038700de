//! Kafka throughput (issue 27, item 4): a real single-node Kafka 4.4.0 broker (`.ci/kafka`,
//! KRaft) on loopback; the node's sink publishes N archive events (signed EIP-1559
//! transfers with their sightings, the archive bench's shape) and the fleet consumer reads
//! them into an archive. Prints events per second each way.
//!
//! Run: `.ci/kafka install && cargo bench --bench kafka` (`KAFKA_EVENTS`, default 100,000).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, B256, U256};
use ethpeer_actors::archive::kafka::{consume, KafkaSink, KafkaUrl};
use ethpeer_actors::archive::record::{tx_fields, ArchiveEvent, EventBody, SCHEMA_VERSION};
use ethpeer_actors::eth::PooledTx;

fn events(n: usize) -> Vec<Arc<ArchiveEvent>> {
    let key = B256::repeat_byte(0x11);
    // Recent times: the consumer refuses events a week old.
    let start_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits")
        - 3_600_000;
    (0..n)
        .map(|i| {
            let tx = TxEip1559 {
                chain_id: 1,
                nonce: i as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 20_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                to: TxKind::Call(Address::repeat_byte(0x42)),
                value: U256::from(i),
                ..Default::default()
            };
            let signature =
                alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash())
                    .expect("sign");
            let pooled = PooledTx::Eip1559(tx.into_signed(signature));
            let mut record = tx_fields(&pooled, Address::repeat_byte(7));
            record.timestamp_ms = start_ms + i as i64 * 10;
            record.first_seen_ns = record.timestamp_ms * 1_000_000;
            record.kind = "broadcast".into();
            Arc::new(ArchiveEvent {
                v: SCHEMA_VERSION,
                source: "bench".into(),
                body: EventBody::Tx(Box::new(record)),
            })
        })
        .collect()
}

fn kafka(verb: &str, dir: &Path, port: u16) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/kafka");
    let mut command = std::process::Command::new(script);
    command.arg(verb).arg(dir);
    if verb == "start" {
        command.arg(port.to_string());
    }
    let out = command.output().expect(".ci/kafka runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    let n: usize = std::env::var("KAFKA_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_err()
    {
        eprintln!("no Java: skipping (see .ci/kafka)");
        return;
    }
    let broker = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    kafka("start", broker.path(), port);
    let url: KafkaUrl = format!("kafka://127.0.0.1:{port}/bench")
        .parse()
        .expect("url");
    let events = events(n);
    let system = actix_rt::System::new();
    let (publish, consumed) = system.block_on(async {
        let sink = KafkaSink::spawn(url.clone(), Default::default());
        let started = Instant::now();
        for (i, event) in events.iter().enumerate() {
            sink.offer(event.clone());
            // Offered at most a buffer ahead of the broker, as a busy node would.
            while i as u64 - sink.stats.published.load(Ordering::Relaxed)
                >= (ethpeer_actors::archive::kafka::SINK_BUFFER / 2) as u64
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        while sink.stats.published.load(Ordering::Relaxed) < n as u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let publish = started.elapsed();
        assert_eq!(sink.stats.dropped.load(Ordering::Relaxed), 0);
        let out = tempfile::tempdir().expect("dir");
        let dir = out.path().to_path_buf();
        let started = Instant::now();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let watch = dir.clone();
        let want = n as u64;
        actix_rt::spawn(async move {
            // Stop the consumer once its positions cover every event.
            loop {
                let offsets = std::fs::read(watch.join("kafka-offsets.json")).unwrap_or_default();
                let next: std::collections::BTreeMap<i32, i64> =
                    serde_json::from_slice(&offsets).unwrap_or_default();
                if next.values().sum::<i64>() as u64 >= want {
                    let _ = done_tx.send(());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        consume(&url, &dir, None, async {
            let _ = done_rx.await;
        })
        .await
        .expect("consume");
        (publish, started.elapsed())
    });
    kafka("stop", broker.path(), port);
    println!(
        "{n} events (signed EIP-1559 txs as archive JSON, about {} B each) on loopback",
        serde_json::to_vec(&*events[0])
            .map(|v| v.len())
            .unwrap_or(0)
    );
    println!("| direction | events/s |");
    println!("|---|---|");
    println!(
        "| node -> Kafka (`--sink`, acknowledged) | {:.0} ({:.2} s) |",
        n as f64 / publish.as_secs_f64(),
        publish.as_secs_f64()
    );
    println!(
        "| Kafka -> archive (`archive --from`, synced, positions kept) | {:.0} ({:.2} s) |",
        n as f64 / consumed.as_secs_f64(),
        consumed.as_secs_f64()
    );
}
