//! The subsystem as one piece: [`Node::start`] wires the chain store, validating pool,
//! peer set, broadcaster, propagator, request/block handlers and tx fetcher, listens for
//! peers (bounded handshakes), and dials on request. It runs inside an existing actix
//! `System`, so an actix app can embed it and talk to the returned handles.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::B512;
use secp256k1::SecretKey;
use tokio::net::{TcpListener, TcpStream};

use crate::block_import::{BlockHandler, BlockHandlerLinks};
use crate::block_propagation::BlockPropagator;
use crate::chain::ChainStore;
use crate::eth::forkid::ForkSchedule;
use crate::eth::EthVersion;
use crate::peer::{start_session_peer, InboundRoutes, PeerHandle, SessionPeerLinks};
use crate::peer_set::{PeerSetActor, RegisterError};
use crate::requests::RequestHandler;
use crate::session::{
    self, accept_loop, ChainStatus, ListenerMetrics, SessionConfig, SessionError,
    MAX_PENDING_HANDSHAKES,
};
use crate::tx_broadcast::{PeerSetLink, TxBroadcaster};
use crate::tx_fetcher::{TxFetcher, TxFetcherLinks, DEFAULT_ARRIVAL_WAIT};
use crate::tx_pool::validate::ValidationRules;
use crate::tx_pool::{StateProvider, TxPool, ValidatingTxPool};

/// What a node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The static node key.
    pub key: SecretKey,
    /// Client id sent in Hello.
    pub client_id: String,
    /// Where to listen (port 0: any).
    pub listen: SocketAddr,
    /// eth versions offered.
    pub eth_versions: Vec<EthVersion>,
    /// Network id.
    pub network_id: u64,
    /// Fork schedule of the chain in the store.
    pub forks: ForkSchedule,
    /// Peer limit.
    pub max_peers: usize,
    /// Wait between an announcement and its fetch.
    pub arrival_wait: Duration,
    /// Pool validation rules.
    pub rules: ValidationRules,
}

impl NodeConfig {
    /// Defaults: eth/66-70, 50 peers (geth), 500 ms arrival wait.
    pub fn new(
        key: SecretKey,
        listen: SocketAddr,
        network_id: u64,
        forks: ForkSchedule,
        rules: ValidationRules,
    ) -> Self {
        Self {
            key,
            client_id: format!("ethpeer/v{}", env!("CARGO_PKG_VERSION")),
            listen,
            eth_versions: EthVersion::ALL.to_vec(),
            network_id,
            forks,
            max_peers: 50,
            arrival_wait: DEFAULT_ARRIVAL_WAIT,
            rules,
        }
    }
}

/// Why dialing a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The handshake failed.
    #[error("handshake: {0}")]
    Session(#[from] SessionError),
    /// The peer set refused it.
    #[error("register: {0}")]
    Register(#[from] RegisterError),
}

/// A running node: handles to its parts.
pub struct Node {
    /// The peer registry.
    pub peer_set: Addr<PeerSetActor>,
    /// The transaction pool.
    pub pool: Arc<ValidatingTxPool>,
    /// The chain.
    pub store: Arc<dyn ChainStore>,
    /// The tx broadcaster.
    pub broadcaster: Addr<TxBroadcaster>,
    /// The block propagator.
    pub propagator: Addr<BlockPropagator>,
    /// Where it listens.
    pub local_addr: SocketAddr,
    /// Inbound handshake counters.
    pub listener: Arc<ListenerMetrics>,
    session: Arc<SessionConfig>,
    routes: InboundRoutes,
    network_id: u64,
    forks: ForkSchedule,
}

impl Node {
    /// Starts every actor on the current arbiter and begins listening.
    pub async fn start(
        config: NodeConfig,
        store: Arc<dyn ChainStore>,
        state: Arc<dyn StateProvider>,
    ) -> std::io::Result<Self> {
        let pool = Arc::new(ValidatingTxPool::new(config.rules.clone(), state));
        let shared_pool: Arc<dyn TxPool> = pool.clone();
        let peer_set = PeerSetActor::new().with_max_peers(config.max_peers).start();
        let mut session = SessionConfig::new(config.key, config.client_id.clone());
        session.eth_versions = config.eth_versions.clone();
        // A deterministic secret per node key: the broadcast choice must be stable for a
        // node and unpredictable for others; our key is both.
        let secret = config.key.secret_bytes();
        let key = (
            u64::from_le_bytes(secret[..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(secret[8..16].try_into().unwrap_or_default()),
        );
        let broadcaster = TxBroadcaster::new(
            session.node_id(),
            key,
            shared_pool.clone(),
            PeerSetLink::new(&peer_set),
        )
        .start();
        let propagator = BlockPropagator::new(peer_set.clone().recipient(), key).start();
        let block_links = BlockHandlerLinks {
            mark: peer_set.clone().recipient(),
            head: peer_set.clone().recipient(),
            propagate: propagator.clone().recipient(),
            announce: propagator.clone().recipient(),
            range: peer_set.clone().recipient(),
        };
        let routes = InboundRoutes {
            requests: Some(
                RequestHandler::new(store.clone(), shared_pool.clone())
                    .start()
                    .recipient(),
            ),
            blocks: Some(
                BlockHandler::new(store.clone(), block_links)
                    .start()
                    .recipient(),
            ),
            transactions: Some(
                TxFetcher::new(
                    pool.clone(),
                    TxFetcherLinks {
                        mark: peer_set.clone().recipient(),
                    },
                    config.arrival_wait,
                )
                .start()
                .recipient(),
            ),
        };
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        session.listen_port = local_addr.port();
        let session = Arc::new(session);
        let node = Self {
            peer_set,
            pool,
            store,
            broadcaster,
            propagator,
            local_addr,
            listener: Arc::default(),
            session,
            routes,
            network_id: config.network_id,
            forks: config.forks,
        };
        let (links, pool) = (node.links(), shared_pool);
        let on_session = move |established, addr: SocketAddr| {
            let (links, pool) = (links.clone(), pool.clone());
            async move {
                if let Err(error) = start_session_peer(established, pool, links).await {
                    log::debug!("{addr}: not registered: {error}");
                }
            }
        };
        let status: Arc<dyn session::StatusExchange> = Arc::new(StoreStatus {
            network_id: node.network_id,
            forks: node.forks.clone(),
            store: node.store.clone(),
        });
        tokio::task::spawn_local(accept_loop(
            listener,
            node.session.clone(),
            status,
            MAX_PENDING_HANDSHAKES,
            node.listener.clone(),
            on_session,
        ));
        Ok(node)
    }

    /// Our node id.
    pub fn node_id(&self) -> B512 {
        self.session.node_id()
    }

    /// Our enode URL.
    pub fn enode(&self) -> String {
        format!(
            "enode://{}@{}",
            alloy_primitives::hex::encode(self.node_id()),
            self.local_addr
        )
    }

    /// Our Status as of the store's current head.
    pub fn status(&self) -> ChainStatus {
        ChainStatus::from_store(self.network_id, self.forks.clone(), self.store.as_ref())
    }

    /// Dials `addr`, expecting node `id`; on success the peer is registered.
    pub async fn dial(&self, addr: SocketAddr, id: B512) -> Result<PeerHandle, DialError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let established = session::dial(stream, &self.session, id, &self.status()).await?;
        let pool: Arc<dyn TxPool> = self.pool.clone();
        Ok(start_session_peer(established, pool, self.links()).await?)
    }

    fn links(&self) -> SessionPeerLinks {
        SessionPeerLinks {
            register: self.peer_set.clone().recipient(),
            stopped: self.peer_set.clone().recipient(),
            on_message: self.routes.clone(),
            keepalive: None,
            request_timeout: None,
        }
    }
}

/// The Status exchange against the store's head at the time of each handshake.
struct StoreStatus {
    network_id: u64,
    forks: ForkSchedule,
    store: Arc<dyn ChainStore>,
}

impl StoreStatus {
    fn now(&self) -> ChainStatus {
        ChainStatus::from_store(self.network_id, self.forks.clone(), self.store.as_ref())
    }
}

impl session::StatusExchange for StoreStatus {
    fn local_status(&self, version: EthVersion) -> crate::eth::EthMessage {
        self.now().local_status(version)
    }

    fn check_remote(
        &self,
        version: EthVersion,
        remote: &crate::eth::EthMessage,
    ) -> Result<crate::peer_set::PeerHead, session::StatusRejection> {
        self.now().check_remote(version, remote)
    }
}
