//! The proof-of-work difficulty rule of each fork (geth `ethash.CalcDifficulty`):
//! Frontier, Homestead (EIP-2), and Byzantium's uncle-aware rule (EIP-100) with the
//! difficulty bomb pushed back by Byzantium (EIP-649), Constantinople (EIP-1234), Muir
//! Glacier (EIP-2384), London (EIP-3554), Arrow Glacier (EIP-4345) and Gray Glacier
//! (EIP-5133). Fork blocks come from the genesis config. All arithmetic is checked.

use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_consensus::Header;
use alloy_genesis::ChainConfig;
use alloy_primitives::U256;

/// No block may have a lower difficulty (geth `params.MinimumDifficulty`).
pub const MINIMUM_DIFFICULTY: u64 = 131_072;
/// The parent difficulty divided by this is one adjustment step (geth
/// `params.DifficultyBoundDivisor`).
pub const DIFFICULTY_BOUND_DIVISOR: u64 = 2048;
/// Frontier: a block faster than this many seconds raises the difficulty (geth
/// `params.DurationLimit`).
pub const DURATION_LIMIT: u64 = 13;
/// Blocks per doubling period of the difficulty bomb (geth `expDiffPeriod`).
pub const EXP_DIFF_PERIOD: u64 = 100_000;
/// Bomb delay from Byzantium (EIP-649).
pub const BYZANTIUM_BOMB_DELAY: u64 = 3_000_000;
/// Bomb delay from Constantinople (EIP-1234).
pub const CONSTANTINOPLE_BOMB_DELAY: u64 = 5_000_000;
/// Bomb delay from Muir Glacier (EIP-2384).
pub const MUIR_GLACIER_BOMB_DELAY: u64 = 9_000_000;
/// Bomb delay from London (EIP-3554).
pub const LONDON_BOMB_DELAY: u64 = 9_700_000;
/// Bomb delay from Arrow Glacier (EIP-4345).
pub const ARROW_GLACIER_BOMB_DELAY: u64 = 10_700_000;
/// Bomb delay from Gray Glacier (EIP-5133).
pub const GRAY_GLACIER_BOMB_DELAY: u64 = 11_400_000;

/// Why a header's difficulty is wrong or cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DifficultyError {
    /// The header's difficulty is not what its parent and timestamp require.
    #[error("difficulty {got}, expected {expected}")]
    Wrong {
        /// The header's difficulty.
        got: U256,
        /// What the rule gives.
        expected: U256,
    },
    /// The timestamp is not after the parent's (the rule needs a positive gap).
    #[error("timestamp {timestamp} not after parent's {parent}")]
    Timestamp {
        /// The block's timestamp.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// The expected difficulty does not fit in 256 bits.
    #[error("difficulty overflows 256 bits")]
    Overflow,
}

/// Which formula applies to a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DifficultyRule {
    /// Frontier: +-parent/2048 on a 13-second threshold.
    Frontier,
    /// Homestead (EIP-2): parent/2048 * max(1 - gap/10, -99).
    Homestead,
    /// Byzantium and later (EIP-100): parent/2048 * max(u - gap/9, -99), u = 2 when the
    /// parent has uncles, with the bomb counted from `bomb_delay` blocks later.
    Eip100 {
        /// Blocks the bomb is pushed back by.
        bomb_delay: u64,
    },
}

/// The fork blocks that change the difficulty rule, from a genesis config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DifficultyForks {
    /// Homestead (EIP-2).
    pub homestead: Option<u64>,
    /// Byzantium (EIP-100, EIP-649).
    pub byzantium: Option<u64>,
    /// Constantinople (EIP-1234).
    pub constantinople: Option<u64>,
    /// Muir Glacier (EIP-2384).
    pub muir_glacier: Option<u64>,
    /// London (EIP-3554).
    pub london: Option<u64>,
    /// Arrow Glacier (EIP-4345).
    pub arrow_glacier: Option<u64>,
    /// Gray Glacier (EIP-5133).
    pub gray_glacier: Option<u64>,
}

impl DifficultyForks {
    /// The difficulty forks of a geth-style chain config.
    pub fn from_config(config: &ChainConfig) -> Self {
        Self {
            homestead: config.homestead_block,
            byzantium: config.byzantium_block,
            constantinople: config.constantinople_block,
            muir_glacier: config.muir_glacier_block,
            london: config.london_block,
            arrow_glacier: config.arrow_glacier_block,
            gray_glacier: config.gray_glacier_block,
        }
    }

    /// The rule for block `number`: the latest fork active at it (geth's order).
    pub fn rule(&self, number: u64) -> DifficultyRule {
        let active = |fork: Option<u64>| fork.is_some_and(|at| number >= at);
        let delays = [
            (self.gray_glacier, GRAY_GLACIER_BOMB_DELAY),
            (self.arrow_glacier, ARROW_GLACIER_BOMB_DELAY),
            (self.london, LONDON_BOMB_DELAY),
            (self.muir_glacier, MUIR_GLACIER_BOMB_DELAY),
            (self.constantinople, CONSTANTINOPLE_BOMB_DELAY),
            (self.byzantium, BYZANTIUM_BOMB_DELAY),
        ];
        if let Some((_, bomb_delay)) = delays.iter().find(|(fork, _)| active(*fork)) {
            DifficultyRule::Eip100 {
                bomb_delay: *bomb_delay,
            }
        } else if active(self.homestead) {
            DifficultyRule::Homestead
        } else {
            DifficultyRule::Frontier
        }
    }

    /// The difficulty a child of `parent` with `timestamp` must have.
    pub fn calc(&self, parent: &Header, timestamp: u64) -> Result<U256, DifficultyError> {
        let number = parent
            .number
            .checked_add(1)
            .ok_or(DifficultyError::Overflow)?;
        let gap = timestamp
            .checked_sub(parent.timestamp)
            .filter(|gap| *gap > 0)
            .ok_or(DifficultyError::Timestamp {
                timestamp,
                parent: parent.timestamp,
            })?;
        let step = parent.difficulty / U256::from(DIFFICULTY_BOUND_DIVISOR);
        // The adjustment factor, as (raise?, magnitude): at most 2 up, 99 down.
        let (up, factor) = match self.rule(number) {
            DifficultyRule::Frontier => (gap < DURATION_LIMIT, 1),
            DifficultyRule::Homestead => signed_factor(1, gap / 10),
            DifficultyRule::Eip100 { .. } => {
                let base = if parent.ommers_hash == EMPTY_OMMER_ROOT_HASH {
                    1
                } else {
                    2
                };
                signed_factor(base, gap / 9)
            }
        };
        let change = step
            .checked_mul(U256::from(factor))
            .ok_or(DifficultyError::Overflow)?;
        let adjusted = if up {
            parent
                .difficulty
                .checked_add(change)
                .ok_or(DifficultyError::Overflow)?
        } else {
            // At most 99/2048 of the parent: never below zero.
            parent.difficulty.saturating_sub(change)
        };
        let adjusted = adjusted.max(U256::from(MINIMUM_DIFFICULTY));
        let bomb_number = match self.rule(number) {
            DifficultyRule::Eip100 { bomb_delay } => number.saturating_sub(bomb_delay),
            _ => number,
        };
        let periods = bomb_number / EXP_DIFF_PERIOD;
        if periods < 2 {
            return Ok(adjusted);
        }
        let exponent = usize::try_from(periods - 2).map_err(|_| DifficultyError::Overflow)?;
        let bomb = U256::from(1u8)
            .checked_shl(exponent)
            .ok_or(DifficultyError::Overflow)?;
        adjusted.checked_add(bomb).ok_or(DifficultyError::Overflow)
    }

    /// Checks `header`'s difficulty against its `parent` (geth `verifyHeader`'s
    /// difficulty step).
    pub fn check(&self, parent: &Header, header: &Header) -> Result<(), DifficultyError> {
        let expected = self.calc(parent, header.timestamp)?;
        if header.difficulty != expected {
            return Err(DifficultyError::Wrong {
                got: header.difficulty,
                expected,
            });
        }
        Ok(())
    }
}

/// `max(base - quotient, -99)` as (non-negative?, magnitude).
fn signed_factor(base: u64, quotient: u64) -> (bool, u64) {
    if quotient <= base {
        (true, base - quotient)
    } else {
        (false, (quotient - base).min(99))
    }
}

#[cfg(test)]
#[path = "difficulty_tests.rs"]
mod tests;
