//! What the [`PeerManager`](super::PeerManager) is told and asked, and what it answers.

use std::collections::HashMap;
use std::rc::Rc;

use actix::prelude::*;
use futures::future::LocalBoxFuture;
use tokio::time::Instant;

use super::{PeerManager, PeerSource};
use crate::discovery::enode::Enode;
use crate::eth::EthVersion;
use crate::feed::events::Direction;
use crate::p2p::DisconnectReason;
use crate::peer::{PeerHandle, PeerId};

/// How the manager dials: connect, handshake, then ask the manager ([`Admission`]) and
/// start the peer. Injected so that the manager is testable without sockets.
pub type DialFn =
    Rc<dyn Fn(Enode, Admission) -> LocalBoxFuture<'static, Result<(), crate::node::DialError>>>;

/// The manager's admission entry points, as given to whoever establishes sessions.
#[derive(Clone)]
pub struct Admission {
    /// Ask before starting a peer.
    pub admit: Recipient<Admit>,
    /// Report an admitted session that did not become a peer.
    pub failed: Recipient<AdmitFailed>,
}

impl Admission {
    /// Both entry points of `manager`.
    pub fn of(manager: &Addr<PeerManager>) -> Self {
        Self {
            admit: manager.clone().recipient(),
            failed: manager.clone().recipient(),
        }
    }
}

/// What a session's handshakes told us about the remote.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The remote's id and address.
    pub enode: Enode,
    /// Our end of the connection.
    pub local: std::net::SocketAddr,
    /// Who dialed.
    pub direction: Direction,
    /// Negotiated eth version.
    pub version: EthVersion,
    /// Client id from Hello.
    pub client: String,
    /// Capabilities from Hello (`eth/68`, `snap/1`, ...).
    pub caps: Vec<String>,
}

/// One connected (or admitted and registering) peer.
#[derive(Clone, Debug)]
pub struct ConnectedPeer {
    /// Its session.
    pub session: SessionInfo,
    /// Whether it is trusted (exempt from the limits).
    pub trusted: bool,
    /// Whether it is a static peer (redialed when it leaves).
    pub is_static: bool,
    /// How it was found.
    pub found: PeerSource,
    /// When it was admitted (tokio's clock, like every time in the manager, so that tests
    /// can pause it).
    pub since: Instant,
    /// Its handle, once registered in the peer set.
    pub handle: Option<PeerHandle>,
}

/// Query: may this established session become a peer? On `Ok` a slot is reserved for it.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), DisconnectReason>")]
pub struct Admit(pub SessionInfo);

/// Event: an admitted session did not become a peer (registration refused); frees its slot.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AdmitFailed(pub PeerId);

/// Command: add a static peer (dialed now and redialed with backoff whenever it is not
/// connected). Answers whether it was new.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct AddPeer {
    /// The peer.
    pub enode: Enode,
    /// Whether it is also trusted.
    pub trusted: bool,
}

/// Command: forget a static peer and disconnect it (reason: disconnect requested). Answers
/// whether it was known (static or connected).
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct RemovePeer(pub PeerId);

/// Command: disconnect a peer now (reason: disconnect requested), keeping it static if it
/// was. Answers whether it was connected.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct DisconnectPeer(pub PeerId);

/// Command: ban a node for a while: disconnected now if connected, then neither dialed
/// nor admitted until the ban ends (reason: useless peer). Answers whether it was
/// connected.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct BanPeer {
    /// The node.
    pub id: PeerId,
    /// How long.
    pub duration: std::time::Duration,
}

/// Command: the node is shutting down: dial nothing more and admit nobody (reason:
/// client quitting). Connected peers are disconnected by the peer set's `Close`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShutDown;

/// Query: resolves once no peer is connected or admitted (at once if none is). Shutdown
/// waits on it after disconnecting everyone.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct WaitForNoPeers;

/// Query: every connected peer.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ConnectedPeer>")]
pub struct ConnectedPeers;

/// Query: counters for metrics.
#[derive(Debug, Message)]
#[rtype(result = "ManagerStats")]
pub struct GetManagerStats;

/// Counters of the manager.
#[derive(Debug, Clone, Default)]
pub struct ManagerStats {
    /// Disconnects by [`stop_reason_label`].
    pub disconnects: HashMap<String, u64>,
    /// Sessions refused at admission, by reason.
    pub refused: HashMap<&'static str, u64>,
    /// Dials started.
    pub dials: u64,
    /// Dials that failed.
    pub dial_failures: u64,
    /// Dial candidates offered, by source.
    pub candidates: HashMap<&'static str, u64>,
    /// Candidates refused because their `eth` entry's fork id fails our filter.
    pub candidates_incompatible: u64,
    /// Queue drops of peers that have left, by kind (so that drop counters never go down).
    pub departed_drops: HashMap<&'static str, u64>,
    /// Events subscribers missed.
    pub events_dropped: u64,
}

impl ManagerStats {
    /// Disconnects, refusals, dials and dial candidates (the manager's families).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        use crate::exposition::Kind;
        fn sorted<K: AsRef<str>>(map: &HashMap<K, u64>) -> Vec<(&str, u64)> {
            let mut rows: Vec<(&str, u64)> = map.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
            rows.sort();
            rows
        }
        let mut family = out.family(
            "ethpeer_disconnects_total",
            Kind::Counter,
            "Peer disconnects by reason.",
        );
        for (reason, n) in sorted(&self.disconnects) {
            family.sample(&[("reason", reason)], n);
        }
        let mut family = out.family(
            "ethpeer_sessions_refused_total",
            Kind::Counter,
            "Established sessions refused by the peer manager, by reason.",
        );
        for (reason, n) in sorted(&self.refused) {
            family.sample(&[("reason", reason)], n);
        }
        out.family(
            "ethpeer_dials_total",
            Kind::Counter,
            "Dials of static peers, by result.",
        )
        .sample(&[("result", "started")], self.dials)
        .sample(&[("result", "failed")], self.dial_failures);
        let mut family = out.family(
            "ethpeer_dial_candidates_total",
            Kind::Counter,
            "Dial candidates offered to the scheduler, by source; refused ones by fork id.",
        );
        for (source, n) in sorted(&self.candidates) {
            family.sample(&[("source", source)], n);
        }
        family.sample(
            &[("source", "refused_fork_id")],
            self.candidates_incompatible,
        );
    }
}
