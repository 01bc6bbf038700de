//! Peer actors on real RLPx sessions (over `tokio::io::duplex`): messages both ways,
//! keepalive answers, remote disconnects and violations.

use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::{B256, U256};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::io::DuplexStream;

use super::*;
use crate::eth::forkid::ForkSchedule;
use crate::eth::{EthMessage, EthMessageId, EthVersion};
use crate::p2p::{self, DisconnectReason, P2pMessage};
use crate::peer_set::{start_session_peer, Len, PeerSetActor, SessionPeerLinks};
use crate::rlpx::RlpxMessage;
use crate::session::{accept, dial, ChainStatus, Established, SessionConfig};
use crate::testing::{pool, sender, tx};

fn status() -> ChainStatus {
    let genesis = B256::repeat_byte(1);
    ChainStatus {
        network_id: 7,
        genesis,
        forks: ForkSchedule {
            genesis_hash: genesis,
            genesis_timestamp: 0,
            block_forks: vec![],
            time_forks: vec![],
        },
        head_number: 10,
        head_timestamp: 100,
        head_hash: B256::repeat_byte(2),
        total_difficulty: U256::from(1),
        earliest: 0,
    }
}

async fn sessions(version: EthVersion) -> (Established<DuplexStream>, Established<DuplexStream>) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let mut ca = SessionConfig::new(SecretKey::from_byte_array([1; 32]).expect("key"), "a");
    let mut cb = SessionConfig::new(SecretKey::from_byte_array([2; 32]).expect("key"), "b");
    ca.eth_versions = vec![version];
    cb.eth_versions = vec![version];
    let status = status();
    let (da, db) = tokio::join!(dial(a, &ca, cb.node_id(), &status), accept(b, &cb, &status));
    (da.expect("dialer"), db.expect("acceptor"))
}

/// Collects inbound eth messages.
struct Inbox(mpsc::UnboundedSender<InboundEth>);
impl Actor for Inbox {
    type Context = Context<Self>;
}
impl Handler<InboundEth> for Inbox {
    type Result = ();
    fn handle(&mut self, msg: InboundEth, _: &mut Self::Context) {
        let _ = self.0.unbounded_send(msg);
    }
}

fn links(set: &Addr<PeerSetActor>) -> (SessionPeerLinks, mpsc::UnboundedReceiver<InboundEth>) {
    let (tx, rx) = mpsc::unbounded();
    let inbox = Inbox(tx).start();
    (
        SessionPeerLinks {
            register: set.clone().recipient(),
            stopped: set.clone().recipient(),
            on_message: InboundRoutes::all(inbox.recipient()),
            keepalive: None,
            request_timeout: None,
            wire: None,
            remote: None,
        },
        rx,
    )
}

#[actix_rt::test]
async fn two_session_peers_exchange_transactions_both_ways() {
    let (sa, sb) = sessions(EthVersion::Eth68).await;
    let (mem, pool) = pool();
    let txs: Vec<_> = (0..20).map(|n| tx(sender(1), n, 100)).collect();
    let hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    mem.insert(txs);
    let (set_a, set_b) = (PeerSetActor::new().start(), PeerSetActor::new().start());
    let (links_a, mut inbox_a) = links(&set_a);
    let (links_b, mut inbox_b) = links(&set_b);
    let a = start_session_peer(sa, pool.clone(), links_a)
        .await
        .expect("registered at A");
    let b = start_session_peer(sb, pool, links_b)
        .await
        .expect("registered at B");
    assert_eq!(set_a.send(Len).await.expect("alive"), 1);

    a.txs.try_send(QueueTxs(hashes.clone())).expect("queued");
    b.tx_anns
        .try_send(QueueTxAnns(hashes.clone()))
        .expect("queued");
    let at_b = inbox_b.next().await.expect("message at B");
    let EthMessage::Transactions(got) = at_b.message else {
        panic!("expected Transactions, got {:?}", at_b.message)
    };
    assert_eq!(
        got.0.iter().map(|t| *t.tx_hash()).collect::<Vec<_>>(),
        hashes
    );
    let at_a = inbox_a.next().await.expect("message at A");
    let EthMessage::NewPooledTransactionHashes68(ann) = at_a.message else {
        panic!("expected an announcement")
    };
    assert_eq!(ann.hashes, hashes);
}

#[actix_rt::test]
async fn pings_are_answered_and_a_remote_disconnect_unregisters_the_peer() {
    let (sa, mut raw) = sessions(EthVersion::Eth69).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (links, _inbox) = links(&set);
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    raw.writer
        .send(RlpxMessage {
            id: p2p::ids::PING,
            payload: P2pMessage::Ping.encoded().into(),
        })
        .await
        .expect("ping");
    let pong = raw.reader.next().await.expect("frame").expect("valid");
    assert_eq!(
        pong.id,
        p2p::ids::PONG,
        "{:?}",
        P2pMessage::decode(pong.id, &pong.payload)
    );
    let bye = P2pMessage::Disconnect(Some(DisconnectReason::TooManyPeers)).encoded();
    raw.writer
        .send(RlpxMessage {
            id: p2p::ids::DISCONNECT,
            payload: bye.into(),
        })
        .await
        .expect("disconnect");
    // The peer set hears of the stop; wait for it through a query, not a sleep.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while set.send(Len).await.expect("alive") != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "peer not unregistered"
        );
        tokio::task::yield_now().await;
    }
}

#[actix_rt::test]
async fn an_illegal_message_is_answered_with_a_subprotocol_disconnect() {
    let (sa, mut raw) = sessions(EthVersion::Eth69).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (links, _inbox) = links(&set);
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    // NewBlockHashes (0x01) does not exist on eth/69.
    raw.writer
        .send(RlpxMessage {
            id: raw.eth_offset + 1,
            payload: vec![0xc0].into(),
        })
        .await
        .expect("send");
    let frame = raw.reader.next().await.expect("frame").expect("valid");
    assert_eq!(frame.id, p2p::ids::DISCONNECT);
    assert_eq!(
        P2pMessage::decode(frame.id, &frame.payload),
        Ok(P2pMessage::Disconnect(Some(
            DisconnectReason::SubprotocolSpecific
        )))
    );
}

#[actix_rt::test]
async fn an_unanswered_ping_ends_in_ping_timeout_and_the_close_waits_for_the_remote() {
    // Paused clock: it moves only when the runtime idles or the test advances it, so the
    // grace period can be measured against the remote's close without racing it.
    tokio::time::pause();
    let (sa, mut raw) = sessions(EthVersion::Eth68).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (mut links, _inbox) = links(&set);
    links.keepalive = Some((Duration::from_millis(20), Duration::from_millis(60)));
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    let ping = raw.reader.next().await.expect("frame").expect("valid");
    assert_eq!(ping.id, p2p::ids::PING);
    // We never answer: the next frame is the Disconnect.
    let frame = raw.reader.next().await.expect("frame").expect("valid");
    assert_eq!(
        P2pMessage::decode(frame.id, &frame.payload),
        Ok(P2pMessage::Disconnect(Some(DisconnectReason::PingTimeout)))
    );
    let sent = tokio::time::Instant::now();
    // The peer is still registered most of the grace period later, while we keep the
    // connection open...
    tokio::time::advance(DISCONNECT_GRACE - Duration::from_millis(100)).await;
    assert_eq!(set.send(Len).await.expect("alive"), 1);
    // ...and goes once we close, before the grace period would have stopped it.
    drop(raw);
    while set.send(Len).await.expect("alive") != 0 {
        assert!(
            tokio::time::Instant::now() < sent + DISCONNECT_GRACE,
            "the peer went only when its grace period ran out, not on our close"
        );
        // Lets the actor run; the paused clock moves 1 ms only if all else is idle.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn get_headers(limit: u64) -> EthMessage {
    use crate::eth::{GetBlockHeaders, RequestPair};
    // The id is a placeholder: the peer actor assigns its own.
    EthMessage::GetBlockHeaders(RequestPair::new(
        999,
        GetBlockHeaders {
            start_block: 1u64.into(),
            limit,
            skip: 0,
            reverse: false,
        },
    ))
}

async fn next_eth(raw: &mut Established<DuplexStream>) -> RlpxMessage {
    loop {
        let frame = raw.reader.next().await.expect("frame").expect("valid");
        if frame.id >= raw.eth_offset || frame.id == p2p::ids::DISCONNECT {
            return frame;
        }
    }
}

async fn expect_subprotocol_disconnect(raw: &mut Established<DuplexStream>) {
    let frame = next_eth(raw).await;
    assert_eq!(frame.id, p2p::ids::DISCONNECT);
    assert_eq!(
        P2pMessage::decode(frame.id, &frame.payload),
        Ok(P2pMessage::Disconnect(Some(
            DisconnectReason::SubprotocolSpecific
        )))
    );
}

async fn session_peer(
    version: EthVersion,
    request_timeout: Option<Duration>,
) -> (PeerHandle, Established<DuplexStream>) {
    let (sa, raw) = sessions(version).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (mut links, _inbox) = links(&set);
    links.request_timeout = request_timeout;
    (
        start_session_peer(sa, pool, links)
            .await
            .expect("registered"),
        raw,
    )
}

#[actix_rt::test]
async fn a_request_gets_its_matching_response_and_ids_are_assigned() {
    use crate::eth::{BlockHeaders, RequestPair};
    let (peer, mut raw) = session_peer(EthVersion::Eth68, None).await;
    let pending = peer.requests.send(SendRequest(get_headers(2)));
    let answer = async {
        let frame = next_eth(&mut raw).await;
        let EthMessage::GetBlockHeaders(request) = EthMessage::decode(
            EthVersion::Eth68,
            (frame.id - raw.eth_offset) as u8,
            &frame.payload,
        )
        .expect("decodes") else {
            panic!("expected GetBlockHeaders")
        };
        assert_ne!(request.request_id, 999, "the actor assigns ids");
        let reply =
            EthMessage::BlockHeaders(request.answer(BlockHeaders(vec![Default::default()])));
        raw.writer
            .send(RlpxMessage {
                id: raw.eth_offset + 4,
                payload: reply.encoded().into(),
            })
            .await
            .expect("reply");
        request.request_id
    };
    let (response, id) = tokio::join!(pending, answer);
    let response = response.expect("actor alive").expect("answered");
    assert!(
        matches!(response, EthMessage::BlockHeaders(RequestPair { request_id, .. }) if request_id == id)
    );
}

#[actix_rt::test]
async fn an_unanswered_request_times_out_and_its_late_answer_is_dropped_quietly() {
    let (peer, mut raw) = session_peer(EthVersion::Eth68, Some(Duration::from_millis(50))).await;
    let result = peer
        .requests
        .send(SendRequest(get_headers(1)))
        .await
        .expect("actor alive");
    assert_eq!(
        result,
        Err(RequestError::Timeout {
            after: Duration::from_millis(50)
        })
    );
    // The request went out with id 0; answering it now is late, not unsolicited.
    let request = next_eth(&mut raw).await;
    assert_eq!(request.id, raw.eth_offset + 0x03);
    let late = EthMessage::BlockHeaders(crate::eth::RequestPair::new(
        0,
        crate::eth::BlockHeaders(vec![]),
    ));
    raw.writer
        .send(RlpxMessage {
            id: raw.eth_offset + 0x04,
            payload: late.encoded().into(),
        })
        .await
        .expect("send");
    // A Ping round trip orders the check after the late answer was read.
    raw.writer
        .send(RlpxMessage {
            id: p2p::ids::PING,
            payload: P2pMessage::Ping.encoded().into(),
        })
        .await
        .expect("send");
    loop {
        let frame = raw.reader.next().await.expect("frame").expect("valid");
        assert_ne!(
            frame.id,
            p2p::ids::DISCONNECT,
            "disconnected for a late answer"
        );
        if frame.id == p2p::ids::PONG {
            break;
        }
    }
    assert_eq!(PeerMetrics::get(&peer.metrics.late_responses), 1);
    assert!(peer.requests.connected(), "still connected");
}

#[actix_rt::test]
async fn unsolicited_wrong_type_and_oversized_responses_disconnect() {
    use crate::eth::{BlockBodies, BlockHeaders, RequestPair};
    // Unsolicited: a BlockHeaders nobody asked for.
    let (_peer, mut raw) = session_peer(EthVersion::Eth68, None).await;
    let stray = EthMessage::BlockHeaders(RequestPair::new(5, BlockHeaders(vec![])));
    raw.writer
        .send(RlpxMessage {
            id: raw.eth_offset + 4,
            payload: stray.encoded().into(),
        })
        .await
        .expect("send");
    expect_subprotocol_disconnect(&mut raw).await;

    // Wrong type, then more items than asked for.
    for wrong_type in [true, false] {
        let (peer, mut raw) = session_peer(EthVersion::Eth68, None).await;
        let pending = peer.requests.send(SendRequest(get_headers(1)));
        let misbehave = async {
            let frame = next_eth(&mut raw).await;
            let request =
                EthMessage::decode(EthVersion::Eth68, 3, &frame.payload).expect("decodes");
            let id = request.request_id().expect("id");
            let (code, reply) = if wrong_type {
                (
                    6,
                    EthMessage::BlockBodies(RequestPair::new(id, BlockBodies(vec![]))),
                )
            } else {
                (
                    4,
                    EthMessage::BlockHeaders(RequestPair::new(
                        id,
                        BlockHeaders(vec![Default::default(), Default::default()]),
                    )),
                )
            };
            raw.writer
                .send(RlpxMessage {
                    id: raw.eth_offset + code,
                    payload: reply.encoded().into(),
                })
                .await
                .expect("send");
            expect_subprotocol_disconnect(&mut raw).await;
        };
        let (result, ()) = tokio::join!(pending, misbehave);
        assert_eq!(
            result.expect("actor alive"),
            Err(RequestError::PeerGone),
            "wrong type: {wrong_type}"
        );
    }
}

#[actix_rt::test]
async fn blob_transactions_oversized_broadcasts_and_duplicate_announcements_disconnect() {
    use crate::eth::{NewPooledTransactionHashes68, Transactions};
    let blob = crate::testing::blob_tx(sender(1), 0);
    let crate::eth::PooledTx::Eip4844(signed) = blob.tx.clone() else {
        panic!("blob")
    };
    let (tx, signature, hash) = (signed.tx().tx.clone(), *signed.signature(), *signed.hash());
    let consensus = alloy_consensus::TxEnvelope::Eip4844(alloy_consensus::Signed::new_unchecked(
        tx.into(),
        signature,
        hash,
    ));
    let bad = [
        (
            2u64,
            EthMessage::Transactions(Transactions(vec![consensus])),
        ),
        // One more transaction than geth's maxTransactionAnnouncements.
        (
            2u64,
            EthMessage::Transactions(Transactions(vec![
                crate::testing::tx(sender(1), 0, 100)
                    .broadcast_form()
                    .expect("not a blob tx");
                MAX_TRANSACTIONS_PER_MESSAGE + 1
            ])),
        ),
        (
            8,
            EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                types: vec![2, 2].into(),
                sizes: vec![100, 100],
                hashes: vec![B256::ZERO, B256::ZERO],
            }),
        ),
    ];
    for (code, message) in bad {
        let (_peer, mut raw) = session_peer(EthVersion::Eth68, None).await;
        raw.writer
            .send(RlpxMessage {
                id: raw.eth_offset + code,
                payload: message.encoded().into(),
            })
            .await
            .expect("send");
        expect_subprotocol_disconnect(&mut raw).await;
    }
}

/// A registered session peer whose inbound messages all go to an inbox that keeps them,
/// the remote end of its session, and paused time from here on.
async fn peer_with_inbox(
    version: EthVersion,
) -> (
    Established<DuplexStream>,
    mpsc::UnboundedReceiver<InboundEth>,
) {
    let (sa, raw) = sessions(version).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (links, inbox) = links(&set);
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    tokio::time::pause();
    (raw, inbox)
}

/// A peer that asks and asks: the request handler (here an inbox that never answers) sees
/// only [`MAX_UNANSWERED_REQUESTS`] of its 50 requests while none is answered, because the
/// socket is no longer read; one answer lets exactly one more in.
#[actix_rt::test]
async fn a_peer_with_four_unanswered_requests_is_not_read_further() {
    let (mut raw, mut inbox) = peer_with_inbox(EthVersion::Eth68).await;
    for _ in 0..50 {
        raw.writer
            .send(RlpxMessage {
                id: raw.eth_offset + EthMessageId::GetBlockHeaders as u64,
                payload: get_headers(600).encoded().into(),
            })
            .await
            .expect("send");
    }
    let mut routed = Vec::new();
    for _ in 0..MAX_UNANSWERED_REQUESTS {
        routed.push(inbox.next().await.expect("a request"));
    }
    // Paused time advances only when every task is idle: the actor had every chance to
    // read more.
    let more = tokio::time::timeout(Duration::from_secs(1), inbox.next()).await;
    assert!(more.is_err(), "a fifth request was read");
    // Answer one: its reply is written and the next request comes through.
    let first = routed.remove(0);
    let EthMessage::GetBlockHeaders(request) = &first.message else {
        panic!("{:?}", first.message)
    };
    let answer = EthMessage::BlockHeaders(request.answer(crate::eth::BlockHeaders(vec![])));
    first.peer.send.do_send(SendEth(answer));
    assert!(inbox.next().await.is_some(), "reading resumed");
    let more = tokio::time::timeout(Duration::from_secs(1), inbox.next()).await;
    assert!(more.is_err(), "only one slot was freed");
    assert_eq!(next_eth(&mut raw).await.id, raw.eth_offset + 0x04);
}

#[actix_rt::test]
async fn a_peer_whose_messages_wait_in_a_stuck_handler_is_not_read_further() {
    use crate::eth::NewPooledTransactionHashes66;
    // eth/67: announcements are plain hash lists. The inbox stands for a handler that has
    // not got to the messages yet: it holds them, tickets and all.
    let (mut raw, mut inbox) = peer_with_inbox(EthVersion::Eth67).await;
    for n in 0..(MAX_INBOUND_IN_FLIGHT as u8 + 10) {
        let ann = NewPooledTransactionHashes66(vec![B256::repeat_byte(n)]);
        raw.writer
            .send(RlpxMessage {
                id: raw.eth_offset + EthMessageId::NewPooledTransactionHashes as u64,
                payload: EthMessage::NewPooledTransactionHashes66(ann)
                    .encoded()
                    .into(),
            })
            .await
            .expect("send");
    }
    let mut held = Vec::new();
    for _ in 0..MAX_INBOUND_IN_FLIGHT {
        held.push(inbox.next().await.expect("an announcement"));
    }
    // Paused time advances only when every task is idle: the actor had every chance to
    // read more.
    let more = tokio::time::timeout(Duration::from_secs(1), inbox.next()).await;
    assert!(
        more.is_err(),
        "read past {MAX_INBOUND_IN_FLIGHT} messages in flight"
    );
    // The handler takes one: the next message comes through, and only one.
    drop(held.remove(0));
    held.push(inbox.next().await.expect("reading resumed"));
    let more = tokio::time::timeout(Duration::from_secs(1), inbox.next()).await;
    assert!(more.is_err(), "only one slot was freed");
}

/// Writes `message` as the remote on `raw`.
async fn remote_says(raw: &mut Established<DuplexStream>, message: EthMessage) {
    raw.writer
        .send(RlpxMessage {
            id: raw.eth_offset + message.message_id() as u64,
            payload: message.encoded().into(),
        })
        .await
        .expect("send");
}

#[actix_rt::test]
async fn with_prefetch_claims_the_peer_asks_for_never_seen_hashes_itself() {
    use crate::eth::{NewPooledTransactionHashes68, PooledTransactions, RequestPair};
    use alloy_eips::eip2718::{Encodable2718, Typed2718};
    let (sa, mut raw) = sessions(EthVersion::Eth68).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (mut links, mut inbox) = links(&set);
    let claims = std::sync::Arc::new(PrefetchClaims::default());
    links.on_message.prefetch = Some(claims.clone());
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    let txs: Vec<_> = (0..3).map(|n| tx(sender(1), n, 100)).collect();
    // Another peer claimed the third already; the fourth is a blob tx (never prefetched).
    assert!(claims.claim(txs[2].hash));
    let blob = B256::repeat_byte(0xb1);
    let mut types: Vec<u8> = txs.iter().map(|t| t.tx.ty()).collect();
    types.push(3);
    let mut sizes: Vec<u64> = txs.iter().map(|t| t.tx.encode_2718_len() as u64).collect();
    sizes.push(131_300);
    let mut hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    hashes.push(blob);
    let ann = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: types.into(),
        sizes,
        hashes,
    });
    remote_says(&mut raw, ann.clone()).await;

    let wanted = vec![txs[0].hash, txs[1].hash];
    let frame = raw.reader.next().await.expect("frame").expect("valid");
    let id = u8::try_from(frame.id - raw.eth_offset).expect("eth id");
    let Ok(EthMessage::GetPooledTransactions(request)) =
        EthMessage::decode(EthVersion::Eth68, id, &frame.payload)
    else {
        panic!("expected GetPooledTransactions, got id {id}")
    };
    assert_eq!(request.message.0, wanted);
    let told = inbox.next().await.expect("the announcement");
    assert!(matches!(
        told.message,
        EthMessage::NewPooledTransactionHashes68(_)
    ));
    assert_eq!(told.prefetched, wanted, "the inbox is told what was asked");

    let answer = PooledTransactions(txs[..2].iter().map(|t| t.tx.clone()).collect());
    remote_says(
        &mut raw,
        EthMessage::PooledTransactions(RequestPair::new(request.request_id, answer)),
    )
    .await;
    let answered = inbox.next().await.expect("the answer forwarded");
    let EthMessage::PooledTransactions(reply) = answered.message else {
        panic!("expected the answer, got {:?}", answered.message)
    };
    let got: Vec<B256> = reply.message.0.iter().map(|t| *t.hash()).collect();
    assert_eq!(got, wanted);

    assert_eq!(
        answered.prefetched, wanted,
        "the answer names what it answers"
    );

    // Announced again: claimed already, so left to the inbox.
    remote_says(&mut raw, ann).await;
    let again = inbox.next().await.expect("the second announcement");
    assert!(again.prefetched.is_empty());
    // A new hash after the answer: the one prefetch in flight is over, so it is asked for.
    let next = tx(sender(1), 3, 100);
    let ann = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![next.tx.ty()].into(),
        sizes: vec![next.tx.encode_2718_len() as u64],
        hashes: vec![next.hash],
    });
    remote_says(&mut raw, ann).await;
    let later = inbox.next().await.expect("the third announcement");
    assert_eq!(later.prefetched, vec![next.hash]);
}

#[actix_rt::test]
async fn an_unanswered_prefetch_reaches_the_inbox_as_an_empty_answer() {
    use crate::eth::NewPooledTransactionHashes68;
    use alloy_eips::eip2718::{Encodable2718, Typed2718};
    tokio::time::pause();
    let (sa, mut raw) = sessions(EthVersion::Eth68).await;
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let (mut links, mut inbox) = links(&set);
    links.on_message.prefetch = Some(std::sync::Arc::new(PrefetchClaims::default()));
    links.request_timeout = Some(Duration::from_millis(50));
    start_session_peer(sa, pool, links)
        .await
        .expect("registered");
    let t = tx(sender(1), 0, 100);
    let ann = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![t.tx.ty()].into(),
        sizes: vec![t.tx.encode_2718_len() as u64],
        hashes: vec![t.hash],
    });
    remote_says(&mut raw, ann).await;
    let request = raw.reader.next().await.expect("frame").expect("valid");
    assert_eq!(
        request.id - raw.eth_offset,
        EthMessageId::GetPooledTransactions as u64
    );
    let told = inbox.next().await.expect("the announcement");
    assert_eq!(told.prefetched, vec![t.hash]);
    // Never answered: after the request timeout the inbox hears that nothing came.
    let failed = inbox.next().await.expect("the empty answer");
    let EthMessage::PooledTransactions(reply) = failed.message else {
        panic!("expected an empty answer, got {:?}", failed.message)
    };
    assert!(reply.message.0.is_empty());
    assert_eq!(failed.prefetched, vec![t.hash]);
}
