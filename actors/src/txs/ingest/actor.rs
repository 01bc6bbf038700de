//! [`TxIngest`]: per-peer queues in front of the verifier threads (see the module doc).

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::B256;
use futures::channel::oneshot;
use lru::LruCache;

use super::verifier::VerifiedTxs;
use super::VerifyTxs;
use crate::eth::{PooledTx, SampledCells};
use crate::p2p::DisconnectReason;
use crate::peer::{short, Disconnect, GateReason, InboundTicket, PeerId, ReadGate};
use crate::txs::pool::validate::TxValidationError;
use crate::txs::pool::{PoolError, TxPool, ValidatingTxPool};

/// Transactions verified per batch: one batch per peer is in flight at a time, so this
/// bounds how long one peer holds a worker (64 recoveries, about 2 ms here; geth adds
/// fetched txs to its pool in batches of 128, `addTxsBatchSize`).
pub const INGEST_BATCH: usize = 64;

/// Transactions of one peer waiting for verification before its socket stops being read
/// (geth lets a peer have 4096 announced hashes outstanding, `maxTxAnnounces`). Reading
/// resumes below half of it; a peer whose in-flight messages push it past twice this loses
/// the excess ([`PoolError::Busy`]).
pub const MAX_QUEUED_PER_PEER: usize = 4096;

/// Hashes remembered as rejected, answered without verifying again (geth's tx fetcher keeps
/// 32,768 underpriced hashes, `maxTxUnderpricedSetSize`).
pub const RECENTLY_REJECTED: usize = 32_768;

/// How long a peer whose batch was mostly refused is not read (geth's fetcher sleeps
/// 200 ms when more than a quarter of a batch fails for reasons other than "known" or
/// "underpriced").
pub const SLOW_DOWN: Duration = Duration::from_millis(200);

/// Transactions no honest node relays (bad signature, another chain, below intrinsic gas,
/// tip above cap, oversized init code) a peer may send before it is disconnected (reth
/// charges -16 units per bad transaction and bans at -50: the fourth).
pub const BAD_TXS_BEFORE_DISCONNECT: u32 = 4;

/// How often state of peers that left is dropped.
const PRUNE_INTERVAL: Duration = Duration::from_secs(30);

/// Command: verify and pool transactions `peer` sent; answers each one's outcome, in order.
#[derive(Message)]
#[rtype(result = "Vec<Result<B256, PoolError>>")]
pub struct IngestTxs {
    /// The sender.
    pub peer: PeerId,
    /// Its transactions, in the order it sent them.
    pub txs: Vec<PooledTx>,
    /// Its socket's read gate (closed while its queue is full or it is slowed).
    pub gate: ReadGate,
    /// Disconnects it.
    pub disconnect: Recipient<Disconnect>,
    /// The peer's inbound message these came from, counted until it is queued here
    /// (`None` for replies to our own requests, which the fetcher bounds).
    pub ticket: Option<InboundTicket>,
    /// The verified cells of sampled blob txs among `txs` (sent without blobs), by hash:
    /// the fetcher's, which checked them (EIP-8070 sampler role). Empty otherwise.
    pub cells: HashMap<B256, SampledCells>,
}

/// What the ingest path did, summed over peers (never decreasing).
#[derive(Debug, Default)]
pub struct IngestMetrics {
    /// Transactions answered as known (pooled, in flight, or twice in one message) without
    /// verification.
    pub skipped_known: AtomicU64,
    /// Transactions answered as recently rejected without verification.
    pub skipped_rejected: AtomicU64,
    /// Transactions dropped because their sender's queue was over twice its bound.
    pub dropped_backlog: AtomicU64,
    /// Transactions verified on the worker threads.
    pub verified: AtomicU64,
    /// Times a peer was slowed.
    pub slowed: AtomicU64,
    /// Peers disconnected for bad transactions.
    pub disconnected: AtomicU64,
}

impl IngestMetrics {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// One IngestTxs message being worked through.
struct Submission {
    /// Not yet sent to a verifier: (index in the message, tx).
    txs: VecDeque<(usize, PooledTx)>,
    results: Vec<Option<Result<B256, PoolError>>>,
    /// Results still to come.
    missing: usize,
    reply: oneshot::Sender<Vec<Result<B256, PoolError>>>,
}

impl Submission {
    fn finish(self) {
        let results = self
            .results
            .into_iter()
            .map(|r| r.unwrap_or(Err(PoolError::Busy)))
            .collect();
        let _ = self.reply.send(results);
    }
}

/// One peer's place in the ingest path.
struct PeerIngest {
    submissions: VecDeque<Submission>,
    /// Transactions waiting (not yet at a verifier).
    queued: usize,
    /// A batch of it is at a verifier.
    busy: bool,
    /// Slowed until a timer lifts it.
    slowed: bool,
    gate: ReadGate,
    disconnect: Recipient<Disconnect>,
    /// Transactions it sent that no honest node relays.
    bad: u32,
}

/// Event: transactions a peer sent were refused, each with the reason, in the order they
/// were looked at. "Already known" is no refusal and is left out, as are hashes answered
/// from the recently-rejected set without a second look (their first refusal was told).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct TxsRejected {
    /// Who sent them.
    pub peer: PeerId,
    /// Each refused hash and why.
    pub txs: Arc<[(B256, PoolError)]>,
}

/// Per-peer queues, duplicate and rejection filters, and the dispatch to the verifiers.
pub struct TxIngest {
    pool: Arc<ValidatingTxPool>,
    verifier: Recipient<VerifyTxs>,
    peers: HashMap<PeerId, PeerIngest>,
    /// Peers with queued transactions, no batch in flight and not slowed, in turn order.
    turn: VecDeque<PeerId>,
    /// Hashes queued or at a verifier.
    in_flight: HashSet<B256>,
    /// Cells of the sampled txs among them, until they are pooled or dropped (one entry
    /// per hash in `in_flight` at most, so bounded as the per-peer queues are).
    cells: HashMap<B256, SampledCells>,
    rejected: LruCache<B256, ()>,
    /// Batches at the verifiers, at most `max_batches`.
    batches: usize,
    max_batches: usize,
    metrics: Arc<IngestMetrics>,
    /// Told of each batch's refusals (offered with `try_send`: a full observer loses them).
    rejections: Option<Recipient<TxsRejected>>,
}

impl TxIngest {
    /// An ingest path adding to `pool` through `verifier` threads, keeping `workers` of them
    /// busy (two batches each, so a thread never waits for the next).
    pub fn new(
        pool: Arc<ValidatingTxPool>,
        verifier: Recipient<VerifyTxs>,
        workers: usize,
    ) -> Self {
        Self {
            pool,
            verifier,
            peers: HashMap::new(),
            turn: VecDeque::new(),
            in_flight: HashSet::new(),
            cells: HashMap::new(),
            rejected: LruCache::new(NonZeroUsize::MIN.saturating_add(RECENTLY_REJECTED - 1)),
            batches: 0,
            max_batches: workers.max(1) * 2,
            metrics: Arc::default(),
            rejections: None,
        }
    }

    /// Tells `to` of every batch's refusals ([`TxsRejected`]).
    #[must_use]
    pub fn with_rejections(mut self, to: Recipient<TxsRejected>) -> Self {
        self.rejections = Some(to);
        self
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<IngestMetrics> {
        self.metrics.clone()
    }
}

impl Actor for TxIngest {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, because it is bounded upstream per peer: a broadcast waits here with
        // its sender's `InboundTicket` (at most `MAX_INBOUND_IN_FLIGHT` per peer, then the
        // socket is not read), and fetched txs come from the fetcher's one request in
        // flight per peer. So the mailbox holds at most (16 + 1) x peers messages; a bounded
        // capacity would only park the fetcher, which serves every peer.
        ctx.set_mailbox_capacity(0);
        ctx.run_interval(PRUNE_INTERVAL, |act, _| {
            act.peers
                .retain(|_, p| p.disconnect.connected() || !p.submissions.is_empty());
        });
    }
}

impl Handler<IngestTxs> for TxIngest {
    type Result = ResponseFuture<Vec<Result<B256, PoolError>>>;

    fn handle(&mut self, msg: IngestTxs, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        let mut results = vec![None; msg.txs.len()];
        let mut seen = HashSet::with_capacity(msg.txs.len());
        let mut queue = VecDeque::new();
        let mut cells = msg.cells;
        for (index, tx) in msg.txs.into_iter().enumerate() {
            let hash = *tx.hash();
            if !seen.insert(hash)
                || self.in_flight.contains(&hash)
                || self.pool.get(&hash).is_some()
            {
                IngestMetrics::add(&self.metrics.skipped_known, 1);
                results[index] = Some(Err(PoolError::AlreadyKnown));
            } else if self.rejected.get(&hash).is_some() {
                IngestMetrics::add(&self.metrics.skipped_rejected, 1);
                results[index] = Some(Err(PoolError::RecentlyRejected));
            } else {
                if let Some(cells) = cells.remove(&hash) {
                    self.cells.insert(hash, cells);
                }
                queue.push_back((index, tx));
            }
        }
        let peer = self.peers.entry(msg.peer).or_insert_with(|| PeerIngest {
            submissions: VecDeque::new(),
            queued: 0,
            busy: false,
            slowed: false,
            gate: msg.gate,
            disconnect: msg.disconnect,
            bad: 0,
        });
        if peer.queued + queue.len() > 2 * MAX_QUEUED_PER_PEER {
            IngestMetrics::add(&self.metrics.dropped_backlog, queue.len());
            for (index, tx) in queue.drain(..) {
                self.cells.remove(tx.hash());
                results[index] = Some(Err(PoolError::Busy));
            }
        }
        let submission = Submission {
            missing: queue.len(),
            txs: queue,
            results,
            reply,
        };
        if submission.missing == 0 {
            submission.finish();
        } else {
            for (_, tx) in &submission.txs {
                self.in_flight.insert(*tx.hash());
            }
            let was_idle = peer.queued == 0;
            peer.queued += submission.missing;
            peer.submissions.push_back(submission);
            if peer.queued >= MAX_QUEUED_PER_PEER {
                peer.gate.close(GateReason::IngestBacklog);
            }
            if was_idle && !peer.busy && !peer.slowed {
                self.turn.push_back(msg.peer);
            }
            self.dispatch(ctx);
        }
        Box::pin(async move { answer.await.unwrap_or_default() })
    }
}

impl TxIngest {
    /// Sends batches to the verifiers, one per peer in turn, while there is room.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        while self.batches < self.max_batches {
            let Some(id) = self.turn.pop_front() else {
                return;
            };
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            let Some(submission) = peer.submissions.front_mut() else {
                continue;
            };
            let take = submission.txs.len().min(INGEST_BATCH);
            let (indices, txs): (Vec<usize>, Vec<PooledTx>) = submission.txs.drain(..take).unzip();
            let hashes: Vec<B256> = txs.iter().map(|tx| *tx.hash()).collect();
            // The batch's cells travel with it (the verifier pools them with their txs).
            let cells: HashMap<B256, SampledCells> = hashes
                .iter()
                .filter_map(|hash| self.cells.remove(hash).map(|cells| (*hash, cells)))
                .collect();
            peer.busy = true;
            peer.queued -= take;
            self.batches += 1;
            IngestMetrics::add(&self.metrics.verified, take);
            let verify = self.verifier.send(VerifyTxs {
                txs,
                cells,
                origin: Some(id),
            });
            ctx.spawn(verify.into_actor(self).map(move |outcome, act, ctx| {
                act.batches -= 1;
                let verified = outcome.unwrap_or_else(|_| {
                    // The verifier threads are gone (the system is stopping).
                    let refused = PoolError::from(TxValidationError::InvalidSignature);
                    VerifiedTxs {
                        results: vec![Err(refused); hashes.len()],
                        bad: hashes.len(),
                    }
                });
                act.verified(id, indices, hashes, verified, ctx);
                act.dispatch(ctx);
            }));
        }
    }

    /// Tells the rejection listener, if any, what of peer `id`'s batch the pool refused.
    fn tell_rejections(&self, id: PeerId, hashes: &[B256], results: &[Result<B256, PoolError>]) {
        let Some(to) = &self.rejections else {
            return;
        };
        let told: Vec<(B256, PoolError)> = hashes
            .iter()
            .zip(results)
            .filter_map(|(hash, result)| match result {
                Err(PoolError::AlreadyKnown) | Ok(_) => None,
                Err(error) => Some((*hash, error.clone())),
            })
            .collect();
        if !told.is_empty() {
            let _ = to.try_send(TxsRejected {
                peer: id,
                txs: told.into(),
            });
        }
    }

    /// Takes the pool's verdicts on a batch of peer `id` (pooled by the verifier) and
    /// decides what the peer earned.
    fn verified(
        &mut self,
        id: PeerId,
        indices: Vec<usize>,
        hashes: Vec<B256>,
        verified: VerifiedTxs,
        ctx: &mut Context<Self>,
    ) {
        let VerifiedTxs { results, bad } = verified;
        let size = results.len();
        self.tell_rejections(id, &hashes, &results);
        let mut refused = 0;
        for (hash, result) in hashes.iter().zip(&results) {
            self.in_flight.remove(hash);
            if let Err(error) = result {
                if !matches!(
                    error,
                    PoolError::AlreadyKnown
                        | PoolError::Underpriced
                        | PoolError::ReplacementUnderpriced
                ) {
                    refused += 1;
                }
                if remembered(error) {
                    self.rejected.put(*hash, ());
                }
            }
        }
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.busy = false;
        if let Some(submission) = peer.submissions.front_mut() {
            for (index, result) in indices.into_iter().zip(results) {
                submission.results[index] = Some(result);
                submission.missing -= 1;
            }
            if submission.missing == 0 {
                if let Some(done) = peer.submissions.pop_front() {
                    done.finish();
                }
            }
        }
        if peer.queued < MAX_QUEUED_PER_PEER / 2 {
            peer.gate.open(GateReason::IngestBacklog);
        }
        peer.bad = peer
            .bad
            .saturating_add(u32::try_from(bad).unwrap_or(u32::MAX));
        if peer.bad >= BAD_TXS_BEFORE_DISCONNECT {
            log::debug!(
                "peer {}: {} bad transactions, dropping it",
                short(&id),
                peer.bad
            );
            IngestMetrics::add(&self.metrics.disconnected, 1);
            peer.disconnect.do_send(Disconnect {
                reason: DisconnectReason::UselessPeer,
            });
            self.forget(id);
            return;
        }
        if refused * 4 > size {
            IngestMetrics::add(&self.metrics.slowed, 1);
            peer.slowed = true;
            peer.gate.close(GateReason::Slowed);
            ctx.run_later(SLOW_DOWN, move |act, ctx| {
                if let Some(peer) = act.peers.get_mut(&id) {
                    peer.slowed = false;
                    peer.gate.open(GateReason::Slowed);
                    if peer.queued > 0 && !peer.busy {
                        act.turn.push_back(id);
                    }
                }
                act.dispatch(ctx);
            });
        } else if peer.queued > 0 {
            self.turn.push_back(id);
        }
    }

    /// Drops a peer's queue: its waiting transactions are answered as [`PoolError::Busy`].
    fn forget(&mut self, id: PeerId) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        for submission in peer.submissions {
            for (_, tx) in &submission.txs {
                self.in_flight.remove(tx.hash());
                self.cells.remove(tx.hash());
            }
            submission.finish();
        }
    }
}

/// How many sampled txs' cells the ingest path holds (a test's view of its memory).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "usize")]
pub(super) struct HeldCells;

#[cfg(test)]
impl Handler<HeldCells> for TxIngest {
    type Result = usize;
    fn handle(&mut self, _: HeldCells, _: &mut Context<Self>) -> usize {
        self.cells.len()
    }
}

/// Whether a refusal holds for the hash for good, so a copy need not be verified again.
/// A blob sidecar is not covered by the hash (another copy may carry a good one), and
/// balances and block gas limits move.
fn remembered(error: &PoolError) -> bool {
    match error {
        PoolError::Invalid(error) => !matches!(
            error,
            TxValidationError::InsufficientFunds { .. }
                | TxValidationError::GasLimitTooHigh { .. }
                | TxValidationError::BlobCount { .. }
                | TxValidationError::SidecarShape { .. }
                | TxValidationError::LegacySidecar { .. }
                | TxValidationError::CommitmentMismatch { .. }
                | TxValidationError::InvalidKzgProof { .. }
        ),
        _ => false,
    }
}
