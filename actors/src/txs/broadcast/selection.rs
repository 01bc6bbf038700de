//! Which peers get a sender's transactions in full: geth's rule (PR #29034) of sorting
//! peers by a keyed SipHash of (our id, peer id, sender) and taking the first ⌈√n⌉, so that
//! one account's transactions always take the same paths and arrive without nonce gaps.

use alloy_primitives::{keccak256, Address, B256};
use siphasher::sip::SipHasher24;
use std::hash::Hasher;

use crate::peer::{PeerHandle, PeerId};

/// Number of peers that get a transaction in full out of `n`: ⌈√n⌉ (geth
/// `BroadcastTransactions`).
pub fn direct_count(n: usize) -> usize {
    let root = n.isqrt();
    if root * root == n {
        root
    } else {
        root + 1
    }
}

/// The keyed choice of direct peers.
#[derive(Clone, Debug)]
pub struct DirectPeerChoice {
    /// Our node id as geth hashes it: keccak256 of the public key (`enode.ID`).
    self_node: B256,
    key: (u64, u64),
    /// Peers' node ids, hashed once (bounded by [`NODE_ID_CACHE`]).
    node_ids: std::cell::RefCell<std::collections::HashMap<PeerId, B256>>,
}

/// Peers whose hashed node id is kept; past it the cache starts over (geth's default of 50
/// peers, with room for the churn of many reconnects).
const NODE_ID_CACHE: usize = 1024;

impl DirectPeerChoice {
    /// A choice for node `self_id` with the secret SipHash `key` (random per node, so other
    /// nodes cannot predict our paths; fixed in tests).
    pub fn new(self_id: PeerId, key: (u64, u64)) -> Self {
        Self {
            self_node: keccak256(self_id),
            key,
            node_ids: Default::default(),
        }
    }

    /// For each of `peers`, whether it is one of the ⌈√n⌉ direct peers for `sender`.
    pub fn direct_mask(&self, sender: &Address, peers: &[PeerHandle]) -> Vec<bool> {
        self.peer_scores(peers).direct_mask(sender)
    }

    /// The scoring of `peers`, prepared once for any number of senders (what a routing
    /// round needs: one sender after another against the same peers).
    pub fn peer_scores(&self, peers: &[PeerHandle]) -> PeerScores {
        PeerScores {
            prefixes: peers.iter().map(|p| self.prefix(&p.id)).collect(),
        }
    }

    /// geth's score: SipHash-2-4 (`github.com/dchest/siphash`) over both 32-byte node ids
    /// (`enode.ID`, keccak256 of the public key) and the sender; the lowest scores win.
    /// This is the hasher with both ids written (64 bytes: whole blocks, nothing
    /// buffered), so a score only adds the sender.
    fn prefix(&self, peer: &PeerId) -> SipHasher24 {
        let node = {
            let mut ids = self.node_ids.borrow_mut();
            if ids.len() >= NODE_ID_CACHE && !ids.contains_key(peer) {
                ids.clear();
            }
            *ids.entry(*peer).or_insert_with(|| keccak256(peer))
        };
        let mut hasher = SipHasher24::new_with_keys(self.key.0, self.key.1);
        hasher.write(self.self_node.as_slice());
        hasher.write(node.as_slice());
        hasher
    }
}

/// Peers' scoring states for [`DirectPeerChoice`], in the order of the peers they came
/// from.
pub struct PeerScores {
    prefixes: Vec<SipHasher24>,
}

impl PeerScores {
    /// For each peer, whether it is one of the ⌈√n⌉ direct peers for `sender`.
    pub fn direct_mask(&self, sender: &Address) -> Vec<bool> {
        let mut ranked: Vec<(u64, usize)> = self
            .prefixes
            .iter()
            .enumerate()
            .map(|(i, prefix)| {
                let mut hasher = *prefix;
                hasher.write(sender.as_slice());
                (hasher.finish(), i)
            })
            .collect();
        let k = direct_count(self.prefixes.len());
        if k < ranked.len() {
            ranked.select_nth_unstable(k);
        }
        let mut mask = vec![false; self.prefixes.len()];
        for (_, i) in ranked.into_iter().take(k) {
            mask[i] = true;
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_count_is_the_ceiling_of_the_square_root() {
        let expected = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 2),
            (5, 3),
            (9, 3),
            (10, 4),
            (50, 8),
            (100, 10),
        ];
        for (n, k) in expected {
            assert_eq!(direct_count(n), k, "n = {n}");
        }
    }
}
