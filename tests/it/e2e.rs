//! The real `ethpeer` binary, as users run it, over loopback: three dev nodes A–B–C (A and
//! C only know B), a tx sent to A's JSON-RPC reaches C's pool and C's propagation trace,
//! `admin_peers` and `/metrics` on B tell the truth, and Ctrl-C on B makes A and C log
//! "client quitting". Then the independent ethereumjs peer connects to a default node at
//! eth/68 and receives a tx injected through RPC.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::binary::{counter, Binary};
use crate::common::poll::eventually;

use crate::node_dev::dev_transfer;

#[actix_rt::test]
async fn three_binaries_relay_an_rpc_transaction_and_shut_down_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let trace = path("c-trace.jsonl");
    let mut b = Binary::start(&path("b"), &[]).await;
    let mut a = Binary::start(&path("a"), &["--peers", &b.enode, "--eth", "68"]).await;
    let trace_arg = trace.to_str().expect("utf-8 path").to_string();
    let mut c = Binary::start(
        &path("c"),
        &["--peers", &b.enode, "--trace.propagation", &trace_arg],
    )
    .await;
    // Both dial B; B logs each connection.
    b.log_line(&["peer connected", "inbound", "eth/68"]).await;
    b.log_line(&["peer connected", "inbound", "eth/72"]).await;
    a.log_line(&["peer connected", "outbound"]).await;
    c.log_line(&["peer connected", "outbound"]).await;

    let peers = b.call("admin_peers", json!([])).await["result"].clone();
    let mut versions: Vec<u64> = peers
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| p["protocols"]["eth"]["version"].as_u64().expect("version"))
        .collect();
    versions.sort();
    assert_eq!(versions, [68, 72], "{peers}");
    // Inbound peers' enodes carry their source port, not their listening port (as geth's).
    let id_of = |enode: &str| {
        enode
            .trim_start_matches("enode://")
            .split('@')
            .next()
            .map(String::from)
    };
    let ids: Vec<_> = peers
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| id_of(p["enode"].as_str().expect("enode")))
        .collect();
    assert!(
        ids.contains(&id_of(&a.enode)) && ids.contains(&id_of(&c.enode)),
        "{peers}"
    );
    assert_eq!(a.call("net_peerCount", json!([])).await["result"], "0x1");
    // Not JSON: refused before parsing (a browser could send text/plain cross-origin).
    let rpc_addr = a.rpc.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(rpc_addr)
        .await
        .expect("connect");
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"admin_peers"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {rpc_addr}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
    // A name other than localhost in Host (DNS rebinding): refused, as geth's vhosts.
    let mut stream = tokio::net::TcpStream::connect(rpc_addr)
        .await
        .expect("connect");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: rebind.example\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // The same with forwarding headers naming localhost: only Host counts.
    let mut stream = tokio::net::TcpStream::connect(rpc_addr)
        .await
        .expect("connect");
    let request = format!(
        "POST / HTTP/1.1\r\nHost: rebind.example\r\nX-Forwarded-Host: localhost\r\n\
         Forwarded: host=localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    let (hash, raw) = dev_transfer(2, 0);
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        * 1000.0;
    let sent = a.call("eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash.to_string()), "{sent}");
    eventually("the tx in C's pool", || async {
        c.call("eth_getTransactionByHash", json!([hash.to_string()]))
            .await["result"]["hash"]
            == json!(hash.to_string())
    })
    .await;
    // C's trace names B (C's only peer) as the first to deliver it.
    let b_id = b
        .enode
        .trim_start_matches("enode://")
        .split('@')
        .next()
        .expect("id")
        .to_string();
    let text = std::fs::read_to_string(&trace).expect("trace file");
    let line: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .find(|l| l["hash"] == json!(hash.to_string()))
        .expect("the tx in C's trace");
    assert_eq!(line["peer"], json!(format!("0x{b_id}")));
    let hops = line["time_ms"].as_f64().expect("time") - sent_at;
    eprintln!("A's RPC -> C's decoder through B: {hops:.2} ms");
    assert_eq!(line["kind"], "tx");
    assert!(line["delivery"] == "full" || line["delivery"] == "announced");

    // B received the tx from A and passed it on to C: /metrics counts both directions.
    let metrics = b.metrics().await;
    let received = counter(&metrics, "ethpeer_messages_in_total{type=\"Transactions\"}");
    let sent_on = counter(
        &metrics,
        "ethpeer_messages_out_total{type=\"Transactions\"}",
    ) + counter(
        &metrics,
        "ethpeer_messages_out_total{type=\"NewPooledTransactionHashes\"}",
    );
    assert!(received >= 1 && sent_on >= 1, "{metrics}");
    assert!(
        metrics.contains("ethpeer_peers{direction=\"inbound\",version=\"68\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ethpeer_txpool_transactions 1"),
        "{metrics}"
    );

    // Ctrl-C on B: A and C are told why.
    b.interrupt();
    a.log_line(&["peer disconnected", "client_quitting"]).await;
    c.log_line(&["peer disconnected", "client_quitting"]).await;
    b.log_line(&["chain store closed"]).await;
    let status = tokio::time::timeout(Duration::from_secs(10), b.child.wait())
        .await
        .expect("B exits in time")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[actix_rt::test]
async fn the_ethereumjs_peer_gets_an_rpc_transaction_from_a_default_node() {
    use ethpeer_actors::chain::MemoryChainStore;
    use ethpeer_actors::eth::genesis;
    use ethpeer_actors::session::ChainStatus;

    let Some(interop) = crate::interop::interop_dir() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // The default node: dev network, every eth version offered; only ports and data
    // directory differ, so tests do not collide with a node on 30303.
    let node = Binary::start(dir.path(), &[]).await;
    let spec = genesis::dev_genesis();
    let header = genesis::genesis_header(&spec).expect("dev genesis");
    let forks = genesis::fork_schedule(&spec, header.hash_slow());
    let store = MemoryChainStore::new(header);
    let status = ChainStatus::from_store(1337, forks, &store);
    let mut js = crate::interop::NodePeer::start(&interop, Some(node.enode.clone()), &status).await;
    let peer = js.event("peer").await;
    assert_eq!(peer["eth"], 68, "{peer}");
    js.event("ready").await;
    // ethereumjs is ready as soon as its side of Status is done; our peer set registers
    // the session a moment later (the peer starts on its own arbiter). A tx pooled before
    // that reaches the new peer as an announcement (the pending-hash sync), not in full;
    // so does one pooled before the broadcaster has handled the registration (below).
    eventually("the node lists the ethereumjs peer", || async {
        let peers = node.call("admin_peers", json!([])).await;
        peers["result"].as_array().is_some_and(|p| !p.is_empty())
    })
    .await;

    let (hash, raw) = dev_transfer(3, 0);
    let sent = node.call("eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(sent["result"], json!(hash.to_string()), "{sent}");
    let mut message = js.event("message").await;
    let (hash, raw) = if message["code"] == 8 {
        // Announced: the tx was pooled before the broadcaster handled the peer's
        // registration, whose pending-pool sync announces what the pool holds (geth's
        // syncTransactions does the same). Registration is behind us now: the next tx
        // goes whole.
        let payload = message["payload"].as_str().expect("payload");
        assert!(
            payload.contains(&alloy_primitives::hex::encode(hash)),
            "announces the tx: {message}"
        );
        let (hash, raw) = dev_transfer(3, 1);
        let sent = node.call("eth_sendRawTransaction", json!([raw])).await;
        assert_eq!(sent["result"], json!(hash.to_string()), "{sent}");
        message = js.event("message").await;
        (hash, raw)
    } else {
        (hash, raw)
    };
    assert_eq!(message["code"], 2, "Transactions: {message}");
    let bytes =
        alloy_primitives::hex::decode(message["payload"].as_str().expect("payload")).expect("hex");
    // What ethereumjs received, read as bare RLP rather than by our eth decoder: a list
    // holding one string whose bytes are exactly the signed tx we gave the node's RPC.
    let raw_bytes = alloy_primitives::hex::decode(&raw).expect("hex");
    let mut rest = bytes.as_slice();
    let list = alloy_rlp::Header::decode(&mut rest).expect("an RLP header");
    assert!(
        list.list && list.payload_length == rest.len(),
        "one list: {message}"
    );
    let item = alloy_rlp::Header::decode(&mut rest).expect("an RLP header");
    assert!(
        !item.list && item.payload_length == rest.len(),
        "one string: {message}"
    );
    assert_eq!(rest, raw_bytes.as_slice(), "the tx's bytes, unchanged");
    // And the hash the node answered is the EIP-2718 one: keccak256 of those bytes, which
    // ethereumjs's own tx codec also finds.
    assert_eq!(alloy_primitives::keccak256(&raw_bytes), hash);
    assert_eq!(
        message["decoded"]["txHashes"],
        json!([alloy_primitives::hex::encode(hash)]),
        "{message}"
    );
}
