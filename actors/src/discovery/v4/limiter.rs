//! Per-source rate limiting of the packets that make us work (Ping, FindNode, ENRRequest):
//! a token bucket per source address, checked before the signature is recovered, so that
//! a flood from one address costs us a map lookup per packet and leaves other nodes'
//! budgets alone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Requests one source may send back to back (ours: a lookup asks a node once, a
/// revalidation pings it every few seconds; 20 leaves honest nodes far below the limit).
pub const REQUEST_BURST: u32 = 20;

/// Requests per second a source earns back (ours).
pub const REQUEST_RATE: u32 = 5;

/// Sources tracked at most; beyond that the longest idle is forgotten (bounds memory under
/// a flood of spoofed source addresses).
pub const MAX_TRACKED_SOURCES: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Tokens {
    left: u32,
    at: Instant,
}

/// Token buckets by source address.
#[derive(Debug, Default)]
pub struct RequestLimiter {
    sources: HashMap<SocketAddr, Tokens>,
}

impl RequestLimiter {
    /// Whether a request from `from` at `now` may be served; takes a token if so.
    pub fn allow(&mut self, from: SocketAddr, now: Instant) -> bool {
        if !self.sources.contains_key(&from) && self.sources.len() >= MAX_TRACKED_SOURCES {
            self.forget_idle(now);
        }
        let tokens = self.sources.entry(from).or_insert(Tokens {
            left: REQUEST_BURST,
            at: now,
        });
        let earned = refill(now.saturating_duration_since(tokens.at));
        if earned > 0 {
            tokens.left = tokens.left.saturating_add(earned).min(REQUEST_BURST);
            tokens.at = now;
        }
        if tokens.left == 0 {
            return false;
        }
        tokens.left -= 1;
        true
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    fn forget_idle(&mut self, now: Instant) {
        let full = Duration::from_secs(u64::from(REQUEST_BURST / REQUEST_RATE) + 1);
        self.sources
            .retain(|_, t| now.saturating_duration_since(t.at) < full);
        if self.sources.len() >= MAX_TRACKED_SOURCES {
            if let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, t)| t.at)
                .map(|(a, _)| *a)
            {
                self.sources.remove(&oldest);
            }
        }
    }
}

/// Whole tokens earned in `elapsed`.
fn refill(elapsed: Duration) -> u32 {
    let earned = elapsed.as_millis() * u128::from(REQUEST_RATE) / 1000;
    u32::try_from(earned).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flooding_source_is_cut_off_and_others_are_not() {
        let mut limiter = RequestLimiter::default();
        let flood: SocketAddr = "203.0.113.9:30303".parse().unwrap();
        let honest: SocketAddr = "203.0.113.10:30303".parse().unwrap();
        let now = Instant::now();
        let served = (0..1000).filter(|_| limiter.allow(flood, now)).count();
        assert_eq!(served, REQUEST_BURST as usize);
        assert!(limiter.allow(honest, now));
        // One second later the flood has earned REQUEST_RATE requests back.
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        let served = (0..1000).filter(|_| limiter.allow(flood, now)).count();
        assert_eq!(served, REQUEST_RATE as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn spoofed_sources_cannot_grow_the_map_without_bound() {
        let mut limiter = RequestLimiter::default();
        let now = Instant::now();
        for port in 0..(MAX_TRACKED_SOURCES as u32 + 500) {
            let addr =
                SocketAddr::from(([198, 51, 100, (port % 250) as u8], (port / 250) as u16 + 1));
            limiter.allow(addr, now);
        }
        assert!(limiter.len() <= MAX_TRACKED_SOURCES);
    }
}
