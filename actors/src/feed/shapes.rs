//! Our data in geth's JSON shapes, through alloy's RPC types: transactions of every type
//! (pending or in a block) and blocks (with transaction hashes or full transactions).

use alloy_consensus::transaction::{Recovered, TransactionInfo};
use alloy_consensus::{EthereumTxEnvelope, Header, Sealed, TxEip4844, TxEnvelope};
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{Block, BlockTransactions};

use crate::eth::EthBlockBody;
use crate::txs::pool::PoolTx;

/// A transaction as RPC shows it: every field of its type (access and authorization
/// lists, blob versioned hashes and fee), `from`, signature fields, block fields.
pub type RpcTx = alloy_rpc_types_eth::Transaction<EthereumTxEnvelope<TxEip4844>>;

/// A block as RPC shows it.
pub type RpcBlock = Block<RpcTx>;

/// A pool transaction: block fields null, `gasPrice` the fee cap (as geth shows a
/// pending dynamic-fee transaction). The blob sidecar is not part of the RPC form.
pub fn pending_tx(tx: &PoolTx) -> RpcTx {
    let envelope: EthereumTxEnvelope<TxEip4844> = tx.tx.clone().into();
    RpcTx::from_transaction(
        Recovered::new_unchecked(envelope, tx.sender),
        TransactionInfo {
            hash: Some(tx.hash),
            ..TransactionInfo::default()
        },
    )
}

/// The `index`th transaction of a block: `gasPrice` is what it paid per gas
/// (`min(tip cap, fee cap - base fee) + base fee`).
pub fn mined_tx(
    tx: &TxEnvelope,
    sender: Address,
    header: &Header,
    hash: B256,
    index: usize,
) -> RpcTx {
    let envelope: EthereumTxEnvelope<TxEip4844> = tx.clone().into();
    RpcTx::from_transaction(
        Recovered::new_unchecked(envelope, sender),
        TransactionInfo {
            hash: Some(*tx.hash()),
            index: Some(index as u64),
            block_hash: Some(hash),
            block_number: Some(header.number),
            base_fee: header.base_fee_per_gas,
            block_timestamp: None,
        },
    )
}

/// A block with transaction hashes, or with full transactions when `senders` is given
/// (one per transaction, in order). `total_difficulty` is shown when known (geth dropped
/// it after the merge; pre-merge blocks have it).
pub fn block(
    header: &Header,
    hash: B256,
    body: &EthBlockBody,
    senders: Option<&[Address]>,
    total_difficulty: Option<U256>,
) -> RpcBlock {
    let size = alloy_rlp::Encodable::length(&alloy_consensus::Block {
        header: header.clone(),
        body: body.clone(),
    }) as u64;
    let transactions = match senders {
        Some(senders) => BlockTransactions::Full(
            body.transactions
                .iter()
                .zip(senders)
                .enumerate()
                .map(|(index, (tx, sender))| mined_tx(tx, *sender, header, hash, index))
                .collect(),
        ),
        None => BlockTransactions::Hashes(body.transactions.iter().map(|tx| *tx.hash()).collect()),
    };
    Block {
        header: alloy_rpc_types_eth::Header::from_consensus(
            Sealed::new_unchecked(header.clone(), hash),
            total_difficulty,
            Some(U256::from(size)),
        ),
        uncles: body.ommers.iter().map(Header::hash_slow).collect(),
        transactions,
        // After Shanghai a block always has a withdrawals list, empty or not.
        withdrawals: body.withdrawals.clone().or_else(|| {
            header
                .withdrawals_root
                .map(|_| alloy_eips::eip4895::Withdrawals::default())
        }),
    }
}

/// Where a mined transaction sits, for its receipt.
#[derive(Clone, Copy, Debug)]
pub struct MinedAt<'a> {
    /// The block's header.
    pub header: &'a Header,
    /// The block's hash.
    pub hash: B256,
    /// The transaction's index in the block.
    pub index: usize,
    /// The index of the block's first log of this transaction.
    pub first_log: usize,
    /// The block's blob base fee, when blobs exist at its fork.
    pub blob_base_fee: Option<u128>,
}

/// A receipt as geth shows it (`eth_getTransactionReceipt`): the consensus receipt with
/// its logs placed in the block, gas used by this transaction alone (cumulative minus the
/// previous one), the price it paid, sender, recipient and a created contract's address.
pub fn receipt(
    tx: &TxEnvelope,
    sender: Address,
    receipt: &alloy_consensus::ReceiptEnvelope,
    previous_cumulative: u64,
    at: MinedAt<'_>,
) -> alloy_rpc_types_eth::TransactionReceipt {
    use alloy_consensus::Transaction;
    let tx_hash = *tx.hash();
    let mut log_index = at.first_log;
    let inner = receipt.clone().map_logs(|log| {
        let placed = alloy_rpc_types_eth::Log {
            inner: log,
            block_hash: Some(at.hash),
            block_number: Some(at.header.number),
            block_timestamp: Some(at.header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(at.index as u64),
            log_index: Some(log_index as u64),
            removed: false,
        };
        log_index += 1;
        placed
    });
    let base_fee = at.header.base_fee_per_gas;
    let blob_gas_used = tx
        .blob_versioned_hashes()
        .map(|h| h.len() as u64 * alloy_eips::eip4844::DATA_GAS_PER_BLOB);
    let to = tx.to();
    alloy_rpc_types_eth::TransactionReceipt {
        inner,
        transaction_hash: tx_hash,
        transaction_index: Some(at.index as u64),
        block_hash: Some(at.hash),
        block_number: Some(at.header.number),
        gas_used: receipt
            .cumulative_gas_used()
            .saturating_sub(previous_cumulative),
        effective_gas_price: tx.effective_gas_price(base_fee),
        blob_gas_used,
        blob_gas_price: blob_gas_used.and(at.blob_base_fee),
        from: sender,
        to,
        contract_address: to.is_none().then(|| sender.create(tx.nonce())),
    }
}
