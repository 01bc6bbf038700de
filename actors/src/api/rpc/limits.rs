//! What one RPC client may cost the node, as geth and reth bound it: calls per batch,
//! bytes per response, connections (HTTP and WebSocket together), subscriptions, and the
//! WebSocket write deadline and keepalive. [`RpcLimits`] carries the configured values;
//! [`ConnectionGate`] counts open connections across both servers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
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
    /// Open connections, HTTP and WebSocket together; shared by every server given it.
    pub connections: Arc<ConnectionGate>,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            batch_request_limit: BATCH_REQUEST_LIMIT,
            batch_response_max_size: BATCH_RESPONSE_MAX_SIZE,
            subscriptions_per_connection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
            connections: Arc::new(ConnectionGate::new(MAX_CONNECTIONS)),
        }
    }
}

impl PartialEq for RpcLimits {
    fn eq(&self, other: &Self) -> bool {
        self.batch_request_limit == other.batch_request_limit
            && self.batch_response_max_size == other.batch_response_max_size
            && self.subscriptions_per_connection == other.subscriptions_per_connection
            && Arc::ptr_eq(&self.connections, &other.connections)
    }
}

impl Eq for RpcLimits {}

/// Counts the open connections of the RPC servers that share it; a connection over the
/// limit is answered 503 and closed, so RPC clients cannot take the sockets peers need.
#[derive(Debug)]
pub struct ConnectionGate {
    limit: usize,
    open: AtomicUsize,
    /// Connections refused because the limit was reached.
    pub refused: AtomicU64,
    /// WebSocket connections closed because a write missed [`WS_WRITE_TIMEOUT`] or a Pong
    /// missed [`WS_PONG_TIMEOUT`].
    pub ws_timeouts: AtomicU64,
}

/// One open connection's place under the limit; dropping it frees the place.
#[derive(Debug)]
pub struct ConnectionPermit(Arc<ConnectionGate>);

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionGate {
    /// A gate admitting `limit` connections at once.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            ws_timeouts: AtomicU64::new(0),
        }
    }

    /// A place for a new connection, or `None` (counted) when every place is taken.
    pub fn admit(self: &Arc<Self>) -> Option<ConnectionPermit> {
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < self.limit).then_some(open + 1)
            });
        match taken {
            Ok(_) => Some(ConnectionPermit(self.clone())),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
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
        let a = gate.admit().expect("first");
        let _b = gate.admit().expect("second");
        assert!(gate.admit().is_none());
        assert_eq!(gate.refused.load(Ordering::Relaxed), 1);
        drop(a);
        let _c = gate.admit().expect("a freed place");
        assert_eq!(gate.open(), 2);
    }
}
