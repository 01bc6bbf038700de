//! A fleet through Kafka (issue 27, item 3), against a real single-node Apache Kafka
//! broker (KRaft, `.ci/kafka`): three nodes with `--sink kafka://...` take txs from one
//! origin, `ethpeer archive --from kafka://...` builds one archive of them; the consumer
//! is killed (SIGKILL) mid-stream and restarted, the broker is stopped for 10 s while txs
//! keep coming (the nodes keep serving their peer and buffer the events), and the archive
//! ends with every tx once and every node's sightings.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ethpeer_actors::archive::files::HourFiles;
use ethpeer_actors::archive::hour::Hour;
use ethpeer_actors::archive::report;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::archive::{holds_all, send};
use crate::common::binary::{counter, interrupt, Binary, LogFollower};
use crate::common::poll::eventually;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A broker from `.ci/kafka`, stopped on drop.
struct Broker {
    dir: PathBuf,
    port: u16,
}

impl Broker {
    fn run(&self, verb: &str) {
        let mut command = std::process::Command::new(repo().join(".ci/kafka"));
        command.arg(verb).arg(&self.dir);
        if verb == "start" {
            command.arg(self.port.to_string());
        }
        let out = command.output().expect(".ci/kafka runs");
        assert!(
            out.status.success(),
            ".ci/kafka {verb}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = std::process::Command::new(repo().join(".ci/kafka"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// Java and Maven (for `.ci/kafka install`), or a skip unless CI requires Kafka.
fn kafka_available() -> bool {
    let java = std::process::Command::new("java").arg("-version").output();
    if java.is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert_ne!(
        std::env::var("ETHPEER_REQUIRE_KAFKA").as_deref(),
        Ok("1"),
        "no Java for the Kafka broker"
    );
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `ethpeer archive --from URL --dir DIR` and its log.
fn consumer(url: &str, dir: &Path) -> (Child, LogFollower) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .args(["archive", "--from", url, "--dir"])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the consumer starts");
    let log = LogFollower::start(child.stderr.take().expect("stderr"), "consumer");
    (child, log)
}

/// Waits (a deadline for a hung test) until the consumer says it holds `want` events.
async fn holding(log: &mut LogFollower, want: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        log.drain();
        let held = log
            .logs
            .iter()
            .rev()
            .find_map(|l| l.split("archive: holding ").nth(1))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if held >= want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer holds {held} of {want} events; its log:\n{}",
            log.logs.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn a_fleet_of_three_feeds_one_archive_through_kafka() {
    // Heavy: a JVM broker and five node processes; run alone among the heavy tests
    // (common::heavy). Beside the light ones its broker's start took both cores long
    // enough for the timing of the sampling test to fail once in a full run.
    let _heavy = crate::common::heavy().await;
    if !kafka_available() {
        return;
    }
    let kafka_dir = tempfile::tempdir().expect("dir");
    let broker = Broker {
        dir: kafka_dir.path().to_path_buf(),
        port: free_port(),
    };
    broker.run("start");
    let url = format!("kafka://127.0.0.1:{}/ethpeer-fleet", broker.port);
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().expect("dir")).collect();
    let origin = Binary::start(
        dirs[0].path(),
        &["--nodiscover", "--http.api", "eth,admin,net"],
    )
    .await;
    let mut fleet = Vec::new();
    for (i, name) in ["n1", "n2", "n3"].into_iter().enumerate() {
        let args = [
            "--nodiscover",
            "--http.api",
            "eth,admin,net",
            "--sink",
            &url,
            "--archive.source",
            name,
        ];
        let node = Binary::start(dirs[i + 1].path(), &args).await;
        let added = node.call("admin_addPeer", json!([origin.enode])).await;
        assert_eq!(added["result"], json!(true), "{added}");
        fleet.push(node);
    }
    eventually("the origin has its three peers", || async {
        origin.call("net_peerCount", json!([])).await["result"] == json!("0x3")
    })
    .await;
    let out = dirs[4].path();
    let (mut child, mut log) = consumer(&url, out);

    let mut sent = send(&origin, 0..5).await;
    for node in &fleet {
        eventually("each node pools the first 20 txs", || {
            holds_all(node, &sent)
        })
        .await;
    }
    // Each node publishes two events per tx (its verdict, then its sightings).
    holding(&mut log, 20 * 3).await;
    // Killed mid-stream and restarted: it resumes from the positions it kept.
    child.start_kill().expect("kill");
    let _ = child.wait().await;
    let (mut child, mut log) = consumer(&url, out);
    holding(&mut log, 20 * 3 * 2).await;

    // The broker goes away for 10 s while txs keep coming: the nodes keep taking them
    // from their peer and hold the events.
    broker.run("stop");
    let down = tokio::time::Instant::now();
    sent.extend(send(&origin, 5..10).await);
    for node in &fleet {
        eventually("each node pools the next 20 txs", || holds_all(node, &sent)).await;
        assert_eq!(
            node.call("net_peerCount", json!([])).await["result"],
            json!("0x1")
        );
    }
    // The sinks did find the broker gone (and kept the events to retry).
    for node in &mut fleet {
        node.log_line(&["kafka sink", "retrying"]).await;
    }
    tokio::time::sleep_until(down + Duration::from_secs(10)).await;
    broker.run("start");
    holding(&mut log, 40 * 3 * 2).await;
    // Every node's sink says so on /metrics: nothing dropped, its failures counted.
    for node in &fleet {
        let metrics = node.metrics().await;
        let sink = |outcome: &str| {
            counter(
                &metrics,
                &format!("ethpeer_kafka_sink_events_total{{outcome=\"{outcome}\"}}"),
            )
        };
        assert_eq!(sink("published"), 80, "{metrics}");
        assert_eq!(sink("dropped"), 0);
        assert!(counter(&metrics, "ethpeer_kafka_sink_failures_total") > 0);
    }
    interrupt(&child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    assert!(
        matches!(status, Ok(Ok(s)) if s.success()),
        "{status:?}; {}",
        log.logs.join("\n")
    );

    let summary = report::report(out).expect("report");
    assert_eq!(summary.txs, sent.len(), "{}", summary.to_markdown());
    for name in ["n1", "n2", "n3"] {
        assert_eq!(summary.coverage.get(name), Some(&sent.len()), "{name}");
    }
    let mut all = Hour::default();
    for stem in report::hours_in(out).expect("hours") {
        HourFiles::new(out, &stem)
            .read_into(&mut all)
            .expect("read");
    }
    for hash in &sent {
        let row = all.txs.get(hash).expect("every tx archived");
        assert_eq!(row.sources.len(), 3, "{hash}: {:?}", row.sources);
        for name in ["n1", "n2", "n3"] {
            assert!(
                all.sourcelog
                    .iter()
                    .any(|s| s.hash == *hash && s.source == name),
                "{hash}: no sighting from {name}"
            );
        }
    }
}
