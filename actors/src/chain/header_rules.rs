//! The rules a post-merge header must pass against its parent that need no state (geth's
//! `consensus/beacon` `VerifyHeader` and `misc/eip1559`, `eip4844`): linkage, time,
//! gas limit and gas used, the fork's fields present and no others, the base fee and the
//! excess blob gas exactly as computed from the parent, extra data, and the proof-of-stake
//! constants. A header from a peer that fails one is a protocol violation.

use alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy_consensus::Header;
use alloy_eips::eip1559::{BaseFeeParams, INITIAL_BASE_FEE};
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_eips::eip7840::BlobParams;
use alloy_eips::eip7892::BlobScheduleBlobParams;
use alloy_genesis::ChainConfig;
use alloy_hardforks::{EthereumChainHardforks, EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::U256;

use super::{GAS_LIMIT_BOUND_DIVISOR, MIN_GAS_LIMIT};
use crate::eth::forkid::Network;

/// Most bytes of extra data (geth `params.MaximumExtraDataSize`).
pub const MAX_EXTRA_DATA: usize = 32;

/// How far ahead of our clock a header's timestamp may be: one slot (the rule;
/// geth's beacon engine allows none past its own clock plus the consensus client's).
pub const MAX_FUTURE_SECONDS: u64 = 12;

/// A rule a header broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderRuleError {
    /// Not the parent's child by number or hash.
    #[error("does not link to its parent (number {number}, parent {parent})")]
    Link {
        /// Its number.
        number: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its timestamp is not after the parent's.
    #[error("timestamp {timestamp} not after the parent's {parent}")]
    OlderThanParent {
        /// Its timestamp.
        timestamp: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its timestamp is more than a slot ahead of our clock.
    #[error("timestamp {timestamp} is more than {MAX_FUTURE_SECONDS} s ahead of {now}")]
    FromTheFuture {
        /// Its timestamp.
        timestamp: u64,
        /// Our clock.
        now: u64,
    },
    /// The gas limit moved by parent/1024 or more, or is below the minimum.
    #[error("gas limit {gas_limit} out of bounds (parent {parent})")]
    GasLimit {
        /// Its gas limit.
        gas_limit: u64,
        /// The parent's.
        parent: u64,
    },
    /// More gas used than the limit.
    #[error("gas used {used} above the limit {limit}")]
    GasUsed {
        /// Gas used.
        used: u64,
        /// The limit.
        limit: u64,
    },
    /// A field the fork requires is missing, or one it does not have is present.
    #[error("field {field} is {} at this fork", if *.present { "present" } else { "missing" })]
    ForkField {
        /// The field.
        field: &'static str,
        /// Whether it was present (it must not be) or missing (it must be there).
        present: bool,
    },
    /// The base fee is not EIP-1559's from the parent.
    #[error("base fee {got}, expected {expected}")]
    BaseFee {
        /// Its base fee.
        got: u64,
        /// The parent's next base fee.
        expected: u64,
    },
    /// The excess blob gas is not EIP-4844's (EIP-7918's since Osaka) from the parent.
    #[error("excess blob gas {got}, expected {expected}")]
    ExcessBlobGas {
        /// Its value.
        got: u64,
        /// The parent's next value.
        expected: u64,
    },
    /// Blob gas used is not a whole number of blobs or above the fork's maximum.
    #[error("blob gas used {used} (max {max}, multiples of {DATA_GAS_PER_BLOB})")]
    BlobGasUsed {
        /// Its value.
        used: u64,
        /// The fork's maximum.
        max: u64,
    },
    /// Extra data over [`MAX_EXTRA_DATA`] bytes.
    #[error("extra data of {0} bytes")]
    ExtraData(usize),
    /// Difficulty, nonce or ommers hash not proof of stake's constants.
    #[error("not a proof-of-stake header: {0}")]
    NotProofOfStake(&'static str),
}

/// The fork schedule and blob parameters a chain's headers are judged by.
#[derive(Debug, Clone)]
pub struct HeaderRules {
    forks: EthereumChainHardforks,
    blobs: BlobScheduleBlobParams,
}

impl HeaderRules {
    /// The rules of a built-in network (alloy's activation list; BPO1 and BPO2 with
    /// EIP-7892's parameters where the network schedules them).
    pub fn network(network: Network) -> Self {
        let forks = match network {
            Network::Mainnet => EthereumChainHardforks::mainnet(),
            Network::Sepolia => EthereumChainHardforks::sepolia(),
            Network::Holesky => EthereumChainHardforks::holesky(),
            Network::Hoodi => EthereumChainHardforks::hoodi(),
        };
        let scheduled = [
            (EthereumHardfork::Bpo1, BlobParams::bpo1()),
            (EthereumHardfork::Bpo2, BlobParams::bpo2()),
        ]
        .into_iter()
        .filter_map(
            |(fork, params)| match forks.ethereum_fork_activation(fork) {
                ForkCondition::Timestamp(at) => Some((at, params)),
                _ => None,
            },
        );
        Self {
            blobs: BlobScheduleBlobParams::mainnet().with_scheduled(scheduled),
            forks,
        }
    }

    /// The rules of a geth-style chain config (a genesis file, the dev network).
    pub fn from_config(config: &ChainConfig) -> Self {
        let time = |at: Option<u64>| at.map(ForkCondition::Timestamp);
        let forks = [
            (
                EthereumHardfork::London,
                config.london_block.map(ForkCondition::Block),
            ),
            (EthereumHardfork::Shanghai, time(config.shanghai_time)),
            (EthereumHardfork::Cancun, time(config.cancun_time)),
            (EthereumHardfork::Prague, time(config.prague_time)),
            (EthereumHardfork::Osaka, time(config.osaka_time)),
            (EthereumHardfork::Amsterdam, time(config.amsterdam_time)),
        ];
        Self {
            forks: EthereumChainHardforks::new(
                forks
                    .into_iter()
                    .filter_map(|(fork, at)| at.map(|at| (fork, at))),
            ),
            blobs: config.blob_schedule_blob_params(),
        }
    }

    /// The blob parameters in force at `timestamp`, if blobs exist then.
    pub fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        let f = &self.forks;
        if f.is_osaka_active_at_timestamp(timestamp) {
            return Some(
                self.blobs
                    .active_scheduled_params_at_timestamp(timestamp)
                    .copied()
                    .unwrap_or(self.blobs.osaka),
            );
        }
        if f.is_prague_active_at_timestamp(timestamp) {
            return Some(self.blobs.prague);
        }
        f.is_cancun_active_at_timestamp(timestamp)
            .then_some(self.blobs.cancun)
    }

    /// Checks `header` against `parent` at our clock `now` (UNIX seconds).
    pub fn check(&self, parent: &Header, header: &Header, now: u64) -> Result<(), HeaderRuleError> {
        check_link_and_time(parent, header, now)?;
        check_gas(parent, header)?;
        if header.extra_data.len() > MAX_EXTRA_DATA {
            return Err(HeaderRuleError::ExtraData(header.extra_data.len()));
        }
        self.check_fork_fields(header)?;
        check_proof_of_stake(header)?;
        check_base_fee(parent, header)?;
        self.check_blob_gas(parent, header)
    }

    /// Each fork's fields present from its activation on, and none of a later fork's.
    fn check_fork_fields(&self, h: &Header) -> Result<(), HeaderRuleError> {
        let f = &self.forks;
        let t = h.timestamp;
        let london = f.is_london_active_at_block(h.number);
        let shanghai = f.is_shanghai_active_at_timestamp(t);
        let cancun = f.is_cancun_active_at_timestamp(t);
        let prague = f.is_prague_active_at_timestamp(t);
        let amsterdam = f.is_amsterdam_active_at_timestamp(t);
        let fields = [
            ("baseFeePerGas", h.base_fee_per_gas.is_some(), london),
            ("withdrawalsRoot", h.withdrawals_root.is_some(), shanghai),
            ("blobGasUsed", h.blob_gas_used.is_some(), cancun),
            ("excessBlobGas", h.excess_blob_gas.is_some(), cancun),
            (
                "parentBeaconBlockRoot",
                h.parent_beacon_block_root.is_some(),
                cancun,
            ),
            ("requestsHash", h.requests_hash.is_some(), prague),
            (
                "blockAccessListHash",
                h.block_access_list_hash.is_some(),
                amsterdam,
            ),
            ("slotNumber", h.slot_number.is_some(), amsterdam),
        ];
        for (field, present, required) in fields {
            if present != required {
                return Err(HeaderRuleError::ForkField { field, present });
            }
        }
        Ok(())
    }

    /// Blob gas used within the fork's maximum, whole blobs; excess blob gas as the
    /// parent's next value (EIP-4844; EIP-7918's reserve price since Osaka).
    fn check_blob_gas(&self, parent: &Header, header: &Header) -> Result<(), HeaderRuleError> {
        let (Some(used), Some(excess), Some(params)) = (
            header.blob_gas_used,
            header.excess_blob_gas,
            self.blob_params_at(header.timestamp),
        ) else {
            return Ok(());
        };
        let max = params.max_blob_gas_per_block();
        if used > max || used % DATA_GAS_PER_BLOB != 0 {
            return Err(HeaderRuleError::BlobGasUsed { used, max });
        }
        // The fork's parameters apply to the parent's values (geth `CalcExcessBlobGas`
        // with the child's config); a pre-Cancun parent counts as zero.
        let expected = next_excess_blob_gas(
            &params,
            parent.excess_blob_gas.unwrap_or(0),
            parent.blob_gas_used.unwrap_or(0),
            parent.base_fee_per_gas.unwrap_or(0),
        );
        match expected {
            Some(expected) if expected == excess => Ok(()),
            expected => Err(HeaderRuleError::ExcessBlobGas {
                got: excess,
                expected: expected.unwrap_or(u64::MAX),
            }),
        }
    }
}

fn check_link_and_time(parent: &Header, header: &Header, now: u64) -> Result<(), HeaderRuleError> {
    if Some(header.number) != parent.number.checked_add(1)
        || header.parent_hash != parent.hash_slow()
    {
        return Err(HeaderRuleError::Link {
            number: header.number,
            parent: parent.number,
        });
    }
    if header.timestamp <= parent.timestamp {
        return Err(HeaderRuleError::OlderThanParent {
            timestamp: header.timestamp,
            parent: parent.timestamp,
        });
    }
    if header.timestamp > now.saturating_add(MAX_FUTURE_SECONDS) {
        return Err(HeaderRuleError::FromTheFuture {
            timestamp: header.timestamp,
            now,
        });
    }
    Ok(())
}

/// Whether a child's gas limit moved by less than parent/1024 and is at least the minimum
/// (yellow paper eq. 47; geth `VerifyGaslimit`).
pub(crate) fn gas_limit_in_bounds(parent: u64, limit: u64) -> bool {
    limit.abs_diff(parent) < parent / GAS_LIMIT_BOUND_DIVISOR && limit >= MIN_GAS_LIMIT
}

fn check_gas(parent: &Header, header: &Header) -> Result<(), HeaderRuleError> {
    if !gas_limit_in_bounds(parent.gas_limit, header.gas_limit) {
        return Err(HeaderRuleError::GasLimit {
            gas_limit: header.gas_limit,
            parent: parent.gas_limit,
        });
    }
    if header.gas_used > header.gas_limit {
        return Err(HeaderRuleError::GasUsed {
            used: header.gas_used,
            limit: header.gas_limit,
        });
    }
    Ok(())
}

fn check_proof_of_stake(header: &Header) -> Result<(), HeaderRuleError> {
    if header.difficulty != U256::ZERO {
        return Err(HeaderRuleError::NotProofOfStake("difficulty is not 0"));
    }
    if header.nonce != alloy_primitives::B64::ZERO {
        return Err(HeaderRuleError::NotProofOfStake("nonce is not 0"));
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(HeaderRuleError::NotProofOfStake(
            "ommers hash is not the empty list's",
        ));
    }
    Ok(())
}

/// The base fee EIP-1559 gives the child of `parent` (the initial 1 gwei at London's first
/// block), checked against `header`'s.
fn check_base_fee(parent: &Header, header: &Header) -> Result<(), HeaderRuleError> {
    let Some(got) = header.base_fee_per_gas else {
        return Ok(());
    };
    let expected = match parent.base_fee_per_gas {
        // The parent passed these rules (gas used within its limit), so alloy's
        // arithmetic stays in range.
        Some(_) => parent
            .next_block_base_fee(BaseFeeParams::ethereum())
            .unwrap_or(INITIAL_BASE_FEE),
        None => INITIAL_BASE_FEE,
    };
    if got != expected {
        return Err(HeaderRuleError::BaseFee { got, expected });
    }
    Ok(())
}

/// EIP-4844's next excess blob gas with EIP-7918's reserve price (which is inert before
/// Osaka, where `blob_base_cost` is 0), in checked arithmetic: the parent's values come
/// from a peer. `None` on overflow.
fn next_excess_blob_gas(params: &BlobParams, excess: u64, used: u64, base_fee: u64) -> Option<u64> {
    let total = excess.checked_add(used)?;
    let target = params.target_blob_gas_per_block();
    if total < target {
        return Some(0);
    }
    let reserve_binds = params.blob_base_cost > 0 && {
        let reserve = U256::from(params.blob_base_cost) * U256::from(base_fee);
        reserve > U256::from(DATA_GAS_PER_BLOB) * U256::from(params.calc_blob_fee(excess))
    };
    if reserve_binds {
        let spread = params
            .max_blob_count
            .checked_sub(params.target_blob_count)?;
        let scaled = used
            .checked_mul(spread)?
            .checked_div(params.max_blob_count)?;
        return excess.checked_add(scaled);
    }
    total.checked_sub(target)
}

#[cfg(test)]
#[path = "header_rules_tests.rs"]
mod tests;
