//! What discovery hands the node: [`NodeDiscovered`], an event it owns and sends to
//! whatever `Recipient` the node gives it (the dial scheduler), with the node's
//! [`PeerSource`] and the [`ForkVerdict`] of its record's `eth` entry. Discovery never
//! names the actor that consumes it (reth's discovery emits events the same way).

use actix::prelude::*;

use super::enode::Enode;
use super::enr::{self, Record};
use crate::session::StoreStatus;

/// How a peer was found (geth reports a subset of this as `static`/`trusted`/`inbound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerSource {
    /// Configured with `--peers`/`--bootnodes` or `admin_addPeer`.
    Static,
    /// Configured with `--trusted-peers`.
    Trusted,
    /// Found by discovery v4.
    Discv4,
    /// Found by discovery v5.
    Discv5,
    /// Found in an EIP-1459 DNS node list.
    Dns,
    /// It dialed us.
    Inbound,
    /// Dialed by the embedder through `Node::dial`.
    Dialed,
}

impl PeerSource {
    /// The label for RPC and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Trusted => "trusted",
            Self::Discv4 => "discv4",
            Self::Discv5 => "discv5",
            Self::Dns => "dns",
            Self::Inbound => "inbound",
            Self::Dialed => "dialed",
        }
    }
}

/// What a candidate's record says about its chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForkVerdict {
    /// Its `eth` entry's fork id passes our fork filter.
    Compatible,
    /// No `eth` entry (or no record): tried once.
    Absent,
    /// Its `eth` entry names another chain or a stale fork: never dialed.
    Incompatible,
}

/// Event: discovery found a node to dial (the dial scheduler decides whether and when).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct NodeDiscovered {
    /// The node and its RLPx endpoint.
    pub enode: Enode,
    /// Who found it.
    pub source: PeerSource,
    /// Its record's fork id against our filter.
    pub fork: ForkVerdict,
}

/// A record's `eth` entry against our fork filter at the head (EIP-2124 rules).
pub fn verdict(record: Option<&Record>, status: &StoreStatus) -> ForkVerdict {
    let Some(entry) = record.and_then(enr::eth_fork_id) else {
        return ForkVerdict::Absent;
    };
    let Ok(fork_id) = entry else {
        return ForkVerdict::Incompatible;
    };
    let now = status.now();
    match now
        .forks
        .filter(now.head_number, now.head_timestamp)
        .validate(fork_id)
    {
        Ok(()) => ForkVerdict::Compatible,
        Err(_) => ForkVerdict::Incompatible,
    }
}
