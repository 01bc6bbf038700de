//! Prometheus metrics of a [`Node`] in the text exposition format (version 0.0.4), and an
//! actix-web server for `GET /metrics`. Everything is read at scrape time from counters
//! the actors keep anyway; scraping never blocks a peer.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};

use crate::feed::observe::GetObserverStats;
use crate::node::manager::{ConnectedPeers, GetManagerStats};
use crate::node::Node;
use crate::peer::{PeerMetrics, WireMetrics};
use crate::peer_set::Peers;
use crate::txs::pool::TxPool;

/// Picks one counter of a peer's metrics.
type Field = fn(&PeerMetrics) -> &std::sync::atomic::AtomicU64;

/// Builds the exposition text.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape(val));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The node's metrics as Prometheus text.
pub async fn render(node: &Node) -> String {
    let connected = node.manager.send(ConnectedPeers).await.unwrap_or_default();
    let stats = node.manager.send(GetManagerStats).await.unwrap_or_default();
    let peers = node.peer_set.send(Peers).await.unwrap_or_default();
    let (trace_lines, observer_dropped) = node
        .observer
        .send(GetObserverStats)
        .await
        .unwrap_or_default();
    let mut out = Exposition(String::with_capacity(8192));

    out.family(
        "ethpeer_peers",
        "gauge",
        "Connected peers by direction and eth version.",
    );
    let mut by_kind: BTreeMap<(&str, u8), u64> = BTreeMap::new();
    for peer in &connected {
        *by_kind
            .entry((peer.session.direction.as_str(), peer.session.version as u8))
            .or_default() += 1;
    }
    for ((direction, version), n) in by_kind {
        out.sample(
            "ethpeer_peers",
            &[("direction", direction), ("version", &version.to_string())],
            n,
        );
    }

    wire(&mut out, &node.wire);

    out.family(
        "ethpeer_peer_queue_depth",
        "gauge",
        "Hashes queued to peers, by queue.",
    );
    let sum = |f: Field| -> u64 {
        peers
            .iter()
            .map(|p| PeerMetrics::get(f(&p.handle.metrics)))
            .sum()
    };
    out.sample(
        "ethpeer_peer_queue_depth",
        &[("queue", "txs")],
        sum(|m| &m.queued_txs),
    );
    out.sample(
        "ethpeer_peer_queue_depth",
        &[("queue", "tx_anns")],
        sum(|m| &m.queued_tx_anns),
    );

    out.family(
        "ethpeer_peer_dropped_total",
        "counter",
        "Items dropped because a peer's queue or mailbox was full, by kind (all peers, \
         including those that have left).",
    );
    let mut drops: BTreeMap<&str, u64> = stats.departed_drops.clone().into_iter().collect();
    for peer in &peers {
        for (kind, n) in peer.handle.metrics.drop_counts() {
            *drops.entry(kind).or_default() += n;
        }
    }
    for (kind, n) in drops {
        out.sample("ethpeer_peer_dropped_total", &[("kind", kind)], n);
    }

    out.family(
        "ethpeer_txpool_transactions",
        "gauge",
        "Transactions in the pool.",
    );
    out.sample("ethpeer_txpool_transactions", &[], node.pool.len() as u64);
    mempool(&mut out, node);

    out.family(
        "ethpeer_disconnects_total",
        "counter",
        "Peer disconnects by reason.",
    );
    let mut reasons: Vec<_> = stats.disconnects.iter().collect();
    reasons.sort();
    for (reason, n) in reasons {
        out.sample("ethpeer_disconnects_total", &[("reason", reason)], *n);
    }
    out.family(
        "ethpeer_sessions_refused_total",
        "counter",
        "Established sessions refused by the peer manager, by reason.",
    );
    let mut refused: Vec<_> = stats.refused.iter().collect();
    refused.sort();
    for (reason, n) in refused {
        out.sample("ethpeer_sessions_refused_total", &[("reason", reason)], *n);
    }

    out.family(
        "ethpeer_dials_total",
        "counter",
        "Dials of static peers, by result.",
    );
    out.sample("ethpeer_dials_total", &[("result", "started")], stats.dials);
    out.sample(
        "ethpeer_dials_total",
        &[("result", "failed")],
        stats.dial_failures,
    );

    out.family(
        "ethpeer_inbound_connections_total",
        "counter",
        "Inbound TCP connections.",
    );
    let listener = &node.listener;
    for (result, counter) in [
        ("accepted", &listener.accepted),
        ("throttled", &listener.refused_gate),
        ("busy", &listener.refused_busy),
        ("handshake_failed", &listener.failed),
        ("established", &listener.established),
    ] {
        out.sample(
            "ethpeer_inbound_connections_total",
            &[("result", result)],
            counter.load(Ordering::Relaxed),
        );
    }

    out.family(
        "ethpeer_trace_lines_total",
        "counter",
        "Propagation trace lines written.",
    );
    out.sample("ethpeer_trace_lines_total", &[], trace_lines);
    out.family(
        "ethpeer_events_dropped_total",
        "counter",
        "Events subscribers had no room for.",
    );
    out.sample(
        "ethpeer_events_dropped_total",
        &[],
        observer_dropped + stats.events_dropped,
    );

    out.family(
        "ethpeer_chain_head",
        "gauge",
        "Number of the chain store's head block.",
    );
    out.sample("ethpeer_chain_head", &[], node.store.head().number);
    discovery(&mut out, node, &stats);
    dns(&mut out, node);
    out.0
}

/// The DNS node lists' client (EIP-1459), when trees are configured.
fn dns(out: &mut Exposition, node: &Node) {
    let Some(dns) = &node.dns else {
        return;
    };
    let m = &dns.metrics;
    out.family(
        "ethpeer_dns_trees",
        "gauge",
        "DNS trees followed (configured and linked).",
    );
    out.sample("ethpeer_dns_trees", &[], m.trees.load(Ordering::Relaxed));
    let counters = [
        (
            "ethpeer_dns_roots_verified_total",
            "Tree roots fetched whose signature verified.",
            &m.roots_verified,
        ),
        (
            "ethpeer_dns_trees_synced_total",
            "Full passes over a tree's node records.",
            &m.trees_synced,
        ),
        (
            "ethpeer_dns_entries_resolved_total",
            "Tree entries fetched from DNS whose hash matched.",
            &m.entries_resolved,
        ),
        (
            "ethpeer_dns_nodes_found_total",
            "Node records taken from DNS trees.",
            &m.nodes_found,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], value.load(Ordering::Relaxed));
    }
    out.family(
        "ethpeer_dns_errors_total",
        "counter",
        "DNS discovery failures, by kind (lookup, timeout, malformed, signature, ...).",
    );
    for kind in crate::discovery::dns::DnsError::KINDS {
        out.sample(
            "ethpeer_dns_errors_total",
            &[("kind", kind)],
            m.error_count(kind),
        );
    }
}

/// Discovery's table and packets, and the dial candidates it (and others) offered.
fn discovery(out: &mut Exposition, node: &Node, stats: &crate::node::manager::ManagerStats) {
    out.family(
        "ethpeer_dial_candidates_total",
        "counter",
        "Dial candidates offered to the scheduler, by source; refused ones by fork id.",
    );
    let mut sources: Vec<_> = stats.candidates.iter().collect();
    sources.sort();
    for (source, n) in sources {
        out.sample("ethpeer_dial_candidates_total", &[("source", source)], *n);
    }
    out.sample(
        "ethpeer_dial_candidates_total",
        &[("source", "refused_fork_id")],
        stats.candidates_incompatible,
    );
    let Some(discovery) = &node.discovery else {
        return;
    };
    if let Some(v5) = &discovery.v5 {
        discv5(out, v5);
    }
    let Some(v4) = &discovery.v4 else {
        return;
    };
    let m = &v4.metrics;
    let gauges = [
        (
            "ethpeer_discv4_table_nodes",
            "Nodes in the discv4 table's buckets.",
            &m.table_size,
        ),
        (
            "ethpeer_discv4_bonded_nodes",
            "Nodes with a live endpoint proof.",
            &m.bonded,
        ),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &[], value.load(Ordering::Relaxed));
    }
    let counters = [
        (
            "ethpeer_discv4_lookups_total",
            "Lookups started.",
            &m.lookups,
        ),
        (
            "ethpeer_discv4_discovered_total",
            "Verified nodes handed to the dialer.",
            &m.discovered,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], value.load(Ordering::Relaxed));
    }
    use crate::discovery::v4::metrics::{DropReason, KINDS};
    for (name, help, values) in [
        (
            "ethpeer_discv4_packets_in_total",
            "Valid discv4 packets received, by kind.",
            &m.packets_in,
        ),
        (
            "ethpeer_discv4_packets_out_total",
            "discv4 packets sent, by kind.",
            &m.packets_out,
        ),
    ] {
        out.family(name, "counter", help);
        for (kind, value) in KINDS.iter().zip(values.iter()) {
            out.sample(name, &[("kind", kind)], value.load(Ordering::Relaxed));
        }
    }
    out.family(
        "ethpeer_discv4_dropped_total",
        "counter",
        "discv4 datagrams dropped, by reason (malformed, expired, unsolicited, ...).",
    );
    for reason in DropReason::ALL {
        out.sample(
            "ethpeer_discv4_dropped_total",
            &[("reason", reason.as_str())],
            m.drops(reason),
        );
    }
}

/// discv5: the crate's table and sessions, our lookups and what they found.
fn discv5(out: &mut Exposition, v5: &crate::discovery::v5::Discv5Handle) {
    let table = u64::try_from(v5.table_nodes()).unwrap_or(u64::MAX);
    let from_crate = v5.crate_metrics();
    let sessions = u64::try_from(from_crate.active_sessions).unwrap_or(u64::MAX);
    for (name, help, value) in [
        (
            "ethpeer_discv5_table_nodes",
            "Nodes in the discv5 routing table.",
            table,
        ),
        (
            "ethpeer_discv5_active_sessions",
            "Established discv5 sessions (the crate's count, process-wide).",
            sessions,
        ),
    ] {
        out.family(name, "gauge", help);
        out.sample(name, &[], value);
    }
    let m = &v5.metrics;
    let bytes = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    for (name, help, value) in [
        (
            "ethpeer_discv5_lookups_total",
            "Random discv5 lookups started.",
            m.lookups.load(Ordering::Relaxed),
        ),
        (
            "ethpeer_discv5_discovered_total",
            "Live discv5 nodes offered to the dialer.",
            m.discovered.load(Ordering::Relaxed),
        ),
        (
            "ethpeer_discv5_skipped_total",
            "Live discv5 nodes not offered (no eth entry, no TCP port, not secp256k1).",
            m.skipped.load(Ordering::Relaxed),
        ),
        (
            "ethpeer_discv5_shared_to_v4_total",
            "Datagrams on the shared UDP port passed from discv5 to discv4.",
            m.shared_to_v4.load(Ordering::Relaxed),
        ),
        (
            "ethpeer_discv5_shared_dropped_total",
            "Datagrams for discv4 dropped because its queue was full.",
            m.shared_dropped.load(Ordering::Relaxed),
        ),
        (
            "ethpeer_discv5_bytes_in_total",
            "UDP bytes received on the discovery port (the crate's count, process-wide).",
            bytes(from_crate.bytes_recv),
        ),
        (
            "ethpeer_discv5_bytes_out_total",
            "UDP bytes discv5 sent (the crate's count, process-wide).",
            bytes(from_crate.bytes_sent),
        ),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
}

fn wire(out: &mut Exposition, wire: &WireMetrics) {
    let families = [
        (
            "ethpeer_messages_in_total",
            "Messages received, by type.",
            &wire.messages_in,
        ),
        (
            "ethpeer_messages_out_total",
            "Messages sent, by type.",
            &wire.messages_out,
        ),
        (
            "ethpeer_bytes_in_total",
            "Payload bytes received (uncompressed), by type.",
            &wire.bytes_in,
        ),
        (
            "ethpeer_bytes_out_total",
            "Payload bytes sent (uncompressed), by type.",
            &wire.bytes_out,
        ),
    ];
    for (name, help, counters) in families {
        out.family(name, "counter", help);
        for (slot, counter) in counters.iter().enumerate() {
            let value = counter.load(Ordering::Relaxed);
            let label = WireMetrics::slot_name(slot);
            // Unused codes (0x0b, 0x0c) stay out of the output.
            if label != "unknown" {
                out.sample(name, &[("type", label)], value);
            }
        }
    }
}

/// Serves `GET /metrics` on `addr` (one worker: scrapes are rare). Returns the server (to
/// await or stop) and the bound address.
pub fn server(
    node: Node,
    addr: SocketAddr,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    super::http::http_server(addr, move |config| configure(node.clone())(config))
}

/// Mounts `GET /metrics` in an embedder's actix-web app.
pub fn configure(node: Node) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(node))
            .route("/metrics", web::get().to(metrics_endpoint));
    }
}

async fn metrics_endpoint(node: web::Data<Node>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(render(&node).await)
}

/// Pool leave counters, the followed head and the `eth_subscribe` buffers.
fn mempool(out: &mut Exposition, node: &Node) {
    use std::sync::atomic::Ordering;
    out.family(
        "ethpeer_txpool_removed_total",
        "counter",
        "Transactions that left the pool, by why: included in a followed block, evicted \
         (stale nonce or no room), replaced (same nonce, higher fees).",
    );
    let counters = node.pool.counters();
    for (reason, n) in [
        ("included", counters.included()),
        ("evicted", counters.evicted()),
        ("replaced", counters.replaced()),
    ] {
        out.sample("ethpeer_txpool_removed_total", &[("reason", reason)], n);
    }
    out.family(
        "ethpeer_followed_head",
        "gauge",
        "Number of the head followed from peers (0: none yet).",
    );
    let head = node.follow.head().map_or(0, |h| h.header.number);
    out.sample("ethpeer_followed_head", &[], head);
    out.family(
        "ethpeer_rpc_notifications_total",
        "counter",
        "eth_subscribe notifications queued to subscribers, or dropped because a \
         subscriber's buffer was full.",
    );
    let hub = &node.subscription_metrics;
    for (outcome, n) in [
        ("delivered", hub.delivered.load(Ordering::Relaxed)),
        ("dropped", hub.dropped.load(Ordering::Relaxed)),
    ] {
        out.sample(
            "ethpeer_rpc_notifications_total",
            &[("outcome", outcome)],
            n,
        );
    }
}
