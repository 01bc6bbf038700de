//! `ethpeer import`: the ethtest chain into a redb store in a data directory, idempotent,
//! refused for another genesis; the store then serves canonical lookups.

use std::process::Command;

use ethpeer_actors::chain::{ChainStore, RedbChainStore, StoreError, CHAIN_DB_FILE};
use ethpeer_actors::eth::genesis;

use crate::common::testdata_or_skip;

fn import(
    datadir: &std::path::Path,
    genesis: &std::path::Path,
    chain: &std::path::Path,
) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ethpeer"))
        .arg("import")
        .arg("--datadir")
        .arg(datadir)
        .arg("--genesis")
        .arg(genesis)
        .arg(chain)
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn importing_the_ethtest_chain_fills_a_persistent_store() {
    let dir = testdata_or_skip!();
    let datadir = tempfile::tempdir().expect("tempdir");
    let (genesis_file, chain_file) = (
        dir.join("ethtest/genesis.json"),
        dir.join("ethtest/chain.rlp"),
    );
    let (ok, stdout, stderr) = import(datadir.path(), &genesis_file, &chain_file);
    assert!(ok, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
    assert_eq!(summary["imported"], 600);
    assert_eq!(
        summary["head_hash"],
        "0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
    );

    // Again: nothing new.
    let (ok, stdout, _) = import(datadir.path(), &genesis_file, &chain_file);
    assert!(ok);
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON summary");
    assert_eq!(
        (summary["imported"].as_u64(), summary["skipped"].as_u64()),
        (Some(0), Some(600))
    );

    // Reopened, the store serves the chain.
    let spec = genesis::load_genesis(&genesis_file).expect("genesis");
    let header = genesis::genesis_header(&spec).expect("header");
    let store =
        RedbChainStore::open(&datadir.path().join(CHAIN_DB_FILE), &header).expect("reopens");
    assert_eq!(store.head().number, 600);
    let block75 = store.header_by_number(75).expect("block 75");
    assert_eq!(
        store.header_by_hash(&block75.hash_slow()),
        Some(block75.clone())
    );
    assert!(store.body(&block75.hash_slow()).is_some());
    assert_eq!(
        store.total_difficulty(&block75.hash_slow()),
        Some(alloy_primitives::U256::from(0x20000))
    );

    drop(store);

    // Another genesis is refused by the store, naming both hashes...
    let mut other = header.clone();
    other.extra_data = alloy_primitives::Bytes::from_static(b"other");
    match RedbChainStore::open(&datadir.path().join(CHAIN_DB_FILE), &other) {
        Err(StoreError::GenesisMismatch { stored, expected }) => {
            assert_eq!((stored, expected), (header.hash_slow(), other.hash_slow()));
        }
        Err(error) => panic!("expected a genesis mismatch, got {error}"),
        Ok(_) => panic!("a store of another chain was opened"),
    }
    // ...and by `ethpeer import`, in one line of stderr.
    let mut other_spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&genesis_file).expect("genesis"))
            .expect("JSON");
    other_spec["extraData"] = "0x6f74686572".into(); // "other"
    let other_file = datadir.path().join("other-genesis.json");
    std::fs::write(&other_file, other_spec.to_string()).expect("write");
    let (ok, _, stderr) = import(datadir.path(), &other_file, &chain_file);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("store holds genesis"), "{stderr}");
}

#[test]
fn a_chain_that_does_not_extend_the_genesis_is_refused() {
    let dir = testdata_or_skip!();
    let datadir = tempfile::tempdir().expect("tempdir");
    // A chain file whose first block is block 2: its parent is unknown.
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain");
    let blocks = ethpeer_actors::chain::read_chain_file(&bytes).expect("decodes");
    let tail: Vec<u8> = blocks[1..].iter().flat_map(alloy_rlp::encode).collect();
    let tail_file = datadir.path().join("tail.rlp");
    std::fs::write(&tail_file, tail).expect("write");
    let (ok, _, stderr) = import(
        &datadir.path().join("data"),
        &dir.join("ethtest/genesis.json"),
        &tail_file,
    );
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown parent"), "{stderr}");
}
