//! alloy's provider (the client reth and most Rust tools use) over WebSocket against an
//! in-process dev node's WS server: it subscribes to pending transactions, sends a raw
//! transaction, receives its hash from the subscription, and reads `txpool_status` with a
//! raw request.

use std::time::Duration;

use alloy_primitives::{hex, B256};
use alloy_provider::{Provider, ProviderBuilder, WsConnect};
use serde_json::{json, Value};

#[actix_rt::test]
async fn alloy_provider_subscribes_sends_a_raw_tx_and_reads_txpool_status() {
    let (_node, addr) = crate::ws::ws_dev_node().await;
    let provider = ProviderBuilder::new()
        .connect_ws(WsConnect::new(format!("ws://{addr}/")))
        .await
        .expect("alloy connects over WebSocket");
    assert_eq!(provider.get_chain_id().await.expect("eth_chainId"), 1337);

    let mut pending = provider
        .subscribe_pending_transactions()
        .await
        .expect("eth_subscribe newPendingTransactions");
    let (hash, raw) = crate::node_dev::dev_transfer(0, 0);
    let raw = hex::decode(raw).expect("hex");
    let sent = provider
        .send_raw_transaction(&raw)
        .await
        .expect("eth_sendRawTransaction");
    assert_eq!(*sent.tx_hash(), hash);
    let notified: B256 = tokio::time::timeout(Duration::from_secs(10), pending.recv())
        .await
        .expect("a pending-tx notification within 10 s")
        .expect("the subscription is open");
    assert_eq!(notified, hash);

    let status: Value = provider
        .raw_request("txpool_status".into(), ())
        .await
        .expect("txpool_status");
    assert_eq!(status, json!({"pending": "0x1", "queued": "0x0"}));
    // The same again: "already known", in geth's words, reaches alloy as an RPC error.
    let again = provider.send_raw_transaction(&raw).await;
    let error = again.expect_err("a second send is refused").to_string();
    assert!(error.contains("already known"), "{error}");
}
