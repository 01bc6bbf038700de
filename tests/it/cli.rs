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
fn node_refuses_bad_flags_and_files_with_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8").to_string();
    let bad_key = dir.path().join("badkey");
    std::fs::write(&bad_key, "not hex").expect("write");
    // A port someone else holds.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = busy.local_addr().expect("addr").port().to_string();
    let ours: [Vec<&str>; 12] = [
        vec!["node", "--datadir", &datadir, "--nat", "upnp"],
        vec!["node", "--datadir", &datadir, "--bootnodes", "enr:garbage"],
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
        vec!["node", "--datadir", &datadir, "--peers", "enode://nope"],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--genesis",
            "/nonexistent/genesis.json",
        ],
        vec!["node", "--datadir", &datadir, "--eth", "65"],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--nodekey",
            bad_key.to_str().expect("utf-8"),
        ],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--import",
            "/nonexistent/chain.rlp",
        ],
        // Busy ports: every listener is bound before anything is written.
        vec![
            "node",
            "--datadir",
            &datadir,
            "--port",
            &busy,
            "--addr",
            "127.0.0.1",
        ],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--port",
            "0",
            "--http",
            "--http.port",
            &busy,
        ],
        vec![
            "node",
            "--datadir",
            &datadir,
            "--port",
            "0",
            "--ws",
            "--ws.port",
            &busy,
        ],
    ];
    for args in ours {
        let (ok, stdout, stderr) = ethpeer(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("ethpeer: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            !std::path::Path::new(&datadir).exists(),
            "{args:?} wrote the data directory"
        );
    }
    let busy_line = ethpeer(&[
        "node",
        "--datadir",
        &datadir,
        "--port",
        "0",
        "--ws",
        "--ws.port",
        &busy,
    ])
    .2;
    assert!(
        busy_line.contains("--ws.port")
            && busy_line.contains(&busy)
            && busy_line.contains("in use"),
        "{busy_line}"
    );
    // clap's errors keep their whole text: the valid values, the similar flag.
    let (ok, _, stderr) = ethpeer(&["node", "--network", "ropsten"]);
    assert!(!ok);
    assert!(stderr.starts_with("ethpeer: "), "{stderr}");
    assert!(stderr.contains("possible values"), "{stderr}");
    let (ok, _, stderr) = ethpeer(&["node", "--maxpeer", "3"]);
    assert!(!ok);
    assert!(stderr.contains("--maxpeers"), "{stderr}");
    let (ok, _, stderr) = ethpeer(&["node", "--port", "abc"]);
    assert!(!ok);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("ethpeer: "))
            .count(),
        1,
        "{stderr}"
    );
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
    // Its node record: same node, the address of --addr (default) for ip, tcp and udp.
    let record = ethpeer_actors::discovery::enr::parse_record(json["enr"].as_str().expect("enr"))
        .expect("valid");
    assert_eq!(
        alloy_primitives::hex::encode(ethpeer_actors::discovery::enr::node_id(&record)),
        g
    );
    assert_eq!(record.ip4(), Some(std::net::Ipv4Addr::LOCALHOST));
    assert_eq!((record.tcp4(), record.udp4()), (Some(30303), Some(30303)));
    let (ok, _, stderr) = ethpeer(&["key", "show", "/nonexistent/key"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// `--nat extip:IP` goes into the printed enode and the record; `admin_nodeInfo` shows the
/// record and the discovery port (`--discovery.port 0`: any free UDP port).
#[actix_rt::test]
async fn nat_extip_names_the_external_address_in_enode_and_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = crate::common::binary::Binary::start(
        dir.path(),
        &["--nat", "extip:203.0.113.9", "--discovery.port", "0"],
    )
    .await;
    assert!(node.enode.ends_with(&format!(
        "@203.0.113.9:{}",
        node.enode.rsplit(':').next().expect("port")
    )));
    let info = node.call("admin_nodeInfo", serde_json::json!([])).await["result"].clone();
    let record = ethpeer_actors::discovery::enr::parse_record(info["enr"].as_str().expect("enr"))
        .expect("valid");
    assert_eq!(record.ip4(), Some("203.0.113.9".parse().expect("ip")));
    let udp = info["ports"]["discovery"].as_u64().expect("port");
    assert!(udp > 0);
    assert_eq!(record.udp4().map(u64::from), Some(udp));
    // The record carries our fork id in its eth entry.
    assert!(ethpeer_actors::discovery::enr::eth_fork_id(&record).is_some_and(|f| f.is_ok()));
    // And it was saved in the data directory.
    let saved = std::fs::read_to_string(dir.path().join("enr")).expect("saved record");
    assert_eq!(saved.trim(), info["enr"].as_str().expect("enr"));
}

/// `--discovery.v4=false` leaves discv5 alone on the discovery port; `--nodiscover` turns
/// both off (no record, discovery port 0, no discovery metrics).
#[actix_rt::test]
async fn discovery_flags_choose_the_protocols() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = crate::common::binary::Binary::start(dir.path(), &["--discovery.v4=false"]).await;
    let metrics = node.metrics().await;
    assert!(metrics.contains("ethpeer_discv5_table_nodes "), "{metrics}");
    assert!(!metrics.contains("ethpeer_discv4_"), "{metrics}");
    let info = node.call("admin_nodeInfo", serde_json::json!([])).await["result"].clone();
    assert!(info["ports"]["discovery"].as_u64().expect("port") > 0);
    drop(node);

    let dir = tempfile::tempdir().expect("tempdir");
    let node = crate::common::binary::Binary::start(dir.path(), &["--nodiscover"]).await;
    let metrics = node.metrics().await;
    assert!(!metrics.contains("ethpeer_discv5_"), "{metrics}");
    assert!(!metrics.contains("ethpeer_discv4_"), "{metrics}");
    let info = node.call("admin_nodeInfo", serde_json::json!([])).await["result"].clone();
    assert_eq!(info["ports"]["discovery"].as_u64(), Some(0));
}

#[test]
fn key_generate_writes_a_key_that_key_show_reads_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nodekey");
    let path = file.to_str().expect("utf-8");
    let (ok, stdout, stderr) = ethpeer(&["key", "generate", path]);
    assert!(ok, "{stderr}");
    let made: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let (ok, stdout, _) = ethpeer(&["key", "show", path]);
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(made["id"], shown["id"]);
    assert_eq!(made["enode"], shown["enode"]);
    let text = std::fs::read_to_string(&file).expect("key file");
    assert_eq!(text.len(), 64);
    // An existing file is never overwritten.
    let (ok, _, stderr) = ethpeer(&["key", "generate", path]);
    assert!(!ok, "overwrote the key");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("key file"), text);
    // Without a file: the key is printed.
    let (ok, stdout, _) = ethpeer(&["key", "generate"]);
    assert!(ok);
    let printed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(printed["key"].as_str().expect("key").len(), 64);
}

#[test]
fn version_names_the_commit_and_build_date() {
    let (ok, stdout, _) = ethpeer(&["--version"]);
    assert!(ok);
    let line = stdout.trim();
    assert!(line.starts_with("ethpeer 0."), "{line}");
    let commit = line
        .split("commit ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("a commit");
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{line}"
    );
    let date = line
        .split("built ")
        .nth(1)
        .expect("a date")
        .trim_end_matches(')');
    assert_eq!(date.len(), 10, "{line}");
    assert_eq!(&date[4..5], "-", "{line}");
}
