//! DNS node lists (EIP-1459) wired into the node: the public networks' built-in trees (as
//! geth's), and the task that walks the configured trees with the [`dns::Client`] and
//! offers each node record to the dial scheduler (a `Recipient<NodeDiscovered>`) scheduler with the same `eth`
//! fork-id verdict as discv4's nodes, as `PeerSource::Dns`.
//!
//! The walk is paced by the client's rate limit (geth's 3 lookups/s), so the node takes
//! at most about three records a second from DNS; it holds at most
//! [`dns::client::CACHE_LIMIT`] verified entries, and the scheduler at most
//! `MAX_CANDIDATES` candidates.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;

use crate::discovery::candidate::{ForkVerdict, NodeDiscovered, PeerSource};
use crate::discovery::dns::{
    self as dns, Client, ClientConfig, DnsMetrics, HickoryResolver, Link, Resolver,
};
use crate::discovery::enode::Enode;
use crate::discovery::enr::{self, Record};
use crate::eth::forkid::Network;

/// The EF's tree-signing key and the URL prefix of its public lists (go-ethereum v1.17
/// `params/bootnodes.go`, `dnsPrefix`; the lists are published by the
/// `ethereum/discv4-dns-lists` crawler).
pub const DNS_PREFIX: &str = "enrtree://AKA3AM6LPBYEUDMVNU3BSVQJ5AD45Y7YPOHJLEF6W26QOE4VTUDPE@";

/// The list geth follows for eth: `all` (go-ethereum v1.17 `cmd/utils/flags.go`,
/// `SetDNSDiscoveryDefaults`: `protocol := "all"`; the `les` lists went with light sync).
pub const PROTOCOL: &str = "all";

/// The built-in tree of a public network (geth `params.KnownDNSNetwork(genesis, "all")`):
/// `enrtree://AKA3...@all.<network>.ethdisco.net`. go-ethereum v1.17's `KnownDNSNetwork`
/// names mainnet, sepolia and hoodi; its Holesky case is gone with Holesky's bootnodes
/// (see `bootnodes.rs`), so Holesky's is the `all.holesky.ethdisco.net` that earlier
/// releases named (not checked against a tag; the list may no longer be published).
pub fn known_tree(network: Network) -> String {
    let name = match network {
        Network::Mainnet => "mainnet",
        Network::Sepolia => "sepolia",
        Network::Holesky => "holesky",
        Network::Hoodi => "hoodi",
    };
    format!("{DNS_PREFIX}{PROTOCOL}.{name}.ethdisco.net")
}

/// DNS discovery while the node runs.
#[derive(Debug)]
pub struct DnsDiscovery {
    /// The configured trees.
    pub trees: Vec<Link>,
    /// The client's counters.
    pub metrics: Arc<DnsMetrics>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsDiscovery {
    /// Stops walking the trees.
    pub fn stop(&self) {
        self.task.abort();
    }
}

/// Starts walking `trees` through the system's DNS servers; `None` (with a warning) when
/// the system has no usable DNS configuration: the node runs on without DNS lists.
pub fn start_system(
    trees: Vec<Link>,
    seed: u64,
    verdict: impl Fn(&Record) -> ForkVerdict + 'static,
    on_found: Recipient<NodeDiscovered>,
) -> Option<DnsDiscovery> {
    match HickoryResolver::system() {
        Ok(resolver) => Some(start(resolver, trees, seed, verdict, on_found)),
        Err(error) => {
            log::warn!("DNS discovery off: {error}");
            None
        }
    }
}

/// Starts walking `trees` through `resolver` on the current thread.
pub fn start<R: Resolver + 'static>(
    resolver: R,
    trees: Vec<Link>,
    seed: u64,
    verdict: impl Fn(&Record) -> ForkVerdict + 'static,
    on_found: Recipient<NodeDiscovered>,
) -> DnsDiscovery {
    let config = ClientConfig {
        seed,
        ..ClientConfig::default()
    };
    let client = Client::new(resolver, trees.clone(), config);
    let metrics = client.metrics();
    for tree in &trees {
        log::info!("DNS discovery from {tree}");
    }
    let task = tokio::task::spawn_local(forward(client, verdict, on_found));
    DnsDiscovery {
        trees,
        metrics,
        task,
    }
}

/// Offers every node record the client yields until the on_found stops.
async fn forward<R: Resolver>(
    mut client: Client<R>,
    verdict: impl Fn(&Record) -> ForkVerdict,
    on_found: Recipient<NodeDiscovered>,
) {
    while let Some(record) = client.next_node().await {
        if !on_found.connected() {
            return;
        }
        let Some(candidate) = candidate(&record, &verdict) else {
            continue;
        };
        // Paced by the client's rate limit: a few offers a second at most.
        on_found.do_send(candidate);
    }
}

/// A record as a dial candidate: it needs an IP and a TCP port (IPv4 preferred).
fn candidate(record: &Record, verdict: &impl Fn(&Record) -> ForkVerdict) -> Option<NodeDiscovered> {
    let addr: SocketAddr = enr::tcp_addr(record)?;
    if addr.port() == 0 || addr.ip().is_unspecified() {
        return None;
    }
    Some(NodeDiscovered {
        enode: Enode {
            id: enr::node_id(record),
            addr,
        },
        source: PeerSource::Dns,
        fork: verdict(record),
    })
}

/// Parses `--discovery.dns` text: comma-separated `enrtree://` URLs, blanks ignored.
pub fn parse_urls(text: &str) -> Result<Vec<Link>, dns::DnsError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
