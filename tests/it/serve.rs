//! Serving GetBlockHeaders and GetBlockBodies from the ethtest chain in a memory store.

use alloy_eips::BlockHashOrNumber;
use ethpeer_actors::chain::{serve, ChainStore, MemoryChainStore};
use ethpeer_actors::eth::{EthBlock, GetBlockHeaders};

use crate::common::testdata_or_skip;

fn store(dir: &std::path::Path) -> (std::sync::Arc<MemoryChainStore>, Vec<EthBlock>) {
    let ethtest = crate::common::ethtest(dir);
    (ethtest.store, ethtest.blocks)
}

fn numbers(
    store: &MemoryChainStore,
    start: BlockHashOrNumber,
    limit: u64,
    skip: u64,
    reverse: bool,
) -> Vec<u64> {
    serve::headers(
        store,
        &GetBlockHeaders {
            start_block: start,
            limit,
            skip,
            reverse,
        },
    )
    .iter()
    .map(|h| h.number)
    .collect()
}

#[test]
fn header_requests_walk_the_canonical_chain() {
    let dir = testdata_or_skip!();
    let (store, blocks) = store(&dir);
    assert_eq!(store.head().number, 600);
    let hash1 = blocks[0].header.hash_slow();
    assert_eq!(
        numbers(&store, hash1.into(), 2, 1, false),
        vec![1, 3],
        "by hash of block 1, amount 2, skip 1"
    );
    assert_eq!(
        numbers(&store, 10u64.into(), 3, 2, true),
        vec![10, 7, 4],
        "reverse walk"
    );
    assert_eq!(
        numbers(&store, 2u64.into(), 5, 0, true),
        vec![2, 1, 0],
        "reverse stops at genesis"
    );
    assert_eq!(
        numbers(&store, 598u64.into(), 5, 0, false),
        vec![598, 599, 600],
        "forward stops at the head"
    );
    assert!(
        numbers(&store, u64::MAX.into(), 1, 0, false).is_empty(),
        "2^64-1 is empty, not an error"
    );
    assert!(
        numbers(&store, 599u64.into(), 3, u64::MAX, false) == vec![599],
        "skip overflow ends the walk"
    );
    assert!(
        numbers(
            &store,
            alloy_primitives::B256::repeat_byte(9).into(),
            3,
            0,
            false
        )
        .is_empty(),
        "unknown hash"
    );
    assert_eq!(
        numbers(&store, 0u64.into(), 5000, 0, false).len(),
        601,
        "the whole chain fits under 1024"
    );
    let served = serve::headers(
        store.as_ref(),
        &GetBlockHeaders {
            start_block: 54u64.into(),
            limit: 1,
            skip: 0,
            reverse: false,
        },
    );
    assert_eq!(served, vec![blocks[53].header.clone()]);
}

#[test]
fn body_requests_return_known_bodies_in_order() {
    let dir = testdata_or_skip!();
    let (store, blocks) = store(&dir);
    let (b54, b75) = (&blocks[53], &blocks[74]);
    assert_eq!((b54.header.number, b75.header.number), (54, 75));
    let unknown = alloy_primitives::B256::repeat_byte(7);
    let bodies = serve::bodies(
        store.as_ref(),
        &[b54.header.hash_slow(), unknown, b75.header.hash_slow()],
    );
    assert_eq!(bodies, vec![b54.body.clone(), b75.body.clone()]);
}
