//! The subsystem as one piece: [`Node::start`] (or the friendlier [`NodeBuilder`]) wires
//! the chain store, validating pool, peer set, broadcaster, propagator, request/block
//! handlers, tx fetcher, the [`PeerManager`] (admission, static-peer dialing) and the
//! [`PropagationObserver`]; it listens (per-IP throttle, bounded handshakes) and dials. It
//! runs inside an existing actix `System`, so an actix app embeds it and talks to the
//! returned handles; [`rpc`] and [`metrics`] serve the admin JSON-RPC and Prometheus text.
//!
//! Files: this one holds the configuration and `Node::start`; `wiring` starts the inbound
//! handlers, `dial` connects and admits sessions, `placement` spreads peers over arbiters,
//! `http` runs the HTTP servers.

mod builder;
mod dial;
mod handle;
#[cfg(feature = "internals")]
pub mod internals;
pub mod lag;
pub mod manager;
mod placement;
mod start;
pub mod status;
mod wiring;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::B512;
use secp256k1::SecretKey;

pub use builder::{rules_for_genesis, NodeBuilder};
// The types an embedder configures a node with and hears from it, where they are used.
pub use crate::discovery::enode::Enode;
pub use crate::discovery::{Bootnode, BootnodeError, Discovery, DiscoveryConfig};
pub use crate::feed::events::{Direction, NodeEvent, SubscribeEvents};
pub use crate::feed::observe::PropagationObserver;
pub use handle::{EventStream, Peer, PeerInfo};
pub use manager::PeerManager;

use crate::blocks::follow::{FollowConfig, FollowedChain};
use crate::blocks::propagation::BlockPropagator;
use crate::chain::{BlockPolicy, ChainStore};
use crate::eth::forkid::ForkSchedule;
use crate::eth::EthVersion;
use crate::p2p::DisconnectReason;
use crate::peer::{PeerHandle, WireMetrics};
use crate::peer_set::SessionPeerLinks;
use crate::peer_set::{Close, PeerSetActor, RegisterError};
use crate::session::{
    ChainStatus, ListenerMetrics, SessionConfig, SessionError, StoreStatus, MAX_PENDING_HANDSHAKES,
};
use crate::txs::broadcast::TxBroadcaster;
use crate::txs::inbox::{BlobFetchPolicy, DEFAULT_ARRIVAL_WAIT};
use crate::txs::pool::validate::ValidationRules;
use crate::txs::pool::ValidatingTxPool;
use manager::Admission;
pub use placement::PeerArbiters;

/// geth's `defaultDialTimeout`: TCP connect to a peer.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(15);

/// geth's default `MaxPeers`.
pub const DEFAULT_MAX_PEERS: usize = 50;

/// What a node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The static node key.
    pub key: SecretKey,
    /// Client id sent in Hello.
    pub client_id: String,
    /// Where to listen (port 0: any).
    pub listen: SocketAddr,
    /// A TCP socket already bound for peers (then `listen` is not bound again): the binary
    /// binds every listener before it writes anything, so a busy port changes nothing.
    pub listener: Option<Arc<std::net::TcpListener>>,
    /// eth versions offered.
    pub eth_versions: Vec<EthVersion>,
    /// Network id.
    pub network_id: u64,
    /// Chain id (for RPC `eth_chainId`; the pool's rules carry it too).
    pub chain_id: u64,
    /// Fork schedule of the chain in the store.
    pub forks: ForkSchedule,
    /// Peer limit (a third of it for peers we dial; trusted peers exempt).
    pub max_peers: usize,
    /// Wait between an announcement and its fetch.
    pub arrival_wait: Duration,
    /// Whether pool txs are sent and announced to peers (reth's `--disable-tx-gossip`
    /// turns it off: a watching node then only takes txs, and answers requests for them).
    pub tx_gossip: bool,
    /// Pool validation rules.
    pub rules: ValidationRules,
    /// Peers dialed at start and redialed with backoff.
    pub static_peers: Vec<Enode>,
    /// Peers exempt from the peer limits (also dialed, like static peers).
    pub trusted_peers: Vec<Enode>,
    /// Where to write the propagation trace (JSON lines), if anywhere.
    pub trace_propagation: Option<PathBuf>,
    /// What peers' block broadcasts may do; the default is the safe one for today's
    /// networks, [`BlockPolicy::PostMerge`].
    pub block_policy: BlockPolicy,
    /// Threads verifying transactions from peers (sender recovery, stateless checks, KZG
    /// proofs), and as many serving peers' requests; default: one per core.
    pub verify_threads: usize,
    /// Arbiters (threads) the peer actors are spread over; default one per core; 0 keeps
    /// every peer on the arbiter that started the node.
    pub peer_arbiters: usize,
    /// Peer discovery (default: off; the `ethpeer` binary turns discv4 and discv5 on).
    pub discovery: DiscoveryConfig,
    /// Following the head from peers (interval, quorum).
    pub follow: FollowConfig,
    /// How eth/72 blob txs' cells are fetched: custody columns and the share fetched
    /// whole (default: every column, so every blob tx whole, as geth without a consensus
    /// client).
    pub blob_fetch: BlobFetchPolicy,
    /// How often each peer is pinged ([`crate::peer::PING_INTERVAL`], geth's 15 s).
    pub ping_interval: Duration,
    /// How long a Pong may take before the peer is dropped ([`crate::peer::PONG_TIMEOUT`]).
    pub pong_timeout: Duration,
    /// Deadline of our requests to peers ([`crate::peer::REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
    /// Deadline of each handshake step ([`crate::session::HANDSHAKE_STEP_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// Inbound handshakes in progress at most ([`MAX_PENDING_HANDSHAKES`], geth's 50).
    pub max_pending_handshakes: usize,
    /// `eth_subscribe` subscriptions of all connections together at most
    /// ([`crate::feed::hub::MAX_SUBSCRIPTIONS`]; `--rpc.max-subscriptions`).
    pub max_subscriptions: usize,
    /// The tx pool's limits (geth's `--txpool.*`; default [`PoolLimits::default`]).
    pub pool_limits: crate::txs::pool::PoolLimits,
    /// Who may be a peer at all (`--netrestrict`, `--trusted-only`; default: anyone).
    pub peer_policy: manager::PeerPolicy,
    /// The rules followed headers must pass (set by the builder for its chain; `None`:
    /// linkage only).
    pub header_rules: Option<Arc<crate::chain::HeaderRules>>,
    /// Followed blocks kept and served (`--history.window`; default
    /// [`crate::blocks::follow::FOLLOWED_BLOCKS`]).
    pub history_window: usize,
    /// The chain's genesis, when known (set by `NodeBuilder::from_genesis`): with its
    /// alloc the engine API executes payloads; without it, it answers as syncing.
    pub genesis: Option<Arc<alloy_genesis::Genesis>>,
    /// Produce blocks (a dev network, `--dev.period`): every period, or with zero as soon
    /// as the pool has executable txs; `None`: never (default).
    pub dev_period: Option<Duration>,
    /// The data directory, when the node has one (`admin_datadir`).
    pub datadir: Option<PathBuf>,
    /// Blocks whose state is kept for state reads and calls (`--state.window`; default
    /// [`crate::blocks::engine::DEFAULT_STATE_WINDOW`], geth's 128).
    pub state_window: usize,
}

/// Our client id in Hello, with an operator's `identity` in it as geth puts `--identity`
/// (`Geth/<identity>/v1.17.10/...`): `ethpeer/<identity>/v0.1.0`.
pub fn client_id(identity: Option<&str>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match identity.map(str::trim).filter(|i| !i.is_empty()) {
        Some(identity) => format!("ethpeer/{identity}/v{version}"),
        None => format!("ethpeer/v{version}"),
    }
}

impl NodeConfig {
    /// Defaults: every eth version (66-72), 50 peers (geth), 500 ms arrival wait, no static peers.
    pub fn new(
        key: SecretKey,
        listen: SocketAddr,
        network_id: u64,
        forks: ForkSchedule,
        rules: ValidationRules,
    ) -> Self {
        Self {
            key,
            client_id: client_id(None),
            listen,
            listener: None,
            eth_versions: EthVersion::ALL.to_vec(),
            network_id,
            chain_id: rules.chain_id,
            forks,
            max_peers: DEFAULT_MAX_PEERS,
            arrival_wait: DEFAULT_ARRIVAL_WAIT,
            tx_gossip: true,
            rules,
            static_peers: Vec::new(),
            trusted_peers: Vec::new(),
            trace_propagation: None,
            block_policy: BlockPolicy::PostMerge,
            verify_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            peer_arbiters: std::thread::available_parallelism().map_or(1, |n| n.get()),
            discovery: DiscoveryConfig::default(),
            follow: FollowConfig::default(),
            blob_fetch: BlobFetchPolicy::default(),
            ping_interval: crate::peer::PING_INTERVAL,
            pong_timeout: crate::peer::PONG_TIMEOUT,
            request_timeout: crate::peer::REQUEST_TIMEOUT,
            handshake_timeout: crate::session::HANDSHAKE_STEP_TIMEOUT,
            max_pending_handshakes: MAX_PENDING_HANDSHAKES,
            max_subscriptions: crate::feed::hub::MAX_SUBSCRIPTIONS,
            pool_limits: crate::txs::pool::PoolLimits::default(),
            peer_policy: manager::PeerPolicy::default(),
            header_rules: None,
            history_window: crate::blocks::follow::FOLLOWED_BLOCKS,
            genesis: None,
            dev_period: None,
            datadir: None,
            state_window: crate::blocks::engine::DEFAULT_STATE_WINDOW,
        }
    }
}

/// Why dialing a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// TCP connect failed or timed out.
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The handshake failed.
    #[error("handshake: {0}")]
    Session(#[from] SessionError),
    /// Our peer manager refused it (limit, duplicate).
    #[error("refused: {0}")]
    Refused(DisconnectReason),
    /// The peer set refused it.
    #[error("register: {0}")]
    Register(#[from] RegisterError),
}

/// A running node: handles to its parts. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    /// The peer registry.
    pub(crate) peer_set: Addr<PeerSetActor>,
    /// The transaction pool.
    pub(crate) pool: Arc<ValidatingTxPool>,
    /// The chain.
    pub(crate) store: Arc<dyn ChainStore>,
    /// The tx broadcaster. Held so that it runs as long as the node does (an actor stops
    /// when its last address goes); read only by `internals`.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub(crate) broadcaster: Addr<TxBroadcaster>,
    /// The block propagator (held likewise).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub(crate) propagator: Addr<BlockPropagator>,
    /// Admission and dialing.
    pub(crate) manager: Addr<PeerManager>,
    /// Propagation trace and seen events.
    pub(crate) observer: Addr<PropagationObserver>,
    /// Where it listens.
    pub(crate) local_addr: SocketAddr,
    /// Inbound handshake counters.
    pub(crate) listener: Arc<ListenerMetrics>,
    /// Messages and bytes by type, all peers.
    pub(crate) wire: Arc<WireMetrics>,
    /// Client id sent in Hello.
    pub(crate) client_id: String,
    /// Chain id.
    pub(crate) chain_id: u64,
    /// Network id.
    pub(crate) network_id: u64,
    /// Blocks followed from peers (not ours: see `head_follow`).
    pub(crate) follow: Arc<FollowedChain>,
    /// `eth_subscribe` subscriptions of the WebSocket connections.
    pub(crate) subscriptions: Addr<crate::feed::hub::SubscriptionHub>,
    /// The hub's delivered/dropped counters.
    pub(crate) subscription_metrics: Arc<crate::feed::hub::SubscriptionMetrics>,
    /// Families other subsystems add to the scrape ([`Node::add_metrics`]).
    pub(crate) extra_metrics: Arc<std::sync::Mutex<Vec<Arc<dyn crate::exposition::MetricsSource>>>>,
    session: Arc<SessionConfig>,
    /// What every session peer is started with.
    links: SessionPeerLinks,
    /// Our Status at the store's head, as handshakes see it.
    chain: Arc<StoreStatus>,
    /// Where peer actors run.
    arbiters: Arc<PeerArbiters>,
    /// Discovery, when it runs.
    pub(crate) discovery: Option<Arc<Discovery>>,
    /// The thread discovery runs on, when it runs.
    discovery_arbiter: Option<ArbiterHandle>,
    /// DNS node lists, when configured.
    pub(crate) dns: Option<Arc<crate::discovery::dns::service::DnsDiscovery>>,
    /// The IP our enode and record name instead of the listening one (`--nat extip`).
    external_ip: Option<std::net::IpAddr>,
    /// Inbound handshakes in progress at most.
    max_pending_handshakes: usize,
    /// The thread the subscription hub runs on.
    hub_arbiter: ArbiterHandle,
    /// How late the coordinating thread runs (its probe's counts).
    pub(crate) lag: Arc<lag::LagMetrics>,
    /// Executes a consensus client's payloads (its own thread).
    pub(crate) engine: Addr<crate::blocks::engine::PayloadExecutor>,
    /// The data directory, if any.
    pub(crate) datadir: Option<PathBuf>,
    /// Where stored blocks' transactions sit (receipts by tx hash).
    pub(crate) tx_locations: Arc<crate::blocks::engine::TxLocations>,
    /// The chain's header rules (fork schedule and blob parameters), when known.
    pub(crate) header_rules: Option<Arc<crate::chain::HeaderRules>>,
}

impl Node {
    /// Our node id.
    pub fn node_id(&self) -> B512 {
        self.session.node_id()
    }

    /// Our enode URL: the external IP when one is known (`--nat extip`); listening on
    /// every interface (`0.0.0.0` / `::`) without one, loopback, as geth does without NAT:
    /// there is no single right address to print.
    pub fn enode(&self) -> Enode {
        let mut addr = self.local_addr;
        if let Some(ip) = self.external_ip {
            addr.set_ip(ip);
        } else if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Enode {
            id: self.node_id(),
            addr,
        }
    }

    /// Our enode URL as geth prints it: [`Node::enode`], with `?discport=N` when discovery
    /// answers on another UDP port than the RLPx one (geth's `URLv4`), so that a discovery
    /// tool given the URL reaches our discovery.
    pub fn enode_url(&self) -> String {
        let enode = self.enode();
        match self.discovery.as_ref().map(|d| d.port()) {
            Some(udp) if udp != enode.addr.port() => format!("{enode}?discport={udp}"),
            _ => enode.to_string(),
        }
    }

    /// Our Status as of the store's current head.
    pub fn status(&self) -> ChainStatus {
        self.chain.now()
    }

    /// The fork schedule.
    pub fn forks(&self) -> &ForkSchedule {
        &self.chain.forks
    }

    /// The eth versions we offer.
    pub fn eth_versions(&self) -> &[EthVersion] {
        &self.session.eth_versions
    }

    /// Dials `addr`, expecting node `id`, once (no redial: see [`Node::add_peer`]); on
    /// success the peer passed admission and is registered.
    pub async fn dial(&self, addr: SocketAddr, id: B512) -> Result<PeerHandle, DialError> {
        dial::dial_once(
            Enode { id, addr },
            &self.session,
            &self.chain,
            Admission::of(&self.manager),
            self.pool.clone(),
            self.links(),
            self.arbiters.clone(),
        )
        .await
    }

    /// Adds a static peer: dialed now and redialed with backoff whenever it is not
    /// connected. Answers whether it was new.
    pub async fn add_peer(&self, enode: Enode) -> bool {
        self.manager
            .send(manager::AddPeer {
                enode,
                trusted: false,
            })
            .await
            .unwrap_or(false)
    }

    /// Adds `source`'s families to every metrics scrape (`/metrics`).
    pub fn add_metrics(&self, source: Arc<dyn crate::exposition::MetricsSource>) {
        if let Ok(mut sources) = self.extra_metrics.lock() {
            sources.push(source);
        }
    }

    /// Sends every later [`NodeEvent`] to `recipient`.
    pub fn subscribe(&self, recipient: Recipient<NodeEvent>) {
        self.manager.do_send(SubscribeEvents(recipient.clone()));
        self.observer.do_send(SubscribeEvents(recipient));
    }

    /// Stops taking peers and disconnects every peer with "client quitting"; resolves
    /// once all are gone or after `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.manager.send(manager::ShutDown).await;
        if let Some(discovery) = &self.discovery {
            discovery.stop();
        }
        if let Some(arbiter) = &self.discovery_arbiter {
            arbiter.stop();
        }
        if let Some(dns) = &self.dns {
            dns.stop();
        }
        let _ = self.peer_set.send(Close).await;
        // The manager hears of every peer that leaves; it answers when none is left.
        let _ = tokio::time::timeout(grace, self.manager.send(manager::WaitForNoPeers)).await;
        self.observer.do_send(crate::feed::observe::StopObserver);
        self.arbiters.stop();
        self.hub_arbiter.stop();
    }

    fn links(&self) -> SessionPeerLinks {
        self.links.clone()
    }
}
