//! [`KnownSet`]: what a peer is known to have, in 10 bytes per hash. Each hash is reduced
//! to a 48-bit SipHash-1-3 digest under a key drawn at random once per process, kept in a
//! ring (oldest evicted first once full) with an open-addressing table of 16-bit ring
//! positions at most half full. A hash not in a full set of 32,768 matches one of its
//! digests with probability 32,768 / 2^48 (1.2e-10: at mainnet's ~20 tx/s to 50 peers,
//! one transaction wrongly taken as known every few centuries), and a remote cannot aim
//! for that without the key, so it cannot make us skip sending it a transaction. geth
//! keeps 32,768 tx hashes per peer as full 32-byte keys in a map; this costs about a
//! tenth of that (see the `known_sets` bench).

use std::hash::Hasher;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The keyed 48-bit digest of `hash` (in a u64's low bits).
fn digest(hash: &B256) -> u64 {
    let (k0, k1) = key();
    let mut hasher = SipHasher13::new_with_keys(k0, k1);
    hasher.write(hash.as_slice());
    hasher.finish() & DIGEST_MASK
}

/// The digest's 48 bits.
const DIGEST_MASK: u64 = (1 << 48) - 1;

/// A digest as stored: three 16-bit words (6 bytes, 2-aligned: no padding in the ring).
type Packed = [u16; 3];

fn pack(digest: u64) -> Packed {
    // Truncations intended: each word takes its 16 bits.
    [digest as u16, (digest >> 16) as u16, (digest >> 32) as u16]
}

#[cfg(test)]
fn unpack(packed: Packed) -> u64 {
    u64::from(packed[0]) | u64::from(packed[1]) << 16 | u64::from(packed[2]) << 32
}

/// A hash's digest, computed once to look it up in many peers' sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownDigest(Packed);

impl KnownDigest {
    /// The digest of `hash`.
    pub fn of(hash: &B256) -> Self {
        Self(pack(digest(hash)))
    }
}

/// Hashes a set holds at most: ring positions are 16-bit in the index table, one value
/// reserved for an empty slot. geth's largest known cache is 32,768.
pub const MAX_KNOWN_CAPACITY: usize = u16::MAX as usize;

/// An empty slot of the index table.
const EMPTY: u16 = u16::MAX;

/// The least load, in 64ths of the table, at which a filling set doubles its table (3/8).
/// Each set draws its own load between this and [`GROW_LOAD_MAX`], so sets filled by the
/// same hashes (every peer of a busy node sees every tx) do not all rebuild in one routing
/// round: at 500 peers, one set size for all made a 20-80 ms stall on the coordinating
/// thread at each doubling (the arrivals bench's timeline), now spread over a quarter of
/// the time between doublings.
const GROW_LOAD_MIN: usize = 24;

/// The greatest such load (1/2: linear probing's usual bound, and the load of a full set).
const GROW_LOAD_MAX: usize = 32;

/// Which load the next set draws (sets take the loads in turn).
static NEXT_GROW_LOAD: AtomicUsize = AtomicUsize::new(0);

/// A bounded set of hashes (see the module doc).
pub struct KnownSet {
    /// Digests in insertion order; once full, `next` is the oldest.
    ring: Vec<Packed>,
    /// Where the next digest goes (and, once full, the oldest one is).
    next: usize,
    capacity: usize,
    /// Open addressing (linear probing) from a digest's high bits to its position in
    /// `ring`; a power of two at least twice the ring's length, grown with it.
    slots: Vec<u16>,
    /// The load (in 64ths) at which this set's table doubles while it fills.
    grow_load: usize,
}

impl std::fmt::Debug for KnownSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KnownSet({}/{})", self.ring.len(), self.capacity)
    }
}

impl KnownSet {
    /// An empty set holding at most `capacity` hashes (at least one, at most
    /// [`MAX_KNOWN_CAPACITY`]).
    pub fn new(capacity: usize) -> Self {
        let spread = GROW_LOAD_MAX - GROW_LOAD_MIN + 1;
        let turn = NEXT_GROW_LOAD.fetch_add(1, Ordering::Relaxed) % spread;
        Self::with_grow_load(capacity, GROW_LOAD_MIN + turn)
    }

    /// [`Self::new`] with a given growth load (in 64ths, within the two bounds).
    fn with_grow_load(capacity: usize, grow_load: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_KNOWN_CAPACITY);
        Self {
            ring: Vec::new(),
            next: 0,
            capacity,
            slots: Vec::new(),
            grow_load: grow_load.clamp(GROW_LOAD_MIN, GROW_LOAD_MAX),
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
        self.find(digest.0).is_some()
    }

    /// [`Self::insert`] for a digest computed once.
    pub fn insert_digest(&mut self, digest: KnownDigest) -> bool {
        let d = digest.0;
        if self.find(d).is_some() {
            return false;
        }
        if self.ring.len() < self.capacity {
            // Filling up: grow with what is used, so idle peers cost little.
            self.ring.push(d);
            if self.slots.len() < self.max_slots()
                && self.ring.len() * 64 > self.slots.len() * self.grow_load
            {
                self.rehash();
            } else {
                self.place(self.ring.len() - 1);
            }
        } else {
            let at = self.next;
            if let Some(slot) = self.find(self.ring[at]) {
                self.remove_slot(slot);
            }
            self.ring[at] = d;
            self.place(at);
            self.next = (self.next + 1) % self.capacity;
        }
        true
    }

    /// How many hashes it holds.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The table's final size: the power of two at least twice the capacity.
    fn max_slots(&self) -> usize {
        (self.capacity * 2).next_power_of_two().max(16)
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// A digest's first slot: its bits 32-47 (the table has at most 2^16 slots; the low
    /// bits pick nothing else, and the digests are uniform under the secret key).
    fn home(&self, digest: Packed) -> usize {
        usize::from(digest[2]) & self.mask()
    }

    /// The slot holding `digest`'s ring position, if it is in the set.
    fn find(&self, digest: Packed) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut slot = self.home(digest);
        loop {
            let at = self.slots[slot];
            if at == EMPTY {
                return None;
            }
            if self.ring[usize::from(at)] == digest {
                return Some(slot);
            }
            slot = (slot + 1) & self.mask();
        }
    }

    /// Indexes ring position `at` (its digest not yet indexed; the table has room).
    fn place(&mut self, at: usize) {
        let mut slot = self.home(self.ring[at]);
        while self.slots[slot] != EMPTY {
            slot = (slot + 1) & self.mask();
        }
        // `at` < capacity <= MAX_KNOWN_CAPACITY < EMPTY.
        self.slots[slot] = u16::try_from(at).unwrap_or(EMPTY);
    }

    /// Empties `slot`, shifting later entries of its probe run back (no tombstones, so
    /// lookups stay short however long the set churns).
    fn remove_slot(&mut self, slot: usize) {
        let mask = self.mask();
        let mut hole = slot;
        let mut next = (slot + 1) & mask;
        loop {
            let at = self.slots[next];
            if at == EMPTY {
                break;
            }
            let home = self.home(self.ring[usize::from(at)]);
            // It may move back into the hole if the hole lies between its home and it.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.slots[hole] = at;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.slots[hole] = EMPTY;
    }

    /// Doubles the table (at least 16 slots, at most the final size), makes the ring
    /// room for what the table can index before it doubles again (so filling the ring
    /// copies it only here), and indexes it again.
    fn rehash(&mut self) {
        // Growth is checked at every insert, so one doubling always makes room.
        let size = (self.slots.len() * 2).clamp(16, self.max_slots());
        let room = (size / 2).min(self.capacity);
        self.ring
            .reserve_exact(room.saturating_sub(self.ring.len()));
        self.slots = vec![EMPTY; size];
        for at in 0..self.ring.len() {
            self.place(at);
        }
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

    /// Against a plain model (a deque of the last `capacity` hashes): every insert's answer
    /// and every membership agree while the set churns through many evictions, at sizes
    /// around the table's growth steps.
    #[test]
    fn it_agrees_with_a_model_through_long_churn() {
        use std::collections::VecDeque;
        for capacity in [1, 2, 7, 8, 9, 100, 1_024] {
            let mut set = KnownSet::new(capacity);
            let mut model: VecDeque<u64> = VecDeque::new();
            // A deterministic mix of new hashes and repeats of recent ones.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for _ in 0..(capacity * 20).max(200) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let n = if x.is_multiple_of(3) && !model.is_empty() {
                    model[(x as usize / 3) % model.len()]
                } else {
                    x % 1_000_000
                };
                let fresh = !model.contains(&n);
                assert_eq!(set.insert(&hash(n)), fresh, "capacity {capacity}");
                if fresh {
                    model.push_back(n);
                    if model.len() > capacity {
                        model.pop_front();
                    }
                }
                assert_eq!(set.len(), model.len());
            }
            for n in &model {
                assert!(set.contains(&hash(*n)), "capacity {capacity}: {n} lost");
            }
        }
    }

    #[test]
    fn sets_filled_by_the_same_hashes_rebuild_at_different_sizes() {
        let mut sets: Vec<KnownSet> = (GROW_LOAD_MIN..=GROW_LOAD_MAX)
            .map(|load| KnownSet::with_grow_load(32_768, load))
            .collect();
        // What `new` draws is one of those loads.
        assert!((GROW_LOAD_MIN..=GROW_LOAD_MAX).contains(&KnownSet::new(1).grow_load));
        let mut grew_at: Vec<Vec<usize>> = vec![Vec::new(); sets.len()];
        for n in 0..32_768u64 {
            for (set, grew) in sets.iter_mut().zip(&mut grew_at) {
                let before = set.slots.len();
                set.insert(&hash(n));
                if set.slots.len() != before {
                    grew.push(set.len());
                }
                // Never past half full, so probes stay short.
                assert!(set.len() * 2 <= set.slots.len());
            }
        }
        // Nine loads: the doublings to 16,384 slots come at nine different lengths,
        // between 3/8 and 1/2 of the old table (8,192 slots).
        let to_16k: std::collections::HashSet<usize> =
            grew_at.iter().map(|g| g[g.len() - 3]).collect();
        assert_eq!(to_16k.len(), 9, "{to_16k:?}");
        assert!(to_16k.iter().all(|len| (3_072..=4_097).contains(len)));
        for set in &sets {
            assert_eq!(set.slots.len(), 65_536, "the final table");
            assert_eq!(
                set.ring.capacity(),
                32_768,
                "the ring grew only at rehashes"
            );
            assert!(set.contains(&hash(0)) && set.contains(&hash(32_767)));
        }
    }

    #[test]
    fn a_capacity_past_the_index_width_is_clamped() {
        let set = KnownSet::new(1 << 20);
        assert_eq!(
            format!("{set:?}"),
            format!("KnownSet(0/{MAX_KNOWN_CAPACITY})")
        );
    }

    #[test]
    fn digests_pack_into_six_bytes_and_back() {
        assert_eq!(std::mem::size_of::<Packed>(), 6);
        for d in [0, 1, DIGEST_MASK, 0x1234_5678_9abc, 0xffff_0000_ffff] {
            assert_eq!(unpack(pack(d)), d);
        }
        assert_eq!(digest(&hash(7)) & !DIGEST_MASK, 0);
    }
}
