//! Counters of the DNS discovery client, shared with the metrics endpoint without messages
//! (atomics, read whenever Prometheus scrapes).

use std::sync::atomic::{AtomicU64, Ordering};

use super::DnsError;

/// DNS discovery counters and gauges.
#[derive(Debug, Default)]
pub struct DnsMetrics {
    /// Trees followed now (the configured ones and those linked from them).
    pub trees: AtomicU64,
    /// Roots fetched whose signature verified.
    pub roots_verified: AtomicU64,
    /// Full passes over a tree's node records completed.
    pub trees_synced: AtomicU64,
    /// Entries fetched from DNS whose hash matched (cache hits not counted).
    pub entries_resolved: AtomicU64,
    /// Node records handed out.
    pub nodes_found: AtomicU64,
    /// Failures, by [`DnsError::kind`] in [`DnsError::KINDS`] order.
    pub errors: [AtomicU64; 6],
}

impl DnsMetrics {
    /// Counts one failure.
    pub(crate) fn count_error(&self, error: &DnsError) {
        if let Some(counter) = self.errors.get(error.kind_index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Failures of `kind` so far.
    pub fn error_count(&self, kind: &str) -> u64 {
        DnsError::KINDS
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.errors.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl DnsMetrics {
    /// The trees, entries, nodes and errors (`ethpeer_dns_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.gauge(
            "ethpeer_dns_trees",
            "DNS trees followed (configured and linked).",
            load(&self.trees),
        );
        out.counter(
            "ethpeer_dns_roots_verified_total",
            "Tree roots fetched whose signature verified.",
            load(&self.roots_verified),
        );
        out.counter(
            "ethpeer_dns_trees_synced_total",
            "Full passes over a tree's node records.",
            load(&self.trees_synced),
        );
        out.counter(
            "ethpeer_dns_entries_resolved_total",
            "Tree entries fetched from DNS whose hash matched.",
            load(&self.entries_resolved),
        );
        out.counter(
            "ethpeer_dns_nodes_found_total",
            "Node records taken from DNS trees.",
            load(&self.nodes_found),
        );
        let mut family = out.family(
            "ethpeer_dns_errors_total",
            crate::exposition::Kind::Counter,
            "DNS discovery failures, by kind (lookup, timeout, malformed, signature, ...).",
        );
        for kind in DnsError::KINDS {
            family.sample(&[("kind", kind)], self.error_count(kind));
        }
    }
}
