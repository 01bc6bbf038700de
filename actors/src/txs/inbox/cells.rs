//! The blob half of the fetcher (eth/72, EIP-8070 as go-ethereum v1.17.10's
//! `eth/fetcher/blob_fetcher.go` does it): a blob tx arrives without blobs; the node then
//! either fetches it whole (the 64 data columns, which are the blobs) or, as a sampler,
//! only its custody columns, and only once [`AVAILABILITY_THRESHOLD`] peers announced every
//! column, so that a partial fetch never rests on a single announcer.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::{keccak256, B256};

use super::actor::{Announcer, TxInbox};
use crate::eth::cells::{self, Cell, CellError, CustodyBitmap, DATA_COLUMNS};
use crate::eth::{Cells, GetCells, PooledTx, SampledCells};
use crate::p2p::DisconnectReason;
use crate::peer::{short, Disconnect, PeerId};

/// Blob txs held without blobs while their cells are fetched. geth's blob fetcher tracks
/// at most `maxPayloadAnnounces` (4096) hashes per peer; a blobless tx holds only its
/// commitments and 128 cell proofs per blob (6 KiB a blob), so 1024 of them stay under
/// 50 MiB at six blobs each. Past the bound new ones are dropped (and refetched if
/// announced again).
pub const MAX_PENDING_CELL_TXS: usize = 1024;
/// Blobs of all blob txs held in [`MAX_PENDING_CELL_TXS`] at most: that many txs of six
/// blobs (EIP-7594's `MAX_BLOBS_PER_TX`, the public networks' cap). A blob costs its
/// commitment and 128 cell proofs (6,192 bytes), so this holds about 38 MiB; it is what
/// bounds memory, since the tx count alone would let a peer's forged txs of thousands of
/// blobs each take gigabytes. A tx past it is dropped like one past the count.
pub const MAX_PENDING_CELL_BLOBS: usize = MAX_PENDING_CELL_TXS * 6;
/// The least share of blob txs, in percent, a node fetches whole: EIP-8070's p = 0.15,
/// geth's `DefaultFetchProbability` (15), which is also its floor for
/// `--blobpool.fetchprobability`.
pub const MIN_FULL_FETCH_PERCENT: u8 = 15;
/// Distinct peers that must announce every column of a blob tx before a sampler fetches
/// its custody columns (EIP-8070 "minimum 2 providers"; geth `availabilityThreshold`).
pub const AVAILABILITY_THRESHOLD: usize = 2;
/// How long a sampler waits for [`AVAILABILITY_THRESHOLD`] providers before it fetches the
/// tx whole instead (geth `blobAvailabilityTimeout`, 2 s, which converts the same way).
pub const BLOB_AVAILABILITY_TIMEOUT: Duration = Duration::from_secs(2);

/// How blob txs' cells are fetched: the custody columns and the share fetched whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobFetchPolicy {
    custody: CustodyBitmap,
    full_percent: u8,
    salt: B256,
}

impl Default for BlobFetchPolicy {
    /// Every column: each blob tx whole. This is geth's behaviour without a consensus
    /// client to name its custody (`eth/handler.go` starts its blob fetcher with
    /// `CustodyBitmapAll`), and what serves eth/68-71 peers, which need whole blobs.
    fn default() -> Self {
        Self {
            custody: CustodyBitmap::ALL,
            full_percent: MIN_FULL_FETCH_PERCENT,
            salt: B256::ZERO,
        }
    }
}

impl BlobFetchPolicy {
    /// Sample `custody`'s columns and fetch `full_percent` of blob txs whole (raised to
    /// [`MIN_FULL_FETCH_PERCENT`] and capped at 100, as geth clamps its flag). The per-tx
    /// choice is a hash of the tx hash and a salt (EIP-8070 recommends such a stateless
    /// heuristic; a node-secret salt, [`Self::salted`], keeps peers from predicting it).
    pub fn new(custody: CustodyBitmap, full_percent: u8) -> Self {
        Self {
            custody,
            full_percent: full_percent.clamp(MIN_FULL_FETCH_PERCENT, 100),
            salt: B256::ZERO,
        }
    }

    /// The same policy with its per-tx choice mixed with `salt` (the node sets one from
    /// its key).
    pub fn salted(self, salt: B256) -> Self {
        Self { salt, ..self }
    }

    /// Custody columns from a flag's text: `all`, or column indices and ranges below 128,
    /// comma-separated (`0-3,64,100-101`). geth takes them from its consensus client
    /// (`engine_forkchoiceUpdatedV4`'s `custodyColumns`); we have none, so they are
    /// configured.
    pub fn parse_custody(text: &str) -> Result<CustodyBitmap, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(CustodyBitmap::ALL);
        }
        let mut columns = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            let number = |s: &str| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{part:?} is not a column or a range of columns"))
            };
            let (low, high) = (number(low)?, number(high)?);
            if low > high {
                return Err(format!("{part:?} is an empty range"));
            }
            if high >= cells::CELLS_PER_BLOB as u64 {
                return Err(format!("{part:?}: columns are 0 to 127"));
            }
            columns.extend(low..=high);
        }
        match CustodyBitmap::from_indices(columns) {
            Some(mask) if mask.count() > 0 => Ok(mask),
            _ => Err(format!("{text:?} names no column")),
        }
    }

    /// The salt of the per-tx choice (zero until [`Self::salted`]).
    pub fn salt(&self) -> B256 {
        self.salt
    }

    /// The custody columns.
    pub fn custody(&self) -> CustodyBitmap {
        self.custody
    }

    /// The share of blob txs fetched whole, in percent.
    pub fn full_percent(&self) -> u8 {
        self.full_percent
    }

    /// Whether blob tx `hash` is fetched whole: always when custody covers the data
    /// columns' count (geth's eager mode), else for `full_percent` of hashes.
    pub fn fetches_whole(&self, hash: &B256) -> bool {
        if self.custody.count() >= DATA_COLUMNS {
            return true;
        }
        let mut input = [0u8; 64];
        input[..32].copy_from_slice(self.salt.as_slice());
        input[32..].copy_from_slice(hash.as_slice());
        let draw = u64::from_be_bytes(keccak256(input)[..8].try_into().unwrap_or_default());
        draw % 100 < u64::from(self.full_percent)
    }
}

/// A blobless blob tx waiting for its cells.
pub(super) struct PendingCells {
    tx: PooledTx,
    /// Who delivered `tx`: its commitments and cell proofs are this peer's word (the tx
    /// hash does not cover them), so proofs that refuse the tx's own data are its fault.
    deliverer: Announcer,
    /// Announcers that may serve cells, in announcement order.
    sources: Vec<Announcer>,
    /// Fetch the data columns (whole) rather than the custody columns.
    whole: bool,
    /// A GetCells is in flight.
    asking: bool,
    /// [`BLOB_AVAILABILITY_TIMEOUT`] passed: a sampler short of providers fetches whole
    /// from then on (also when the timeout found a request in flight that then failed).
    timed_out: bool,
}

impl PendingCells {
    /// Blobs of the tx (what its memory grows with).
    fn blobs(&self) -> usize {
        blob_count(&self.tx)
    }
}

/// Blobs of a blob tx with an EIP-7594 sidecar (0 for anything else).
fn blob_count(tx: &PooledTx) -> usize {
    cells::cell_sidecar(tx).map_or(0, |s| s.commitments.len())
}

impl TxInbox {
    /// An eth/72 blob tx delivered without blobs: its commitments must match its versioned
    /// hashes and it must carry 128 cell proofs per blob (or `who` is dropped, as for a bad
    /// sidecar); then the policy picks whole or sampled and its cells are fetched.
    pub(super) fn await_cells(&mut self, who: &Announcer, tx: PooledTx, ctx: &mut Context<Self>) {
        let hash = *tx.hash();
        if !sound_blobless(&tx) {
            log::debug!(
                "peer {}: blob tx {hash} with a bad sidecar",
                short(&who.peer)
            );
            who.links.disconnect.do_send(Disconnect {
                reason: DisconnectReason::SubprotocolSpecific,
            });
            self.forget_announcer(&hash, &who.peer);
            self.mark_ready(hash);
            return;
        }
        if self.cells_pending.contains_key(&hash) {
            return;
        }
        let blobs = blob_count(&tx);
        let held: usize = self.cells_pending.values().map(PendingCells::blobs).sum();
        if self.cells_pending.len() >= MAX_PENDING_CELL_TXS
            || held.saturating_add(blobs) > MAX_PENDING_CELL_BLOBS
        {
            // Forgotten altogether, so that a later announcement fetches it anew.
            self.forget_hash(&hash);
            return;
        }
        let mut sources = self.wanted.get(&hash).cloned().unwrap_or_default();
        if !sources.iter().any(|a| a.peer == who.peer) {
            sources.push(who.clone());
        }
        let whole = self.blob_policy.fetches_whole(&hash);
        if !whole {
            ctx.run_later(BLOB_AVAILABILITY_TIMEOUT, move |act, ctx| {
                act.availability_timed_out(hash, ctx)
            });
        }
        self.cells_pending.insert(
            hash,
            PendingCells {
                tx,
                deliverer: who.clone(),
                sources,
                whole,
                asking: false,
                timed_out: false,
            },
        );
        self.fetch_cells(hash, ctx);
    }

    /// Another announcement of a tx whose cells are pending: its announcer is a source.
    pub(super) fn add_cell_source(&mut self, hash: B256, who: Announcer, ctx: &mut Context<Self>) {
        let Some(pending) = self.cells_pending.get_mut(&hash) else {
            return;
        };
        if who.mask.is_none() || pending.sources.iter().any(|a| a.peer == who.peer) {
            return;
        }
        pending.sources.push(who);
        if !pending.asking {
            self.fetch_cells(hash, ctx);
        }
    }

    /// A sampler that saw too few providers in time fetches the tx whole (as geth).
    fn availability_timed_out(&mut self, hash: B256, ctx: &mut Context<Self>) {
        if let Some(pending) = self.cells_pending.get_mut(&hash) {
            pending.timed_out = true;
            if !pending.whole && !pending.asking {
                self.fetch_cells(hash, ctx);
            }
        }
    }

    /// The columns a pending tx is fetched for, and the announcer to ask: for a whole
    /// fetch the data columns from one holding them; for a sample the custody columns from
    /// one holding them, once enough providers announced (past the availability timeout,
    /// too few providers turn it into a whole fetch). `None`: nobody to ask yet.
    fn next_cell_request(&mut self, hash: &B256) -> Option<(CustodyBitmap, Announcer)> {
        let custody = self.blob_policy.custody();
        let pending = self.cells_pending.get_mut(hash)?;
        pending.sources.retain(|a| a.links.disconnect.connected());
        if !pending.whole {
            let providers = pending
                .sources
                .iter()
                .filter(|a| a.mask == Some(CustodyBitmap::ALL))
                .count();
            if providers < AVAILABILITY_THRESHOLD {
                if !pending.timed_out {
                    return None;
                }
                log::debug!("blob tx {hash}: too few providers to sample, fetching it whole");
                pending.whole = true;
            }
        }
        let want = if pending.whole {
            CustodyBitmap::data()
        } else {
            custody
        };
        let who = pending
            .sources
            .iter()
            .find(|a| a.mask.is_some_and(|m| m.covers(&want)))?;
        Some((want, who.clone()))
    }

    /// Asks one announcer for the cells of `hash` the policy wants; a whole fetch with
    /// nobody left to ask is dropped (a sampler keeps waiting until its timeout).
    fn fetch_cells(&mut self, hash: B256, ctx: &mut Context<Self>) {
        let Some((want, who)) = self.next_cell_request(&hash) else {
            if self.cells_pending.get(&hash).is_some_and(|p| p.whole) {
                log::debug!("blob tx {hash}: no announcer left to serve its cells");
                self.cells_pending.remove(&hash);
                // Its other announcers cannot serve it either; a later one starts afresh.
                self.forget_hash(&hash);
            }
            return;
        };
        if let Some(pending) = self.cells_pending.get_mut(&hash) {
            pending.asking = true;
        }
        let fut = who.links.client.request(GetCells {
            request_id: 0,
            hashes: vec![hash],
            mask: want,
        });
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            let reply = match result {
                Ok(reply) => Some(reply),
                Err(error) => {
                    log::debug!("peer {}: no cells for {hash}: {error}", short(&who.peer));
                    None // timeout or gone
                }
            };
            act.cells_arrived(hash, &who, want, reply, ctx);
        }));
    }

    /// Takes the cells `who` sent for `hash` and has them judged ([`judge_cells`]: c-kzg
    /// work, so on tokio's blocking pool, never on the thread that coordinates peers); the
    /// request stays marked in flight until the verdict is applied ([`Self::apply_verdict`]).
    fn cells_arrived(
        &mut self,
        hash: B256,
        who: &Announcer,
        want: CustodyBitmap,
        reply: Option<Cells>,
        ctx: &mut Context<Self>,
    ) {
        let Some(pending) = self.cells_pending.get_mut(&hash) else {
            return;
        };
        let cells = reply.and_then(|r| {
            let position = r.hashes.iter().position(|h| *h == hash)?;
            (r.mask == want).then(|| r.cells.into_iter().nth(position))?
        });
        // No answer for it: try another source.
        let Some(cells) = cells else {
            pending.asking = false;
            return self.drop_cell_source(hash, &who.peer, ctx);
        };
        let (tx, whole, who) = (pending.tx.clone(), pending.whole, who.clone());
        let judged = tokio::task::spawn_blocking(move || judge_cells(&tx, whole, want, cells));
        ctx.spawn(judged.into_actor(self).map(move |verdict, act, ctx| {
            if let Some(pending) = act.cells_pending.get_mut(&hash) {
                pending.asking = false;
            }
            match verdict {
                Ok(verdict) => act.apply_verdict(hash, &who, verdict, ctx),
                // The blocking pool is shutting down: nothing to judge with.
                Err(_) => act.drop_cell_source(hash, &who.peer, ctx),
            }
        }));
    }

    /// Acts on a verdict about the cells `who` sent for `hash`: valid ones complete the tx
    /// (whole: blobs rebuilt from the data columns; sampled: kept beside the blobless tx),
    /// which goes to the pool; wrong cells get `who` disconnected, proofs that refuse the
    /// tx's own data get the tx's deliverer disconnected (and the tx is fetched again from
    /// another announcer); a failed sample blames nobody and turns into a whole fetch.
    fn apply_verdict(
        &mut self,
        hash: B256,
        who: &Announcer,
        verdict: Verdict,
        ctx: &mut Context<Self>,
    ) {
        let Some(pending) = self.cells_pending.get_mut(&hash) else {
            return;
        };
        let deliverer = pending.deliverer.clone();
        match verdict {
            Verdict::Whole(tx) => {
                self.cells_pending.remove(&hash);
                self.blob_fetches.0 += 1;
                // The pool checks every proof against the blobs now: the deliverer's word.
                self.deliver(&deliverer, vec![tx], None, HashMap::new(), ctx)
            }
            Verdict::Sampled(tx, sampled) => {
                self.cells_pending.remove(&hash);
                self.blob_fetches.1 += 1;
                let cells = HashMap::from([(hash, sampled)]);
                self.deliver(who, vec![tx], None, cells, ctx)
            }
            Verdict::Unsure => {
                log::debug!("blob tx {hash}: sampled cells did not verify, fetching it whole");
                pending.whole = true;
                self.drop_cell_source(hash, &who.peer, ctx)
            }
            Verdict::BadCells => {
                log::debug!(
                    "peer {}: invalid cells for blob tx {hash}",
                    short(&who.peer)
                );
                who.links.disconnect.do_send(Disconnect {
                    reason: DisconnectReason::SubprotocolSpecific,
                });
                self.drop_cell_source(hash, &who.peer, ctx)
            }
            Verdict::BadProofs => {
                log::debug!(
                    "peer {}: blob tx {hash} with cell proofs refusing its own data",
                    short(&deliverer.peer)
                );
                deliverer.links.disconnect.do_send(Disconnect {
                    reason: DisconnectReason::SubprotocolSpecific,
                });
                // Fetched anew, sidecar and all, from another announcer if there is one.
                self.cells_pending.remove(&hash);
                self.mark_ready(hash);
                self.schedule(ctx);
            }
        }
    }

    /// Stops asking `peer` for the cells of `hash` and asks the next source.
    fn drop_cell_source(&mut self, hash: B256, peer: &PeerId, ctx: &mut Context<Self>) {
        if let Some(pending) = self.cells_pending.get_mut(&hash) {
            pending.sources.retain(|a| a.peer != *peer);
        }
        self.fetch_cells(hash, ctx);
    }
}

/// What a reply's cells showed about a pending tx.
enum Verdict {
    /// A whole fetch verified: the tx with its blobs back.
    Whole(PooledTx),
    /// A sample verified: the blobless tx and its cells.
    Sampled(PooledTx, SampledCells),
    /// The cells are wrong (count, or data that is not the blobs'): their sender's fault.
    BadCells,
    /// The data columns rebuild blobs matching the commitments, yet the sidecar's proofs
    /// refuse them: the proofs are forged, the deliverer's fault.
    BadProofs,
    /// Sampled cells that do not verify: the cells or the proofs are wrong, and a sample
    /// cannot tell which (a whole fetch can).
    Unsure,
}

/// Checks `cells` of `want`'s columns against the pending tx's commitments and proofs.
/// Only when they refuse does it cost more: a whole fetch's data columns are rebuilt into
/// blobs and committed to (c-kzg), to tell forged proofs from wrong cells.
fn judge_cells(tx: &PooledTx, whole: bool, want: CustodyBitmap, cells: Vec<Cell>) -> Verdict {
    // Always there: `sound_blobless` let the tx in.
    let Some(sidecar) = cells::cell_sidecar(tx) else {
        return Verdict::BadProofs;
    };
    if !whole {
        return match SampledCells::verify(sidecar, want, cells) {
            Ok(sampled) => Verdict::Sampled(tx.clone(), sampled),
            Err(CellError::WrongCount { .. }) => Verdict::BadCells,
            Err(_) => Verdict::Unsure,
        };
    }
    let checked = cells::verify_cells(&sidecar.commitments, &sidecar.cell_proofs, &want, &cells);
    let blobs = cells::blobs_from_data_cells(&cells, sidecar.commitments.len());
    match (checked, blobs) {
        (Ok(()), Some(blobs)) => Verdict::Whole(cells::with_blobs(tx, blobs)),
        (Err(CellError::Invalid), Some(blobs))
            if cells::blobs_match_commitments(&blobs, &sidecar.commitments) =>
        {
            Verdict::BadProofs
        }
        _ => Verdict::BadCells,
    }
}

/// A blobless blob tx whose commitments match its versioned hashes and which carries 128
/// cell proofs per blob.
fn sound_blobless(tx: &PooledTx) -> bool {
    match (tx, cells::cell_sidecar(tx)) {
        (PooledTx::Eip4844(signed), Some(sidecar)) => {
            let hashes = &signed.tx().tx.blob_versioned_hashes;
            hashes.len() == sidecar.commitments.len()
                && sidecar.cell_proofs.len() == hashes.len() * cells::CELLS_PER_BLOB
                && hashes
                    .iter()
                    .zip(&sidecar.commitments)
                    .all(|(h, c)| alloy_eips::eip4844::kzg_to_versioned_hash(c.as_slice()) == *h)
        }
        _ => false,
    }
}
