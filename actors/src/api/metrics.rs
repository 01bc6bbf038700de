//! Prometheus metrics of a [`Node`] in the text exposition format (version 0.0.4), and an
//! actix-web server for `GET /metrics`. Everything is read at scrape time from counters
//! the actors keep anyway; scraping never blocks a peer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::rpc::ConnectionGate;
use crate::exposition::{Exposition, Kind};
use crate::feed::observe::GetObserverStats;
use crate::node::manager::{ConnectedPeers, GetManagerStats};
use crate::node::Node;
use crate::peer::PeerMetrics;
use crate::peer_set::Peers;
use crate::txs::pool::TxPool;

/// The node's metrics as Prometheus text. Each subsystem renders its own families; this
/// collects them. An actor that does not answer (it died) shows as
/// `ethpeer_actor_up{actor=...} 0` and its families are left out, never shown as zeros.
pub async fn render(node: &Node) -> String {
    let connected = node.manager.send(ConnectedPeers).await.ok();
    let stats = node.manager.send(GetManagerStats).await.ok();
    let peers = node.peer_set.send(Peers).await.ok();
    let observer = node.observer.send(GetObserverStats).await.ok();
    let mut out = Exposition::new();
    out.family(
        "ethpeer_actor_up",
        Kind::Gauge,
        "Whether an actor the metrics read from answered the scrape (0: it is gone).",
    )
    .sample(&[("actor", "peer_manager")], u64::from(stats.is_some()))
    .sample(&[("actor", "peer_set")], u64::from(peers.is_some()))
    .sample(&[("actor", "observer")], u64::from(observer.is_some()));
    if let Some(connected) = &connected {
        connected_peers(&mut out, connected);
    }
    node.wire.render(&mut out);
    if let (Some(peers), Some(stats)) = (&peers, &stats) {
        PeerMetrics::render(
            &mut out,
            peers.iter().map(|p| p.handle.metrics.as_ref()),
            &stats.departed_drops,
        );
    }
    node.pool.counters().render(&mut out, node.pool.len());
    out.counter(
        "ethpeer_follow_rounds_total",
        "Rounds of head following finished (peers asked, agreed blocks taken).",
        node.follow.rounds(),
    );
    out.counter(
        "ethpeer_follow_reorgs_total",
        "Reorgs of the followed chain (a competing branch won, or it was re-anchored).",
        node.follow.reorgs(),
    );
    out.gauge(
        "ethpeer_followed_head",
        "Number of the head followed from peers (0: none yet).",
        node.follow.head().map_or(0, |h| h.header.number),
    );
    node.subscription_metrics.render(&mut out);
    let extra: Vec<_> = node
        .extra_metrics
        .lock()
        .map(|sources| sources.clone())
        .unwrap_or_default();
    for source in extra {
        source.render(&mut out);
    }
    if let Some(stats) = &stats {
        stats.render(&mut out);
    }
    node.listener.render(&mut out);
    node.lag.render(&mut out);
    if let Some((trace_lines, observer_dropped)) = observer {
        out.counter(
            "ethpeer_trace_lines_total",
            "Propagation trace lines written.",
            trace_lines,
        );
        let manager_dropped = stats.as_ref().map_or(0, |s| s.events_dropped);
        out.counter(
            "ethpeer_events_dropped_total",
            "Events subscribers had no room for.",
            observer_dropped + manager_dropped,
        );
    }
    out.gauge(
        "ethpeer_chain_head",
        "Number of the chain store's head block.",
        node.store.head().number,
    );
    discovery(&mut out, node);
    super::process::render(&mut out);
    out.into_text()
}

/// Connected peers by direction and eth version.
fn connected_peers(out: &mut Exposition, connected: &[crate::node::manager::ConnectedPeer]) {
    let mut by_kind: BTreeMap<(&str, u8), u64> = BTreeMap::new();
    for peer in connected {
        *by_kind
            .entry((peer.session.direction.as_str(), peer.session.version as u8))
            .or_default() += 1;
    }
    let mut family = out.family(
        "ethpeer_peers",
        Kind::Gauge,
        "Connected peers by direction and eth version.",
    );
    for ((direction, version), n) in by_kind {
        family.sample(
            &[("direction", direction), ("version", &version.to_string())],
            n,
        );
    }
}

/// Discovery's families, when it runs: discv4, discv5, DNS lists.
fn discovery(out: &mut Exposition, node: &Node) {
    if let Some(discovery) = &node.discovery {
        if let Some(v5) = &discovery.v5 {
            v5.render(out);
        }
        if let Some(v4) = &discovery.v4 {
            v4.metrics.render(out);
        }
        if let Some(drops) = discovery.kernel_drops() {
            out.counter(
                "ethpeer_discovery_socket_drops_total",
                "Datagrams the kernel dropped on the discovery socket (receive buffer full).",
                drops,
            );
        }
    }
    if let Some(dns) = &node.dns {
        dns.metrics.render(out);
    }
}

/// Serves `GET /metrics` on `addr` (one worker: scrapes are rare). Returns the server (to
/// await or stop) and the bound address.
pub fn server(
    node: Node,
    addr: impl Into<super::http::Listen>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    server_with(node, None, addr)
}

/// [`server`], with the RPC servers' connection counters (`ethpeer_rpc_connections`...)
/// when `rpc` is the gate they share.
pub fn server_with(
    node: Node,
    rpc: Option<Arc<ConnectionGate>>,
    addr: impl Into<super::http::Listen>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    super::http::http_server(addr.into(), move |config| {
        configure_with(node.clone(), rpc.clone())(config)
    })
}

/// Mounts `GET /metrics` in an embedder's actix-web app.
pub fn configure(node: Node) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with(node, None)
}

/// [`configure`], with the RPC connection gate's counters.
pub fn configure_with(
    node: Node,
    rpc: Option<Arc<ConnectionGate>>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(node))
            .app_data(web::Data::new(rpc))
            .route("/metrics", web::get().to(metrics_endpoint));
    }
}

async fn metrics_endpoint(
    node: web::Data<Node>,
    rpc: web::Data<Option<Arc<ConnectionGate>>>,
) -> HttpResponse {
    let mut text = render(&node).await;
    if let Some(gate) = rpc.get_ref() {
        let mut out = Exposition::new();
        gate.render(&mut out);
        text.push_str(&out.into_text());
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
