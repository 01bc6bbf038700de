//! `ethpeer node`: turns flags into a [`NodeBuilder`], starts the node and its HTTP
//! endpoints inside an actix `System`, and on Ctrl-C (or SIGTERM) disconnects every peer
//! with "client quitting" and closes the chain store.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ethpeer_actors::api::{metrics, rpc};
use ethpeer_actors::chain::{ChainStore, RedbChainStore, CHAIN_DB_FILE};
use ethpeer_actors::discovery::bootnodes;
use ethpeer_actors::discovery::enode::{load_or_create_node_key, Enode};
use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::eth::{genesis, EthVersion};
use ethpeer_actors::node::{rules_for_genesis, Bootnode, DiscoveryConfig, NodeBuilder};
use ethpeer_actors::txs::inbox::BlobFetchPolicy;
use ethpeer_actors::txs::pool::{MemoryState, NoState, StateProvider};

use crate::cli::{NetworkArg, NodeArgs};

/// How long peers get to receive our Disconnect and close at shutdown (the peer actor's
/// own grace is 2 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Runs a node until Ctrl-C.
pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    // Everything that can fail on bad flags or files fails here, before any socket opens.
    let plan = Plan::new(&args)?;
    let store = plan.store.clone();
    let system = actix_rt::System::new();
    let result = system.block_on(serve(plan));
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

/// What the flags resolved to.
struct Plan {
    builder: NodeBuilder,
    store: Arc<RedbChainStore>,
    http: Option<(std::net::SocketAddr, rpc::RpcAccess)>,
    ws: Option<(std::net::SocketAddr, rpc::RpcAccess)>,
    metrics: Option<std::net::SocketAddr>,
}

impl Plan {
    fn new(args: &NodeArgs) -> anyhow::Result<Self> {
        let (http, ws) = rpc_endpoints(args)?;
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
        std::fs::create_dir_all(&datadir)
            .with_context(|| format!("cannot create data directory {}", datadir.display()))?;
        let key_path = args
            .nodekey
            .clone()
            .unwrap_or_else(|| datadir.join("nodekey"));
        let key = load_or_create_node_key(&key_path)?;

        let (mut builder, store, state) = open_chain(args, spec.as_ref(), &datadir)?;
        if let Some(spec) = &spec {
            // The pool follows the head's gas limit and fork, not genesis's.
            builder.config_mut().rules = rules_for_genesis(spec, &store.head());
        }
        let eth_versions = eth_versions(args)?;
        let mut builder = builder
            .key(key)
            .listen(std::net::SocketAddr::new(args.addr, args.port))
            .store(store.clone())
            .state(state)
            .eth_versions(eth_versions)
            .max_peers(args.maxpeers)
            .arrival_wait(Duration::from_millis(args.tx_arrival_wait))
            .blob_fetch(BlobFetchPolicy::new(
                BlobFetchPolicy::parse_custody(&args.blobpool_custody)
                    .map_err(|e| anyhow::anyhow!("--blobpool.custody: {e}"))?,
                args.blobpool_fetch_probability,
            ));
        builder.config_mut().follow = ethpeer_actors::blocks::follow::FollowConfig {
            enabled: args.follow_quorum > 0,
            interval: Duration::from_secs(args.follow_interval.max(1)),
            quorum: args.follow_quorum,
        };
        if let Some(id) = args.networkid {
            builder = builder.network_id(id);
        }
        builder = with_peers(builder, args, &datadir)?;
        if let Some(path) = &args.trace_propagation {
            builder = builder.trace_propagation(path.clone());
        }
        log::info!(
            "network {network_name}, data in {}, head #{}",
            datadir.display(),
            store.head().number
        );
        Ok(Self {
            builder,
            store,
            http,
            ws,
            metrics: args.metrics,
        })
    }
}

/// The builder for the network or genesis, its chain store (with `--chain` imported) and
/// the pool's state (`--state`, the genesis alloc, or none).
fn open_chain(
    args: &NodeArgs,
    spec: Option<&alloy_genesis::Genesis>,
    datadir: &Path,
) -> anyhow::Result<(NodeBuilder, Arc<RedbChainStore>, Arc<dyn StateProvider>)> {
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
    let store = Arc::new(RedbChainStore::open(
        &datadir.join(CHAIN_DB_FILE),
        &genesis_header,
    )?);
    if let Some(chain) = &args.chain {
        let summary = crate::import_into(&store, chain, spec)?;
        log::info!("imported {chain:?}: {summary}");
    }
    let state: Arc<dyn StateProvider> = match (&args.state, spec) {
        (Some(path), _) => Arc::new(MemoryState::from_dump(path)?),
        (None, Some(spec)) => Arc::new(MemoryState::from_genesis(spec)),
        (None, None) => Arc::new(NoState),
    };
    Ok((builder, store, state))
}

/// `--eth` as versions (at least one).
fn eth_versions(args: &NodeArgs) -> anyhow::Result<Vec<EthVersion>> {
    let versions = args
        .eth
        .iter()
        .map(|v| EthVersion::try_from(*v))
        .collect::<Result<Vec<_>, _>>()
        .context("--eth")?;
    if versions.is_empty() {
        anyhow::bail!("--eth names no version");
    }
    Ok(versions)
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
            .map(|u| u.parse::<Enode>().with_context(|| format!("--{flag}")))
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

async fn serve(plan: Plan) -> anyhow::Result<()> {
    let node = plan.builder.start().await.context("cannot listen")?;
    // stdout carries the machine-readable facts (one per line); logs go to stderr.
    println!("{}", node.enode_url());
    let mut servers = Vec::new();
    if let Some((addr, access)) = plan.http {
        let (server, bound) = rpc::server_with(node.clone(), addr, access).context("--http")?;
        println!("rpc http://{bound}");
        log::info!("JSON-RPC on http://{bound}");
        servers.push(server);
    }
    if let Some((addr, access)) = plan.ws {
        let (server, bound) = rpc::ws::server(node.clone(), addr, access).context("--ws")?;
        println!("ws ws://{bound}");
        log::info!("JSON-RPC over WebSocket on ws://{bound}");
        servers.push(server);
    }
    if let Some(addr) = plan.metrics {
        let (server, bound) = metrics::server(node.clone(), addr).context("--metrics")?;
        println!("metrics http://{bound}/metrics");
        log::info!("metrics on http://{bound}/metrics");
        servers.push(server);
    }
    let handles: Vec<_> = servers.iter().map(|s| s.handle()).collect();
    for server in servers {
        actix_rt::spawn(server);
    }
    wait_for_signal().await;
    log::info!("shutting down: disconnecting peers (client quitting); Ctrl-C again to force");
    // A second signal ends the process at once, whatever the graceful path is waiting on.
    actix_rt::spawn(async {
        wait_for_signal().await;
        log::warn!("second signal: exiting now");
        std::process::exit(130);
    });
    node.shutdown(SHUTDOWN_GRACE).await;
    for handle in handles {
        handle.stop(true).await;
    }
    drop(node);
    Ok(())
}

/// Ctrl-C, or SIGTERM (what service managers and `docker stop` send).
async fn wait_for_signal() {
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

/// The HTTP and WebSocket RPC endpoints the flags ask for: `--http` (or its alias
/// `--rpc ADDR`, which serves every namespace unless `--http.api` narrows it) and `--ws`.
type Endpoint = Option<(std::net::SocketAddr, rpc::RpcAccess)>;

fn rpc_endpoints(args: &NodeArgs) -> anyhow::Result<(Endpoint, Endpoint)> {
    let apis = |flag: &str, list: &Option<String>, default: rpc::RpcAccess| {
        let access = match list {
            Some(list) => default.with_apis(list),
            None => default,
        };
        match access
            .apis
            .iter()
            .find(|a| !rpc::ALL_APIS.contains(&a.as_str()))
        {
            Some(unknown) => Err(anyhow::anyhow!(
                "--{flag}: unknown namespace {unknown} (known: {})",
                rpc::ALL_APIS.join(",")
            )),
            None => Ok(access),
        }
    };
    let resolve = |flag: &str, host: &str, port: u16| -> anyhow::Result<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        (host, port)
            .to_socket_addrs()
            .with_context(|| format!("--{flag} {host}"))?
            .next()
            .with_context(|| format!("--{flag} {host}: no address"))
    };
    let http = match (args.http, args.rpc) {
        (_, Some(addr)) => Some((
            addr,
            apis("http.api", &args.http_api, rpc::RpcAccess::all())?,
        )),
        (true, None) => Some((
            resolve("http.addr", &args.http_addr, args.http_port)?,
            apis("http.api", &args.http_api, rpc::RpcAccess::default())?,
        )),
        (false, None) => None,
    };
    let http = http.map(|(addr, mut access)| {
        access.vhosts = rpc::split_list(&args.http_vhosts);
        access.cors = rpc::split_list(&args.http_corsdomain);
        (addr, access)
    });
    let ws = match args.ws {
        true => Some((
            resolve("ws.addr", &args.ws_addr, args.ws_port)?,
            apis("ws.api", &args.ws_api, rpc::RpcAccess::default())?,
        )),
        false => None,
    };
    Ok((http, ws))
}

/// The built-in public network of a `--network` value (`None` for dev, which is a genesis).
fn public_network(arg: NetworkArg) -> Option<Network> {
    match arg {
        NetworkArg::Mainnet => Some(Network::Mainnet),
        NetworkArg::Sepolia => Some(Network::Sepolia),
        NetworkArg::Holesky => Some(Network::Holesky),
        NetworkArg::Hoodi => Some(Network::Hoodi),
        NetworkArg::Dev => None,
    }
}

/// Discovery from `--nodiscover`, `--discovery.*`, `--nat` and `--bootnodes` (default:
/// the network's built-in lists, geth's v4 list per network and its one v5 list; none for
/// dev or a custom genesis).
fn discovery_config(args: &NodeArgs, datadir: &Path) -> anyhow::Result<DiscoveryConfig> {
    let external_ip = match args.nat.as_str() {
        "none" | "" => None,
        other => match other.strip_prefix("extip:") {
            Some(ip) => Some(ip.parse().with_context(|| format!("--nat {other}"))?),
            None => anyhow::bail!("--nat {other}: expected extip:IP or none"),
        },
    };
    let texts: Vec<&str> = match (&args.bootnodes[..], &args.genesis) {
        ([], None) => public_network(args.network)
            .map(|n| bootnodes::bootnodes(n).to_vec())
            .unwrap_or_default(),
        (urls, _) => urls.iter().map(String::as_str).collect(),
    };
    let bootnodes = texts
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.parse::<Bootnode>().context("--bootnodes"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // discv5 takes the `enr:` entries of --bootnodes (its table holds signed records
    // only), else geth's V5Bootnodes on the public networks.
    let v5_texts: Vec<&str> = match (&args.bootnodes[..], &args.genesis) {
        ([], None) => match public_network(args.network) {
            Some(_) => bootnodes::V5.to_vec(),
            None => Vec::new(),
        },
        (urls, _) => urls.iter().map(String::as_str).collect(),
    };
    let v5_bootnodes = v5_texts
        .iter()
        .filter(|t| t.trim().starts_with("enr:"))
        .map(|t| ethpeer_actors::discovery::enr::parse_record(t).context("--bootnodes"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(DiscoveryConfig {
        v4: args.discovery_v4 && !args.nodiscover,
        v5: args.discovery_v5 && !args.nodiscover,
        v5_bootnodes,
        port: args.discovery_port,
        external_ip,
        bootnodes,
        record_file: Some(datadir.join(ethpeer_actors::discovery::enr::RECORD_FILE)),
        dns: dns_trees(args)?,
    })
}

/// `--discovery.dns` as geth reads it: off with --nodiscover; the given URLs (an empty
/// string: none); by default the network's built-in tree (none for dev or a custom genesis).
fn dns_trees(args: &NodeArgs) -> anyhow::Result<Vec<ethpeer_actors::discovery::dns::Link>> {
    use ethpeer_actors::discovery::dns::service as dns;
    if args.nodiscover {
        return Ok(Vec::new());
    }
    let text = match (&args.discovery_dns, &args.genesis) {
        (Some(text), _) => text.clone(),
        (None, None) => public_network(args.network)
            .map(dns::known_tree)
            .unwrap_or_default(),
        (None, Some(_)) => String::new(),
    };
    dns::parse_urls(&text).with_context(|| format!("--discovery.dns {text}"))
}

/// `~/.ethpeer/<network>` (geth uses `~/.ethereum`); `./.ethpeer/<network>` without a home.
fn default_datadir(network: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".ethpeer")
        .join(network)
}

/// `ethpeer key show FILE`.
pub fn key_show(file: &Path, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let key = ethpeer_actors::discovery::enode::read_node_key(file)?;
    let id = ethpeer_actors::rlpx::handshake::NodeKey::new(key).id();
    // The node's own record when it saved one next to the key, else one for `addr`.
    let saved = file
        .parent()
        .map(|dir| dir.join(ethpeer_actors::discovery::enr::RECORD_FILE))
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| ethpeer_actors::discovery::enr::parse_record(&text).ok())
        .filter(|record| ethpeer_actors::discovery::enr::node_id(record) == id);
    let record = match saved {
        Some(record) => record,
        None => {
            let content = ethpeer_actors::discovery::enr::RecordContent {
                ip: Some(addr.ip()),
                tcp: addr.port(),
                udp: Some(addr.port()),
                fork_id: None,
            };
            ethpeer_actors::discovery::enr::LocalRecord::load_or_create(&key, content, None)?
                .record()
                .clone()
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "id": id,
            "enode": Enode { id, addr }.to_string(),
            "enr": record.to_base64(),
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(flags: &[&str]) -> NodeArgs {
        let argv = ["ethpeer", "node"].iter().chain(flags);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Some(Command::Node(args))) => *args,
            other => panic!("{other:?}"),
        }
    }

    fn domains(flags: &[&str]) -> Vec<String> {
        dns_trees(&args(flags))
            .unwrap()
            .into_iter()
            .map(|link| link.domain)
            .collect()
    }

    #[test]
    fn discovery_dns_follows_geths_semantics() {
        // Default: the network's built-in `all` tree; none for dev or a custom genesis.
        assert_eq!(
            domains(&["--network", "mainnet"]),
            ["all.mainnet.ethdisco.net"]
        );
        assert_eq!(domains(&["--network", "hoodi"]), ["all.hoodi.ethdisco.net"]);
        assert!(domains(&[]).is_empty());
        assert!(domains(&["--network", "sepolia", "--genesis", "g.json"]).is_empty());
        // An empty string disables; --nodiscover wins over everything.
        assert!(domains(&["--network", "mainnet", "--discovery.dns", ""]).is_empty());
        assert!(domains(&["--network", "mainnet", "--nodiscover"]).is_empty());
        let url = "enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@x.test";
        let two = format!("{url},{url}2");
        assert_eq!(domains(&["--discovery.dns", &two]), ["x.test", "x.test2"]);
        assert!(dns_trees(&args(&["--discovery.dns", "enrtree://bad@x"])).is_err());
    }
}
