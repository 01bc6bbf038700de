//! One iterative Kademlia lookup (`discv4.md` "Recursive lookup", geth's `lookup.go`):
//! the closest nodes seen so far, which of them were asked, and at most [`ALPHA`]
//! questions in flight. Pure bookkeeping; the state machine sends the packets.

use std::collections::HashSet;
use std::net::SocketAddr;

use alloy_primitives::{keccak256, B256, B512};

use super::table::{closer, BUCKET_SIZE};

/// geth `alpha`: FindNode questions in flight per lookup.
pub const ALPHA: usize = 3;

/// A node a lookup may ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupNode {
    /// Its id.
    pub id: B512,
    /// keccak256(id).
    pub hash: B256,
    /// Discovery endpoint.
    pub udp: SocketAddr,
    /// RLPx port (0: unknown).
    pub tcp: u16,
}

impl LookupNode {
    /// A node at `udp` with RLPx port `tcp`.
    pub fn new(id: B512, udp: SocketAddr, tcp: u16) -> Self {
        Self {
            id,
            hash: keccak256(id),
            udp,
            tcp,
        }
    }
}

/// The state of one lookup.
#[derive(Debug)]
pub struct Lookup {
    /// Ours, to match replies to lookups.
    pub id: u64,
    /// The FindNode target (a public key; distances use its hash).
    pub target: B512,
    target_hash: B256,
    local: B512,
    result: Vec<LookupNode>,
    asked: HashSet<B512>,
    in_flight: usize,
}

impl Lookup {
    /// A lookup of `target` by node `local`, starting from `seeds`.
    pub fn new(
        id: u64,
        target: B512,
        local: B512,
        seeds: impl IntoIterator<Item = LookupNode>,
    ) -> Self {
        let mut lookup = Self {
            id,
            target,
            target_hash: keccak256(target),
            local,
            result: Vec::new(),
            asked: HashSet::new(),
            in_flight: 0,
        };
        for seed in seeds {
            lookup.add(seed);
        }
        lookup
    }

    /// Offers a node found in a reply: kept if it is among the [`BUCKET_SIZE`] closest.
    pub fn add(&mut self, node: LookupNode) {
        if node.id == self.local || self.result.iter().any(|n| n.id == node.id) {
            return;
        }
        let target = self.target_hash;
        let pos = self
            .result
            .partition_point(|n| closer(&target, &n.hash, &node.hash).is_lt());
        if pos < BUCKET_SIZE {
            self.result.insert(pos, node);
            self.result.truncate(BUCKET_SIZE);
        }
    }

    /// The next node to ask, if fewer than [`ALPHA`] questions are in flight; it counts as
    /// asked and in flight from now on.
    pub fn next_to_ask(&mut self) -> Option<LookupNode> {
        if self.in_flight >= ALPHA {
            return None;
        }
        let next = *self.result.iter().find(|n| !self.asked.contains(&n.id))?;
        self.asked.insert(next.id);
        self.in_flight += 1;
        Some(next)
    }

    /// A question was answered (or failed).
    pub fn answered(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Nothing in flight and every node among the closest asked.
    pub fn is_done(&self) -> bool {
        self.in_flight == 0 && self.result.iter().all(|n| self.asked.contains(&n.id))
    }

    /// The closest nodes found, closest first.
    pub fn result(&self) -> &[LookupNode] {
        &self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> LookupNode {
        LookupNode::new(
            B512::repeat_byte(n),
            SocketAddr::from(([127, 0, 0, 1], 1)),
            1,
        )
    }

    #[test]
    fn at_most_alpha_questions_are_in_flight_and_it_ends_when_all_close_ones_answered() {
        let mut lookup = Lookup::new(1, B512::repeat_byte(0), B512::ZERO, (1..=5).map(node));
        let asked: Vec<_> = std::iter::from_fn(|| lookup.next_to_ask()).collect();
        assert_eq!(asked.len(), ALPHA);
        assert!(!lookup.is_done());
        for _ in 0..ALPHA {
            lookup.answered();
        }
        let rest: Vec<_> = std::iter::from_fn(|| lookup.next_to_ask()).collect();
        assert_eq!(rest.len(), 2);
        lookup.answered();
        lookup.answered();
        assert!(lookup.is_done());
    }

    #[test]
    fn it_keeps_only_the_closest_sixteen_without_duplicates_or_self() {
        let local = B512::repeat_byte(200);
        let target = B512::repeat_byte(7);
        let mut lookup = Lookup::new(1, target, local, (0..40).map(node));
        lookup.add(node(3));
        lookup.add(LookupNode::new(
            local,
            SocketAddr::from(([127, 0, 0, 1], 1)),
            1,
        ));
        assert_eq!(lookup.result().len(), BUCKET_SIZE);
        let th = keccak256(target);
        for pair in lookup.result().windows(2) {
            assert!(closer(&th, &pair[0].hash, &pair[1].hash).is_lt());
        }
        assert!(lookup.result().iter().all(|n| n.id != local));
    }
}
