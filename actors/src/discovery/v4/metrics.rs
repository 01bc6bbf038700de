//! Counters of the discovery service, shared with the metrics endpoint without messages
//! (atomics, read whenever Prometheus scrapes).

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Wrong size, hash, signature, type or RLP shape.
    Malformed,
    /// Its expiration had passed.
    Expired,
    /// A reply (Pong, Neighbors, ENRResponse) we did not ask for.
    Unsolicited,
    /// A FindNode or ENRRequest from a node without a recent endpoint proof.
    Unbonded,
    /// Over its source's request budget.
    RateLimited,
    /// Signed by our own key (a reflected packet).
    FromSelf,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 6] = [
        Self::Malformed,
        Self::Expired,
        Self::Unsolicited,
        Self::Unbonded,
        Self::RateLimited,
        Self::FromSelf,
    ];

    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Expired => "expired",
            Self::Unsolicited => "unsolicited",
            Self::Unbonded => "unbonded",
            Self::RateLimited => "rate_limited",
            Self::FromSelf => "from_self",
        }
    }
}

/// The packet kinds (1..=6) as metrics labels, by index kind - 1.
pub const KINDS: [&str; 6] = [
    "ping",
    "pong",
    "findnode",
    "neighbors",
    "enrrequest",
    "enrresponse",
];

/// Discovery counters and gauges.
#[derive(Debug, Default)]
pub struct Discv4Metrics {
    /// Nodes in the table's buckets.
    pub table_size: AtomicU64,
    /// Nodes with a live endpoint proof (we hold their Pong).
    pub bonded: AtomicU64,
    /// Lookups started.
    pub lookups: AtomicU64,
    /// Valid packets received, by kind.
    pub packets_in: [AtomicU64; 6],
    /// Packets sent, by kind.
    pub packets_out: [AtomicU64; 6],
    /// Datagrams dropped, by [`DropReason`] in [`DropReason::ALL`] order.
    pub dropped: [AtomicU64; 6],
    /// Nodes handed to the dialer.
    pub discovered: AtomicU64,
}

impl Discv4Metrics {
    pub(crate) fn count_in(&self, kind: u8) {
        if let Some(c) = kind_index(kind).and_then(|i| self.packets_in.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_out(&self, kind: u8) {
        if let Some(c) = kind_index(kind).and_then(|i| self.packets_out.get(i)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_drop(&self, reason: DropReason) {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.dropped[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Drops so far for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.dropped[i].load(Ordering::Relaxed)
    }
}

fn kind_index(kind: u8) -> Option<usize> {
    usize::from(kind)
        .checked_sub(1)
        .filter(|i| *i < KINDS.len())
}

impl Discv4Metrics {
    /// The table, lookups and packets (`ethpeer_discv4_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        use crate::exposition::Kind;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.gauge(
            "ethpeer_discv4_table_nodes",
            "Nodes in the discv4 table's buckets.",
            load(&self.table_size),
        );
        out.gauge(
            "ethpeer_discv4_bonded_nodes",
            "Nodes with a live endpoint proof.",
            load(&self.bonded),
        );
        out.counter(
            "ethpeer_discv4_lookups_total",
            "Lookups started.",
            load(&self.lookups),
        );
        out.counter(
            "ethpeer_discv4_discovered_total",
            "Verified nodes handed to the dialer.",
            load(&self.discovered),
        );
        for (name, help, values) in [
            (
                "ethpeer_discv4_packets_in_total",
                "Valid discv4 packets received, by kind.",
                &self.packets_in,
            ),
            (
                "ethpeer_discv4_packets_out_total",
                "discv4 packets sent, by kind.",
                &self.packets_out,
            ),
        ] {
            let mut family = out.family(name, Kind::Counter, help);
            for (kind, value) in KINDS.iter().zip(values.iter()) {
                family.sample(&[("kind", kind)], load(value));
            }
        }
        let mut family = out.family(
            "ethpeer_discv4_dropped_total",
            Kind::Counter,
            "discv4 datagrams dropped, by reason (malformed, expired, unsolicited, ...).",
        );
        for reason in DropReason::ALL {
            family.sample(&[("reason", reason.as_str())], self.drops(reason));
        }
    }
}
