//! The Status handshake message in its two shapes: eth/66-68 (with total difficulty) and
//! eth/69+ (with the served block range, EIP-7642), and [`PeerHead`], what a Status (or a
//! later BlockRangeUpdate) says about the peer's chain.

use alloy_eips::eip2124::ForkId;
use alloy_primitives::{B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// Status for eth/66, eth/67 and eth/68:
/// `[version, networkid, td, blockhash, genesis, forkid]` (`caps/eth.md`).
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Status {
    /// The eth version the sender speaks on this connection.
    pub version: u8,
    /// The network id (1 for mainnet).
    pub network_id: u64,
    /// Total difficulty of the sender's best chain.
    pub total_difficulty: U256,
    /// Hash of the sender's best block.
    pub best_hash: B256,
    /// Hash of the genesis block.
    pub genesis: B256,
    /// EIP-2124 fork identifier at the sender's head.
    pub fork_id: ForkId,
}

/// Status for eth/69 and eth/70:
/// `[version, networkid, genesis, forkid, earliest, latest, latestHash]` (EIP-7642).
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Status69 {
    /// The eth version the sender speaks on this connection.
    pub version: u8,
    /// The network id.
    pub network_id: u64,
    /// Hash of the genesis block.
    pub genesis: B256,
    /// EIP-2124 fork identifier at the sender's head.
    pub fork_id: ForkId,
    /// Earliest block whose bodies and receipts the sender serves.
    pub earliest: u64,
    /// The sender's latest block number.
    pub latest: u64,
    /// The sender's latest block hash.
    pub latest_hash: B256,
}

/// What a peer told us about its chain in the handshake (and since).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerHead {
    /// eth/66-68: total difficulty and best hash.
    TotalDifficulty {
        /// Total difficulty of the peer's best chain.
        td: U256,
        /// Its best block hash.
        best_hash: B256,
    },
    /// eth/69+: the block range it serves.
    Range {
        /// Earliest block served.
        earliest: u64,
        /// Latest block.
        latest: u64,
        /// Latest block hash.
        latest_hash: B256,
    },
}
