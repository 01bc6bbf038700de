//! [`FollowedChain`]: the blocks the head follower took from peers, as a shared read view
//! (RPC reads it synchronously, the follower writes it). A bounded window of recent
//! blocks with their transactions' senders, an index of their transactions, and the
//! highest block number peers have claimed. These blocks are the peers' word (see the
//! README's trust model): never served, relayed or advertised as ours.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use alloy_consensus::Header;
use alloy_primitives::{Address, B256};

use crate::eth::EthBlockBody;

/// Followed blocks kept: 256, the window of `BLOCKHASH` (and about 50 minutes of mainnet
/// blocks), enough for `eth_getBlockByNumber` on recent blocks, the gas price oracle's 20
/// blocks and any reorg the pool cares about.
pub const FOLLOWED_BLOCKS: usize = 256;

/// A block the follower took from peers, with what RPC and the pool need precomputed.
#[derive(Clone, Debug)]
pub struct FollowedBlock {
    /// Its hash.
    pub hash: B256,
    /// Its header.
    pub header: Header,
    /// Its body (checked against the header's roots).
    pub body: EthBlockBody,
    /// The sender of each transaction, in body order.
    pub senders: Vec<Address>,
    /// When we had it complete (header and body).
    pub received_at: SystemTime,
    /// Its receipts, when a peer handed them over and they matched the header's receipts
    /// root (then we serve them).
    pub receipts: Option<Vec<alloy_consensus::ReceiptEnvelope>>,
}

/// Where a followed transaction sits.
#[derive(Clone, Debug)]
pub struct FollowedTx {
    /// Its block.
    pub block: Arc<FollowedBlock>,
    /// Its position in the block.
    pub index: usize,
}

#[derive(Default)]
struct Inner {
    by_number: BTreeMap<u64, Arc<FollowedBlock>>,
    by_hash: HashMap<B256, Arc<FollowedBlock>>,
    txs: HashMap<B256, (B256, usize)>,
    /// The highest block number a quorum of networks claims, or the followed head.
    highest_claimed: u64,
    /// Rounds finished.
    rounds: u64,
    /// Reorgs taken.
    reorgs: u64,
    /// The head number when following started (for `eth_syncing`'s `startingBlock`).
    starting: Option<u64>,
}

/// Largest `--history.window` (ours: a mainnet block is about 100-200 KiB with its
/// transactions, so 8,192 blocks stay under about 1.6 GiB of memory).
pub const MAX_HISTORY_WINDOW: usize = 8192;

/// The followed blocks (see the module doc). Cheap to share behind an `Arc`.
pub struct FollowedChain {
    inner: RwLock<Inner>,
    /// Blocks kept at most (the history window).
    window: usize,
    /// When a consensus client last sent a forkchoice (UNIX seconds; 0: never).
    pub consensus_seen: std::sync::atomic::AtomicU64,
}

/// How long after a consensus client's last forkchoice its head alone counts and peers'
/// quorum is not followed (ours: a few slots of silence before falling back; geth warns
/// after a similar quiet spell that its beacon client went silent).
pub const CONSENSUS_QUIET_SECONDS: u64 = 60;

impl Default for FollowedChain {
    fn default() -> Self {
        Self::new()
    }
}

impl FollowedChain {
    /// An empty view keeping the newest [`FOLLOWED_BLOCKS`].
    pub fn new() -> Self {
        Self::with_window(FOLLOWED_BLOCKS)
    }

    /// An empty view keeping the newest `window` blocks (1 to [`MAX_HISTORY_WINDOW`]).
    pub fn with_window(window: usize) -> Self {
        Self {
            inner: RwLock::default(),
            window: window.clamp(1, MAX_HISTORY_WINDOW),
            consensus_seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether a consensus client drives the head now (a forkchoice within
    /// [`CONSENSUS_QUIET_SECONDS`] of `now`, UNIX seconds).
    pub fn consensus_active(&self, now: u64) -> bool {
        let seen = self
            .consensus_seen
            .load(std::sync::atomic::Ordering::Relaxed);
        seen != 0 && now.saturating_sub(seen) < CONSENSUS_QUIET_SECONDS
    }

    /// Blocks kept at most.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The highest followed block.
    pub fn head(&self) -> Option<Arc<FollowedBlock>> {
        self.read().by_number.values().next_back().cloned()
    }

    /// The oldest block servable without a gap when the store holds every block up to
    /// `stored` (eth/69 `earliest`): 0 while the window reaches down to it, else the
    /// window's oldest block.
    pub fn earliest_above(&self, stored: u64) -> u64 {
        match self.oldest() {
            Some(oldest) if oldest > stored.saturating_add(1) => oldest,
            _ => 0,
        }
    }

    /// The oldest followed block's number.
    pub fn oldest(&self) -> Option<u64> {
        self.read().by_number.keys().next().copied()
    }

    /// The followed block at `number`.
    pub fn by_number(&self, number: u64) -> Option<Arc<FollowedBlock>> {
        self.read().by_number.get(&number).cloned()
    }

    /// The followed block with `hash`.
    pub fn by_hash(&self, hash: &B256) -> Option<Arc<FollowedBlock>> {
        self.read().by_hash.get(hash).cloned()
    }

    /// The followed transaction with `hash`.
    pub fn transaction(&self, hash: &B256) -> Option<FollowedTx> {
        let inner = self.read();
        let (block, index) = inner.txs.get(hash)?;
        let block = inner.by_hash.get(block)?.clone();
        Some(FollowedTx {
            block,
            index: *index,
        })
    }

    /// The highest block number a quorum of peers' networks claims, or the followed head if
    /// higher.
    pub fn highest_claimed(&self) -> u64 {
        self.read().highest_claimed
    }

    /// Rounds the follower has finished (asked peers, took what had a quorum, if anything).
    pub fn rounds(&self) -> u64 {
        self.read().rounds
    }

    /// Reorgs taken (a competing branch won, or the chain was dropped and re-anchored).
    pub fn reorgs(&self) -> u64 {
        self.read().reorgs
    }

    /// Counts a reorg.
    pub fn note_reorg(&self) {
        let mut inner = self.write();
        inner.reorgs = inner.reorgs.saturating_add(1);
    }

    /// Removes every followed block above `number`; answers them, lowest first.
    pub fn unwind_above(&self, number: u64) -> Vec<Arc<FollowedBlock>> {
        let mut inner = self.write();
        let above: Vec<u64> = inner
            .by_number
            .range(number.saturating_add(1)..)
            .map(|(n, _)| *n)
            .collect();
        let dropped: Vec<Arc<FollowedBlock>> = above
            .iter()
            .filter_map(|n| inner.by_number.get(n).cloned())
            .collect();
        for n in above {
            inner.remove(n);
        }
        dropped
    }

    /// Counts a finished round.
    pub fn note_round(&self) {
        let mut inner = self.write();
        inner.rounds = inner.rounds.saturating_add(1);
    }

    /// The head number when following began.
    pub fn starting_block(&self) -> Option<u64> {
        self.read().starting
    }

    /// Records the highest block a quorum of peers' networks claims (each round's value
    /// replaces the last: one peer's claim never sets it).
    pub fn note_agreed_claim(&self, number: u64) {
        self.write().highest_claimed = number;
    }

    /// Records where following began.
    pub fn note_start(&self, number: u64) {
        self.write().starting.get_or_insert(number);
    }

    /// Adds `block` as the new head: blocks at its number or above that it replaces (a
    /// reorg) leave, and the window keeps the newest [`FollowedChain::window`] blocks.
    pub fn push(&self, block: FollowedBlock) -> Arc<FollowedBlock> {
        let block = Arc::new(block);
        let mut inner = self.write();
        let number = block.header.number;
        let replaced: Vec<u64> = inner.by_number.range(number..).map(|(n, _)| *n).collect();
        for n in replaced {
            inner.remove(n);
        }
        for (index, tx) in block.body.transactions.iter().enumerate() {
            inner.txs.insert(*tx.hash(), (block.hash, index));
        }
        inner.by_hash.insert(block.hash, block.clone());
        inner.by_number.insert(number, block.clone());
        inner.highest_claimed = inner.highest_claimed.max(number);
        while inner.by_number.len() > self.window {
            let Some(oldest) = inner.by_number.keys().next().copied() else {
                break;
            };
            inner.remove(oldest);
        }
        block
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn remove(&mut self, number: u64) {
        let Some(block) = self.by_number.remove(&number) else {
            return;
        };
        self.by_hash.remove(&block.hash);
        for tx in &block.body.transactions {
            if self
                .txs
                .get(tx.hash())
                .is_some_and(|(b, _)| *b == block.hash)
            {
                self.txs.remove(tx.hash());
            }
        }
    }
}
