//! The integration tests' harness, one place for what several feature files need:
//!
//! - this file: the conformance data in `../shared/testdata` and the ethtest chain;
//! - [`binary`]: the `ethpeer` binary as a child process (its log shown when it dies);
//! - [`events`]: a node's events as a channel;
//! - [`poll`]: waiting for a condition that has no notification;
//! - [`heavy`]: the lock that runs the heavy tests one at a time.

pub mod binary;
pub mod events;
pub mod heavy;
pub mod poll;

pub use heavy::heavy;

use std::path::{Path, PathBuf};

/// The conformance data folder: `$ETHPEER_TESTDATA`, else `shared/testdata` in the parent
/// folder of the workspace root (independent of the working directory).
///
/// When it is missing the test is skipped with a notice, unless
/// `ETHPEER_REQUIRE_TESTDATA=1` (as in CI), which makes it fail.
pub fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("ETHPEER_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("shared")
                .join("testdata")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("ETHPEER_REQUIRE_TESTDATA").as_deref() == Ok("1") {
        panic!(
            "test data folder {} is missing and ETHPEER_REQUIRE_TESTDATA=1",
            dir.display()
        );
    }
    eprintln!(
        "notice: skipping, test data folder {} not found (set ETHPEER_TESTDATA)",
        dir.display()
    );
    None
}

/// Reads a JSON file from the test data folder.
pub fn json(dir: &Path, rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Decodes hex with or without `0x`, any case.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap_or_else(|e| panic!("bad hex {s}: {e}"))
}

/// Evaluates to the test data folder, or returns from the test when it is absent.
macro_rules! testdata_or_skip {
    () => {
        match crate::common::testdata() {
            Some(dir) => dir,
            None => return,
        }
    };
}
pub(crate) use testdata_or_skip;

/// The ethtest chain loaded into a memory store, with its Status.
pub struct Ethtest {
    /// The 600 blocks.
    pub blocks: Vec<ethpeer_actors::eth::EthBlock>,
    /// Genesis plus all blocks.
    pub store: std::sync::Arc<ethpeer_actors::chain::MemoryChainStore>,
    /// The chain's Status (network 3503995874084926, fork id 0x377aaa78 at the head).
    pub status: ethpeer_actors::session::ChainStatus,
}

/// Loads `ethtest/` from the test data folder.
pub fn ethtest(dir: &Path) -> Ethtest {
    ethtest_with(dir, false)
}

/// [`ethtest`], with each block's receipts (`receipts`: every block executed from genesis
/// by alloy-evm, about a second) so that the store serves them.
pub fn ethtest_with(dir: &Path, receipts: bool) -> Ethtest {
    use ethpeer_actors::chain::{self, ChainStore, MemoryChainStore};
    use ethpeer_actors::eth::genesis;
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis");
    let header = genesis::genesis_header(&spec).expect("genesis header");
    let genesis_hash = header.hash_slow();
    let store = std::sync::Arc::new(MemoryChainStore::new(header));
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    let mut executor = receipts.then(|| chain::ChainExecutor::new(&spec, store.head()));
    for block in &blocks {
        let receipts = executor
            .as_mut()
            .map(|e| e.execute(block).expect("the ethtest chain executes"));
        store
            .insert_block(block.clone(), receipts)
            .expect("blocks link");
    }
    let forks = genesis::fork_schedule(&spec, genesis_hash);
    let status = ethpeer_actors::session::ChainStatus::from_store(
        spec.config.chain_id,
        forks,
        store.as_ref(),
    );
    Ethtest {
        blocks,
        store,
        status,
    }
}
