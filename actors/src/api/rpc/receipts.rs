//! Mined transactions by hash where we have their blocks: `eth_getTransactionReceipt`,
//! `eth_getBlockReceipts` and `eth_getRawTransactionByHash`, from blocks we stored
//! (produced, or executed from a consensus client's payloads) and followed blocks whose
//! receipts matched their headers. Unknown ones answer null, as geth does.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Header, ReceiptEnvelope, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use serde_json::Value;

use super::{string_param, RpcError};
use crate::feed::logs::LogFilter;
use crate::feed::shapes::{self, MinedAt};
use crate::node::Node;
use crate::txs::pool::TxPool;

/// A block with everything a receipt needs.
pub(super) struct ReceiptBlock {
    pub(super) header: Header,
    pub(super) hash: B256,
    pub(super) txs: Vec<TxEnvelope>,
    pub(super) receipts: Vec<ReceiptEnvelope>,
}

fn hash(params: &[Value], name: &str) -> Result<B256, RpcError> {
    string_param(params, 0, name)?
        .parse()
        .map_err(|_| RpcError::params(format!("{name} must be 32 bytes of hex")))
}

/// The block `hash` with its receipts, stored or followed.
pub(super) fn block_with_receipts(node: &Node, hash: B256) -> Option<ReceiptBlock> {
    if let (Some(header), Some(body), Some(receipts)) = (
        node.store.header_by_hash(&hash),
        node.store.body(&hash),
        node.store.receipts(&hash),
    ) {
        return Some(ReceiptBlock {
            header,
            hash,
            txs: body.transactions,
            receipts,
        });
    }
    let followed = node.follow.by_hash(&hash)?;
    Some(ReceiptBlock {
        header: followed.header.clone(),
        hash,
        txs: followed.body.transactions.clone(),
        receipts: followed.receipts.clone()?,
    })
}

/// Where transaction `tx` was mined: its block and index.
fn locate(node: &Node, tx: &B256) -> Option<(B256, usize)> {
    node.tx_locations
        .get(tx)
        .or_else(|| node.follow.transaction(tx).map(|t| (t.block.hash, t.index)))
}

/// The receipt of the `index`th transaction of `block` in geth's shape.
fn shaped(node: &Node, block: &ReceiptBlock, index: usize) -> Option<Value> {
    let tx = block.txs.get(index)?;
    let receipt = block.receipts.get(index)?;
    let sender = tx.recover_signer().ok()?;
    let previous = match index {
        0 => 0,
        _ => block.receipts.get(index - 1)?.cumulative_gas_used(),
    };
    let first_log = block.receipts[..index].iter().map(|r| r.logs().len()).sum();
    let blob_base_fee = node.header_rules.as_ref().and_then(|rules| {
        let params = rules.blob_params_at(block.header.timestamp)?;
        Some(params.calc_blob_fee(block.header.excess_blob_gas?))
    });
    let at = MinedAt {
        header: &block.header,
        hash: block.hash,
        index,
        first_log,
        blob_base_fee,
    };
    serde_json::to_value(shapes::receipt(tx, sender, receipt, previous, at)).ok()
}

/// `eth_getTransactionReceipt(hash)`.
pub fn get_transaction_receipt(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let tx = hash(params, "transaction hash")?;
    let Some((block, index)) = locate(node, &tx) else {
        return Ok(Value::Null);
    };
    Ok(block_with_receipts(node, block)
        .and_then(|block| shaped(node, &block, index))
        .unwrap_or(Value::Null))
}

/// `eth_getBlockReceipts(block)`: by hash or number (a tag means our head).
pub fn get_block_receipts(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let text = string_param(params, 0, "block")?;
    let hash = match text.len() {
        66 => text
            .parse()
            .map_err(|_| RpcError::params("block hash must be 32 bytes of hex"))?,
        _ => {
            let number = match text {
                "latest" | "pending" | "safe" | "finalized" => super::eth::latest_number(node),
                "earliest" => 0,
                number => super::eth::parse_quantity(number)
                    .ok_or_else(|| RpcError::params(format!("invalid block number {number:?}")))?,
            };
            let hash = node
                .store
                .canonical_hash(number)
                .or_else(|| node.follow.by_number(number).map(|b| b.hash));
            let Some(hash) = hash else {
                return Ok(Value::Null);
            };
            hash
        }
    };
    let Some(block) = block_with_receipts(node, hash) else {
        return Ok(Value::Null);
    };
    let receipts: Option<Vec<Value>> = (0..block.txs.len())
        .map(|index| shaped(node, &block, index))
        .collect();
    Ok(receipts.map_or(Value::Null, Value::Array))
}

/// `eth_getRawTransactionByHash(hash)`: the canonical encoding (a pooled blob transaction
/// without its sidecar, as in a block).
pub fn get_raw_transaction_by_hash(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let tx = hash(params, "transaction hash")?;
    let raw = if let Some(pooled) = node.pool.get(&tx) {
        let envelope: TxEnvelope = pooled
            .tx
            .clone()
            .map_eip4844(|blob| alloy_consensus::TxEip4844Variant::TxEip4844(blob.tx));
        envelope.encoded_2718()
    } else if let Some((block, index)) = locate(node, &tx) {
        let body = node
            .store
            .body(&block)
            .or_else(|| node.follow.by_hash(&block).map(|b| b.body.clone()));
        match body.and_then(|b| b.transactions.get(index).cloned()) {
            Some(tx) => tx.encoded_2718(),
            None => return Ok(Value::Null),
        }
    } else {
        return Ok(Value::Null);
    };
    Ok(Value::String(alloy_primitives::hex::encode_prefixed(raw)))
}

/// Blocks one `eth_getLogs` may scan at most (ours: geth leaves it unbounded; a bound
/// keeps one caller from walking a long chain on the RPC worker).
pub const MAX_LOG_BLOCK_RANGE: u64 = 10_000;

/// Logs one `eth_getLogs` answers with at most (ours; the answer is an error past it, as
/// public providers do, so that a caller narrows the query instead of getting part).
pub const MAX_LOG_RESULTS: usize = 10_000;

/// A block tag or number of a filter: our head for tags, 0 for `earliest`.
fn filter_block(node: &Node, value: Option<&Value>) -> Result<u64, RpcError> {
    match value.and_then(Value::as_str) {
        None | Some("latest" | "pending" | "safe" | "finalized") => {
            Ok(super::eth::latest_number(node))
        }
        Some("earliest") => Ok(0),
        Some(number) => super::eth::parse_quantity(number)
            .ok_or_else(|| RpcError::params(format!("invalid block number {number:?}"))),
    }
}

/// `eth_getLogs(filter)`: `address` (one or a list), `topics` (per position null, a hash
/// or a list of hashes), and `fromBlock`/`toBlock` or `blockHash`, over the blocks whose
/// receipts we have (stored, or followed and checked), as geth matches them.
pub fn get_logs(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let filter = params
        .first()
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::params("missing filter object (parameter 0)"))?;
    let log_filter = LogFilter::from_json(filter).map_err(RpcError::params)?;
    let hashes: Vec<B256> = match filter.get("blockHash").and_then(Value::as_str) {
        Some(hash) => vec![hash
            .parse()
            .map_err(|_| RpcError::params("blockHash must be 32 bytes of hex"))?],
        None => {
            let from = filter_block(node, filter.get("fromBlock"))?;
            let to = filter_block(node, filter.get("toBlock"))?;
            if from > to {
                return Err(RpcError::new(-32000, "invalid block range"));
            }
            if to - from >= MAX_LOG_BLOCK_RANGE {
                return Err(RpcError::new(
                    -32000,
                    format!("block range over {MAX_LOG_BLOCK_RANGE} blocks; narrow the query"),
                ));
            }
            (from..=to)
                .filter_map(|n| {
                    node.store
                        .canonical_hash(n)
                        .or_else(|| node.follow.by_number(n).map(|b| b.hash))
                })
                .collect()
        }
    };
    let mut out = Vec::new();
    for hash in hashes {
        let Some(block) = block_with_receipts(node, hash) else {
            continue;
        };
        collect_logs(&block, &log_filter, &mut out)?;
    }
    Ok(Value::Array(out))
}

fn collect_logs(
    block: &ReceiptBlock,
    filter: &LogFilter,
    out: &mut Vec<Value>,
) -> Result<(), RpcError> {
    let mut log_index = 0u64;
    for (index, (tx, receipt)) in block.txs.iter().zip(&block.receipts).enumerate() {
        for log in receipt.logs() {
            if filter.matches(log) {
                if out.len() >= MAX_LOG_RESULTS {
                    return Err(RpcError::new(
                        -32005,
                        format!("query returned more than {MAX_LOG_RESULTS} results"),
                    ));
                }
                let placed = alloy_rpc_types_eth::Log {
                    inner: log.clone(),
                    block_hash: Some(block.hash),
                    block_number: Some(block.header.number),
                    block_timestamp: Some(block.header.timestamp),
                    transaction_hash: Some(*tx.hash()),
                    transaction_index: Some(index as u64),
                    log_index: Some(log_index),
                    removed: false,
                };
                out.push(serde_json::to_value(placed).unwrap_or(Value::Null));
            }
            log_index += 1;
        }
    }
    Ok(())
}
