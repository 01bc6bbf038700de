//! Two or three dev-network nodes in one process (no test data needed): static dialing,
//! events for embedders, the propagation trace, JSON-RPC calls and errors, metrics text,
//! duplicate refusal and a clean shutdown that peers see as "client quitting".

use std::time::Duration;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, B256, U256};
use ethpeer_actors::api::{metrics, rpc};
use ethpeer_actors::eth::genesis;
use ethpeer_actors::node::{DialError, Node, NodeBuilder, NodeEvent};
use ethpeer_actors::p2p::DisconnectReason;
use ethpeer_actors::peer::{Delivery, StopReason};
use ethpeer_actors::peer_set::Len;
use ethpeer_actors::txs::pool::TxPool;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::common::events::{subscribe, wait_for};

/// The reason of the next PeerDisconnected event.
async fn next_disconnect(events: &mut mpsc::UnboundedReceiver<NodeEvent>) -> Option<StopReason> {
    wait_for(events, |e| match e {
        NodeEvent::PeerDisconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    })
    .await
}

async fn dev_node(trace: Option<std::path::PathBuf>) -> Node {
    let mut builder = NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .arrival_wait(Duration::ZERO);
    if let Some(path) = trace {
        builder = builder.trace_propagation(path);
    }
    builder.start().await.expect("starts")
}

/// A transfer from dev account `index` to 0x4242…, as its hash and raw RLP hex.
pub(crate) fn dev_transfer(index: usize, nonce: u64) -> (B256, String) {
    let tx = genesis::dev_transfer(index, nonce, Address::repeat_byte(0x42), U256::from(1))
        .expect("a dev account");
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()))
}

async fn call(node: &Node, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    rpc::handle_body(node, body.to_string().as_bytes())
        .await
        .expect("an answer")
}

#[actix_rt::test]
async fn a_static_peer_gets_an_rpc_transaction_with_events_trace_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let a = dev_node(None).await;
    let b = dev_node(Some(trace.clone())).await;
    let mut b_events = subscribe(&b);
    assert!(b.add_peer(a.enode()).await, "a new static peer");
    assert!(!b.add_peer(a.enode()).await, "already known");
    let (id, version) = wait_for(&mut b_events, |e| match e {
        NodeEvent::PeerConnected { id, version, .. } => Some((*id, *version)),
        _ => None,
    })
    .await;
    assert_eq!(id, a.node_id());
    // B has registered A; A registers B on its own arbiter, maybe a moment later. A tx
    // pooled at A before that reaches B by the announcement every new peer gets, not in
    // full: wait for A's side too.
    while a.internals().peer_set.send(Len).await.expect("alive") != 1 {
        tokio::task::yield_now().await;
    }

    let (hash, raw) = dev_transfer(0, 0);
    let answer = call(&a, "eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(answer["result"], json!(hash.to_string()), "{answer}");
    let (peer, delivery) = wait_for(&mut b_events, |e| match e {
        NodeEvent::TxSeen {
            hash: seen,
            peer,
            delivery,
            ..
        } if *seen == hash => Some((*peer, *delivery)),
        _ => None,
    })
    .await;
    assert_eq!((peer, delivery), (a.node_id(), Delivery::Full));
    // The fetcher validates and adds it right after the report; the pool notifies.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.internals().pool.get(&hash).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "B's pool never got it"
        );
        tokio::task::yield_now().await;
    }

    // The trace line is on disk once the observer handled the report (events come after).
    let text = std::fs::read_to_string(&trace).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().expect("one line")).unwrap();
    assert_eq!(line["hash"], json!(hash.to_string()));
    assert_eq!(line["peer"], json!(a.node_id().to_string()));
    assert_eq!(line["delivery"], "full");
    assert_eq!(line["kind"], "tx");

    // admin_peers on B: A, outbound, static, with the negotiated version.
    let peers = call(&b, "admin_peers", json!([])).await;
    let peers = peers["result"].as_array().expect("array").clone();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0]["enode"], json!(a.enode().to_string()));
    assert_eq!(
        peers[0]["protocols"]["eth"]["version"],
        json!(version as u8)
    );
    assert_eq!(peers[0]["network"]["inbound"], json!(false));
    assert_eq!(peers[0]["network"]["static"], json!(true));
    // Our end of an outbound connection is an ephemeral port, not the listening one.
    let local: std::net::SocketAddr = peers[0]["network"]["localAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(local.port(), b.local_addr().port());
    assert_eq!(call(&b, "net_peerCount", json!([])).await["result"], "0x1");
    assert_eq!(call(&b, "eth_chainId", json!([])).await["result"], "0x539");
    assert_eq!(
        call(&b, "eth_blockNumber", json!([])).await["result"],
        "0x0"
    );
    let info = call(&b, "admin_nodeInfo", json!([])).await;
    assert_eq!(info["result"]["enode"], json!(b.enode().to_string()));

    // Metrics: A sent one Transactions message, B received it; one outbound peer at B.
    let a_text = metrics::render(&a).await;
    let b_text = metrics::render(&b).await;
    assert!(
        a_text.contains("ethpeer_messages_out_total{type=\"Transactions\"} 1"),
        "{a_text}"
    );
    assert!(
        b_text.contains("ethpeer_messages_in_total{type=\"Transactions\"} 1"),
        "{b_text}"
    );
    let peers_line = format!(
        "ethpeer_peers{{direction=\"outbound\",version=\"{}\"}} 1",
        version as u8
    );
    assert!(b_text.contains(&peers_line), "{b_text}");
    assert!(b_text.contains("ethpeer_txpool_transactions 1"), "{b_text}");

    // A second connection between the same two nodes is refused.
    let error = b
        .dial(a.local_addr(), a.node_id())
        .await
        .expect_err("duplicate");
    assert!(
        matches!(
            error,
            DialError::Refused(DisconnectReason::AlreadyConnected)
        ),
        "{error}"
    );
}

#[actix_rt::test]
async fn rpc_errors_follow_json_rpc() {
    let node = dev_node(None).await;
    let raw = |body: &str| {
        let node = node.clone();
        let body = body.to_string();
        async move { rpc::handle_body(&node, body.as_bytes()).await }
    };
    let code = |answer: Option<Value>| answer.expect("answer")["error"]["code"].clone();
    assert_eq!(code(raw("{not json").await), json!(-32700));
    assert_eq!(code(raw("[]").await), json!(-32600));
    assert_eq!(
        code(raw(r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#).await),
        json!(-32600)
    );
    assert_eq!(
        code(raw(r#"{"jsonrpc":"2.0","id":1,"method":"eth_mine"}"#).await),
        json!(-32601)
    );
    assert_eq!(
        code(
            raw(r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}"#)
                .await
        ),
        json!(-32602)
    );
    assert_eq!(
        code(
            raw(r#"{"jsonrpc":"2.0","id":1,"method":"admin_addPeer","params":["enode://nope"]}"#)
                .await
        ),
        json!(-32602)
    );
    assert_eq!(
        code(raw(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId"}"#).await),
        json!(-32600)
    );
    // A notification is never answered, even when its params are wrong.
    assert_eq!(
        raw(r#"{"jsonrpc":"2.0","method":"eth_chainId","params":{"x":1}}"#).await,
        None
    );
    // Decodes, but the pool refuses it: a second tx with the same nonce and no fee bump.
    let (_, first) = dev_transfer(1, 0);
    assert!(call(&node, "eth_sendRawTransaction", json!([first])).await["result"].is_string());
    let answer = call(&node, "eth_sendRawTransaction", json!([first])).await;
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    assert_eq!(
        answer["error"]["message"],
        json!("already known"),
        "{answer}"
    );
    // Garbage that is hex but no transaction.
    let answer = call(&node, "eth_sendRawTransaction", json!(["0x02c0"])).await;
    assert_eq!(answer["error"]["code"], json!(-32000), "{answer}");
    // A batch answers each call in order; a notification (no id) gets nothing back.
    let batch = raw(r#"[{"jsonrpc":"2.0","id":7,"method":"eth_chainId"},
            {"jsonrpc":"2.0","method":"eth_chainId"},
            {"jsonrpc":"2.0","id":8,"method":"nope"}]"#)
    .await
    .expect("answers");
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(batch[0]["id"], 7);
    assert_eq!(batch[0]["result"], "0x539");
    assert_eq!(batch[1]["error"]["code"], -32601);
}

#[actix_rt::test]
async fn shutdown_tells_peers_the_client_is_quitting() {
    let a = dev_node(None).await;
    let b = dev_node(None).await;
    let mut a_events = subscribe(&a);
    b.dial(a.local_addr(), a.node_id())
        .await
        .expect("B dials A");
    wait_for(&mut a_events, |e| {
        matches!(e, NodeEvent::PeerConnected { .. }).then_some(())
    })
    .await;
    b.shutdown(Duration::from_secs(3)).await;
    let reason = next_disconnect(&mut a_events).await;
    assert!(
        matches!(
            reason,
            Some(StopReason::RemoteDisconnected(
                DisconnectReason::ClientQuitting
            ))
        ),
        "{reason:?}"
    );
    let text = metrics::render(&a).await;
    assert!(
        text.contains("ethpeer_disconnects_total{reason=\"remote_client_quitting\"} 1"),
        "{text}"
    );
}

#[actix_rt::test]
async fn nodes_of_each_public_network_agree_on_status_and_connect() {
    use ethpeer_actors::eth::forkid::Network;
    for network in Network::ALL {
        let start = || {
            NodeBuilder::network(network)
                .listen("127.0.0.1:0".parse().unwrap())
                .start()
        };
        let (a, b) = (start().await.unwrap(), start().await.unwrap());
        assert_eq!(a.status().genesis, network.genesis_hash());
        b.dial(a.local_addr(), a.node_id())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", network.name()));
        // A node of another network is refused at Status (reason 0x10).
        if network != Network::Mainnet {
            let mainnet = NodeBuilder::network(Network::Mainnet)
                .listen("127.0.0.1:0".parse().unwrap())
                .start()
                .await
                .unwrap();
            let error = mainnet
                .dial(a.local_addr(), a.node_id())
                .await
                .expect_err("other network");
            assert!(matches!(error, DialError::Session(_)), "{error}");
        }
    }
}

#[actix_rt::test]
async fn the_peer_limit_splits_dialed_and_inbound_and_exempts_trusted_peers() {
    // Limit 3: one peer we dial, two inbound. D is trusted.
    let d = dev_node(None).await;
    // A dials its trusted peer D as soon as it starts.
    let mut d_events = subscribe(&d);
    let a = NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .max_peers(3)
        .trusted_peer(d.enode())
        .start()
        .await
        .unwrap();
    let mut inbound = Vec::new();
    for _ in 0..2 {
        let node = dev_node(None).await;
        node.dial(a.local_addr(), a.node_id())
            .await
            .expect("an inbound slot");
        inbound.push(node);
    }
    // A third inbound peer: A refuses it after the handshakes with too-many-peers.
    let late = dev_node(None).await;
    let mut late_events = subscribe(&late);
    let _ = late.dial(a.local_addr(), a.node_id()).await;
    let reason = next_disconnect(&mut late_events).await;
    assert!(
        matches!(
            reason,
            Some(StopReason::RemoteDisconnected(
                DisconnectReason::TooManyPeers
            ))
        ),
        "{reason:?}"
    );
    // A dials the trusted D itself (it is exempt from the dialed limit too); A's one
    // dialed slot stays free for others.
    let id = wait_for(&mut d_events, |e| match e {
        NodeEvent::PeerConnected { id, .. } => Some(*id),
        _ => None,
    })
    .await;
    assert_eq!(id, a.node_id());
    // A registers D on its own schedule (D's event may come first): ask until it has.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let peers = loop {
        let peers = call(&a, "admin_peers", json!([])).await["result"].clone();
        if peers.as_array().map(Vec::len) == Some(3) || tokio::time::Instant::now() > deadline {
            break peers;
        }
        tokio::task::yield_now().await;
    };
    let trusted: Vec<bool> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["network"]["trusted"].as_bool().unwrap())
        .collect();
    assert_eq!(trusted.len(), 3, "{peers}");
    assert_eq!(trusted.iter().filter(|t| **t).count(), 1, "{peers}");
}

/// The builder's keepalive reaches every peer: a peer that completes its handshake and then
/// never answers a Ping is dropped with "ping timeout" after the configured Pong deadline
/// (the 10 s bound on the wait is far below geth's default 15 s + 20 s).
#[actix_rt::test]
async fn the_builders_keepalive_drops_a_peer_that_never_answers_pings() {
    use ethpeer_actors::session::{self, SessionConfig};
    let a = NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().unwrap())
        .keepalive(Duration::from_millis(200), Duration::from_millis(300))
        .handshake_timeout(Duration::from_secs(2))
        .start()
        .await
        .expect("A starts");
    let mut events = subscribe(&a);
    let stream = tokio::net::TcpStream::connect(a.local_addr())
        .await
        .expect("connect");
    let config = SessionConfig::new(
        secp256k1::SecretKey::from_byte_array([7; 32]).expect("key"),
        "silent",
    );
    // The session is held but never read: A's Pings go unanswered.
    let _silent = session::dial(stream, &config, a.node_id(), &a.status())
        .await
        .expect("handshake");
    wait_for(&mut events, |e| {
        matches!(e, NodeEvent::PeerConnected { .. }).then_some(())
    })
    .await;
    assert_eq!(
        next_disconnect(&mut events).await,
        Some(StopReason::Disconnected(DisconnectReason::PingTimeout))
    );
}

/// A dead actor shows as such on the metrics endpoint: `ethpeer_actor_up` turns 0 and the
/// families read from it leave the output instead of reading as zeros.
#[actix_rt::test]
async fn metrics_say_when_an_actor_they_read_is_gone() {
    let node = dev_node(None).await;
    let before = metrics::render(&node).await;
    assert!(
        before.contains("ethpeer_actor_up{actor=\"observer\"} 1"),
        "{before}"
    );
    assert!(before.contains("ethpeer_trace_lines_total 0"), "{before}");
    node.internals()
        .observer
        .send(ethpeer_actors::feed::observe::StopObserver)
        .await
        .expect("the observer takes the stop");
    // The stop is handled; the actor's mailbox closes right after.
    let mut after = metrics::render(&node).await;
    for _ in 0..100 {
        if after.contains("ethpeer_actor_up{actor=\"observer\"} 0") {
            break;
        }
        tokio::task::yield_now().await;
        after = metrics::render(&node).await;
    }
    assert!(
        after.contains("ethpeer_actor_up{actor=\"observer\"} 0"),
        "{after}"
    );
    assert!(!after.contains("ethpeer_trace_lines_total"), "{after}");
    assert!(
        after.contains("ethpeer_actor_up{actor=\"peer_manager\"} 1"),
        "{after}"
    );
}
