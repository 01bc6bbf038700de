//! The RPC edge of the pool's typed errors: each [`PoolError`] becomes the JSON-RPC error
//! geth's `eth_sendRawTransaction` answers for the same refusal, so clients that classify
//! errors by geth's texts (viem, ethers, alloy, `cast`) understand ours.
//!
//! geth's texts are the `Error()` strings of `core/error.go` and `core/txpool/errors.go`
//! (v1.17), wrapped with the details geth adds (`nonce too low: next nonce 5, tx nonce 3`).
//! geth gives every pool error the JSON-RPC code -32000 (its default for errors without
//! a code of their own); so do we.

use super::RpcError;
use crate::txs::pool::validate::TxValidationError;
use crate::txs::pool::PoolError;

/// geth's code for an error without a code of its own (`rpc/errors.go`, `errcodeDefault`):
/// every transaction-pool refusal.
pub const POOL_ERROR_CODE: i64 = -32000;

/// The JSON-RPC error geth answers for `error`.
pub fn pool_rpc_error(error: &PoolError) -> RpcError {
    RpcError::new(POOL_ERROR_CODE, geth_text(error))
}

/// geth's text for `error`, with geth's details appended after a colon.
pub fn geth_text(error: &PoolError) -> String {
    match error {
        PoolError::Invalid(invalid) => invalid_text(invalid),
        PoolError::AlreadyKnown => "already known".into(),
        PoolError::ReplacementUnderpriced => "replacement transaction underpriced".into(),
        PoolError::Underpriced => "transaction underpriced".into(),
        tip @ PoolError::TipTooLow { .. } => tip.to_string(),
        // geth's legacypool: `ErrAccountLimitExceeded`.
        PoolError::TooManyFuture => "account limit exceeded".into(),
        // Only peers' transactions meet these two; geth has no RPC text for them.
        PoolError::RecentlyRejected => "recently rejected".into(),
        PoolError::Busy => "txpool is busy".into(),
    }
}

fn invalid_text(error: &TxValidationError) -> String {
    use TxValidationError as E;
    match error {
        E::NonceTooLow { nonce, account } => {
            format!("nonce too low: next nonce {account}, tx nonce {nonce}")
        }
        E::InsufficientFunds { balance, cost } => format!(
            "insufficient funds for gas * price + value: balance {balance}, tx cost {cost}, \
             overshot {}",
            cost.saturating_sub(*balance)
        ),
        E::IntrinsicGas {
            gas_limit,
            intrinsic,
        } => format!("intrinsic gas too low: gas {gas_limit}, minimum needed {intrinsic}"),
        E::GasLimitTooHigh { .. } => "exceeds block gas limit".into(),
        E::Oversized { size, limit } => {
            format!("oversized data: transaction size {size}, limit {limit}")
        }
        E::InitCodeTooLarge { size, limit } => {
            format!("max initcode size exceeded: code size {size}, limit {limit}")
        }
        E::TipAboveFeeCap { tip, cap } => format!(
            "max priority fee per gas higher than max fee per gas: address unknown, \
             maxPriorityFeePerGas: {tip}, maxFeePerGas: {cap}"
        ),
        E::WrongChainId { got, expected } => {
            format!("invalid sender: invalid chain id for signer: have {got} want {expected}")
        }
        E::InvalidSignature => "invalid sender".into(),
        E::BlobCount { count: 0, .. } => "blobless blob transaction".into(),
        E::BlobCount { count, max } => {
            format!("too many blobs in transaction: have {count}, permitted {max}")
        }
        E::SidecarShape {
            blobs,
            commitments,
            hashes,
        } => format!(
            "invalid number of {blobs} blobs and {commitments} commitments compared to \
             {hashes} blob hashes"
        ),
        E::LegacySidecar { version } => {
            format!("Wrong sidecar format: unexpected sidecar version, want: 1, got: {version}")
        }
        E::CommitmentMismatch { index } => {
            format!("blob {index}: computed hash mismatches transaction one")
        }
        E::InvalidKzgProof { reason } => format!("invalid blob proof: {reason}"),
    }
}

/// Whether `text` starts with one of geth's pool error texts: what a client's error
/// classifier matches on.
pub fn is_geth_pool_text(text: &str) -> bool {
    GETH_POOL_TEXTS.iter().any(|t| text.starts_with(t))
}

/// The texts of geth's pool errors that clients classify (viem's `*Error.nodeMessage`
/// regexes, ethers' `makeError` table), from geth's `core/error.go` and
/// `core/txpool/errors.go`.
pub const GETH_POOL_TEXTS: [&str; 9] = [
    "nonce too low",
    "insufficient funds for gas * price + value",
    "already known",
    "replacement transaction underpriced",
    "transaction underpriced",
    "intrinsic gas too low",
    "exceeds block gas limit",
    "oversized data",
    "max initcode size exceeded",
];

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    #[test]
    fn each_listed_refusal_reads_as_geths_text_with_code_32000() {
        let cases = [
            (
                PoolError::Invalid(TxValidationError::NonceTooLow {
                    nonce: 3,
                    account: 5,
                }),
                "nonce too low: next nonce 5, tx nonce 3",
            ),
            (
                PoolError::Invalid(TxValidationError::InsufficientFunds {
                    balance: U256::from(10),
                    cost: U256::from(25),
                }),
                "insufficient funds for gas * price + value: balance 10, tx cost 25, overshot 15",
            ),
            (PoolError::AlreadyKnown, "already known"),
            (
                PoolError::ReplacementUnderpriced,
                "replacement transaction underpriced",
            ),
            (PoolError::Underpriced, "transaction underpriced"),
            (
                PoolError::Invalid(TxValidationError::IntrinsicGas {
                    gas_limit: 20_000,
                    intrinsic: 21_000,
                }),
                "intrinsic gas too low: gas 20000, minimum needed 21000",
            ),
            (
                PoolError::Invalid(TxValidationError::GasLimitTooHigh {
                    gas_limit: 31_000_000,
                    block: 30_000_000,
                }),
                "exceeds block gas limit",
            ),
            (
                PoolError::Invalid(TxValidationError::Oversized {
                    size: 131_073,
                    limit: 131_072,
                }),
                "oversized data: transaction size 131073, limit 131072",
            ),
            (
                PoolError::Invalid(TxValidationError::InitCodeTooLarge {
                    size: 49_153,
                    limit: 49_152,
                }),
                "max initcode size exceeded: code size 49153, limit 49152",
            ),
        ];
        for (index, (error, text)) in cases.iter().enumerate() {
            let rpc = pool_rpc_error(error);
            assert_eq!(rpc.code, -32000);
            assert_eq!(rpc.message, *text);
            // Each case starts with the listed text of the same position, and with no
            // earlier one ("transaction underpriced" must not read as a replacement).
            assert!(rpc.message.starts_with(GETH_POOL_TEXTS[index]), "{text}");
            assert!(is_geth_pool_text(&rpc.message));
        }
    }

    #[test]
    fn an_unpayable_cost_saturates_instead_of_overflowing() {
        let text = geth_text(&PoolError::Invalid(TxValidationError::InsufficientFunds {
            balance: U256::MAX,
            cost: U256::from(1),
        }));
        assert!(text.ends_with("overshot 0"), "{text}");
    }
}
