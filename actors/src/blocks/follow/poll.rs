//! One round of following, as plain async functions over peers' typed request clients: ask
//! the best peers for headers above our head, count which (number, hash) pairs enough
//! peers vouch for, fetch the agreed blocks' bodies and check them against the headers'
//! roots.

use std::collections::{HashMap, HashSet};

use alloy_consensus::proofs::calculate_ommers_root;
use alloy_consensus::Header;
use alloy_primitives::B256;

use crate::chain::verify_block;
use crate::eth::{EthBlock, GetBlockBodies, GetBlockHeaders};
use crate::p2p::PeerId;
use crate::peer::{ClientError, PeerClient};

/// Headers asked of each peer per round: geth's downloader `MaxHeaderFetch` (192).
pub const HEADERS_PER_POLL: u64 = 192;
/// Bodies asked per request: geth's downloader `MaxBlockFetch` (128).
pub const BODIES_PER_REQUEST: usize = 128;

/// Why a round took no blocks from a peer.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The request got no typed reply (timeout, peer gone, too many in flight).
    #[error(transparent)]
    Request(#[from] ClientError),
    /// Fewer bodies than asked for.
    #[error("{got} bodies for {asked} headers")]
    MissingBodies {
        /// Bodies received.
        got: usize,
        /// Headers asked about.
        asked: usize,
    },
    /// A body does not match its header's roots.
    #[error("block {number}: body does not match the header: {reason}")]
    BodyMismatch {
        /// The block.
        number: u64,
        /// Which root.
        reason: String,
    },
}

/// A peer's answer: its headers above our head, kept only as far as they link.
pub struct PeerChain {
    /// Who sent it.
    pub peer: PeerId,
    /// Where to ask for bodies.
    pub client: PeerClient,
    /// Headers with their hashes, from our head + 1 upwards.
    pub headers: Vec<(B256, Header)>,
}

/// Asks `peer` for up to [`HEADERS_PER_POLL`] headers from `base_number + 1` and keeps
/// the prefix that links to `base_hash` and to itself.
pub async fn headers_above(
    peer: &PeerClient,
    base_number: u64,
    base_hash: B256,
) -> Result<Vec<(B256, Header)>, FollowError> {
    let headers = peer
        .request(GetBlockHeaders {
            start_block: base_number.saturating_add(1).into(),
            limit: HEADERS_PER_POLL,
            skip: 0,
            reverse: false,
        })
        .await?;
    let mut linked = Vec::new();
    let (mut parent_hash, mut parent_number) = (base_hash, base_number);
    for header in headers {
        if header.parent_hash != parent_hash || Some(header.number) != parent_number.checked_add(1)
        {
            break;
        }
        let hash = header.hash_slow();
        (parent_hash, parent_number) = (hash, header.number);
        linked.push((hash, header));
    }
    Ok(linked)
}

/// The highest block at least `quorum` distinct peers vouch for, through the headers they
/// sent (`chains`: each peer's linked headers above our head) or the head their
/// Status/BlockRangeUpdate claims; as the index of a chain that reaches it and how many of
/// its headers to take. `None` when no block above our head has the quorum.
pub fn agreed_chain(
    chains: &[(PeerId, &[(B256, Header)])],
    claims: &[(PeerId, u64, B256)],
    quorum: usize,
) -> Option<(usize, usize)> {
    let mut votes: HashMap<(u64, B256), HashSet<PeerId>> = HashMap::new();
    for (peer, headers) in chains {
        for (hash, header) in *headers {
            votes
                .entry((header.number, *hash))
                .or_default()
                .insert(*peer);
        }
    }
    for (peer, number, hash) in claims {
        if let Some(voters) = votes.get_mut(&(*number, *hash)) {
            voters.insert(*peer);
        }
    }
    let (number, hash) = votes
        .iter()
        .filter(|(_, voters)| voters.len() >= quorum.max(1))
        .map(|(key, _)| *key)
        .max_by_key(|(number, _)| *number)?;
    chains.iter().enumerate().find_map(|(index, (_, headers))| {
        headers
            .iter()
            .position(|(h, header)| *h == hash && header.number == number)
            .map(|position| (index, position + 1))
    })
}

/// Fetches the bodies of `headers` from `peer` and checks each against its header's
/// transactions, withdrawals and ommers roots.
pub async fn fetch_blocks(
    peer: &PeerClient,
    headers: &[(B256, Header)],
) -> Result<Vec<(B256, EthBlock)>, FollowError> {
    let mut blocks = Vec::with_capacity(headers.len());
    for chunk in headers.chunks(BODIES_PER_REQUEST) {
        let hashes = chunk.iter().map(|(hash, _)| *hash).collect();
        let bodies = peer.request(GetBlockBodies(hashes)).await?;
        if bodies.len() != chunk.len() {
            return Err(FollowError::MissingBodies {
                got: bodies.len(),
                asked: chunk.len(),
            });
        }
        for ((hash, header), body) in chunk.iter().zip(bodies) {
            let block = EthBlock {
                header: header.clone(),
                body,
            };
            let mismatch = |reason: String| FollowError::BodyMismatch {
                number: header.number,
                reason,
            };
            verify_block(&block).map_err(|e| mismatch(e.to_string()))?;
            if calculate_ommers_root(&block.body.ommers) != header.ommers_hash {
                return Err(mismatch("ommers hash".into()));
            }
            blocks.push((*hash, block));
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::peer_id;

    /// A chain of `len` headers above block 10 whose extra data is `fork` from `fork_at` on.
    fn chain(len: u64, fork_at: u64, fork: u8) -> Vec<(B256, Header)> {
        let mut parent = B256::repeat_byte(0x10);
        (11..11 + len)
            .map(|number| {
                let header = Header {
                    number,
                    parent_hash: parent,
                    extra_data: if number >= fork_at {
                        vec![fork].into()
                    } else {
                        Default::default()
                    },
                    ..Header::default()
                };
                parent = header.hash_slow();
                (parent, header)
            })
            .collect()
    }

    #[test]
    fn the_highest_block_two_peers_agree_on_is_taken() {
        let (a, b) = (chain(5, 99, 0), chain(3, 99, 0));
        let chains = [(peer_id(1), a.as_slice()), (peer_id(2), b.as_slice())];
        // Both vouch for 11..=13; only A for 14 and 15.
        assert_eq!(agreed_chain(&chains, &[], 2), Some((0, 3)));
        // B's BlockRangeUpdate claims A's block 15: now two vouch for it.
        let claim = (peer_id(2), 15, a[4].0);
        assert_eq!(agreed_chain(&chains, &[claim], 2), Some((0, 5)));
    }

    #[test]
    fn one_lying_peer_cannot_move_the_head() {
        let (honest, liar) = (chain(2, 99, 0), chain(50, 11, 0xee));
        let chains = [
            (peer_id(1), honest.as_slice()),
            (peer_id(2), liar.as_slice()),
        ];
        assert_eq!(agreed_chain(&chains, &[], 2), None);
        // Its claims of its own blocks count once, whatever it repeats.
        let claims = [(peer_id(2), 60, liar[49].0), (peer_id(2), 60, liar[49].0)];
        assert_eq!(agreed_chain(&chains, &claims, 2), None);
        // A claim for a block nobody sent is no vote.
        let ghost = [(peer_id(1), 70, B256::repeat_byte(7))];
        assert_eq!(agreed_chain(&chains, &ghost, 1), Some((1, 50)));
    }

    #[test]
    fn forks_split_the_votes() {
        let (a, b, c) = (chain(4, 13, 1), chain(4, 13, 2), chain(4, 13, 2));
        let chains = [
            (peer_id(1), a.as_slice()),
            (peer_id(2), b.as_slice()),
            (peer_id(3), c.as_slice()),
        ];
        // All agree up to 12; B and C agree on their fork up to 14.
        let (index, len) = agreed_chain(&chains, &[], 2).expect("agreed");
        assert_eq!(len, 4);
        assert!(index == 1 || index == 2);
        assert_eq!(agreed_chain(&chains, &[], 3), Some((0, 2)));
    }
}
