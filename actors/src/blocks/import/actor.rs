//! [`BlockHandler`]: receives block messages from every peer. On a proof-of-work chain a
//! block is checked (header rules, difficulty, then the ethash seal on a blocking thread),
//! relayed in full, imported, then announced, as geth's 2018 block fetcher did.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::{B256, U256};

use crate::blocks::propagation::{AnnounceBlock, PropagateBlock};
use crate::chain::ethash::EthashVerifier;
use crate::chain::{check_pow_block, validate_block, BlockPolicy, ChainStore, PowBlockError};
use crate::eth::{
    BlockHashNumber, BlockRangeUpdate, EthBlock, EthMessage, GetBlockBodies, GetBlockHeaders,
};
use crate::p2p::DisconnectReason;
use crate::peer::{short, ClientError, Disconnect, InboundEth, PeerClient, PeerId};
use crate::peer_set::{BroadcastBlockRange, MarkBlock, PeerHead, UpdatePeerHead};

/// Announced blocks fetched at once at most; further announcements wait for a later one
/// (geth's block fetcher `hashLimit` is 256 per peer).
pub const MAX_CONCURRENT_FETCHES: usize = 64;

/// Blocks whose seals are being checked at once at most; more are dropped until one is done
/// (geth's block fetcher queues at most `blockLimit` = 64 blocks per peer).
pub const MAX_PENDING_SEAL_CHECKS: usize = 64;

/// A peer's block more than this many blocks below our head is dropped unchecked (geth's
/// block fetcher `maxUncleDist`): it cannot become the head, and checking it could make us
/// build the ethash cache of an old epoch.
pub const MAX_UNCLE_DIST: u64 = 7;
/// A peer's block more than this many blocks above our head is dropped unchecked (geth's
/// block fetcher `maxQueueDist`).
pub const MAX_QUEUE_DIST: u64 = 32;

/// Blocks the head must advance before eth/69+ peers get a BlockRangeUpdate (EIP-7642:
/// at most once per 32-block epoch; geth sends it every 32 blocks, or at once if the head
/// goes back).
pub const BLOCK_RANGE_UPDATE_INTERVAL: u64 = 32;

/// Command: import a block produced or received locally (not from a peer); it is announced
/// like any imported block. Answers its total difficulty, or `None` if it was not stored.
#[derive(Debug, Message)]
#[rtype(result = "Option<U256>")]
pub struct ImportBlock(pub EthBlock);

/// Where the handler reports.
#[derive(Clone)]
pub struct BlockHandlerLinks {
    /// Mark blocks known for the peer that sent them.
    pub mark: Recipient<MarkBlock>,
    /// Update the sender's head.
    pub head: Recipient<UpdatePeerHead>,
    /// Propagate blocks that arrived in full (NewBlock).
    pub propagate: Recipient<PropagateBlock>,
    /// Announce blocks after import.
    pub announce: Recipient<AnnounceBlock>,
    /// Tell eth/69+ peers our new block range.
    pub range: Recipient<BroadcastBlockRange>,
}

/// Checks, stores and forwards blocks from peers.
pub struct BlockHandler {
    /// The chain.
    store: Arc<dyn ChainStore>,
    /// Peer set and propagator.
    links: BlockHandlerLinks,
    /// What peers' block broadcasts may do (nothing at all after the merge).
    policy: BlockPolicy,
    /// Hashes being fetched now.
    fetching: HashSet<B256>,
    /// Checks ethash seals (its epoch caches are shared by every check).
    ethash: Arc<EthashVerifier>,
    /// Hashes whose seals are being checked now.
    verifying: HashSet<B256>,
    /// The head number last sent in a BlockRangeUpdate.
    range_sent: u64,
}

impl BlockHandler {
    /// A handler importing into `store` under `policy`.
    pub fn new(store: Arc<dyn ChainStore>, links: BlockHandlerLinks, policy: BlockPolicy) -> Self {
        let range_sent = store.head().number;
        Self {
            store,
            links,
            policy,
            fetching: HashSet::new(),
            ethash: Arc::new(EthashVerifier::new()),
            verifying: HashSet::new(),
            range_sent,
        }
    }

    /// Checks seals with `ethash` (to share its epoch caches with other users).
    pub fn with_ethash(mut self, ethash: Arc<EthashVerifier>) -> Self {
        self.ethash = ethash;
        self
    }
}

impl Actor for BlockHandler {
    type Context = Context<Self>;
}

impl Handler<InboundEth> for BlockHandler {
    type Result = ();

    fn handle(&mut self, msg: InboundEth, ctx: &mut Self::Context) {
        let broadcast = matches!(
            msg.message,
            EthMessage::NewBlock(_) | EthMessage::NewBlockHashes(_)
        );
        if broadcast && !self.takes_broadcasts(&msg) {
            return;
        }
        match msg.message {
            EthMessage::NewBlock(new_block) => {
                let hash = new_block.block.header.hash_slow();
                self.links.mark.do_send(MarkBlock {
                    peer: msg.peer.id,
                    hash,
                });
                let head = PeerHead::TotalDifficulty {
                    td: new_block.td,
                    best_hash: hash,
                };
                self.links.head.do_send(UpdatePeerHead {
                    peer: msg.peer.id,
                    head,
                });
                self.receive(
                    msg.peer.id,
                    new_block.block,
                    msg.peer.disconnect.clone(),
                    ctx,
                );
            }
            EthMessage::NewBlockHashes(announced) => {
                for BlockHashNumber { hash, number } in announced.0 {
                    self.links.mark.do_send(MarkBlock {
                        peer: msg.peer.id,
                        hash,
                    });
                    if self.store.header_by_hash(&hash).is_some()
                        || self.fetching.contains(&hash)
                        || self.fetching.len() >= MAX_CONCURRENT_FETCHES
                    {
                        continue;
                    }
                    self.fetching.insert(hash);
                    let fetch = fetch(msg.peer.client(), hash);
                    let peer = msg.peer.id;
                    let disconnect = msg.peer.disconnect.clone();
                    ctx.spawn(fetch.into_actor(self).map(move |result, act, ctx| {
                        act.fetching.remove(&hash);
                        match result {
                            Ok(block) => act.receive(peer, block, disconnect, ctx),
                            Err(reason) => log::debug!(
                                "peer {}: fetching announced block {number} failed: {reason}",
                                short(&peer)
                            ),
                        }
                    }));
                }
            }
            EthMessage::BlockRangeUpdate(range) => {
                let head = PeerHead::Range {
                    earliest: range.earliest,
                    latest: range.latest,
                    latest_hash: range.latest_hash,
                };
                self.links.head.do_send(UpdatePeerHead {
                    peer: msg.peer.id,
                    head,
                });
            }
            _ => {}
        }
    }
}

impl Handler<ImportBlock> for BlockHandler {
    type Result = Option<U256>;

    fn handle(&mut self, msg: ImportBlock, _ctx: &mut Self::Context) -> Option<U256> {
        let hash = msg.0.header.hash_slow();
        let number = msg.0.header.number;
        let td = self.import_local(msg.0)?;
        if self.relays() {
            self.links.announce.do_send(AnnounceBlock { hash, number });
        }
        Some(td)
    }
}

impl BlockHandler {
    /// Whether blocks are relayed at our head (proof of work before the merge).
    fn relays(&self) -> bool {
        let head = self.store.head().hash_slow();
        let td = self.store.total_difficulty(&head).unwrap_or_default();
        self.policy.relays(td)
    }

    /// Whether a NewBlock/NewBlockHashes from this peer is looked at: after the merge it
    /// is a violation (disconnect 0x10, as geth), under another engine it is ignored.
    fn takes_broadcasts(&self, msg: &InboundEth) -> bool {
        if self.relays() {
            return true;
        }
        let head = self.store.head().hash_slow();
        let td = self.store.total_difficulty(&head).unwrap_or_default();
        if self.policy.is_post_merge(td) {
            log::debug!(
                "peer {}: block broadcast on a post-merge chain",
                short(&msg.peer.id)
            );
            msg.peer.disconnect.do_send(Disconnect {
                reason: DisconnectReason::SubprotocolSpecific,
            });
        } else {
            log::debug!(
                "peer {}: block broadcast ignored (blocks are imported locally only)",
                short(&msg.peer.id)
            );
        }
        false
    }

    /// Sends eth/69+ peers our range when the head moved a whole interval (or went back).
    fn head_moved(&mut self) {
        let head = self.store.head();
        if head.number >= self.range_sent.saturating_add(BLOCK_RANGE_UPDATE_INTERVAL)
            || head.number < self.range_sent
        {
            self.range_sent = head.number;
            // Our stores keep every block from genesis.
            let update = BlockRangeUpdate {
                earliest: 0,
                latest: head.number,
                latest_hash: head.hash_slow(),
            };
            self.links.range.do_send(BroadcastBlockRange(update));
        }
    }

    /// Checks a block from `peer` and, if it passes, relays it in full, imports it and
    /// announces it: the distance and parent look-ups here, the header rules, body roots
    /// and seal on a blocking thread (building an epoch cache takes about a second; peers
    /// are served meanwhile). A sender of an
    /// invalid block gets its error's reaction ([`PowBlockError::disconnect_reason`]).
    fn receive(
        &mut self,
        peer: PeerId,
        block: EthBlock,
        disconnect: Recipient<Disconnect>,
        ctx: &mut Context<Self>,
    ) {
        let hash = block.header.hash_slow();
        let number = block.header.number;
        if self.store.header_by_hash(&hash).is_some() || self.verifying.contains(&hash) {
            return;
        }
        let head = self.store.head().number;
        if number.saturating_add(MAX_UNCLE_DIST) < head
            || number > head.saturating_add(MAX_QUEUE_DIST)
        {
            log::debug!(
                "peer {}: block {number} too far from head {head}",
                short(&peer)
            );
            return;
        }
        let Some(parent) = self.store.header_by_hash(&block.header.parent_hash) else {
            log::debug!(
                "peer {}: block {number} has an unknown parent",
                short(&peer)
            );
            return;
        };
        // Only proof-of-work chains take blocks from peers (see `takes_broadcasts`).
        let BlockPolicy::ProofOfWork { forks, .. } = self.policy else {
            return;
        };
        if self.verifying.len() >= MAX_PENDING_SEAL_CHECKS {
            log::debug!(
                "peer {}: block {number} dropped, seal checks busy",
                short(&peer)
            );
            return;
        }
        self.verifying.insert(hash);
        let ethash = self.ethash.clone();
        let now = unix_now();
        // Header rules, body roots (a trie over every tx) and the seal all run on a blocking
        // thread: none of it holds up the actors sharing this arbiter.
        let check = actix_rt::task::spawn_blocking(move || {
            check_pow_block(&forks, &parent, &block, now)?;
            ethash.verify_seal(&block.header)?;
            Ok::<_, PowBlockError>(block)
        });
        ctx.spawn(check.into_actor(self).map(move |result, act, _| {
            act.verifying.remove(&hash);
            match result {
                Ok(Ok(block)) => act.relay_and_import(peer, block),
                Ok(Err(error)) => refuse(peer, number, &error, &disconnect),
                Err(error) => log::warn!("checks of block {number} did not run: {error}"),
            }
        }));
    }

    /// Relays a fully checked block in full to the square root of the peers lacking it,
    /// stores it, then announces it to the rest (geth's fetcher: `broadcastBlock(block,
    /// true)` after header verification, `broadcastBlock(block, false)` after import).
    fn relay_and_import(&mut self, peer: PeerId, block: EthBlock) {
        let hash = block.header.hash_slow();
        let number = block.header.number;
        if self.store.header_by_hash(&hash).is_some() {
            return; // Another peer's copy got here first.
        }
        let Some(td) = self
            .store
            .total_difficulty(&block.header.parent_hash)
            .and_then(|td| td.checked_add(block.header.difficulty))
        else {
            log::debug!("block {number}: total difficulty unknown or past 2^256");
            return;
        };
        let block = Arc::new(block);
        self.links.propagate.do_send(PropagateBlock {
            block: block.clone(),
            td,
        });
        if self
            .store_block(peer, Arc::unwrap_or_clone(block))
            .is_some()
        {
            self.links.announce.do_send(AnnounceBlock { hash, number });
        }
    }

    /// Checks a locally produced `block` against its stored parent (no seal: it is ours)
    /// and stores it; its total difficulty, or `None` if it is known, its parent is
    /// unknown, or it is invalid.
    fn import_local(&mut self, block: EthBlock) -> Option<U256> {
        let hash = block.header.hash_slow();
        if self.store.header_by_hash(&hash).is_some() {
            return None;
        }
        let number = block.header.number;
        let Some(parent) = self.store.header_by_hash(&block.header.parent_hash) else {
            log::debug!("local block {number} has an unknown parent");
            return None;
        };
        if let Err(error) = validate_block(&parent, &block) {
            log::debug!("invalid local block {number}: {error}");
            return None;
        }
        self.store_block(PeerId::ZERO, block)
    }

    /// Stores a checked block; its total difficulty, or `None` if storing failed.
    fn store_block(&mut self, peer: PeerId, block: EthBlock) -> Option<U256> {
        let number = block.header.number;
        match self.store.insert_block(block, None) {
            Ok(hash) => {
                log::debug!("imported block {number} from peer {}", short(&peer));
                self.head_moved();
                self.store.total_difficulty(&hash)
            }
            Err(error) => {
                log::warn!("storing block {number} failed: {error}");
                None
            }
        }
    }
}

/// Logs why a peer's block was refused and gives the peer its reaction.
fn refuse(peer: PeerId, number: u64, error: &PowBlockError, disconnect: &Recipient<Disconnect>) {
    log::debug!("peer {}: invalid block {number}: {error}", short(&peer));
    if let Some(reason) = error.disconnect_reason() {
        disconnect.do_send(Disconnect { reason });
    }
}

/// Our clock in Unix seconds (0 if it is before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why fetching an announced block failed (the block is then not imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockFetchError {
    /// The request got no typed reply (refused, timed out, peer gone).
    #[error(transparent)]
    Request(#[from] ClientError),
    /// The announcer answered with no header or no body.
    #[error("empty {what} reply")]
    Empty {
        /// "header" or "body".
        what: &'static str,
    },
    /// The header does not hash to the announced hash.
    #[error("header does not hash to the announced hash")]
    WrongHash,
}

/// Fetches an announced block from its announcer: its header by hash, then its body.
async fn fetch(peer: PeerClient, hash: B256) -> Result<EthBlock, BlockFetchError> {
    let headers = peer
        .request(GetBlockHeaders {
            start_block: hash.into(),
            limit: 1,
            skip: 0,
            reverse: false,
        })
        .await?;
    let header = headers
        .into_iter()
        .next()
        .ok_or(BlockFetchError::Empty { what: "header" })?;
    if header.hash_slow() != hash {
        return Err(BlockFetchError::WrongHash);
    }
    let body = peer
        .request(GetBlockBodies(vec![hash]))
        .await?
        .into_iter()
        .next()
        .ok_or(BlockFetchError::Empty { what: "body" })?;
    Ok(EthBlock { header, body })
}
