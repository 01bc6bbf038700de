//! What one RPC client may cost the node, as geth and reth bound it: calls per batch,
//! bytes per response, connections (HTTP and WebSocket together), subscriptions, and the
//! WebSocket write deadline and keepalive. [`RpcLimits`] carries the configured values;
//! [`ConnectionGate`] counts open connections across both servers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Calls in one batch at most: geth's `--rpc.batch-request-limit` default (1000).
pub const BATCH_REQUEST_LIMIT: usize = 1000;

/// Bytes of results in one response at most: geth's `--rpc.batch-response-max-size`
/// default (25,000,000). Past it the calls not yet answered get [`RESPONSE_TOO_LARGE`].
pub const BATCH_RESPONSE_MAX_SIZE: usize = 25_000_000;

/// Open RPC connections (HTTP and WebSocket together) at most: reth's
/// `--rpc.max-connections` default (500).
pub const MAX_CONNECTIONS: usize = 500;

pub use crate::feed::hub::{MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS_PER_CONNECTION};

/// How long one WebSocket write may wait for the client to read: geth's
/// `defaultWriteTimeout` (10 s). A connection that misses it is closed.
pub const WS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle WebSocket connection is pinged: geth's `wsPingInterval` (30 s).
pub const WS_PING_INTERVAL: Duration = Duration::from_secs(30);

/// How long a Pong may take: geth's `wsPongTimeout` (30 s).
pub const WS_PONG_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest WebSocket frame we write: a bigger message goes out as continuation frames,
/// so a client that stops reading holds at most actix-ws' 32 queued frames of this size
/// (2 MiB) until the write deadline closes it.
pub const WS_FRAME_SIZE: usize = 64 * 1024;

/// geth's code for a response over the budget (`errcodeResponseTooLarge`).
pub const RESPONSE_TOO_LARGE: i64 = -32003;

/// geth's text for it (`errMsgResponseTooLarge`).
pub const RESPONSE_TOO_LARGE_TEXT: &str = "response too large";

/// geth's text for a batch over the call limit (`errMsgBatchTooLarge`, code -32600).
pub const BATCH_TOO_LARGE_TEXT: &str = "batch too large";

/// The configured limits of one node's RPC servers (flags `--rpc.*`).
#[derive(Clone, Debug)]
pub struct RpcLimits {
    /// Calls per batch (`--rpc.batch-request-limit`).
    pub batch_request_limit: usize,
    /// Result bytes per response (`--rpc.batch-response-max-size`).
    pub batch_response_max_size: usize,
    /// Subscriptions per WebSocket connection.
    pub subscriptions_per_connection: usize,
    /// How long one WebSocket write may wait ([`WS_WRITE_TIMEOUT`]; also the Pong
    /// deadline's unit: tests shorten it).
    pub ws_write_timeout: Duration,
    /// Open connections, HTTP and WebSocket together; shared by every server given it.
    pub connections: Arc<ConnectionGate>,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            batch_request_limit: BATCH_REQUEST_LIMIT,
            batch_response_max_size: BATCH_RESPONSE_MAX_SIZE,
            subscriptions_per_connection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
            ws_write_timeout: WS_WRITE_TIMEOUT,
            connections: Arc::new(ConnectionGate::new(MAX_CONNECTIONS)),
        }
    }
}

impl PartialEq for RpcLimits {
    fn eq(&self, other: &Self) -> bool {
        self.batch_request_limit == other.batch_request_limit
            && self.batch_response_max_size == other.batch_response_max_size
            && self.subscriptions_per_connection == other.subscriptions_per_connection
            && self.ws_write_timeout == other.ws_write_timeout
            && Arc::ptr_eq(&self.connections, &other.connections)
    }
}

impl Eq for RpcLimits {}

/// Counts the open connections of the RPC servers that share it; a connection over the
/// limit (or over its address's share, [`ConnectionGate::per_ip`]) is answered 503 and
/// closed, so RPC clients cannot take the sockets peers need, and one address cannot take
/// every place from the others.
#[derive(Debug)]
pub struct ConnectionGate {
    limit: usize,
    per_ip: usize,
    open: AtomicUsize,
    /// Open connections per client address (entries leave at zero).
    by_ip: Mutex<HashMap<IpAddr, usize>>,
    /// Connections refused because the limit was reached.
    pub refused: AtomicU64,
    /// WebSocket connections closed because a write missed [`WS_WRITE_TIMEOUT`] or a Pong
    /// missed [`WS_PONG_TIMEOUT`].
    pub ws_timeouts: AtomicU64,
}

/// One open connection's place under the limit; dropping it frees the place.
#[derive(Debug)]
pub struct ConnectionPermit {
    gate: Arc<ConnectionGate>,
    ip: Option<IpAddr>,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(ip) = self.ip {
            let mut by_ip = self.gate.lock();
            if let Some(count) = by_ip.get_mut(&ip) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    by_ip.remove(&ip);
                }
            }
        }
    }
}

impl ConnectionGate {
    /// A gate admitting `limit` connections at once, a quarter of them (at least one) per
    /// client address (ours: at least four addresses share the places).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            per_ip: (limit / 4).max(1),
            open: AtomicUsize::new(0),
            by_ip: Mutex::default(),
            refused: AtomicU64::new(0),
            ws_timeouts: AtomicU64::new(0),
        }
    }

    /// A place for a new connection from `ip` (unknown: counted against the total only),
    /// or `None` (counted) when every place, or its address's share, is taken.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Option<ConnectionPermit> {
        let refuse = || {
            self.refused.fetch_add(1, Ordering::Relaxed);
            None
        };
        let mut by_ip = self.lock();
        if let Some(ip) = ip {
            if by_ip.get(&ip).copied().unwrap_or(0) >= self.per_ip {
                return refuse();
            }
        }
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < self.limit).then_some(open + 1)
            });
        if taken.is_err() {
            return refuse();
        }
        if let Some(ip) = ip {
            *by_ip.entry(ip).or_default() += 1;
        }
        Some(ConnectionPermit {
            gate: self.clone(),
            ip,
        })
    }

    /// Places one client address may hold.
    pub fn per_ip(&self) -> usize {
        self.per_ip
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // The map stays consistent under a panic elsewhere (each update is one step).
        self.by_ip
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Open connections, refusals and WebSocket timeouts (`ethpeer_rpc_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        out.gauge(
            "ethpeer_rpc_connections",
            "Open JSON-RPC connections, HTTP and WebSocket together.",
            self.open() as u64,
        );
        out.counter(
            "ethpeer_rpc_connections_refused_total",
            "JSON-RPC connections refused because --rpc.max-connections were open.",
            self.refused.load(Ordering::Relaxed),
        );
        out.counter(
            "ethpeer_rpc_ws_timeouts_total",
            "WebSocket connections closed because a write or a Pong missed its deadline.",
            self.ws_timeouts.load(Ordering::Relaxed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_up_to_its_limit_and_frees_places_on_drop() {
        let gate = Arc::new(ConnectionGate::new(2));
        let a = gate.admit(None).expect("first");
        let _b = gate.admit(None).expect("second");
        assert!(gate.admit(None).is_none());
        assert_eq!(gate.refused.load(Ordering::Relaxed), 1);
        drop(a);
        let _c = gate.admit(None).expect("a freed place");
        assert_eq!(gate.open(), 2);
    }

    #[test]
    fn one_address_takes_at_most_a_quarter_of_the_places() {
        let gate = Arc::new(ConnectionGate::new(8));
        let (greedy, other) = (
            Some("127.0.0.1".parse().unwrap()),
            Some("127.0.0.2".parse().unwrap()),
        );
        let held: Vec<_> = (0..2)
            .map(|_| gate.admit(greedy).expect("its share"))
            .collect();
        assert!(gate.admit(greedy).is_none(), "past its share");
        let _honest = gate.admit(other).expect("another address still gets in");
        drop(held);
        assert!(gate.admit(greedy).is_some(), "its places came back");
    }
}
