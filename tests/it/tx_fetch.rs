//! The announce -> fetch path against a remote peer over an RLPx session: an
//! announcement of 50 hashes is followed by a GetPooledTransactions for exactly those 50,
//! and the delivered txs (signed with ethtest keys, checked against `headstate.json`) land
//! in the validating pool; a delivery that contradicts its announcement disconnects.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::eth::{
    EthMessage, EthVersion, NewPooledTransactionHashes68, PooledTransactions, PooledTx,
};
use ethpeer_actors::p2p::{self, DisconnectReason, P2pMessage};
use ethpeer_actors::peer::{start_session_peer, InboundRoutes, SessionPeerLinks};
use ethpeer_actors::peer_set::PeerSetActor;
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{self, Established, SessionConfig};
use ethpeer_actors::tx_fetcher::{TxFetcher, TxFetcherLinks};
use ethpeer_actors::tx_pool::{MemoryState, TxPool, ValidatingTxPool};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::io::DuplexStream;

use crate::common::testdata_or_skip;
use crate::tx_validation::{rules, sender, signed, transfer};

/// Our node (fetcher + validating pool) and the remote side of a session to it.
async fn setup(dir: &std::path::Path) -> (Arc<ValidatingTxPool>, Established<DuplexStream>) {
    let state = MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state");
    let pool = Arc::new(ValidatingTxPool::new(rules(), Arc::new(state)));
    let set = PeerSetActor::new().start();
    let fetcher = TxFetcher::new(
        pool.clone(),
        TxFetcherLinks {
            mark: set.clone().recipient(),
        },
        Duration::ZERO,
    )
    .start();
    let status = crate::common::ethtest(dir).status;
    let (x, y) = tokio::io::duplex(1024 * 1024);
    let ours = SessionConfig::new(SecretKey::from_byte_array([0x61; 32]).expect("key"), "node");
    let mut theirs = SessionConfig::new(
        SecretKey::from_byte_array([0x62; 32]).expect("key"),
        "remote",
    );
    theirs.eth_versions = vec![EthVersion::Eth68];
    let (remote, local) = tokio::join!(
        session::dial(x, &theirs, ours.node_id(), &status),
        session::accept(y, &ours, &status)
    );
    let routes = InboundRoutes {
        requests: None,
        blocks: None,
        transactions: Some(fetcher.recipient()),
    };
    let links = SessionPeerLinks {
        register: set.clone().recipient(),
        stopped: set.recipient(),
        on_message: routes,
        keepalive: None,
        request_timeout: None,
    };
    start_session_peer(
        local.expect("local"),
        pool.clone() as Arc<dyn TxPool>,
        links,
    )
    .await
    .expect("registered");
    (pool, remote.expect("remote"))
}

fn txs(key: B256, count: u64) -> Vec<PooledTx> {
    (0..count)
        .map(|i| {
            signed(
                key,
                transfer(
                    603 + i,
                    U256::from(1),
                    21_000,
                    TxKind::Call(Address::repeat_byte(9)),
                    Bytes::new(),
                ),
            )
        })
        .collect()
}

fn announcement(txs: &[PooledTx], type_override: Option<u8>) -> EthMessage {
    EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: txs
            .iter()
            .map(|t| type_override.unwrap_or(t.ty()))
            .collect::<Vec<_>>()
            .into(),
        sizes: txs.iter().map(|t| t.encode_2718_len() as u64).collect(),
        hashes: txs.iter().map(|t| *t.hash()).collect(),
    })
}

async fn send(remote: &mut Established<DuplexStream>, message: &EthMessage) {
    let id = remote.eth_offset + message.message_id() as u64;
    remote
        .writer
        .send(RlpxMessage {
            id,
            payload: message.encoded().into(),
        })
        .await
        .expect("send");
}

async fn next(remote: &mut Established<DuplexStream>) -> RlpxMessage {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), remote.reader.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("valid");
        if frame.id >= remote.eth_offset || frame.id == p2p::ids::DISCONNECT {
            return frame;
        }
    }
}

#[actix_rt::test]
async fn an_announcement_of_50_hashes_is_fetched_with_exactly_those_50() {
    let dir = testdata_or_skip!();
    let (_, key) = sender(&dir);
    let (pool, mut remote) = setup(&dir).await;
    let batch = txs(key, 50);
    send(&mut remote, &announcement(&batch, None)).await;
    let frame = next(&mut remote).await;
    let EthMessage::GetPooledTransactions(request) = EthMessage::decode(
        EthVersion::Eth68,
        (frame.id - remote.eth_offset) as u8,
        &frame.payload,
    )
    .expect("decodes") else {
        panic!("expected GetPooledTransactions")
    };
    let wanted: Vec<B256> = batch.iter().map(|t| *t.hash()).collect();
    assert_eq!(request.message.0, wanted);
    send(
        &mut remote,
        &EthMessage::PooledTransactions(request.answer(PooledTransactions(batch))),
    )
    .await;
    // Wait (no sleep) until the pool has them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while pool.len() < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pool has {}",
            pool.len()
        );
        tokio::task::yield_now().await;
    }
    assert!(wanted.iter().all(|h| pool.get(h).is_some()));
}

#[actix_rt::test]
async fn a_delivery_that_contradicts_its_announcement_disconnects() {
    let dir = testdata_or_skip!();
    let (_, key) = sender(&dir);
    let (pool, mut remote) = setup(&dir).await;
    let batch = txs(key, 1);
    // Announced as a legacy (type 0) tx, delivered as EIP-1559.
    send(&mut remote, &announcement(&batch, Some(0))).await;
    let frame = next(&mut remote).await;
    let request = EthMessage::decode(
        EthVersion::Eth68,
        (frame.id - remote.eth_offset) as u8,
        &frame.payload,
    )
    .expect("decodes");
    let EthMessage::GetPooledTransactions(request) = request else {
        panic!("expected a request")
    };
    send(
        &mut remote,
        &EthMessage::PooledTransactions(request.answer(PooledTransactions(batch))),
    )
    .await;
    let frame = next(&mut remote).await;
    assert_eq!(frame.id, p2p::ids::DISCONNECT);
    assert_eq!(
        P2pMessage::decode(frame.id, &frame.payload),
        Ok(P2pMessage::Disconnect(Some(
            DisconnectReason::SubprotocolSpecific
        )))
    );
    assert_eq!(pool.len(), 0);
}
