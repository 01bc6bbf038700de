//! [`BlockPropagator`]: go-ethereum's `BroadcastBlock(propagate)` as an actor.

use std::hash::Hasher;
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::{B256, U256};
use siphasher::sip::SipHasher13;

use crate::eth::{EthBlock, EthVersion};
use crate::peer::{PeerHandle, QueueAnn, QueueProp};
use crate::peer_set::PeersWithoutBlock;
use crate::txs::broadcast::direct_count;

/// Command: propagate a new block: in full to ⌈√n⌉ of the eth <= 68 peers lacking it,
/// announced to the rest.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct PropagateBlock {
    /// The block.
    pub block: Arc<EthBlock>,
    /// Total difficulty including the block.
    pub td: U256,
}

/// Command: announce a block (after import) to every eth <= 68 peer lacking it.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct AnnounceBlock {
    /// The block hash.
    pub hash: B256,
    /// The block number.
    pub number: u64,
}

/// Propagates and announces blocks.
pub struct BlockPropagator {
    /// Lookup-and-mark of the peers lacking a block.
    peers_without_block: Recipient<PeersWithoutBlock>,
    /// Secret SipHash key choosing which peers get a block in full.
    key: (u64, u64),
}

impl BlockPropagator {
    /// A propagator asking `peers_without_block` (the peer set) for recipients.
    pub fn new(peers_without_block: Recipient<PeersWithoutBlock>, key: (u64, u64)) -> Self {
        Self {
            peers_without_block,
            key,
        }
    }

    fn rank(&self, block: &B256, peer: &PeerHandle) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.key.0, self.key.1);
        hasher.write(block.as_slice());
        hasher.write(peer.id.as_slice());
        hasher.finish()
    }
}

impl Actor for BlockPropagator {
    type Context = Context<Self>;
}

impl Handler<PropagateBlock> for BlockPropagator {
    type Result = ();

    fn handle(&mut self, msg: PropagateBlock, ctx: &mut Self::Context) {
        let hash = msg.block.header.hash_slow();
        let query = self.peers_without_block.send(PeersWithoutBlock {
            hash,
            max_version: Some(EthVersion::Eth68),
            mark: true,
        });
        ctx.wait(query.into_actor(self).map(move |result, act, _| {
            let Ok(mut peers) = result else { return };
            // A keyed shuffle: which peers get the block in full is unpredictable to others.
            peers.sort_by_cached_key(|p| act.rank(&hash, p));
            let full = direct_count(peers.len());
            let number = msg.block.header.number;
            for (i, peer) in peers.iter().enumerate() {
                let sent = if i < full {
                    peer.props
                        .try_send(QueueProp {
                            block: msg.block.clone(),
                            td: msg.td,
                        })
                        .is_ok()
                } else {
                    peer.block_anns.try_send(QueueAnn { hash, number }).is_ok()
                };
                if !sent {
                    crate::peer::PeerMetrics::add(&peer.metrics.dropped_mailbox, 1);
                }
            }
            log::debug!(
                "block {number} propagated to {full}, announced to {}",
                peers.len().saturating_sub(full)
            );
        }));
    }
}

impl Handler<AnnounceBlock> for BlockPropagator {
    type Result = ();

    fn handle(&mut self, msg: AnnounceBlock, ctx: &mut Self::Context) {
        let query = self.peers_without_block.send(PeersWithoutBlock {
            hash: msg.hash,
            max_version: Some(EthVersion::Eth68),
            mark: true,
        });
        ctx.wait(query.into_actor(self).map(move |result, _, _| {
            for peer in result.unwrap_or_default() {
                if peer
                    .block_anns
                    .try_send(QueueAnn {
                        hash: msg.hash,
                        number: msg.number,
                    })
                    .is_err()
                {
                    crate::peer::PeerMetrics::add(&peer.metrics.dropped_mailbox, 1);
                }
            }
        }));
    }
}
