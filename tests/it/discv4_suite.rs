//! go-ethereum's discovery v4 test suite (`devp2p discv4 test`, the pinned version that
//! `.ci/go-tools` builds) against the `ethpeer` binary's UDP endpoint: all 15 tests must
//! pass (ping variants, expiration, endpoint proof, ENRRequest, FindNode, amplification
//! from a wrong IP). The suite's second tester listens on 127.0.0.2. The binary runs
//! discv5 on the same port (its default), so this also checks the shared socket.

use std::time::Duration;

use crate::common::binary::Binary;
use crate::geth::go_bin_or_skip;

#[actix_rt::test]
async fn go_ethereums_discv4_suite_passes_against_the_node() {
    let go = go_bin_or_skip!();
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &[]).await;
    let suite = tokio::process::Command::new(go.join("devp2p"))
        .args(["discv4", "test", "--tap", "--remote", &node.enode])
        .args(["--listen1", "127.0.0.1", "--listen2", "127.0.0.2"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), suite)
        .await
        .expect("the suite finishes within 2 minutes")
        .expect("devp2p runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok")).collect();
    assert!(
        failed.is_empty() && passed >= 15,
        "{passed} passed, failed: {failed:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The binary runs discv5 too (its default): the suite's packets reached discv4 through
    // discv5's hand-over on the shared port.
    let metrics = node.metrics().await;
    let shared = crate::common::binary::counter(&metrics, "ethpeer_discv5_shared_to_v4_total ");
    assert!(shared > 0, "{metrics}");
}
