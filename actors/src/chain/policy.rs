//! What blocks from peers may do to our chain, by consensus engine. Since the merge a
//! block's validity is the consensus client's word, which we do not have: a post-merge
//! chain takes blocks only through local import, and a peer that broadcasts one breaks
//! the protocol (geth has treated NewBlock/NewBlockHashes as a violation since the merge).
//! Before the merge, an ethash chain takes a peer's block once its header passes every
//! consensus check including the seal ([`super::check_pow_block`], the ethash verifier).

use alloy_genesis::Genesis;
use alloy_primitives::U256;

use super::difficulty::DifficultyForks;

/// How blocks that peers broadcast (NewBlock, NewBlockHashes; eth <= 68) are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockPolicy {
    /// Proof of stake at our head: a block broadcast is a protocol violation (disconnect
    /// with 0x10, nothing stored or relayed), and we never send one.
    PostMerge,
    /// Proof of work (genesis config with `ethash`) until the terminal total difficulty,
    /// if one is set; from then on as [`Self::PostMerge`]. A block is relayed in full
    /// (NewBlock to the square root of the peers) only after its header passed every
    /// check, the fork's difficulty rule and the ethash seal included, and announced to
    /// the rest after import (geth's 2018 block fetcher); a sender of an invalid header is
    /// disconnected (0x03, as geth drops it).
    ProofOfWork {
        /// The terminal total difficulty, if the chain has one.
        terminal_total_difficulty: Option<U256>,
        /// The fork blocks that set the difficulty rule.
        forks: DifficultyForks,
    },
    /// Another engine (clique, or none named): block broadcasts are ignored, never
    /// stored or relayed; the head moves only through local import.
    LocalOnly,
}

impl BlockPolicy {
    /// The policy of a geth-style genesis: post-merge when the terminal total difficulty
    /// is passed or already reached at genesis, proof of work with `ethash`, else local
    /// import only.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let config = &genesis.config;
        let ttd = config.terminal_total_difficulty;
        let merged = config.terminal_total_difficulty_passed
            || ttd.is_some_and(|ttd| genesis.difficulty >= ttd);
        if merged {
            Self::PostMerge
        } else if config.ethash.is_some() || ttd.is_some() {
            // A chain heading for the merge without a named engine is PoW before it.
            Self::ProofOfWork {
                terminal_total_difficulty: ttd,
                forks: DifficultyForks::from_config(config),
            }
        } else {
            Self::LocalOnly
        }
    }

    /// Whether the chain is past the merge when its head has total difficulty `head_td`.
    pub fn is_post_merge(&self, head_td: U256) -> bool {
        match self {
            Self::PostMerge => true,
            Self::ProofOfWork {
                terminal_total_difficulty,
                ..
            } => terminal_total_difficulty.is_some_and(|ttd| head_td >= ttd),
            Self::LocalOnly => false,
        }
    }

    /// Whether blocks from peers are imported and relayed at a head with total difficulty
    /// `head_td`.
    pub fn relays(&self, head_td: U256) -> bool {
        matches!(self, Self::ProofOfWork { .. }) && !self.is_post_merge(head_td)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis(config: serde_json::Value, difficulty: u64) -> Genesis {
        serde_json::from_value(serde_json::json!({
            "config": config,
            "difficulty": format!("{difficulty:#x}"),
            "gasLimit": "0x1c9c380",
            "alloc": {}
        }))
        .expect("genesis")
    }

    #[test]
    fn a_chain_merged_at_genesis_is_post_merge() {
        // The ethtest chain's shape: TTD equal to the genesis difficulty.
        let spec = genesis(
            serde_json::json!({"chainId": 1, "terminalTotalDifficulty": 131072, "ethash": {}}),
            131_072,
        );
        assert_eq!(BlockPolicy::from_genesis(&spec), BlockPolicy::PostMerge);
        let passed = genesis(
            serde_json::json!({"chainId": 1, "terminalTotalDifficulty": 9000,
                               "terminalTotalDifficultyPassed": true}),
            1,
        );
        assert_eq!(BlockPolicy::from_genesis(&passed), BlockPolicy::PostMerge);
    }

    #[test]
    fn a_pow_chain_relays_until_its_terminal_difficulty() {
        let spec = genesis(
            serde_json::json!({"chainId": 1, "terminalTotalDifficulty": 1000, "ethash": {}}),
            1,
        );
        let policy = BlockPolicy::from_genesis(&spec);
        assert!(policy.relays(U256::from(999)));
        let BlockPolicy::ProofOfWork { forks, .. } = policy else {
            panic!("{policy:?}")
        };
        assert_eq!(
            forks,
            DifficultyForks::default(),
            "Frontier rules throughout"
        );
        assert!(!policy.relays(U256::from(1000)));
        assert!(policy.is_post_merge(U256::from(1000)));
    }

    #[test]
    fn clique_and_unnamed_engines_take_local_blocks_only() {
        let spec = genesis(
            serde_json::json!({"chainId": 1, "clique": {"period": 5, "epoch": 30000}}),
            1,
        );
        let policy = BlockPolicy::from_genesis(&spec);
        assert_eq!(policy, BlockPolicy::LocalOnly);
        assert!(!policy.relays(U256::ZERO) && !policy.is_post_merge(U256::ZERO));
    }
}
