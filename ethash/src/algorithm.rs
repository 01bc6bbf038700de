//! The Ethash algorithm for light verification (Yellow Paper appendix J; the Ethash spec on
//! the Ethereum wiki): per-epoch sizes, the seed chain, the verification cache
//! (RandMemoHash) and `hashimoto_light`, which computes dataset items from the cache on
//! demand instead of holding the 1+ GiB dataset.

use alloy_primitives::{keccak256, B256};
use sha3::{Digest, Keccak512};

/// Blocks per epoch: the cache and dataset change every 30,000 blocks (`EPOCH_LENGTH`).
pub const EPOCH_LENGTH: u64 = 30_000;
/// Cache size at epoch 0 (`CACHE_BYTES_INIT`, 2^24).
pub const CACHE_BYTES_INIT: u64 = 1 << 24;
/// Cache growth per epoch (`CACHE_BYTES_GROWTH`, 2^17).
pub const CACHE_BYTES_GROWTH: u64 = 1 << 17;
/// Dataset size at epoch 0 (`DATASET_BYTES_INIT`, 2^30).
pub const DATASET_BYTES_INIT: u64 = 1 << 30;
/// Dataset growth per epoch (`DATASET_BYTES_GROWTH`, 2^23).
pub const DATASET_BYTES_GROWTH: u64 = 1 << 23;
/// Bytes of one cache row / dataset item (`HASH_BYTES`: a keccak-512 output).
pub const HASH_BYTES: u64 = 64;
/// Bytes of the mix (`MIX_BYTES`): two dataset items per access.
pub const MIX_BYTES: u64 = 128;
/// Cache rows mixed into each dataset item (`DATASET_PARENTS`).
pub const DATASET_PARENTS: u32 = 256;
/// Passes of RandMemoHash over the cache (`CACHE_ROUNDS`).
pub const CACHE_ROUNDS: usize = 3;
/// Dataset accesses per hashimoto (`ACCESSES`).
pub const ACCESSES: u32 = 64;

/// 32-bit words in a row (64 bytes).
const ROW_WORDS: usize = (HASH_BYTES / 4) as usize;
/// 32-bit words in the mix (128 bytes).
const MIX_WORDS: usize = (MIX_BYTES / 4) as usize;
/// The FNV prime used by Ethash's non-associative mixing (`FNV_PRIME`).
const FNV_PRIME: u32 = 0x0100_0193;

/// One 64-byte row as sixteen little-endian words.
type Row = [u32; ROW_WORDS];

/// Ethash's FNV-1 variant: `(a * prime) ^ b` modulo 2^32.
fn fnv(a: u32, b: u32) -> u32 {
    a.wrapping_mul(FNV_PRIME) ^ b
}

fn keccak512(data: &[u8]) -> [u8; 64] {
    Keccak512::digest(data).into()
}

fn row_from_bytes(bytes: &[u8; 64]) -> Row {
    let mut row = [0u32; ROW_WORDS];
    for (word, chunk) in row.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    row
}

fn row_to_bytes(row: &Row) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(row) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn keccak512_row(row: &Row) -> Row {
    row_from_bytes(&keccak512(&row_to_bytes(row)))
}

/// Whether `n` is prime (trial division; the sizes tested are below 2^27 rows).
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3u64;
    while d.saturating_mul(d) <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// The largest size below `init + growth * epoch - unit` whose count of `unit`s is prime
/// (the spec's `get_cache_size` / `get_full_size`). `None` if it overflows.
fn prime_size(init: u64, growth: u64, epoch: u64, unit: u64) -> Option<u64> {
    let mut size = growth
        .checked_mul(epoch)?
        .checked_add(init)?
        .checked_sub(unit)?;
    while !is_prime(size / unit) {
        size = size.checked_sub(2 * unit)?;
    }
    Some(size)
}

/// The epoch of block `number`.
pub fn epoch(number: u64) -> u64 {
    number / EPOCH_LENGTH
}

/// Size in bytes of the verification cache of `epoch`, or `None` past 2^64 bytes.
pub fn cache_size(epoch: u64) -> Option<u64> {
    prime_size(CACHE_BYTES_INIT, CACHE_BYTES_GROWTH, epoch, HASH_BYTES)
}

/// Size in bytes of the full dataset of `epoch`, or `None` past 2^64 bytes.
pub fn dataset_size(epoch: u64) -> Option<u64> {
    prime_size(DATASET_BYTES_INIT, DATASET_BYTES_GROWTH, epoch, MIX_BYTES)
}

/// The seed of `epoch`: keccak256 applied `epoch` times to 32 zero bytes.
pub fn seed_hash(epoch: u64) -> B256 {
    let mut seed = B256::ZERO;
    for _ in 0..epoch {
        seed = keccak256(seed);
    }
    seed
}

/// The output of hashimoto: the mix digest (a header's `mixHash`) and the result compared
/// with the difficulty target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowOutput {
    /// The compressed mix (must equal the header's mix hash).
    pub mix_digest: B256,
    /// keccak256(seed || mix digest) (must be at most 2^256 / difficulty).
    pub result: B256,
}

/// An epoch's verification cache, enough to compute any dataset item (light verification).
pub struct LightCache {
    /// The cache rows.
    rows: Vec<Row>,
    /// Size in bytes of the dataset this cache stands for.
    dataset_size: u64,
}

impl std::fmt::Debug for LightCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LightCache")
            .field("cache_bytes", &self.size_bytes())
            .field("dataset_size", &self.dataset_size)
            .finish()
    }
}

impl LightCache {
    /// The real cache of `epoch` (16 MiB at epoch 0, growing by 128 KiB per epoch); `None`
    /// if the epoch's sizes overflow. Takes about a second in a release build: call it
    /// off any thread that serves peers.
    pub fn for_epoch(epoch: u64) -> Option<Self> {
        Self::with_sizes(&seed_hash(epoch), cache_size(epoch)?, dataset_size(epoch)?)
    }

    /// A cache of `cache_bytes` from `seed` standing for a dataset of `dataset_bytes`
    /// (test vectors use toy sizes). `None` if a size is not a positive multiple of its
    /// unit (64 bytes for the cache, 128 for the dataset) or does not fit in memory.
    pub fn with_sizes(seed: &B256, cache_bytes: u64, dataset_bytes: u64) -> Option<Self> {
        let n = usize::try_from(cache_bytes / HASH_BYTES).ok()?;
        // Row indices are u32 in the spec (and in `dataset_items`).
        if n == 0
            || u32::try_from(n).is_err()
            || !cache_bytes.is_multiple_of(HASH_BYTES)
            || dataset_bytes < MIX_BYTES
            || !dataset_bytes.is_multiple_of(MIX_BYTES)
        {
            return None;
        }
        let mut rows: Vec<Row> = Vec::new();
        rows.try_reserve_exact(n).ok()?;
        let mut row = row_from_bytes(&keccak512(seed.as_slice()));
        rows.push(row);
        for _ in 1..n {
            row = keccak512_row(&row);
            rows.push(row);
        }
        // RandMemoHash: each row becomes the hash of (previous row XOR a row it names).
        for _ in 0..CACHE_ROUNDS {
            for i in 0..n {
                let previous = rows[(i + n - 1) % n];
                let other = rows[rows[i][0] as usize % n];
                let mut mixed = [0u32; ROW_WORDS];
                for (k, word) in mixed.iter_mut().enumerate() {
                    *word = previous[k] ^ other[k];
                }
                rows[i] = keccak512_row(&mixed);
            }
        }
        Some(Self {
            rows,
            dataset_size: dataset_bytes,
        })
    }

    /// Bytes the cache holds.
    pub fn size_bytes(&self) -> u64 {
        self.rows.len() as u64 * HASH_BYTES
    }

    /// The cache as bytes (rows little-endian, as the spec serialises it).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.rows.iter().flat_map(row_to_bytes).collect()
    }

    /// Dataset item `index`, computed from the cache (`calc_dataset_item`).
    pub fn dataset_item(&self, index: u32) -> Row {
        let [item, _] = self.dataset_items(index, index);
        item
    }

    /// Dataset items `a` and `b` computed together: each item is a chain of 256 dependent
    /// random cache reads, so interleaving two chains overlaps their memory latency (the
    /// light hashimoto reads items in pairs). Measured 6.9 ms per hashimoto one item at a
    /// time on this machine's 16 MiB epoch-0 cache; see the README for the interleaved cost.
    fn dataset_items(&self, a: u32, b: u32) -> [Row; 2] {
        // At most u32::MAX rows (checked when the cache was built).
        let n = self.rows.len() as u32;
        let init = |index: u32| {
            let mut mix = self.rows[(index % n) as usize];
            mix[0] ^= index;
            keccak512_row(&mix)
        };
        let (mut mix_a, mut mix_b) = (init(a), init(b));
        for j in 0..DATASET_PARENTS {
            let word = j as usize % ROW_WORDS;
            let row_a = &self.rows[(fnv(a ^ j, mix_a[word]) % n) as usize];
            let row_b = &self.rows[(fnv(b ^ j, mix_b[word]) % n) as usize];
            for k in 0..ROW_WORDS {
                mix_a[k] = fnv(mix_a[k], row_a[k]);
                mix_b[k] = fnv(mix_b[k], row_b[k]);
            }
        }
        [keccak512_row(&mix_a), keccak512_row(&mix_b)]
    }

    /// Light hashimoto of a header's seal hash (keccak256 of the header without mix hash
    /// and nonce) and its nonce.
    pub fn hashimoto(&self, seal_hash: &B256, nonce: u64) -> PowOutput {
        let mut seed_input = [0u8; 40];
        seed_input[..32].copy_from_slice(seal_hash.as_slice());
        seed_input[32..].copy_from_slice(&nonce.to_le_bytes());
        let seed_bytes = keccak512(&seed_input);
        let seed = row_from_bytes(&seed_bytes);
        let mut mix = [0u32; MIX_WORDS];
        for (i, word) in mix.iter_mut().enumerate() {
            *word = seed[i % ROW_WORDS];
        }
        // Pages of two items; the dataset size is a multiple of 128 bytes (checked).
        let pages = self.dataset_size / MIX_BYTES;
        for i in 0..ACCESSES {
            let page = u64::from(fnv(i ^ seed[0], mix[i as usize % MIX_WORDS])) % pages;
            // `pages` < 2^32 for every epoch below 2^20, and items are u32 in the spec.
            let first = (page * 2) as u32;
            let items = self.dataset_items(first, first.wrapping_add(1));
            for (k, m) in mix.iter_mut().enumerate() {
                *m = fnv(*m, items[k / ROW_WORDS][k % ROW_WORDS]);
            }
        }
        let mut digest = [0u8; 32];
        for (i, chunk) in mix.chunks_exact(4).enumerate() {
            let c = fnv(fnv(fnv(chunk[0], chunk[1]), chunk[2]), chunk[3]);
            digest[i * 4..i * 4 + 4].copy_from_slice(&c.to_le_bytes());
        }
        let mut final_input = [0u8; 96];
        final_input[..64].copy_from_slice(&seed_bytes);
        final_input[64..].copy_from_slice(&digest);
        PowOutput {
            mix_digest: B256::from(digest),
            result: keccak256(final_input),
        }
    }
}
