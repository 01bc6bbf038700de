//! Per-peer counters, shared between the peer actor (which writes them) and whoever
//! observes the peer (peer set snapshots, metrics export, tests).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one peer's outbound traffic and drops. All relaxed atomics: they are
/// statistics, not synchronisation.
#[derive(Debug, Default)]
pub struct PeerMetrics {
    /// Tx hashes dropped from the full-tx queue because it was full (oldest first).
    pub dropped_txs: AtomicU64,
    /// Tx hashes dropped from the announcement queue because it was full.
    pub dropped_tx_anns: AtomicU64,
    /// Block propagations dropped because the queue was full (the new one).
    pub dropped_props: AtomicU64,
    /// Block announcements dropped because the queue was full (the new one).
    pub dropped_block_anns: AtomicU64,
    /// Responses dropped because too many were waiting to be written.
    pub dropped_responses: AtomicU64,
    /// Queue messages refused because the peer's mailbox was full.
    pub dropped_mailbox: AtomicU64,
    /// Transactions written in full.
    pub sent_txs: AtomicU64,
    /// Transaction hashes written as announcements.
    pub sent_tx_anns: AtomicU64,
    /// NewBlock messages written.
    pub sent_props: AtomicU64,
    /// Block hashes written in NewBlockHashes.
    pub sent_block_anns: AtomicU64,
    /// Queued hashes skipped at send time because the pool no longer had the tx.
    pub skipped_gone: AtomicU64,
    /// Messages written.
    pub messages_sent: AtomicU64,
    /// Hashes currently queued for full sending (gauge).
    pub queued_txs: AtomicU64,
    /// Hashes currently queued for announcement (gauge).
    pub queued_tx_anns: AtomicU64,
    /// Seen reports the propagation observer had no room for.
    pub dropped_seen: AtomicU64,
    /// Responses that came after their request had timed out (dropped, not a violation).
    pub late_responses: AtomicU64,
}

impl PeerMetrics {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Every drop counter with its metric label.
    pub fn drop_counts(&self) -> [(&'static str, u64); 8] {
        [
            ("txs", Self::get(&self.dropped_txs)),
            ("tx_anns", Self::get(&self.dropped_tx_anns)),
            ("props", Self::get(&self.dropped_props)),
            ("block_anns", Self::get(&self.dropped_block_anns)),
            ("responses", Self::get(&self.dropped_responses)),
            ("mailbox", Self::get(&self.dropped_mailbox)),
            ("seen_reports", Self::get(&self.dropped_seen)),
            ("late_responses", Self::get(&self.late_responses)),
        ]
    }

    /// Total items dropped, of every kind.
    pub fn total_dropped(&self) -> u64 {
        [
            &self.dropped_txs,
            &self.dropped_tx_anns,
            &self.dropped_props,
            &self.dropped_block_anns,
            &self.dropped_mailbox,
        ]
        .into_iter()
        .map(Self::get)
        .sum()
    }
}

/// Slots of [`WireMetrics`]: one per eth message code 0x00..=0x15 (eth/72's Cells is the
/// highest), one for every p2p message (Hello, Disconnect, Ping, Pong) together, one for
/// codes no eth version defines.
pub const WIRE_SLOTS: usize = 0x16 + 2;

/// The slot of p2p messages in [`WireMetrics`].
pub const P2P_SLOT: usize = 0x16;

/// The slot of eth codes that no version defines (sent by a misbehaving peer).
pub const OTHER_SLOT: usize = 0x17;

/// Messages and payload bytes in and out by message type, summed over every peer of a
/// node (counters survive the peers, as Prometheus counters must).
#[derive(Debug)]
pub struct WireMetrics {
    /// Messages received, by slot.
    pub messages_in: [AtomicU64; WIRE_SLOTS],
    /// Payload bytes received (uncompressed RLP), by slot.
    pub bytes_in: [AtomicU64; WIRE_SLOTS],
    /// Messages sent, by slot.
    pub messages_out: [AtomicU64; WIRE_SLOTS],
    /// Payload bytes sent (uncompressed RLP), by slot.
    pub bytes_out: [AtomicU64; WIRE_SLOTS],
}

impl Default for WireMetrics {
    fn default() -> Self {
        Self {
            messages_in: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_in: std::array::from_fn(|_| AtomicU64::new(0)),
            messages_out: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_out: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WireMetrics {
    /// Counts one message of eth code `code` (`None`: a p2p message) in or out.
    pub fn count(&self, inbound: bool, code: Option<u64>, bytes: usize) {
        let slot = match code {
            None => P2P_SLOT,
            Some(code) => u8::try_from(code)
                .ok()
                .and_then(crate::eth::EthMessageId::from_u8)
                .map_or(OTHER_SLOT, |id| id as usize),
        };
        let (messages, total) = if inbound {
            (&self.messages_in, &self.bytes_in)
        } else {
            (&self.messages_out, &self.bytes_out)
        };
        messages[slot].fetch_add(1, Ordering::Relaxed);
        total[slot].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The Prometheus label of a slot: the eth message name, or `p2p`.
    pub fn slot_name(slot: usize) -> &'static str {
        use crate::eth::EthMessageId as Id;
        let name = u8::try_from(slot)
            .ok()
            .and_then(Id::from_u8)
            .map(|id| match id {
                Id::Status => "Status",
                Id::NewBlockHashes => "NewBlockHashes",
                Id::Transactions => "Transactions",
                Id::GetBlockHeaders => "GetBlockHeaders",
                Id::BlockHeaders => "BlockHeaders",
                Id::GetBlockBodies => "GetBlockBodies",
                Id::BlockBodies => "BlockBodies",
                Id::NewBlock => "NewBlock",
                Id::NewPooledTransactionHashes => "NewPooledTransactionHashes",
                Id::GetPooledTransactions => "GetPooledTransactions",
                Id::PooledTransactions => "PooledTransactions",
                Id::GetNodeData => "GetNodeData",
                Id::NodeData => "NodeData",
                Id::GetReceipts => "GetReceipts",
                Id::Receipts => "Receipts",
                Id::BlockRangeUpdate => "BlockRangeUpdate",
                Id::GetBlockAccessLists => "GetBlockAccessLists",
                Id::BlockAccessLists => "BlockAccessLists",
                Id::GetCells => "GetCells",
                Id::Cells => "Cells",
            });
        match (slot, name) {
            (P2P_SLOT, _) => "p2p",
            (OTHER_SLOT, _) => "other",
            (_, Some(name)) => name,
            _ => "unknown",
        }
    }
}

impl WireMetrics {
    /// Messages and bytes in and out by type (`ethpeer_messages_*`, `ethpeer_bytes_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        use crate::exposition::Kind;
        let families = [
            (
                "ethpeer_messages_in_total",
                "Messages received, by type.",
                &self.messages_in,
            ),
            (
                "ethpeer_messages_out_total",
                "Messages sent, by type.",
                &self.messages_out,
            ),
            (
                "ethpeer_bytes_in_total",
                "Payload bytes received (uncompressed), by type.",
                &self.bytes_in,
            ),
            (
                "ethpeer_bytes_out_total",
                "Payload bytes sent (uncompressed), by type.",
                &self.bytes_out,
            ),
        ];
        for (name, help, counters) in families {
            let mut family = out.family(name, Kind::Counter, help);
            for (slot, counter) in counters.iter().enumerate() {
                let label = Self::slot_name(slot);
                // Unused codes (0x0b, 0x0c) stay out of the output.
                if label != "unknown" {
                    family.sample(&[("type", label)], counter.load(Ordering::Relaxed));
                }
            }
        }
    }
}

impl PeerMetrics {
    /// Queue depths over `peers` and queue drops over them plus peers that have left
    /// (`departed`), so that the drop counters never go down.
    pub fn render<'a>(
        out: &mut crate::exposition::Exposition,
        peers: impl Iterator<Item = &'a PeerMetrics> + Clone,
        departed: &std::collections::HashMap<&'static str, u64>,
    ) {
        use crate::exposition::Kind;
        let sum = |field: fn(&PeerMetrics) -> &AtomicU64| -> u64 {
            peers.clone().map(|m| Self::get(field(m))).sum()
        };
        out.family(
            "ethpeer_peer_queue_depth",
            Kind::Gauge,
            "Hashes queued to peers, by queue.",
        )
        .sample(&[("queue", "txs")], sum(|m| &m.queued_txs))
        .sample(&[("queue", "tx_anns")], sum(|m| &m.queued_tx_anns));
        let mut drops: std::collections::BTreeMap<&str, u64> =
            departed.iter().map(|(k, v)| (*k, *v)).collect();
        for metrics in peers {
            for (kind, n) in metrics.drop_counts() {
                *drops.entry(kind).or_default() += n;
            }
        }
        let mut family = out.family(
            "ethpeer_peer_dropped_total",
            Kind::Counter,
            "Items dropped because a peer's queue or mailbox was full, by kind (all peers, \
             including those that have left).",
        );
        for (kind, n) in drops {
            family.sample(&[("kind", kind)], n);
        }
    }
}
