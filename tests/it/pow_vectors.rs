//! The ethereum/tests PoW vector in `pow/ethash_vectors.json` (PoWTests/ethash_tests.json,
//! toy sizes: a 128 KiB cache and dataset): the cache and the full dataset generated from
//! the header's epoch seed, through the library's public ethash API.
//!
//! Its `result` is not checked: the header is a 16-field PoC-era header (a seedHash field
//! before mixHash and nonce), and no seal hash of it (13, 14 or 15 fields, nonce either
//! endianness, or the whole RLP) gives that result under the final Ethash revision that
//! mainnet and geth use. hashimoto is checked instead against go-ethereum's TestHashimoto
//! vector and a real mainnet seal at real epoch sizes (`ethash/src/tests.rs`).

use alloy_primitives::{keccak256, B256};
use alloy_rlp::Header as RlpHeader;
use ethpeer_actors::chain::ethash::{epoch, seed_hash, LightCache};

use crate::common::{json, testdata_or_skip, unhex};

#[test]
fn ethereum_tests_pow_vector_cache_and_dataset() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "pow/ethash_vectors.json");
    let vector = &file["first"];
    let rlp = unhex(vector["header"].as_str().expect("header"));
    // The block number is the header's 9th field; read it without assuming the layout
    // alloy's Header decodes (this header has an extra field).
    let mut payload = rlp.as_slice();
    let list = RlpHeader::decode(&mut payload).expect("list");
    assert!(list.list);
    let mut fields = Vec::new();
    while !payload.is_empty() {
        let start = payload;
        let field = RlpHeader::decode(&mut payload).expect("field");
        let body = &payload[..field.payload_length];
        payload = &payload[field.payload_length..];
        fields.push(if start[0] < 0x80 { &start[..1] } else { body });
    }
    assert_eq!(fields.len(), 16, "PoC-era header with a seedHash field");
    let number = fields[8].iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
    assert_eq!(B256::from_slice(fields[13]), seed_hash(epoch(number)));

    let cache_size = vector["cache_size"].as_u64().expect("cache_size");
    let full_size = vector["full_size"].as_u64().expect("full_size");
    let cache =
        LightCache::with_sizes(&seed_hash(epoch(number)), cache_size, full_size).expect("sizes");
    let hash_of = |key: &str| B256::from_slice(&unhex(vector[key].as_str().expect(key)));
    assert_eq!(keccak256(cache.to_bytes()), hash_of("cache_hash"));
    let items = u32::try_from(full_size / 64).expect("items");
    let dataset: Vec<u8> = (0..items)
        .flat_map(|i| cache.dataset_item(i))
        .flat_map(u32::to_le_bytes)
        .collect();
    assert_eq!(keccak256(dataset), hash_of("dataset_hash"));
}
