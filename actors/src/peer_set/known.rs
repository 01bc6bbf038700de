//! [`KnownSet`]: what a peer is known to have, in 8 bytes per hash. Each hash is reduced
//! to a 64-bit SipHash-1-3 digest under a key drawn at random once per process, kept in a
//! ring (oldest evicted first once full) and a hash set of digests. Two hashes share a
//! digest with probability 2^-64, and a remote cannot aim for that without the key, so it
//! cannot make us skip sending it a transaction. geth keeps 32,768 tx hashes per peer as
//! full 32-byte keys; this costs about a quarter of that (see the `known_sets` bench).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use alloy_primitives::B256;
use siphasher::sip::SipHasher13;

/// The per-process secret key of the digests.
fn key() -> (u64, u64) {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    *KEY.get_or_init(|| {
        let mut bytes = [0u8; 16];
        secp256k1::rand::RngCore::fill_bytes(&mut secp256k1::rand::rng(), &mut bytes);
        let (a, b) = bytes.split_at(8);
        (
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        )
    })
}

/// The keyed 64-bit digest of `hash`.
fn digest(hash: &B256) -> u64 {
    let (k0, k1) = key();
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(hash.as_slice());
    hasher.finish()
}

/// A hash's digest, computed once to look it up in many peers' sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDigest(u64);

impl KnownDigest {
    /// The digest of `hash`.
    pub fn of(hash: &B256) -> Self {
        Self(digest(hash))
    }
}

/// Digests are already keyed and uniform: the set uses them as their own hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A bounded set of hashes (see the module doc).
pub struct KnownSet {
    ring: Vec<u64>,
    /// Where the next digest goes (and, once full, the oldest one is).
    next: usize,
    capacity: usize,
    set: HashSet<u64, BuildHasherDefault<Identity>>,
}

impl std::fmt::Debug for KnownSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KnownSet({}/{})", self.set.len(), self.capacity)
    }
}

impl KnownSet {
    /// An empty set holding at most `capacity` hashes (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            ring: Vec::new(),
            next: 0,
            capacity,
            set: HashSet::default(),
        }
    }

    /// Whether `hash` is in the set.
    pub fn contains(&self, hash: &B256) -> bool {
        self.contains_digest(KnownDigest::of(hash))
    }

    /// Adds `hash`, evicting the oldest when full; `false` if it was there already.
    pub fn insert(&mut self, hash: &B256) -> bool {
        self.insert_digest(KnownDigest::of(hash))
    }

    /// [`Self::contains`] for a digest computed once.
    pub fn contains_digest(&self, digest: KnownDigest) -> bool {
        self.set.contains(&digest.0)
    }

    /// [`Self::insert`] for a digest computed once.
    pub fn insert_digest(&mut self, digest: KnownDigest) -> bool {
        let d = digest.0;
        if !self.set.insert(d) {
            return false;
        }
        if self.ring.len() < self.capacity {
            // Filling up: grow with what is used, so idle peers cost little.
            self.ring.push(d);
        } else {
            let oldest = std::mem::replace(&mut self.ring[self.next], d);
            self.set.remove(&oldest);
            self.next = (self.next + 1) % self.capacity;
        }
        true
    }

    /// How many hashes it holds.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> B256 {
        B256::left_padding_from(&n.to_be_bytes())
    }

    #[test]
    fn it_remembers_the_last_capacity_hashes_and_forgets_the_oldest() {
        let mut set = KnownSet::new(4);
        for n in 0..4 {
            assert!(set.insert(&hash(n)));
        }
        assert!(!set.insert(&hash(2)), "already there");
        assert!(set.insert(&hash(4)));
        assert!(!set.contains(&hash(0)), "the oldest went");
        assert!((1..=4).all(|n| set.contains(&hash(n))));
        assert_eq!(set.len(), 4);
        // Keeps going round the ring.
        for n in 5..100 {
            set.insert(&hash(n));
        }
        assert_eq!(set.len(), 4);
        assert!((96..100).all(|n| set.contains(&hash(n))));
        assert!(!set.contains(&hash(95)));
    }

    #[test]
    fn a_full_set_of_geths_size_holds_exactly_its_capacity() {
        let mut set = KnownSet::new(32_768);
        for n in 0..40_000 {
            set.insert(&hash(n));
        }
        assert_eq!(set.len(), 32_768);
        assert!(set.contains(&hash(39_999)) && !set.contains(&hash(7_231)));
    }
}
