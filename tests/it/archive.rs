//! `--archive` (issue 27): a node archiving what a peer sends is killed with SIGKILL and
//! restarted, then stopped with Ctrl-C; pyarrow (`tests/interop/archive_check.py`, an
//! independent Parquet reader installed by `.ci/py-tools`) reads the hour's files: every
//! tx sent more than a second before the kill is there, none twice, with
//! mempool-dumpster's columns and types.

use std::path::PathBuf;
use std::time::Duration;

use alloy_primitives::B256;
use serde_json::{json, Value};

use crate::common::binary::{counter, Binary};
use crate::common::poll::eventually;
use crate::node_dev::dev_transfer;

/// mempool-dumpster's 19 columns with the types pyarrow reads for its Go writer's tags.
const DUMPSTER_COLUMNS: [(&str, &str); 19] = [
    ("timestamp", "timestamp[ms, tz=UTC]"),
    ("hash", "string"),
    ("chainId", "string"),
    ("txType", "int64"),
    ("from", "string"),
    ("to", "string"),
    ("value", "string"),
    ("nonce", "string"),
    ("gas", "string"),
    ("gasPrice", "string"),
    ("gasTipCap", "string"),
    ("gasFeeCap", "string"),
    ("dataSize", "int64"),
    ("data4Bytes", "string"),
    ("sources", "list<element: string not null>"),
    ("includedAtBlockHeight", "int64"),
    ("includedBlockTimestamp", "timestamp[ms, tz=UTC]"),
    ("inclusionDelayMs", "int64"),
    ("rawTx", "binary"),
];

fn python() -> Option<PathBuf> {
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/py/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert_ne!(
        std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref(),
        Ok("1"),
        "pyarrow missing (run .ci/py-tools)"
    );
    None
}

/// What `tests/interop/archive_check.py` (pyarrow) reads of the archive at `dir`.
async fn pyarrow_read(python: &std::path::Path, dir: &std::path::Path) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/archive_check.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(dir)
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "archive_check.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// Sends dev transfers with nonces `nonces` from each of the 4 dev accounts to `a`.
pub(crate) async fn send(a: &Binary, nonces: std::ops::Range<u64>) -> Vec<B256> {
    let mut hashes = Vec::new();
    for nonce in nonces {
        for account in 0..4 {
            let (hash, raw) = dev_transfer(account, nonce);
            let answer = a.call("eth_sendRawTransaction", json!([raw])).await;
            assert_eq!(answer["result"], json!(hash), "{answer}");
            hashes.push(hash);
        }
    }
    hashes
}

/// Whether `b`'s pool (or chain) holds every one of `hashes`.
pub(crate) async fn holds_all(b: &Binary, hashes: &[B256]) -> bool {
    for hash in hashes {
        let tx = b.call("eth_getTransactionByHash", json!([hash])).await;
        if tx["result"].is_null() {
            return false;
        }
    }
    true
}

async fn peer(b: &Binary, a: &Binary) {
    let added = b.call("admin_addPeer", json!([a.enode])).await;
    assert_eq!(added["result"], json!(true), "{added}");
    eventually("the nodes are peers", || async {
        b.call("net_peerCount", json!([])).await["result"] == json!("0x1")
    })
    .await;
}

#[actix_rt::test]
async fn an_archive_keeps_every_tx_once_across_a_kill_and_a_restart() {
    let Some(python) = python() else {
        return;
    };
    let (a_dir, b_dir, archive) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let archive_dir = archive.path().to_str().expect("utf-8 path").to_string();
    let b_args = [
        "--nodiscover",
        "--http.api",
        "eth,admin,net",
        "--archive",
        &archive_dir,
        "--archive.source",
        "b",
    ];
    let a = Binary::start(a_dir.path(), &["--nodiscover", "--http.api", "eth,admin"]).await;
    let mut b = Binary::start(b_dir.path(), &b_args).await;
    peer(&b, &a).await;
    let mut sent = send(&a, 0..10).await;
    eventually("B pools the first 40 txs", || holds_all(&b, &sent)).await;
    // The scenario: the kill comes more than a second (the sync interval) after B took
    // the txs, which is what the archive promises to keep.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    b.kill().await;

    // Restarted on the same folders: B dials A again, A offers its pool again, and the
    // archive refuses what it already holds.
    let mut b = Binary::start(b_dir.path(), &b_args).await;
    b.log_line(&["archiving transactions", "events replayed"])
        .await;
    peer(&b, &a).await;
    sent.extend(send(&a, 10..15).await);
    eventually("B pools all 60 txs again", || holds_all(&b, &sent)).await;
    // The 40 txs A offered again were refused as duplicates (/metrics, copied each second).
    eventually("the archive counts the duplicates", || async {
        let metrics = b.metrics().await;
        counter(
            &metrics,
            "ethpeer_archive_events_total{outcome=\"duplicate\"}",
        ) >= 40
    })
    .await;
    b.interrupt();
    let status = b.exit(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    let read = pyarrow_read(&python, std::path::Path::new(&archive_dir)).await;
    let hashes: Vec<B256> = serde_json::from_value(read["hashes"].clone()).expect("hashes");
    let unique: std::collections::HashSet<B256> = hashes.iter().copied().collect();
    assert_eq!(
        unique.len(),
        hashes.len(),
        "a tx archived twice: {hashes:?}"
    );
    for hash in &sent {
        assert!(unique.contains(hash), "{hash} missing from the archive");
    }
    assert_eq!(hashes.len(), sent.len());
    for schema in read["schemas"].as_array().expect("schemas") {
        let columns: Vec<(String, String)> =
            serde_json::from_value(schema.clone()).expect("columns");
        let dumpster: Vec<(String, String)> = DUMPSTER_COLUMNS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(columns[..19], dumpster[..]);
    }
    assert!(read["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .all(|s| *s == json!(["b"])));
    let a_id = a
        .enode
        .trim_start_matches("enode://")
        .split('@')
        .next()
        .expect("id");
    assert!(read["first_peers"]
        .as_array()
        .expect("peers")
        .iter()
        .all(|p| p == a_id));
    // A delivered each tx: at least one sourcelog row each (a re-delivery after the
    // restart is the same sighting).
    assert!(read["sourcelog_rows"].as_u64().unwrap_or(0) >= 60, "{read}");

    // The commands read it: one source, all 60 txs seen by it, and a plot.
    let svg = archive.path().join("cdf.svg");
    let report = tokio::process::Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .args(["archive", "report", &archive_dir, "--plot"])
        .arg(&svg)
        .output()
        .await
        .expect("report runs");
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(text.contains("60 txs in "), "{text}");
    assert!(
        text.contains("| b | 60 | 100.0% | 60 (100.0% of its) | 0 |"),
        "{text}"
    );
    let drawn = std::fs::read_to_string(&svg).expect("the plot");
    assert!(drawn.starts_with("<svg"), "{drawn}");
}

/// Real clients across a kill: a tx geth v1.17.10 relays and one the ethereumjs peer
/// sends (ethtest chain) are archived with their first peer's client; the node is then
/// killed with SIGKILL more than a second later, restarted (geth offers its pool again),
/// both send one more, and a Ctrl-C writes the hour: pyarrow reads the four txs once each
/// with the dumpster's columns.
#[actix_rt::test]
async fn txs_from_geth_and_ethereumjs_peers_survive_a_kill_in_the_archive() {
    use alloy_consensus::TxEnvelope;
    use alloy_eips::eip2718::Decodable2718;
    use ethpeer_actors::archive::files::HourFiles;
    use ethpeer_actors::archive::hour::Hour;
    use ethpeer_actors::archive::report::hours_in;
    use ethpeer_actors::eth::{EthMessage, Transactions};

    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    let testdata = crate::common::testdata_or_skip!();
    let go = crate::geth::go_bin_or_skip!();
    let Some(interop) = crate::interop::interop_dir() else {
        return;
    };
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let geth =
        crate::geth_peer::Geth::start_with(&go, &testdata, &dir.path().join("g"), true).await;
    geth.follow_head(crate::geth_peer::head_hash(&testdata))
        .await;
    let archive = dir.path().join("archive");
    let archive_arg = archive.to_str().expect("utf-8");
    let args = [
        "--peers",
        &geth.enode,
        "--archive",
        archive_arg,
        "--archive.source",
        "n",
    ];
    let status = crate::common::ethtest(&testdata).status;
    let genesis = testdata.join("ethtest/genesis.json");
    // The archiving node on the ethtest chain, peered with geth; the ethereumjs peer
    // dialing it.
    let start = |datadir: std::path::PathBuf| {
        let (testdata, args) = (&testdata, &args);
        async move {
            let mut node = crate::geth::ethtest_node(&datadir, testdata, args).await;
            node.log_line(&["peer connected", "Geth/"]).await;
            node
        }
    };
    let dial = |node: &Binary| {
        let (interop, status, genesis, enode) = (&interop, &status, &genesis, node.enode.clone());
        async move {
            let mut js =
                crate::interop::NodePeer::start_with_genesis(interop, Some(enode), status, genesis)
                    .await;
            js.event("ready").await;
            js
        }
    };
    let js_send = |nonce| {
        let (hash, raw) = crate::geth_peer::raw_transfer(&testdata, nonce);
        let bytes = alloy_primitives::hex::decode(&raw).expect("hex");
        let tx = TxEnvelope::decode_2718(&mut bytes.as_slice()).expect("a tx");
        (
            hash,
            EthMessage::Transactions(Transactions(vec![tx])).encoded(),
        )
    };
    let (data, g) = (&testdata, &geth);
    let geth_send = |nonce| async move {
        let (hash, raw) = crate::geth_peer::raw_transfer(data, nonce);
        assert_eq!(
            g.call("eth_sendRawTransaction", json!([raw])).await,
            json!(hash)
        );
        hash
    };

    let mut node = start(dir.path().join("n")).await;
    let mut js = dial(&node).await;
    let first = [geth_send(603).await, {
        let (hash, message) = js_send(604);
        js.send(2, &message).await;
        hash
    }];
    eventually("the node pools both", || holds_all(&node, &first)).await;
    // The scenario: killed more than a second (the sync interval) after it took them.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    node.kill().await;
    drop(js);

    let mut node = start(dir.path().join("n")).await;
    // geth offers its pool again (both txs: ethpeer had relayed the second to it).
    eventually("the node pools both again", || holds_all(&node, &first)).await;
    let mut js = dial(&node).await;
    let second = [geth_send(605).await, {
        let (hash, message) = js_send(606);
        js.send(2, &message).await;
        hash
    }];
    eventually("the node pools the next two", || holds_all(&node, &second)).await;
    node.interrupt();
    let exit = node.exit(Duration::from_secs(30)).await;
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");

    let read = pyarrow_read(&python, &archive).await;
    let mut hashes: Vec<B256> = serde_json::from_value(read["hashes"].clone()).expect("hashes");
    hashes.sort();
    let mut want = [first, second].concat();
    want.sort();
    assert_eq!(hashes, want, "every tx once");
    for schema in read["schemas"].as_array().expect("schemas") {
        let columns: Vec<(String, String)> =
            serde_json::from_value(schema.clone()).expect("columns");
        let names: Vec<(&str, &str)> = columns
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(names[..19], DUMPSTER_COLUMNS[..]);
    }
    let mut hour = Hour::default();
    for stem in hours_in(&archive).expect("hours") {
        HourFiles::new(&archive, &stem)
            .read_into(&mut hour)
            .expect("read");
    }
    let client = |hash: &B256| {
        hour.txs
            .get(hash)
            .map(|row| row.record.client.clone())
            .unwrap_or_else(|| panic!("{hash} not archived"))
    };
    for hash in [first[0], second[0]] {
        assert!(
            client(&hash).starts_with("Geth/v1.17.10"),
            "{}",
            client(&hash)
        );
    }
    for hash in [first[1], second[1]] {
        assert!(client(&hash).contains("ethereumjs"), "{}", client(&hash));
    }
}

/// Inclusion joins from blocks the node produces (or executes): on a dev network that
/// mines as soon as txs arrive, a tx a peer sent is archived with its block and delay.
#[actix_rt::test]
async fn a_produced_block_fills_the_inclusion_columns() {
    use ethpeer_actors::archive::files::HourFiles;
    use ethpeer_actors::archive::hour::Hour;
    use ethpeer_actors::archive::report::hours_in;

    let (a_dir, b_dir, archive) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let archive_dir = archive.path().to_str().expect("utf-8").to_string();
    let a = Binary::start(a_dir.path(), &["--nodiscover", "--http.api", "eth,admin"]).await;
    let mut b = Binary::start(
        b_dir.path(),
        &[
            "--nodiscover",
            "--http.api",
            "eth,admin,net",
            "--dev.period",
            "0",
            "--archive",
            &archive_dir,
        ],
    )
    .await;
    peer(&b, &a).await;
    let sent = send(&a, 0..1).await;
    eventually("B includes the txs in a block", || async {
        for hash in &sent {
            let receipt = b.call("eth_getTransactionReceipt", json!([hash])).await;
            if receipt["result"].is_null() {
                return false;
            }
        }
        true
    })
    .await;
    let mut blocks = std::collections::HashMap::new();
    for hash in &sent {
        let receipt = b.call("eth_getTransactionReceipt", json!([hash])).await;
        let number = receipt["result"]["blockNumber"].as_str().expect("a number");
        let number = u64::from_str_radix(number.trim_start_matches("0x"), 16).expect("hex");
        blocks.insert(*hash, number);
    }
    // The inclusion event follows the block; the archive has it when it logs nothing
    // more to do: a clean stop writes what it holds.
    b.interrupt();
    let status = b.exit(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let mut hour = Hour::default();
    for stem in hours_in(archive.path()).expect("hours") {
        HourFiles::new(archive.path(), &stem)
            .read_into(&mut hour)
            .expect("read");
    }
    for hash in &sent {
        let row = hour.txs.get(hash).expect("archived");
        let (height, _) = row.included.expect("inclusion joined");
        assert_eq!(height, blocks[hash], "{hash}");
        let delay = row.inclusion_delay_ms().expect("a delay");
        // The block's timestamp has whole seconds: at most a second before the sighting.
        assert!((-1000..60_000).contains(&delay), "{delay}");
    }
}
