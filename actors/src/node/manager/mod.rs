//! The dialer/listener policy: which connections become peers. [`PeerManager`] admits
//! every established session (self, duplicates, the inbound/outbound split of the peer
//! limit, trusted peers exempt), dials static peers with backoff, and keeps what the admin
//! RPC and the metrics report about connected peers. The per-IP inbound throttle runs
//! before any handshake, in the accept loop, through [`InboundThrottle`].
//!
//! Files: this one holds the actor (admission checks, the dial tick, peer events, shutdown);
//! `messages` what it is told and asked, `statics` the static peers' dial schedule,
//! `throttle` the per-IP inbound throttle.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use actix::prelude::*;

mod candidates;
mod messages;
mod policy;
mod statics;
mod throttle;

pub use crate::discovery::{ForkVerdict, NodeDiscovered, PeerSource};
use candidates::Candidates;
pub use candidates::{
    DIAL_HISTORY_EXPIRATION, MAX_CANDIDATES, MAX_CANDIDATE_FAILURES, TIE_BREAK_WAIT,
};
pub use messages::*;
pub use policy::{Cidr, CidrError, PeerPolicy};
use statics::{static_peer, StaticPeer};
pub use throttle::{InboundThrottle, INBOUND_THROTTLE, MAX_THROTTLED_IPS};
// Tokio's clock, so that tests can pause it.
use tokio::time::Instant;

use crate::discovery::enode::Enode;
use crate::feed::events::{stop_reason_label, Direction, NodeEvent, SubscribeEvents, Subscribers};
use crate::p2p::DisconnectReason;
use crate::peer::{short, Disconnect, PeerId};
use crate::peer_set::PeerEvent;

/// geth's `defaultDialRatio`: at most a third of the peer limit is dialed by us; the rest
/// is left to inbound connections, so that a node cannot fill itself with its own choices.
pub const DIAL_RATIO: usize = 3;

/// geth's `maxActiveDialTasks`: dials in progress at once.
pub const MAX_ACTIVE_DIALS: usize = 16;

/// First wait before redialing a static peer that failed or left (ours; doubled per
/// consecutive failure).
pub const DIAL_BACKOFF_MIN: Duration = Duration::from_secs(1);

/// Longest wait between dials of a static peer: geth's `dialHistoryExpiration`
/// (inbound throttle + 5 s = 35 s), the interval at which geth retries static peers.
pub const DIAL_BACKOFF_MAX: Duration = Duration::from_secs(35);

/// A static peer that stayed connected this long is redialed quickly after it leaves;
/// one that left sooner (e.g. a full peer that accepts and then drops us) keeps backing off.
pub const STABLE_CONNECTION: Duration = Duration::from_secs(30);

/// How often due dials are started.
pub const DIAL_TICK: Duration = Duration::from_millis(250);

/// Internal: a dial finished.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct DialDone {
    id: PeerId,
    result: Result<(), super::DialError>,
}

/// The admission and dialing policy of a node.
pub struct PeerManager {
    self_id: PeerId,
    max_peers: usize,
    trusted: HashSet<PeerId>,
    statics: HashMap<PeerId, StaticPeer>,
    /// Nodes found by discovery, dialed after the static ones.
    candidates: Candidates,
    peers: HashMap<PeerId, ConnectedPeer>,
    dial: DialFn,
    stats: ManagerStats,
    subscribers: Subscribers,
    /// Set by [`ShutDown`].
    closing: bool,
    /// Answered when the last peer is gone ([`WaitForNoPeers`]).
    waiting_for_none: Vec<futures::channel::oneshot::Sender<()>>,
    /// `--netrestrict` and `--trusted-only`.
    policy: PeerPolicy,
    /// Banned nodes and when each ban ends (at most [`MAX_BANNED`]).
    banned: HashMap<PeerId, Instant>,
}

/// Nodes banned at once at most; banning one more forgets the ban that ends first (ours:
/// bans are an embedder's tool, a few at a time; reth's ban list keeps a similar bound).
pub const MAX_BANNED: usize = 4096;

impl PeerManager {
    /// A manager for node `self_id` with a peer limit and a way to dial.
    pub fn new(self_id: PeerId, max_peers: usize, dial: DialFn) -> Self {
        Self {
            self_id,
            max_peers,
            trusted: HashSet::new(),
            statics: HashMap::new(),
            candidates: Candidates::default(),
            peers: HashMap::new(),
            dial,
            stats: ManagerStats::default(),
            subscribers: Subscribers::default(),
            closing: false,
            waiting_for_none: Vec::new(),
            policy: PeerPolicy::default(),
            banned: HashMap::new(),
        }
    }

    /// Who may be a peer at all (`--netrestrict`, `--trusted-only`).
    pub fn policy(mut self, policy: PeerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Peers exempt from the limits (geth `TrustedNodes`).
    pub fn trusted(mut self, ids: impl IntoIterator<Item = PeerId>) -> Self {
        self.trusted.extend(ids);
        self
    }

    /// Peers dialed at start and whenever they are not connected.
    pub fn static_peers(mut self, peers: impl IntoIterator<Item = Enode>) -> Self {
        let now = Instant::now();
        for enode in peers {
            if !self.dialable(&enode) {
                log::warn!(
                    "static peer {enode} is outside --netrestrict (or not trusted under \
                     --trusted-only): never dialed"
                );
            }
            self.statics.insert(enode.id, static_peer(enode, now));
        }
        self
    }

    /// Most peers we dial ourselves: a third of the limit, at least one (geth
    /// `maxDialedConns`).
    pub fn max_dialed(&self) -> usize {
        (self.max_peers / DIAL_RATIO).max(1).min(self.max_peers)
    }

    /// Most inbound peers: the rest of the limit.
    pub fn max_inbound(&self) -> usize {
        self.max_peers - self.max_dialed()
    }
}

impl Actor for PeerManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.dial_due(ctx);
        ctx.run_interval(DIAL_TICK, |act, ctx| act.dial_due(ctx));
    }
}

impl Handler<Admit> for PeerManager {
    type Result = Result<(), DisconnectReason>;

    fn handle(&mut self, msg: Admit, _ctx: &mut Self::Context) -> Self::Result {
        let session = msg.0;
        let verdict = self.check(&session);
        if let Err(reason) = verdict {
            *self.stats.refused.entry(reason.as_str()).or_default() += 1;
            log::debug!(
                "{} {} refused: {reason}",
                session.direction.as_str(),
                session.enode
            );
            return verdict;
        }
        let id = session.enode.id;
        let found = match session.direction {
            Direction::Inbound => PeerSource::Inbound,
            Direction::Outbound if self.statics.contains_key(&id) => {
                match self.trusted.contains(&id) {
                    true => PeerSource::Trusted,
                    false => PeerSource::Static,
                }
            }
            Direction::Outbound => self
                .candidates
                .map
                .get(&id)
                .filter(|c| c.dialing)
                .map_or(PeerSource::Dialed, |c| c.source),
        };
        self.peers.insert(
            id,
            ConnectedPeer {
                session,
                trusted: self.trusted.contains(&id),
                is_static: self.statics.contains_key(&id),
                found,
                since: Instant::now(),
                handle: None,
            },
        );
        Ok(())
    }
}

impl Handler<AdmitFailed> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: AdmitFailed, _ctx: &mut Self::Context) {
        if self.peers.get(&msg.0).is_some_and(|p| p.handle.is_none()) {
            self.peers.remove(&msg.0);
            self.wake_if_empty();
        }
    }
}

impl Handler<WaitForNoPeers> for PeerManager {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: WaitForNoPeers, _ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = futures::channel::oneshot::channel();
        self.waiting_for_none.push(tx);
        self.wake_if_empty();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<AddPeer> for PeerManager {
    type Result = bool;

    fn handle(&mut self, msg: AddPeer, ctx: &mut Self::Context) -> bool {
        if msg.trusted {
            self.trusted.insert(msg.enode.id);
        }
        if msg.enode.id == self.self_id || self.statics.contains_key(&msg.enode.id) {
            return false;
        }
        self.statics
            .insert(msg.enode.id, static_peer(msg.enode, Instant::now()));
        self.dial_due(ctx);
        true
    }
}

impl Handler<NodeDiscovered> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: NodeDiscovered, ctx: &mut Self::Context) {
        *self
            .stats
            .candidates
            .entry(msg.source.as_str())
            .or_default() += 1;
        if msg.fork == ForkVerdict::Incompatible {
            self.stats.candidates_incompatible += 1;
        }
        // Many per second while discovery runs: offered, never waited for.
        if !self.subscribers.is_empty() {
            self.subscribers.publish(NodeEvent::NodeFound {
                enode: msg.enode,
                source: msg.source,
            });
        }
        if msg.enode.id == self.self_id || self.statics.contains_key(&msg.enode.id) {
            return;
        }
        // Never dialed: outside --netrestrict, or anyone under --trusted-only.
        if self.policy.trusted_only
            || !self.policy.allows_ip(msg.enode.addr.ip())
            || self.is_banned(&msg.enode.id)
        {
            return;
        }
        let defer = self.self_id > msg.enode.id;
        self.candidates
            .offer(msg.enode, msg.source, msg.fork, (defer, Instant::now()));
        self.dial_due(ctx);
    }
}

impl Handler<RemovePeer> for PeerManager {
    type Result = bool;

    fn handle(&mut self, msg: RemovePeer, _ctx: &mut Self::Context) -> bool {
        let was_static = self.statics.remove(&msg.0).is_some();
        let connected = match self.peers.get(&msg.0).and_then(|p| p.handle.as_ref()) {
            Some(handle) => {
                handle.disconnect.do_send(Disconnect {
                    reason: DisconnectReason::DisconnectRequested,
                });
                true
            }
            None => false,
        };
        was_static || connected
    }
}

impl Handler<DisconnectPeer> for PeerManager {
    type Result = bool;

    fn handle(&mut self, msg: DisconnectPeer, _ctx: &mut Self::Context) -> bool {
        self.disconnect(&msg.0, DisconnectReason::DisconnectRequested)
    }
}

impl Handler<BanPeer> for PeerManager {
    type Result = bool;

    fn handle(&mut self, msg: BanPeer, _ctx: &mut Self::Context) -> bool {
        let now = Instant::now();
        self.banned.retain(|_, until| now < *until);
        if self.banned.len() >= MAX_BANNED && !self.banned.contains_key(&msg.id) {
            if let Some(first) = self
                .banned
                .iter()
                .min_by_key(|(_, u)| **u)
                .map(|(id, _)| *id)
            {
                self.banned.remove(&first);
            }
        }
        self.banned.insert(msg.id, now + msg.duration);
        log::info!("banned {} for {:?}", short(&msg.id), msg.duration);
        self.disconnect(&msg.id, DisconnectReason::UselessPeer)
    }
}

impl Handler<ShutDown> for PeerManager {
    type Result = ();

    fn handle(&mut self, _msg: ShutDown, _ctx: &mut Self::Context) {
        self.closing = true;
    }
}

impl Handler<ConnectedPeers> for PeerManager {
    type Result = Vec<ConnectedPeer>;

    fn handle(&mut self, _msg: ConnectedPeers, _ctx: &mut Self::Context) -> Self::Result {
        let mut peers: Vec<_> = self
            .peers
            .values()
            .filter(|p| p.handle.is_some())
            .cloned()
            .collect();
        peers.sort_by_key(|p| p.since);
        peers
    }
}

impl Handler<GetManagerStats> for PeerManager {
    type Result = MessageResult<GetManagerStats>;

    fn handle(&mut self, _msg: GetManagerStats, _ctx: &mut Self::Context) -> Self::Result {
        let mut stats = self.stats.clone();
        stats.events_dropped = self
            .subscribers
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        MessageResult(stats)
    }
}

impl Handler<crate::feed::events::SubscribePeerEvents> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: crate::feed::events::SubscribePeerEvents, _ctx: &mut Self::Context) {
        // Peers that registered before the watcher came (static peers dialed while the
        // node was still starting) are told first, so it knows every connected peer.
        for peer in self.peers.values() {
            if let Some(handle) = &peer.handle {
                msg.0.do_send(connected(handle.id, &peer.session));
            }
        }
        self.subscribers.add_peer_watcher(msg.0);
    }
}

/// The event of a registered peer.
fn connected(id: PeerId, session: &SessionInfo) -> NodeEvent {
    NodeEvent::PeerConnected {
        id,
        addr: session.enode.addr,
        direction: session.direction,
        version: session.version,
        client: session.client.clone(),
        caps: session.caps.clone(),
    }
}

impl Handler<SubscribeEvents> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: SubscribeEvents, _ctx: &mut Self::Context) {
        self.subscribers.add(msg.0);
    }
}

impl Handler<PeerEvent> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: PeerEvent, _ctx: &mut Self::Context) {
        match msg {
            PeerEvent::Registered(handle) => {
                let Some(peer) = self.peers.get_mut(&handle.id) else {
                    // Registered without admission (a test or an embedder's own dial).
                    return;
                };
                log::info!(
                    "peer connected: {} {} eth/{} {:?} {}",
                    short(&handle.id),
                    peer.session.direction.as_str(),
                    peer.session.version as u8,
                    peer.session.client,
                    peer.session.enode.addr
                );
                self.subscribers
                    .publish_reliably(connected(handle.id, &peer.session));
                peer.handle = Some(handle);
            }
            PeerEvent::Unregistered { id, reason } => {
                let Some(peer) = self.peers.remove(&id) else {
                    return;
                };
                let label = stop_reason_label(reason.as_ref());
                log::info!(
                    "peer disconnected: {} {} {}: {}",
                    short(&id),
                    peer.session.direction.as_str(),
                    peer.session.enode.addr,
                    describe(reason.as_ref())
                );
                *self.stats.disconnects.entry(label).or_default() += 1;
                if let Some(handle) = &peer.handle {
                    for (kind, n) in handle.metrics.drop_counts() {
                        *self.stats.departed_drops.entry(kind).or_default() += n;
                    }
                }
                if let Some(entry) = self.statics.get_mut(&id) {
                    let short = peer.since.elapsed() < STABLE_CONNECTION;
                    entry.retry_later(short);
                }
                self.subscribers
                    .publish_reliably(NodeEvent::PeerDisconnected { id, reason });
                self.wake_if_empty();
            }
        }
    }
}

impl Handler<DialDone> for PeerManager {
    type Result = ();

    fn handle(&mut self, msg: DialDone, _ctx: &mut Self::Context) {
        if self.candidates.map.contains_key(&msg.id) && !self.statics.contains_key(&msg.id) {
            if let Err(error) = &msg.result {
                self.stats.dial_failures += 1;
                log::debug!("dial of discovered {} failed: {error}", short(&msg.id));
            }
            self.candidates.dial_done(&msg.id, msg.result.is_err());
            return;
        }
        let Some(entry) = self.statics.get_mut(&msg.id) else {
            return;
        };
        entry.dialing = false;
        if let Err(error) = msg.result {
            self.stats.dial_failures += 1;
            match entry.failure_to_report(Instant::now()) {
                Some(failures) => log::warn!(
                    "static peer {} unreachable ({failures} failed dial{} since the last \
                     report): {error}; next try in {:?}",
                    entry.enode,
                    if failures == 1 { "" } else { "s" },
                    entry.backoff
                ),
                None => log::debug!(
                    "dial {} failed: {error}; next try in {:?}",
                    entry.enode,
                    entry.backoff
                ),
            }
            entry.retry_later(true);
        }
    }
}

impl PeerManager {
    /// The admission rules, in geth's order: self, duplicate, then the limits.
    fn check(&self, session: &SessionInfo) -> Result<(), DisconnectReason> {
        let id = session.enode.id;
        if self.closing {
            return Err(DisconnectReason::ClientQuitting);
        }
        if id == self.self_id {
            return Err(DisconnectReason::ConnectedToSelf);
        }
        if self.peers.contains_key(&id) {
            return Err(DisconnectReason::AlreadyConnected);
        }
        // geth refuses an address outside --netrestrict whoever it is, trusted too.
        if !self.policy.allows_ip(session.enode.addr.ip()) {
            self.log_refusal(session, "outside --netrestrict");
            return Err(DisconnectReason::UselessPeer);
        }
        if self.policy.trusted_only && !self.trusted.contains(&id) {
            self.log_refusal(session, "not trusted (--trusted-only)");
            return Err(DisconnectReason::UselessPeer);
        }
        if self.is_banned(&id) {
            self.log_refusal(session, "banned");
            return Err(DisconnectReason::UselessPeer);
        }
        if self.trusted.contains(&id) {
            return Ok(());
        }
        let count = |direction| {
            self.peers
                .values()
                .filter(|p| !p.trusted && p.session.direction == direction)
                .count()
        };
        let (used, limit) = match session.direction {
            Direction::Inbound => (count(Direction::Inbound), self.max_inbound()),
            Direction::Outbound => (count(Direction::Outbound), self.max_dialed()),
        };
        if used >= limit {
            return Err(DisconnectReason::TooManyPeers);
        }
        Ok(())
    }

    /// Whether the policy lets us dial `enode` (a static peer outside it is never dialed;
    /// [`PeerManager::static_peers`] warns about it once).
    fn dialable(&self, enode: &Enode) -> bool {
        !self.is_banned(&enode.id)
            && self.policy.allows_ip(enode.addr.ip())
            && (!self.policy.trusted_only || self.trusted.contains(&enode.id))
    }

    /// Whether `id` is banned now.
    fn is_banned(&self, id: &PeerId) -> bool {
        self.banned
            .get(id)
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Asks `id`'s actor to disconnect with `reason`; answers whether it was connected.
    fn disconnect(&self, id: &PeerId, reason: DisconnectReason) -> bool {
        match self.peers.get(id).and_then(|p| p.handle.as_ref()) {
            Some(handle) => {
                handle.disconnect.do_send(Disconnect { reason });
                true
            }
            None => false,
        }
    }

    fn log_refusal(&self, session: &SessionInfo, why: &str) {
        log::debug!(
            "refused {} {} {}: {why}",
            short(&session.enode.id),
            session.direction.as_str(),
            session.enode.addr
        );
    }

    fn wake_if_empty(&mut self) {
        if self.peers.is_empty() {
            for waiter in self.waiting_for_none.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Starts the dials that are due, within [`MAX_ACTIVE_DIALS`] and the dialed limit.
    fn dial_due(&mut self, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        let now = Instant::now();
        let mut active = self.statics.values().filter(|s| s.dialing).count()
            + self.candidates.map.values().filter(|c| c.dialing).count();
        let dialed = self
            .peers
            .values()
            .filter(|p| !p.trusted && p.session.direction == Direction::Outbound)
            .count();
        // Dials in progress hold a slot until they are admitted (then they count above).
        let pending = self
            .statics
            .values()
            .filter(|s| {
                s.dialing
                    && !self.trusted.contains(&s.enode.id)
                    && !self.peers.contains_key(&s.enode.id)
            })
            .count()
            + self
                .candidates
                .map
                .values()
                .filter(|c| c.dialing && !self.peers.contains_key(&c.enode.id))
                .count();
        let mut free = self.max_dialed().saturating_sub(dialed + pending);
        let due: Vec<PeerId> = self
            .statics
            .values()
            .filter(|s| !s.dialing && s.next_at <= now && !self.peers.contains_key(&s.enode.id))
            .filter(|s| self.dialable(&s.enode))
            .map(|s| s.enode.id)
            .collect();
        for id in due {
            let trusted = self.trusted.contains(&id);
            if active >= MAX_ACTIVE_DIALS {
                break;
            }
            if !trusted && free == 0 {
                continue;
            }
            let Some(entry) = self.statics.get_mut(&id) else {
                continue;
            };
            entry.dialing = true;
            active += 1;
            if !trusted {
                free -= 1;
            }
            let enode = entry.enode;
            self.start_dial(enode, ctx);
        }
        self.dial_candidates(now, active, free, ctx);
    }

    /// Dials discovered nodes in the free part of the dialed share (static and trusted
    /// peers went first), within [`MAX_ACTIVE_DIALS`] dials in progress.
    fn dial_candidates(
        &mut self,
        now: Instant,
        mut active: usize,
        mut free: usize,
        ctx: &mut Context<Self>,
    ) {
        for id in self.candidates.due(now) {
            if active >= MAX_ACTIVE_DIALS || free == 0 {
                break;
            }
            if self.peers.contains_key(&id) || self.trusted.contains(&id) || self.is_banned(&id) {
                continue;
            }
            let Some(candidate) = self.candidates.map.get_mut(&id) else {
                continue;
            };
            candidate.dialing = true;
            candidate.last_dial = Some(now);
            let enode = candidate.enode;
            active += 1;
            free -= 1;
            self.start_dial(enode, ctx);
        }
    }

    fn start_dial(&mut self, enode: Enode, ctx: &mut Context<Self>) {
        self.stats.dials += 1;
        let id = enode.id;
        let dial = (self.dial)(enode, Admission::of(&ctx.address()));
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(dial).map(move |result, _act, ctx| {
                ctx.notify(DialDone { id, result });
            }),
        );
    }
}

/// A stop reason as a log line says it.
fn describe(reason: Option<&crate::peer::StopReason>) -> String {
    use crate::peer::StopReason as R;
    match reason {
        Some(R::Disconnected(r)) => format!("we disconnected: {r}"),
        Some(R::RemoteDisconnected(r)) => format!("remote disconnected: {r}"),
        Some(R::WriteFailed(why)) => format!("write failed: {why}"),
        Some(R::Dropped) | None => "dropped".into(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod candidates_tests;
