//! Transaction arrivals with provenance (`ethpeer_subscribe("txArrivals")`, issue 26):
//! two dev nodes in one process, A broadcasting to B; a WebSocket client of B hears each
//! tx's `seen`, `validated` and `settled` arrivals with A's id, client, address and
//! direction, the kind, the times and counts, the verdict (a tx below B's price floor is
//! rejected with the pool's reason) and the whole tx on request; B's embedders get the
//! same as `NodeEvent::TxArrival`. Options are checked, and the namespace is served only
//! where `--ws.api` names it.

use std::collections::HashMap;
use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, TxKind, B256, U256};
use ethpeer_actors::api::rpc::{self, RpcAccess};
use ethpeer_actors::eth::genesis::DEV_ACCOUNT_KEYS;
use ethpeer_actors::eth::PooledTx;
use ethpeer_actors::feed::arrivals::{ArrivalKind, ArrivalTier};
use ethpeer_actors::node::{Node, NodeBuilder, NodeEvent};
use ethpeer_actors::peer_set::Len;
use serde_json::{json, Value};

use crate::common::events::{subscribe, wait_for};
use crate::ws::{connect, next_json, request};

/// B's price floor: 2 gwei of tip.
const FLOOR: u128 = 2_000_000_000;

/// Dev account `index`'s transfer at nonce 0 paying `tip` (cap: tip + 1 gwei): its hash,
/// raw hex and sender.
fn transfer(index: usize, tip: u128) -> (B256, String, Address) {
    let key: B256 = DEV_ACCOUNT_KEYS[index].parse().expect("key");
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: tip + 1_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Default::default(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).expect("sig");
    let tx = PooledTx::Eip1559(tx.into_signed(signature));
    let from =
        alloy_consensus::transaction::SignerRecoverable::recover_signer(&tx).expect("signed");
    (*tx.hash(), hex::encode_prefixed(tx.encoded_2718()), from)
}

async fn node(min_tip: u128) -> Node {
    let limits = ethpeer_actors::txs::pool::PoolLimits {
        min_tip,
        ..Default::default()
    };
    NodeBuilder::dev()
        .listen("127.0.0.1:0".parse().expect("addr"))
        .arrival_wait(Duration::ZERO)
        .pool_limits(limits)
        .start()
        .await
        .expect("starts")
}

/// A WebSocket server on `node` serving `access`.
fn ws_server(node: &Node, access: RpcAccess) -> std::net::SocketAddr {
    let (server, addr) = rpc::ws::server(
        node.clone(),
        "127.0.0.1:0".parse::<std::net::SocketAddr>().expect("addr"),
        access,
    )
    .expect("binds");
    actix_rt::spawn(server);
    addr
}

#[actix_rt::test]
async fn a_subscriber_hears_where_each_tx_came_from_and_what_the_pool_said() {
    let a = node(0).await;
    let b = node(FLOOR).await;
    let addr = ws_server(&b, RpcAccess::all());
    let mut client = connect(addr, None).await;
    // Options are checked.
    for bad in [
        json!(["txArrivals", {"tiers": ["mined"]}]),
        json!(["peerEvents"]),
    ] {
        let answer = request(&mut client, "ethpeer_subscribe", bad).await;
        assert_eq!(answer["error"]["code"], json!(-32602), "{answer}");
    }
    let answer = request(&mut client, "eth_subscribe", json!(["txArrivals"])).await;
    assert_eq!(
        answer["error"]["code"],
        json!(-32602),
        "geth's namespace has no txArrivals"
    );
    let sub = request(
        &mut client,
        "ethpeer_subscribe",
        json!(["txArrivals", {"fullTx": true}]),
    )
    .await;
    let id = sub["result"].as_str().expect("an id").to_string();
    let mut events = subscribe(&b);

    assert!(b.add_peer(a.enode()).await);
    for node in [&a, &b] {
        while node.internals().peer_set.send(Len).await.expect("alive") != 1 {
            tokio::task::yield_now().await;
        }
    }
    let (paid, paid_raw, payer) = transfer(1, 3_000_000_000);
    let (cheap, cheap_raw, _) = transfer(2, 1_000_000_000);
    for raw in [paid_raw, cheap_raw] {
        let answer = crate::rpc_shapes::call(&a, "eth_sendRawTransaction", json!([raw])).await;
        assert!(answer["result"].is_string(), "A pools it: {answer}");
    }

    // Six notifications: each tx seen, validated, and settled a second later.
    let mut heard: HashMap<(String, String), Value> = HashMap::new();
    while heard.len() < 6 {
        let note = next_json(&mut client).await;
        assert_eq!(note["method"], "ethpeer_subscription", "{note}");
        assert_eq!(note["params"]["subscription"], json!(id));
        let result = note["params"]["result"].clone();
        let key = (
            result["hash"].as_str().unwrap_or_default().to_string(),
            result["tier"].as_str().unwrap_or_default().to_string(),
        );
        assert!(heard.insert(key, result).is_none(), "one event per tier");
    }
    let get = |hash: &B256, tier: &str| heard[&(hash.to_string(), tier.to_string())].clone();

    let seen = get(&paid, "seen");
    assert_eq!(seen["kind"], "broadcast", "{seen}");
    assert_eq!(seen["peer"]["id"], json!(a.node_id()));
    assert!(
        seen["peer"]["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("ethpeer/")),
        "{seen}"
    );
    assert_eq!(seen["peer"]["address"], json!(a.local_addr().to_string()));
    assert_eq!(seen["peer"]["direction"], "outbound", "B dialed A");
    assert!(seen["firstDelivered"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z') && t.len() == 30));
    assert_eq!(seen["firstAnnounced"], Value::Null);
    assert_eq!(seen["deliverers"], 1);
    assert_eq!(seen["verdict"], Value::Null, "not judged yet");
    assert!(seen.get("tx").is_none());

    let validated = get(&paid, "validated");
    assert_eq!(
        validated["verdict"],
        json!({"accepted": true}),
        "{validated}"
    );
    assert_eq!(validated["tx"]["hash"], json!(paid));
    assert_eq!(validated["tx"]["from"], json!(payer));
    assert_eq!(validated["type"], "0x2");
    assert_eq!(validated["firstDelivered"], seen["firstDelivered"]);

    let refused = get(&cheap, "validated");
    assert_eq!(refused["verdict"]["accepted"], false, "{refused}");
    assert!(
        refused["verdict"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("gas price below minimum")),
        "{refused}"
    );
    assert!(
        refused.get("tx").is_none(),
        "a refused tx is not sent whole"
    );

    let settled = get(&paid, "settled");
    assert_eq!(settled["deliverers"], 1, "{settled}");
    assert_eq!(settled["announcers"], 0);
    assert_eq!(settled["verdict"], json!({"accepted": true}));
    assert_eq!(get(&cheap, "settled")["verdict"]["accepted"], false);

    // Embedders get the same arrivals as events with a Rust type.
    let arrival = wait_for(&mut events, |e| match e {
        NodeEvent::TxArrival(arrival)
            if arrival.hash == paid && arrival.tier == ArrivalTier::Validated =>
        {
            Some(arrival.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(arrival.kind, ArrivalKind::Broadcast);
    assert_eq!(arrival.peer, a.node_id());
    assert_eq!(
        arrival.peer_card.as_ref().map(|c| c.addr),
        Some(a.local_addr())
    );
    assert_eq!(arrival.tx.as_ref().map(|tx| tx.hash), Some(paid));

    let ended = request(&mut client, "ethpeer_unsubscribe", json!([id])).await;
    assert_eq!(ended["result"], json!(true));
    for node in [a, b] {
        node.shutdown(Duration::from_secs(2)).await;
    }
}

#[actix_rt::test]
async fn the_ethpeer_namespace_is_served_only_where_the_api_list_names_it() {
    let b = node(0).await;
    let access = RpcAccess::all().with_apis("eth,net,web3");
    let addr = ws_server(&b, access);
    let mut client = connect(addr, None).await;
    let answer = request(&mut client, "ethpeer_subscribe", json!(["txArrivals"])).await;
    assert_eq!(answer["error"]["code"], json!(-32601), "{answer}");
    let addr = ws_server(&b, RpcAccess::all().with_apis("eth,ethpeer"));
    let mut client = connect(addr, None).await;
    let answer = request(&mut client, "ethpeer_subscribe", json!(["txArrivals"])).await;
    assert!(answer["result"].is_string(), "{answer}");
    b.shutdown(Duration::from_secs(2)).await;
}
