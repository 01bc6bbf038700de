//! The state-backed reads where the node holds the state (the dev network, a genesis, an
//! imported chain; executed by the engine's executor): `eth_getBalance`, `eth_getCode`,
//! `eth_getStorageAt`, and `eth_getTransactionCount` at `latest`. They answer for our head
//! (`latest`, `pending`, or its number); an older block's state is not kept. Where we hold
//! no state they answer geth's error for state it does not have, never "method not found".

use alloy_primitives::{Address, U256};
use serde_json::Value;

use super::{string_param, RpcError};
use crate::blocks::engine::{ReadState, StateAnswer};
use crate::node::Node;

/// geth's error text when the state of a block is not there (`trie.MissingNodeError`).
pub const MISSING_STATE: &str = "missing trie node: state not available";

async fn read(
    node: &Node,
    query: ReadState,
    block: Option<&Value>,
) -> Result<StateAnswer, RpcError> {
    let answer = node
        .engine
        .send(query)
        .await
        .map_err(|_| RpcError::new(-32000, "the node is shutting down"))?
        .map_err(|error| RpcError::new(-32000, format!("{MISSING_STATE} ({error})")))?;
    match block.and_then(Value::as_str) {
        None | Some("latest" | "pending" | "safe" | "finalized") => Ok(answer),
        Some("earliest") if answer.head == 0 => Ok(answer),
        Some(number) => match super::eth::parse_quantity(number) {
            Some(number) if number == answer.head => Ok(answer),
            Some(number) if number > answer.head => Err(RpcError::new(-32000, "header not found")),
            Some(number) => Err(RpcError::new(
                -32000,
                format!("{MISSING_STATE} (block {number}: only the head's state is kept)"),
            )),
            None => Err(RpcError::params(format!("invalid block number {number:?}"))),
        },
    }
}

fn address(params: &[Value]) -> Result<Address, RpcError> {
    string_param(params, 0, "address")?
        .parse()
        .map_err(|_| RpcError::params("address must be 20 bytes of hex"))
}

/// `eth_getBalance(address, block)`.
pub async fn get_balance(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, ReadState::Account(address(params)?), params.get(1)).await?;
    Ok(Value::String(format!("{:#x}", answer.account.0)))
}

/// `eth_getCode(address, block)`.
pub async fn get_code(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, ReadState::Account(address(params)?), params.get(1)).await?;
    Ok(Value::String(alloy_primitives::hex::encode_prefixed(
        &answer.account.2,
    )))
}

/// `eth_getStorageAt(address, slot, block)`: the value as 32 bytes.
pub async fn get_storage_at(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let slot: U256 = string_param(params, 1, "storage slot")?
        .parse()
        .map_err(|_| RpcError::params("storage slot must be a hex quantity of at most 32 bytes"))?;
    let answer = read(
        node,
        ReadState::Storage(address(params)?, slot),
        params.get(2),
    )
    .await?;
    Ok(Value::String(format!("{:#066x}", answer.account.0)))
}

/// `eth_getTransactionCount(address, latest)` from the state, where we hold it.
pub async fn state_nonce(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, ReadState::Account(address(params)?), params.get(1)).await?;
    Ok(super::quantity(answer.account.1))
}
