//! What each node flag resolves to, checked before anything starts: networks and data
//! directory, NAT (including the STUN query), the engine API's secret, IPC path, pool and
//! RPC limits, the descriptor budget, eth versions, RPC endpoints, discovery and DNS lists.
//! Nothing here writes or listens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ethpeer_actors::api::rpc;
use ethpeer_actors::discovery::bootnodes;
use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::eth::EthVersion;
use ethpeer_actors::node::{Bootnode, DiscoveryConfig};

use crate::cli::{NetworkArg, NodeArgs};

/// `--nat`: `none`, `extip:IP`, or `stun` / `stun:HOST:PORT` (geth's), which asks STUN
/// servers now (from `--addr`) and takes the IP they see.
pub(crate) fn nat_ip(args: &NodeArgs) -> anyhow::Result<Option<std::net::IpAddr>> {
    use ethpeer_actors::discovery::stun;
    let nat = args.nat.as_str();
    if let Some(ip) = nat.strip_prefix("extip:") {
        return Ok(Some(ip.parse().with_context(|| format!("--nat {nat}"))?));
    }
    let servers: Vec<String> = match nat {
        "none" | "" => return Ok(None),
        "stun" => stun::DEFAULT_SERVERS.map(String::from).to_vec(),
        other => match other.strip_prefix("stun:") {
            Some(server) => vec![server.to_string()],
            None => anyhow::bail!("--nat {other}: expected none, extip:IP, stun or stun:HOST:PORT"),
        },
    };
    let mapped = stun::query(&servers, std::net::SocketAddr::new(args.addr, 0))
        .with_context(|| format!("--nat {nat}"))?;
    log::info!("--nat {nat}: the STUN server sees us at {mapped}");
    Ok(Some(mapped.ip()))
}

/// `--authrpc.*`: where the engine API listens and its secret, read and checked now.
pub(crate) fn engine_endpoint(
    args: &NodeArgs,
) -> anyhow::Result<
    Option<(
        std::net::SocketAddr,
        ethpeer_actors::api::engine::jwt::JwtSecret,
    )>,
> {
    use std::net::ToSocketAddrs;
    let Some(path) = &args.authrpc_jwtsecret else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--authrpc.jwtsecret: cannot read {}", path.display()))?;
    let secret =
        ethpeer_actors::api::engine::jwt::JwtSecret::from_hex(&text).with_context(|| {
            format!(
                "--authrpc.jwtsecret {}: expected 64 hex characters",
                path.display()
            )
        })?;
    let addr = (args.authrpc_addr.as_str(), args.authrpc_port)
        .to_socket_addrs()
        .with_context(|| format!("--authrpc.addr {}", args.authrpc_addr))?
        .next()
        .with_context(|| format!("--authrpc.addr {}: no address", args.authrpc_addr))?;
    Ok(Some((addr, secret)))
}

/// `--ipcpath` within the data directory (an absolute path escapes it, as in geth),
/// checked to fit a Unix socket address; `None` with `--ipcdisable`.
pub(crate) fn ipc_path(args: &NodeArgs, datadir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if args.ipcdisable {
        return Ok(None);
    }
    let path = datadir.join(&args.ipcpath);
    let len = path.as_os_str().len();
    if len > rpc::ipc::MAX_SOCKET_PATH {
        anyhow::bail!(
            "--ipcpath: {} is {len} bytes, a Unix socket path has at most {} (use a shorter \
             --ipcpath or --ipcdisable)",
            path.display(),
            rpc::ipc::MAX_SOCKET_PATH
        );
    }
    Ok(Some(path))
}

/// `--txpool.*` as the pool's limits.
pub(crate) fn pool_limits(
    args: &NodeArgs,
) -> anyhow::Result<ethpeer_actors::txs::pool::PoolLimits> {
    let txs = args
        .txpool_globalslots
        .checked_add(args.txpool_globalqueue)
        .filter(|n| *n > 0)
        .context("--txpool.globalslots plus --txpool.globalqueue must be between 1 and 2^64")?;
    Ok(ethpeer_actors::txs::pool::PoolLimits {
        txs,
        future_per_sender: args.txpool_accountqueue,
        price_bump_percent: args.txpool_pricebump,
        min_tip: args.txpool_pricelimit,
        ..Default::default()
    })
}

/// `--rpc.*` limits, one connection gate for the HTTP and WebSocket servers together,
/// within what the descriptor budget leaves RPC ([`rpc_descriptor_share`]).
pub(crate) fn rpc_limits(args: &NodeArgs) -> anyhow::Result<rpc::RpcLimits> {
    if args.rpc_max_connections == 0 {
        anyhow::bail!("--rpc.max-connections: must be at least 1");
    }
    let connections = match rpc_descriptor_share(args) {
        Some(share) if share < args.rpc_max_connections => {
            log::warn!(
                "open-files limit leaves RPC {share} connections, not the {} of \
                 --rpc.max-connections (peers keep their reserve; raise `ulimit -n`)",
                args.rpc_max_connections
            );
            share.max(1)
        }
        _ => args.rpc_max_connections,
    };
    Ok(rpc::RpcLimits {
        batch_request_limit: args.rpc_batch_request_limit,
        batch_response_max_size: args.rpc_batch_response_max_size,
        subscriptions_per_connection: args.rpc_max_subscriptions_per_connection,
        connections: Arc::new(rpc::ConnectionGate::new(connections)),
        ..rpc::RpcLimits::default()
    })
}

/// Descriptors kept for everything but RPC clients: the chain store, logs, the trace
/// file, the discovery socket, listeners and the runtime's own (ours, generous: the node
/// uses about 30 of these).
const BASE_DESCRIPTOR_RESERVE: usize = 128;

/// Descriptors kept for peers: one per peer, per pending inbound handshake (geth's 50) and
/// per dial in flight (a third of the peer limit is dialed: geth's dial ratio).
pub(crate) fn peer_descriptor_reserve(args: &NodeArgs) -> usize {
    args.maxpeers
        .saturating_add(ethpeer_actors::session::MAX_PENDING_HANDSHAKES)
        .saturating_add(args.maxpeers / 3 + 1)
}

/// Raises the soft open-files limit to the hard one (as geth and reth do at start) and
/// answers how many RPC connections fit in what is left after the peers' and the base
/// reserve: each RPC server may hold [`ACCEPT_SLACK`] sockets beyond its limit, and there
/// are two servers. `None` when the limit cannot be read (no budget is applied then).
///
/// [`ACCEPT_SLACK`]: ethpeer_actors::api::http::ACCEPT_SLACK
pub(crate) fn rpc_descriptor_share(args: &NodeArgs) -> Option<usize> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    let limit = match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => {
            if raised > soft {
                log::info!("raised the open-files limit from {soft} to {raised}");
            }
            raised
        }
        Err(error) => {
            log::warn!("cannot raise the open-files limit ({soft}): {error}");
            soft
        }
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let reserved = BASE_DESCRIPTOR_RESERVE.saturating_add(peer_descriptor_reserve(args));
    let per_server = limit.saturating_sub(reserved) / 2;
    Some(per_server.saturating_sub(ethpeer_actors::api::http::ACCEPT_SLACK))
}

/// `--eth` as versions (at least one).
pub(crate) fn eth_versions(args: &NodeArgs) -> anyhow::Result<Vec<EthVersion>> {
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

/// The HTTP and WebSocket RPC endpoints the flags ask for: `--http` (or its alias
/// `--rpc ADDR`, which serves every namespace unless `--http.api` narrows it) and `--ws`.
pub(crate) type Endpoint = Option<(std::net::SocketAddr, rpc::RpcAccess)>;

pub(crate) fn rpc_endpoints(
    args: &NodeArgs,
    limits: &rpc::RpcLimits,
) -> anyhow::Result<(Endpoint, Endpoint)> {
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
        // The WebSocket port is filled in once the sockets are bound.
        access.dashboard = args.http_dashboard.then_some(0);
        access.vhosts = rpc::split_list(&args.http_vhosts);
        access.cors = rpc::split_list(&args.http_corsdomain);
        access.limits = limits.clone();
        (addr, access)
    });
    if args.http_dashboard && !(args.ws && (args.http || args.rpc.is_some())) {
        anyhow::bail!(
            "--http.dashboard: the page is served over --http and streams over --ws: give both"
        );
    }
    let ws = match args.ws {
        true => {
            let mut access = apis("ws.api", &args.ws_api, rpc::RpcAccess::default())?;
            if args.http_dashboard && !access.apis.iter().any(|a| a == "ethpeer") {
                // The page subscribes to txArrivals and polls ethpeer_status.
                access.apis.push("ethpeer".into());
            }
            access.origins = rpc::split_list(&args.ws_origins);
            access.limits = limits.clone();
            Some((resolve("ws.addr", &args.ws_addr, args.ws_port)?, access))
        }
        false => None,
    };
    Ok((http, ws))
}

/// The built-in public network of a `--network` value (`None` for dev, which is a genesis).
pub(crate) fn public_network(arg: NetworkArg) -> Option<Network> {
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
pub(crate) fn discovery_config(args: &NodeArgs, datadir: &Path) -> anyhow::Result<DiscoveryConfig> {
    let external_ip = nat_ip(args)?;
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
        socket: None,
        dns: dns_trees(args)?,
    })
}

/// `--discovery.dns` as geth reads it: off with --nodiscover; the given URLs (an empty
/// string: none); by default the network's built-in tree (none for dev or a custom genesis).
pub(crate) fn dns_trees(
    args: &NodeArgs,
) -> anyhow::Result<Vec<ethpeer_actors::discovery::dns::Link>> {
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
pub(crate) fn default_datadir(network: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".ethpeer")
        .join(network)
}

/// `--dev.period` in seconds, or `None` for no block production: geth --dev's 0 (a block
/// as soon as txs arrive) on the dev network unless `off`; elsewhere only when given.
pub(crate) fn dev_period(args: &NodeArgs) -> Option<u64> {
    let dev_network = args.genesis.is_none() && args.network == NetworkArg::Dev;
    match (args.dev_period, dev_network) {
        (Some(crate::cli::DevPeriod::Every(seconds)), _) => Some(seconds),
        (None, true) => Some(0),
        (Some(crate::cli::DevPeriod::Off), _) | (None, false) => None,
    }
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

    #[test]
    fn geths_network_flags_choose_the_network() {
        let chosen = |flags: &[&str]| args(flags).resolve_network().network;
        assert_eq!(chosen(&[]), NetworkArg::Dev);
        assert_eq!(chosen(&["--mainnet"]), NetworkArg::Mainnet);
        assert_eq!(chosen(&["--sepolia"]), NetworkArg::Sepolia);
        assert_eq!(chosen(&["--holesky"]), NetworkArg::Holesky);
        assert_eq!(chosen(&["--hoodi"]), NetworkArg::Hoodi);
        assert_eq!(chosen(&["--dev"]), NetworkArg::Dev);
        assert_eq!(chosen(&["--network", "sepolia"]), NetworkArg::Sepolia);
        // Two networks at once is an error, as in geth.
        for both in [["--mainnet", "--sepolia"], ["--mainnet", "--network"]] {
            let mut argv = vec!["ethpeer", "node"];
            argv.extend(both);
            if both[1] == "--network" {
                argv.push("hoodi");
            }
            assert!(Cli::try_parse_from(argv).is_err(), "{both:?}");
        }
    }

    #[test]
    fn the_dashboard_needs_http_and_ws_and_gets_the_ethpeer_namespace() {
        let limits = rpc::RpcLimits::default();
        for flags in [
            &["--http.dashboard"][..],
            &["--http", "--http.dashboard"],
            &["--ws", "--http.dashboard"],
        ] {
            assert!(rpc_endpoints(&args(flags), &limits).is_err(), "{flags:?}");
        }
        let (http, ws) = rpc_endpoints(&args(&["--http", "--ws", "--http.dashboard"]), &limits)
            .expect("both given");
        assert_eq!(http.map(|(_, a)| a.dashboard), Some(Some(0)));
        let apis = ws.map(|(_, a)| a.apis).unwrap_or_default();
        assert!(apis.iter().any(|a| a == "ethpeer"), "{apis:?}");
        let (http, _) = rpc_endpoints(&args(&["--http"]), &limits).expect("valid");
        assert_eq!(http.map(|(_, a)| a.dashboard), Some(None));
    }

    #[test]
    fn the_dev_network_produces_by_default_and_off_turns_it_off() {
        let period = |flags: &[&str]| dev_period(&args(flags).resolve_network());
        assert_eq!(period(&[]), Some(0), "geth --dev's default");
        assert_eq!(period(&["--dev.period", "off"]), None);
        assert_eq!(period(&["--dev.period", "12"]), Some(12));
        assert_eq!(period(&["--sepolia"]), None);
        assert_eq!(period(&["--genesis", "g.json"]), None);
        assert_eq!(
            period(&["--genesis", "g.json", "--dev.period", "0"]),
            Some(0)
        );
        let argv = ["ethpeer", "node", "--dev.period", "soon"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn tx_gossip_is_on_unless_disabled_like_reths_flag() {
        assert!(!args(&[]).disable_tx_gossip);
        assert!(args(&["--disable-tx-gossip"]).disable_tx_gossip);
        let argv = ["ethpeer", "node", "--disable-tx-gossip", "yes"];
        assert!(
            Cli::try_parse_from(argv).is_err(),
            "a switch takes no value"
        );
    }
}
