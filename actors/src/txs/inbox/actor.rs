//! [`TxInbox`]: where peers' txs and announcements arrive; its fetch rules are geth's
//! `eth/fetcher/tx_fetcher.go` reduced to their core, as an actor.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::B256;

use crate::eth::cells::{self, CustodyBitmap};
use crate::eth::SampledCells;
use crate::eth::{EthMessage, GetPooledTransactions, PooledTx};
use crate::p2p::DisconnectReason;
use crate::peer::{
    short, Disconnect, GateReason, InboundEth, InboundTicket, PeerClient, PeerId, ReadGate,
};
use crate::peer_set::MarkTxs;
use crate::txs::ingest::IngestTxs;
use crate::txs::pool::validate::TxValidationError;
use crate::txs::pool::{PoolError, TxPool};

use super::cells::{BlobFetchPolicy, PendingCells};

/// How long an announced hash waits before it is fetched (geth `txArriveTimeout`, 500 ms).
pub const DEFAULT_ARRIVAL_WAIT: Duration = Duration::from_millis(500);
pub use crate::eth::{MAX_TX_RETRIEVALS, MAX_TX_RETRIEVAL_SIZE};
/// Announced hashes a peer may have outstanding (geth `maxTxAnnounces`, 4096); more are
/// ignored and counted.
pub const MAX_TX_ANNOUNCES: usize = 4096;
/// How far a delivered tx's size may be from the announced one (geth: 8 bytes).
pub const MAX_SIZE_DEVIATION: u64 = 8;
/// How long a peer that announced past [`MAX_TX_ANNOUNCES`] is not read. geth only drops
/// the excess; we also pause the sender for geth's fetcher slow-down (200 ms, as for a
/// mostly refused batch), so a flood costs the flooder time instead of our CPU.
pub const ANNOUNCE_FLOOD_PAUSE: Duration = Duration::from_millis(200);
/// How often what peers that left had announced is forgotten.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(30);

/// Where the fetcher reaches out.
#[derive(Clone)]
pub struct TxInboxLinks {
    /// Mark txs known for the peer that sent or announced them.
    pub mark: Recipient<MarkTxs>,
    /// Where delivered txs are verified and pooled ([`crate::txs::ingest::TxIngest`]).
    pub ingest: Recipient<IngestTxs>,
}

/// What reaches one announcing peer, shared by every hash of one of its messages: a
/// hash waiting to be fetched costs its announcer's id and metadata, not copies of these
/// handles (each actix `Recipient` clone allocates; copied per hash they made 1.1 KB per
/// outstanding hash, 4.5 MiB for a peer at its 4,096).
pub(super) struct AnnouncerLinks {
    /// Typed requests to the announcer (GetPooledTransactions, GetCells).
    pub(super) client: PeerClient,
    pub(super) disconnect: Recipient<Disconnect>,
    pub(super) gate: ReadGate,
}

/// One announcer of a hash.
#[derive(Clone)]
pub(super) struct Announcer {
    pub(super) peer: PeerId,
    pub(super) links: Arc<AnnouncerLinks>,
    /// eth/68 metadata: (type, size).
    meta: Option<(u8, u64)>,
    /// eth/72: the columns the announcer holds.
    pub(super) mask: Option<CustodyBitmap>,
}

/// Fetches announced transactions.
pub struct TxInbox {
    /// Where a hash is looked up before it is fetched (already pooled: not wanted).
    pool: Arc<dyn TxPool>,
    links: TxInboxLinks,
    arrival_wait: Duration,
    /// Announcers per hash still wanted.
    pub(super) wanted: HashMap<B256, Vec<Announcer>>,
    /// Hashes ready to fetch (their wait is over).
    ready: HashSet<B256>,
    /// The same hashes per announcer, in announcement order, so that one sender's txs are
    /// requested, and handed to the pool, in nonce order. Entries may be stale (fetched,
    /// forgotten, or claimed through another announcer) and are dropped when reached, so
    /// scheduling costs what it requests, not what waits.
    ready_by_peer: HashMap<PeerId, VecDeque<B256>>,
    /// The peers of `ready_by_peer` in the order their queues began: the first announcer
    /// of a hash is asked first when it is idle.
    ready_peers: Vec<PeerId>,
    /// Peers with a request in flight.
    busy: HashSet<PeerId>,
    /// What each peer's actor asked its peer for by itself (`peer::prefetch`), until the
    /// answer comes: at most one per peer, the actor's own limit.
    prefetches: HashMap<PeerId, Vec<B256>>,
    /// Outstanding announced hashes per peer.
    outstanding: HashMap<PeerId, usize>,
    /// Announcements ignored because a peer had too many outstanding.
    pub(crate) ignored: u64,
    /// eth/72 blob txs received without blobs, until their cells arrive and verify.
    pub(super) cells_pending: HashMap<B256, PendingCells>,
    /// Whole fetch or sampling, and the columns sampled (EIP-8070).
    pub(super) blob_policy: BlobFetchPolicy,
    /// Blob txs fetched whole and sampled so far (in that order).
    pub(super) blob_fetches: (u64, u64),
}

impl TxInbox {
    /// A fetcher adding to `pool`, waiting `arrival_wait` after announcements (0 allowed).
    pub fn new(pool: Arc<dyn TxPool>, links: TxInboxLinks, arrival_wait: Duration) -> Self {
        Self {
            pool,
            links,
            arrival_wait,
            wanted: HashMap::new(),
            ready: HashSet::new(),
            ready_by_peer: HashMap::new(),
            ready_peers: Vec::new(),
            busy: HashSet::new(),
            prefetches: HashMap::new(),
            outstanding: HashMap::new(),
            ignored: 0,
            cells_pending: HashMap::new(),
            blob_policy: BlobFetchPolicy::default(),
            blob_fetches: (0, 0),
        }
    }

    /// The same fetcher deciding blob fetches by `policy` (default: every column, so every
    /// blob tx whole, as geth without a consensus client).
    pub fn with_blob_policy(mut self, policy: BlobFetchPolicy) -> Self {
        self.blob_policy = policy;
        self
    }
}

impl Actor for TxInbox {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, because it is bounded upstream per peer: every message here is one
        // peer's broadcast or announcement carrying its `InboundTicket`, at most
        // `MAX_INBOUND_IN_FLIGHT` (16) per peer before that peer's socket stops being read.
        // Peers send with `do_send`, which ignores a capacity anyway.
        ctx.set_mailbox_capacity(0);
        ctx.run_interval(PRUNE_INTERVAL, |act, _| act.prune());
    }
}

/// Query: what the fetcher is tracking right now.
#[derive(Debug, Message)]
#[rtype(result = "InboxStats")]
pub struct GetInboxStats;

/// What [`GetInboxStats`] answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboxStats {
    /// Announced hashes still wanted.
    pub wanted: usize,
    /// Peers with announcements outstanding.
    pub announcers: usize,
    /// Peers with a request in flight.
    pub busy: usize,
    /// Announcements ignored because their peer had [`MAX_TX_ANNOUNCES`] outstanding.
    pub ignored: u64,
    /// Blob txs waiting for their cells.
    pub pending_cells: usize,
    /// Blob txs fetched whole (all data columns), so far.
    pub blobs_whole: u64,
    /// Blob txs sampled (custody columns only), so far.
    pub blobs_sampled: u64,
}

impl Handler<GetInboxStats> for TxInbox {
    type Result = MessageResult<GetInboxStats>;

    fn handle(&mut self, _: GetInboxStats, _: &mut Self::Context) -> Self::Result {
        MessageResult(InboxStats {
            wanted: self.wanted.len(),
            announcers: self.outstanding.len(),
            busy: self.busy.len(),
            ignored: self.ignored,
            pending_cells: self.cells_pending.len(),
            blobs_whole: self.blob_fetches.0,
            blobs_sampled: self.blob_fetches.1,
        })
    }
}

/// A fetch's answer ([`TxInbox::fetched`]).
#[derive(Message)]
#[rtype(result = "()")]
struct Fetched {
    who: Announcer,
    hashes: Vec<B256>,
    delivered: Vec<PooledTx>,
}

impl Handler<Fetched> for TxInbox {
    type Result = ();

    fn handle(&mut self, msg: Fetched, ctx: &mut Context<Self>) {
        self.fetched(msg, ctx);
    }
}

/// What the ingest path made of a delivery.
#[derive(Message)]
#[rtype(result = "()")]
struct Ingested {
    peer: PeerId,
    disconnect: Recipient<Disconnect>,
    hashes: Vec<B256>,
    outcomes: Vec<Result<B256, PoolError>>,
}

impl Handler<Ingested> for TxInbox {
    type Result = ();

    fn handle(&mut self, msg: Ingested, ctx: &mut Context<Self>) {
        self.ingested(msg.peer, &msg.disconnect, &msg.hashes, msg.outcomes);
        // A refused blob sidecar made its hash ready again: ask another announcer.
        self.schedule(ctx);
    }
}

impl Handler<InboundEth> for TxInbox {
    type Result = ();

    fn handle(&mut self, msg: InboundEth, ctx: &mut Self::Context) {
        if matches!(msg.message, EthMessage::PooledTransactions(_)) {
            self.prefetch_answered(msg, ctx);
            return;
        }
        let announced = match &msg.message {
            EthMessage::Transactions(txs) => {
                let pooled: Vec<PooledTx> = txs
                    .0
                    .iter()
                    .filter_map(|tx| PooledTx::try_from(tx.clone()).ok())
                    .collect();
                let who = announcer_of(&msg, &links_of(&msg), None, None);
                self.deliver(&who, pooled, Some(&msg.ticket), HashMap::new(), ctx);
                return;
            }
            message => match announcements(&msg, message) {
                Some(announced) => announced,
                None => return,
            },
        };
        self.links.mark.do_send(MarkTxs {
            peer: msg.peer.id,
            hashes: announced.iter().map(|(h, _)| *h).collect(),
            ticket: Some(msg.ticket.share()),
        });
        let mut fresh = Vec::new();
        let mut flooded = false;
        for (hash, who) in announced {
            if self.pool.get(&hash).is_some() {
                continue;
            }
            if self.cells_pending.contains_key(&hash) {
                // We hold the tx already: one more peer that may serve its cells.
                self.add_cell_source(hash, who, ctx);
                continue;
            }
            let count = self.outstanding.entry(who.peer).or_default();
            if *count >= MAX_TX_ANNOUNCES {
                self.ignored += 1;
                flooded = true;
                continue;
            }
            *count += 1;
            let entry = self.wanted.entry(hash).or_default();
            if entry.is_empty() {
                fresh.push(hash);
            }
            entry.push(who);
        }
        if flooded && !msg.gate.is_held_by(GateReason::AnnounceFlood) {
            log::debug!("peer {}: announced past its limit", short(&msg.peer.id));
            msg.gate.close(GateReason::AnnounceFlood);
            let gate = msg.gate.clone();
            ctx.run_later(ANNOUNCE_FLOOD_PAUSE, move |_, _| {
                gate.open(GateReason::AnnounceFlood)
            });
        }
        if !msg.prefetched.is_empty() {
            // Asked for already by the peer's own actor: not ready here until its answer
            // (or its failure) comes.
            let asked: HashSet<B256> = msg.prefetched.iter().copied().collect();
            fresh.retain(|hash| !asked.contains(hash));
            if let Some(earlier) = self.prefetches.insert(msg.peer.id, msg.prefetched) {
                // Only a peer id reused by a new session gets here (an actor has one
                // prefetch in flight): the earlier hashes are asked of anyone again.
                earlier.into_iter().for_each(|hash| self.mark_ready(hash));
            }
        }
        self.fetch_after_wait(fresh, ctx);
    }
}

impl TxInbox {
    /// Makes newly wanted `fresh` hashes ready once the arrival wait is over.
    fn fetch_after_wait(&mut self, fresh: Vec<B256>, ctx: &mut Context<Self>) {
        if fresh.is_empty() {
            return;
        }
        if self.arrival_wait.is_zero() {
            // No wait: fetch now. A zero-length timer would still wait for the timer
            // wheel's next millisecond tick.
            for hash in fresh {
                self.mark_ready(hash);
            }
            self.schedule(ctx);
            return;
        }
        ctx.run_later(self.arrival_wait, move |act, ctx| {
            for hash in fresh {
                act.mark_ready(hash);
            }
            act.schedule(ctx);
        });
    }
}

/// One request's worth of hashes for an announcer: the announcer, the hashes, their
/// announced size in all.
type Batch = (Announcer, Vec<B256>, u64);

/// Gives a table's unused room back when it is at most a quarter full.
fn shrink_if_sparse<T: ShrinkTable>(table: &mut T) {
    if table.room() > 64 && table.items() * 4 <= table.room() {
        table.shrink();
    }
}

/// The tables [`shrink_if_sparse`] looks after.
trait ShrinkTable {
    fn items(&self) -> usize;
    fn room(&self) -> usize;
    fn shrink(&mut self);
}

impl<K: std::hash::Hash + Eq, V> ShrinkTable for HashMap<K, V> {
    fn items(&self) -> usize {
        self.len()
    }
    fn room(&self) -> usize {
        self.capacity()
    }
    fn shrink(&mut self) {
        self.shrink_to_fit();
    }
}

impl<K: std::hash::Hash + Eq> ShrinkTable for HashSet<K> {
    fn items(&self) -> usize {
        self.len()
    }
    fn room(&self) -> usize {
        self.capacity()
    }
    fn shrink(&mut self) {
        self.shrink_to_fit();
    }
}

/// The handles of `msg`'s sender, once per message.
fn links_of(msg: &InboundEth) -> Arc<AnnouncerLinks> {
    Arc::new(AnnouncerLinks {
        client: msg.peer.client(),
        disconnect: msg.peer.disconnect.clone(),
        gate: msg.gate.clone(),
    })
}

/// The sender of `msg` (its `links`) as the announcer of a hash, with eth/68 metadata and
/// eth/72 mask.
fn announcer_of(
    msg: &InboundEth,
    links: &Arc<AnnouncerLinks>,
    meta: Option<(u8, u64)>,
    mask: Option<CustodyBitmap>,
) -> Announcer {
    Announcer {
        peer: msg.peer.id,
        links: links.clone(),
        meta,
        mask,
    }
}

/// The hashes an announcement (any version) names, each with its announcer; `None` for
/// other messages.
fn announcements(msg: &InboundEth, message: &EthMessage) -> Option<Vec<(B256, Announcer)>> {
    let links = links_of(msg);
    Some(match message {
        EthMessage::NewPooledTransactionHashes66(ann) => ann
            .0
            .iter()
            .map(|h| (*h, announcer_of(msg, &links, None, None)))
            .collect(),
        EthMessage::NewPooledTransactionHashes68(ann) => ann
            .iter()
            .map(|(t, s, h)| (*h, announcer_of(msg, &links, Some((t, s)), None)))
            .collect(),
        EthMessage::NewPooledTransactionHashes72(ann) => ann
            .types
            .iter()
            .zip(&ann.sizes)
            .zip(&ann.hashes)
            .map(|((t, s), h)| {
                (
                    *h,
                    announcer_of(msg, &links, Some((*t, *s)), Some(ann.mask)),
                )
            })
            .collect(),
        _ => return None,
    })
}

impl TxInbox {
    /// Starts one request per idle announcer for the ready hashes it announced.
    pub(super) fn schedule(&mut self, ctx: &mut Context<Self>) {
        // A peer whose actor is prefetching counts as busy too: one request at a time per
        // peer keeps a sender's txs reaching the pool in nonce order.
        let idle: Vec<PeerId> = self
            .ready_peers
            .iter()
            .filter(|peer| !self.busy.contains(*peer) && !self.prefetches.contains_key(*peer))
            .copied()
            .collect();
        let mut batches: Vec<(PeerId, Batch)> = Vec::new();
        for peer in idle {
            if let Some(batch) = self.take_batch(&peer) {
                batches.push((peer, batch));
            }
        }
        for (peer, (who, hashes, _)) in batches {
            self.busy.insert(peer);
            let fut = who
                .links
                .client
                .request(GetPooledTransactions(hashes.clone()));
            // Awaited as a task of the arbiter, not inside the actor's context: actix polls
            // every future spawned into a context on each of its wakeups, so hundreds of
            // requests in flight made each message cost hundreds of polls.
            let me = ctx.address();
            actix_rt::spawn(async move {
                let delivered = fut.await.unwrap_or_default();
                me.do_send(Fetched {
                    who,
                    hashes,
                    delivered,
                });
            });
        }
    }

    /// Claims the next ready hashes `peer` announced, up to [`MAX_TX_RETRIEVALS`] and
    /// [`MAX_TX_RETRIEVAL_SIZE`] (by announced sizes), dropping stale entries on the way.
    fn take_batch(&mut self, peer: &PeerId) -> Option<Batch> {
        let queue = self.ready_by_peer.get_mut(peer)?;
        let mut batch: Option<Batch> = None;
        while let Some(hash) = queue.front().copied() {
            let announcer = self
                .wanted
                .get(&hash)
                .and_then(|all| all.iter().find(|a| a.peer == *peer))
                .filter(|_| self.ready.contains(&hash));
            let Some(announcer) = announcer else {
                queue.pop_front();
                continue;
            };
            let size = announcer.meta.map_or(0, |(_, s)| s);
            if let Some((_, hashes, total)) = &batch {
                // Announced sizes are wire values: add without overflow.
                if hashes.len() >= MAX_TX_RETRIEVALS
                    || total.saturating_add(size) > MAX_TX_RETRIEVAL_SIZE
                {
                    break;
                }
            }
            let (_, hashes, total) =
                batch.get_or_insert_with(|| (announcer.clone(), Vec::new(), 0));
            hashes.push(hash);
            *total = total.saturating_add(size);
            queue.pop_front();
            self.ready.remove(&hash);
        }
        if queue.is_empty() {
            self.ready_by_peer.remove(peer);
            self.ready_peers.retain(|p| p != peer);
        }
        batch
    }

    /// A fetch came back (or failed): deliver what came, ask others for the rest.
    fn fetched(&mut self, msg: Fetched, ctx: &mut Context<Self>) {
        let Fetched {
            who,
            hashes,
            delivered,
        } = msg;
        self.busy.remove(&who.peer);
        self.settle(who, hashes, delivered, ctx);
    }

    /// The answer to a prefetch (`peer::prefetch`), naming the hashes it answers: empty
    /// when the request failed. Only a peer actor sends these, after the announcement that
    /// named the same hashes.
    fn prefetch_answered(&mut self, msg: InboundEth, ctx: &mut Context<Self>) {
        let who = announcer_of(&msg, &links_of(&msg), None, None);
        let EthMessage::PooledTransactions(reply) = msg.message else {
            return;
        };
        if msg.prefetched.is_empty() {
            return;
        }
        // Matched by the hashes as well as the peer: a late answer to an earlier session
        // of the same peer id settles its own hashes and leaves the current prefetch be.
        if self.prefetches.get(&who.peer) == Some(&msg.prefetched) {
            self.prefetches.remove(&who.peer);
        }
        self.settle(who, msg.prefetched, reply.message.0, ctx);
    }

    /// What one request to `who` for `hashes` brought: deliver it, ask the other
    /// announcers for the rest.
    fn settle(
        &mut self,
        who: Announcer,
        hashes: Vec<B256>,
        delivered: Vec<PooledTx>,
        ctx: &mut Context<Self>,
    ) {
        let peer = who.peer;
        // Timeout or gone: try the others.
        let mut got: HashSet<B256> = delivered.iter().map(|tx| *tx.hash()).collect();
        if !self.check_and_deliver(&who, delivered, ctx) {
            // Refused whole (its sender is dropped): the others are asked for all of it.
            got.clear();
        }
        // Hashes this peer did not deliver: drop it as their announcer, retry elsewhere.
        for hash in hashes {
            self.forget_announcer(&hash, &peer);
            if !got.contains(&hash) {
                self.mark_ready(hash);
            }
        }
        self.schedule(ctx);
    }

    /// Checks deliveries against what `who` announced (eth/68: type equal, size within 8
    /// bytes; geth drops the peer otherwise), then adds them to the pool. False when they
    /// were refused (none delivered, the peer disconnected).
    fn check_and_deliver(
        &mut self,
        who: &Announcer,
        txs: Vec<PooledTx>,
        ctx: &mut Context<Self>,
    ) -> bool {
        for tx in &txs {
            let Some(announcers) = self.wanted.get(tx.hash()) else {
                continue;
            };
            let Some(meta) = announcers
                .iter()
                .find(|a| a.peer == who.peer)
                .and_then(|a| a.meta)
            else {
                continue;
            };
            let size = tx.encode_2718_len() as u64;
            if meta.0 != tx.ty() || meta.1.abs_diff(size) > MAX_SIZE_DEVIATION {
                log::debug!(
                    "peer {}: delivered tx {} differs from its announcement",
                    short(&who.peer),
                    tx.hash()
                );
                who.links.disconnect.do_send(Disconnect {
                    reason: DisconnectReason::SubprotocolSpecific,
                });
                return false;
            }
        }
        let (blobless, txs): (Vec<PooledTx>, Vec<PooledTx>) =
            txs.into_iter().partition(cells::is_blobless);
        for tx in blobless {
            self.await_cells(who, tx, ctx);
        }
        self.deliver(who, txs, None, HashMap::new(), ctx);
        true
    }

    /// Hands txs from `who` to the ingest path (verification on worker threads, then the
    /// pool). A blob tx with a bad sidecar gets its sender disconnected; the hash stays
    /// wanted so another announcer is asked. `ticket` is the broadcast's, if it was one:
    /// it keeps counting against the sender until the marks and txs are taken.
    pub(super) fn deliver(
        &mut self,
        who: &Announcer,
        txs: Vec<PooledTx>,
        ticket: Option<&InboundTicket>,
        cells: HashMap<B256, SampledCells>,
        ctx: &mut Context<Self>,
    ) {
        if txs.is_empty() {
            return;
        }
        let hashes: Vec<B256> = txs.iter().map(|tx| *tx.hash()).collect();
        self.links.mark.do_send(MarkTxs {
            peer: who.peer,
            hashes: hashes.clone(),
            ticket: ticket.map(InboundTicket::share),
        });
        let ingest = self.links.ingest.send(IngestTxs {
            peer: who.peer,
            txs,
            gate: who.links.gate.clone(),
            disconnect: who.links.disconnect.clone(),
            ticket: ticket.map(InboundTicket::share),
            cells,
        });
        let (peer, disconnect) = (who.peer, who.links.disconnect.clone());
        // A task of the arbiter, not a future of the context (see `schedule`): at
        // 20,000 tx/s thousands of deliveries wait on the ingest path at once.
        let me = ctx.address();
        actix_rt::spawn(async move {
            // The ingest actor is gone only when the system stops.
            let outcomes = ingest.await.unwrap_or_default();
            me.do_send(Ingested {
                peer,
                disconnect,
                hashes,
                outcomes,
            });
        });
    }

    /// What the pool made of delivered txs.
    fn ingested(
        &mut self,
        peer: PeerId,
        disconnect: &Recipient<Disconnect>,
        hashes: &[B256],
        outcomes: Vec<Result<B256, PoolError>>,
    ) {
        for (hash, result) in hashes.iter().zip(outcomes) {
            match result {
                Err(PoolError::Invalid(
                    TxValidationError::CommitmentMismatch { .. }
                    | TxValidationError::SidecarShape { .. }
                    | TxValidationError::BlobCount { .. }
                    | TxValidationError::InvalidKzgProof { .. },
                )) => {
                    log::debug!("peer {}: blob tx {hash} with a bad sidecar", short(&peer));
                    disconnect.do_send(Disconnect {
                        reason: DisconnectReason::SubprotocolSpecific,
                    });
                    self.forget_announcer(hash, &peer);
                    self.mark_ready(*hash);
                }
                // Accepted or refused for good: nobody needs to fetch it again.
                _ => self.forget_hash(hash),
            }
        }
    }

    /// Forgets peers that left: their announcements and their outstanding counts.
    fn prune(&mut self) {
        let gone: HashSet<PeerId> = self
            .wanted
            .values()
            .flatten()
            .filter(|a| !a.links.disconnect.connected())
            .map(|a| a.peer)
            .collect();
        let hashes: Vec<B256> = self.wanted.keys().copied().collect();
        for hash in hashes {
            for peer in &gone {
                self.forget_announcer(&hash, peer);
            }
        }
        self.outstanding
            .retain(|peer, count| *count > 0 && !gone.contains(peer));
        self.ready_by_peer.retain(|peer, _| !gone.contains(peer));
        self.ready_peers.retain(|peer| !gone.contains(peer));
        // A gone peer's actor forwards its prefetch's (empty) answer as it stops; this
        // only bounds the map should that answer be lost.
        self.prefetches.retain(|peer, _| !gone.contains(peer));
        // A burst of announcements (4,096 per peer at most) grows these tables; hashbrown
        // never gives the room back by itself, so a calm inbox returns what it no longer
        // uses (measured: 0.5 MiB per peer kept after one burst from every peer).
        shrink_if_sparse(&mut self.wanted);
        shrink_if_sparse(&mut self.ready);
        shrink_if_sparse(&mut self.outstanding);
    }

    /// Stops wanting `hash`: its announcers' counts are released, and an announcement
    /// after this one starts a fetch anew.
    pub(super) fn forget_hash(&mut self, hash: &B256) {
        if let Some(announcers) = self.wanted.remove(hash) {
            for a in announcers {
                self.release(&a.peer);
            }
        }
        self.ready.remove(hash);
    }

    /// Queues `hash` for fetching if it is still wanted.
    pub(super) fn mark_ready(&mut self, hash: B256) {
        let Some(announcers) = self.wanted.get(&hash) else {
            return;
        };
        if self.ready.insert(hash) {
            for announcer in announcers {
                let queue = self.ready_by_peer.entry(announcer.peer).or_insert_with(|| {
                    self.ready_peers.push(announcer.peer);
                    VecDeque::new()
                });
                queue.push_back(hash);
            }
        }
    }

    pub(super) fn forget_announcer(&mut self, hash: &B256, peer: &PeerId) {
        let Some(announcers) = self.wanted.get_mut(hash) else {
            return;
        };
        let before = announcers.len();
        announcers.retain(|a| a.peer != *peer);
        let (removed, empty) = (announcers.len() < before, announcers.is_empty());
        if removed {
            self.release(peer);
        }
        if empty {
            self.wanted.remove(hash);
            self.ready.remove(hash);
        }
    }

    fn release(&mut self, peer: &PeerId) {
        if let Some(count) = self.outstanding.get_mut(peer) {
            *count = count.saturating_sub(1);
        }
    }
}
