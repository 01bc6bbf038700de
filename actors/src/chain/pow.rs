//! What a proof-of-work block from a peer must pass before it is relayed (geth's ethash
//! `verifyHeader`, which its 2018 block fetcher ran before propagating): the checks
//! against the parent ([`validate_block`]), extra data, gas used, the timestamp not too
//! far ahead, the fork's difficulty rule; then the seal ([`EthashVerifier`], run off the
//! actor thread by the caller).
//!
//! [`EthashVerifier`]: super::ethash::EthashVerifier

use alloy_consensus::Header;

use super::difficulty::{DifficultyError, DifficultyForks};
use super::ethash::SealError;
use super::{validate_block, BlockError};
use crate::eth::EthBlock;
use crate::p2p::DisconnectReason;

/// Most extra data a header may carry (geth `params.MaximumExtraDataSize`).
pub const MAX_EXTRA_DATA: usize = 32;
/// Seconds a header's timestamp may be ahead of our clock (geth ethash
/// `allowedFutureBlockTimeSeconds`); later blocks are dropped, not held against the peer.
pub const ALLOWED_FUTURE_SECONDS: u64 = 15;

/// Why a proof-of-work block from a peer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PowBlockError {
    /// It does not follow its parent, or its body does not match its header.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// More than [`MAX_EXTRA_DATA`] bytes of extra data.
    #[error("{len} bytes of extra data")]
    ExtraData {
        /// How many.
        len: usize,
    },
    /// More gas used than the gas limit.
    #[error("gas used {gas_used} above the limit {gas_limit}")]
    GasUsed {
        /// Gas used.
        gas_used: u64,
        /// Gas limit.
        gas_limit: u64,
    },
    /// Its timestamp is more than [`ALLOWED_FUTURE_SECONDS`] ahead of our clock.
    #[error("timestamp {timestamp} ahead of our clock {now}")]
    FutureBlock {
        /// Its timestamp.
        timestamp: u64,
        /// Our clock, in Unix seconds.
        now: u64,
    },
    /// Its difficulty breaks the fork's rule.
    #[error(transparent)]
    Difficulty(#[from] DifficultyError),
    /// Its seal is not valid proof of work.
    #[error(transparent)]
    Seal(#[from] SealError),
}

impl PowBlockError {
    /// How the sender is treated: geth's fetcher drops a peer whose block fails header
    /// verification (`dropPeer`, which disconnects with `DiscUselessPeer`, 0x03), but not
    /// for a block from the future, and not for a body that fails import.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::FutureBlock { .. } | Self::Block(BlockError::Body { .. }) => None,
            _ => Some(DisconnectReason::UselessPeer),
        }
    }
}

/// Every check of `block` against `parent` but the seal, at Unix time `now`.
pub fn check_pow_block(
    forks: &DifficultyForks,
    parent: &Header,
    block: &EthBlock,
    now: u64,
) -> Result<(), PowBlockError> {
    let header = &block.header;
    if header.extra_data.len() > MAX_EXTRA_DATA {
        return Err(PowBlockError::ExtraData {
            len: header.extra_data.len(),
        });
    }
    if header.timestamp > now.saturating_add(ALLOWED_FUTURE_SECONDS) {
        return Err(PowBlockError::FutureBlock {
            timestamp: header.timestamp,
            now,
        });
    }
    if header.gas_used > header.gas_limit {
        return Err(PowBlockError::GasUsed {
            gas_used: header.gas_used,
            gas_limit: header.gas_limit,
        });
    }
    // Linkage, number and time before the difficulty, which needs a later timestamp.
    validate_block(parent, block)?;
    forks.check(parent, header)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::EMPTY_ROOT_HASH;
    use alloy_primitives::{Bytes, U256};

    fn parent() -> Header {
        Header {
            number: 20,
            timestamp: 1_000,
            gas_limit: 30_000_000,
            ..Default::default()
        }
    }

    fn child(parent: &Header) -> EthBlock {
        EthBlock {
            header: Header {
                parent_hash: parent.hash_slow(),
                number: 21,
                timestamp: 1_012,
                gas_limit: 30_000_000,
                difficulty: U256::from(131_072),
                transactions_root: EMPTY_ROOT_HASH,
                ..Default::default()
            },
            body: Default::default(),
        }
    }

    #[test]
    fn each_check_refuses_with_its_reaction() {
        let forks = DifficultyForks::default();
        let parent = parent();
        let now = 1_012;
        assert_eq!(
            check_pow_block(&forks, &parent, &child(&parent), now),
            Ok(())
        );
        let refuse = |f: fn(&mut Header)| {
            let mut block = child(&parent);
            f(&mut block.header);
            check_pow_block(&forks, &parent, &block, now).expect_err("refused")
        };
        let wrong_difficulty = refuse(|h| h.difficulty = U256::from(131_073));
        assert!(matches!(
            wrong_difficulty,
            PowBlockError::Difficulty(DifficultyError::Wrong { .. })
        ));
        assert_eq!(
            wrong_difficulty.disconnect_reason(),
            Some(DisconnectReason::UselessPeer)
        );
        let extra = refuse(|h| h.extra_data = Bytes::from(vec![0; 33]));
        assert_eq!(extra, PowBlockError::ExtraData { len: 33 });
        let gas = refuse(|h| h.gas_used = 30_000_001);
        assert!(matches!(gas, PowBlockError::GasUsed { .. }));
        let future = refuse(|h| h.timestamp = 1_012 + 16);
        assert!(matches!(future, PowBlockError::FutureBlock { .. }));
        assert_eq!(future.disconnect_reason(), None, "not the sender's fault");
        let body = refuse(|h| h.transactions_root = Default::default());
        assert_eq!(
            body.disconnect_reason(),
            None,
            "geth drops no peer for a bad body"
        );
        let linkage = refuse(|h| h.parent_hash = Default::default());
        assert_eq!(linkage, PowBlockError::Block(BlockError::WrongParent));
    }
}
