//! `eth_feeHistory(blockCount, newestBlock, rewardPercentiles)` in geth's shape: per block
//! its base fee (and the next block's), gas used ratio, blob base fee and blob gas used
//! ratio, and, when asked, the effective tips at the given percentiles of gas used.

use alloy_consensus::Transaction;
use serde_json::{json, Value};

use super::receipts::block_with_receipts;
use super::RpcError;
use crate::node::Node;

/// Blocks one call may ask for at most (geth's `maxBlockFetchers`-era limit of 1024).
pub const MAX_FEE_HISTORY: u64 = 1024;

/// Percentiles one call may ask for at most (geth's limit, 100).
pub const MAX_REWARD_PERCENTILES: usize = 100;

fn hex(n: u128) -> Value {
    Value::String(format!("{n:#x}"))
}

/// The call's block count (capped at [`MAX_FEE_HISTORY`]), newest block and percentiles.
fn parse(node: &Node, params: &[Value]) -> Result<(u64, u64, Vec<f64>), RpcError> {
    let count = match params.first() {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => super::eth::parse_quantity(s),
        _ => None,
    }
    .ok_or_else(|| RpcError::params("blockCount must be a number"))?
    .min(MAX_FEE_HISTORY);
    let latest = super::eth::latest_number(node);
    let newest = match params.get(1).and_then(Value::as_str) {
        None | Some("latest" | "pending" | "safe" | "finalized") => latest,
        Some("earliest") => 0,
        Some(number) => super::eth::parse_quantity(number)
            .ok_or_else(|| RpcError::params(format!("invalid block number {number:?}")))?,
    };
    if newest > latest {
        return Err(RpcError::new(
            -32000,
            format!("request beyond head block: requested {newest}, head {latest}"),
        ));
    }
    let percentiles: Vec<f64> = match params.get(2) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
        Some(_) => return Err(RpcError::params("rewardPercentiles must be a list")),
    };
    if percentiles.len() > MAX_REWARD_PERCENTILES
        || percentiles.windows(2).any(|w| w[0] > w[1])
        || percentiles.iter().any(|p| !(0.0..=100.0).contains(p))
    {
        return Err(RpcError::params("invalid reward percentiles"));
    }
    Ok((count, newest, percentiles))
}

/// `eth_feeHistory`.
pub fn fee_history(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let (count, newest, percentiles) = parse(node, params)?;
    if count == 0 {
        return Ok(json!({"oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": []}));
    }
    let oldest = newest.saturating_sub(count - 1);
    let (mut base, mut ratio, mut rewards) = (Vec::new(), Vec::new(), Vec::new());
    let (mut blob_base, mut blob_ratio) = (Vec::new(), Vec::new());
    let mut last = None;
    for number in oldest..=newest {
        let hash = node
            .store
            .canonical_hash(number)
            .or_else(|| node.follow.by_number(number).map(|b| b.hash));
        let Some(block) = hash.and_then(|h| block_with_receipts(node, h)) else {
            return Err(RpcError::new(
                -32000,
                format!("block {number} or its receipts not found"),
            ));
        };
        let header = &block.header;
        base.push(hex(u128::from(header.base_fee_per_gas.unwrap_or(0))));
        ratio.push(json!(
            header.gas_used as f64 / header.gas_limit.max(1) as f64
        ));
        let blob_params = node
            .header_rules
            .as_ref()
            .and_then(|rules| rules.blob_params_at(header.timestamp));
        blob_base.push(hex(blob_params
            .zip(header.excess_blob_gas)
            .map_or(0, |(p, excess)| p.calc_blob_fee(excess))));
        blob_ratio.push(json!(blob_params
            .zip(header.blob_gas_used)
            .map_or(0.0, |(p, used)| {
                used as f64 / p.max_blob_gas_per_block().max(1) as f64
            })));
        if !percentiles.is_empty() {
            rewards.push(Value::Array(block_rewards(&block, &percentiles)));
        }
        last = Some(block);
    }
    // The block after the newest: its base fee follows from the newest's.
    if let Some(block) = last {
        let next = block
            .header
            .next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
            .unwrap_or(0);
        base.push(hex(u128::from(next)));
        let next_blob = node.header_rules.as_ref().and_then(|rules| {
            let params = rules.blob_params_at(block.header.timestamp.saturating_add(12))?;
            Some(params.calc_blob_fee(block.header.next_block_excess_blob_gas(params)?))
        });
        blob_base.push(hex(next_blob.unwrap_or(0)));
    }
    let mut answer = json!({
        "oldestBlock": format!("{oldest:#x}"),
        "baseFeePerGas": base,
        "gasUsedRatio": ratio,
        "baseFeePerBlobGas": blob_base,
        "blobGasUsedRatio": blob_ratio,
    });
    if !percentiles.is_empty() {
        answer["reward"] = Value::Array(rewards);
    }
    Ok(answer)
}

/// geth's rewards: the block's transactions sorted by effective tip, each weighted by its
/// gas used; at each percentile of the block's gas, the tip of the tx that reaches it.
fn block_rewards(block: &super::receipts::ReceiptBlock, percentiles: &[f64]) -> Vec<Value> {
    let base_fee = block.header.base_fee_per_gas.unwrap_or(0);
    let mut previous = 0;
    let mut txs: Vec<(u128, u64)> = block
        .txs
        .iter()
        .zip(&block.receipts)
        .map(|(tx, receipt)| {
            let cumulative = receipt.cumulative_gas_used();
            let used = cumulative.saturating_sub(previous);
            previous = cumulative;
            (tx.effective_tip_per_gas(base_fee).unwrap_or(0), used)
        })
        .collect();
    if txs.is_empty() {
        return percentiles.iter().map(|_| hex(0)).collect();
    }
    txs.sort_by_key(|(tip, _)| *tip);
    let total: u64 = block.header.gas_used;
    let mut out = Vec::with_capacity(percentiles.len());
    let (mut index, mut sum) = (0usize, txs[0].1);
    for p in percentiles {
        let threshold = (total as f64 * p / 100.0) as u64;
        while sum < threshold && index + 1 < txs.len() {
            index += 1;
            sum = sum.saturating_add(txs[index].1);
        }
        out.push(hex(txs[index].0));
    }
    out
}
