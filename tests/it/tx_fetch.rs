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
use ethpeer_actors::peer::InboundRoutes;
use ethpeer_actors::peer_set::PeerSetActor;
use ethpeer_actors::peer_set::{start_session_peer, SessionPeerLinks};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::session::{self, Established, SessionConfig};
use ethpeer_actors::txs::inbox::{TxInbox, TxInboxLinks};
use ethpeer_actors::txs::ingest::{start_verifiers, TxIngest};
use ethpeer_actors::txs::pool::{MemoryState, TxPool, ValidatingTxPool};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::io::DuplexStream;

use crate::common::testdata_or_skip;
use crate::tx_validation::{rules, sender, signed, transfer};

/// Our node B (validating pool with the ethtest state, tx fetcher with no arrival wait and
/// so peers that prefetch announced hashes;
/// with `serve`, also the tx broadcaster and the request handler) and the remote ends of
/// `remotes` eth/68 sessions to it.
pub(crate) async fn node_with_remotes(
    dir: &std::path::Path,
    remotes: u8,
    serve: bool,
) -> (Arc<ValidatingTxPool>, Vec<Established<DuplexStream>>) {
    let ethtest = crate::common::ethtest(dir);
    let state = MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state");
    let pool = Arc::new(ValidatingTxPool::new(rules(), Arc::new(state)));
    let shared: Arc<dyn TxPool> = pool.clone();
    let set = PeerSetActor::new().start();
    let fetcher = TxInbox::new(
        pool.clone(),
        TxInboxLinks {
            mark: set.clone().recipient(),
            ingest: TxIngest::new(
                pool.clone(),
                start_verifiers(pool.clone(), 2).recipient(),
                2,
            )
            .start()
            .recipient(),
        },
        Duration::ZERO,
    )
    .start();
    let mut routes = InboundRoutes {
        requests: None,
        cells: None,
        blocks: None,
        transactions: Some(fetcher.recipient()),
        seen: None,
        // As the node wires it with no arrival wait: peers ask for new hashes themselves.
        prefetch: Some(Arc::new(ethpeer_actors::peer::PrefetchClaims::default())),
    };
    if serve {
        use ethpeer_actors::serve::RequestHandler;
        use ethpeer_actors::txs::broadcast::{PeerSetLink, TxBroadcaster};
        TxBroadcaster::new(
            alloy_primitives::B512::repeat_byte(0x70),
            (3, 4),
            shared.clone(),
            PeerSetLink::new(&set),
        )
        .start();
        routes.requests =
            Some(RequestHandler::spawn(ethtest.store.clone(), shared.clone(), 1).recipient());
    }
    let node = SessionConfig::new(SecretKey::from_byte_array([0x61; 32]).expect("key"), "node");
    let mut ends = Vec::new();
    for n in 0..remotes {
        let (x, y) = tokio::io::duplex(4 * 1024 * 1024);
        let mut remote = SessionConfig::new(
            SecretKey::from_byte_array([0x62 + n; 32]).expect("key"),
            "remote",
        );
        remote.eth_versions = vec![EthVersion::Eth68];
        let (end, local) = tokio::join!(
            session::dial(x, &remote, node.node_id(), &ethtest.status),
            session::accept(y, &node, &ethtest.status)
        );
        let links = SessionPeerLinks {
            register: set.clone().recipient(),
            stopped: set.clone().recipient(),
            on_message: routes.clone(),
            keepalive: None,
            request_timeout: None,
            wire: None,
            remote: None,
        };
        start_session_peer(local.expect("local"), shared.clone(), links)
            .await
            .expect("registered");
        ends.push(end.expect("remote"));
    }
    (pool, ends)
}

/// Node B and the remote end of one session to it.
async fn setup(dir: &std::path::Path) -> (Arc<ValidatingTxPool>, Established<DuplexStream>) {
    let (pool, mut ends) = node_with_remotes(dir, 1, false).await;
    (pool, ends.pop().expect("one remote"))
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

mod spread {
    use std::collections::HashSet;

    use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
    use ethpeer_actors::eth::{
        EthMessage, EthVersion, GetPooledTransactions, PooledTx, RequestPair, Transactions,
    };

    use ethpeer_actors::session::Established;

    use ethpeer_actors::txs::pool::MemoryState;

    use tokio::io::DuplexStream;

    use super::{next, send};
    use crate::common::testdata_or_skip;
    use crate::tx_validation::{sender, signed, transfer};

    /// Node B with pool, fetcher, broadcaster and request handler; remote peers A and C.
    async fn line(dir: &std::path::Path) -> (Established<DuplexStream>, Established<DuplexStream>) {
        let (_, mut ends) = super::node_with_remotes(dir, 2, true).await;
        let c = ends.pop().expect("c");
        (ends.pop().expect("a"), c)
    }

    /// Reads C until it has seen `want` (in full or announced); returns those only announced.
    async fn collect(c: &mut Established<DuplexStream>, want: &HashSet<B256>) -> Vec<B256> {
        let (mut full, mut announced) = (HashSet::new(), Vec::new());
        while want
            .iter()
            .any(|h| !full.contains(h) && !announced.contains(h))
        {
            let frame = next(c).await;
            match EthMessage::decode(
                EthVersion::Eth68,
                (frame.id - c.eth_offset) as u8,
                &frame.payload,
            )
            .expect("decodes")
            {
                EthMessage::Transactions(txs) => full.extend(txs.0.iter().map(|t| *t.tx_hash())),
                EthMessage::NewPooledTransactionHashes68(ann) => announced.extend(ann.hashes),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            full.iter().chain(&announced).all(|h| want.contains(h)),
            "C got something it should not have"
        );
        announced
    }

    // How fast they spread is a benchmark's question (`cargo bench --bench relay`, in a
    // release build); this test checks only that all of them arrive and are served.
    #[actix_rt::test]
    async fn two_thousand_valid_txs_from_a_reach_c_and_can_be_fetched() {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let (mut a, mut c) = line(&dir).await;
        let to = TxKind::Call(Address::repeat_byte(5));
        let txs: Vec<PooledTx> = (0..2000)
            .map(|i| {
                signed(
                    key,
                    transfer(603 + i, U256::from(1), 21_000, to, Bytes::new()),
                )
            })
            .collect();
        let want: HashSet<B256> = txs.iter().map(|t| *t.hash()).collect();
        for chunk in txs.chunks(250) {
            let consensus = chunk.iter().map(|t| t.clone().into()).collect();
            send(&mut a, &EthMessage::Transactions(Transactions(consensus))).await;
        }
        collect(&mut c, &want).await;
        // Everything is fetchable from B.
        let all: Vec<B256> = txs.iter().map(|t| *t.hash()).collect();
        let mut fetched = 0;
        for (i, batch) in all.chunks(256).enumerate() {
            send(
                &mut c,
                &EthMessage::GetPooledTransactions(RequestPair::new(
                    i as u64,
                    GetPooledTransactions(batch.to_vec()),
                )),
            )
            .await;
            loop {
                let frame = next(&mut c).await;
                if let EthMessage::PooledTransactions(reply) = EthMessage::decode(
                    EthVersion::Eth68,
                    (frame.id - c.eth_offset) as u8,
                    &frame.payload,
                )
                .expect("decodes")
                {
                    assert_eq!(reply.request_id, i as u64);
                    fetched += reply.message.0.len();
                    break;
                }
            }
        }
        assert_eq!(fetched, 2000);
    }

    #[actix_rt::test]
    async fn invalid_transactions_do_not_spread() {
        let dir = testdata_or_skip!();
        let (address, key) = sender(&dir);
        let (mut a, mut c) = line(&dir).await;
        let state = MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state");
        let balance = ethpeer_actors::txs::pool::StateProvider::account(&state, &address)
            .expect("account")
            .balance;
        let to = TxKind::Call(Address::repeat_byte(5));
        let invalid = [
            signed(key, transfer(602, U256::from(1), 21_000, to, Bytes::new())),
            signed(key, transfer(603, balance, 21_000, to, Bytes::new())),
            signed(key, transfer(603, U256::from(1), 1_337, to, Bytes::new())),
            signed(
                key,
                transfer(
                    603,
                    U256::ZERO,
                    10_000_000,
                    TxKind::Create,
                    Bytes::from(vec![0x60; 50 * 1024]),
                ),
            ),
            signed(
                key,
                transfer(
                    603,
                    U256::ZERO,
                    20_000_000,
                    to,
                    Bytes::from(vec![1; 128 * 1024]),
                ),
            ),
        ];
        let valid = signed(key, transfer(603, U256::from(1), 21_000, to, Bytes::new()));
        let mut batch: Vec<_> = invalid.iter().map(|t| t.clone().into()).collect();
        // A valid one last: once it arrives, everything before it was processed.
        batch.push(valid.clone().into());
        send(&mut a, &EthMessage::Transactions(Transactions(batch))).await;
        let want: HashSet<B256> = [*valid.hash()].into();
        collect(&mut c, &want).await;
    }
}

mod blobs {
    use std::sync::Arc;
    use std::time::Duration;

    use alloy_consensus::{SignableTransaction, Signed, TxEip4844, TxEip4844WithSidecar};
    use alloy_eips::eip2718::{Encodable2718, Typed2718};
    use alloy_eips::eip4844::Blob;
    use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
    use alloy_primitives::{Address, B256, U256};
    use ethpeer_actors::eth::{
        EthMessage, EthVersion, NewPooledTransactionHashes68, PooledTransactions, PooledTx,
        RequestPair, Transactions,
    };
    use ethpeer_actors::p2p::{self, DisconnectReason, P2pMessage};

    use ethpeer_actors::rlpx::RlpxMessage;
    use ethpeer_actors::session::Established;

    use ethpeer_actors::txs::pool::{TxPool, ValidatingTxPool};
    use futures::SinkExt;

    use tokio::io::DuplexStream;

    use super::{next, send};
    use crate::common::testdata_or_skip;
    use crate::tx_validation::{rules, sender};

    /// The ethtest sender's blob tx (nonce 603) carrying one blob, with a real KZG
    /// commitment and cell proofs; with `lie`, the sidecar's commitment is another blob's.
    fn blob_tx(key: B256, lie: bool) -> PooledTx {
        let sidecar = BlobTransactionSidecarEip7594::try_from_blobs_with_settings(
            vec![Blob::repeat_byte(1)],
            alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get(),
        )
        .expect("kzg");
        let tx = TxEip4844 {
            chain_id: rules().chain_id,
            nonce: 603,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: Address::repeat_byte(7),
            value: U256::ZERO,
            access_list: Default::default(),
            blob_versioned_hashes: sidecar.versioned_hashes().collect(),
            max_fee_per_blob_gas: 1_000_000_000,
            input: Default::default(),
        };
        let signature = alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash())
            .expect("signs");
        let mut sidecar = sidecar;
        if lie {
            let other = BlobTransactionSidecarEip7594::try_from_blobs_with_settings(
                vec![Blob::repeat_byte(2)],
                alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get(),
            )
            .expect("kzg");
            sidecar.commitments = other.commitments;
        }
        let sidecar = BlobTransactionSidecarVariant::Eip7594(sidecar);
        PooledTx::Eip4844(Signed::new_unhashed(
            TxEip4844WithSidecar { tx, sidecar },
            signature,
        ))
    }

    async fn node(
        dir: &std::path::Path,
    ) -> (Arc<ValidatingTxPool>, Vec<Established<DuplexStream>>) {
        super::node_with_remotes(dir, 2, false).await
    }

    fn announce(tx: &PooledTx) -> EthMessage {
        EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
            types: vec![tx.ty()].into(),
            sizes: vec![tx.encode_2718_len() as u64],
            hashes: vec![*tx.hash()],
        })
    }

    /// Answers the GetPooledTransactions for `tx`'s hash with `payload(request_id)`.
    async fn answer_with(
        remote: &mut Established<DuplexStream>,
        tx: &PooledTx,
        payload: impl Fn(u64) -> Vec<u8>,
    ) {
        let frame = next(remote).await;
        let request = EthMessage::decode(
            EthVersion::Eth68,
            (frame.id - remote.eth_offset) as u8,
            &frame.payload,
        )
        .expect("decodes");
        let EthMessage::GetPooledTransactions(request) = request else {
            panic!("expected GetPooledTransactions")
        };
        assert_eq!(request.message.0, vec![*tx.hash()]);
        let id = remote.eth_offset + 0x0a;
        remote
            .writer
            .send(RlpxMessage {
                id,
                payload: payload(request.request_id).into(),
            })
            .await
            .expect("send");
    }

    async fn answer(remote: &mut Established<DuplexStream>, tx: PooledTx) {
        let reply = |id| {
            EthMessage::PooledTransactions(RequestPair::new(
                id,
                PooledTransactions(vec![tx.clone()]),
            ))
            .encoded()
        };
        answer_with(remote, &tx, reply).await;
    }

    #[actix_rt::test]
    async fn a_blob_tx_without_its_sidecar_disconnects_its_sender_and_the_tx_comes_from_another_announcer(
    ) {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let good = blob_tx(key, false);
        let (pool, mut remotes) = node(&dir).await;
        let mut honest = remotes.pop().expect("honest");
        let mut liar = remotes.pop().expect("liar");
        send(&mut liar, &announce(&good)).await;
        send(&mut honest, &announce(&good)).await;
        // The consensus form: the blob tx without its sidecar, in a PooledTransactions.
        let bare: alloy_consensus::TxEnvelope = good.clone().into();
        let stripped = match bare {
            alloy_consensus::TxEnvelope::Eip4844(signed) => {
                let (tx, signature, hash) = (
                    signed.tx().tx().clone(),
                    *signed.signature(),
                    *signed.hash(),
                );
                alloy_consensus::TxEnvelope::Eip4844(Signed::new_unchecked(
                    tx.into(),
                    signature,
                    hash,
                ))
            }
            _ => unreachable!("a blob tx"),
        };
        answer_with(&mut liar, &good, |id| {
            alloy_rlp::encode(RequestPair::new(id, Transactions(vec![stripped.clone()])))
        })
        .await;
        // The next frame is the Disconnect, with the reason for a protocol breach: an
        // unanswered or late request never disconnects (the fetcher asks another
        // announcer), so the bad delivery is the cause, whatever the timing.
        let frame = next(&mut liar).await;
        assert_eq!(
            P2pMessage::decode(frame.id, &frame.payload),
            Ok(P2pMessage::Disconnect(Some(
                DisconnectReason::SubprotocolSpecific
            )))
        );
        answer(&mut honest, good.clone()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while pool.get(good.hash()).is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never fetched from the honest announcer"
            );
            tokio::task::yield_now().await;
        }
    }

    #[actix_rt::test]
    async fn a_mismatched_blob_sidecar_disconnects_its_sender_and_the_tx_comes_from_another_announcer(
    ) {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let (good, bad) = (blob_tx(key, false), blob_tx(key, true));
        assert_eq!(
            good.hash(),
            bad.hash(),
            "the sidecar is not part of the tx hash"
        );
        let (pool, mut remotes) = node(&dir).await;
        let mut honest = remotes.pop().expect("honest");
        let mut liar = remotes.pop().expect("liar");
        send(&mut liar, &announce(&bad)).await;
        send(&mut honest, &announce(&good)).await;
        answer(&mut liar, bad).await;
        // As above: a breach disconnect, which no timeout produces.
        let frame = next(&mut liar).await;
        assert_eq!(
            P2pMessage::decode(frame.id, &frame.payload),
            Ok(P2pMessage::Disconnect(Some(
                DisconnectReason::SubprotocolSpecific
            )))
        );
        assert_eq!(frame.id, p2p::ids::DISCONNECT);
        answer(&mut honest, good.clone()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while pool.get(good.hash()).is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never fetched from the honest announcer"
            );
            tokio::task::yield_now().await;
        }
    }
}

#[actix_rt::test]
async fn a_delivery_more_than_8_bytes_off_its_announced_size_disconnects() {
    let dir = testdata_or_skip!();
    let (_, key) = sender(&dir);
    let (pool, mut remote) = setup(&dir).await;
    let batch = txs(key, 1);
    let tx = &batch[0];
    let announcement = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![tx.ty()].into(),
        sizes: vec![tx.encode_2718_len() as u64 + 9],
        hashes: vec![*tx.hash()],
    });
    send(&mut remote, &announcement).await;
    let frame = next(&mut remote).await;
    let EthMessage::GetPooledTransactions(request) = EthMessage::decode(
        EthVersion::Eth68,
        (frame.id - remote.eth_offset) as u8,
        &frame.payload,
    )
    .expect("decodes") else {
        panic!("expected a request")
    };
    send(
        &mut remote,
        &EthMessage::PooledTransactions(request.answer(PooledTransactions(batch))),
    )
    .await;
    let frame = next(&mut remote).await;
    assert_eq!(
        P2pMessage::decode(frame.id, &frame.payload),
        Ok(P2pMessage::Disconnect(Some(
            DisconnectReason::SubprotocolSpecific
        )))
    );
    assert_eq!(pool.len(), 0);
}
