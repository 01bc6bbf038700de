//! [`InboundThrottle`]: geth's per-IP inbound throttle, asked by the accept loop before any
//! handshake.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::discovery::enode::is_lan;

/// geth's `inboundThrottleTime`: a non-LAN IP may not connect again within 30 s.
pub const INBOUND_THROTTLE: Duration = Duration::from_secs(30);

/// Addresses the throttle remembers at most; older ones are forgotten first (bounds memory
/// under a flood of distinct addresses; each entry lives at most [`INBOUND_THROTTLE`]).
pub const MAX_THROTTLED_IPS: usize = 4096;

/// Remembers when each non-LAN IP last connected; shared with the accept loop, which asks
/// it before spending a handshake on a connection.
#[derive(Debug, Default)]
pub struct InboundThrottle {
    pub(super) seen: Mutex<HashMap<IpAddr, Instant>>,
}

impl InboundThrottle {
    /// Whether a connection from `ip` at `now` may proceed; records it if so. LAN and
    /// loopback addresses always may (several local nodes share one address).
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if is_lan(ip) {
            return true;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if let Some(last) = seen.get(&ip) {
            if now.saturating_duration_since(*last) < INBOUND_THROTTLE {
                return false;
            }
        }
        if seen.len() >= MAX_THROTTLED_IPS {
            seen.retain(|_, last| now.saturating_duration_since(*last) < INBOUND_THROTTLE);
            if seen.len() >= MAX_THROTTLED_IPS {
                // Every entry is recent: forget the oldest rather than grow.
                if let Some(oldest) = seen.iter().min_by_key(|(_, t)| **t).map(|(ip, _)| *ip) {
                    seen.remove(&oldest);
                }
            }
        }
        seen.insert(ip, now);
        true
    }
}
