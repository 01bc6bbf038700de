//! Ethash vectors: go-ethereum's `consensus/ethash` tests (sizes table, toy-size
//! hashimoto, and a real mainnet header checked at its real epoch sizes). The
//! ethereum/tests PoW vector from the shared test data runs in the root crate's
//! `tests/it/pow_vectors.rs`.

use alloy_consensus::Header;
use alloy_primitives::{address, b256, b64, Bytes, B256, U256};

use super::*;

#[test]
fn sizes_match_geths_tables() {
    // go-ethereum consensus/ethash/sizes.go, cacheSizes[0..7] and datasetSizes[0].
    let caches = [
        16_776_896, 16_907_456, 17_039_296, 17_170_112, 17_301_056, 17_432_512, 17_563_072,
    ];
    for (epoch, want) in caches.iter().enumerate() {
        assert_eq!(cache_size(epoch as u64), Some(*want), "epoch {epoch}");
    }
    assert_eq!(dataset_size(0), Some(1_073_739_904));
    assert_eq!(seed_hash(0), B256::ZERO);
    assert_eq!(seed_hash(1), alloy_primitives::keccak256(B256::ZERO));
}

#[test]
fn toy_hashimoto_matches_geth() {
    // go-ethereum consensus/ethash/algorithm_test.go TestHashimoto: a 1 KiB cache from
    // the zero seed, a 32 KiB dataset.
    let cache = LightCache::with_sizes(&B256::ZERO, 1024, 32 * 1024).expect("sizes");
    let hash = b256!("c9149cc0386e689d789a1c2f3d5d169a61a6218ed30e74414dc736e442ef3d1f");
    let out = cache.hashimoto(&hash, 0);
    assert_eq!(
        out.mix_digest,
        b256!("e4073cffaef931d37117cefd9afd27ea0f1cad6a981dd2605c4a1ac97c519800")
    );
    assert_eq!(
        out.result,
        b256!("d3539235ee2e6f8db665c0a72169f55b7f6c605712330b778ec3944f0eb5a557")
    );
    // And the first bytes of TestCacheGeneration's epoch-0, 1 KiB cache.
    assert_eq!(
        &cache.to_bytes()[..16],
        &hex::decode("7ce2991c951f7bf4c4c1bb119887ee07").expect("hex")[..]
    );
}

#[test]
fn bad_sizes_are_refused() {
    assert!(LightCache::with_sizes(&B256::ZERO, 0, 128).is_none());
    assert!(LightCache::with_sizes(&B256::ZERO, 100, 128).is_none());
    assert!(LightCache::with_sizes(&B256::ZERO, 64, 100).is_none());
}

/// Mainnet block 3,311,058 (epoch 110), from go-ethereum's algorithm_test.go
/// TestConcurrentDiskCacheGeneration ("a heavy enough block, one from mainnet").
fn mainnet_3311058() -> Header {
    Header {
        number: 3_311_058,
        parent_hash: b256!("d783efa4d392943503f28438ad5830b2d5964696ffc285f338585e9fe0a37a05"),
        ommers_hash: b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"),
        beneficiary: address!("c0ea08a2d404d3172d2add29a45be56da40e2949"),
        state_root: b256!("77d14e10470b5850332524f8cd6f69ad21f070ce92dca33ab2858300242ef2f1"),
        transactions_root: b256!(
            "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
        ),
        receipts_root: b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"),
        difficulty: U256::from(167_925_187_834_220u64),
        gas_limit: 4_015_682,
        gas_used: 0,
        timestamp: 1_488_928_920,
        extra_data: Bytes::from_static(b"www.bw.com"),
        mix_hash: b256!("3e140b0784516af5e5ec6730f2fb20cca22f32be399b9e4ad77d32541f798cd0"),
        nonce: b64!("f400cd0006070c49"),
        ..Default::default()
    }
}

#[test]
fn a_real_mainnet_seal_verifies_at_real_epoch_sizes() {
    // The real epoch-110 cache (30 MiB): the one test here that builds a full-size cache.
    let verifier = EthashVerifier::new();
    let header = mainnet_3311058();
    verifier.verify_seal(&header).expect("mainnet seal");
    assert_eq!(verifier.kept_epochs(), vec![110]);

    let mut wrong_nonce = header.clone();
    wrong_nonce.nonce = b64!("f400cd0006070c48");
    assert!(matches!(
        verifier.verify_seal(&wrong_nonce),
        Err(SealError::MixDigest { .. })
    ));
    // Changing any sealed field changes the seal hash, so the mix no longer matches.
    let mut wrong_time = header.clone();
    wrong_time.timestamp += 1;
    assert!(matches!(
        verifier.verify_seal(&wrong_time),
        Err(SealError::MixDigest { .. })
    ));
    // The same mix and nonce cannot carry a harder difficulty than the work done.
    let mut harder = header;
    harder.difficulty = U256::MAX;
    assert!(matches!(
        verifier.verify_seal(&harder),
        Err(SealError::MixDigest { .. }) | Err(SealError::InsufficientWork { .. })
    ));
}

#[test]
fn the_target_is_exact_at_powers_of_two() {
    // 2^256 / 2^17 = 2^239: a result of exactly 2^239 meets difficulty 2^17 (geth divides
    // 2^256, not 2^256 - 1), one more does not.
    let at = B256::from(U256::from(1u8) << 239);
    let above = B256::from((U256::from(1u8) << 239) + U256::from(1u8));
    assert!(meets_difficulty(&at, U256::from(1u64 << 17)));
    assert!(!meets_difficulty(&above, U256::from(1u64 << 17)));
    assert!(meets_difficulty(&B256::repeat_byte(0xff), U256::from(1u8)));
    assert!(!meets_difficulty(&B256::repeat_byte(0xff), U256::from(2u8)));
}

#[test]
fn zero_difficulty_post_merge_fields_and_far_epochs_are_refused() {
    let verifier = EthashVerifier::new();
    let mut header = mainnet_3311058();
    header.difficulty = U256::ZERO;
    assert_eq!(
        verifier.verify_seal(&header),
        Err(SealError::ZeroDifficulty)
    );
    let mut header = mainnet_3311058();
    header.withdrawals_root = Some(B256::ZERO);
    assert_eq!(
        verifier.verify_seal(&header),
        Err(SealError::PostMergeFields)
    );
    let mut header = mainnet_3311058();
    header.number = (MAX_EPOCH + 1) * EPOCH_LENGTH;
    assert_eq!(
        verifier.verify_seal(&header),
        Err(SealError::EpochOutOfRange {
            epoch: MAX_EPOCH + 1
        })
    );
    assert!(verifier.kept_epochs().is_empty(), "nothing was built");
}

#[test]
fn at_most_caches_in_memory_epochs_are_kept() {
    // Toy-size caches (1 KiB), so the test builds four caches in milliseconds.
    let verifier = EthashVerifier::with_builder(|epoch| {
        LightCache::with_sizes(&seed_hash(epoch), 1024, 32 * 1024)
    });
    for epoch in [0, 1, 0, 2] {
        verifier.cache(epoch).expect("cache");
    }
    assert_eq!(
        verifier.kept_epochs(),
        vec![0, 2],
        "1 was least recently used"
    );
    assert_eq!(CACHES_IN_MEMORY, 2);
}

#[test]
fn a_searched_seal_checks_and_a_neighbour_nonce_does_not() {
    // Toy cache and a low difficulty, so the search takes a few tries.
    let cache = LightCache::with_sizes(&B256::ZERO, 1024, 32 * 1024).expect("sizes");
    let mut header = mainnet_3311058();
    header.difficulty = U256::from(64);
    let (nonce, out) = search_light(&cache, &header, 0..10_000)
        .expect("pre-merge header")
        .expect("found within 10,000 tries at difficulty 64");
    header.nonce = nonce.to_be_bytes().into();
    header.mix_hash = out.mix_digest;
    let hash = seal_hash(&header).expect("seal hash");
    assert_eq!(check_seal(&cache, &header, &hash), Ok(out));
    assert!(meets_difficulty(&out.result, header.difficulty));
    header.nonce = (nonce + 1).to_be_bytes().into();
    assert!(matches!(
        check_seal(&cache, &header, &hash),
        Err(SealError::MixDigest { .. })
    ));
}
