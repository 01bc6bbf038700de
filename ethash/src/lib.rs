//! Ethash proof of work, light verification only (no mining dataset): the algorithm
//! ([`LightCache`], `hashimoto_light`) and the seal check of a header
//! ([`EthashVerifier`]) with its bounded per-epoch caches. Pure code, no actors.
//!
//! A crate of its own so that its hot loops can be optimised in debug and test builds
//! (`[profile.dev.package.ethpeer-ethash]` in the workspace manifest): unoptimised,
//! the real mainnet header test (a 30 MiB cache, four seal checks) took 57 s in a debug build.

mod algorithm;
mod verifier;

pub use algorithm::{
    cache_size, dataset_size, epoch, seed_hash, LightCache, PowOutput, EPOCH_LENGTH,
};
pub use verifier::{
    check_seal, meets_difficulty, seal_hash, search_light, EthashVerifier, SealError,
    CACHES_IN_MEMORY, MAX_EPOCH,
};

#[cfg(test)]
mod tests;
