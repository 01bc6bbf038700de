//! One round of following as a plain async function: ask a few peers for headers above our
//! anchor, take the highest block peers on a quorum of networks vouch for, fetch the
//! bodies of what we do not have and recover their senders. What to do with the result
//! (extend, reorg, re-anchor) is the actor's.

use std::sync::Arc;
use std::time::SystemTime;

use actix::Recipient;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Address, B256};

use super::poll::HEADERS_PER_POLL;
use super::poll::{
    agreed_chain, fetch_blocks, fetch_receipts, headers_above, FollowError, PeerChain, Voter,
};
use super::FollowedChain;
use crate::chain::{ChainStore, HeaderRules};
use crate::eth::{EthBlock, PeerHead};
use crate::p2p::DisconnectReason;
use crate::peer::Disconnect;
use crate::peer_set::{PeerInfo, Peers};
use crate::txs::pool::{TxPool, ValidatingTxPool};

/// Peers asked for headers per round: half the longest-connected, half drawn at random,
/// never chosen by what they claim (a liar's claim of block 2^62 buys it nothing). Four
/// makes a quorum of two networks likely even when some peers lag or time out.
pub const POLLED_PEERS: usize = 4;

/// What a round needs.
pub(super) struct RoundInputs {
    pub peers: Recipient<Peers>,
    /// The block headers are asked above (a known block: ours or the store's).
    pub anchor: (Header, B256),
    pub quorum: usize,
    pub chain: Arc<FollowedChain>,
    pub store: Arc<dyn ChainStore>,
    pub pool: Arc<ValidatingTxPool>,
    pub rules: Option<Arc<HeaderRules>>,
    /// Where blocks are executed before they count (the node holds the state): on top of
    /// the quorum, never instead of it.
    pub execute: Option<Recipient<super::ExecuteFollowed>>,
}

/// A checked block with its senders (`None`: one did not recover) and its receipts (when
/// fetched and matching the header).
pub(super) type TakenBlock = (
    B256,
    EthBlock,
    Option<Vec<Address>>,
    Option<Vec<ReceiptEnvelope>>,
);

/// What a round found.
#[derive(Default)]
pub(super) struct RoundOutcome {
    /// The agreed blocks we did not have, in order from the first one.
    pub blocks: Vec<TakenBlock>,
    /// Peers on a quorum of networks claim a block above the anchor that we do not know,
    /// yet no polled peer's headers link to the anchor: our followed chain may be one
    /// nobody extends.
    pub unlinked: bool,
}

/// Runs one round (see the module doc).
pub(super) async fn run(inputs: RoundInputs) -> RoundOutcome {
    let RoundInputs {
        peers,
        anchor: (anchor, anchor_hash),
        quorum,
        chain,
        store,
        pool,
        rules,
        execute,
    } = inputs;
    let known = |hash: &B256| chain.by_hash(hash).is_some() || store.header_by_hash(hash).is_some();
    let peers = peers.send(Peers).await.unwrap_or_default();
    let claims = claims(&peers, anchor.number);
    chain.note_agreed_claim(
        agreed_claim(&claims, quorum).max(chain.head().map_or(0, |h| h.header.number)),
    );
    let ahead: Vec<_> = claims
        .iter()
        .filter(|(_, number, hash)| *number > anchor.number && !known(hash))
        .copied()
        .collect();
    let asked = polled_peers(peers, POLLED_PEERS, anchor.number, &known);
    let chains = ask(asked, &anchor, anchor_hash, rules.as_deref()).await;
    let unlinked = chains.iter().all(|c| c.headers.is_empty()) && agreed_claim(&ahead, quorum) > 0;
    let votes: Vec<_> = chains
        .iter()
        .map(|c| (c.voter, c.headers.as_slice()))
        .collect();
    let Some((index, len)) = agreed_chain(&votes, &claims, quorum) else {
        return RoundOutcome {
            blocks: Vec::new(),
            unlinked,
        };
    };
    let Some(source) = chains.get(index) else {
        return RoundOutcome::default();
    };
    // Bodies only of what we do not have (the anchor sits below our head to see reorgs).
    let agreed = &source.headers[..len];
    let first_new = agreed
        .iter()
        .position(|(hash, _)| !known(hash))
        .unwrap_or(len);
    if first_new == len {
        return RoundOutcome::default();
    }
    let blocks = match fetch_blocks(&source.client, &agreed[first_new..]).await {
        Ok(blocks) => blocks,
        Err(error) => {
            judge_source(source, &error);
            return RoundOutcome::default();
        }
    };
    if let Some(execute) = &execute {
        execute_in_order(execute, source, blocks).await;
        return RoundOutcome::default();
    }
    // Receipts are kept (and served) only when they match each header's receipts root;
    // blocks are taken either way.
    let receipts = match fetch_receipts(&source.client, source.version, &blocks).await {
        Ok(receipts) => receipts.into_iter().map(Some).collect(),
        Err(error) => {
            judge_source(source, &error);
            vec![None; blocks.len()]
        }
    };
    let blocks = with_senders(pool, blocks).await.unwrap_or_default();
    RoundOutcome {
        blocks: blocks
            .into_iter()
            .zip(receipts)
            .map(|((hash, block, senders), receipts)| (hash, block, senders, receipts))
            .collect(),
        unlinked: false,
    }
}

/// Executes `blocks` in order (each is stored when valid, and our head moves with it);
/// stops at the first that cannot be executed; an invalid one disconnects its source.
async fn execute_in_order(
    execute: &Recipient<super::ExecuteFollowed>,
    source: &PeerChain,
    blocks: Vec<(B256, EthBlock)>,
) {
    for (hash, block) in blocks {
        match execute.send(super::ExecuteFollowed(block)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) | Err(_) => return,
            Ok(Err(reason)) => {
                log::info!(
                    "follow: {} sent block {hash} that fails execution: {reason}",
                    source.peer
                );
                source.disconnect.do_send(Disconnect {
                    reason: DisconnectReason::SubprotocolSpecific,
                });
                return;
            }
        }
    }
}

/// Each polled peer's linked headers above the anchor; a peer that breaks a header rule is
/// judged and left out.
async fn ask(
    asked: Vec<PeerInfo>,
    anchor: &Header,
    anchor_hash: B256,
    rules: Option<&HeaderRules>,
) -> Vec<PeerChain> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let answers = futures::future::join_all(asked.iter().map(|peer| {
        let client = peer.handle.client();
        async move { headers_above(&client, anchor, anchor_hash, rules, now).await }
    }))
    .await;
    asked
        .into_iter()
        .zip(answers)
        .filter_map(|(peer, answer)| match answer {
            Ok(headers) => Some(PeerChain {
                peer: peer.handle.id,
                voter: Voter::of(&peer.handle),
                version: peer.handle.version,
                disconnect: peer.handle.disconnect.clone(),
                client: peer.handle.client(),
                headers,
            }),
            Err(error) => {
                judge(&peer, &error);
                None
            }
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

/// A body or receipts answer that contradicts the headers is a violation (disconnected);
/// a missing or late one only costs the round.
fn judge_source(source: &PeerChain, error: &FollowError) {
    match error {
        FollowError::ReceiptsMismatch { .. } | FollowError::BodyMismatch { .. } => {
            log::info!(
                "follow: {} sent blocks that contradict their headers: {error}",
                source.peer
            );
            source.disconnect.do_send(Disconnect {
                reason: DisconnectReason::SubprotocolSpecific,
            });
        }
        _ => log::debug!("follow: blocks from {}: {error}", source.peer),
    }
}

/// The heads eth/69+ peers claim (Status, BlockRangeUpdate) within one poll of `base`:
/// a claim more than [`HEADERS_PER_POLL`] above it cannot be checked this round and is
/// ignored (a liar's claim of block 2^62 counts for nothing).
pub(super) fn claims(peers: &[PeerInfo], base: u64) -> Vec<(Voter, u64, B256)> {
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
pub(super) fn agreed_claim(claims: &[(Voter, u64, B256)], quorum: usize) -> u64 {
    let mut best: std::collections::HashMap<Voter, u64> = std::collections::HashMap::new();
    for (voter, number, _) in claims {
        let entry = best.entry(*voter).or_default();
        *entry = (*entry).max(*number);
    }
    let mut highest: Vec<u64> = best.into_values().collect();
    highest.sort_unstable_by(|a, b| b.cmp(a));
    highest.get(quorum.max(1) - 1).copied().unwrap_or(0)
}

/// Up to `n` peers that may know blocks we do not (eth/69+ peers whose latest block is
/// above `base` and unknown to us, eth/68 peers whose best hash we do not know): half the
/// longest-connected, the rest drawn at random, whatever they claim. A peer on our chain
/// is never asked, so a synced peer sees no requests from us.
fn polled_peers(
    mut peers: Vec<PeerInfo>,
    n: usize,
    base: u64,
    known: &impl Fn(&B256) -> bool,
) -> Vec<PeerInfo> {
    use secp256k1::rand::seq::SliceRandom;
    peers.retain(|peer| match peer.head {
        PeerHead::Range {
            latest,
            latest_hash,
            ..
        } => latest > base && !known(&latest_hash),
        PeerHead::TotalDifficulty { best_hash, .. } => !known(&best_hash),
    });
    peers.sort_by_key(|peer| peer.since);
    let oldest = n.div_ceil(2).min(peers.len());
    let mut rest = peers.split_off(oldest);
    rest.shuffle(&mut secp256k1::rand::rng());
    peers.extend(rest.into_iter().take(n.saturating_sub(oldest)));
    peers
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
