//! `ethpeer node`: turns flags into a [`NodeBuilder`], starts the node and its HTTP
//! endpoints inside an actix `System`, and on Ctrl-C (or SIGTERM) disconnects every peer
//! with "client quitting" and closes the chain store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ethpeer_actors::api::{metrics, rpc};
use ethpeer_actors::chain::{ChainStore, RedbChainStore, CHAIN_DB_FILE};
use ethpeer_actors::discovery::enode::Enode;
use ethpeer_actors::eth::genesis;
use ethpeer_actors::node::{rules_for_genesis, NodeBuilder};
use ethpeer_actors::txs::inbox::BlobFetchPolicy;
use ethpeer_actors::txs::pool::{MemoryState, NoState, StateProvider};

use crate::cli::{NetworkArg, NodeArgs};
use crate::flags::{
    default_datadir, discovery_config, engine_endpoint, eth_versions, ipc_path, pool_limits,
    public_network, rpc_endpoints, rpc_limits, Endpoint,
};

/// How long peers get to receive our Disconnect and close at shutdown (the peer actor's
/// own grace is 2 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Runs a node until Ctrl-C. A start either fully works or changes nothing: every flag
/// and file is checked ([`Plan::new`]) and every listener bound ([`Sockets::bind`])
/// before the first byte is written to the data directory ([`Plan::open`]) or the first
/// peer is dialed.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    let args = args.resolve_network().resolve_chain()?;
    let plan = Plan::new(&args)?;
    let sockets = Sockets::bind(&args, &plan)?;
    let (plan, store) = plan.open()?;
    let system = actix_rt::System::new();
    let result = system.block_on(serve(plan, sockets));
    // Dropping the System drops every actor, and with them their handles on the store.
    // HTTP worker threads report "stopped" slightly before they drop their app state (which
    // holds the node), so the last references may take a moment to go.
    drop(system);
    let mut store = store;
    for _ in 0..STORE_CLOSE_ATTEMPTS {
        match Arc::try_unwrap(store) {
            Ok(store) => {
                drop(store);
                log::info!("chain store closed");
                return result;
            }
            Err(shared) => {
                store = shared;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    log::warn!(
        "chain store still referenced {} times at exit; redb recovers on next open",
        Arc::strong_count(&store)
    );
    result
}

/// Tries (20 ms apart) to become the store's last owner at exit: 2 s in all.
const STORE_CLOSE_ATTEMPTS: usize = 100;

/// What the flags resolved to, checked, with nothing written yet.
struct Plan {
    builder: NodeBuilder,
    spec: Option<alloy_genesis::Genesis>,
    genesis_header: ethpeer_actors::alloy_consensus::Header,
    datadir: PathBuf,
    /// The node key file, and its key when the file exists (read and checked).
    key: (PathBuf, Option<ethpeer_actors::discovery::enode::SecretKey>),
    /// `--import`: an RLP file to import once the store is open.
    import: Option<PathBuf>,
    network_name: &'static str,
    http: Endpoint,
    ws: Endpoint,
    metrics: Option<std::net::SocketAddr>,
    /// The IPC socket to bind once the data directory exists (`None`: --ipcdisable).
    ipc: Option<PathBuf>,
    /// The engine API's address and secret (`--authrpc.*`), when asked for.
    engine: Option<(
        std::net::SocketAddr,
        ethpeer_actors::api::engine::jwt::JwtSecret,
    )>,
    rpc_limits: rpc::RpcLimits,
    /// `--archive` and `--sink`: what the archiver does, when either is given.
    archive: Option<crate::archive::ArchivePlan>,
}

impl Plan {
    /// Parses and checks every flag and file; writes nothing.
    fn new(args: &NodeArgs) -> anyhow::Result<Self> {
        let rpc_limits = rpc_limits(args)?;
        let (http, ws) = rpc_endpoints(args, &rpc_limits)?;
        let spec = match (&args.genesis, args.network) {
            (Some(path), _) => Some(genesis::load_genesis(path)?),
            (None, NetworkArg::Dev) => Some(genesis::dev_genesis()),
            (None, _) => None,
        };
        let network_name = match (&args.genesis, args.network) {
            (Some(_), _) => "custom",
            (None, network) => network.name(),
        };
        let datadir = args
            .datadir
            .clone()
            .unwrap_or_else(|| default_datadir(network_name));
        let key_path = args
            .nodekey
            .clone()
            .unwrap_or_else(|| datadir.join("nodekey"));
        let key = match (&args.nodekeyhex, key_path.exists()) {
            (Some(hex), _) => Some(
                ethpeer_actors::discovery::enode::parse_node_key(hex).map_err(|_| {
                    anyhow::anyhow!(
                        "--nodekeyhex: expected 64 hex characters of a secp256k1 private key"
                    )
                })?,
            ),
            (None, true) => Some(ethpeer_actors::discovery::enode::read_node_key(&key_path)?),
            (None, false) => None,
        };
        if let Some(file) = &args.import {
            std::fs::metadata(file)
                .with_context(|| format!("--import: cannot read chain file {}", file.display()))?;
        }
        let ipc = ipc_path(args, &datadir)?;
        let engine = engine_endpoint(args)?;
        let (builder, genesis_header) = chain_builder(args, spec.as_ref())?;
        let builder = with_flags(builder, args, &datadir)?;
        if args.genesis.is_none() && args.network != NetworkArg::Dev && args.addr.is_loopback() {
            log::warn!(
                "listening on {} only: no peer of {} can reach this node (--addr 0.0.0.0 \
                 accepts them)",
                args.addr,
                network_name
            );
        }
        Ok(Self {
            builder,
            spec,
            genesis_header,
            datadir,
            key: (key_path, key),
            import: args.import.clone(),
            network_name,
            http,
            ws,
            metrics: args.metrics,
            ipc,
            engine,
            rpc_limits,
            archive: crate::archive::archive_plan(args)?,
        })
    }

    /// The first writes: the data directory, a new node key if there was none, the chain
    /// store (with `--import` imported). Answers the builder ready to start and the store.
    fn open(mut self) -> anyhow::Result<(Self, Arc<RedbChainStore>)> {
        std::fs::create_dir_all(&self.datadir)
            .with_context(|| format!("cannot create data directory {}", self.datadir.display()))?;
        let key = match self.key.1 {
            Some(key) => key,
            None => {
                let key = ethpeer_actors::discovery::enode::new_node_key();
                ethpeer_actors::discovery::enode::save_node_key(&self.key.0, &key)?;
                key
            }
        };
        let store = Arc::new(RedbChainStore::open(
            &self.datadir.join(CHAIN_DB_FILE),
            &self.genesis_header,
        )?);
        if let Some(file) = &self.import {
            let summary = crate::import_into(&store, file, self.spec.as_ref())?;
            log::info!("imported {file:?}: {summary}");
        }
        if let Some(spec) = &self.spec {
            // The pool follows the head's gas limit and fork, not genesis's.
            self.builder.config_mut().rules = rules_for_genesis(spec, &store.head());
        }
        self.builder = std::mem::replace(&mut self.builder, NodeBuilder::dev())
            .key(key)
            .store(store.clone());
        log::info!(
            "network {}, data in {}, head #{}",
            self.network_name,
            self.datadir.display(),
            store.head().number
        );
        Ok((self, store))
    }
}

/// Every listener, bound before anything is written: a busy port or a bad address ends the
/// start with one line naming the flag, the address and the OS error.
struct Sockets {
    p2p: std::net::TcpListener,
    discovery: Option<std::net::UdpSocket>,
    http: Option<std::net::TcpListener>,
    ws: Option<std::net::TcpListener>,
    metrics: Option<std::net::TcpListener>,
    authrpc: Option<std::net::TcpListener>,
}

impl Sockets {
    fn bind(args: &NodeArgs, plan: &Plan) -> anyhow::Result<Self> {
        let tcp = |flag: &str, addr: std::net::SocketAddr| {
            std::net::TcpListener::bind(addr)
                .map_err(|error| anyhow::anyhow!("{flag}: cannot listen on {addr}: {error}"))
        };
        let p2p = tcp("--port", std::net::SocketAddr::new(args.addr, args.port))?;
        let discovery = plan.builder.config().discovery.clone();
        let discovery =
            match discovery.v4 || discovery.v5 {
                true => {
                    // One UDP port for v4 and v5: --discovery.port, else the RLPx port (an
                    // ephemeral one of its own when that is 0, as geth binds :0 for both).
                    let port = match (args.discovery_port, args.port) {
                        (Some(port), _) => port,
                        (None, 0) => 0,
                        (None, _) => p2p.local_addr()?.port(),
                    };
                    let addr = std::net::SocketAddr::new(args.addr, port);
                    let flag = match args.discovery_port {
                        Some(_) => "--discovery.port",
                        None => "--port (discovery, UDP)",
                    };
                    Some(std::net::UdpSocket::bind(addr).map_err(|error| {
                        anyhow::anyhow!("{flag}: cannot listen on {addr}: {error}")
                    })?)
                }
                false => None,
            };
        let http_flag = match args.rpc {
            Some(_) => "--rpc",
            None => "--http.port",
        };
        Ok(Self {
            p2p,
            discovery,
            http: plan
                .http
                .as_ref()
                .map(|(a, _)| tcp(http_flag, *a))
                .transpose()?,
            ws: plan
                .ws
                .as_ref()
                .map(|(a, _)| tcp("--ws.port", *a))
                .transpose()?,
            metrics: plan.metrics.map(|a| tcp("--metrics", a)).transpose()?,
            authrpc: plan
                .engine
                .as_ref()
                .map(|(a, _)| tcp("--authrpc.port", *a))
                .transpose()?,
        })
    }
}

/// The builder for the network or genesis, with the pool's state (`--state`, the genesis
/// alloc, or none), and the genesis header the store is opened with.
fn chain_builder(
    args: &NodeArgs,
    spec: Option<&alloy_genesis::Genesis>,
) -> anyhow::Result<(NodeBuilder, ethpeer_actors::alloy_consensus::Header)> {
    let (builder, genesis_header) = match (spec, args.network) {
        (Some(spec), _) => (
            NodeBuilder::from_genesis(spec)?,
            genesis::genesis_header(spec)?,
        ),
        (None, network) => {
            let Some(network) = public_network(network) else {
                anyhow::bail!("network {} needs a genesis", network.name());
            };
            (
                NodeBuilder::network(network),
                genesis::network_genesis_header(network),
            )
        }
    };
    let state: Arc<dyn StateProvider> = match (&args.state, spec) {
        (Some(path), _) => Arc::new(MemoryState::from_dump(path)?),
        (None, Some(spec)) => Arc::new(MemoryState::from_genesis(spec)),
        (None, None) => Arc::new(NoState),
    };
    Ok((builder.state(state), genesis_header))
}

/// The flags that shape the node apart from its chain, key and sockets.
fn with_flags(
    builder: NodeBuilder,
    args: &NodeArgs,
    datadir: &Path,
) -> anyhow::Result<NodeBuilder> {
    let eth_versions = eth_versions(args)?;
    let mut builder = builder
        .client_id(ethpeer_actors::node::client_id(args.identity.as_deref()))
        .pool_limits(pool_limits(args)?)
        .eth_versions(eth_versions)
        .max_peers(args.maxpeers)
        .arrival_wait(Duration::from_millis(args.tx_arrival_wait))
        .tx_gossip(!args.disable_tx_gossip)
        .blob_fetch(BlobFetchPolicy::new(
            BlobFetchPolicy::parse_custody(&args.blobpool_custody)
                .map_err(|e| anyhow::anyhow!("--blobpool.custody: {e}"))?,
            args.blobpool_fetch_probability,
        ));
    builder.config_mut().follow = ethpeer_actors::blocks::follow::FollowConfig {
        enabled: args.follow && args.follow_quorum > 0,
        interval: Duration::from_secs(args.follow_interval.max(1)),
        quorum: args.follow_quorum,
    };
    builder.config_mut().max_subscriptions = args.rpc_max_subscriptions;
    let max_window = ethpeer_actors::blocks::follow::MAX_HISTORY_WINDOW;
    if args.history_window == 0 || args.history_window > max_window {
        anyhow::bail!("--history.window: between 1 and {max_window} blocks");
    }
    builder.config_mut().history_window = args.history_window;
    builder.config_mut().datadir = Some(datadir.to_path_buf());
    let max_state = ethpeer_actors::blocks::engine::MAX_STATE_WINDOW;
    if args.state_window > max_state {
        anyhow::bail!("--state.window: at most {max_state} blocks");
    }
    builder.config_mut().state_window = args.state_window;
    if let Some(seconds) = crate::flags::dev_period(args) {
        if builder.config().genesis.is_none() {
            anyhow::bail!("--dev.period: block production needs a chain whose state we hold (--dev or --genesis)");
        }
        builder.config_mut().dev_period = Some(Duration::from_secs(seconds));
    }
    builder.config_mut().peer_policy = ethpeer_actors::node::manager::PeerPolicy {
        netrestrict: ethpeer_actors::node::manager::PeerPolicy::parse_netrestrict(
            args.netrestrict.as_deref().unwrap_or_default(),
        )
        .context("--netrestrict")?,
        trusted_only: args.trusted_only,
    };
    if let Some(id) = args.networkid {
        builder = builder.network_id(id);
    }
    builder = with_peers(builder, args, datadir)?;
    if let Some(path) = &args.trace_propagation {
        builder = builder.trace_propagation(path.clone());
    }
    Ok(builder)
}

/// Discovery, static peers (bootnodes too when no discovery runs) and trusted peers.
fn with_peers(
    mut builder: NodeBuilder,
    args: &NodeArgs,
    datadir: &Path,
) -> anyhow::Result<NodeBuilder> {
    let enodes = |flag: &str, urls: &[String]| -> anyhow::Result<Vec<Enode>> {
        urls.iter()
            .filter(|u| !u.trim().is_empty())
            .map(|u| Enode::parse_resolving(u).with_context(|| format!("--{flag}")))
            .collect()
    };
    let discovery = discovery_config(args, datadir)?;
    let static_bootnodes = match discovery.v4 || discovery.v5 {
        // Without discovery, bootnodes are dialed like static peers (as before).
        false => enodes("bootnodes", &args.bootnodes)?,
        true => Vec::new(),
    };
    for enode in enodes("peers", &args.peers)?
        .into_iter()
        .chain(static_bootnodes)
    {
        builder = builder.static_peer(enode);
    }
    builder = builder.discovery(discovery);
    for enode in enodes("trusted-peers", &args.trusted_peers)? {
        builder = builder.trusted_peer(enode);
    }
    Ok(builder)
}

/// `--http.dashboard`: the page learns the WebSocket port, and the WebSocket server lets
/// the page's origins (the HTTP server's loopback names and address) connect, beside the
/// `--ws.origins` rules (or geth's defaults when none are given).
fn with_dashboard(
    http: crate::flags::Endpoint,
    ws: crate::flags::Endpoint,
    (http_bound, ws_bound): (Option<std::net::SocketAddr>, Option<std::net::SocketAddr>),
) -> (crate::flags::Endpoint, crate::flags::Endpoint) {
    match (http, ws) {
        (Some((http_addr, mut http_access)), Some((ws_addr, mut ws_access)))
            if http_access.dashboard.is_some() =>
        {
            http_access.dashboard = Some(ws_bound.unwrap_or(ws_addr).port());
            if ws_access.origins.is_empty() {
                ws_access.origins = rpc::default_origins();
            }
            ws_access
                .origins
                .extend(ethpeer_actors::api::dashboard::origins(
                    http_bound.unwrap_or(http_addr),
                ));
            (Some((http_addr, http_access)), Some((ws_addr, ws_access)))
        }
        other => other,
    }
}

/// JSON-RPC over the IPC socket at `path`, every namespace, on an arbiter of its own.
fn serve_ipc(
    path: &Path,
    node: &ethpeer_actors::node::Node,
    limits: &rpc::RpcLimits,
) -> anyhow::Result<actix_rt::Arbiter> {
    let endpoint = rpc::ipc::IpcEndpoint::bind(path).context("--ipcpath")?;
    println!("ipc {}", path.display());
    log::info!("JSON-RPC over IPC at {}", path.display());
    let access = rpc::RpcAccess {
        limits: limits.clone(),
        ..rpc::RpcAccess::all()
    };
    Ok(rpc::ipc::serve_on_arbiter(endpoint, node.clone(), access))
}

/// Prints the enode URL (stdout carries the machine-readable facts, one per line; logs go
/// to stderr) and starts the status line.
fn announce(node: &ethpeer_actors::node::Node) {
    println!("{}", node.enode_url());
    ethpeer_actors::node::status::spawn_status_log(
        node.clone(),
        ethpeer_actors::node::status::STATUS_INTERVAL,
    );
}

async fn serve(plan: Plan, sockets: Sockets) -> anyhow::Result<()> {
    let bound = |listener: &Option<std::net::TcpListener>| {
        listener.as_ref().and_then(|l| l.local_addr().ok())
    };
    let (http, ws) = with_dashboard(
        plan.http,
        plan.ws,
        (bound(&sockets.http), bound(&sockets.ws)),
    );
    let mut builder = plan.builder.listener(sockets.p2p);
    builder.config_mut().discovery.socket = sockets.discovery.map(Arc::new);
    let node = builder.start().await.context("cannot start the node")?;
    announce(&node);
    // Before the HTTP servers: the metrics line is printed last, when all is up.
    let ipc = plan
        .ipc
        .as_ref()
        .map(|p| serve_ipc(p, &node, &plan.rpc_limits))
        .transpose()?;
    let mut servers = Vec::new();
    if let (Some((_, access)), Some(listener)) = (http, sockets.http) {
        let (server, bound) = rpc::server_with(node.clone(), listener, access).context("--http")?;
        println!("rpc http://{bound}");
        log::info!("JSON-RPC on http://{bound}");
        servers.push(server);
    }
    if let (Some((_, access)), Some(listener)) = (ws, sockets.ws) {
        let (server, bound) = rpc::ws::server(node.clone(), listener, access).context("--ws")?;
        println!("ws ws://{bound}");
        log::info!("JSON-RPC over WebSocket on ws://{bound}");
        servers.push(server);
    }
    if let (Some((_, secret)), Some(listener)) = (plan.engine.clone(), sockets.authrpc) {
        let version = (
            "ethpeer".to_string(),
            format!("v{}", env!("CARGO_PKG_VERSION")),
            env!("ETHPEER_COMMIT").chars().take(8).collect(),
        );
        let endpoint = ethpeer_actors::api::engine::EngineEndpoint::of(&node, secret, version);
        let (server, bound) =
            ethpeer_actors::api::engine::server(endpoint, listener).context("--authrpc")?;
        println!("authrpc http://{bound}");
        log::info!("engine API (JWT) on http://{bound}");
        servers.push(server);
    }
    if let Some(listener) = sockets.metrics {
        let gate = Some(plan.rpc_limits.connections.clone());
        let (server, bound) =
            metrics::server_with(node.clone(), gate, listener).context("--metrics")?;
        println!("metrics http://{bound}/metrics");
        log::info!("metrics on http://{bound}/metrics");
        servers.push(server);
    }
    let handles: Vec<_> = servers.iter().map(|s| s.handle()).collect();
    for server in servers {
        actix_rt::spawn(server);
    }
    let archiver = plan
        .archive
        .as_ref()
        .map(|a| crate::archive::start_archive(&node, a))
        .transpose()?;
    wait_for_signal().await;
    log::info!("shutting down: disconnecting peers (client quitting); Ctrl-C again to force");
    // A second signal ends the process at once, whatever the graceful path is waiting on.
    actix_rt::spawn(exit_on_second_signal());
    node.shutdown(SHUTDOWN_GRACE).await;
    if let Some(archiver) = archiver {
        // The hour so far becomes its files; its segment stays for a restart.
        archiver.close().await;
    }
    for handle in handles {
        handle.stop(true).await;
    }
    if let (Some(arbiter), Some(path)) = (ipc, &plan.ipc) {
        arbiter.stop();
        let _ = std::fs::remove_file(path);
    }
    drop(node);
    Ok(())
}

async fn exit_on_second_signal() {
    wait_for_signal().await;
    log::warn!("second signal: exiting now");
    std::process::exit(130);
}

/// Ctrl-C, or SIGTERM (what service managers and `docker stop` send).
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
