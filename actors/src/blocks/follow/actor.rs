//! [`HeadFollower`]: every [`FollowConfig::interval`] it asks the best peers for headers
//! above the followed head (or the store's head), takes the highest block that
//! [`FollowConfig::quorum`] peers agree on, fetches and checks the bodies up to it,
//! records the blocks in the [`FollowedChain`], applies them to the pool and announces
//! each new head. One round at a time; a round that fails leaves everything as it was.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use alloy_consensus::{Header, Transaction};
use alloy_primitives::{Address, B256};

use super::round::{self, RoundInputs, RoundOutcome};
use super::{FollowedBlock, FollowedChain, NewHead, NewHeads};
use crate::blocks::import::BLOCK_RANGE_UPDATE_INTERVAL;
use crate::chain::ChainStore;
use crate::chain::HeaderRules;
use crate::eth::{BlockRangeUpdate, EthBlock, PooledTx};
use crate::peer_set::{BroadcastBlockRange, Peers};
use crate::txs::pool::ValidatingTxPool;

pub use super::round::POLLED_PEERS;

/// How far below the followed head a round asks from, so that a competing branch up to
/// this deep is seen and can win (ours: post-merge reorgs are a few blocks; 64 is two
/// epochs, past which a branch would contradict finality).
pub const REORG_DEPTH: u64 = 64;

/// Rounds in which peers on a quorum of networks claim blocks we do not know while no
/// polled peer's headers link to our anchor, before the followed chain is dropped and
/// following starts again from the store's head (ours: three rounds, 12 s by default,
/// ride out a slow peer).
pub const REANCHOR_ROUNDS: u32 = 3;

/// How the follower runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowConfig {
    /// Whether to follow at all.
    pub enabled: bool,
    /// Time between rounds: 4 s by default, a third of a 12 s slot, so a new block is
    /// followed within a few seconds of its peers having it.
    pub interval: Duration,
    /// Distinct network prefixes (IPv4 /24, IPv6 /48) that must vouch for a block's hash
    /// (default 2): liars on one network cannot move the followed head.
    pub quorum: usize,
}

impl Default for FollowConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(4),
            quorum: 2,
        }
    }
}

/// What the follower reads and tells.
pub struct FollowLinks {
    /// The peers and their claimed heads.
    pub peers: Recipient<Peers>,
    /// New followed heads (the `newHeads` stream), one message per round.
    pub heads: Recipient<NewHeads>,
    /// Heads a reorg dropped (their logs go out again as removed), if anyone listens.
    pub removed: Option<Recipient<super::RemovedHeads>>,
    /// Who learns each followed block's tx hashes (the propagation observer, for
    /// inclusion times), if anyone.
    pub included: Option<Recipient<BlockIncluded>>,
    /// Who sends our BlockRangeUpdate to eth/69+ peers as the followed head moves (the
    /// peer set), if anyone.
    pub range: Option<Recipient<BroadcastBlockRange>>,
}

/// Event: a followed block included these transactions (every tx of the block, pooled or
/// not), stamped with the time the follower took the block.
#[derive(Clone, Debug, actix::Message)]
#[rtype(result = "()")]
pub struct BlockIncluded {
    /// The block's number and hash.
    pub block: alloy_eips::BlockNumHash,
    /// Its transactions' hashes, in block order.
    pub txs: Vec<B256>,
    /// When the follower took the block.
    pub at: SystemTime,
    /// The block's header timestamp (seconds).
    pub timestamp: u64,
}

/// The head follower (see the module doc).
pub struct HeadFollower {
    config: FollowConfig,
    store: Arc<dyn ChainStore>,
    chain: Arc<FollowedChain>,
    pool: Arc<ValidatingTxPool>,
    links: FollowLinks,
    busy: bool,
    /// The header rules of the chain (none: linkage only).
    rules: Option<Arc<HeaderRules>>,
    /// Consecutive rounds that found our followed chain extended by nobody.
    unlinked_rounds: u32,
    /// The head number our last BlockRangeUpdate named.
    range_sent: u64,
    /// Where blocks are executed before they count, when the node holds the state.
    execute: Option<Recipient<super::ExecuteFollowed>>,
}

impl HeadFollower {
    /// A follower writing into `chain` and applying blocks to `pool`.
    pub fn new(
        config: FollowConfig,
        store: Arc<dyn ChainStore>,
        chain: Arc<FollowedChain>,
        pool: Arc<ValidatingTxPool>,
        links: FollowLinks,
    ) -> Self {
        Self {
            config,
            store,
            chain,
            pool,
            links,
            busy: false,
            rules: None,
            unlinked_rounds: 0,
            range_sent: 0,
            execute: None,
        }
    }

    /// Executes followed blocks before they count (see [`super::ExecuteFollowed`]).
    pub fn with_execution(mut self, execute: Option<Recipient<super::ExecuteFollowed>>) -> Self {
        self.execute = execute;
        self
    }

    /// Judges every header by `rules` (a header breaking one is a violation).
    pub fn with_rules(mut self, rules: Option<Arc<HeaderRules>>) -> Self {
        self.rules = rules;
        self
    }

    /// Where the next round asks from: [`REORG_DEPTH`] below the followed head (a
    /// followed block, so competing branches that deep are seen), not below the store's
    /// head; the store's head when nothing is followed above it.
    fn anchor(&self) -> (Header, B256) {
        let stored = self.store.head();
        if let Some(head) = self
            .chain
            .head()
            .filter(|h| h.header.number > stored.number)
        {
            let number = head.header.number.saturating_sub(REORG_DEPTH);
            if let Some(block) = self
                .chain
                .by_number(number)
                .filter(|_| number > stored.number)
            {
                return (block.header.clone(), block.hash);
            }
        }
        let hash = stored.hash_slow();
        (stored, hash)
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // A consensus client's forkchoice is the head; peers' quorum is the fallback.
        if self.busy || self.chain.consensus_active(now) {
            return;
        }
        self.busy = true;
        let anchor = self.anchor();
        self.chain.note_start(anchor.0.number);
        let inputs = RoundInputs {
            peers: self.links.peers.clone(),
            anchor,
            quorum: self.config.quorum,
            chain: self.chain.clone(),
            store: self.store.clone(),
            pool: self.pool.clone(),
            rules: self.rules.clone(),
            execute: self.execute.clone(),
        };
        round::run(inputs)
            .into_actor(self)
            .map(|outcome, act, _ctx| {
                act.busy = false;
                act.chain.note_round();
                act.apply(outcome);
            })
            .spawn(ctx);
    }

    /// Takes a round's blocks: a first block at or below our head is a competing branch
    /// with a quorum, so ours is unwound to its parent first (a reorg); a chain nobody
    /// extends for [`REANCHOR_ROUNDS`] is dropped.
    fn apply(&mut self, outcome: RoundOutcome) {
        self.unlinked_rounds = match outcome.unlinked {
            true => self.unlinked_rounds.saturating_add(1),
            false => 0,
        };
        if self.unlinked_rounds >= REANCHOR_ROUNDS {
            self.unlinked_rounds = 0;
            let stored = self.store.head().number;
            let dropped = self.chain.unwind_above(stored);
            if !dropped.is_empty() {
                log::warn!(
                    "follow: no polled peer extends our followed head for {REANCHOR_ROUNDS} \
                     rounds while a quorum of networks claims other blocks: dropped {} \
                     followed blocks, following again from #{stored}",
                    dropped.len()
                );
                self.chain.note_reorg();
                self.reinject(&dropped);
            }
        }
        let Some((_, first, _, _)) = outcome.blocks.first() else {
            return;
        };
        let ours = self.chain.head().map_or(0, |h| h.header.number);
        if first.header.number <= ours {
            let fork_point = first.header.number.saturating_sub(1);
            let dropped = self.chain.unwind_above(fork_point);
            log::warn!(
                "follow: reorg of depth {} at #{fork_point}: peers on a quorum of networks \
                 vouch for another branch",
                dropped.len()
            );
            self.chain.note_reorg();
            self.reinject(&dropped);
        }
        // In order, stopping at a block that cannot be taken: the followed chain never has
        // a gap.
        let heads: Vec<NewHead> = outcome
            .blocks
            .into_iter()
            .map_while(|(hash, block, senders, receipts)| self.take(hash, block, senders, receipts))
            .collect();
        // One message per round (at most HEADERS_PER_POLL heads, one round at a time), sent
        // past the mailbox's capacity: every head reaches the hub, which never waits on a
        // subscriber, so the queue cannot build up.
        if !heads.is_empty() {
            self.log_round(&heads);
            self.links.heads.do_send(NewHeads(heads));
        }
        self.send_range();
    }

    /// Sends eth/69+ peers our range when the followed head moved a whole interval or went
    /// back (geth sends it every [`BLOCK_RANGE_UPDATE_INTERVAL`] blocks).
    fn send_range(&mut self) {
        let (Some(to), Some(head)) = (&self.links.range, self.chain.head()) else {
            return;
        };
        let latest = head.header.number;
        if latest >= self.range_sent.saturating_add(BLOCK_RANGE_UPDATE_INTERVAL)
            || latest < self.range_sent
        {
            self.range_sent = latest;
            to.do_send(BroadcastBlockRange(BlockRangeUpdate {
                earliest: self.chain.earliest_above(self.store.head().number),
                latest,
                latest_hash: head.hash,
            }));
        }
    }

    /// Puts the transactions of blocks a reorg dropped back into the pool, as geth
    /// re-injects them: each sender's included nonce goes back first. Blob transactions
    /// cannot return (blocks carry no sidecars).
    fn reinject(&self, dropped: &[Arc<FollowedBlock>]) {
        if let Some(to) = &self.links.removed {
            let heads = dropped
                .iter()
                .rev()
                .map(|block| NewHead {
                    hash: block.hash,
                    header: block.header.clone(),
                    logs: block.receipts.as_deref().map_or_else(
                        || Arc::from([]),
                        |receipts| {
                            super::head_logs(
                                &EthBlock {
                                    header: block.header.clone(),
                                    body: block.body.clone(),
                                },
                                receipts,
                            )
                        },
                    ),
                })
                .collect();
            to.do_send(super::RemovedHeads(heads));
        }
        let mut txs = Vec::new();
        let mut nonces = Vec::new();
        for block in dropped {
            for (tx, sender) in block.body.transactions.iter().zip(&block.senders) {
                nonces.push((*sender, tx.nonce()));
                if let Ok(pooled) = PooledTx::try_from(tx.clone()) {
                    txs.push(pooled);
                }
            }
        }
        self.pool.revert_included(&nonces);
        let back = self
            .pool
            .add(txs, None)
            .iter()
            .filter(|r| r.is_ok())
            .count();
        log::info!("follow: {back} transactions of dropped blocks back in the pool");
    }

    /// geth's "Imported new chain segment": one info line per round that took blocks.
    fn log_round(&self, heads: &[NewHead]) {
        let (Some(first), Some(last)) = (heads.first(), heads.last()) else {
            return;
        };
        let txs: usize = heads
            .iter()
            .filter_map(|h| self.chain.by_hash(&h.hash))
            .map(|b| b.body.transactions.len())
            .sum();
        log::info!(
            "followed {} block{} #{}..#{} ({txs} txs), head {}",
            heads.len(),
            if heads.len() == 1 { "" } else { "s" },
            first.header.number,
            last.header.number,
            last.hash
        );
    }

    /// Records one checked block (its `senders` recovered off this thread) and applies it
    /// to the pool; returns it as a new head.
    fn take(
        &mut self,
        hash: B256,
        block: EthBlock,
        senders: Option<Vec<Address>>,
        receipts: Option<Vec<alloy_consensus::ReceiptEnvelope>>,
    ) -> Option<NewHead> {
        let Some(senders) = senders else {
            log::debug!(
                "follow: block {} has an unrecoverable sender",
                block.header.number
            );
            return None;
        };
        let included: Vec<(B256, Address, u64)> = block
            .body
            .transactions
            .iter()
            .zip(&senders)
            .map(|(tx, sender)| (*tx.hash(), *sender, tx.nonce()))
            .collect();
        let header: Header = block.header.clone();
        let logs = receipts
            .as_deref()
            .map_or_else(|| std::sync::Arc::from([]), |r| super::head_logs(&block, r));
        let received_at = SystemTime::now();
        self.chain.push(FollowedBlock {
            hash,
            header: block.header,
            body: block.body,
            senders,
            received_at,
            receipts,
        });
        if let Some(to) = &self.links.included {
            // One message per block, never waited on: a busy observer loses it.
            let _ = to.try_send(BlockIncluded {
                block: alloy_eips::BlockNumHash::new(header.number, hash),
                txs: included.iter().map(|(hash, _, _)| *hash).collect(),
                at: received_at,
                timestamp: header.timestamp,
            });
        }
        let outcome = self.pool.apply_included(&included);
        log::debug!(
            "followed block {} ({} txs): {} left the pool included, {} stale",
            header.number,
            included.len(),
            outcome.included.len(),
            outcome.stale.len()
        );
        Some(NewHead { hash, header, logs })
    }
}

impl Actor for HeadFollower {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.config.enabled {
            ctx.run_interval(self.config.interval, |act, ctx| act.round(ctx));
        }
    }
}
