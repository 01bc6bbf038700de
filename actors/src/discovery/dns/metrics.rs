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
