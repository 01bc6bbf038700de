//! The binary as an operator coming from geth or reth uses it: where settings come from
//! (flags, `ETHPEER_<FLAG>`, `--config`, `dumpconfig`), `--chain NAME|PATH`, logging flags,
//! the status line and the warnings about static peers that keep failing.

use std::process::Command;

use crate::common::binary::Binary;

/// Runs the binary with `args` and `env`; answers (success, stdout, stderr).
fn ethpeer(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ethpeer"));
    command.args(args);
    // The test's own environment must not leak settings in.
    for (key, _) in std::env::vars() {
        if key.starts_with("ETHPEER_") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The value line of `key` in a dump (`key = value`), if set (not a commented default).
fn setting<'a>(dump: &'a str, key: &str) -> Option<&'a str> {
    dump.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
}

#[test]
fn settings_come_from_flags_then_environment_then_file_then_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ethpeer.toml");
    std::fs::write(
        &file,
        "port = 1111\nmaxpeers = 2\nidentity = \"from-file\"\n[http]\naddr = \"0.0.0.0\"\n",
    )
    .expect("write");
    let config = file.to_str().expect("utf-8");
    let (ok, dump, stderr) = ethpeer(
        &["dumpconfig", "--config", config, "--identity", "from-flag"],
        &[("ETHPEER_MAXPEERS", "3"), ("ETHPEER_IDENTITY", "from-env")],
    );
    assert!(ok, "{stderr}");
    assert_eq!(setting(&dump, "identity"), Some("\"from-flag\""), "{dump}");
    assert_eq!(setting(&dump, "maxpeers"), Some("3"), "{dump}");
    assert_eq!(setting(&dump, "port"), Some("1111"), "{dump}");
    assert_eq!(
        setting(&dump, "\"http.addr\""),
        Some("\"0.0.0.0\""),
        "{dump}"
    );
    // Defaults stay commented out, with their values.
    assert!(dump.contains("\n# \"ws.port\" = 8546\n"), "{dump}");
    assert_eq!(setting(&dump, "\"ws.port\""), None);

    // A dump loads back to itself.
    let dumped = dir.path().join("dumped.toml");
    std::fs::write(&dumped, &dump).expect("write");
    let (ok, again, stderr) = ethpeer(
        &["dumpconfig", "--config", dumped.to_str().expect("utf-8")],
        &[],
    );
    assert!(ok, "{stderr}");
    assert_eq!(again, dump);
}

#[test]
fn bad_configuration_files_are_refused_naming_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "unknown.toml",
            "[http]\nbogus = 1\n",
            "unknown key \"http.bogus\"",
        ),
        ("type.toml", "port = \"x\"\n", "--config file"),
        ("range.toml", "verbosity = 9\n", "9 is not in 0..=5"),
        ("list.toml", "port = [1, 2]\n", "takes one value"),
        ("syntax.toml", "port = \n", "--config"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let (ok, _, stderr) = ethpeer(
            &["dumpconfig", "--config", path.to_str().expect("utf-8")],
            &[],
        );
        assert!(!ok, "{name} accepted");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (ok, _, stderr) = ethpeer(&["--config", "/nonexistent/ethpeer.toml"], &[]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/ethpeer.toml"), "{stderr}");
}

#[test]
fn chain_takes_a_network_name_or_a_genesis_and_sends_rlp_files_to_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An RLP list header: what a geth export file starts with.
    let rlp = dir.path().join("chain.rlp");
    std::fs::write(&rlp, [0xf9, 0x02, 0x00, 0xf9]).expect("write");
    let datadir = dir.path().join("data");
    let (ok, _, stderr) = ethpeer(
        &[
            "--datadir",
            datadir.to_str().expect("utf-8"),
            "--chain",
            rlp.to_str().expect("utf-8"),
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("--import"), "{stderr}");
    assert!(
        !datadir.exists(),
        "nothing is written before the flags are checked"
    );
    let (ok, _, stderr) = ethpeer(&["--chain", "sepolia", "--mainnet"], &[]);
    assert!(!ok);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let (ok, _, stderr) = ethpeer(&["--chain", "no-such-network"], &[]);
    assert!(!ok);
    assert!(stderr.contains("not a network name"), "{stderr}");
}

#[test]
fn help_is_grouped_and_node_flags_need_no_command() {
    let (ok, help, _) = ethpeer(&["--help"], &[]);
    assert!(ok);
    for heading in [
        "Chain:",
        "Networking:",
        "Peers:",
        "Discovery:",
        "Transaction pool:",
        "JSON-RPC:",
        "Logging:",
        "Config:",
    ] {
        assert!(help.contains(heading), "no {heading} in:\n{help}");
    }
    let (ok, dump, stderr) = ethpeer(
        &["dumpconfig", "--sepolia", "--txpool.pricelimit", "7"],
        &[],
    );
    assert!(ok, "{stderr}");
    assert_eq!(setting(&dump, "sepolia"), Some("true"));
    assert_eq!(setting(&dump, "\"txpool.pricelimit\""), Some("7"));
    // Old spellings still work.
    let (ok, dump, stderr) = ethpeer(&["dumpconfig", "--tx-arrival-wait", "9"], &[]);
    assert!(ok, "{stderr}");
    assert_eq!(setting(&dump, "\"txpool.arrivalwait\""), Some("9"));
}

/// Two static peers that cannot be peers (one on another network, one on a closed port,
/// named by host name) are each reported at warn level within seconds; the status line
/// follows; every line is JSON with `--log.format json`.
#[actix_rt::test]
async fn failing_static_peers_are_reported_and_the_status_line_follows() {
    let dirs = [
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    ];
    let other_network =
        Binary::start(dirs[0].path(), &["--nodiscover", "--networkid", "4242"]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    // A key of its own (a static peer is known by its id): go-ethereum's test vector id.
    let closed_enode = format!(
        "enode://a979fb575495b8d6db44f750317d0f4622bf4c2aa3365d6af7c284339968eef29b69ad0dce72a4d8db5ebb4968de0e3bec910127f134779fbcb0cb6d3331163c@localhost:{closed_port}"
    );
    let peers = format!("{},{closed_enode}", other_network.enode);
    let mut node = Binary::start(
        dirs[1].path(),
        &[
            "--nodiscover",
            "--peers",
            &peers,
            "--log.format",
            "json",
            "--identity",
            "ops",
        ],
    )
    .await;
    let port = other_network
        .enode
        .rsplit(':')
        .next()
        .and_then(|p| p.split('?').next())
        .expect("port")
        .to_string();
    let wrong_network = node
        .log_line(&["static peer", &format!("127.0.0.1:{port}"), "unreachable"])
        .await;
    let closed = node
        .log_line(&[
            "static peer",
            &format!("127.0.0.1:{closed_port}"),
            "unreachable",
        ])
        .await;
    let status = node.log_line(&["status: ", "peers=0"]).await;
    for line in [&wrong_network, &closed, &status] {
        let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(
            json["t"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
    }
    for line in [&wrong_network, &closed] {
        let json: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(json["lvl"], "warn", "{line}");
    }
    assert!(
        wrong_network.contains("network"),
        "the reason is named: {wrong_network}"
    );
    // Our --identity is what the other node saw.
    let info = node.call("admin_nodeInfo", serde_json::json!([])).await;
    assert!(
        info["result"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("ethpeer/ops/v")),
        "{info}"
    );
}

/// A public network listening on loopback only says it cannot be reached.
#[actix_rt::test]
async fn a_public_network_on_loopback_warns_that_it_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = Binary::start(dir.path(), &["--sepolia", "--nodiscover"]).await;
    node.log_line(&["listening on 127.0.0.1 only", "sepolia"])
        .await;
}

/// `geth attach` (go-ethereum v1.17.10) over the IPC socket in the data directory: its
/// console finds the `admin`, `eth`, `net`, `txpool` and `web3` objects (from
/// `rpc_modules`) and reads the node through them; the socket is owner-only.
#[actix_rt::test]
async fn geth_attach_works_over_ipc() {
    let Some(bin) = crate::geth::go_bin() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Binary::start(dir.path(), &["--nodiscover"]).await;
    let socket = dir.path().join("ethpeer.ipc");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let script = "JSON.stringify([admin.nodeInfo.enode, eth.chainId(), net.listening, \
                  txpool.status.pending, web3.version.node, typeof admin, typeof txpool])";
    let out = tokio::process::Command::new(bin.join("geth"))
        .args(["attach", "--exec", script])
        .arg(&socket)
        .output()
        .await
        .expect("geth runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "geth attach failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The console prints the JSON string quoted.
    let text: String = serde_json::from_str(stdout.trim()).expect("a JSON string");
    let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let id = |enode: &str| enode.split('@').next().unwrap_or_default().to_string();
    assert_eq!(id(answer[0].as_str().expect("enode")), id(&node.enode));
    assert_eq!(answer[1], "0x539");
    assert_eq!(answer[2], true);
    assert_eq!(answer[3], 0);
    assert!(answer[4]
        .as_str()
        .is_some_and(|v| v.starts_with("ethpeer/")));
    assert_eq!(answer[5], "object", "geth's console made an admin object");
    assert_eq!(answer[6], "object", "geth's console made a txpool object");
}

/// Every metric the Grafana dashboard (`deploy/grafana/ethpeer.json`) queries is one the
/// node exports: a family in a real scrape (histograms by their `_bucket`, `_sum`,
/// `_count` series).
#[actix_rt::test]
async fn the_grafana_dashboard_queries_only_metrics_the_node_exports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree =
        "enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@all.mainnet.ethdisco.net";
    let node = Binary::start(
        dir.path(),
        &["--ws", "--ws.port", "0", "--discovery.dns", tree],
    )
    .await;
    let scrape = node.metrics().await;
    let families: Vec<&str> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let exported = |name: &str| {
        families.iter().any(|f| {
            name == *f
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name == format!("{f}{s}"))
        })
    };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/ethpeer.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("dashboard")).expect("JSON");
    assert_eq!(
        metric_names("sum by (x) (rate(ethpeer_a_total{k=\"v\"}[5m])) / process_b"),
        ["ethpeer_a_total", "process_b"]
    );
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "only {} queries", exprs.len());
    let mut missing = Vec::new();
    for expr in &exprs {
        for name in metric_names(expr) {
            if !exported(&name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the node does not export: {missing:?}"
    );
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The metric names in a PromQL expression: identifiers starting `ethpeer_` or `process_`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if word(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let end = (i..bytes.len())
                .find(|&j| !word(bytes[j]))
                .unwrap_or(bytes.len());
            let token = &expr[i..end];
            if token.starts_with("ethpeer_") || token.starts_with("process_") {
                names.push(token.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

/// `--nat stun:HOST:PORT` asks a STUN server (here one the test runs, answering as RFC 5389
/// says a server behind a NAT would: the request's source mapped to 198.51.100.23) and
/// puts that IP into the enode and the node record.
#[actix_rt::test]
async fn nat_stun_puts_the_address_the_server_sees_into_the_enode() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    let responder = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let (n, from) = server.recv_from(&mut buf).expect("a request");
        assert!(n >= 20 && buf[..2] == [0x00, 0x01], "a Binding request");
        assert_eq!(buf[4..8], [0x21, 0x12, 0xa4, 0x42], "the magic cookie");
        // A Binding success with one XOR-MAPPED-ADDRESS: 198.51.100.23, the request's port.
        let mut answer = vec![0x01, 0x01, 0x00, 0x0c];
        answer.extend_from_slice(&buf[4..20]);
        answer.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
        let xport = from.port() ^ 0x2112;
        answer.extend_from_slice(&xport.to_be_bytes());
        for (octet, cookie) in [198u8, 51, 100, 23].iter().zip([0x21u8, 0x12, 0xa4, 0x42]) {
            answer.push(octet ^ cookie);
        }
        server.send_to(&answer, from).expect("answer");
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let nat = format!("stun:127.0.0.1:{port}");
    let mut node = Binary::start(dir.path(), &["--nat", &nat]).await;
    responder
        .join()
        .expect("the responder saw a well-formed request");
    assert!(node.enode.contains("@198.51.100.23:"), "{}", node.enode);
    node.log_line(&["STUN server sees us at 198.51.100.23"])
        .await;
    let info = node.call("admin_nodeInfo", serde_json::json!([])).await["result"].clone();
    let record = ethpeer_actors::discovery::enr::parse_record(info["enr"].as_str().expect("enr"))
        .expect("valid");
    assert_eq!(record.ip4(), Some("198.51.100.23".parse().expect("ip")));
    // A server that never answers is a start-up error naming the flag.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let nat = format!("stun:{}", silent.local_addr().expect("addr"));
    let datadir = dir.path().join("second");
    let (ok, _, stderr) = ethpeer(
        &[
            "--datadir",
            datadir.to_str().expect("utf-8"),
            "--port",
            "0",
            "--nat",
            &nat,
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("--nat stun:") && stderr.contains("no answer"),
        "{stderr}"
    );
}
