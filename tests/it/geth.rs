//! go-ethereum against ethpeer: its own eth test suite (`devp2p rlpx eth-test`, what hive
//! runs against every client) and a real `geth` node as a peer (`geth_peer.rs`). The Go
//! binaries come from `.ci/go-tools` (pinned go-ethereum version) in `$ETHPEER_GO_BIN`,
//! default `.cache/go-bin`; without them the tests print a notice and skip, unless
//! `ETHPEER_REQUIRE_GETH=1` (as in CI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::binary::Binary;
use crate::common::testdata_or_skip;

/// The go-ethereum version `.ci/go-tools` builds (the suite and geth in these tests).
pub const GETH_VERSION: &str = "1.17.10";

/// Tests of the pinned suite that exercise eth/72 (cells). They return early (and pass)
/// below eth/72; the run at eth/72 requires them by name.
const ETH72_TESTS: [&str; 3] = [
    "BlobTxAvailabilityFailure",
    "GetCells",
    "BlobTxWithInvalidCells",
];

/// The suite's eth/71-only test. It dials offering eth/71 alone, so against a node run
/// without eth/71 it cannot peer: we answer Disconnect(useless peer) as `[0x03]` (the list
/// form geth itself sends), and the suite's `conn.go:430` decodes that into
/// `[]p2p.DiscReason`, which Go's rlp reads as a byte string, so it reports "invalid
/// disconnect message". Tolerated only in the run that leaves eth/71 out.
const ETH71_ONLY_TEST: &str = "GetBlockAccessLists";

/// The folder holding `geth` and `devp2p`, or `None` (test skipped) when they are missing
/// and `ETHPEER_REQUIRE_GETH` is not `1`.
pub fn go_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("ETHPEER_GO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/go-bin"));
    if dir.join("geth").is_file() && dir.join("devp2p").is_file() {
        return Some(dir);
    }
    if std::env::var("ETHPEER_REQUIRE_GETH").as_deref() == Ok("1") {
        panic!(
            "geth and devp2p are missing from {} and ETHPEER_REQUIRE_GETH=1 (run .ci/go-tools)",
            dir.display()
        );
    }
    eprintln!(
        "notice: skipping, geth/devp2p not found in {} (run .ci/go-tools)",
        dir.display()
    );
    None
}

/// Evaluates to the Go binaries' folder, or returns from the test when they are absent.
macro_rules! go_bin_or_skip {
    () => {
        match crate::geth::go_bin() {
            Some(dir) => dir,
            None => return,
        }
    };
}
pub(crate) use go_bin_or_skip;

/// One TAP result line of the suite: `ok 3 Name` or `not ok 11 Name`.
#[derive(Debug, PartialEq, Eq)]
struct TapResult {
    ok: bool,
    name: String,
}

fn tap_results(output: &str) -> Vec<TapResult> {
    output
        .lines()
        .filter_map(|line| {
            let (ok, rest) = if let Some(rest) = line.strip_prefix("not ok ") {
                (false, rest)
            } else {
                (true, line.strip_prefix("ok ")?)
            };
            let (_number, name) = rest.split_once(' ')?;
            Some(TapResult {
                ok,
                name: name.trim().to_string(),
            })
        })
        .collect()
}

/// ethpeer serving the ethtest chain (genesis, the 600 blocks executed at import for their
/// receipts, the head state for the pool) on ephemeral ports.
pub async fn ethtest_node(datadir: &Path, testdata: &Path, extra: &[&str]) -> Binary {
    let ethtest = testdata.join("ethtest");
    let file = |name: &str| ethtest.join(name).to_str().expect("utf-8").to_string();
    let mut args = vec![
        "--genesis".to_string(),
        file("genesis.json"),
        "--import".to_string(),
        file("chain.rlp"),
        "--state".to_string(),
        file("headstate.json"),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Binary::start(datadir, &args).await
}

/// Runs go-ethereum's eth suite against `ethpeer node` on the ethtest chain started with
/// `node_flags`; every test passes except those in `tolerated`. The suite posts forkchoice
/// updates to `--engineapi` before its tx tests: our engine API answers them (with the
/// suite's JWT secret), `VALID` at the imported head.
async fn eth_suite_passes(node_flags: &[&str], tolerated: &[&str], eth72: bool) {
    let testdata = testdata_or_skip!();
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("jwt.hex");
    std::fs::write(&secret, "42".repeat(32)).expect("secret");
    let secret = secret.to_str().expect("utf-8").to_string();
    let mut flags = vec!["--authrpc.jwtsecret", &secret, "--authrpc.port", "0"];
    flags.extend_from_slice(node_flags);
    let mut node = ethtest_node(&dir.path().join("node"), &testdata, &flags).await;
    let engine = node.authrpc.clone().expect("an engine API");
    let suite = tokio::process::Command::new(go.join("devp2p"))
        .args(["rlpx", "eth-test", "--tap", "--chain"])
        .arg(testdata.join("ethtest"))
        .args(["--node", &node.enode, "--engineapi", &engine])
        .args(["--jwtsecret", &format!("0x{}", "42".repeat(32))])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), suite)
        .await
        .expect("the suite finishes within 10 minutes")
        .expect("devp2p runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results = tap_results(&stdout);
    for result in &results {
        let mark = if result.ok { "ok" } else { "not ok" };
        eprintln!("eth-test {node_flags:?}: {mark} {}", result.name);
    }
    // The pinned suite has 24 eth tests; fewer means it did not really run. Without
    // eth/72 its 3 cell tests return early and pass: they are not counted then.
    let counted = results
        .iter()
        .filter(|r| eth72 || !ETH72_TESTS.contains(&r.name.as_str()))
        .count();
    let expected = if eth72 { 24 } else { 24 - ETH72_TESTS.len() };
    assert!(
        counted >= expected,
        "suite ran {counted} tests:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.ok)
        .filter(|r| !tolerated.contains(&r.name.as_str()))
        .map(|r| r.name.as_str())
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}\n{stdout}");
    let eth71 = (!tolerated.contains(&ETH71_ONLY_TEST)).then_some(ETH71_ONLY_TEST);
    let cell_tests = ETH72_TESTS.into_iter().filter(|_| eth72);
    let required = ["Status", "GetReceipts", "GetLargeReceipts", "Transaction"];
    for name in required.into_iter().chain(eth71).chain(cell_tests) {
        assert!(
            results.iter().any(|r| r.ok && r.name == name),
            "{name} did not pass"
        );
    }
    if eth72 {
        // The cell tests really ran at eth/72: a session negotiated it and we asked the
        // suite for cells.
        node.log_line(&["peer connected", "eth/72"]).await;
        let metrics = node.metrics().await;
        let get_cells = crate::common::binary::counter(
            &metrics,
            "ethpeer_messages_out_total{type=\"GetCells\"} ",
        );
        assert!(get_cells >= 1, "no GetCells went out:\n{metrics}");
    }
}

/// At our highest version, eth/72 (the suite offers 69-72): the cell tests run for real;
/// GetBlockAccessLists dials at eth/71.
#[actix_rt::test]
async fn go_ethereums_eth_suite_passes_against_the_node_at_eth72() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    eth_suite_passes(&[], &[], true).await;
}

/// With eth/70 and eth/71 not offered, so the suite talks eth/69 (its eth/70-only receipt
/// paging test then returns early; its eth/71-only test cannot peer, see
/// [`ETH71_ONLY_TEST`]).
#[actix_rt::test]
async fn go_ethereums_eth_suite_passes_against_the_node_at_eth69() {
    // Heavy: runs alone among the heavy tests (common::heavy).
    let _heavy = crate::common::heavy().await;
    eth_suite_passes(&["--eth", "66,67,68,69"], &[ETH71_ONLY_TEST], false).await;
}

#[test]
fn tap_lines_are_read_with_their_verdict_and_name() {
    let out = "TAP version 13\n1..3\nok 1 Status\n# comment\nnot ok 11 GetBlockAccessLists\n";
    assert_eq!(
        tap_results(out),
        vec![
            TapResult {
                ok: true,
                name: "Status".into()
            },
            TapResult {
                ok: false,
                name: "GetBlockAccessLists".into()
            },
        ]
    );
}
