//! eth protocol behaviour end to end over loopback TCP: an ethpeer node (store with the
//! 600-block ethtest chain, peer set, request and block handlers, bounded accept loop)
//! and ethpeer clients dialing it at eth/68, 69 and 70.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use alloy_primitives::B256;
use ethpeer_actors::blocks::import::{BlockHandler, BlockHandlerLinks};
use ethpeer_actors::blocks::propagation::BlockPropagator;
use ethpeer_actors::chain::BlockPolicy;
use ethpeer_actors::eth::{
    EthBlock, EthMessage, EthVersion, GetBlockBodies, GetBlockHeaders, RequestPair,
};
use ethpeer_actors::p2p::{self, DisconnectReason, P2pMessage};
use ethpeer_actors::peer::InboundRoutes;
use ethpeer_actors::peer_set::PeerSetActor;
use ethpeer_actors::peer_set::{start_session_peer, SessionPeerLinks};
use ethpeer_actors::rlpx::RlpxMessage;
use ethpeer_actors::serve::RequestHandler;
use ethpeer_actors::session::{
    self, accept_loop, ChainStatus, Established, ListenerMetrics, SessionConfig, SessionError,
};
use ethpeer_actors::txs::pool::{InMemoryTxPool, TxPool};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::net::TcpStream;

use crate::common::testdata_or_skip;

struct Server {
    addr: std::net::SocketAddr,
    store: Arc<ethpeer_actors::chain::MemoryChainStore>,
    id: alloy_primitives::B512,
    status: ChainStatus,
    blocks: Vec<EthBlock>,
}

/// Starts a node serving the ethtest chain on 127.0.0.1:0.
async fn server(dir: &std::path::Path) -> Server {
    let crate::common::Ethtest {
        blocks,
        store,
        status,
    } = crate::common::ethtest(dir);
    let pool: Arc<dyn TxPool> = Arc::new(InMemoryTxPool::new());
    let set = PeerSetActor::new().start();
    let propagator = BlockPropagator::new(set.clone().recipient(), (1, 2)).start();
    let block_links = BlockHandlerLinks {
        mark: set.clone().recipient(),
        head: set.clone().recipient(),
        propagate: propagator.clone().recipient(),
        announce: propagator.recipient(),
        range: set.clone().recipient(),
    };
    let routes = InboundRoutes {
        requests: Some(RequestHandler::spawn(store.clone(), pool.clone(), 2).recipient()),
        cells: None,
        blocks: Some(
            BlockHandler::new(store.clone(), block_links, BlockPolicy::PostMerge)
                .start()
                .recipient(),
        ),
        transactions: None,
        seen: None,
        prefetch: None,
    };
    let config = SessionConfig::new(
        SecretKey::from_byte_array([0x51; 32]).expect("key"),
        "ethpeer/server",
    );
    let id = config.node_id();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let on_session = move |session: Established<TcpStream>, _| {
        let links = SessionPeerLinks {
            register: set.clone().recipient(),
            stopped: set.clone().recipient(),
            on_message: routes.clone(),
            keepalive: None,
            request_timeout: None,
            wire: None,
            remote: None,
        };
        let pool = pool.clone();
        async move {
            let _ = start_session_peer(session, pool, links).await;
        }
    };
    let metrics = Arc::new(ListenerMetrics::default());
    tokio::task::spawn_local(accept_loop(
        listener,
        Arc::new(config),
        Arc::new(status.clone()),
        50,
        metrics,
        |_| true,
        on_session,
    ));
    Server {
        addr,
        store: store.clone(),
        id,
        status,
        blocks,
    }
}

async fn client(
    server: &Server,
    key: u8,
    version: EthVersion,
    status: &ChainStatus,
) -> Result<Established<TcpStream>, SessionError> {
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut config = SessionConfig::new(
        SecretKey::from_byte_array([key; 32]).expect("key"),
        format!("client-{key}"),
    );
    config.eth_versions = vec![version];
    session::dial(stream, &config, server.id, status).await
}

async fn send(client: &mut Established<TcpStream>, message: &EthMessage) {
    let id = client.eth_offset + message.message_id() as u64;
    client
        .writer
        .send(RlpxMessage {
            id,
            payload: message.encoded().into(),
        })
        .await
        .expect("send");
}

/// The next eth message, or the disconnect reason if the server hung up.
async fn next(client: &mut Established<TcpStream>) -> Result<EthMessage, Option<DisconnectReason>> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), client.reader.next())
            .await
            .expect("in time");
        let Some(Ok(frame)) = frame else {
            return Err(None);
        };
        if frame.id == p2p::ids::DISCONNECT {
            let Ok(P2pMessage::Disconnect(reason)) = P2pMessage::decode(frame.id, &frame.payload)
            else {
                return Err(None);
            };
            return Err(reason);
        }
        if frame.id >= client.eth_offset {
            return Ok(EthMessage::decode(
                client.eth_version,
                (frame.id - client.eth_offset) as u8,
                &frame.payload,
            )
            .expect("server sends valid messages"));
        }
    }
}

fn headers(
    id: u64,
    start: alloy_eips::BlockHashOrNumber,
    limit: u64,
    skip: u64,
    reverse: bool,
) -> EthMessage {
    EthMessage::GetBlockHeaders(RequestPair::new(
        id,
        GetBlockHeaders {
            start_block: start,
            limit,
            skip,
            reverse,
        },
    ))
}

fn header_numbers(message: EthMessage, id: u64) -> Vec<u64> {
    let EthMessage::BlockHeaders(reply) = message else {
        panic!("expected BlockHeaders, got {message:?}")
    };
    assert_eq!(reply.request_id, id);
    reply.message.0.iter().map(|h| h.number).collect()
}

#[actix_rt::test]
async fn status_succeeds_at_68_69_70_and_mismatches_get_subprotocol_error() {
    let dir = testdata_or_skip!();
    let server = server(&dir).await;
    for (key, version) in [
        (1, EthVersion::Eth68),
        (2, EthVersion::Eth69),
        (3, EthVersion::Eth70),
    ] {
        let session = client(&server, key, version, &server.status)
            .await
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(session.eth_version, version);
    }
    let mut wrong_genesis = server.status.clone();
    wrong_genesis.genesis = B256::repeat_byte(1);
    let mut wrong_network = server.status.clone();
    wrong_network.network_id += 1;
    let mut wrong_fork = server.status.clone();
    wrong_fork.forks.time_forks = vec![60, 121];
    let mut bad_range = server.status.clone();
    bad_range.earliest = bad_range.head_number + 1;
    for (key, (what, status)) in [
        ("genesis", wrong_genesis),
        ("network id", wrong_network),
        ("fork id", wrong_fork),
        ("earliest > latest", bad_range),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = client(&server, 10 + key as u8, EthVersion::Eth69, &status).await;
        let reason = match outcome {
            // We may reject the server's Status first, or it rejects ours and hangs up.
            Err(SessionError::StatusRejected { disconnect, .. }) => Some(disconnect),
            Err(SessionError::RemoteDisconnected { reason, .. }) => reason,
            Ok(mut session) => next(&mut session).await.expect_err("server hangs up"),
            Err(other) => panic!("{what}: {other}"),
        };
        assert_eq!(
            reason,
            Some(DisconnectReason::SubprotocolSpecific),
            "{what}"
        );
    }
}

#[actix_rt::test]
async fn header_and_body_requests_over_loopback() {
    let dir = testdata_or_skip!();
    let server = server(&dir).await;
    let mut c = client(&server, 4, EthVersion::Eth68, &server.status)
        .await
        .expect("session");
    let hash1 = server.blocks[0].header.hash_slow();
    send(&mut c, &headers(1, hash1.into(), 2, 1, false)).await;
    send(&mut c, &headers(1, 600u64.into(), 3, 0, true)).await;
    send(&mut c, &headers(0, u64::MAX.into(), 1, 0, false)).await;
    // Requests are served on worker threads, so replies may come in any order; the ids
    // (the same id twice is answered like any other) tell them apart.
    let mut replies = Vec::new();
    for _ in 0..3 {
        let EthMessage::BlockHeaders(reply) = next(&mut c).await.expect("reply") else {
            panic!("expected BlockHeaders")
        };
        let numbers: Vec<u64> = reply.message.0.iter().map(|h| h.number).collect();
        replies.push((reply.request_id, numbers));
    }
    replies.sort();
    assert_eq!(
        replies,
        vec![(0, vec![]), (1, vec![1, 3]), (1, vec![600, 599, 598])]
    );
    let (b54, b75) = (&server.blocks[53], &server.blocks[74]);
    send(
        &mut c,
        &EthMessage::GetBlockBodies(RequestPair::new(
            9,
            GetBlockBodies(vec![b54.header.hash_slow(), b75.header.hash_slow()]),
        )),
    )
    .await;
    let EthMessage::BlockBodies(reply) = next(&mut c).await.expect("reply") else {
        panic!("expected BlockBodies")
    };
    assert_eq!(reply.request_id, 9);
    assert_eq!(reply.message.0, vec![b54.body.clone(), b75.body.clone()]);
}

#[actix_rt::test]
async fn each_violation_disconnects_the_offender_while_another_peer_keeps_working() {
    use ethpeer_actors::eth::{BlockHeaders, BlockRangeUpdate, NewPooledTransactionHashes68};
    let dir = testdata_or_skip!();
    let server = server(&dir).await;
    let mut bystander = client(&server, 5, EthVersion::Eth68, &server.status)
        .await
        .expect("session");
    let violations: Vec<(EthVersion, u64, Vec<u8>)> = vec![
        // Undecodable: a truncated GetBlockHeaders.
        (EthVersion::Eth68, 0x03, vec![0xc8, 0x01]),
        // NewBlock does not exist on eth/69.
        (EthVersion::Eth69, 0x07, vec![0xc0]),
        // An unsolicited response.
        (
            EthVersion::Eth68,
            0x04,
            EthMessage::BlockHeaders(RequestPair::new(77, BlockHeaders(vec![]))).encoded(),
        ),
        // eth/68 announcement lists of unequal length.
        (EthVersion::Eth68, 0x08, {
            let ann = NewPooledTransactionHashes68 {
                types: vec![2, 2].into(),
                sizes: vec![1],
                hashes: vec![B256::ZERO],
            };
            alloy_rlp::encode(&ann)
        }),
        // Duplicate hashes in one announcement.
        (
            EthVersion::Eth68,
            0x08,
            alloy_rlp::encode(NewPooledTransactionHashes68 {
                types: vec![2, 2].into(),
                sizes: vec![1, 1],
                hashes: vec![B256::ZERO, B256::ZERO],
            }),
        ),
        // BlockRangeUpdate with earliest > latest.
        (
            EthVersion::Eth69,
            0x11,
            alloy_rlp::encode(BlockRangeUpdate {
                earliest: 9,
                latest: 1,
                latest_hash: B256::repeat_byte(1),
            }),
        ),
        // A message over 10 MiB.
        (EthVersion::Eth68, 0x02, vec![0u8; 10 * 1024 * 1024 + 1]),
    ];
    for (n, (version, code, payload)) in violations.into_iter().enumerate() {
        let mut offender = client(&server, 20 + n as u8, version, &server.status)
            .await
            .expect("session");
        offender
            .writer
            .send(RlpxMessage {
                id: offender.eth_offset + code,
                payload: payload.into(),
            })
            .await
            .expect("send");
        assert_eq!(
            next(&mut offender).await.expect_err("disconnected"),
            Some(DisconnectReason::SubprotocolSpecific),
            "violation {n}"
        );
        // The bystander is still served.
        send(&mut bystander, &headers(n as u64, 1u64.into(), 1, 0, false)).await;
        assert_eq!(
            header_numbers(next(&mut bystander).await.expect("served"), n as u64),
            vec![1]
        );
    }
}

/// The forged head of issue 14: a well-formed child of the ethtest head (right parent,
/// number, time +12, same gas limit, empty body with matching roots, no seal; the chain is
/// post-merge) sent as NewBlock at eth/68 used to become our head. Now it is a violation:
/// the sender is disconnected with 0x10 and nothing is stored; NewBlockHashes likewise;
/// another peer keeps being served the real head.
#[actix_rt::test]
async fn a_forged_block_on_the_post_merge_chain_disconnects_and_stores_nothing() {
    use alloy_consensus::{BlockBody, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
    use ethpeer_actors::chain::{validate_block, ChainStore};
    use ethpeer_actors::eth::{BlockHashNumber, NewBlock, NewBlockHashes};
    let dir = testdata_or_skip!();
    let server = server(&dir).await;
    let head = server.store.head();
    let mut header = head.clone();
    header.parent_hash = head.hash_slow();
    header.number = head.number + 1;
    header.timestamp = head.timestamp + 12;
    header.transactions_root = EMPTY_ROOT_HASH;
    header.ommers_hash = EMPTY_OMMER_ROOT_HASH;
    header.withdrawals_root = Some(EMPTY_ROOT_HASH);
    let forged = EthBlock {
        header,
        body: BlockBody {
            transactions: vec![],
            ommers: vec![],
            withdrawals: Some(Default::default()),
        },
    };
    // Well-formed: every check that needs no consensus client passes.
    validate_block(&head, &forged).expect("a well-formed child");
    let hash = forged.header.hash_slow();
    let mut bystander = client(&server, 6, EthVersion::Eth68, &server.status)
        .await
        .expect("session");
    let broadcasts = [
        EthMessage::NewBlock(Box::new(NewBlock {
            block: forged.clone(),
            td: alloy_primitives::U256::from(0x20000),
        })),
        EthMessage::NewBlockHashes(NewBlockHashes(vec![BlockHashNumber {
            hash,
            number: forged.header.number,
        }])),
    ];
    for (n, message) in broadcasts.iter().enumerate() {
        let mut attacker = client(&server, 40 + n as u8, EthVersion::Eth68, &server.status)
            .await
            .expect("session");
        send(&mut attacker, message).await;
        assert_eq!(
            next(&mut attacker).await.expect_err("disconnected"),
            Some(DisconnectReason::SubprotocolSpecific),
            "{:?}",
            message.message_id()
        );
        send(
            &mut bystander,
            &headers(n as u64, 600u64.into(), 1, 0, false),
        )
        .await;
        assert_eq!(
            header_numbers(next(&mut bystander).await.expect("served"), n as u64),
            vec![600]
        );
    }
    assert!(server.store.header_by_hash(&hash).is_none(), "stored");
    assert_eq!(server.store.head().hash_slow(), head.hash_slow());
    // The next peer's Status still names the real head.
    let session = client(&server, 50, EthVersion::Eth68, &server.status)
        .await
        .expect("session");
    let EthMessage::Status(status) = session.remote_status else {
        panic!("eth/68 Status")
    };
    assert_eq!(status.best_hash, head.hash_slow());
}
