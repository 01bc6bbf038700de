//! Chain data outside the wire protocol: the chain store, serving requests from it,
//! reading RLP chain files (geth `export` format), checking what can be checked without
//! executing blocks, executing imported chains for their receipts, and summarising a chain.

pub mod difficulty;
mod execute;
pub mod header_rules;
mod info;
mod policy;
mod pow;
mod redb_store;
mod rlp_file;
pub mod serve;
mod store;
mod validate;

/// Ethash light verification (its own crate, optimised in test builds).
pub use ethpeer_ethash as ethash;
pub use execute::{BuiltBlock, CallOutcome, CallRequest, ChainExecutor, ExecutionError};
pub use header_rules::{HeaderRuleError, HeaderRules};
pub use info::{chain_info, ChainInfo, ChainInfoError, ForkIdJson};
pub use policy::BlockPolicy;
pub use pow::{check_pow_block, PowBlockError, ALLOWED_FUTURE_SECONDS, MAX_EXTRA_DATA};
pub use redb_store::{RedbChainStore, CHAIN_DB_FILE};
pub use rlp_file::{read_chain_file, verify_block, verify_chain, ChainFileError};
pub use store::{ChainStore, MemoryChainStore, StoreError};
pub use validate::{validate_block, BlockError, GAS_LIMIT_BOUND_DIVISOR, MIN_GAS_LIMIT};
