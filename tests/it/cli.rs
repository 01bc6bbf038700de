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

#[test]
fn node_refuses_bad_flags_and_files_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().to_str().expect("utf-8").to_string();
    let bad_key = dir.path().join("badkey");
    std::fs::write(&bad_key, "not hex").expect("write");
    let cases: [Vec<&str>; 8] = [
        // A namespace the node does not implement, as geth refuses unknown modules.
        vec![
            "node",
            "--datadir",
            &datadir,
            "--http",
            "--http.api",
            "eth,debug",
        ],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--ws",
            "--ws.api",
            "personal",
        ],
        vec!["node", "--port", "abc"],
        vec!["node", "--datadir", &datadir, "--peers", "enode://nope"],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--genesis",
            "/nonexistent/genesis.json",
        ],
        vec!["node", "--datadir", &datadir, "--eth", "65"],
        vec!["node", "--datadir", &datadir, "--network", "ropsten"],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--nodekey",
            bad_key.to_str().expect("utf-8"),
        ],
    ];
    for args in cases {
        let (ok, stdout, stderr) = ethpeer(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("ethpeer: "))
            .collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn key_show_prints_the_node_id_and_enode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nodekey");
    // secp256k1's generator: key 1 has the well-known public key G.
    std::fs::write(&file, format!("{:064x}", 1)).expect("write");
    let (ok, stdout, stderr) = ethpeer(&["key", "show", file.to_str().expect("utf-8")]);
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    let g = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
             483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
    assert_eq!(json["id"], format!("0x{g}"));
    assert_eq!(json["enode"], format!("enode://{g}@127.0.0.1:30303"));
    let (ok, _, stderr) = ethpeer(&["key", "show", "/nonexistent/key"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
