//! [`PeerSetActor`]: the registry of connected peers and what each is known to have
//! (go-ethereum's `peerSet` plus the peers' `knownTxs`/`knownBlocks`, in one place so that
//! "which peers lack X" is one lookup).

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::known::{KnownDigest, KnownSet};
use super::messages::*;
use crate::p2p::DisconnectReason;
use crate::peer::{short, Disconnect, PeerHandle, PeerId, PeerStopped};

/// Transaction hashes remembered per peer (geth `maxKnownTxs`, 32768).
pub const MAX_KNOWN_TXS: usize = 32768;
/// Block hashes remembered per peer (geth `maxKnownBlocks`, 1024).
pub const MAX_KNOWN_BLOCKS: usize = 1024;

/// A [`KnownSet`] holding at most `capacity` hashes.
pub fn known_set(capacity: usize) -> KnownSet {
    KnownSet::new(capacity)
}

/// One registered peer.
struct Entry {
    handle: PeerHandle,
    head: PeerHead,
    /// When it registered (tokio's clock).
    since: tokio::time::Instant,
    known_txs: KnownSet,
    known_blocks: KnownSet,
}

/// The registry of connected peers.
pub struct PeerSetActor {
    /// Registered peers, in a dense vector so lookups iterate without hashing ids.
    entries: Vec<Entry>,
    /// Position of each peer in `entries`.
    index: HashMap<PeerId, usize>,
    /// Handles in `entries` order, shared with query answers; rebuilt on change.
    snapshot: Arc<[PeerHandle]>,
    /// Set by [`Close`]: registrations are refused from then on.
    closed: bool,
    /// Who hears about registrations and removals.
    subscribers: Vec<Recipient<PeerEvent>>,
    /// Most peers registered at once.
    max_peers: usize,
}

impl Default for PeerSetActor {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashMap::new(),
            snapshot: Arc::from([]),
            closed: false,
            subscribers: Vec::new(),
            max_peers: usize::MAX,
        }
    }
}

impl PeerSetActor {
    /// An empty, open peer set without a peer limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses registrations beyond `max_peers` with [`RegisterError::TooManyPeers`]
    /// (geth's default is 50).
    pub fn with_max_peers(mut self, max_peers: usize) -> Self {
        self.max_peers = max_peers;
        self
    }
}

impl Actor for PeerSetActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, with every source bounded elsewhere: marks of a peer's broadcasts carry
        // its `InboundTicket` (16 per peer), marks of fetched txs follow the fetcher's one
        // request per peer, registrations are capped by max peers and the handshake
        // throttle, and the broadcaster waits for each lookup before the next (`ctx.wait`).
        // Each is answered in microseconds: the routing bench routes 6.06 M (tx, peer)
        // pairs/s through this actor (README), so bursts drain at once.
        ctx.set_mailbox_capacity(0);
    }
}

impl Handler<Register> for PeerSetActor {
    type Result = Result<(), RegisterError>;

    fn handle(&mut self, msg: Register, _ctx: &mut Self::Context) -> Self::Result {
        if self.closed {
            return Err(RegisterError::Closed);
        }
        let id = msg.peer.id;
        if self.index.contains_key(&id) {
            return Err(RegisterError::AlreadyRegistered);
        }
        if self.entries.len() >= self.max_peers {
            return Err(RegisterError::TooManyPeers {
                limit: self.max_peers,
            });
        }
        self.index.insert(id, self.entries.len());
        self.entries.push(Entry {
            handle: msg.peer.clone(),
            head: msg.head,
            since: tokio::time::Instant::now(),
            known_txs: known_set(MAX_KNOWN_TXS),
            known_blocks: known_set(MAX_KNOWN_BLOCKS),
        });
        self.rebuild_snapshot();
        log::debug!(
            "peer {} registered ({}), {} peers",
            short(&id),
            msg.peer.version,
            self.entries.len()
        );
        self.publish(PeerEvent::Registered(msg.peer));
        Ok(())
    }
}

impl Handler<Unregister> for PeerSetActor {
    type Result = bool;

    fn handle(&mut self, msg: Unregister, _ctx: &mut Self::Context) -> bool {
        self.remove(msg.id, None)
    }
}

impl Handler<Close> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, _msg: Close, _ctx: &mut Self::Context) {
        self.closed = true;
        for entry in &self.entries {
            // do_send: a disconnect must not be lost to a full mailbox.
            entry.handle.disconnect.do_send(Disconnect {
                reason: DisconnectReason::ClientQuitting,
            });
        }
    }
}

impl Handler<Len> for PeerSetActor {
    type Result = usize;

    fn handle(&mut self, _msg: Len, _ctx: &mut Self::Context) -> usize {
        self.entries.len()
    }
}

impl Handler<BestPeer> for PeerSetActor {
    type Result = MessageResult<BestPeer>;

    fn handle(&mut self, _msg: BestPeer, _ctx: &mut Self::Context) -> Self::Result {
        let by_total_difficulty = self
            .entries
            .iter()
            .filter_map(|e| match e.head {
                PeerHead::TotalDifficulty { td, .. } => Some((td, e.handle.id)),
                PeerHead::Range { .. } => None,
            })
            .max_by_key(|(td, _)| *td)
            .map(|(_, id)| id);
        let by_latest_block = self
            .entries
            .iter()
            .filter_map(|e| match e.head {
                PeerHead::Range { latest, .. } => Some((latest, e.handle.id)),
                PeerHead::TotalDifficulty { .. } => None,
            })
            .max_by_key(|(latest, _)| *latest)
            .map(|(_, id)| id);
        MessageResult(BestPeers {
            by_total_difficulty,
            by_latest_block,
        })
    }
}

impl Handler<Peers> for PeerSetActor {
    type Result = MessageResult<Peers>;

    fn handle(&mut self, _msg: Peers, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.entries
                .iter()
                .map(|e| PeerInfo {
                    handle: e.handle.clone(),
                    head: e.head,
                    known_txs: e.known_txs.len(),
                    since: e.since,
                })
                .collect(),
        )
    }
}

impl Handler<MarkTxs> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: MarkTxs, _ctx: &mut Self::Context) {
        if let Some(entry) = self.entry_mut(&msg.peer) {
            for hash in msg.hashes {
                entry.known_txs.insert(&hash);
            }
        }
    }
}

impl Handler<MarkBlock> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: MarkBlock, _ctx: &mut Self::Context) {
        if let Some(entry) = self.entry_mut(&msg.peer) {
            entry.known_blocks.insert(&msg.hash);
        }
    }
}

impl Handler<UpdatePeerHead> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: UpdatePeerHead, _ctx: &mut Self::Context) {
        if let Some(entry) = self.entry_mut(&msg.peer) {
            entry.head = msg.head;
        }
    }
}

impl Handler<PeersWithoutTx> for PeerSetActor {
    type Result = MessageResult<PeersWithoutTx>;

    fn handle(&mut self, msg: PeersWithoutTx, _ctx: &mut Self::Context) -> Self::Result {
        let mut lacking = Vec::with_capacity(msg.hashes.len());
        for hash in &msg.hashes {
            let digest = KnownDigest::of(hash);
            let mut peers = Vec::new();
            for (i, entry) in self.entries.iter_mut().enumerate() {
                let lacks = if msg.mark {
                    entry.known_txs.insert_digest(digest)
                } else {
                    !entry.known_txs.contains_digest(digest)
                };
                if lacks {
                    peers.push(i as u32);
                }
            }
            lacking.push(peers);
        }
        MessageResult(TxRecipients {
            peers: self.snapshot.clone(),
            lacking,
        })
    }
}

impl Handler<FilterUnknownTxs> for PeerSetActor {
    type Result = MessageResult<FilterUnknownTxs>;

    fn handle(&mut self, msg: FilterUnknownTxs, _ctx: &mut Self::Context) -> Self::Result {
        let Some(entry) = self.entry_mut(&msg.peer) else {
            return MessageResult(Vec::new());
        };
        let unknown = msg
            .hashes
            .into_iter()
            .filter(|hash| entry.known_txs.insert(hash))
            .collect();
        MessageResult(unknown)
    }
}

impl Handler<PeersWithoutBlock> for PeerSetActor {
    type Result = MessageResult<PeersWithoutBlock>;

    fn handle(&mut self, msg: PeersWithoutBlock, _ctx: &mut Self::Context) -> Self::Result {
        let mut peers = Vec::new();
        for entry in &mut self.entries {
            if msg
                .max_version
                .is_some_and(|max| entry.handle.version > max)
                || entry.known_blocks.contains(&msg.hash)
            {
                continue;
            }
            if msg.mark {
                entry.known_blocks.insert(&msg.hash);
            }
            peers.push(entry.handle.clone());
        }
        MessageResult(peers)
    }
}

impl Handler<BroadcastBlockRange> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: BroadcastBlockRange, _ctx: &mut Self::Context) {
        for entry in self
            .entries
            .iter()
            .filter(|e| e.handle.version >= crate::eth::EthVersion::Eth69)
        {
            let message = crate::eth::EthMessage::BlockRangeUpdate(msg.0);
            if entry
                .handle
                .send
                .try_send(crate::peer::SendEth(message))
                .is_err()
            {
                log::debug!(
                    "peer {}: block range update not queued",
                    short(&entry.handle.id)
                );
            }
        }
    }
}

impl Handler<SubscribePeerEvents> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: SubscribePeerEvents, _ctx: &mut Self::Context) {
        self.subscribers.push(msg.0);
    }
}

impl Handler<PeerStopped> for PeerSetActor {
    type Result = ();

    fn handle(&mut self, msg: PeerStopped, _ctx: &mut Self::Context) {
        self.remove(msg.id, Some(msg.reason));
    }
}

impl PeerSetActor {
    fn entry_mut(&mut self, id: &PeerId) -> Option<&mut Entry> {
        let i = *self.index.get(id)?;
        self.entries.get_mut(i)
    }

    fn remove(&mut self, id: PeerId, reason: Option<crate::peer::StopReason>) -> bool {
        let Some(i) = self.index.remove(&id) else {
            return false;
        };
        self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.handle.id, i);
        }
        self.rebuild_snapshot();
        log::debug!(
            "peer {} unregistered ({reason:?}), {} peers",
            short(&id),
            self.entries.len()
        );
        self.publish(PeerEvent::Unregistered { id, reason });
        true
    }

    fn rebuild_snapshot(&mut self) {
        self.snapshot = self.entries.iter().map(|e| e.handle.clone()).collect();
    }

    fn publish(&mut self, event: PeerEvent) {
        // Subscribers that are gone are dropped; live ones always get the event.
        self.subscribers.retain(|s| s.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(event.clone());
        }
    }
}
