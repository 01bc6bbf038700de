//! The live page (`--http.dashboard`, issue 26, item 5) in headless Chromium: two release-
//! shaped nodes (this build's binary), A peered with B; Chromium (driven by puppeteer-core,
//! `tests/interop/dashboard.mjs`) loads B's `/dashboard`, the test sends a tx to A, and the
//! page shows it among B's latest arrivals, accepted, first from A's client, with B's peer
//! in the clients panel. The screenshot is saved under the target directory's `tmp/`.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common::binary::{http, Binary};
use crate::common::poll::eventually;

/// Chromium and puppeteer-core, or `None` when CI does not require them (`.ci/run`
/// installs both).
fn browser() -> Option<std::path::PathBuf> {
    let interop = crate::interop::interop_dir()?;
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = std::path::Path::new(&chromium).is_file()
        && interop.join("node_modules/puppeteer-core").is_dir();
    if !ready {
        assert_ne!(
            std::env::var("ETHPEER_REQUIRE_INTEROP").as_deref(),
            Ok("1"),
            "Chromium ({chromium}) or puppeteer-core missing (.ci/run installs them)"
        );
        return None;
    }
    Some(interop)
}

#[actix_rt::test]
async fn the_page_shows_a_tx_a_peer_sent_in_headless_chromium() {
    let Some(interop) = browser() else {
        return;
    };
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let b = Binary::start(
        b_dir.path(),
        &["--nodiscover", "--ws", "--ws.port", "0", "--http.dashboard"],
    )
    .await;
    let a = Binary::start(a_dir.path(), &["--nodiscover", "--http.api", "eth,admin"]).await;
    // Without --http.dashboard there is no page.
    let (status, _) = http(&a.rpc, "GET", "/dashboard", "").await;
    assert_eq!(status, 404);
    let added = a.call("admin_addPeer", json!([b.enode])).await;
    assert_eq!(added["result"], json!(true), "{added}");
    eventually("B has A as a peer", || async {
        b.call("net_peerCount", json!([])).await["result"] == json!("0x1")
    })
    .await;

    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut script = tokio::process::Command::new("node")
        .arg(interop.join("dashboard.mjs"))
        .arg(format!("{}/dashboard", b.rpc.trim_end_matches('/')))
        .arg(&screenshot)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdout = BufReader::new(script.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(40), stdout.next_line())
        .await
        .expect("the page is live within 40 s")
        .expect("readable");
    if first.as_deref() != Some("ready") {
        let mut errors = String::new();
        if let Some(mut stderr) = script.stderr.take() {
            let _ = stderr.read_to_string(&mut errors).await;
        }
        panic!("the page never went live: {first:?}\n{errors}");
    }
    let (hash, raw) = crate::node_dev::dev_transfer(0, 0);
    let sent = a.call("eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash), "{sent}");
    let mut stdin = script.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{hash}\n").as_bytes())
        .await
        .expect("script reads");
    let last = tokio::time::timeout(Duration::from_secs(40), stdout.next_line())
        .await
        .expect("the script ends within 40 s")
        .expect("readable")
        .unwrap_or_default();
    let page: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    assert_eq!(page["ok"], json!(true), "{page:#}");
    assert_eq!(page["status"], "live");
    assert_eq!(page["peers"], 1, "{page:#}");
    assert_eq!(page["clients"], json!(["ethpeer"]), "{page:#}");
    assert_eq!(page["errors"], json!([]), "no script errors: {page:#}");
    let row = page["recent"][0].clone();
    assert_eq!(row[0], json!(hash), "{page:#}");
    assert_eq!(row[1], "broadcast");
    assert_eq!(row[4], "accepted");
    assert!(page["first"][0]
        .as_str()
        .is_some_and(|p| p.starts_with("ethpeer")));
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 10_000, "a screenshot of the page ({size} bytes)");
    eprintln!("dashboard screenshot: {}", screenshot.display());
}
