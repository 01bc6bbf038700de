//! Building a block on top of the executor's head from candidate transactions, as a dev
//! network's producer does (geth `--dev`): the transactions are executed one by one, in
//! the order given, on a copy of the state; one that fails or does not fit the gas left is
//! skipped; the header gets every field of the active fork from the result (state,
//! receipts and requests roots, logs bloom, gas and blob gas used, base fee, excess blob
//! gas). The executor moves to the new block only when it was built.

use std::borrow::Cow;

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{proofs, Header, ReceiptEnvelope, Transaction, TxEnvelope, TxReceipt};
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_evm::block::{BlockExecutor, BlockExecutorFactory};
use alloy_evm::eth::{EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory};
use alloy_evm::{EvmEnv, EvmFactory};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, Bloom, Bytes, B256};
use alloy_trie::EMPTY_ROOT_HASH;

use super::{state_root_of, ChainExecutor, ExecutionError};
use crate::eth::{EthBlock, EthBlockBody};

/// A block the executor built, with what its transactions produced.
#[derive(Debug, Clone)]
pub struct BuiltBlock {
    /// The block (header complete, sealed by its hash).
    pub block: EthBlock,
    /// Each included transaction's receipt.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The included transactions' senders, in block order.
    pub senders: Vec<Address>,
    /// Candidates left out (they failed, or did not fit the gas or blob gas left).
    pub skipped: usize,
}

impl ChainExecutor {
    /// Builds the child of [`Self::head`] at `timestamp` from `candidates` (each with its
    /// sender), paying fees to `beneficiary`, and moves the executor to it.
    pub fn build(
        &mut self,
        timestamp: u64,
        beneficiary: Address,
        candidates: Vec<Recovered<TxEnvelope>>,
    ) -> Result<BuiltBlock, ExecutionError> {
        let template = self.template(timestamp, beneficiary);
        let number = template.number;
        let spec = self.spec();
        let blob_params = self.blob_params_at(timestamp);
        let max_blob_gas = blob_params.map_or(0, |p| p.max_blob_gas_per_block());
        let env = EvmEnv::for_eth_block(&template, &spec, self.config.chain_id, blob_params);
        let factory = EthBlockExecutorFactory::new(
            alloy_evm::eth::receipt_builder::AlloyReceiptBuilder::default(),
            spec.clone(),
            EthEvmFactory::default(),
        );
        let mut db = self.db.clone();
        let evm = factory.evm_factory().create_evm(&mut db, env);
        let withdrawals = template.withdrawals_root.map(|_| Vec::new());
        let ctx = EthBlockExecutionCtx {
            parent_hash: template.parent_hash,
            parent_beacon_block_root: template.parent_beacon_block_root,
            ommers: &[],
            withdrawals: withdrawals.as_deref().map(Cow::Borrowed),
            extra_data: template.extra_data.clone(),
            tx_count_hint: Some(candidates.len()),
            slot_number: None,
        };
        let evm_error = |error: alloy_evm::block::BlockExecutionError| ExecutionError::Evm {
            number,
            message: error.to_string(),
        };
        let mut executor = factory.create_executor(evm, ctx);
        executor.apply_pre_execution_changes().map_err(evm_error)?;
        let (mut included, mut skipped, mut gas, mut blob_gas) = (Vec::new(), 0, 0u64, 0u64);
        for tx in candidates {
            let tx_blob_gas = tx
                .blob_versioned_hashes()
                .map_or(0, |h| h.len() as u64 * DATA_GAS_PER_BLOB);
            let fits = gas.saturating_add(tx.gas_limit()) <= template.gas_limit
                && blob_gas.saturating_add(tx_blob_gas) <= max_blob_gas;
            match fits.then(|| executor.execute_transaction(&tx)) {
                Some(Ok(output)) => {
                    gas = gas.saturating_add(output.tx_gas_used());
                    blob_gas = blob_gas.saturating_add(tx_blob_gas);
                    included.push(tx);
                }
                Some(Err(error)) => {
                    log::debug!("block {number}: skipped {}: {error}", tx.tx_hash());
                    skipped += 1;
                }
                None => skipped += 1,
            }
        }
        let (_, result) = executor.finish().map_err(evm_error)?;
        let transactions: Vec<TxEnvelope> = included.iter().map(|tx| tx.inner().clone()).collect();
        let header = sealed_header(
            template,
            &result,
            state_root_of(&db),
            &transactions,
            blob_gas,
        );
        let hash = header.hash_slow();
        let block = EthBlock {
            header: header.clone(),
            body: EthBlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: withdrawals.map(Into::into),
            },
        };
        self.db = db;
        self.db
            .cache
            .block_hashes
            .insert(alloy_primitives::U256::from(number), hash);
        self.head = header;
        Ok(BuiltBlock {
            block,
            receipts: result.receipts,
            senders: included.iter().map(|tx| tx.signer()).collect(),
            skipped,
        })
    }

    /// An account at the executor's head: balance, nonce and code (an account never
    /// touched is empty).
    pub fn account(&self, address: &Address) -> (alloy_primitives::U256, u64, Bytes) {
        match self.db.cache.accounts.get(address) {
            Some(account) => (
                account.info.balance,
                account.info.nonce,
                account
                    .info
                    .code
                    .as_ref()
                    .map(|code| code.original_bytes())
                    .unwrap_or_default(),
            ),
            None => Default::default(),
        }
    }

    /// A storage slot of `address` at the executor's head (zero when never written).
    pub fn storage(
        &self,
        address: &Address,
        slot: alloy_primitives::U256,
    ) -> alloy_primitives::U256 {
        self.db
            .cache
            .accounts
            .get(address)
            .and_then(|account| account.storage.get(&slot).copied())
            .unwrap_or_default()
    }

    /// The next header's fields that do not depend on its transactions, for the fork
    /// active at `timestamp`.
    fn template(&self, timestamp: u64, beneficiary: Address) -> Header {
        let parent = &self.head;
        let spec = self.spec();
        let shanghai = spec.is_shanghai_active_at_timestamp(timestamp);
        let cancun = spec.is_cancun_active_at_timestamp(timestamp);
        let prague = spec.is_prague_active_at_timestamp(timestamp);
        let excess_blob_gas = self.blob_params_at(timestamp).map(|params| {
            parent
                .next_block_excess_blob_gas(params)
                .unwrap_or_default()
        });
        Header {
            parent_hash: parent.hash_slow(),
            ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
            beneficiary,
            number: parent.number.saturating_add(1),
            gas_limit: parent.gas_limit,
            timestamp,
            extra_data: Bytes::from_static(b"ethpeer"),
            base_fee_per_gas: parent
                .next_block_base_fee(BaseFeeParams::ethereum())
                .or(spec
                    .is_london_active_at_block(parent.number.saturating_add(1))
                    .then_some(alloy_eips::eip1559::INITIAL_BASE_FEE)),
            withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
            blob_gas_used: cancun.then_some(0),
            excess_blob_gas: cancun.then(|| excess_blob_gas.unwrap_or_default()),
            parent_beacon_block_root: cancun.then_some(B256::ZERO),
            requests_hash: prague.then_some(B256::ZERO),
            ..Header::default()
        }
    }
}

/// A message call as `eth_call` and `eth_estimateGas` take it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// The caller (zero when not given, as geth does).
    pub from: Address,
    /// The callee; `None` creates a contract from `data`.
    pub to: Option<Address>,
    /// Gas offered; `None`: the block's gas limit.
    pub gas: Option<u64>,
    /// A legacy gas price.
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Wei sent.
    pub value: alloy_primitives::U256,
    /// Call data or init code.
    pub data: Bytes,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// Returned: gas used and output.
    Success(u64, Bytes),
    /// Reverted: gas used and revert data.
    Revert(u64, Bytes),
    /// Halted (out of gas, invalid opcode, ...): gas used and why.
    Halt(u64, String),
}

impl ChainExecutor {
    /// Runs `request` against the state at the head, in the next block's environment,
    /// without keeping anything (geth's `eth_call`: no nonce check, and no base fee when
    /// no price is given). An invalid call (say, a balance below the value) is an error.
    pub fn call(&self, request: &CallRequest, gas: u64) -> Result<CallOutcome, String> {
        use alloy_evm::Evm;
        let head = &self.head;
        let template = self.template(head.timestamp.saturating_add(1), Address::ZERO);
        let spec = self.spec();
        let blob_params = self.blob_params_at(template.timestamp);
        let mut env = EvmEnv::for_eth_block(&template, &spec, self.config.chain_id, blob_params);
        env.cfg_env.disable_nonce_check = true;
        let price = request.max_fee_per_gas.or(request.gas_price);
        if price.is_none() {
            // geth's NoBaseFee: a call without a price runs with a zero base fee.
            env.block_env.basefee = 0;
        }
        let mut db = self.db.clone();
        let mut evm = EthEvmFactory::default().create_evm(&mut db, env);
        let tx = revm::context::TxEnv {
            tx_type: u8::from(request.max_fee_per_gas.is_some()) * 2,
            caller: request.from,
            gas_limit: gas,
            gas_price: price.unwrap_or(0),
            gas_priority_fee: request.max_priority_fee_per_gas,
            kind: request.to.map_or(
                alloy_primitives::TxKind::Create,
                alloy_primitives::TxKind::Call,
            ),
            value: request.value,
            data: request.data.clone(),
            nonce: self.account(&request.from).1,
            chain_id: Some(self.config.chain_id),
            ..Default::default()
        };
        let outcome = evm.transact(tx).map_err(|e| e.to_string())?;
        Ok(match outcome.result {
            revm::context_interface::result::ExecutionResult::Success { gas, output, .. } => {
                CallOutcome::Success(gas.tx_gas_used(), output.into_data())
            }
            revm::context_interface::result::ExecutionResult::Revert { gas, output, .. } => {
                CallOutcome::Revert(gas.tx_gas_used(), output)
            }
            revm::context_interface::result::ExecutionResult::Halt { gas, reason, .. } => {
                CallOutcome::Halt(gas.tx_gas_used(), format!("{reason:?}"))
            }
        })
    }

    /// The gas limit of the head's next block (what `eth_call` offers by default).
    pub fn block_gas_limit(&self) -> u64 {
        self.head.gas_limit
    }
}

/// `template` completed with what execution produced.
fn sealed_header(
    template: Header,
    result: &alloy_evm::block::BlockExecutionResult<ReceiptEnvelope>,
    state_root: B256,
    transactions: &[TxEnvelope],
    blob_gas: u64,
) -> Header {
    Header {
        gas_used: result.gas_used,
        transactions_root: proofs::calculate_transaction_root(transactions),
        receipts_root: proofs::calculate_receipt_root(&result.receipts),
        logs_bloom: result
            .receipts
            .iter()
            .fold(Bloom::ZERO, |bloom, r| bloom | r.bloom()),
        state_root,
        blob_gas_used: template.blob_gas_used.map(|_| blob_gas),
        requests_hash: template
            .requests_hash
            .map(|_| result.requests.requests_hash()),
        ..template
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::genesis;

    fn recovered(index: usize, nonce: u64) -> Recovered<TxEnvelope> {
        let pooled = genesis::dev_transfer(
            index,
            nonce,
            Address::repeat_byte(0x42),
            alloy_primitives::U256::from(7),
        )
        .unwrap();
        let sender =
            alloy_consensus::transaction::SignerRecoverable::recover_signer(&pooled).unwrap();
        let crate::eth::PooledTx::Eip1559(signed) = pooled else {
            panic!("a dev transfer is EIP-1559")
        };
        Recovered::new_unchecked(TxEnvelope::Eip1559(signed), sender)
    }

    /// A built block is one the ordinary execution path accepts: every root, the gas used,
    /// the bloom and the requests hash agree when a fresh executor checks it.
    #[test]
    fn a_built_block_executes_to_its_own_header() {
        let spec = genesis::dev_genesis();
        let genesis_header = genesis::genesis_header(&spec).unwrap();
        let mut builder = ChainExecutor::new(&spec, genesis_header.clone());
        // Account 0's nonces 0 and 1, account 1's nonce 0, and account 2's nonce 5 (a gap:
        // invalid now, skipped).
        let candidates = vec![
            recovered(0, 0),
            recovered(1, 0),
            recovered(0, 1),
            recovered(2, 5),
        ];
        let built = builder
            .build(genesis_header.timestamp + 1, Address::ZERO, candidates)
            .unwrap();
        assert_eq!(built.block.body.transactions.len(), 3);
        assert_eq!(built.skipped, 1);
        assert_eq!(built.block.header.gas_used, 3 * 21_000);
        assert_eq!(built.block.header.number, 1);
        let rules = crate::chain::HeaderRules::from_config(&spec.config);
        let now = built.block.header.timestamp;
        rules
            .check(&genesis_header, &built.block.header, now)
            .unwrap();
        let mut checker = ChainExecutor::new(&spec, genesis_header);
        let receipts = checker.execute(&built.block).unwrap();
        assert_eq!(receipts, built.receipts);
        assert_eq!(checker.head().hash_slow(), built.block.header.hash_slow());
        // And the next block builds on it.
        let next = builder
            .build(
                built.block.header.timestamp + 1,
                Address::ZERO,
                vec![recovered(0, 2)],
            )
            .unwrap();
        checker.execute(&next.block).unwrap();
        assert_eq!(next.block.header.number, 2);
    }
}
