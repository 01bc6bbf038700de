//! What an embedder can subscribe to: [`NodeEvent`]s about peers (connected, disconnected
//! with the reason) and about transactions and blocks (first seen, from whom, how).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use actix::prelude::*;
use alloy_eips::BlockNumHash;
use alloy_primitives::B256;

use crate::eth::EthVersion;
use crate::peer::{Delivery, PeerId, StopReason};
use crate::txs::pool::PoolTx;

/// Which side opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The remote dialed us.
    Inbound,
    /// We dialed the remote.
    Outbound,
}

impl Direction {
    /// `inbound` / `outbound`, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// An event of a running node. New kinds may be added: match with a wildcard arm.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum NodeEvent {
    /// A peer finished its handshakes and was registered.
    PeerConnected {
        /// Its node id.
        id: PeerId,
        /// Its TCP address.
        addr: SocketAddr,
        /// Who dialed.
        direction: Direction,
        /// The negotiated eth version.
        version: EthVersion,
        /// The client id from its Hello (e.g. `Geth/v1.16.0-stable/linux-amd64/go1.24`).
        client: String,
        /// The capabilities from its Hello (`eth/68`, `snap/1`, ...).
        caps: Vec<String>,
    },
    /// Discovery (discv4, discv5 or a DNS list) offered a node as a dial candidate.
    NodeFound {
        /// The node.
        enode: crate::discovery::enode::Enode,
        /// Where it was found.
        source: crate::discovery::candidate::PeerSource,
    },
    /// A registered peer went away.
    PeerDisconnected {
        /// Its node id.
        id: PeerId,
        /// Why (`None`: removed without its actor reporting a reason).
        reason: Option<StopReason>,
    },
    /// A transaction a peer delivered or announced entered the pool for the first time
    /// (since the node started, within the last [`super::observe::SEEN_WINDOW`] hashes).
    /// Sent when the pool accepts it, so it carries the validated tx; `peer`, `delivery`
    /// and `first_seen` describe the first sighting, which for an announced tx precedes
    /// the fetch. Transactions that only came through our own RPC are not reported.
    TxSeen {
        /// Its hash.
        hash: B256,
        /// The pooled transaction (sender recovered).
        tx: Arc<PoolTx>,
        /// Who delivered or announced it first.
        peer: PeerId,
        /// Full or announced, the first time.
        delivery: Delivery,
        /// When the first peer's message carrying it was decoded.
        first_seen: SystemTime,
    },
    /// A transaction's arrival with provenance, in three tiers per transaction (first
    /// delivery decoded, the pool's verdict, the counts a second later): see
    /// [`super::arrivals::TxArrival`]. `TxSeen` stays for embedders that want only pooled
    /// transactions.
    TxArrival(Arc<super::arrivals::TxArrival>),
    /// A followed block included a transaction a peer had delivered or announced to us.
    TxIncluded {
        /// Its hash.
        hash: B256,
        /// The including block.
        block: BlockNumHash,
        /// When a peer first delivered or announced it.
        first_seen: SystemTime,
        /// When the follower took the block.
        included_at: SystemTime,
        /// The block's header timestamp (seconds).
        block_timestamp: u64,
        /// Distinct peers that delivered or announced it within
        /// [`super::observe::SPREAD_WINDOW`] of `first_seen` (the first one included).
        peers_within_window: u32,
    },
    /// A block was seen for the first time.
    BlockSeen {
        /// Its hash.
        hash: B256,
        /// Its number.
        number: u64,
        /// Who delivered or announced it first.
        peer: PeerId,
        /// Full or announced.
        delivery: Delivery,
    },
}

/// Command: send every later [`NodeEvent`] to this recipient. Peer events always arrive;
/// the high-volume `TxSeen`/`TxArrival`/`TxIncluded`/`BlockSeen` are offered with `try_send`, so a subscriber whose
/// mailbox is full loses those (counted as `ethpeer_events_dropped_total`) and never slows
/// the node.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeEvents(pub Recipient<NodeEvent>);

/// Command: send only the peer events (`PeerConnected`, `PeerDisconnected`) to this
/// recipient (the observer, which names peers in arrivals).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribePeerEvents(pub Recipient<NodeEvent>);

/// The subscribers of one event source, with the count of events they missed.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    list: Vec<Recipient<NodeEvent>>,
    /// Those that want only the reliable (peer) events.
    peer_watchers: Vec<Recipient<NodeEvent>>,
    pub(crate) dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Subscribers {
    pub(crate) fn add(&mut self, recipient: Recipient<NodeEvent>) {
        self.list.push(recipient);
    }

    pub(crate) fn add_peer_watcher(&mut self, recipient: Recipient<NodeEvent>) {
        self.peer_watchers.push(recipient);
    }

    pub(crate) fn publish(&mut self, event: NodeEvent) {
        self.list.retain(|s| s.connected());
        for subscriber in &self.list {
            if subscriber.try_send(event.clone()).is_err() {
                self.dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// For rare events whose loss would leave a subscriber with a wrong picture (peer
    /// connected/disconnected: at most a few per second): delivered even past a full
    /// mailbox.
    pub(crate) fn publish_reliably(&mut self, event: NodeEvent) {
        self.list.retain(|s| s.connected());
        self.peer_watchers.retain(|s| s.connected());
        for subscriber in self.list.iter().chain(&self.peer_watchers) {
            subscriber.do_send(event.clone());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// How a stop reason reads in logs and as a metric label.
pub fn stop_reason_label(reason: Option<&StopReason>) -> String {
    match reason {
        Some(StopReason::Disconnected(r)) => format!("local_{}", r.as_str()),
        Some(StopReason::RemoteDisconnected(r)) => format!("remote_{}", r.as_str()),
        Some(StopReason::WriteFailed(_)) => "write_failed".into(),
        Some(StopReason::Dropped) | None => "dropped".into(),
    }
}
