//! The state-backed reads where the node holds the state (the dev network, a genesis, an
//! imported chain; executed by the engine's executor): `eth_getBalance`, `eth_getCode`,
//! `eth_getStorageAt`, `eth_call`, `eth_estimateGas`. They answer for our head (`latest`,
//! `pending`) or a block whose state is still kept (`--state.window`, geth's 128); older
//! blocks, and every block where we hold no state, answer geth's error for missing state,
//! never "method not found".

use alloy_primitives::{Address, U256};
use serde_json::Value;

use super::{string_param, RpcError};
use crate::blocks::engine::{ReadState, StateAnswer, StateQuery};
use crate::node::Node;

/// geth's error text when the state of a block is not there (`trie.MissingNodeError`).
pub const MISSING_STATE: &str = "missing trie node: state not available";

/// The block a state read or call names: `None` for the head (`latest`, `pending`, or no
/// block), a number otherwise; a block above the head is geth's "header not found".
fn at_block(node: &Node, block: Option<&Value>) -> Result<Option<u64>, RpcError> {
    let number = match block.and_then(Value::as_str) {
        None | Some("latest" | "pending" | "safe" | "finalized") => return Ok(None),
        Some("earliest") => 0,
        Some(number) => super::eth::parse_quantity(number)
            .ok_or_else(|| RpcError::params(format!("invalid block number {number:?}")))?,
    };
    if number > super::eth::latest_number(node) {
        return Err(RpcError::new(-32000, "header not found"));
    }
    Ok(Some(number))
}

async fn read(
    node: &Node,
    what: StateQuery,
    block: Option<&Value>,
) -> Result<StateAnswer, RpcError> {
    let at = at_block(node, block)?;
    node.engine
        .send(ReadState { what, at })
        .await
        .map_err(|_| RpcError::new(-32000, "the node is shutting down"))?
        .map_err(|error| RpcError::new(-32000, format!("{MISSING_STATE} ({error})")))
}

fn address(params: &[Value]) -> Result<Address, RpcError> {
    string_param(params, 0, "address")?
        .parse()
        .map_err(|_| RpcError::params("address must be 20 bytes of hex"))
}

/// `eth_getBalance(address, block)`.
pub async fn get_balance(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, StateQuery::Account(address(params)?), params.get(1)).await?;
    Ok(Value::String(format!("{:#x}", answer.account.0)))
}

/// `eth_getCode(address, block)`.
pub async fn get_code(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, StateQuery::Account(address(params)?), params.get(1)).await?;
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
        StateQuery::Storage(address(params)?, slot),
        params.get(2),
    )
    .await?;
    Ok(Value::String(format!("{:#066x}", answer.account.0)))
}

/// `eth_getTransactionCount(address, latest)` from the state, where we hold it.
pub async fn state_nonce(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let answer = read(node, StateQuery::Account(address(params)?), params.get(1)).await?;
    Ok(super::quantity(answer.account.1))
}

/// A call object (`from`, `to`, `gas`, `gasPrice`, `maxFeePerGas`,
/// `maxPriorityFeePerGas`, `value`, `data` or `input`) as [`CallRequest`].
fn call_request(params: &[Value]) -> Result<crate::chain::CallRequest, RpcError> {
    let object = params
        .first()
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::params("missing call object (parameter 0)"))?;
    let field = |name: &str| object.get(name).and_then(Value::as_str);
    let parse_err = |name: &str| RpcError::params(format!("invalid {name}"));
    let quantity = |name: &str| -> Result<Option<u128>, RpcError> {
        field(name)
            .map(|text| {
                u128::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|_| parse_err(name))
            })
            .transpose()
    };
    let address = |name: &str| -> Result<Option<Address>, RpcError> {
        field(name)
            .map(|text| text.parse().map_err(|_| parse_err(name)))
            .transpose()
    };
    let data = field("input").or_else(|| field("data")).unwrap_or("0x");
    Ok(crate::chain::CallRequest {
        from: address("from")?.unwrap_or_default(),
        to: address("to")?,
        gas: quantity("gas")?.map(|g| u64::try_from(g).unwrap_or(u64::MAX)),
        gas_price: quantity("gasPrice")?,
        max_fee_per_gas: quantity("maxFeePerGas")?,
        max_priority_fee_per_gas: quantity("maxPriorityFeePerGas")?,
        value: field("value")
            .map(|text| text.parse::<U256>().map_err(|_| parse_err("value")))
            .transpose()?
            .unwrap_or_default(),
        data: alloy_primitives::hex::decode(data)
            .map_err(|_| parse_err("data"))?
            .into(),
    })
}

async fn run(node: &Node, params: &[Value], estimate: bool) -> Result<Vec<u8>, RpcError> {
    use crate::blocks::engine::{CallAnswer, RunCall};
    let request = call_request(params)?;
    let at = at_block(node, params.get(1))?;
    let answer = node
        .engine
        .send(RunCall {
            request,
            estimate,
            at,
        })
        .await
        .map_err(|_| RpcError::new(-32000, "the node is shutting down"))?
        .map_err(|error| RpcError::new(-32000, format!("{MISSING_STATE} ({error})")))?;
    match answer {
        CallAnswer::Done(bytes) => Ok(bytes.to_vec()),
        CallAnswer::Reverted(data) => Err(reverted(&data)),
        CallAnswer::Failed(reason) => Err(RpcError::new(-32000, reason)),
    }
}

/// geth's revert error: code 3, "execution reverted" with the `Error(string)` reason when
/// the data carries one, and the data itself.
fn reverted(data: &[u8]) -> RpcError {
    let reason = data
        .strip_prefix(&[0x08, 0xc3, 0x79, 0xa0][..])
        .and_then(|abi| {
            let length = usize::try_from(U256::from_be_slice(abi.get(32..64)?)).ok()?;
            let bytes = abi.get(64..64usize.checked_add(length)?)?;
            String::from_utf8(bytes.to_vec()).ok()
        });
    let mut error = RpcError::new(
        3,
        match reason {
            Some(reason) => format!("execution reverted: {reason}"),
            None => "execution reverted".to_string(),
        },
    );
    error.data = Some(alloy_primitives::hex::encode_prefixed(data));
    error
}

/// `eth_call(call, block)` at our head: the return data.
pub async fn call(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let output = run(node, params, false).await?;
    Ok(Value::String(alloy_primitives::hex::encode_prefixed(
        output,
    )))
}

/// `eth_estimateGas(call, block)`: the least gas it succeeds with (geth's binary search).
pub async fn estimate_gas(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let bytes = run(node, params, true).await?;
    let gas = u64::from_be_bytes(bytes.try_into().unwrap_or([0xff; 8]));
    Ok(super::quantity(gas))
}
