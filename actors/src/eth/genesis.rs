//! The genesis block of a geth-style `genesis.json`: its header (state root from the alloc
//! through the Merkle-Patricia trie, plus the fields the forks active at genesis require)
//! and its fork schedule.

use std::path::Path;

use alloy_consensus::{constants::EMPTY_OMMER_ROOT_HASH, Header, EMPTY_ROOT_HASH};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{B256, B64};
use alloy_trie::root::state_root_ref_unhashed;

use super::ForkSchedule;

/// The base fee of the first London block (EIP-1559 `INITIAL_BASE_FEE`, 1 gwei), used when
/// London is active at genesis and `genesis.json` names no base fee.
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// Why a genesis file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a geth-style genesis JSON.
    #[error("invalid genesis file {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON has no chain configuration (geth: "genesis has no chain configuration").
    #[error("genesis file {path} has no config.chainId")]
    MissingConfig {
        /// The file.
        path: String,
    },
    /// The base fee does not fit a header's u64 field.
    #[error("genesis base fee {base_fee} does not fit in 64 bits")]
    BaseFeeTooLarge {
        /// The configured base fee.
        base_fee: u128,
    },
}

/// Reads and parses a geth-style `genesis.json`.
pub fn load_genesis(path: &Path) -> Result<Genesis, GenesisError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_genesis(&text, shown)
}

/// The built-in dev network's genesis (chain id 1337 like geth `--dev`, every fork up to
/// Prague active at genesis, [`DEV_ACCOUNT_KEYS`]' accounts funded with 10,000 ETH each).
#[allow(clippy::expect_used)]
pub fn dev_genesis() -> Genesis {
    // A constant built into the crate (not remote data), parsed by a unit test.
    parse_genesis(DEV_GENESIS_JSON, "dev genesis".into()).expect("the built-in dev genesis parses")
}

/// The dev genesis as shipped (`eth/dev_genesis.json`).
pub const DEV_GENESIS_JSON: &str = include_str!("dev_genesis.json");

/// The funded dev accounts' private keys, the well-known keys of the "test test ... junk"
/// mnemonic that Hardhat and Anvil also fund, so wallets and scripts already know them.
/// Public knowledge: never use them outside a dev network.
pub const DEV_ACCOUNT_KEYS: [&str; 4] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/// A signed EIP-1559 transfer on the dev network (chain 1337) from dev account `index`
/// ([`DEV_ACCOUNT_KEYS`]): 21,000 gas, 2 gwei fee cap, 1 gwei tip. For examples, demos and
/// tests; `None` for an index without a key.
pub fn dev_transfer(
    index: usize,
    nonce: u64,
    to: alloy_primitives::Address,
    value: alloy_primitives::U256,
) -> Option<super::PooledTx> {
    use alloy_consensus::{SignableTransaction, Signed, TxEip1559};
    let key: B256 = DEV_ACCOUNT_KEYS.get(index)?.parse().ok()?;
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: alloy_primitives::TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Default::default(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).ok()?;
    Some(super::PooledTx::Eip1559(Signed::new_unhashed(
        tx, signature,
    )))
}

fn parse_genesis(text: &str, shown: String) -> Result<Genesis, GenesisError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|source| GenesisError::Json {
            path: shown.clone(),
            source,
        })?;
    // alloy's Genesis defaults every field, so any JSON object would parse: insist on the
    // chain configuration that every real genesis file has.
    if json.get("config").and_then(|c| c.get("chainId")).is_none() {
        return Err(GenesisError::MissingConfig { path: shown });
    }
    serde_json::from_value(json).map_err(|source| GenesisError::Json {
        path: shown,
        source,
    })
}

/// Builds the genesis header: the state root of the alloc, empty roots for transactions,
/// receipts and ommers, and the fork fields that the forks active at genesis require
/// (base fee for London, withdrawals root for Shanghai, blob gas and beacon root for Cancun,
/// requests hash for Prague).
pub fn genesis_header(genesis: &Genesis) -> Result<Header, GenesisError> {
    let config = &genesis.config;
    let time_active = |fork: Option<u64>| fork.is_some_and(|t| t <= genesis.timestamp);
    let london = config.london_block.is_some_and(|b| b == 0);
    let shanghai = time_active(config.shanghai_time);
    let cancun = time_active(config.cancun_time);
    let prague = time_active(config.prague_time);

    let base_fee_per_gas = match (london, genesis.base_fee_per_gas) {
        (false, _) => None,
        (true, None) => Some(INITIAL_BASE_FEE),
        (true, Some(fee)) => {
            Some(u64::try_from(fee).map_err(|_| GenesisError::BaseFeeTooLarge { base_fee: fee })?)
        }
    };
    Ok(Header {
        parent_hash: genesis.parent_hash.unwrap_or_default(),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root: state_root_ref_unhashed(&genesis.alloc),
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: genesis.difficulty,
        number: genesis.number.unwrap_or_default(),
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: genesis.mix_hash,
        nonce: B64::from(genesis.nonce),
        base_fee_per_gas,
        withdrawals_root: shanghai.then_some(EMPTY_ROOT_HASH),
        blob_gas_used: cancun.then(|| genesis.blob_gas_used.unwrap_or_default()),
        excess_blob_gas: cancun.then(|| genesis.excess_blob_gas.unwrap_or_default()),
        parent_beacon_block_root: cancun.then_some(B256::ZERO),
        requests_hash: prague.then_some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    })
}

/// The genesis header of a built-in public network (fields from geth's `core/genesis.go`
/// `Default*GenesisBlock`, state roots from ethereumjs's genesis table); a unit test checks
/// each hashes to [`super::forkid::Network::genesis_hash`]. The allocs themselves are not shipped: a node
/// that only relays needs the header, not the genesis state.
pub fn network_genesis_header(network: super::forkid::Network) -> Header {
    use super::forkid::Network;
    use alloy_primitives::{b256, bytes, Bytes, U256};
    let base = Header {
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        ..Default::default()
    };
    match network {
        Network::Mainnet => Header {
            state_root: b256!("d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"),
            difficulty: U256::from(0x4_0000_0000u64),
            gas_limit: 5000,
            extra_data: bytes!("11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa"),
            nonce: B64::from(0x42u64),
            ..base
        },
        Network::Sepolia => Header {
            state_root: b256!("5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494"),
            difficulty: U256::from(0x20000u64),
            gas_limit: 30_000_000,
            timestamp: 1_633_267_481,
            extra_data: Bytes::from_static(b"Sepolia, Athens, Attica, Greece!"),
            base_fee_per_gas: Some(INITIAL_BASE_FEE),
            ..base
        },
        Network::Holesky => Header {
            state_root: b256!("69d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783"),
            difficulty: U256::from(1u64),
            gas_limit: 25_000_000,
            timestamp: 1_695_902_100,
            nonce: B64::from(0x1234u64),
            base_fee_per_gas: Some(INITIAL_BASE_FEE),
            ..base
        },
        Network::Hoodi => Header {
            state_root: b256!("da87d7f5f91c51508791bbcbd4aa5baf04917830b86985eeb9ad3d5bfb657576"),
            difficulty: U256::from(1u64),
            gas_limit: 36_000_000,
            timestamp: 1_742_212_800,
            nonce: B64::from(0x1234u64),
            base_fee_per_gas: Some(INITIAL_BASE_FEE),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            ..base
        },
    }
}

/// The fork schedule of a genesis file, anchored at its genesis hash.
pub fn fork_schedule(genesis: &Genesis, genesis_hash: B256) -> ForkSchedule {
    ForkSchedule::from_chain_config(genesis_hash, genesis.timestamp, &genesis.config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{keccak256, Address, U256};

    fn address_of(key_hex: &str) -> Address {
        let bytes = alloy_primitives::hex::decode(key_hex).unwrap();
        let key = secp256k1::SecretKey::from_byte_array(bytes.try_into().unwrap()).unwrap();
        let public = key
            .public_key(secp256k1::SECP256K1)
            .serialize_uncompressed();
        Address::from_slice(&keccak256(&public[1..])[12..])
    }

    #[test]
    fn built_in_genesis_headers_hash_to_the_known_genesis_hashes() {
        for network in crate::eth::forkid::Network::ALL {
            let header = network_genesis_header(network);
            assert_eq!(
                header.hash_slow(),
                network.genesis_hash(),
                "{}",
                network.name()
            );
        }
    }

    #[test]
    fn dev_genesis_funds_every_listed_key() {
        let genesis = parse_genesis(DEV_GENESIS_JSON, "dev".into()).unwrap();
        assert_eq!(genesis.config.chain_id, 1337);
        assert_eq!(genesis.alloc.len(), DEV_ACCOUNT_KEYS.len());
        for key in DEV_ACCOUNT_KEYS {
            let account = &genesis.alloc[&address_of(key)];
            assert_eq!(
                account.balance,
                U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
            );
        }
        // Every fork up to Prague at genesis: the header carries all their fields.
        let header = genesis_header(&genesis).unwrap();
        assert!(header.requests_hash.is_some() && header.parent_beacon_block_root.is_some());
    }
}
