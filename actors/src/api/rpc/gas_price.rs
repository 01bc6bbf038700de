//! geth's gas price oracle (`eth/gasprice/gasprice.go`) over the blocks the node knows:
//! per block the three lowest effective tips (ignoring tips under 2 wei and the block
//! producer's own transactions), the 60th percentile of those samples over the last 20
//! blocks, capped at 500 gwei; a block without a usable tip counts as the last suggestion.

use alloy_consensus::Transaction;
use alloy_primitives::Address;

use crate::eth::EthBlockBody;

/// Blocks sampled: geth's `gpo.blocks` default (20).
pub const ORACLE_BLOCKS: u64 = 20;
/// Percentile of the samples suggested: geth's `gpo.percentile` default (60).
pub const ORACLE_PERCENTILE: usize = 60;
/// Lowest tips sampled per block: geth's `sampleNumber` (3).
pub const SAMPLES_PER_BLOCK: usize = 3;
/// Tips below this are ignored: geth's `gpo.ignoreprice` default (2 wei).
pub const IGNORE_PRICE: u128 = 2;
/// Highest tip suggested: geth's `gpo.maxprice` default (500 gwei).
pub const MAX_PRICE: u128 = 500_000_000_000;
/// The suggestion before any block had a usable tip: geth's default miner tip since
/// v1.15 (0.001 gwei), which its oracle starts from.
pub const DEFAULT_TIP: u128 = 1_000_000;

/// One block's input to the oracle.
pub struct OracleBlock<'a> {
    /// Its base fee (none before London: the tip is the whole gas price).
    pub base_fee: Option<u64>,
    /// Its producer: geth skips the producer's own transactions.
    pub beneficiary: Address,
    /// Its transactions.
    pub body: &'a EthBlockBody,
    /// Each transaction's sender, when known (otherwise none are skipped as the producer's).
    pub senders: Option<&'a [Address]>,
}

/// The block's lowest [`SAMPLES_PER_BLOCK`] usable tips, or `None` if it has none.
pub fn block_samples(block: &OracleBlock<'_>) -> Option<Vec<u128>> {
    let base_fee = block.base_fee.unwrap_or(0);
    let mut tips: Vec<u128> = block
        .body
        .transactions
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            block
                .senders
                .and_then(|senders| senders.get(*index))
                .is_none_or(|sender| *sender != block.beneficiary)
        })
        .filter_map(|(_, tx)| tx.effective_tip_per_gas(base_fee))
        .filter(|tip| *tip >= IGNORE_PRICE)
        .collect();
    tips.sort_unstable();
    tips.truncate(SAMPLES_PER_BLOCK);
    (!tips.is_empty()).then_some(tips)
}

/// The suggested tip from each block's samples (newest first or any order).
pub fn suggest_tip(blocks: impl IntoIterator<Item = Option<Vec<u128>>>) -> u128 {
    let mut all: Vec<u128> = blocks
        .into_iter()
        .flat_map(|samples| samples.unwrap_or_else(|| vec![DEFAULT_TIP]))
        .collect();
    if all.is_empty() {
        return DEFAULT_TIP;
    }
    all.sort_unstable();
    let index = (all.len() - 1) * ORACLE_PERCENTILE / 100;
    all[index].min(MAX_PRICE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixtieth_percentile_of_the_samples_is_suggested() {
        // 5 samples sorted: [1, 2, 3, 4, 5]; index (5 - 1) * 60 / 100 = 2.
        let tip = suggest_tip([Some(vec![5, 1]), Some(vec![3]), Some(vec![2, 4])]);
        assert_eq!(tip, 3);
    }

    #[test]
    fn blocks_without_usable_tips_count_as_the_default() {
        assert_eq!(suggest_tip([None, None]), DEFAULT_TIP);
        assert_eq!(suggest_tip(Vec::new()), DEFAULT_TIP);
        assert_eq!(suggest_tip([Some(vec![MAX_PRICE * 2])]), MAX_PRICE);
    }
}
