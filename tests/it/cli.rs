//! The `ethpeer` binary's inspection commands, run as a user would.

use std::process::Command;

use crate::common::testdata_or_skip;

fn ethpeer(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn chain_info_prints_one_json_object_for_the_ethtest_chain() {
    let dir = testdata_or_skip!();
    let genesis = dir.join("ethtest/genesis.json");
    let chain = dir.join("ethtest/chain.rlp");
    let (ok, stdout, stderr) = ethpeer(&[
        "chain",
        "info",
        "--genesis",
        genesis.to_str().expect("utf8"),
        "--chain",
        chain.to_str().expect("utf8"),
    ]);
    assert!(ok, "{stderr}");
    let info: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(
        info["genesis_hash"],
        "0xbd6a252af394d80904c5993b859574bd4669642cea00a116970ec7887db67533"
    );
    assert_eq!(info["head_number"], 600);
    assert_eq!(
        info["head_hash"],
        "0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
    );
    assert_eq!(info["total_difficulty"], "0x20000");
    assert_eq!(
        info["fork_id"],
        serde_json::json!({"hash": "0x377aaa78", "next": 0})
    );
}

#[test]
fn chain_info_rejects_bad_files_with_one_line() {
    let dir = testdata_or_skip!();
    let genesis = dir.join("ethtest/genesis.json");
    let not_a_chain = dir.join("ethtest/accounts.json");
    for args in [
        vec!["chain", "info", "--genesis", "/nonexistent/genesis.json"],
        vec![
            "chain",
            "info",
            "--genesis",
            not_a_chain.to_str().expect("utf8"),
        ],
        vec![
            "chain",
            "info",
            "--genesis",
            genesis.to_str().expect("utf8"),
            "--chain",
            not_a_chain.to_str().expect("utf8"),
        ],
    ] {
        let (ok, _, stderr) = ethpeer(&args);
        assert!(!ok, "{args:?} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn rlp_decode_prints_structure_and_rejects_bad_input() {
    let (ok, stdout, _) = ethpeer(&["rlp", "decode", "0xc7c0c1c0c3c0c1c0"]);
    assert!(ok);
    assert_eq!(stdout.trim(), "[[],[[]],[[],[[]]]]");
    let (ok, stdout, _) = ethpeer(&["rlp", "decode", "c88363617483646f67"]);
    assert!(ok);
    assert_eq!(stdout.trim(), r#"["0x636174","0x646f67"]"#);
    for bad in ["zz", "c7c0", "8100", "f800", "c0c0", ""] {
        let (ok, _, stderr) = ethpeer(&["rlp", "decode", bad]);
        assert!(!ok, "{bad:?} accepted");
        assert_eq!(stderr.trim().lines().count(), 1, "{bad:?}: {stderr}");
    }
}
