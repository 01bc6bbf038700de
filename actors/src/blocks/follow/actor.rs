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

use super::poll::HEADERS_PER_POLL;
use super::poll::{agreed_chain, fetch_blocks, headers_above, FollowError, PeerChain, Voter};
use super::{FollowedBlock, FollowedChain, NewHead, NewHeads};
use crate::chain::ChainStore;
use crate::chain::HeaderRules;
use crate::eth::{EthBlock, PeerHead};
use crate::p2p::DisconnectReason;
use crate::peer::Disconnect;
use crate::peer_set::{PeerInfo, Peers};
use crate::txs::pool::{TxPool, ValidatingTxPool};

/// Peers asked for headers per round: half the longest-connected, half drawn at random,
/// never chosen by what they claim (a liar's claim of block 2^62 buys it nothing). Four
/// makes a quorum of two networks likely even when some peers lag or time out.
pub const POLLED_PEERS: usize = 4;

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
    /// The header rules of the chain (none: linkage only).
    rules: Option<Arc<HeaderRules>>,
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
        }
    }

    /// Judges every header by `rules` (a header breaking one is a violation).
    pub fn with_rules(mut self, rules: Option<Arc<HeaderRules>>) -> Self {
        self.rules = rules;
        self
    }

    /// Where the next round starts: the followed head if it is above the store's head
    /// and still links down to it, otherwise the store's head.
    fn base(&self) -> (Header, B256) {
        let stored = self.store.head();
        match self.chain.head() {
            Some(head) if head.header.number > stored.number => (head.header.clone(), head.hash),
            _ => {
                let hash = stored.hash_slow();
                (stored, hash)
            }
        }
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (base, hash) = self.base();
        let number = base.number;
        self.chain.note_start(number);
        let peers = self.links.peers.clone();
        let quorum = self.config.quorum;
        let chain = self.chain.clone();
        let store = self.store.clone();
        let pool = self.pool.clone();
        let rules = self.rules.clone();
        let known = move |chain: &FollowedChain, hash: &B256| {
            chain.by_hash(hash).is_some() || store.header_by_hash(hash).is_some()
        };
        let round = async move {
            let peers = peers.send(Peers).await.unwrap_or_default();
            let claims = claims(&peers, number);
            chain.note_agreed_claim(agreed_claim(&claims, quorum).max(number));
            let asked = polled_peers(peers, POLLED_PEERS, number, |hash| known(&chain, hash));
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let answers = futures::future::join_all(asked.iter().map(|peer| {
                let client = peer.handle.client();
                let (base, rules) = (&base, rules.as_deref());
                async move { headers_above(&client, base, hash, rules, now).await }
            }))
            .await;
            let chains: Vec<PeerChain> = asked
                .into_iter()
                .zip(answers)
                .filter_map(|(peer, answer)| match answer {
                    Ok(headers) => Some(PeerChain {
                        peer: peer.handle.id,
                        voter: Voter::of(&peer.handle),
                        client: peer.handle.client(),
                        headers,
                    }),
                    Err(error) => {
                        judge(&peer, &error);
                        None
                    }
                })
                .collect();
            let votes: Vec<_> = chains
                .iter()
                .map(|chain| (chain.voter, chain.headers.as_slice()))
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
                act.chain.note_round();
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

/// A violation (a header breaking a rule) disconnects its sender; anything else (a
/// timeout, a peer gone) only leaves it out of the round.
fn judge(peer: &PeerInfo, error: &FollowError) {
    match error {
        FollowError::Rule { .. } => {
            log::info!("follow: {} sent a bad header: {error}", peer.handle.id);
            peer.handle.disconnect.do_send(Disconnect {
                reason: DisconnectReason::SubprotocolSpecific,
            });
        }
        _ => log::debug!("follow: headers from {}: {error}", peer.handle.id),
    }
}

/// The heads eth/69+ peers claim (Status, BlockRangeUpdate) within one poll of `base`:
/// a claim more than [`HEADERS_PER_POLL`] above it cannot be checked this round and is
/// ignored (a liar's claim of block 2^62 counts for nothing).
fn claims(peers: &[PeerInfo], base: u64) -> Vec<(Voter, u64, B256)> {
    let ceiling = base.saturating_add(HEADERS_PER_POLL);
    peers
        .iter()
        .filter_map(|peer| match peer.head {
            PeerHead::Range {
                latest,
                latest_hash,
                ..
            } if latest <= ceiling => Some((Voter::of(&peer.handle), latest, latest_hash)),
            _ => None,
        })
        .collect()
}

/// The highest number `quorum` distinct voters claim to have reached (each voter's
/// highest claim counts once): what `eth_syncing` may report as the highest block.
fn agreed_claim(claims: &[(Voter, u64, B256)], quorum: usize) -> u64 {
    let mut best: std::collections::HashMap<Voter, u64> = std::collections::HashMap::new();
    for (voter, number, _) in claims {
        let entry = best.entry(*voter).or_default();
        *entry = (*entry).max(*number);
    }
    let mut highest: Vec<u64> = best.into_values().collect();
    highest.sort_unstable_by(|a, b| b.cmp(a));
    highest.get(quorum.max(1) - 1).copied().unwrap_or(0)
}

/// Up to `n` peers that may be ahead of `base` (eth/69+ peers whose latest block is above
/// it, eth/68 peers whose best hash we do not know): half the longest-connected, the
/// rest drawn at random, whatever they claim. Peers that are not ahead are never asked,
/// so a synced peer sees no requests from us.
fn polled_peers(
    mut peers: Vec<PeerInfo>,
    n: usize,
    base: u64,
    known: impl Fn(&B256) -> bool,
) -> Vec<PeerInfo> {
    use secp256k1::rand::seq::SliceRandom;
    peers.retain(|peer| match peer.head {
        PeerHead::Range { latest, .. } => latest > base,
        PeerHead::TotalDifficulty { best_hash, .. } => !known(&best_hash),
    });
    peers.sort_by_key(|peer| peer.since);
    let oldest = n.div_ceil(2).min(peers.len());
    let mut rest = peers.split_off(oldest);
    rest.shuffle(&mut secp256k1::rand::rng());
    peers.extend(rest.into_iter().take(n.saturating_sub(oldest)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::peer_id;

    #[test]
    fn the_highest_claim_needs_a_quorum_of_networks() {
        let net = |n: u8| Voter::new(peer_id(n), Some(format!("10.0.{n}.1:1").parse().unwrap()));
        let hash = B256::ZERO;
        // One network claiming 2^62 twice (two keys) and another at 120: quorum 2 gives 120.
        let claims = [
            (net(1), 1 << 62, hash),
            (net(1), 1 << 62, hash),
            (net(2), 120, hash),
        ];
        assert_eq!(agreed_claim(&claims, 2), 120);
        assert_eq!(agreed_claim(&claims, 1), 1 << 62);
        assert_eq!(agreed_claim(&claims, 3), 0);
        assert_eq!(agreed_claim(&[], 2), 0);
    }
}
