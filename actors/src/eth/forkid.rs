//! Fork identifiers (EIP-2124, with EIP-6122 timestamp forks): a chain's fork schedule, the
//! fork id at a head, and the validation filter for a remote's fork id.
//!
//! The CRC32 chain and the filter rules are alloy's `eip2124` implementation; this module
//! owns the schedules: the built-in networks and the ones read from a geth `genesis.json`.

use alloy_genesis::ChainConfig;
use alloy_primitives::{b256, B256};

pub use alloy_eips::eip2124::{ForkFilter, ForkFilterKey, ForkHash, ForkId, Head, ValidationError};

/// The forks of one chain, as the fork id sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkSchedule {
    /// Hash of the genesis block (the CRC32 chain starts from it).
    pub genesis_hash: B256,
    /// Genesis timestamp: time forks at or before it are not counted (EIP-6122).
    pub genesis_timestamp: u64,
    /// Block-number forks, any order, duplicates allowed (they are folded).
    pub block_forks: Vec<u64>,
    /// Timestamp forks, any order, duplicates allowed.
    pub time_forks: Vec<u64>,
}

impl ForkSchedule {
    /// The schedule of a geth-style chain config: every `*Block` fork (the DAO block
    /// included whenever it is set) and every `*Time` fork, as geth's `gatherForks`
    /// collects them.
    pub fn from_chain_config(
        genesis_hash: B256,
        genesis_timestamp: u64,
        config: &ChainConfig,
    ) -> Self {
        let block_forks = [
            config.homestead_block,
            config.dao_fork_block,
            config.eip150_block,
            config.eip155_block,
            config.eip158_block,
            config.byzantium_block,
            config.constantinople_block,
            config.petersburg_block,
            config.istanbul_block,
            config.muir_glacier_block,
            config.berlin_block,
            config.london_block,
            config.arrow_glacier_block,
            config.gray_glacier_block,
            config.merge_netsplit_block,
        ]
        .into_iter()
        .flatten()
        .collect();
        let time_forks = [
            config.shanghai_time,
            config.cancun_time,
            config.prague_time,
            config.osaka_time,
            config.bpo1_time,
            config.bpo2_time,
            config.bpo3_time,
            config.bpo4_time,
            config.bpo5_time,
            config.amsterdam_time,
        ]
        .into_iter()
        .flatten()
        .collect();
        Self {
            genesis_hash,
            genesis_timestamp,
            block_forks,
            time_forks,
        }
    }

    /// All forks as filter keys.
    pub fn keys(&self) -> impl Iterator<Item = ForkFilterKey> + '_ {
        let blocks = self.block_forks.iter().map(|b| ForkFilterKey::Block(*b));
        blocks.chain(self.time_forks.iter().map(|t| ForkFilterKey::Time(*t)))
    }

    /// The validation filter for a local head at block `number` and `timestamp`.
    pub fn filter(&self, number: u64, timestamp: u64) -> ForkFilter {
        let head = Head {
            number,
            timestamp,
            ..Head::default()
        };
        ForkFilter::new(head, self.genesis_hash, self.genesis_timestamp, self.keys())
    }

    /// The fork id of a head at block `number` and `timestamp`.
    pub fn fork_id(&self, number: u64, timestamp: u64) -> ForkId {
        self.filter(number, timestamp).current()
    }
}

/// A public network whose parameters are built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    /// Ethereum mainnet (chain id 1).
    Mainnet,
    /// Sepolia testnet.
    Sepolia,
    /// Holesky testnet.
    Holesky,
    /// Hoodi testnet.
    Hoodi,
}

/// Mainnet's block forks (geth `params.MainnetChainConfig`): Homestead, DAO, Tangerine
/// Whistle, Spurious Dragon, Byzantium, Constantinople+Petersburg, Istanbul, Muir Glacier,
/// Berlin, London, Arrow Glacier, Gray Glacier. The Merge is TTD-based, not a fork-id fork.
const MAINNET_BLOCK_FORKS: [u64; 12] = [
    1_150_000, 1_920_000, 2_463_000, 2_675_000, 4_370_000, 7_280_000, 9_069_000, 9_200_000,
    12_244_000, 12_965_000, 13_773_000, 15_050_000,
];

impl Network {
    /// Every built-in network.
    pub const ALL: [Self; 4] = [Self::Mainnet, Self::Sepolia, Self::Holesky, Self::Hoodi];

    /// The lowercase name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Sepolia => "sepolia",
            Self::Holesky => "holesky",
            Self::Hoodi => "hoodi",
        }
    }

    /// Chain id, which is also the network id for all four.
    pub const fn chain_id(self) -> u64 {
        match self {
            Self::Mainnet => 1,
            Self::Sepolia => 11_155_111,
            Self::Holesky => 17_000,
            Self::Hoodi => 560_048,
        }
    }

    /// The genesis hash (geth `params` package).
    pub const fn genesis_hash(self) -> B256 {
        match self {
            Self::Mainnet => {
                b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3")
            }
            Self::Sepolia => {
                b256!("25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9")
            }
            Self::Holesky => {
                b256!("b5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4")
            }
            Self::Hoodi => {
                b256!("bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b")
            }
        }
    }

    /// The fork schedule (geth `params/config.go` as of 2026-08, up to BPO2).
    pub fn fork_schedule(self) -> ForkSchedule {
        let (genesis_timestamp, block_forks, time_forks): (u64, Vec<u64>, Vec<u64>) = match self {
            Self::Mainnet => (
                0,
                MAINNET_BLOCK_FORKS.to_vec(),
                vec![
                    1681338455, 1710338135, 1746612311, 1764798551, 1765290071, 1767747671,
                ],
            ),
            // Every pre-merge block fork at 0; the merge netsplit block is a fork-id fork.
            Self::Sepolia => (
                1633267481,
                vec![1_735_371],
                vec![
                    1677557088, 1706655072, 1741159776, 1760427360, 1761017184, 1761607008,
                ],
            ),
            Self::Holesky => (
                1695902100,
                vec![],
                vec![
                    1696000704, 1707305664, 1740434112, 1759308480, 1759800000, 1760389824,
                ],
            ),
            // Shanghai and Cancun are active at genesis and so not part of the fork id.
            Self::Hoodi => (
                1742212800,
                vec![],
                vec![0, 0, 1742999832, 1761677592, 1762365720, 1762955544],
            ),
        };
        ForkSchedule {
            genesis_hash: self.genesis_hash(),
            genesis_timestamp,
            block_forks,
            time_forks,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| {
                format!("unknown network {s:?} (expected mainnet, sepolia, holesky or hoodi)")
            })
    }
}
