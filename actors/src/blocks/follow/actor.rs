//! [`HeadFollower`]: every [`FollowConfig::interval`] it asks the best peers for headers
//! above the followed head (or the store's head), takes the highest block that
//! [`FollowConfig::quorum`] peers agree on, fetches and checks the bodies up to it,
//! records the blocks in the [`FollowedChain`], applies them to the pool and announces
//! each new head. One round at a time; a round that fails leaves everything as it was.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Header, Transaction};
use alloy_primitives::{Address, B256};

use super::poll::{agreed_chain, fetch_blocks, headers_above, PeerChain};
use super::{FollowedBlock, FollowedChain, NewHead, NewHeads};
use crate::chain::ChainStore;
use crate::eth::{EthBlock, PeerHead};
use crate::peer_set::{PeerInfo, Peers};
use crate::txs::pool::{TxPool, ValidatingTxPool};

/// Peers asked for headers per round: the best few by claimed head. Four makes a quorum
/// of two likely even when some peers lag or time out.
pub const POLLED_PEERS: usize = 4;

/// How the follower runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowConfig {
    /// Whether to follow at all.
    pub enabled: bool,
    /// Time between rounds: 4 s by default, a third of a 12 s slot, so a new block is
    /// followed within a few seconds of its peers having it.
    pub interval: Duration,
    /// Distinct peers that must vouch for a block's hash (default 2): one lying peer
    /// cannot move the followed head.
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
    /// Who learns each followed block's tx hashes (the propagation observer, for
    /// inclusion times), if anyone.
    pub included: Option<Recipient<BlockIncluded>>,
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
}

/// The head follower (see the module doc).
pub struct HeadFollower {
    config: FollowConfig,
    store: Arc<dyn ChainStore>,
    chain: Arc<FollowedChain>,
    pool: Arc<ValidatingTxPool>,
    links: FollowLinks,
    busy: bool,
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
        }
    }

    /// Where the next round starts: the followed head if it is above the store's head
    /// and still links down to it, otherwise the store's head.
    fn base(&self) -> (u64, B256) {
        let stored = self.store.head();
        match self.chain.head() {
            Some(head) if head.header.number > stored.number => (head.header.number, head.hash),
            _ => (stored.number, stored.hash_slow()),
        }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (number, hash) = self.base();
        self.chain.note_start(number);
        let peers = self.links.peers.clone();
        let quorum = self.config.quorum;
        let chain = self.chain.clone();
        let store = self.store.clone();
        let pool = self.pool.clone();
        let known = move |chain: &FollowedChain, hash: &B256| {
            chain.by_hash(hash).is_some() || store.header_by_hash(hash).is_some()
        };
        let round = async move {
            let peers = peers.send(Peers).await.unwrap_or_default();
            let claims = claims(&peers);
            for (_, latest, _) in &claims {
                chain.note_claim(*latest);
            }
            let asked = best_peers(peers, POLLED_PEERS, number, |hash| known(&chain, hash));
            let answers = futures::future::join_all(asked.iter().map(|peer| {
                let client = peer.handle.client();
                async move { headers_above(&client, number, hash).await }
            }))
            .await;
            let chains: Vec<PeerChain> = asked
                .into_iter()
                .zip(answers)
                .filter_map(|(peer, answer)| match answer {
                    Ok(headers) => Some(PeerChain {
                        peer: peer.handle.id,
                        client: peer.handle.client(),
                        headers,
                    }),
                    Err(error) => {
                        log::debug!("follow: headers from {}: {error}", peer.handle.id);
                        None
                    }
                })
                .collect();
            let votes: Vec<_> = chains
                .iter()
                .map(|chain| (chain.peer, chain.headers.as_slice()))
                .collect();
            let (index, len) = agreed_chain(&votes, &claims, quorum)?;
            let source = chains.get(index)?;
            let blocks = match fetch_blocks(&source.client, &source.headers[..len]).await {
                Ok(blocks) => blocks,
                Err(error) => {
                    log::debug!("follow: bodies from {}: {error}", source.peer);
                    return None;
                }
            };
            with_senders(pool, blocks).await
        };
        round
            .into_actor(self)
            .map(|blocks, act, _ctx| {
                act.busy = false;
                // In order, stopping at a block that cannot be taken: the followed chain
                // never has a gap.
                let heads: Vec<NewHead> = blocks
                    .unwrap_or_default()
                    .into_iter()
                    .map_while(|(hash, block, senders)| act.take(hash, block, senders))
                    .collect();
                // One message per round (at most HEADERS_PER_POLL heads, one round at a
                // time), sent past the mailbox's capacity: every head reaches the hub,
                // which never waits on a subscriber, so the queue cannot build up.
                if !heads.is_empty() {
                    act.log_round(&heads);
                    act.links.heads.do_send(NewHeads(heads));
                }
            })
            .spawn(ctx);
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
        let received_at = SystemTime::now();
        self.chain.push(FollowedBlock {
            hash,
            header: block.header,
            body: block.body,
            senders,
            received_at,
        });
        if let Some(to) = &self.links.included {
            // One message per block, never waited on: a busy observer loses it.
            let _ = to.try_send(BlockIncluded {
                block: alloy_eips::BlockNumHash::new(header.number, hash),
                txs: included.iter().map(|(hash, _, _)| *hash).collect(),
                at: received_at,
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
        Some(NewHead { hash, header })
    }
}

/// Each block with its senders. Up to 192 blocks' recoveries (about 25 µs a tx): on
/// tokio's blocking pool, never on the thread that coordinates peers.
async fn with_senders(
    pool: Arc<ValidatingTxPool>,
    blocks: Vec<(B256, EthBlock)>,
) -> Option<Vec<(B256, EthBlock, Option<Vec<Address>>)>> {
    tokio::task::spawn_blocking(move || {
        blocks
            .into_iter()
            .map(|(hash, block)| {
                let senders = senders(&pool, &block);
                (hash, block, senders)
            })
            .collect::<Vec<_>>()
    })
    .await
    .ok()
}

/// Each transaction's sender: from the pool when it holds the tx (no recovery), recovered
/// otherwise.
fn senders(pool: &ValidatingTxPool, block: &EthBlock) -> Option<Vec<Address>> {
    block
        .body
        .transactions
        .iter()
        .map(|tx| match pool.get(tx.hash()) {
            Some(pooled) => Some(pooled.sender),
            None => tx.recover_signer().ok(),
        })
        .collect()
}

/// The heads eth/69+ peers claim (Status, BlockRangeUpdate).
fn claims(peers: &[PeerInfo]) -> Vec<(crate::p2p::PeerId, u64, B256)> {
    peers
        .iter()
        .filter_map(|peer| match peer.head {
            PeerHead::Range {
                latest,
                latest_hash,
                ..
            } => Some((peer.handle.id, latest, latest_hash)),
            PeerHead::TotalDifficulty { .. } => None,
        })
        .collect()
}

/// Up to `n` peers that may be ahead of `base`, those claiming the highest heads first:
/// eth/69+ peers whose latest block is above it, and eth/68 peers whose best hash we do
/// not know (their number is not told). Peers that are not ahead are never asked, so a
/// synced peer sees no requests from us.
fn best_peers(
    mut peers: Vec<PeerInfo>,
    n: usize,
    base: u64,
    known: impl Fn(&B256) -> bool,
) -> Vec<PeerInfo> {
    peers.retain(|peer| match peer.head {
        PeerHead::Range { latest, .. } => latest > base,
        PeerHead::TotalDifficulty { best_hash, .. } => !known(&best_hash),
    });
    peers.sort_by_key(|peer| match peer.head {
        PeerHead::Range { latest, .. } => std::cmp::Reverse(Some(latest)),
        PeerHead::TotalDifficulty { .. } => std::cmp::Reverse(None),
    });
    peers.truncate(n);
    peers
}

impl Actor for HeadFollower {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.config.enabled {
            ctx.run_interval(self.config.interval, |act, ctx| act.round(ctx));
        }
    }
}
