//! The sightings table: what the node knows of each recent tx and block hash (first peer,
//! first announcement and delivery, who else sent it, the pool's verdict), shared by the
//! peers' threads and the [`super::observe::PropagationObserver`]. Peers record their own
//! reports here as they decode them (see [`super::lane`]), so a tx's `seen` arrival is
//! decided and written on the thread that decoded it, and an accepted tx's `validated`
//! arrival on the thread that pooled it; the observer reads and completes the same entries
//! for the rest. The table is split into [`SHARDS`] locked LRU maps by
//! hash, so two peer threads rarely wait on each other.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use alloy_primitives::B256;
use lru::LruCache;

use super::arrivals::{
    blob_arrival, ArrivalKind, ArrivalSource, ArrivalTier, BlobArrival, PeerCard, TxArrival,
    Verdict,
};
use crate::peer::{Delivery, PeerId, Seen, SeenItem};
use crate::txs::pool::PoolTx;

/// Hashes whose sightings (first-seen time, first peer, who else) are remembered (LRU),
/// which bounds what [`super::events::NodeEvent::TxIncluded`] can report. A hash forgotten
/// and seen again is reported again. 16,384 is 3.2x geth's whole legacy pool (legacypool
/// `DefaultConfig`: GlobalSlots 4096 + GlobalQueue 1024 = 5,120 txs, our `MAX_POOL_TXS`),
/// so a tx still pending at a geth peer is normally still here; it covers over ten minutes
/// of mainnet's ~20 tx/s. With every one of 50 peers recorded (16 bytes each, plus ~300
/// bytes per hash for the key, first sighting, arrival fields and LRU links) that is about
/// 18 MiB, 22 MiB at the cap.
pub const SEEN_WINDOW: usize = 16_384;

/// Locks the table is split into (by the hash's first byte): 16, so each holds 1,024 of
/// [`SEEN_WINDOW`] and the node's two to four peer threads and the observer seldom meet on
/// one. Hashes are uniform, so each shard's LRU evicts about what a single one would.
pub const SHARDS: usize = 16;

/// The window after a tx's first sighting within which the peers that also delivered or
/// announced it are counted ([`super::events::NodeEvent::TxIncluded`]'s
/// `peers_within_window`): one second, the spread of a tx through a well-connected node's
/// peers (geth announces to every peer within its 500 ms fetch/announce cycle).
pub const SPREAD_WINDOW: Duration = Duration::from_secs(1);

/// Peers recorded per hash at most: enough for every peer of a default node (50).
pub const MAX_SIGHTINGS_PER_HASH: usize = 64;

/// Peers whose Hello and address are kept for arrivals (LRU): 4x the 1,000 peers a wide
/// node holds, so a peer that left is still named in the arrivals it caused.
pub const MAX_PEER_CARDS: usize = 4096;

/// What is remembered of one hash.
#[derive(Debug)]
pub(crate) struct Sighting {
    /// When the first report carrying it was decoded.
    pub first_seen: SystemTime,
    /// Who sent that report.
    pub first_peer: PeerId,
    /// How.
    pub first_delivery: Delivery,
    /// The (peer tag, delivery, microseconds after `first_seen`) sightings already
    /// recorded. A tag is the first 8 bytes of the peer id: enough to tell a node's peers
    /// apart (ids are public keys, spoofing a prefix only hides a peer's own sightings),
    /// 8x smaller than the id. The offset saturates at 71 minutes.
    pub peers: Vec<(u64, Delivery, u32)>,
    /// Distinct peers seen within [`SPREAD_WINDOW`] of `first_seen`.
    pub peers_within_window: u32,
    /// Whether [`super::events::NodeEvent::TxSeen`] went out.
    pub reported: bool,
    /// Whether the first whole delivery was a reply to our request (`PooledTransactions`)
    /// rather than a broadcast (`Transactions`).
    pub delivered_by_reply: bool,
    /// The first announcement by anyone.
    pub first_announced: Option<SystemTime>,
    /// The first delivery of the whole tx by anyone.
    pub first_delivered: Option<SystemTime>,
    /// Distinct peers that announced it within [`SPREAD_WINDOW`] of `first_seen`.
    pub announcers: u32,
    /// Distinct peers that delivered it within [`SPREAD_WINDOW`] of `first_seen`.
    pub deliverers: u32,
    /// The [`ArrivalTier::bit`]s of the arrivals already sent.
    pub tiers_sent: u8,
    /// The tiers a lane wrote into the subscribers' sockets itself, done: a lane writes
    /// `validated` only after a lane wrote `seen` (else it could overtake a `seen` still
    /// on its way through the hub).
    pub lane_written: u8,
    /// The tiers a lane decided and is writing now: `settled` waits for them.
    pub lane_writing: u8,
    /// The pool's verdict, once known.
    pub verdict: Option<Verdict>,
    /// Its EIP-2718 type and blob fields, once pooled.
    pub pooled: Option<(u8, Option<BlobArrival>)>,
    /// The pooled tx, held from its verdict to its `settled` arrival (a second at most),
    /// which carries it to the archive.
    pub tx: Option<Arc<crate::txs::pool::PoolTx>>,
}

impl Sighting {
    fn new(report: &Seen) -> Self {
        Self {
            first_seen: report.at,
            first_peer: report.peer,
            first_delivery: report.delivery,
            peers: Vec::new(),
            peers_within_window: 0,
            reported: false,
            delivered_by_reply: false,
            first_announced: None,
            first_delivered: None,
            announcers: 0,
            deliverers: 0,
            tiers_sent: 0,
            lane_written: 0,
            lane_writing: 0,
            verdict: None,
            pooled: None,
            tx: None,
        }
    }

    /// How the tx was first delivered, as far as known now: a broadcast (announced before
    /// or not), a reply to our request after an announcement, or a reply with no
    /// announcement recorded.
    pub fn kind(&self) -> ArrivalKind {
        match (
            self.first_delivered,
            self.delivered_by_reply,
            self.first_announced,
        ) {
            (None, _, _) => ArrivalKind::Announced,
            (Some(_), false, _) => ArrivalKind::Broadcast,
            (Some(_), true, Some(_)) => ArrivalKind::Fetched,
            (Some(_), true, None) => ArrivalKind::Pooled,
        }
    }

    /// Adds `report`'s sighting: `None` if this peer and delivery were already recorded
    /// (or the hash has [`MAX_SIGHTINGS_PER_HASH`]), else whether it was the first whole
    /// delivery.
    fn add(&mut self, report: &Seen) -> Option<bool> {
        let tag = peer_tag(&report.peer);
        if self
            .peers
            .iter()
            .any(|(t, d, _)| (*t, *d) == (tag, report.delivery))
            || self.peers.len() >= MAX_SIGHTINGS_PER_HASH
        {
            return None;
        }
        let new_peer = !self.peers.iter().any(|(t, _, _)| *t == tag);
        let after = report.at.duration_since(self.first_seen);
        let within = after.as_ref().map_or(true, |after| *after <= SPREAD_WINDOW);
        if new_peer && within {
            self.peers_within_window = self.peers_within_window.saturating_add(1);
        }
        let offset = after.map_or(0, |after| {
            u32::try_from(after.as_micros()).unwrap_or(u32::MAX)
        });
        self.peers.push((tag, report.delivery, offset));
        let (first, count) = match report.delivery {
            Delivery::Announced => (&mut self.first_announced, &mut self.announcers),
            Delivery::Full => (&mut self.first_delivered, &mut self.deliverers),
        };
        if within {
            *count = count.saturating_add(1);
        }
        let first_time = first.is_none();
        if first_time {
            *first = Some(report.at);
        }
        let first_delivery = first_time && report.delivery == Delivery::Full;
        if first_delivery {
            self.delivered_by_reply = report.reply;
        }
        Some(first_delivery)
    }

    /// The arrival of `hash` at `tier` as this sighting tells it, marking the tier sent;
    /// `None` if it was sent already. `cards` names peers; `sources` turns a tag into its
    /// peer and card (the `validated` and `settled` tiers list every sighting).
    pub fn arrival(
        &mut self,
        hash: B256,
        tier: ArrivalTier,
        tx: Option<Arc<crate::txs::pool::PoolTx>>,
        cards: &PeerCards,
        sources: &dyn Fn(u64) -> Option<PeerId>,
    ) -> Option<Arc<TxArrival>> {
        if self.tiers_sent & tier.bit() != 0 {
            return None;
        }
        self.tiers_sent |= tier.bit();
        // The seen tier goes out on the hot path: it lists no sources.
        let (tx, sources) = if tier == ArrivalTier::Seen {
            (tx, Vec::new())
        } else {
            let sources = self
                .peers
                .iter()
                .map(|&(tag, delivery, offset)| {
                    let peer = sources(tag);
                    ArrivalSource {
                        tag,
                        card: peer.and_then(|p| cards.get(&p)),
                        peer,
                        delivery,
                        at: self.first_seen + Duration::from_micros(u64::from(offset)),
                    }
                })
                .collect();
            let tx = if tier == ArrivalTier::Settled {
                self.tx.take()
            } else {
                tx
            };
            (tx, sources)
        };
        Some(Arc::new(TxArrival {
            hash,
            tier,
            peer: self.first_peer,
            peer_card: cards.get(&self.first_peer),
            kind: self.kind(),
            first_announced: self.first_announced,
            first_delivered: self.first_delivered,
            announcers: self.announcers,
            deliverers: self.deliverers,
            verdict: self.verdict.clone(),
            tx,
            tx_type: self.pooled.map(|(ty, _)| ty),
            blob: self.pooled.and_then(|(_, blob)| blob),
            sources,
        }))
    }
}

/// What [`SightingTable::settle_one`] did with a due hash.
#[derive(Debug)]
pub(crate) enum SettleStep {
    /// Its `settled` arrival.
    Built(Arc<TxArrival>),
    /// A lane is writing an earlier tier of it: try again at the next tick.
    Later(SystemTime),
    /// Nothing to send (forgotten, never delivered, sent already, or nobody listens).
    Gone,
}

/// What recording one item of a report found.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recorded {
    /// This peer and delivery were recorded (not a repeat, not past the per-hash cap).
    pub added: bool,
    /// This report is the hash's first sighting by anyone.
    pub first: bool,
    /// The hash's `seen` arrival, when this report was its first whole delivery and
    /// arrivals were wanted.
    pub seen: Option<Arc<TxArrival>>,
}

/// The registered peers' Hello and address, and the ids behind their tags (LRUs of
/// [`MAX_PEER_CARDS`] each).
#[derive(Debug)]
pub struct PeerCards {
    cards: Mutex<LruCache<PeerId, Arc<PeerCard>>>,
    tags: Mutex<LruCache<u64, PeerId>>,
}

impl Default for PeerCards {
    fn default() -> Self {
        let cap = NonZeroUsize::new(MAX_PEER_CARDS).unwrap_or(NonZeroUsize::MIN);
        Self {
            cards: Mutex::new(LruCache::new(cap)),
            tags: Mutex::new(LruCache::new(cap)),
        }
    }
}

impl PeerCards {
    /// Remembers `peer`'s card, and `peer` as the id behind its tag.
    pub fn put(&self, peer: PeerId, card: Arc<PeerCard>) {
        lock(&self.cards).put(peer, card);
        lock(&self.tags).put(peer_tag(&peer), peer);
    }

    /// `peer`'s card, if it registered recently enough.
    pub fn get(&self, peer: &PeerId) -> Option<Arc<PeerCard>> {
        lock(&self.cards).peek(peer).cloned()
    }

    /// The id of the peer behind `tag`, if it registered recently enough.
    pub fn id_of(&self, tag: u64) -> Option<PeerId> {
        lock(&self.tags).peek(&tag).copied()
    }
}

/// The shared table (see the module doc).
#[derive(Debug)]
pub struct SightingTable {
    shards: Vec<Mutex<LruCache<B256, Sighting>>>,
    /// Who the peers are, for arrivals' `peer` fields.
    pub cards: PeerCards,
    /// Tx hashes in order of first sighting while arrivals are wanted, for the observer to
    /// settle a [`SPREAD_WINDOW`] later (at most [`SEEN_WINDOW`], the oldest dropped first). Kept here, not in the
    /// observer, so a report its full mailbox dropped is settled all the same.
    settle: Mutex<VecDeque<(SystemTime, B256)>>,
}

impl Default for SightingTable {
    fn default() -> Self {
        Self::new(SEEN_WINDOW)
    }
}

impl SightingTable {
    /// A table remembering about `capacity` hashes.
    pub fn new(capacity: usize) -> Self {
        let per_shard = NonZeroUsize::new(capacity.div_ceil(SHARDS)).unwrap_or(NonZeroUsize::MIN);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            cards: PeerCards::default(),
            settle: Mutex::default(),
        }
    }

    /// The shard holding `hash`, locked.
    pub(crate) fn shard(&self, hash: &B256) -> MutexGuard<'_, LruCache<B256, Sighting>> {
        lock(&self.shards[usize::from(hash[0]) % SHARDS])
    }

    /// The `validated` arrivals of pooled `txs`, in order: each sighted tx's first verdict
    /// becomes accepted and its arrival is built once, by whichever thread comes first. For
    /// a `lane` (the admitting thread), only of txs whose `seen` a lane wrote, marked as
    /// being written ([`Self::lane_done`] ends that); the observer builds the rest.
    pub(crate) fn admit(&self, txs: &[Arc<PoolTx>], lane: bool) -> Vec<Arc<TxArrival>> {
        let mut arrivals = Vec::new();
        let cards = &self.cards;
        let seen_bit = ArrivalTier::Seen.bit();
        for tx in txs {
            let mut shard = self.shard(&tx.hash);
            let Some(seen) = shard.peek_mut(&tx.hash) else {
                continue;
            };
            if seen.verdict.is_none() {
                seen.verdict = Some(Verdict::Accepted);
                seen.pooled = Some((tx.tx_type, blob_arrival(tx)));
                if seen.tiers_sent & ArrivalTier::Settled.bit() == 0 {
                    seen.tx = Some(tx.clone());
                }
            }
            // A lane writes `validated` only after a lane wrote `seen`, and never after
            // `settled` went (the observer then sends it behind, as it always did).
            let settled = seen.tiers_sent & ArrivalTier::Settled.bit() != 0;
            if lane && (seen.lane_written & seen_bit == 0 || settled) {
                continue;
            }
            let arrival = seen.arrival(
                tx.hash,
                ArrivalTier::Validated,
                Some(tx.clone()),
                cards,
                &|tag| cards.id_of(tag),
            );
            if lane && arrival.is_some() {
                seen.lane_writing |= ArrivalTier::Validated.bit();
            }
            arrivals.extend(arrival);
        }
        arrivals
    }

    /// A lane is done with its `tier` arrivals of `hashes`; `written`: into the subscribers'
    /// sockets (or nobody took the tier), not handed to the hub.
    pub(crate) fn lane_done<'a>(
        &self,
        hashes: impl Iterator<Item = &'a B256>,
        tier: ArrivalTier,
        written: bool,
    ) {
        for hash in hashes {
            if let Some(seen) = self.shard(hash).peek_mut(hash) {
                seen.lane_writing &= !tier.bit();
                if written {
                    seen.lane_written |= tier.bit();
                }
            }
        }
    }

    /// Puts `later` (first sighting, hash; in order) back at the front of the settle queue:
    /// they were due, but a lane was still writing one of their arrivals.
    pub(crate) fn settle_later(&self, later: Vec<(SystemTime, B256)>) {
        let mut settle = lock(&self.settle);
        for entry in later.into_iter().rev() {
            settle.push_front(entry);
        }
        // New hashes came meanwhile: the oldest go first, as in `record`.
        while settle.len() > SEEN_WINDOW {
            settle.pop_front();
        }
    }

    /// One due hash's `settled` step, decided and built under its shard's lock, so no lane
    /// can start writing an earlier tier in between: put back while a lane is writing one
    /// (`Later` with its first sighting), else its arrival if it was delivered and arrivals
    /// are `wanted`.
    pub(crate) fn settle_one(&self, hash: B256, wanted: bool) -> SettleStep {
        let mut shard = self.shard(&hash);
        let Some(sighting) = shard.peek_mut(&hash) else {
            return SettleStep::Gone;
        };
        if sighting.lane_writing != 0 {
            return SettleStep::Later(sighting.first_seen);
        }
        if !(wanted && sighting.first_delivered.is_some()) {
            return SettleStep::Gone;
        }
        let cards = &self.cards;
        match sighting.arrival(hash, ArrivalTier::Settled, None, cards, &|tag| {
            cards.id_of(tag)
        }) {
            Some(arrival) => SettleStep::Built(arrival),
            None => SettleStep::Gone,
        }
    }

    /// Records the items of `report` (`None` for what is left out); `seen_wanted` builds
    /// the `seen` arrival of each tx this report delivers first and queues each new tx to
    /// be settled. A `lane` (a peer's thread) records txs only and marks each `seen` it
    /// builds as being written until its [`Self::lane_done`].
    pub(crate) fn record(
        &self,
        report: &Seen,
        seen_wanted: bool,
        lane: bool,
    ) -> Vec<Option<Recorded>> {
        report
            .items
            .iter()
            .map(|item| match item {
                SeenItem::Tx(hash) => Some(self.record_one(*hash, true, report, seen_wanted, lane)),
                SeenItem::Block { .. } if lane => None,
                SeenItem::Block { .. } => Some(self.record_item(report, item, false)),
            })
            .collect()
    }

    /// Records one item of `report` for the observer (see [`Self::record`]).
    pub(crate) fn record_item(
        &self,
        report: &Seen,
        item: &SeenItem,
        seen_wanted: bool,
    ) -> Recorded {
        match item {
            SeenItem::Tx(hash) => self.record_one(*hash, true, report, seen_wanted, false),
            SeenItem::Block { hash, .. } => self.record_one(*hash, false, report, false, false),
        }
    }

    fn record_one(
        &self,
        hash: B256,
        tx: bool,
        report: &Seen,
        seen_wanted: bool,
        lane: bool,
    ) -> Recorded {
        let mut shard = self.shard(&hash);
        let new = !shard.contains(&hash);
        let sighting = shard.get_or_insert_mut(hash, || Sighting::new(report));
        let added = sighting.add(report);
        let first = sighting.peers.len() == 1;
        let seen = (tx && added == Some(true) && seen_wanted)
            .then(|| sighting.arrival(hash, ArrivalTier::Seen, None, &self.cards, &|_| None))
            .flatten();
        if lane && seen.is_some() {
            sighting.lane_writing |= ArrivalTier::Seen.bit();
        }
        drop(shard);
        if new && tx && seen_wanted {
            let mut settle = lock(&self.settle);
            while settle.len() >= SEEN_WINDOW {
                settle.pop_front();
            }
            settle.push_back((report.at, hash));
        }
        Recorded {
            added: added.is_some(),
            first: added.is_some() && first,
            seen,
        }
    }

    /// The txs first sighted a [`SPREAD_WINDOW`] or more before `now`, in order, taken off
    /// the settling queue.
    pub(crate) fn due(&self, now: SystemTime) -> Vec<B256> {
        let mut settle = lock(&self.settle);
        let mut due = Vec::new();
        while let Some(&(first_seen, hash)) = settle.front() {
            if !now
                .duration_since(first_seen)
                .is_ok_and(|age| age >= SPREAD_WINDOW)
            {
                break;
            }
            settle.pop_front();
            due.push(hash);
        }
        due
    }
}

/// A peer's tag: the first 8 bytes of its id.
pub(crate) fn peer_tag(peer: &PeerId) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&peer[..8]);
    u64::from_be_bytes(prefix)
}

/// Locks `mutex`, taking it over if a holder panicked: every write to these maps is one
/// insert or field update, so a poisoned one is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
