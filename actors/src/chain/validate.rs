//! Header checks a block from a peer must pass before it is stored (what can be checked
//! without executing it): linkage, number, timestamp, the gas-limit bound, body roots.

use alloy_consensus::Header;

use super::{verify_block, ChainFileError};
use crate::eth::EthBlock;

/// The gas limit may move by less than parent/1024 per block (yellow paper eq. 47; geth
/// `params.GasLimitBoundDivisor`).
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// Smallest gas limit a header may have (geth `params.MinGasLimit`).
pub const MIN_GAS_LIMIT: u64 = 5000;

/// Why a block does not follow its parent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Its parent hash names another block.
    #[error("parent hash does not match")]
    WrongParent,
    /// Its number is not the parent's plus one.
    #[error("number {number}, parent {parent}")]
    WrongNumber {
        /// The block's number.
        number: u64,
        /// The parent's number.
        parent: u64,
    },
    /// Its timestamp is not after the parent's.
    #[error("timestamp {timestamp} not after parent's {parent}")]
    Timestamp {
        /// The block's timestamp.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its gas limit moved too far or is too small.
    #[error("gas limit {gas_limit} out of bounds (parent {parent})")]
    GasLimit {
        /// The block's gas limit.
        gas_limit: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its body does not match the header's roots.
    #[error("body: {reason}")]
    Body {
        /// What did not match.
        reason: String,
    },
}

/// Checks `block` against its `parent`.
pub fn validate_block(parent: &Header, block: &EthBlock) -> Result<(), BlockError> {
    let header = &block.header;
    if header.parent_hash != parent.hash_slow() {
        return Err(BlockError::WrongParent);
    }
    if Some(header.number) != parent.number.checked_add(1) {
        return Err(BlockError::WrongNumber {
            number: header.number,
            parent: parent.number,
        });
    }
    if header.timestamp <= parent.timestamp {
        return Err(BlockError::Timestamp {
            timestamp: header.timestamp,
            parent: parent.timestamp,
        });
    }
    if !super::header_rules::gas_limit_in_bounds(parent.gas_limit, header.gas_limit) {
        return Err(BlockError::GasLimit {
            gas_limit: header.gas_limit,
            parent: parent.gas_limit,
        });
    }
    verify_block(block).map_err(|e: ChainFileError| BlockError::Body {
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::EMPTY_ROOT_HASH;

    fn child(parent: &Header) -> EthBlock {
        let header = Header {
            parent_hash: parent.hash_slow(),
            number: parent.number + 1,
            timestamp: parent.timestamp + 12,
            gas_limit: parent.gas_limit,
            transactions_root: EMPTY_ROOT_HASH,
            ..Default::default()
        };
        EthBlock {
            header,
            body: Default::default(),
        }
    }

    #[test]
    fn each_rule_is_enforced() {
        let parent = Header {
            number: 10,
            timestamp: 100,
            gas_limit: 30_000_000,
            ..Default::default()
        };
        assert_eq!(validate_block(&parent, &child(&parent)), Ok(()));
        let mutate = |f: fn(&mut Header)| {
            let mut block = child(&parent);
            f(&mut block.header);
            validate_block(&parent, &block)
        };
        assert_eq!(
            mutate(|h| h.parent_hash = Default::default()),
            Err(BlockError::WrongParent)
        );
        assert!(matches!(
            mutate(|h| h.number = 12),
            Err(BlockError::WrongNumber { .. })
        ));
        assert!(matches!(
            mutate(|h| h.timestamp = 100),
            Err(BlockError::Timestamp { .. })
        ));
        assert!(matches!(
            mutate(|h| h.gas_limit = 30_000_000 + 30_000_000 / 1024),
            Err(BlockError::GasLimit { .. })
        ));
        assert_eq!(
            mutate(|h| h.gas_limit = 30_000_000 + 30_000_000 / 1024 - 1),
            Ok(())
        );
        assert!(matches!(
            mutate(|h| h.transactions_root = Default::default()),
            Err(BlockError::Body { .. })
        ));
    }
}
