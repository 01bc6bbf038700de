//! go-ethereum's discovery v5 test suite (`devp2p discv5 test`, v1.17.10, the version
//! `.ci/go-tools` builds) against the `ethpeer` binary's UDP endpoint, where discv5 shares
//! the port with discv4 (the binary's default). The suite has ten tests: Ping,
//! PingLargeRequestID, PingMultiIP, HandshakeResend, TalkRequest, FindnodeWrongIP,
//! FindnodeHandshake, FindnodeZeroDistance, FindnodeResults and UnsolicitedNodes. The
//! second tester listens on 127.0.0.2.
//!
//! One failure is tolerated, by name, because it is sigp's `discv5` crate's behaviour and
//! not ours to change:
//! - **HandshakeResend**: the suite sends a PING, gets WHOAREYOU, then sends a second
//!   ordinary PING without answering the challenge and expects the same WHOAREYOU again
//!   (geth re-sends its pending challenge). The crate keeps one pending challenge per node
//!   address and drops further packets from it until the challenge times out
//!   (`handler/mod.rs`: "WHOAREYOU already sent"), so the suite times out waiting. The
//!   handshake itself works (every other test completes one); a peer whose first
//!   handshake packet is lost retries after the crate's 1 s request timeout.

use std::time::Duration;

use crate::common::binary::Binary;
use crate::geth::go_bin_or_skip;

/// Failures explained in the module doc.
const TOLERATED: [&str; 1] = [" HandshakeResend"];

#[actix_rt::test]
async fn go_ethereums_discv5_suite_passes_against_the_node() {
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &[]).await;
    let suite = tokio::process::Command::new(go.join("devp2p"))
        .args(["discv5", "test", "--tap"])
        .args(["--listen1", "127.0.0.1", "--listen2", "127.0.0.2"])
        .arg(&node.enode)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), suite)
        .await
        .expect("the suite finishes within 3 minutes")
        .expect("devp2p runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("not ok"))
        .filter(|l| !TOLERATED.iter().any(|name| l.ends_with(name)))
        .collect();
    eprintln!("discv5 suite: {passed} passed, failures beyond {TOLERATED:?}: {failed:?}");
    assert!(
        failed.is_empty() && passed >= 10 - TOLERATED.len(),
        "{passed} passed, failed: {failed:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metrics = node.metrics().await;
    // FindnodeResults' five bystanders were taken into the table.
    let table = crate::common::binary::counter(&metrics, "ethpeer_discv5_table_nodes ");
    assert!(table >= 5, "{metrics}");
}
