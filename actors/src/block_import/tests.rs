//! Three nodes in a line, A - B - C (A and C not connected), each with a store, peer set,
//! propagator, request handler and block handler, over RLPx sessions on loopback TCP:
//! a block propagated or only announced at A reaches C.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_consensus::{Header, EMPTY_ROOT_HASH};
use alloy_primitives::B256;
use secp256k1::SecretKey;

use super::*;
use crate::block_propagation::{AnnounceBlock, BlockPropagator, PropagateBlock};
use crate::chain::{BlockPolicy, ChainStore, MemoryChainStore};
use crate::eth::forkid::ForkSchedule;
use crate::eth::{EthBlock, EthMessage, EthVersion};
use crate::peer::{start_session_peer, InboundRoutes, SessionPeerLinks};
use crate::peer_set::PeerSetActor;
use crate::requests::RequestHandler;
use crate::session::{accept, dial, ChainStatus, Established, SessionConfig};
use crate::tx_pool::{InMemoryTxPool, TxPool};

fn child(parent: &Header) -> EthBlock {
    let header = Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        number: parent.number + 1,
        timestamp: parent.timestamp + 12,
        gas_limit: parent.gas_limit,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        ..Default::default()
    };
    EthBlock {
        header,
        body: Default::default(),
    }
}

struct Node {
    store: Arc<MemoryChainStore>,
    set: Addr<PeerSetActor>,
    propagator: Addr<BlockPropagator>,
    routes: InboundRoutes,
    config: SessionConfig,
    pool: Arc<dyn TxPool>,
}

fn node(n: u8) -> Node {
    node_at(n, EthVersion::Eth68).0
}

fn node_at(n: u8, version: EthVersion) -> (Node, Addr<BlockHandler>) {
    let store = Arc::new(MemoryChainStore::new(Header {
        gas_limit: 30_000_000,
        ..Default::default()
    }));
    for _ in 0..20 {
        store
            .insert_block(child(&store.head()), None)
            .expect("links");
    }
    let pool: Arc<dyn TxPool> = Arc::new(InMemoryTxPool::new());
    let set = PeerSetActor::new().start();
    let propagator = BlockPropagator::new(set.clone().recipient(), (u64::from(n), 1)).start();
    let links = BlockHandlerLinks {
        mark: set.clone().recipient(),
        head: set.clone().recipient(),
        propagate: propagator.clone().recipient(),
        announce: propagator.clone().recipient(),
        range: set.clone().recipient(),
    };
    let blocks = BlockHandler::new(
        store.clone(),
        links,
        BlockPolicy::ProofOfWork {
            terminal_total_difficulty: None,
        },
    )
    .start();
    let handler = blocks.clone();
    let requests = RequestHandler::spawn(store.clone(), pool.clone(), 1);
    let routes = InboundRoutes {
        requests: Some(requests.recipient()),
        blocks: Some(blocks.recipient()),
        transactions: None,
        seen: None,
    };
    let mut config = SessionConfig::new(
        SecretKey::from_byte_array([n; 32]).expect("key"),
        format!("node-{n}"),
    );
    config.eth_versions = vec![version];
    (
        Node {
            store,
            set,
            propagator,
            routes,
            config,
            pool,
        },
        handler,
    )
}

fn status(node: &Node) -> ChainStatus {
    let genesis = node.store.canonical_hash(0).expect("genesis");
    let forks = ForkSchedule {
        genesis_hash: genesis,
        genesis_timestamp: 0,
        block_forks: vec![],
        time_forks: vec![],
    };
    ChainStatus::from_store(1, forks, node.store.as_ref())
}

/// Connects two nodes over loopback TCP (`127.0.0.1:0`).
async fn connect(a: &Node, b: &Node) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (x, y) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let (x, y) = (x.expect("connect"), y.expect("accept").0);
    let (sa, sb) = (status(a), status(b));
    let (da, db) = tokio::join!(
        dial(x, &a.config, b.config.node_id(), &sa),
        accept(y, &b.config, &sb)
    );
    for (session, node) in [(da.expect("dial"), a), (db.expect("accept"), b)] {
        let links = SessionPeerLinks {
            register: node.set.clone().recipient(),
            stopped: node.set.clone().recipient(),
            on_message: node.routes.clone(),
            keepalive: None,
            request_timeout: None,
            wire: None,
        };
        start_session_peer(session, node.pool.clone(), links)
            .await
            .expect("registered");
    }
}

/// Waits (yielding, no sleep) until `node` has block `number`, for at most 5 s.
async fn until_head(node: &Node, number: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while node.store.head().number < number {
        assert!(
            tokio::time::Instant::now() < deadline,
            "head stuck at {}",
            node.store.head().number
        );
        tokio::task::yield_now().await;
    }
}

async fn line() -> (Node, Node, Node) {
    let (a, b, c) = (node(1), node(2), node(3));
    connect(&a, &b).await;
    connect(&b, &c).await;
    (a, b, c)
}

#[actix_rt::test]
async fn a_block_propagated_at_a_reaches_c_through_b() {
    let (a, b, c) = line().await;
    let block = child(&a.store.head());
    let hash = a
        .store
        .insert_block(block.clone(), None)
        .expect("A stores it");
    let td = a.store.total_difficulty(&hash).expect("td");
    a.propagator
        .send(PropagateBlock {
            block: Arc::new(block),
            td,
        })
        .await
        .expect("alive");
    until_head(&b, 21).await;
    until_head(&c, 21).await;
    assert_eq!(c.store.head().hash_slow(), hash);
}

#[actix_rt::test]
async fn a_block_only_announced_at_a_is_fetched_by_b_and_then_by_c() {
    let (a, b, c) = line().await;
    let block = child(&a.store.head());
    let hash = a.store.insert_block(block, None).expect("A stores it");
    a.propagator
        .send(AnnounceBlock { hash, number: 21 })
        .await
        .expect("alive");
    until_head(&b, 21).await;
    until_head(&c, 21).await;
    assert_eq!(c.store.head().hash_slow(), hash);
    assert_ne!(B256::ZERO, hash);
}

/// A raw session to `node` (in memory, no actor on our side), so a test sees exactly what
/// the node sends.
async fn raw_peer(node: &Node, version: EthVersion) -> Established<tokio::io::DuplexStream> {
    let mut config = SessionConfig::new(SecretKey::from_byte_array([9; 32]).expect("key"), "raw");
    config.eth_versions = vec![version];
    let (x, y) = tokio::io::duplex(1024 * 1024);
    let status = status(node);
    let (raw, session) = tokio::join!(
        dial(x, &config, node.config.node_id(), &status),
        accept(y, &node.config, &status)
    );
    let links = SessionPeerLinks {
        register: node.set.clone().recipient(),
        stopped: node.set.clone().recipient(),
        on_message: node.routes.clone(),
        keepalive: None,
        request_timeout: None,
        wire: None,
    };
    start_session_peer(session.expect("node side"), node.pool.clone(), links)
        .await
        .expect("registered");
    raw.expect("raw side")
}

/// The next eth message `raw` receives; fails the test after 5 s without one.
async fn next_eth(raw: &mut Established<tokio::io::DuplexStream>) -> EthMessage {
    use futures::StreamExt;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), raw.reader.next())
            .await
            .expect("a message within 5 s")
            .expect("open")
            .expect("valid");
        if frame.id >= raw.eth_offset {
            let id = (frame.id - raw.eth_offset) as u8;
            return EthMessage::decode(raw.eth_version, id, &frame.payload).expect("decodes");
        }
    }
}

/// The block hashes a NewBlock or NewBlockHashes carries (none for other messages).
fn block_hashes(message: &EthMessage) -> Vec<B256> {
    match message {
        EthMessage::NewBlock(new_block) => vec![new_block.block.header.hash_slow()],
        EthMessage::NewBlockHashes(announced) => announced.0.iter().map(|a| a.hash).collect(),
        _ => vec![],
    }
}

#[actix_rt::test]
async fn an_invalid_block_is_not_stored_or_passed_on() {
    // A - B - C, where C is a raw session that records what B sends it.
    let (a, b) = (node(1), node(2));
    connect(&a, &b).await;
    let mut c = raw_peer(&b, EthVersion::Eth68).await;
    let mut block = child(&a.store.head());
    block.header.gas_limit *= 2; // beyond the 1/1024 bound
    let hash = a
        .store
        .insert_block(block.clone(), None)
        .expect("A's store does not validate");
    let td = a.store.total_difficulty(&hash).expect("td");
    a.propagator
        .send(PropagateBlock {
            block: Arc::new(block),
            td,
        })
        .await
        .expect("alive");
    // A valid sibling sent afterwards on the same connection reaches B after the invalid
    // one: once C hears of the sibling, B has dealt with the invalid block.
    let mut sibling = child(&b.store.head());
    sibling.header.timestamp += 1;
    let sibling_hash = a.store.insert_block(sibling.clone(), None).expect("stored");
    a.propagator
        .send(PropagateBlock {
            block: Arc::new(sibling),
            td,
        })
        .await
        .expect("alive");
    let mut heard = Vec::new();
    while !heard.contains(&sibling_hash) {
        heard.extend(block_hashes(&next_eth(&mut c).await));
    }
    assert!(!heard.contains(&hash), "B passed the invalid block on to C");
    until_head(&b, 21).await;
    assert_eq!(b.store.head().hash_slow(), sibling_hash);
    assert!(b.store.header_by_hash(&hash).is_none());
}

#[actix_rt::test]
async fn eth69_peers_get_a_block_range_update_every_32_blocks() {
    let (b, handler) = node_at(2, EthVersion::Eth69);
    let mut raw = raw_peer(&b, EthVersion::Eth69).await;

    // 32 blocks on top of head 20: one update, for block 52, and none before it.
    for _ in 0..32 {
        assert!(handler
            .send(ImportBlock(child(&b.store.head())))
            .await
            .expect("alive")
            .is_some());
    }
    let EthMessage::BlockRangeUpdate(update) = next_eth(&mut raw).await else {
        panic!("expected BlockRangeUpdate")
    };
    assert_eq!((update.earliest, update.latest), (0, 52));
    assert_eq!(update.latest_hash, b.store.head().hash_slow());
}
