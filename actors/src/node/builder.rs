//! [`NodeBuilder`]: the embedding entry point. Picks a chain (the built-in dev network, a
//! geth `genesis.json`, or a public network), fills a [`NodeConfig`] with geth's defaults,
//! and starts the subsystem inside the caller's actix `System`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alloy_consensus::Header;
use alloy_genesis::Genesis;
use secp256k1::SecretKey;

use super::{Enode, Node, NodeConfig};
use crate::chain::{BlockPolicy, ChainStore, MemoryChainStore};
use crate::eth::forkid::Network;
use crate::eth::genesis::{self, GenesisError};
use crate::eth::EthVersion;
use crate::txs::pool::validate::ValidationRules;
use crate::txs::pool::{MemoryState, NoState, StateProvider};

/// Most blobs per transaction on the public networks since Osaka (EIP-7594 caps a tx at
/// 6 blobs even where a block may hold more).
pub const PUBLIC_MAX_BLOBS_PER_TX: usize = 6;

/// Block gas limit assumed on the public networks, which we do not sync (mainnet's limit
/// since 2025-11; only txs above it are refused).
pub const PUBLIC_BLOCK_GAS_LIMIT: u64 = 60_000_000;

/// Builds and starts a [`Node`].
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use ethpeer_actors::node::NodeBuilder;
/// let node = NodeBuilder::dev()
///     .listen("127.0.0.1:0".parse().unwrap())
///     .start()
///     .await?;
/// log::info!("listening as {}", node.enode());
/// # Ok(()) }
/// ```
pub struct NodeBuilder {
    config: NodeConfig,
    store: Arc<dyn ChainStore>,
    state: Arc<dyn StateProvider>,
}

impl NodeBuilder {
    /// The built-in dev network ([`genesis::dev_genesis`]): an in-memory chain at genesis,
    /// the genesis alloc as pool state, a random node key, listening on 127.0.0.1:30303.
    #[allow(clippy::expect_used)]
    pub fn dev() -> Self {
        // A constant built into the crate (not remote data), parsed by a unit test.
        Self::from_genesis(&genesis::dev_genesis()).expect("the built-in dev genesis builds")
    }

    /// A chain from a geth-style genesis: in-memory store at its genesis block, its alloc
    /// as pool state, network id = chain id.
    pub fn from_genesis(spec: &Genesis) -> Result<Self, GenesisError> {
        let header = genesis::genesis_header(spec)?;
        let forks = genesis::fork_schedule(spec, header.hash_slow());
        let rules = rules_for_genesis(spec, &header);
        let chain_id = spec.config.chain_id;
        let mut config = NodeConfig::new(random_key(), default_listen(), chain_id, forks, rules);
        config.block_policy = BlockPolicy::from_genesis(spec);
        config.header_rules = Some(Arc::new(crate::chain::HeaderRules::from_config(
            &spec.config,
        )));
        config.genesis = Some(Arc::new(spec.clone()));
        Ok(Self {
            config,
            store: Arc::new(MemoryChainStore::new(header)),
            state: Arc::new(MemoryState::from_genesis(spec)),
        })
    }

    /// A public network: its genesis header and fork schedule are built in; there is no
    /// state (no execution client), so the pool runs stateless checks only ([`NoState`]).
    pub fn network(network: Network) -> Self {
        let header = genesis::network_genesis_header(network);
        let rules = ValidationRules {
            chain_id: network.chain_id(),
            block_gas_limit: PUBLIC_BLOCK_GAS_LIMIT,
            max_blobs_per_tx: PUBLIC_MAX_BLOBS_PER_TX,
            calldata_floor: true,
        };
        let mut config = NodeConfig::new(
            random_key(),
            default_listen(),
            network.chain_id(),
            network.fork_schedule(),
            rules,
        );
        config.header_rules = Some(Arc::new(crate::chain::HeaderRules::network(network)));
        Self {
            config,
            store: Arc::new(MemoryChainStore::new(header)),
            state: Arc::new(NoState),
        }
    }

    /// The node key (default: random).
    pub fn key(mut self, key: SecretKey) -> Self {
        self.config.key = key;
        self
    }

    /// Where to listen (port 0: any free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }

    /// The chain store (default: in memory at genesis). It must hold this chain's genesis.
    pub fn store(mut self, store: Arc<dyn ChainStore>) -> Self {
        self.store = store;
        self
    }

    /// The account state the pool checks against.
    pub fn state(mut self, state: Arc<dyn StateProvider>) -> Self {
        self.state = state;
        self
    }

    /// The network id (default: the chain id).
    pub fn network_id(mut self, id: u64) -> Self {
        self.config.network_id = id;
        self
    }

    /// Offered eth versions.
    pub fn eth_versions(mut self, versions: Vec<EthVersion>) -> Self {
        self.config.eth_versions = versions;
        self
    }

    /// The peer limit (default 50, a third of it dialed).
    pub fn max_peers(mut self, n: usize) -> Self {
        self.config.max_peers = n;
        self
    }

    /// Serves peers on `listener`, a socket the caller bound (its address replaces
    /// [`NodeBuilder::listen`]'s).
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        if let Ok(addr) = listener.local_addr() {
            self.config.listen = addr;
        }
        self.config.listener = Some(Arc::new(listener));
        self
    }

    /// Pings every `interval` and drops a peer whose Pong takes longer than `timeout`
    /// (geth's 15 s and 20 s by default).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.ping_interval = interval;
        self.config.pong_timeout = timeout;
        self
    }

    /// Deadline of our requests to peers (5 s by default).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Deadline of each handshake step (geth's 5 s by default).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Inbound handshakes in progress at most (geth's 50 by default).
    pub fn max_pending_handshakes(mut self, n: usize) -> Self {
        self.config.max_pending_handshakes = n;
        self
    }

    /// Sets the client id we send in Hello (see [`super::client_id`]).
    pub fn client_id(mut self, client_id: String) -> Self {
        self.config.client_id = client_id;
        self
    }

    /// Sets the tx pool's limits (geth's `--txpool.*`).
    pub fn pool_limits(mut self, limits: crate::txs::pool::PoolLimits) -> Self {
        self.config.pool_limits = limits;
        self
    }

    /// A peer to dial now and redial whenever it is not connected.
    pub fn static_peer(mut self, enode: Enode) -> Self {
        self.config.static_peers.push(enode);
        self
    }

    /// A peer exempt from the limits (also dialed).
    pub fn trusted_peer(mut self, enode: Enode) -> Self {
        self.config.trusted_peers.push(enode);
        self
    }

    /// The wait between a tx announcement and its fetch (default 500 ms).
    pub fn arrival_wait(mut self, wait: Duration) -> Self {
        self.config.arrival_wait = wait;
        self
    }

    /// Whether pool txs are gossiped to peers (default yes). Off, the node still takes
    /// txs from peers and answers their requests, but sends and announces none.
    pub fn tx_gossip(mut self, gossip: bool) -> Self {
        self.config.tx_gossip = gossip;
        self
    }

    /// How eth/72 blob txs' cells are fetched (default: every blob tx whole).
    pub fn blob_fetch(mut self, policy: crate::txs::inbox::BlobFetchPolicy) -> Self {
        self.config.blob_fetch = policy;
        self
    }

    /// Write the propagation trace (JSON lines) to this file.
    pub fn trace_propagation(mut self, path: PathBuf) -> Self {
        self.config.trace_propagation = Some(path);
        self
    }

    /// Peer discovery settings (default: off).
    pub fn discovery(mut self, discovery: super::DiscoveryConfig) -> Self {
        self.config.discovery = discovery;
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The configuration, to change what has no builder method.
    pub fn config_mut(&mut self) -> &mut NodeConfig {
        &mut self.config
    }

    /// Starts the node on the current actix arbiter.
    pub async fn start(self) -> std::io::Result<Node> {
        Node::start(self.config, self.store, self.state).await
    }
}

/// Pool rules for a genesis-defined chain at `head`: its chain id, the head's gas limit,
/// the blob limit of the fork active at the head (the genesis `blobSchedule`, else
/// Cancun's 6 / Prague's 9) and Prague's calldata floor.
pub fn rules_for_genesis(spec: &Genesis, head: &Header) -> ValidationRules {
    let config = &spec.config;
    let active = |time: Option<u64>| time.is_some_and(|t| t <= head.timestamp);
    let prague = active(config.prague_time);
    let (fork, default_max) = if prague { ("prague", 9) } else { ("cancun", 6) };
    let max_blobs = config
        .blob_schedule
        .get(fork)
        .map(|p| p.max_blob_count as usize)
        .unwrap_or(default_max);
    ValidationRules {
        chain_id: config.chain_id,
        block_gas_limit: head.gas_limit,
        max_blobs_per_tx: max_blobs,
        calldata_floor: prague,
    }
}

fn random_key() -> SecretKey {
    SecretKey::new(&mut secp256k1::rand::rng())
}

/// geth's default listen address is every interface on 30303; a dev node should not be
/// reachable from outside by default, so ours is loopback.
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 30303))
}
