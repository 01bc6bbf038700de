//! Rate limiting of the packets that make us work (Ping, FindNode, ENRRequest), checked on
//! the type byte before anything is decoded or a signature recovered: a token bucket per
//! source IP (any port: one host with many ports or keys is one source), one per network
//! prefix (IPv4 /24, IPv6 /64: one operator's addresses), and one for all sources (the
//! signature recoveries we spend on requests per second, whoever floods). A flood from one
//! address costs a map lookup per packet and leaves other prefixes' budgets alone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Requests one IP may send back to back (ours: a lookup asks a node once, a revalidation
/// pings it every few seconds; 20 leaves honest nodes far below the limit).
pub const REQUEST_BURST: u32 = 20;

/// Requests per second an IP earns back (ours).
pub const REQUEST_RATE: u32 = 5;

/// Requests one network prefix (/24, /64) may send back to back: five nodes' worth (ours).
pub const PREFIX_BURST: u32 = 5 * REQUEST_BURST;

/// Requests per second a prefix earns back (ours).
pub const PREFIX_RATE: u32 = 5 * REQUEST_RATE;

/// Requests from all sources back to back (ours).
pub const GLOBAL_BURST: u32 = 2000;

/// Requests per second from all sources (ours: 1,000 signature recoveries, about 4% of a
/// core at 40 µs each, far above what an honest node's neighbourhood sends).
pub const GLOBAL_RATE: u32 = 1000;

/// IPs and prefixes tracked at most, each; beyond that the longest idle is forgotten
/// (bounds memory under a flood of spoofed source addresses).
pub const MAX_TRACKED_SOURCES: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Tokens {
    left: u32,
    at: Instant,
}

impl Tokens {
    fn full(burst: u32, now: Instant) -> Self {
        Self {
            left: burst,
            at: now,
        }
    }

    /// Adds what `rate` per second earned since the last refill, up to `burst`.
    fn refill(&mut self, burst: u32, rate: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        let earned = elapsed.as_millis() * u128::from(rate) / 1000;
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        if earned > 0 {
            self.left = self.left.saturating_add(earned).min(burst);
            self.at = now;
        }
    }
}

/// The key of an address's network: its /24 (IPv4) or /64 (IPv6).
fn prefix(ip: IpAddr) -> (bool, u64) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => (true, u64::from(u32::from(v4) >> 8)),
        IpAddr::V6(v6) => (false, (u128::from(v6) >> 64) as u64),
    }
}

/// Token buckets by source IP, by prefix, and for all sources.
#[derive(Debug, Default)]
pub struct RequestLimiter {
    sources: HashMap<IpAddr, Tokens>,
    prefixes: HashMap<(bool, u64), Tokens>,
    global: Option<Tokens>,
}

impl RequestLimiter {
    /// Whether a request from `ip` at `now` may be served; takes a token from its IP's,
    /// its prefix's and the global bucket if each has one (from none otherwise).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        let net = prefix(ip);
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_TRACKED_SOURCES {
            forget_idle(&mut self.sources, REQUEST_BURST, REQUEST_RATE, now);
        }
        if !self.prefixes.contains_key(&net) && self.prefixes.len() >= MAX_TRACKED_SOURCES {
            forget_idle(&mut self.prefixes, PREFIX_BURST, PREFIX_RATE, now);
        }
        let source = self
            .sources
            .entry(ip)
            .or_insert_with(|| Tokens::full(REQUEST_BURST, now));
        source.refill(REQUEST_BURST, REQUEST_RATE, now);
        let network = self
            .prefixes
            .entry(net)
            .or_insert_with(|| Tokens::full(PREFIX_BURST, now));
        network.refill(PREFIX_BURST, PREFIX_RATE, now);
        let global = self
            .global
            .get_or_insert_with(|| Tokens::full(GLOBAL_BURST, now));
        global.refill(GLOBAL_BURST, GLOBAL_RATE, now);
        if source.left == 0 || network.left == 0 || global.left == 0 {
            return false;
        }
        source.left -= 1;
        network.left -= 1;
        global.left -= 1;
        true
    }

    /// IPs tracked now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no IP is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Drops the buckets that refilled completely (idle long enough); if none did, the one
/// touched longest ago.
fn forget_idle<K: Copy + Eq + std::hash::Hash>(
    buckets: &mut HashMap<K, Tokens>,
    burst: u32,
    rate: u32,
    now: Instant,
) {
    let full = Duration::from_secs(u64::from(burst / rate.max(1)) + 1);
    buckets.retain(|_, t| now.saturating_duration_since(t.at) < full);
    if buckets.len() >= MAX_TRACKED_SOURCES {
        if let Some(oldest) = buckets.iter().min_by_key(|(_, t)| t.at).map(|(k, _)| *k) {
            buckets.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flooding_ip_is_cut_off_whatever_its_ports_and_others_are_not() {
        let mut limiter = RequestLimiter::default();
        let flood: IpAddr = "203.0.113.9".parse().unwrap();
        let neighbour: IpAddr = "203.0.113.10".parse().unwrap();
        let elsewhere: IpAddr = "198.51.100.7".parse().unwrap();
        let now = Instant::now();
        let served = (0..1000).filter(|_| limiter.allow(flood, now)).count();
        assert_eq!(served, REQUEST_BURST as usize);
        assert!(
            limiter.allow(neighbour, now),
            "its own budget in the same /24"
        );
        assert!(limiter.allow(elsewhere, now));
        // One second later the flood has earned REQUEST_RATE requests back.
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        let served = (0..1000).filter(|_| limiter.allow(flood, now)).count();
        assert_eq!(served, REQUEST_RATE as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn one_prefix_of_many_addresses_shares_one_budget() {
        let mut limiter = RequestLimiter::default();
        let now = Instant::now();
        let served = (1..=250u8)
            .flat_map(|host| std::iter::repeat_n(host, 10))
            .filter(|host| limiter.allow(IpAddr::from([203, 0, 113, *host]), now))
            .count();
        assert_eq!(served, PREFIX_BURST as usize, "one /24");
        assert!(
            limiter.allow("203.0.114.1".parse().unwrap(), now),
            "the next /24"
        );
        let v6 = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        let served = (0..1000u16).filter(|n| limiter.allow(v6(*n), now)).count();
        assert_eq!(served, PREFIX_BURST as usize, "one /64");
    }

    #[tokio::test(start_paused = true)]
    async fn all_sources_together_get_the_global_budget() {
        let mut limiter = RequestLimiter::default();
        let now = Instant::now();
        // Distinct /24s, each far under its own budgets.
        let served = (0..4000u32)
            .filter(|n| {
                limiter.allow(
                    IpAddr::from(std::net::Ipv4Addr::from((10u32 << 24) | (n << 8) | 1)),
                    now,
                )
            })
            .count();
        assert_eq!(served, GLOBAL_BURST as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn spoofed_sources_cannot_grow_the_maps_without_bound() {
        let mut limiter = RequestLimiter::default();
        let now = Instant::now();
        for n in 0..(MAX_TRACKED_SOURCES as u32 + 500) {
            limiter.allow(
                IpAddr::from(std::net::Ipv4Addr::from((172u32 << 24) | (n << 4))),
                now,
            );
        }
        assert!(limiter.len() <= MAX_TRACKED_SOURCES);
        assert!(limiter.prefixes.len() <= MAX_TRACKED_SOURCES);
    }
}
