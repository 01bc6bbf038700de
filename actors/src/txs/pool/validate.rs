//! Checks a transaction must pass before a pool accepts it: stateless ones (shape, chain
//! id, signature, intrinsic gas, sizes, fees, blob sidecar) and state-backed ones (nonce,
//! balance) through a [`StateProvider`].

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::Transaction;
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4844::env_settings::EnvKzgSettings;
use alloy_eips::eip4844::kzg_to_versioned_hash;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::U256;

use super::{PoolTx, StateProvider};
use crate::eth::cells::CELLS_PER_BLOB;
use crate::eth::PooledTx;

/// Largest transaction accepted, without a blob sidecar (geth `txMaxSize`, 128 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;
/// Largest init code of a contract creation (EIP-3860: 2 x 24,576 bytes).
pub const MAX_INIT_CODE_SIZE: usize = 49_152;
/// Base cost of a transaction (yellow paper `G_transaction`).
pub const TX_GAS: u64 = 21_000;
/// Extra base cost of a contract creation (`G_txcreate`).
pub const TX_CREATE_GAS: u64 = 32_000;
/// Calldata cost per zero byte.
pub const TX_DATA_ZERO_GAS: u64 = 4;
/// Calldata cost per nonzero byte (EIP-2028).
pub const TX_DATA_NONZERO_GAS: u64 = 16;
/// Access list cost per address (EIP-2930).
pub const ACCESS_LIST_ADDRESS_GAS: u64 = 2_400;
/// Access list cost per storage key (EIP-2930).
pub const ACCESS_LIST_STORAGE_KEY_GAS: u64 = 1_900;
/// Init code cost per 32-byte word (EIP-3860).
pub const INIT_CODE_WORD_GAS: u64 = 2;
/// Cost per EIP-7702 authorization (`PER_EMPTY_ACCOUNT_COST`).
pub const PER_AUTHORIZATION_GAS: u64 = 25_000;
/// Floor cost per calldata token (EIP-7623, Prague).
pub const TOTAL_COST_FLOOR_PER_TOKEN: u64 = 10;
/// Gas per blob (EIP-4844 `GAS_PER_BLOB`).
pub const GAS_PER_BLOB: u64 = 1 << 17;

/// The chain rules stateless checks depend on.
#[derive(Clone, Debug)]
pub struct ValidationRules {
    /// The chain id txs must be signed for (unprotected legacy txs are accepted, as geth's
    /// pool does; only its RPC refuses them).
    pub chain_id: u64,
    /// The current block gas limit.
    pub block_gas_limit: u64,
    /// Most blobs per transaction in the active fork (Cancun 6, Prague 9).
    pub max_blobs_per_tx: usize,
    /// Whether EIP-7623's calldata floor applies (Prague).
    pub calldata_floor: bool,
}

/// Why a transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxValidationError {
    /// Signed for another chain.
    #[error("chain id {got}, expected {expected}")]
    WrongChainId {
        /// The tx's chain id.
        got: u64,
        /// Ours.
        expected: u64,
    },
    /// The signature does not recover a sender (or has a high s).
    #[error("invalid signature")]
    InvalidSignature,
    /// The gas limit does not cover the intrinsic gas.
    #[error("gas limit {gas_limit} below intrinsic gas {intrinsic}")]
    IntrinsicGas {
        /// The tx's gas limit.
        gas_limit: u64,
        /// What it needs.
        intrinsic: u64,
    },
    /// Larger than [`MAX_TX_SIZE`].
    #[error("transaction of {size} bytes exceeds {limit}")]
    Oversized {
        /// Its size without sidecar.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Init code larger than [`MAX_INIT_CODE_SIZE`].
    #[error("init code of {size} bytes exceeds {limit}")]
    InitCodeTooLarge {
        /// The init code size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Tip above the fee cap.
    #[error("max priority fee {tip} above max fee {cap}")]
    TipAboveFeeCap {
        /// Max priority fee.
        tip: u128,
        /// Max fee.
        cap: u128,
    },
    /// Gas limit above the block gas limit.
    #[error("gas limit {gas_limit} above block gas limit {block}")]
    GasLimitTooHigh {
        /// The tx's gas limit.
        gas_limit: u64,
        /// The block's.
        block: u64,
    },
    /// A blob tx without blobs, or with more than the fork allows.
    #[error("{count} blobs (allowed 1 to {max})")]
    BlobCount {
        /// Blobs in the tx.
        count: usize,
        /// The fork's maximum.
        max: usize,
    },
    /// Sidecar lengths disagree with the versioned hashes.
    #[error(
        "sidecar has {blobs} blobs and {commitments} commitments for {hashes} versioned hashes"
    )]
    SidecarShape {
        /// Blobs.
        blobs: usize,
        /// Commitments.
        commitments: usize,
        /// Versioned hashes.
        hashes: usize,
    },
    /// A legacy (version 0, EIP-4844 blob proofs) sidecar: geth v1.17 pools only version 1
    /// (EIP-7594 cell proofs) since Osaka, and eth/72 peers need cell proofs to fetch cells.
    /// Our RPC converts one before it gets here, as geth's `eth_sendRawTransaction` does.
    #[error("sidecar version {version}, expected 1 (cell proofs)")]
    LegacySidecar {
        /// The sidecar's version.
        version: u8,
    },
    /// A commitment does not hash to its versioned hash.
    #[error("commitment {index} does not match its versioned hash")]
    CommitmentMismatch {
        /// Which.
        index: usize,
    },
    /// A blob's KZG proof does not verify against its commitment.
    #[error("invalid KZG proof: {reason}")]
    InvalidKzgProof {
        /// The verifier's message.
        reason: String,
    },
    /// Nonce below the account's.
    #[error("nonce {nonce} below account nonce {account}")]
    NonceTooLow {
        /// The tx's nonce.
        nonce: u64,
        /// The account's.
        account: u64,
    },
    /// The balance does not cover value + gas * max fee (+ blob gas).
    #[error("balance {balance} below cost {cost}")]
    InsufficientFunds {
        /// The account's balance.
        balance: U256,
        /// What the tx may cost.
        cost: U256,
    },
}

/// Intrinsic gas: base (+ creation), calldata, access list, init code words, 7702
/// authorizations; with the EIP-7623 floor when `floor` is set, the larger of the two.
pub fn intrinsic_gas(tx: &PooledTx, floor: bool) -> u64 {
    let input = tx.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let nonzeros = input.len() as u64 - zeros;
    let create = tx.kind().is_create();
    let mut gas = TX_GAS + zeros * TX_DATA_ZERO_GAS + nonzeros * TX_DATA_NONZERO_GAS;
    if create {
        gas += TX_CREATE_GAS + (input.len() as u64).div_ceil(32) * INIT_CODE_WORD_GAS;
    }
    if let Some(list) = tx.access_list() {
        gas += list
            .0
            .iter()
            .map(|item| {
                ACCESS_LIST_ADDRESS_GAS
                    + item.storage_keys.len() as u64 * ACCESS_LIST_STORAGE_KEY_GAS
            })
            .sum::<u64>();
    }
    gas += tx
        .authorization_list()
        .map_or(0, |auths| auths.len() as u64 * PER_AUTHORIZATION_GAS);
    if floor {
        let tokens = zeros + nonzeros * 4;
        gas = gas.max(TX_GAS + tokens * TOTAL_COST_FLOOR_PER_TOKEN);
    }
    gas
}

/// The stateless checks; on success the transaction as the pool keeps it (sender
/// recovered, size and type recorded).
pub fn validate_stateless(
    tx: PooledTx,
    rules: &ValidationRules,
) -> Result<PoolTx, TxValidationError> {
    let sender = stateless_checks(&tx, rules, Proofs::Verify)?;
    Ok(PoolTx::new(tx, sender))
}

/// The stateless checks that cost no KZG work (chain id, blob count, sidecar shape and
/// commitments, size, fees, gas, signature), in that order; answers the sender. A blob tx
/// with a version-0 sidecar passes here: it is what `eth_sendRawTransaction` takes and
/// converts, after these checks, to version 1 (cell proofs).
pub fn cheap_stateless_checks(
    tx: &PooledTx,
    rules: &ValidationRules,
) -> Result<alloy_primitives::Address, TxValidationError> {
    stateless_checks(tx, rules, Proofs::Skip)
}

/// Whether [`check_sidecar`] verifies the KZG proofs (and refuses version-0 sidecars).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proofs {
    Verify,
    Skip,
}

fn stateless_checks(
    tx: &PooledTx,
    rules: &ValidationRules,
    proofs: Proofs,
) -> Result<alloy_primitives::Address, TxValidationError> {
    if let Some(chain_id) = tx.chain_id() {
        if chain_id != rules.chain_id {
            return Err(TxValidationError::WrongChainId {
                got: chain_id,
                expected: rules.chain_id,
            });
        }
    }
    let sidecar_size = match tx {
        PooledTx::Eip4844(signed) => check_sidecar(
            &signed.tx().tx.blob_versioned_hashes,
            &signed.tx().sidecar,
            rules,
            proofs,
        )?,
        _ => 0,
    };
    let size = tx.encode_2718_len().saturating_sub(sidecar_size);
    if size > MAX_TX_SIZE {
        return Err(TxValidationError::Oversized {
            size,
            limit: MAX_TX_SIZE,
        });
    }
    if tx.kind().is_create() && tx.input().len() > MAX_INIT_CODE_SIZE {
        return Err(TxValidationError::InitCodeTooLarge {
            size: tx.input().len(),
            limit: MAX_INIT_CODE_SIZE,
        });
    }
    if let Some(tip) = tx.max_priority_fee_per_gas() {
        if tip > tx.max_fee_per_gas() {
            return Err(TxValidationError::TipAboveFeeCap {
                tip,
                cap: tx.max_fee_per_gas(),
            });
        }
    }
    if tx.gas_limit() > rules.block_gas_limit {
        return Err(TxValidationError::GasLimitTooHigh {
            gas_limit: tx.gas_limit(),
            block: rules.block_gas_limit,
        });
    }
    let intrinsic = intrinsic_gas(tx, rules.calldata_floor);
    if tx.gas_limit() < intrinsic {
        return Err(TxValidationError::IntrinsicGas {
            gas_limit: tx.gas_limit(),
            intrinsic,
        });
    }
    tx.recover_signer()
        .map_err(|_| TxValidationError::InvalidSignature)
}

/// Blob count within the fork's limit, sidecar lengths equal to the versioned hashes,
/// each commitment hashing to its versioned hash, and the KZG proofs verifying (c-kzg with
/// the embedded Ethereum trusted setup). Returns the sidecar's encoded size.
fn check_sidecar(
    hashes: &[alloy_primitives::B256],
    sidecar: &BlobTransactionSidecarVariant,
    rules: &ValidationRules,
    proofs: Proofs,
) -> Result<usize, TxValidationError> {
    if hashes.is_empty() || hashes.len() > rules.max_blobs_per_tx {
        return Err(TxValidationError::BlobCount {
            count: hashes.len(),
            max: rules.max_blobs_per_tx,
        });
    }
    let (blobs, commitments, size) = match sidecar {
        BlobTransactionSidecarVariant::Eip4844(s) => (
            s.blobs.len(),
            &s.commitments,
            alloy_rlp::Encodable::length(s),
        ),
        BlobTransactionSidecarVariant::Eip7594(s) => (
            s.blobs.len(),
            &s.commitments,
            alloy_rlp::Encodable::length(s),
        ),
    };
    // A blobless EIP-7594 sidecar is a sampled tx's (eth/72): its cells were verified
    // when fetched, and the pool takes it only with them (`ValidatingTxPool::insert`).
    if let BlobTransactionSidecarVariant::Eip7594(s) = sidecar {
        if blobs == 0 && commitments.len() == hashes.len() {
            if s.cell_proofs.len() != hashes.len() * CELLS_PER_BLOB {
                return Err(TxValidationError::SidecarShape {
                    blobs,
                    commitments: commitments.len(),
                    hashes: hashes.len(),
                });
            }
            check_commitments(commitments, hashes)?;
            return Ok(size);
        }
    }
    if blobs != hashes.len() || commitments.len() != hashes.len() {
        return Err(TxValidationError::SidecarShape {
            blobs,
            commitments: commitments.len(),
            hashes: hashes.len(),
        });
    }
    check_commitments(commitments, hashes)?;
    if proofs == Proofs::Skip {
        return Ok(size);
    }
    if matches!(sidecar, BlobTransactionSidecarVariant::Eip4844(_)) {
        return Err(TxValidationError::LegacySidecar { version: 0 });
    }
    let settings = EnvKzgSettings::Default.get();
    let verified = match sidecar {
        BlobTransactionSidecarVariant::Eip4844(s) => s.validate(hashes, settings),
        BlobTransactionSidecarVariant::Eip7594(s) => s.validate(hashes, settings),
    };
    verified.map_err(|e| TxValidationError::InvalidKzgProof {
        reason: e.to_string(),
    })?;
    Ok(size)
}

/// Each commitment hashes to its versioned hash.
fn check_commitments(
    commitments: &[alloy_eips::eip4844::Bytes48],
    hashes: &[alloy_primitives::B256],
) -> Result<(), TxValidationError> {
    for (index, (commitment, hash)) in commitments.iter().zip(hashes).enumerate() {
        if kzg_to_versioned_hash(commitment.as_slice()) != *hash {
            return Err(TxValidationError::CommitmentMismatch { index });
        }
    }
    Ok(())
}

/// The state-backed checks: nonce not below the account's, balance covering value + gas *
/// max fee (+ blob gas * max blob fee). An account the state does not know has nonce 0 and
/// balance 0. A provider without state ([`super::NoState`]) passes every tx.
pub fn validate_state(tx: &PoolTx, state: &dyn StateProvider) -> Result<(), TxValidationError> {
    if !state.is_available() {
        return Ok(());
    }
    let account = state.account(&tx.sender).unwrap_or_default();
    if tx.tx.nonce() < account.nonce {
        return Err(TxValidationError::NonceTooLow {
            nonce: tx.tx.nonce(),
            account: account.nonce,
        });
    }
    // Wire values: a cost past 2^256 cannot be paid (geth computes it unbounded and
    // compares), so an overflow is "insufficient funds" with the cost saturated.
    let blob_cost = match (tx.tx.blob_versioned_hashes(), tx.tx.max_fee_per_blob_gas()) {
        (Some(hashes), Some(blob_fee)) => U256::from(hashes.len())
            .checked_mul(U256::from(GAS_PER_BLOB))
            .and_then(|gas| gas.checked_mul(U256::from(blob_fee))),
        _ => Some(U256::ZERO),
    };
    let cost = U256::from(tx.tx.gas_limit())
        .checked_mul(U256::from(tx.tx.max_fee_per_gas()))
        .and_then(|gas| gas.checked_add(tx.tx.value()))
        .zip(blob_cost)
        .and_then(|(cost, blob)| cost.checked_add(blob))
        .unwrap_or(U256::MAX);
    if account.balance < cost || cost == U256::MAX {
        return Err(TxValidationError::InsufficientFunds {
            balance: account.balance,
            cost,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{blob_tx, sender};

    fn rules(max_blobs: usize) -> ValidationRules {
        ValidationRules {
            chain_id: 1,
            block_gas_limit: 30_000_000,
            max_blobs_per_tx: max_blobs,
            calldata_floor: true,
        }
    }

    #[test]
    fn blob_sidecars_must_match_their_versioned_hashes_and_the_fork_limit() {
        // The fixture's versioned hash is zero, which no commitment hashes to.
        let tx = blob_tx(sender(1), 0).tx;
        assert_eq!(
            validate_stateless(tx.clone(), &rules(6)).err(),
            Some(TxValidationError::CommitmentMismatch { index: 0 })
        );
        assert_eq!(
            validate_stateless(tx, &rules(0)).err(),
            Some(TxValidationError::BlobCount { count: 1, max: 0 })
        );
    }

    #[test]
    fn a_kzg_proof_that_does_not_verify_is_refused() {
        use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
        let PooledTx::Eip4844(signed) = blob_tx(sender(1), 0).tx else {
            panic!("blob")
        };
        let (mut inner, signature) = (signed.tx().clone(), *signed.signature());
        let settings = EnvKzgSettings::Default.get();
        let legacy = BlobTransactionSidecar::try_from_blobs_with_settings(
            vec![Blob::repeat_byte(1)],
            settings,
        )
        .expect("kzg");
        inner.tx.blob_versioned_hashes = legacy.versioned_hashes().collect();
        // A sound legacy sidecar is refused for its version (geth v1.17 pools only v1).
        inner.sidecar = BlobTransactionSidecarVariant::Eip4844(legacy.clone());
        let tx = PooledTx::Eip4844(alloy_consensus::Signed::new_unhashed(
            inner.clone(),
            signature,
        ));
        assert_eq!(
            validate_stateless(tx, &rules(6)).err(),
            Some(TxValidationError::LegacySidecar { version: 0 })
        );
        let mut sidecar =
            alloy_eips::eip7594::BlobTransactionSidecarEip7594::try_from_blobs_with_settings(
                legacy.blobs,
                settings,
            )
            .expect("kzg");
        sidecar.cell_proofs[5] = Bytes48::ZERO;
        inner.sidecar = BlobTransactionSidecarVariant::Eip7594(sidecar);
        let tx = PooledTx::Eip4844(alloy_consensus::Signed::new_unhashed(inner, signature));
        assert!(matches!(
            validate_stateless(tx, &rules(6)),
            Err(TxValidationError::InvalidKzgProof { .. })
        ));
    }
}
