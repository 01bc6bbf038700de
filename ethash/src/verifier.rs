//! The ethash seal check of a header (geth `ethash.verifySeal` in light mode) and the
//! per-epoch caches it needs, kept in a small bounded set shared by every caller.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use alloy_consensus::Header;
use alloy_primitives::{keccak256, B256, U256, U512};
use alloy_rlp::{Encodable, Header as RlpHeader};

use super::algorithm::{epoch, LightCache, PowOutput};

/// Epoch caches kept in memory at once: geth keeps 2 (`ethconfig.Defaults.Ethash.
/// CachesInMem`), enough for the current epoch and its neighbour at a boundary.
pub const CACHES_IN_MEMORY: usize = 2;

/// Highest epoch whose cache we build: geth's precomputed size tables stop at 2048 epochs
/// (`maxEpoch` in consensus/ethash/sizes.go; block 61,440,000, a 272 MiB cache). Mainnet
/// stopped mining at epoch 517.
pub const MAX_EPOCH: u64 = 2048;

/// Why a header's seal is not valid proof of work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A difficulty of zero has no target.
    #[error("zero difficulty")]
    ZeroDifficulty,
    /// The header carries post-merge fields (withdrawals, blobs, requests): not ethash.
    #[error("header has post-merge fields")]
    PostMergeFields,
    /// The block's epoch is past [`MAX_EPOCH`].
    #[error("epoch {epoch} past the last supported epoch {MAX_EPOCH}")]
    EpochOutOfRange {
        /// The block's epoch.
        epoch: u64,
    },
    /// The epoch's cache could not be built (size overflow or no memory).
    #[error("no cache for epoch {epoch}")]
    CacheUnavailable {
        /// The block's epoch.
        epoch: u64,
    },
    /// The header's mix hash is not what hashimoto computes for its nonce.
    #[error("mix digest {computed} does not match the header's {claimed}")]
    MixDigest {
        /// What the header claims.
        claimed: B256,
        /// What hashimoto computed.
        computed: B256,
    },
    /// The hashimoto result is above 2^256 / difficulty.
    #[error("result {result} above the target of difficulty {difficulty}")]
    InsufficientWork {
        /// The hashimoto result.
        result: B256,
        /// The header's difficulty.
        difficulty: U256,
    },
}

/// keccak256 of the RLP of `header` without its mix hash and nonce: what is sealed (geth
/// `ethash.SealHash`; includes the base fee after London). Post-merge fields have no place
/// in a proof-of-work header.
pub fn seal_hash(header: &Header) -> Result<B256, SealError> {
    if header.withdrawals_root.is_some()
        || header.blob_gas_used.is_some()
        || header.excess_blob_gas.is_some()
        || header.parent_beacon_block_root.is_some()
        || header.requests_hash.is_some()
    {
        return Err(SealError::PostMergeFields);
    }
    let fields: [&dyn Encodable; 13] = [
        &header.parent_hash,
        &header.ommers_hash,
        &header.beneficiary,
        &header.state_root,
        &header.transactions_root,
        &header.receipts_root,
        &header.logs_bloom,
        &header.difficulty,
        &header.number,
        &header.gas_limit,
        &header.gas_used,
        &header.timestamp,
        &header.extra_data,
    ];
    let base_fee = header.base_fee_per_gas;
    let payload_length = fields.iter().map(|f| f.length()).sum::<usize>()
        + base_fee.as_ref().map_or(0, Encodable::length);
    let mut out = Vec::with_capacity(payload_length + 9);
    RlpHeader {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for field in fields {
        field.encode(&mut out);
    }
    if let Some(fee) = base_fee {
        fee.encode(&mut out);
    }
    Ok(keccak256(out))
}

/// Whether `result` meets `difficulty`: result <= 2^256 / difficulty, computed as
/// result * difficulty <= 2^256 in 512 bits (exact where 2^256 - 1 would be off by one).
pub fn meets_difficulty(result: &B256, difficulty: U256) -> bool {
    let product = U512::from_be_slice(result.as_slice())
        .saturating_mul(U512::from_be_slice(&difficulty.to_be_bytes::<32>()));
    product <= U512::from(1u8) << 256
}

/// One epoch's cache, built once by whoever asks first (others wait for it).
type CacheSlot = Arc<OnceLock<Option<Arc<LightCache>>>>;

/// Light ethash verification with at most [`CACHES_IN_MEMORY`] epoch caches, least
/// recently used dropped first. Building a cache takes about a second: call
/// [`Self::verify_seal`] on a blocking thread, never on one serving peers.
#[derive(Debug)]
pub struct EthashVerifier {
    /// (epoch, cache), most recently used last.
    caches: Mutex<VecDeque<(u64, CacheSlot)>>,
    /// Builds an epoch's cache: [`LightCache::for_epoch`] except in toy-size tests.
    build: fn(u64) -> Option<LightCache>,
}

impl Default for EthashVerifier {
    fn default() -> Self {
        Self::with_builder(LightCache::for_epoch)
    }
}

impl EthashVerifier {
    /// A verifier with no cache built yet, building real epoch caches.
    pub fn new() -> Self {
        Self::default()
    }

    /// A verifier whose epoch caches come from `build` (toy sizes for tests, as the
    /// ethereum/tests and geth vectors use).
    pub fn with_builder(build: fn(u64) -> Option<LightCache>) -> Self {
        Self {
            caches: Mutex::new(VecDeque::new()),
            build,
        }
    }

    /// The cache of `epoch`, built now if it is not kept.
    pub fn cache(&self, epoch: u64) -> Result<Arc<LightCache>, SealError> {
        if epoch > MAX_EPOCH {
            return Err(SealError::EpochOutOfRange { epoch });
        }
        let slot = {
            let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
            let slot = match caches.iter().position(|(e, _)| *e == epoch) {
                Some(i) => caches.remove(i).map(|(_, slot)| slot).unwrap_or_default(),
                None => CacheSlot::default(),
            };
            caches.push_back((epoch, slot.clone()));
            while caches.len() > CACHES_IN_MEMORY {
                caches.pop_front();
            }
            slot
        };
        slot.get_or_init(|| {
            let started = std::time::Instant::now();
            let cache = (self.build)(epoch).map(Arc::new);
            log::info!(
                "ethash cache for epoch {epoch} built in {:?}",
                started.elapsed()
            );
            cache
        })
        .clone()
        .ok_or(SealError::CacheUnavailable { epoch })
    }

    /// Epochs whose caches are kept, least recently used first.
    pub fn kept_epochs(&self) -> Vec<u64> {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.iter().map(|(e, _)| *e).collect()
    }

    /// Checks `header`'s mix hash and nonce against its difficulty (geth `verifySeal`).
    pub fn verify_seal(&self, header: &Header) -> Result<PowOutput, SealError> {
        if header.difficulty.is_zero() {
            return Err(SealError::ZeroDifficulty);
        }
        let hash = seal_hash(header)?;
        let cache = self.cache(epoch(header.number))?;
        check_seal(&cache, header, &hash)
    }
}

/// Checks `header` (whose seal hash is `hash`) with the cache of its epoch.
pub fn check_seal(
    cache: &LightCache,
    header: &Header,
    hash: &B256,
) -> Result<PowOutput, SealError> {
    let nonce = u64::from_be_bytes(header.nonce.0);
    let output = cache.hashimoto(hash, nonce);
    if output.mix_digest != header.mix_hash {
        return Err(SealError::MixDigest {
            claimed: header.mix_hash,
            computed: output.mix_digest,
        });
    }
    if !meets_difficulty(&output.result, header.difficulty) {
        return Err(SealError::InsufficientWork {
            result: output.result,
            difficulty: header.difficulty,
        });
    }
    Ok(output)
}

/// Tries each nonce in `nonces` on `header` (every field but mix hash and nonce set) with
/// its epoch's `cache`; the first nonce that meets the difficulty, with its output. Each
/// try is one light hashimoto (about a millisecond), so this makes test fixtures at the
/// protocol's minimum difficulty; it does not mine a live chain.
pub fn search_light(
    cache: &LightCache,
    header: &Header,
    nonces: std::ops::Range<u64>,
) -> Result<Option<(u64, PowOutput)>, SealError> {
    if header.difficulty.is_zero() {
        return Err(SealError::ZeroDifficulty);
    }
    let hash = seal_hash(header)?;
    Ok(nonces
        .map(|nonce| (nonce, cache.hashimoto(&hash, nonce)))
        .find(|(_, out)| meets_difficulty(&out.result, header.difficulty)))
}
