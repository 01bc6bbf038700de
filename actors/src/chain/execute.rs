//! Executing blocks of a chain we import, so that we can serve their receipts: the genesis
//! alloc in memory, alloy-evm's Ethereum block executor over revm (with every fork's system
//! calls), and the checks that tie the result to the header (gas used, receipts root, logs
//! bloom, requests hash and state root). A block whose execution disagrees with its header
//! yields an error, never receipts.
//!
//! The state lives in memory only: imports execute from genesis (the ethtest chain's 600
//! blocks take well under a second of EVM time). Receipts are built in the post-Byzantium
//! form (status, not an intermediate state root), so an earlier block fails the receipts
//! root check rather than being served wrong.

use std::borrow::Cow;

use alloy_consensus::transaction::{Recovered, SignerRecoverable};
use alloy_consensus::{proofs, Header, TxReceipt};
use alloy_eips::eip7840::BlobParams;
use alloy_eips::eip7892::BlobScheduleBlobParams;
use alloy_evm::block::{BlockExecutionResult, BlockExecutor, BlockExecutorFactory};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory};
use alloy_evm::{EvmEnv, EvmFactory};
use alloy_genesis::{ChainConfig, Genesis};
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, Bloom, B256, U256};
use alloy_trie::{root, TrieAccount, EMPTY_ROOT_HASH, KECCAK_EMPTY};
use revm::bytecode::Bytecode;
use revm::database::{AccountState, CacheDB, EmptyDB};
use revm::state::AccountInfo;

use crate::eth::EthBlock;

#[path = "build.rs"]
mod build;
pub use build::{BuiltBlock, CallOutcome, CallRequest};

/// Why a block could not be executed against its header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutionError {
    /// The block does not follow the last executed one.
    #[error("block {number} does not follow the executed head {head}")]
    NotNext {
        /// The block's number.
        number: u64,
        /// The number of the last block executed.
        head: u64,
    },
    /// The store lacks a canonical block needed to replay the chain up to an import.
    #[error("canonical block {number} is missing from the store")]
    MissingBlock {
        /// The block's number.
        number: u64,
    },
    /// A transaction's signature does not recover.
    #[error("transaction {index} of block {number}: invalid signature")]
    BadSignature {
        /// The block's number.
        number: u64,
        /// The transaction's index in the block.
        index: usize,
    },
    /// The EVM refused the block (an invalid transaction, a failed system call, ...).
    #[error("block {number}: {message}")]
    Evm {
        /// The block's number.
        number: u64,
        /// What the executor said.
        message: String,
    },
    /// Execution produced something other than what the header commits to.
    #[error("block {number}: {field} mismatch: header {expected}, executed {got}")]
    Mismatch {
        /// The block's number.
        number: u64,
        /// Which header field (gas used, receipts root, logs bloom, requests hash, state root).
        field: &'static str,
        /// The header's value.
        expected: String,
        /// The value execution gave.
        got: String,
    },
}

/// The fork schedule and blob parameters of a chain, as the executor asks for them.
#[derive(Debug, Clone)]
struct ExecutionSpec {
    hardforks: EthereumChainHardforks,
    deposit_contract: Option<Address>,
}

impl EthereumHardforks for ExecutionSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.hardforks.ethereum_fork_activation(fork)
    }
}

impl EthExecutorSpec for ExecutionSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        self.deposit_contract
    }
}

/// Executes the blocks of one chain in order, from genesis, keeping the state in memory.
/// A clone is a snapshot of the state at its head.
#[derive(Clone)]
pub struct ChainExecutor {
    config: ChainConfig,
    blob_params: BlobScheduleBlobParams,
    /// The block at which proof of stake took over, once known: at genesis when the
    /// genesis difficulty reaches the terminal total difficulty, else the first executed
    /// block with difficulty 0 (a post-merge header's difficulty is 0, EIP-3675).
    paris_block: Option<u64>,
    db: CacheDB<EmptyDB>,
    head: Header,
}

impl std::fmt::Debug for ChainExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainExecutor")
            .field("chain_id", &self.config.chain_id)
            .field("head", &self.head.number)
            .finish_non_exhaustive()
    }
}

impl ChainExecutor {
    /// An executor whose state is `genesis`'s alloc, at the genesis block `genesis_header`.
    pub fn new(genesis: &Genesis, genesis_header: Header) -> Self {
        let mut db = CacheDB::new(EmptyDB::new());
        for (address, account) in &genesis.alloc {
            let code = account
                .code
                .as_ref()
                .filter(|code| !code.is_empty())
                .map(|code| Bytecode::new_raw(code.clone()));
            let info = AccountInfo {
                balance: account.balance,
                nonce: account.nonce.unwrap_or_default(),
                code_hash: code.as_ref().map_or(KECCAK_EMPTY, Bytecode::hash_slow),
                code,
                ..Default::default()
            };
            db.insert_account_info(*address, info);
            for (slot, value) in account.storage_slots() {
                // Our own alloc: the account was inserted just above.
                let _ = db.insert_account_storage(*address, slot.into(), value);
            }
        }
        db.cache
            .block_hashes
            .insert(U256::ZERO, genesis_header.hash_slow());
        let merged_at_genesis = genesis
            .config
            .terminal_total_difficulty
            .is_some_and(|ttd| genesis.difficulty >= ttd);
        Self {
            blob_params: genesis.config.blob_schedule_blob_params(),
            config: genesis.config.clone(),
            paris_block: merged_at_genesis.then_some(0),
            db,
            head: genesis_header,
        }
    }

    /// An executor at `parent`, a canonical block of `store`, reached by executing every
    /// canonical block from genesis (the state is kept in memory only, so an import that
    /// extends a stored chain replays it first).
    pub fn replayed_to(
        genesis: &Genesis,
        store: &dyn super::ChainStore,
        parent: &Header,
    ) -> Result<Self, ExecutionError> {
        let genesis_header = store
            .header_by_number(0)
            .ok_or(ExecutionError::MissingBlock { number: 0 })?;
        let mut executor = Self::new(genesis, genesis_header);
        for number in 1..=parent.number {
            let missing = || ExecutionError::MissingBlock { number };
            let header = store.header_by_number(number).ok_or_else(missing)?;
            let body = store.body(&header.hash_slow()).ok_or_else(missing)?;
            executor.execute(&EthBlock { header, body })?;
        }
        if executor.head.hash_slow() != parent.hash_slow() {
            return Err(ExecutionError::NotNext {
                number: parent.number,
                head: executor.head.number,
            });
        }
        Ok(executor)
    }

    /// The last block executed (the genesis block at first).
    pub fn head(&self) -> &Header {
        &self.head
    }

    /// Executes `block`, the child of [`Self::head`], checks the result against its header
    /// and returns its receipts; on error the state is left as it was only up to the
    /// failed block's partial writes, so the executor must not be used further.
    pub fn execute(
        &mut self,
        block: &EthBlock,
    ) -> Result<Vec<alloy_consensus::ReceiptEnvelope>, ExecutionError> {
        let header = &block.header;
        let number = header.number;
        if header.parent_hash != self.head.hash_slow() {
            return Err(ExecutionError::NotNext {
                number,
                head: self.head.number,
            });
        }
        if self.paris_block.is_none()
            && header.difficulty.is_zero()
            && self.config.terminal_total_difficulty.is_some()
        {
            self.paris_block = Some(number);
        }
        let result = self.run(block)?;
        check_result(header, &result)?;
        let state_root = self.state_root();
        if state_root != header.state_root {
            return Err(mismatch(
                number,
                "state root",
                header.state_root,
                state_root,
            ));
        }
        self.db
            .cache
            .block_hashes
            .insert(U256::from(number), header.hash_slow());
        self.head = header.clone();
        Ok(result.receipts)
    }

    fn run(
        &mut self,
        block: &EthBlock,
    ) -> Result<BlockExecutionResult<alloy_consensus::ReceiptEnvelope>, ExecutionError> {
        let header = &block.header;
        let number = header.number;
        let mut txs = Vec::with_capacity(block.body.transactions.len());
        for (index, tx) in block.body.transactions.iter().enumerate() {
            let signer = tx
                .recover_signer()
                .map_err(|_| ExecutionError::BadSignature { number, index })?;
            txs.push(Recovered::new_unchecked(tx, signer));
        }
        let spec = self.spec();
        let blob_params = self.blob_params_at(header.timestamp);
        let env = EvmEnv::for_eth_block(header, &spec, self.config.chain_id, blob_params);
        let factory = EthBlockExecutorFactory::new(
            alloy_evm::eth::receipt_builder::AlloyReceiptBuilder::default(),
            spec.clone(),
            EthEvmFactory::default(),
        );
        let evm = factory.evm_factory().create_evm(&mut self.db, env);
        let ctx = EthBlockExecutionCtx {
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            ommers: &block.body.ommers,
            withdrawals: block
                .body
                .withdrawals
                .as_ref()
                .map(|w| Cow::Borrowed(w.as_slice())),
            extra_data: header.extra_data.clone(),
            tx_count_hint: Some(txs.len()),
            slot_number: None,
        };
        factory
            .create_executor(evm, ctx)
            .execute_block(txs.iter())
            .map_err(|error| ExecutionError::Evm {
                number,
                message: error.to_string(),
            })
    }

    /// The fork schedule of the genesis config, with the merge where this chain had it.
    fn spec(&self) -> ExecutionSpec {
        let c = &self.config;
        let block = |at: Option<u64>| at.map(ForkCondition::Block);
        let time = |at: Option<u64>| at.map(ForkCondition::Timestamp);
        let paris = self.paris_block.map(|at| ForkCondition::TTD {
            activation_block_number: at,
            fork_block: c.merge_netsplit_block,
            total_difficulty: c.terminal_total_difficulty.unwrap_or_default(),
        });
        let dao = c.dao_fork_block.filter(|_| c.dao_fork_support);
        let forks = [
            (EthereumHardfork::Frontier, Some(ForkCondition::Block(0))),
            (EthereumHardfork::Homestead, block(c.homestead_block)),
            (EthereumHardfork::Dao, block(dao)),
            (EthereumHardfork::Tangerine, block(c.eip150_block)),
            (EthereumHardfork::SpuriousDragon, block(c.eip158_block)),
            (EthereumHardfork::Byzantium, block(c.byzantium_block)),
            (
                EthereumHardfork::Constantinople,
                block(c.constantinople_block),
            ),
            (EthereumHardfork::Petersburg, block(c.petersburg_block)),
            (EthereumHardfork::Istanbul, block(c.istanbul_block)),
            (EthereumHardfork::MuirGlacier, block(c.muir_glacier_block)),
            (EthereumHardfork::Berlin, block(c.berlin_block)),
            (EthereumHardfork::London, block(c.london_block)),
            (EthereumHardfork::ArrowGlacier, block(c.arrow_glacier_block)),
            (EthereumHardfork::GrayGlacier, block(c.gray_glacier_block)),
            (EthereumHardfork::Paris, paris),
            (EthereumHardfork::Shanghai, time(c.shanghai_time)),
            (EthereumHardfork::Cancun, time(c.cancun_time)),
            (EthereumHardfork::Prague, time(c.prague_time)),
            (EthereumHardfork::Osaka, time(c.osaka_time)),
            (EthereumHardfork::Bpo1, time(c.bpo1_time)),
            (EthereumHardfork::Bpo2, time(c.bpo2_time)),
            (EthereumHardfork::Bpo3, time(c.bpo3_time)),
            (EthereumHardfork::Bpo4, time(c.bpo4_time)),
            (EthereumHardfork::Bpo5, time(c.bpo5_time)),
            (EthereumHardfork::Amsterdam, time(c.amsterdam_time)),
        ];
        ExecutionSpec {
            hardforks: EthereumChainHardforks::new(
                forks
                    .into_iter()
                    .filter_map(|(fork, at)| at.map(|at| (fork, at))),
            ),
            deposit_contract: c.deposit_contract_address,
        }
    }

    /// The blob parameters in force at `timestamp` (EIP-7840 schedule in the genesis config).
    fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        let active = |at: Option<u64>| at.is_some_and(|at| at <= timestamp);
        let c = &self.config;
        if active(c.osaka_time) {
            return Some(
                self.blob_params
                    .active_scheduled_params_at_timestamp(timestamp)
                    .copied()
                    .unwrap_or(self.blob_params.osaka),
            );
        }
        if active(c.prague_time) {
            return Some(self.blob_params.prague);
        }
        active(c.cancun_time).then_some(self.blob_params.cancun)
    }

    /// The state root of the accounts in memory (EIP-161: empty accounts do not exist).
    fn state_root(&self) -> B256 {
        state_root_of(&self.db)
    }
}

/// The state root of the accounts in `db` (EIP-161: empty accounts do not exist).
fn state_root_of(db: &CacheDB<EmptyDB>) -> B256 {
    let accounts = db.cache.accounts.iter().filter_map(|(address, account)| {
        let info = &account.info;
        let gone = matches!(account.account_state, AccountState::NotExisting) || info.is_empty();
        if gone {
            return None;
        }
        let storage = account
            .storage
            .iter()
            .filter(|(_, value)| !value.is_zero())
            .map(|(slot, value)| (B256::from(*slot), *value));
        let storage_root = if account.storage.is_empty() {
            EMPTY_ROOT_HASH
        } else {
            root::storage_root_unhashed(storage)
        };
        Some((
            *address,
            TrieAccount {
                nonce: info.nonce,
                balance: info.balance,
                storage_root,
                code_hash: info.code_hash,
            },
        ))
    });
    root::state_root_unhashed(accounts)
}

/// Gas used, receipts root, logs bloom and requests hash against the header.
fn check_result(
    header: &Header,
    result: &BlockExecutionResult<alloy_consensus::ReceiptEnvelope>,
) -> Result<(), ExecutionError> {
    let number = header.number;
    if result.gas_used != header.gas_used {
        return Err(mismatch(
            number,
            "gas used",
            header.gas_used,
            result.gas_used,
        ));
    }
    let receipts_root = proofs::calculate_receipt_root(&result.receipts);
    if receipts_root != header.receipts_root {
        return Err(mismatch(
            number,
            "receipts root",
            header.receipts_root,
            receipts_root,
        ));
    }
    let bloom = result
        .receipts
        .iter()
        .fold(Bloom::ZERO, |bloom, receipt| bloom | receipt.bloom());
    if bloom != header.logs_bloom {
        return Err(mismatch(number, "logs bloom", header.logs_bloom, bloom));
    }
    if let Some(expected) = header.requests_hash {
        let got = result.requests.requests_hash();
        if got != expected {
            return Err(mismatch(number, "requests hash", expected, got));
        }
    }
    Ok(())
}

fn mismatch(
    number: u64,
    field: &'static str,
    expected: impl std::fmt::Display,
    got: impl std::fmt::Display,
) -> ExecutionError {
    ExecutionError::Mismatch {
        number,
        field,
        expected: expected.to_string(),
        got: got.to_string(),
    }
}
