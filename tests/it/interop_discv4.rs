//! discv4 against a third-party implementation, @ethereumjs/devp2p's DPT
//! (`tests/interop/dpt.mjs`), over loopback UDP, both ways: the DPT bootstraps from one of
//! our nodes, bonds with it and finds our other node through it; then a new node of ours
//! bootstraps from the DPT and finds our first two nodes through it.

use std::time::Duration;

use ethpeer_actors::node::{Bootnode, DiscoveryConfig, Enode, Node, NodeBuilder};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::discovery::table_size;
use crate::interop::interop_dir;

async fn start(bootnodes: Vec<Bootnode>) -> Node {
    NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().expect("addr"))
        .discovery(DiscoveryConfig {
            v4: true,
            bootnodes,
            ..DiscoveryConfig::default()
        })
        .start()
        .await
        .expect("node starts")
}

fn bootnode(node: &Node) -> Bootnode {
    Bootnode {
        enode: node.enode(),
        udp: node.internals().discovery.expect("discovery").port(),
    }
}

#[actix_rt::test]
async fn ethereumjs_dpt_bonds_with_us_and_we_with_it_both_finding_nodes_through_the_other() {
    let Some(dir) = interop_dir() else {
        return;
    };
    let a = start(vec![]).await;
    let b = start(vec![bootnode(&a)]).await;
    let boot = bootnode(&a);
    let mut child = Command::new("node")
        .current_dir(&dir)
        .arg("dpt.mjs")
        .args(["--key", &"21".repeat(32), "--port", "0", "--bootstrap"])
        .arg(format!(
            "{}@127.0.0.1:{}",
            alloy_primitives::hex::encode(boot.enode.id),
            boot.udp
        ))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs dpt.mjs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut dpt, mut added) = (None, Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(added.contains(&a.node_id()) && added.contains(&b.node_id())) {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("DPT added only {added:?} within 20 s"))
            .expect("stdout")
            .expect("dpt.mjs exited");
        let event: Value = serde_json::from_str(&line).expect("json line");
        match event["event"].as_str() {
            Some("listening") => {
                let id = event["id"].as_str().expect("id").parse().expect("id hex");
                let port = event["port"].as_u64().expect("port") as u16;
                dpt = Some((id, port));
            }
            Some("peer:added") => {
                added.push(event["id"].as_str().expect("id").parse().expect("hex"));
            }
            _ => {}
        }
    }
    // The other way: our new node knows only the DPT and finds A and B through it.
    let (id, port) = dpt.expect("DPT listened");
    let c = start(vec![Bootnode {
        enode: Enode {
            id,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        },
        udp: port,
    }])
    .await;
    crate::common::poll::eventually("C's table holds the 3 nodes", || async {
        table_size(&c) >= 3
    })
    .await;
    for node in [&a, &b, &c] {
        node.shutdown(Duration::from_secs(1)).await;
    }
}
