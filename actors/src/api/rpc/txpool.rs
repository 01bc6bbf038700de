//! geth's `txpool` namespace: `txpool_status`, `txpool_content`, `txpool_contentFrom` and
//! `txpool_inspect`, in the shapes of alloy's txpool types (geth's: senders as checksum
//! addresses, nonces as decimal strings, `inspect` lines `to: value wei + gas gas ×
//! price wei`).

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_rpc_types_txpool::{
    TxpoolContent, TxpoolContentFrom, TxpoolInspect, TxpoolInspectSummary, TxpoolStatus,
};
use serde_json::Value;

use super::{string_param, RpcError};
use crate::feed::shapes::{pending_tx, RpcTx};
use crate::node::Node;
use crate::txs::pool::PoolTx;

fn to_value(value: impl serde::Serialize) -> Result<Value, RpcError> {
    serde_json::to_value(value).map_err(|e| RpcError::new(-32603, e.to_string()))
}

fn by_nonce<T>(txs: &[Arc<PoolTx>], show: impl Fn(&PoolTx) -> T) -> BTreeMap<String, T> {
    use alloy_consensus::Transaction;
    txs.iter()
        .map(|tx| (tx.tx.nonce().to_string(), show(tx)))
        .collect()
}

fn summary(tx: &PoolTx) -> TxpoolInspectSummary {
    use alloy_consensus::Transaction;
    // geth shows a dynamic-fee transaction's fee cap as its price.
    TxpoolInspectSummary {
        to: tx.tx.to(),
        value: tx.tx.value(),
        gas: tx.tx.gas_limit(),
        gas_price: tx.tx.max_fee_per_gas(),
    }
}

/// `txpool_status`: counts of pending and queued transactions.
pub fn status(node: &Node) -> Result<Value, RpcError> {
    let (pending, queued) = node.pool.status();
    to_value(TxpoolStatus {
        pending: pending as u64,
        queued: queued as u64,
    })
}

/// `txpool_content`: every transaction, by sender and nonce.
pub fn content(node: &Node) -> Result<Value, RpcError> {
    let mut out = TxpoolContent::<RpcTx>::default();
    for (sender, txs) in node.pool.content() {
        if !txs.pending.is_empty() {
            out.pending
                .insert(sender, by_nonce(&txs.pending, pending_tx));
        }
        if !txs.queued.is_empty() {
            out.queued.insert(sender, by_nonce(&txs.queued, pending_tx));
        }
    }
    to_value(out)
}

/// `txpool_contentFrom [address]`: one sender's transactions by nonce.
pub fn content_from(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let sender = string_param(params, 0, "address")?
        .parse()
        .map_err(|_| RpcError::params("address must be 20 bytes of hex"))?;
    let txs = node.pool.content_from(&sender);
    to_value(TxpoolContentFrom::<RpcTx> {
        pending: by_nonce(&txs.pending, pending_tx),
        queued: by_nonce(&txs.queued, pending_tx),
    })
}

/// `txpool_inspect`: a one-line summary of every transaction.
pub fn inspect(node: &Node) -> Result<Value, RpcError> {
    let mut out = TxpoolInspect::default();
    for (sender, txs) in node.pool.content() {
        if !txs.pending.is_empty() {
            out.pending.insert(sender, by_nonce(&txs.pending, summary));
        }
        if !txs.queued.is_empty() {
            out.queued.insert(sender, by_nonce(&txs.queued, summary));
        }
    }
    to_value(out)
}
