//! The `eth` methods a mempool user needs beyond sending: blocks (from the store, and
//! above it from the followed chain), transactions by hash (pool, then followed blocks),
//! nonces (`latest` and `pending`), fee suggestions and sync progress.

use std::sync::Arc;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::Header;
use alloy_primitives::{Address, B256};
use serde_json::{json, Value};

use super::gas_price::{block_samples, suggest_tip, OracleBlock, ORACLE_BLOCKS};
use super::{quantity, string_param, RpcError};
use crate::blocks::follow::FollowedBlock;
use crate::eth::EthBlockBody;
use crate::feed::shapes::{block, mined_tx, pending_tx};
use crate::node::Node;
use crate::txs::pool::TxPool;

/// A block the node can show: from its store (imported and checked) or followed.
enum Known {
    Stored {
        header: Box<Header>,
        hash: B256,
        body: EthBlockBody,
    },
    Followed(Arc<FollowedBlock>),
}

impl Known {
    fn header(&self) -> &Header {
        match self {
            Self::Stored { header, .. } => header,
            Self::Followed(block) => &block.header,
        }
    }

    fn body(&self) -> &EthBlockBody {
        match self {
            Self::Stored { body, .. } => body,
            Self::Followed(block) => &block.body,
        }
    }

    fn senders(&self) -> Option<Vec<Address>> {
        match self {
            Self::Followed(block) => Some(block.senders.clone()),
            Self::Stored { body, .. } => body
                .transactions
                .iter()
                .map(|tx| tx.recover_signer().ok())
                .collect(),
        }
    }
}

/// The number `latest` names: the followed head when it is above the store's.
pub fn latest_number(node: &Node) -> u64 {
    let stored = node.store.head().number;
    node.follow
        .head()
        .map_or(stored, |head| head.header.number.max(stored))
}

fn stored(node: &Node, hash: B256) -> Option<Known> {
    let header = node.store.header_by_hash(&hash)?;
    let body = node.store.body(&hash)?;
    Some(Known::Stored {
        header: Box::new(header),
        hash,
        body,
    })
}

fn by_number(node: &Node, number: u64) -> Option<Known> {
    if number <= node.store.head().number {
        return stored(node, node.store.canonical_hash(number)?);
    }
    node.follow.by_number(number).map(Known::Followed)
}

fn by_hash(node: &Node, hash: B256) -> Option<Known> {
    stored(node, hash).or_else(|| node.follow.by_hash(&hash).map(Known::Followed))
}

/// A block tag or number parameter: `latest`, `pending` (the latest: we build no
/// blocks), `earliest`, or a hex number. `safe`/`finalized` need a consensus client.
fn block_number_param(node: &Node, params: &[Value], index: usize) -> Result<u64, RpcError> {
    let tag = match params.get(index) {
        None | Some(Value::Null) => "latest",
        Some(Value::String(tag)) => tag.as_str(),
        Some(_) => return Err(RpcError::params("block number must be a tag or hex number")),
    };
    match tag {
        "latest" | "pending" => Ok(latest_number(node)),
        "earliest" => Ok(0),
        "safe" | "finalized" => Err(RpcError::new(-32000, format!("{tag} block not found"))),
        number => parse_quantity(number)
            .ok_or_else(|| RpcError::params(format!("invalid block number {number:?}"))),
    }
}

pub(crate) fn parse_quantity(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x")?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

fn full_param(params: &[Value]) -> Result<bool, RpcError> {
    match params.get(1) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(full)) => Ok(*full),
        Some(_) => Err(RpcError::params("second parameter must be a boolean")),
    }
}

fn hash_param(params: &[Value], name: &str) -> Result<B256, RpcError> {
    string_param(params, 0, name)?
        .parse()
        .map_err(|_| RpcError::params(format!("{name} must be 32 bytes of hex")))
}

fn address_param(params: &[Value]) -> Result<Address, RpcError> {
    string_param(params, 0, "address")?
        .parse()
        .map_err(|_| RpcError::params("address must be 20 bytes of hex"))
}

fn show(known: Option<Known>, full: bool) -> Result<Value, RpcError> {
    let Some(known) = known else {
        return Ok(Value::Null);
    };
    let header = known.header();
    let hash = match &known {
        Known::Stored { hash, .. } => *hash,
        Known::Followed(block) => block.hash,
    };
    let senders = match full {
        true => Some(known.senders().ok_or_else(|| {
            RpcError::new(
                -32000,
                "a transaction of the block has an invalid signature",
            )
        })?),
        false => None,
    };
    // geth dropped `totalDifficulty` from blocks (v1.14.9); so do we.
    let shown = block(header, hash, known.body(), senders.as_deref(), None);
    serde_json::to_value(shown).map_err(|e| RpcError::new(-32603, e.to_string()))
}

/// `eth_getBlockByNumber [tag or number, full]`.
pub fn get_block_by_number(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let number = block_number_param(node, params, 0)?;
    show(by_number(node, number), full_param(params)?)
}

/// `eth_getBlockByHash [hash, full]`.
pub fn get_block_by_hash(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = hash_param(params, "block hash")?;
    show(by_hash(node, hash), full_param(params)?)
}

/// `eth_getTransactionByHash [hash]`: a pool transaction (pending), else one of a
/// followed block; `null` otherwise (the store keeps no transaction index).
pub fn get_transaction_by_hash(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = hash_param(params, "transaction hash")?;
    let shown = if let Some(pooled) = node.pool.get(&hash) {
        pending_tx(&pooled)
    } else if let Some(found) = node.follow.transaction(&hash) {
        let block = &found.block;
        let (Some(tx), Some(sender)) = (
            block.body.transactions.get(found.index),
            block.senders.get(found.index),
        ) else {
            return Ok(Value::Null);
        };
        mined_tx(tx, *sender, &block.header, block.hash, found.index)
    } else if let Some((block, index)) = node.tx_locations.get(&hash) {
        // A block we stored (produced, or a consensus client's payload).
        let (Some(header), Some(body)) =
            (node.store.header_by_hash(&block), node.store.body(&block))
        else {
            return Ok(Value::Null);
        };
        let Some(tx) = body.transactions.get(index) else {
            return Ok(Value::Null);
        };
        let Ok(sender) = alloy_consensus::transaction::SignerRecoverable::recover_signer(tx) else {
            return Ok(Value::Null);
        };
        mined_tx(tx, sender, &header, block, index)
    } else {
        return Ok(Value::Null);
    };
    serde_json::to_value(shown).map_err(|e| RpcError::new(-32603, e.to_string()))
}

/// `eth_getTransactionCount [address, tag]`: `pending` counts the sender's pending pool
/// transactions; `latest` is the state's nonce advanced by included transactions. The
/// node holds no historical state: a number below the latest is refused.
pub fn get_transaction_count(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let address = address_param(params)?;
    if params.get(1).and_then(Value::as_str) == Some("pending") {
        return Ok(quantity(node.pool.pending_nonce(&address)));
    }
    let number = block_number_param(node, params, 1)?;
    let latest = latest_number(node);
    if number > latest {
        // geth's answer for a block it does not have.
        return Err(RpcError::new(-32000, "header not found"));
    }
    if number < latest {
        return Err(RpcError::new(
            -32000,
            format!("historical state for block {number} is not available"),
        ));
    }
    Ok(quantity(node.pool.account_nonce(&address)))
}

/// The oracle's tip over the latest [`ORACLE_BLOCKS`] blocks.
pub fn suggested_tip(node: &Node) -> u128 {
    let latest = latest_number(node);
    let first = latest.saturating_sub(ORACLE_BLOCKS - 1);
    let samples = (first..=latest)
        .filter_map(|number| by_number(node, number))
        .map(|known| {
            let (senders, header) = match &known {
                Known::Followed(block) => (Some(block.senders.as_slice()), &block.header),
                Known::Stored { header, .. } => (None, &**header),
            };
            block_samples(&OracleBlock {
                base_fee: header.base_fee_per_gas,
                beneficiary: header.beneficiary,
                body: known.body(),
                senders,
            })
        });
    suggest_tip(samples.collect::<Vec<_>>())
}

/// `eth_gasPrice`: the suggested tip plus the latest block's base fee (geth).
pub fn gas_price(node: &Node) -> Value {
    let base_fee = by_number(node, latest_number(node))
        .and_then(|known| known.header().base_fee_per_gas)
        .unwrap_or(0);
    json!(format!("{:#x}", suggested_tip(node) + u128::from(base_fee)))
}

/// `eth_syncing`: `false` once the followed head is at the highest head peers claim
/// (or no peer claimed one); otherwise geth's progress object.
pub fn syncing(node: &Node) -> Value {
    let current = latest_number(node);
    let highest = node.follow.highest_claimed();
    if highest <= current {
        return Value::Bool(false);
    }
    json!({
        "startingBlock": quantity(node.follow.starting_block().unwrap_or(current)),
        "currentBlock": quantity(current),
        "highestBlock": quantity(highest),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn quantities_follow_the_json_rpc_encoding() {
        assert_eq!(parse_quantity("0x0"), Some(0));
        assert_eq!(parse_quantity("0x226"), Some(550));
        assert_eq!(parse_quantity("0x0226"), None, "leading zero");
        assert_eq!(parse_quantity("0x"), None);
        assert_eq!(parse_quantity("226"), None, "no prefix");
    }
}
