//! Serving GetCells (eth/72). Data columns (0-63) are slices of the blob and cost nothing;
//! an extension column (64-127) needs the blob's whole extension (a c-kzg
//! `compute_cells`, 3.7 ms a blob here). [`CellServer`] computes a blob tx's extension once
//! and keeps it in a bounded cache, so asking again costs a lookup; the computing is
//! rationed per peer, so one peer asking for many different txs spends its own budget and
//! leaves others' requests (and, on a worker of their own, header and body serving) alone.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy_primitives::B256;
use lru::LruCache;
use tokio::time::Instant;

use crate::chain::serve;
use crate::eth::cells::{self, Cell, CustodyBitmap, CELLS_PER_BLOB};
use crate::eth::PooledTx;
use crate::p2p::PeerId;
use crate::txs::pool::TxPool;

/// Most transactions looked up per GetCells (geth `maxCellsServe`, 4096).
pub const MAX_CELL_TXS_SERVE: usize = 4096;

/// Most cells per Cells reply: the 2 MiB soft limit in 2 KiB cells (geth
/// `softResponseLimit / 2048`).
pub const MAX_CELLS_SERVE: usize = serve::SOFT_RESPONSE_LIMIT / cells::BYTES_PER_CELL;

/// Blobs whose extension one GetCells may make us compute (ours): about 120 ms of the
/// cells worker. Txs past it are left out, which EIP-8070 allows ("the responder MAY
/// truncate"). Data columns and cached extensions do not count.
pub const MAX_CELL_COMPUTE_BLOBS: usize = 32;

/// Blob extensions computed per peer per second at most, with as many back to back (ours:
/// one request's worth, [`MAX_CELL_COMPUTE_BLOBS`]). Past it a peer's requests are served
/// from data columns and the cache only.
pub const COMPUTE_BLOBS_PER_PEER_PER_SECOND: u32 = MAX_CELL_COMPUTE_BLOBS as u32;

/// Blob extensions kept (ours): 256 x 128 cells x 2 KiB = 64 MiB, the blobs of about 40
/// six-blob txs, what peers sampling the same pool ask for within seconds of each other.
pub const MAX_CACHED_BLOBS: usize = 256;

/// Peers whose compute budget is tracked at most (ours; idle ones go first).
pub const MAX_TRACKED_PEERS: usize = 4096;

/// A tx's blobs, each extended to all 128 cells.
type Extension = Arc<Vec<Vec<Cell>>>;

/// Computed extensions and per-peer compute budgets, shared by the cell workers.
#[derive(Debug)]
pub struct CellServer {
    cache: Mutex<LruCache<B256, Extension>>,
    budgets: Mutex<HashMap<PeerId, (f64, Instant)>>,
    /// Blob extensions computed.
    pub computed_blobs: AtomicU64,
    /// Extensions served from the cache.
    pub cache_hits: AtomicU64,
    /// Txs left out of a reply because their peer's compute budget was spent.
    pub refused_for_budget: AtomicU64,
}

impl Default for CellServer {
    fn default() -> Self {
        // A six-blob tx is the largest (EIP-7594's cap); the cache holds at least one.
        let txs = NonZeroUsize::new(MAX_CACHED_BLOBS / 6).unwrap_or(NonZeroUsize::MIN);
        Self {
            cache: Mutex::new(LruCache::new(txs)),
            budgets: Mutex::default(),
            computed_blobs: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            refused_for_budget: AtomicU64::new(0),
        }
    }
}

impl CellServer {
    /// The cells of `mask`'s columns for the pooled blob txs among `hashes` that `peer`
    /// asked for, in request order, column by column (for each column, one cell per blob,
    /// geth v1.17.10's order): cut from the blobs we hold, taken from the extension cache
    /// or computed within the peer's budget, or for a sampled tx taken from the cells we
    /// keep. Txs we lack, sampled ones missing a column asked for, and txs past the budget
    /// are left out (as geth leaves out what it lacks). Stops at [`MAX_CELLS_SERVE`] cells
    /// or [`MAX_CELL_TXS_SERVE`] lookups (geth's `answerGetCells`).
    pub fn pooled_cells(
        &self,
        pool: &dyn TxPool,
        peer: PeerId,
        hashes: &[B256],
        mask: &CustodyBitmap,
    ) -> (Vec<B256>, Vec<Vec<Cell>>) {
        let (mut served, mut out, mut count) = (Vec::new(), Vec::new(), 0usize);
        let mut compute_left = MAX_CELL_COMPUTE_BLOBS;
        for hash in hashes.iter().take(MAX_CELL_TXS_SERVE) {
            if count >= MAX_CELLS_SERVE {
                break;
            }
            let Some(tx) = pool.get(hash) else { continue };
            let flat = match (&tx.cells, &tx.tx) {
                // A sampled tx: served if we hold every column asked for (as geth, which
                // leaves out a tx with any cell missing).
                (Some(sampled), _) => sampled.select(mask),
                (None, PooledTx::Eip4844(signed)) => {
                    let blobs = signed.tx().sidecar.blobs();
                    self.cells_of(peer, *hash, blobs, mask, &mut compute_left)
                }
                _ => None,
            };
            let Some(flat) = flat.filter(|f| !f.is_empty()) else {
                continue;
            };
            count += flat.len();
            served.push(*hash);
            out.push(flat);
        }
        (served, out)
    }

    /// `mask`'s cells of `blobs`, column by column: cut from the blobs for data columns;
    /// else from the cached extension, or one computed within both budgets.
    fn cells_of(
        &self,
        peer: PeerId,
        hash: B256,
        blobs: &[alloy_eips::eip4844::Blob],
        mask: &CustodyBitmap,
        compute_left: &mut usize,
    ) -> Option<Vec<Cell>> {
        let per_blob: Extension = if cells::data_only(mask) {
            Arc::new(
                blobs
                    .iter()
                    .map(|blob| cells::cells_of_blob(blob, mask))
                    .collect::<Option<Vec<_>>>()?,
            )
        } else {
            self.extension(peer, hash, blobs, compute_left)?
        };
        let data_only = cells::data_only(mask);
        let columns: Vec<usize> = match data_only {
            // Cut cells are already the mask's columns, in order.
            true => (0..mask.count()).collect(),
            false => mask.indices().map(|c| c as usize).collect(),
        };
        Some(
            columns
                .iter()
                .flat_map(|column| {
                    per_blob
                        .iter()
                        .filter_map(move |cells| cells.get(*column).copied())
                })
                .collect(),
        )
    }

    /// The full extension of a tx's blobs: cached, or computed if this request and the
    /// peer still have the budget (then cached).
    fn extension(
        &self,
        peer: PeerId,
        hash: B256,
        blobs: &[alloy_eips::eip4844::Blob],
        compute_left: &mut usize,
    ) -> Option<Extension> {
        if let Some(hit) = lock(&self.cache).get(&hash).cloned() {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Some(hit);
        }
        let within_request = compute_left.checked_sub(blobs.len())?;
        if !self.take_budget(peer, blobs.len()) {
            self.refused_for_budget.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *compute_left = within_request;
        let extension: Extension = Arc::new(
            blobs
                .iter()
                .map(|blob| cells::cells_of_blob(blob, &CustodyBitmap::ALL))
                .collect::<Option<Vec<_>>>()?,
        );
        debug_assert!(extension.iter().all(|c| c.len() == CELLS_PER_BLOB));
        self.computed_blobs
            .fetch_add(blobs.len() as u64, Ordering::Relaxed);
        lock(&self.cache).put(hash, extension.clone());
        Some(extension)
    }

    /// Takes `blobs` from `peer`'s compute budget (a token bucket refilled at
    /// [`COMPUTE_BLOBS_PER_PEER_PER_SECOND`]); false, taking nothing, when it lacks them.
    fn take_budget(&self, peer: PeerId, blobs: usize) -> bool {
        let rate = f64::from(COMPUTE_BLOBS_PER_PEER_PER_SECOND);
        let now = Instant::now();
        let mut budgets = lock(&self.budgets);
        if !budgets.contains_key(&peer) && budgets.len() >= MAX_TRACKED_PEERS {
            // Full buckets are idle peers: forget them (then the oldest, if none is).
            budgets.retain(|_, (left, at)| {
                *left + now.saturating_duration_since(*at).as_secs_f64() * rate < rate
            });
            if budgets.len() >= MAX_TRACKED_PEERS {
                if let Some(oldest) = budgets
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(p, _)| *p)
                {
                    budgets.remove(&oldest);
                }
            }
        }
        let (left, at) = budgets.entry(peer).or_insert((rate, now));
        *left = (*left + now.saturating_duration_since(*at).as_secs_f64() * rate).min(rate);
        *at = now;
        let want = blobs as f64;
        if *left < want {
            return false;
        }
        *left -= want;
        true
    }

    /// Blob extensions held now.
    pub fn cached_txs(&self) -> usize {
        lock(&self.cache).len()
    }
}

/// The lock, whatever a panic elsewhere left (each update is one step).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
