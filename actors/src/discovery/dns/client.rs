//! The DNS discovery client: walks a set of trees (the configured URLs and the trees they
//! link to) through a [`Resolver`], one entry at a time, and hands out the node records it
//! meets in random order, as geth's `dnsdisc` random iterator does. Lookups share one rate
//! limit and each has a timeout; verified entries are kept in a bounded LRU cache.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use lru::LruCache;
use tokio::time::Instant;

use super::entry::{Entry, EntryHash, Link, Root, ROOT_PREFIX};
use super::metrics::DnsMetrics;
use super::resolver::Resolver;
use super::tree::TreeSync;
use super::DnsError;
use crate::discovery::enr::Record;

/// How long one TXT lookup may take (geth `Config.Timeout` default, 5 s).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Verified entries kept (geth `Config.CacheLimit` default, 1000).
pub const CACHE_LIMIT: usize = 1000;

/// Lookups per second, over all trees (geth `Config.RateLimit` default, 3).
pub const RATE_LIMIT: u32 = 3;

/// Lookups that may go out at once after a quiet spell (geth's limiter burst, 10).
pub const RATE_BURST: u32 = 10;

/// Trees followed at most, configured and linked (ours): links are followed from tree to
/// tree, and a hostile tree must not make us follow thousands.
pub const MAX_TREES: usize = 32;

/// The client's limits; [`Default`] has geth's values.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// See [`LOOKUP_TIMEOUT`].
    pub timeout: Duration,
    /// See [`CACHE_LIMIT`].
    pub cache_limit: usize,
    /// See [`RATE_LIMIT`].
    pub rate_limit: u32,
    /// See [`RATE_BURST`].
    pub rate_burst: u32,
    /// Seed of the random walk.
    pub seed: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: LOOKUP_TIMEOUT,
            cache_limit: CACHE_LIMIT,
            rate_limit: RATE_LIMIT,
            rate_burst: RATE_BURST,
            seed: 0x5eed,
        }
    }
}

/// A token bucket over tokio time (paused-time testable).
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    burst: u32,
    tokens: u32,
    refilled: Instant,
}

impl RateLimiter {
    fn new(per_second: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            burst,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    /// Waits for a token.
    async fn acquire(&mut self) {
        loop {
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(self.refilled);
            let earned = elapsed.as_nanos() / self.interval.as_nanos().max(1);
            if earned > 0 {
                let earned = u32::try_from(earned).unwrap_or(u32::MAX);
                self.tokens = self.tokens.saturating_add(earned).min(self.burst);
                self.refilled = match self.tokens == self.burst {
                    true => now,
                    false => self.refilled + self.interval * earned,
                };
            }
            if self.tokens > 0 {
                self.tokens -= 1;
                return;
            }
            tokio::time::sleep_until(self.refilled + self.interval).await;
        }
    }
}

/// Walks DNS trees and yields node records.
pub struct Client<R> {
    resolver: R,
    config: ClientConfig,
    cache: LruCache<EntryHash, Entry>,
    limiter: RateLimiter,
    roots: Vec<Link>,
    trees: BTreeMap<String, TreeSync>,
    rng: u64,
    metrics: Arc<DnsMetrics>,
}

impl<R: Resolver> Client<R> {
    /// A client for the trees at `urls` (and those they link to).
    pub fn new(resolver: R, urls: Vec<Link>, config: ClientConfig) -> Self {
        let cache_limit = NonZeroUsize::new(config.cache_limit).unwrap_or(NonZeroUsize::MIN);
        let mut client = Self {
            resolver,
            limiter: RateLimiter::new(config.rate_limit, config.rate_burst),
            rng: config.seed,
            config,
            cache: LruCache::new(cache_limit),
            roots: urls,
            trees: BTreeMap::new(),
            metrics: Arc::default(),
        };
        client.rebuild_trees();
        client
    }

    /// The counters (shared with the metrics endpoint).
    pub fn metrics(&self) -> Arc<DnsMetrics> {
        self.metrics.clone()
    }

    /// The domains of the trees followed now.
    pub fn tree_domains(&self) -> Vec<String> {
        self.trees.keys().cloned().collect()
    }

    /// Entries in the cache.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// The next node record, fetching as many entries as it takes; `None` only without
    /// any tree. Waits (for the rate limit, or until a root recheck is due when every tree
    /// is walked and empty), so callers run it in a task of its own.
    pub async fn next_node(&mut self) -> Option<Record> {
        loop {
            let now = Instant::now();
            let syncable: Vec<String> = self
                .trees
                .iter()
                .filter(|(_, t)| t.can_sync(now))
                .map(|(k, _)| k.clone())
                .collect();
            if syncable.is_empty() {
                if self.trees.is_empty() {
                    return None;
                }
                let next = self
                    .trees
                    .values()
                    .filter_map(TreeSync::next_root_check)
                    .min();
                tokio::time::sleep_until(next.unwrap_or(now)).await;
                continue;
            }
            let pick = self.random() % u64::try_from(syncable.len()).unwrap_or(1).max(1);
            let Some(domain) = usize::try_from(pick).ok().and_then(|i| syncable.get(i)) else {
                continue;
            };
            match self.sync_one(domain).await {
                Ok(Some(record)) => {
                    DnsMetrics::add(&self.metrics.nodes_found);
                    return Some(record);
                }
                Ok(None) => {}
                Err(error) => {
                    log::debug!("dns discovery: {error}");
                    self.metrics.count_error(&error);
                }
            }
        }
    }

    /// One step on one tree: its root if due, else one entry.
    async fn sync_one(&mut self, domain: &str) -> Result<Option<Record>, DnsError> {
        let now = Instant::now();
        let Some(tree) = self.trees.get(domain) else {
            return Ok(None);
        };
        if tree.root_update_due(now) {
            let link = tree.link().clone();
            let result = self.fetch_root(&link).await;
            let now = Instant::now();
            let Some(tree) = self.trees.get_mut(domain) else {
                return Ok(None);
            };
            return match result {
                Ok(root) => {
                    tree.set_root(root, now)?;
                    DnsMetrics::add(&self.metrics.roots_verified);
                    Ok(None)
                }
                Err(error) => {
                    tree.root_failed(now);
                    Err(error)
                }
            };
        }
        let random = self.random();
        let Some(tree) = self.trees.get_mut(domain) else {
            return Ok(None);
        };
        let Some(request) = tree.next_request(random) else {
            return Ok(None);
        };
        let link = tree.link().clone();
        let fetched = self.fetch_entry(&link, &request.hash).await;
        let Some(tree) = self.trees.get_mut(domain) else {
            return Ok(None);
        };
        let result = match fetched {
            Ok(entry) => tree.resolved(&request, &entry),
            Err(error) => {
                tree.failed(&request);
                Err(error)
            }
        };
        if !request.link && tree.node_pass_done() {
            DnsMetrics::add(&self.metrics.trees_synced);
        }
        if request.link {
            self.rebuild_trees();
        }
        result
    }

    /// Fetches and verifies a tree's root.
    async fn fetch_root(&mut self, link: &Link) -> Result<Root, DnsError> {
        let txts = self.lookup(&link.domain).await?;
        let text = txts
            .iter()
            .find(|t| t.starts_with(ROOT_PREFIX))
            .ok_or_else(|| DnsError::NoRoot {
                domain: link.domain.clone(),
            })?;
        let root = Root::parse(text)?;
        root.verify(&link.key)?;
        Ok(root)
    }

    /// An entry from the cache or from DNS, hash checked. The rate limit applies to cache
    /// hits too (as geth: a consumer looping over a small cached tree must not spin).
    async fn fetch_entry(&mut self, link: &Link, hash: &EntryHash) -> Result<Entry, DnsError> {
        if let Some(entry) = self.cache.get(hash) {
            let entry = entry.clone();
            self.limiter.acquire().await;
            return Ok(entry);
        }
        let name = format!("{hash}.{}", link.domain);
        let txts = self.lookup(&name).await?;
        // The first record of a known type decides (geth: unknown types are skipped).
        let mut result = Err(DnsError::NoEntry { name: name.clone() });
        for text in &txts {
            match Entry::parse(text) {
                Err(DnsError::UnknownEntry { .. }) => continue,
                _ if !hash.matches(text) => {
                    result = Err(DnsError::HashMismatch { name: name.clone() })
                }
                parsed => result = parsed,
            }
            break;
        }
        let entry = result?;
        DnsMetrics::add(&self.metrics.entries_resolved);
        self.cache.put(hash.clone(), entry.clone());
        Ok(entry)
    }

    /// One rate-limited TXT lookup with a timeout.
    async fn lookup(&mut self, name: &str) -> Result<Vec<String>, DnsError> {
        self.limiter.acquire().await;
        match tokio::time::timeout(self.config.timeout, self.resolver.lookup_txt(name)).await {
            Ok(Ok(txts)) => Ok(txts),
            Ok(Err(error)) => Err(DnsError::Lookup {
                name: name.to_string(),
                reason: error.to_string(),
            }),
            Err(_) => Err(DnsError::Timeout {
                name: name.to_string(),
            }),
        }
    }

    /// The trees reachable from the configured URLs over links (at most [`MAX_TREES`]);
    /// trees no longer linked are dropped, as geth's link cache does.
    fn rebuild_trees(&mut self) {
        let mut reachable: BTreeMap<String, Link> = BTreeMap::new();
        let mut queue: Vec<Link> = self.roots.clone();
        let mut next = 0;
        while let Some(link) = queue.get(next).cloned() {
            next += 1;
            let key = link.domain_key();
            if let Some(known) = reachable.get(&key) {
                if known.key != link.key {
                    let error = DnsError::ConflictingKey { domain: key };
                    log::debug!("dns discovery: {error}");
                    self.metrics.count_error(&error);
                }
                continue;
            }
            if reachable.len() >= MAX_TREES {
                break;
            }
            if let Some(tree) = self.trees.get(&key).filter(|t| t.link().key == link.key) {
                queue.extend(tree.links().cloned());
            }
            reachable.insert(key, link);
        }
        self.trees.retain(|key, tree| {
            reachable
                .get(key)
                .is_some_and(|link| link.key == tree.link().key)
        });
        for (key, link) in reachable {
            self.trees.entry(key).or_insert_with(|| TreeSync::new(link));
        }
        let count = u64::try_from(self.trees.len()).unwrap_or(u64::MAX);
        self.metrics
            .trees
            .store(count, std::sync::atomic::Ordering::Relaxed);
    }

    /// SplitMix64.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
