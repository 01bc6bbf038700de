//! Fork id creation and validation vectors from `forkid/eip2124_vectors.json`: EIP-2124,
//! EIP-6122 and go-ethereum's `forkid_test.go`, against our schedules and alloy's filter.

use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable};
use ethpeer_actors::eth::forkid::{ForkHash, ForkId, ForkSchedule, Network, ValidationError};
use serde_json::Value;

use crate::common::{json, testdata_or_skip, unhex};

fn fork_hash(value: &Value) -> ForkHash {
    let bytes = unhex(value.as_str().expect("fork hash"));
    ForkHash(bytes.try_into().expect("4 bytes"))
}

fn u64s(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("u64"))
        .collect()
}

fn genesis_hash(value: &Value) -> B256 {
    B256::from_slice(&unhex(value.as_str().expect("genesis hash")))
}

fn check_creation(schedule: &ForkSchedule, cases: &Value, what: &str) -> usize {
    let cases = cases.as_array().expect("cases");
    for case in cases {
        let number = case["head_block"].as_u64().expect("head_block");
        let time = case["head_time"].as_u64().unwrap_or(0);
        let expected = ForkId {
            hash: fork_hash(&case["fork_hash"]),
            next: case["fork_next"].as_u64().expect("next"),
        };
        assert_eq!(
            schedule.fork_id(number, time),
            expected,
            "{what}: head {number}/{time} ({})",
            case["comment"]
        );
    }
    cases.len()
}

fn check_validation(schedule: &ForkSchedule, case: &Value, what: &str) {
    let number = case["local_head_block"].as_u64().expect("local_head_block");
    let time = case["local_head_time"].as_u64().unwrap_or(0);
    let remote = ForkId {
        hash: fork_hash(&case["remote_fork_hash"]),
        next: case["remote_fork_next"].as_u64().expect("next"),
    };
    let result = schedule.filter(number, time).validate(remote);
    let ok = matches!(
        (case["expected"].as_str().expect("expected"), &result),
        ("accept", Ok(()))
            | ("ErrRemoteStale", Err(ValidationError::RemoteStale { .. }))
            | (
                "ErrLocalIncompatibleOrStale",
                Err(ValidationError::LocalIncompatibleOrStale { .. })
            )
    );
    assert!(
        ok,
        "{what}: head {number}/{time}, remote {remote:?}: got {result:?}, expected {} ({})",
        case["expected"], case["comment"]
    );
}

#[test]
fn geth_creation_vectors_match_the_built_in_schedules() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let mut total = 0;
    for network in file["geth_creation_vectors"]["networks"]
        .as_array()
        .expect("networks")
    {
        let name = network["network"].as_str().expect("name").to_lowercase();
        let built_in: Network = name.parse().expect("a built-in network");
        assert_eq!(
            built_in.genesis_hash(),
            genesis_hash(&network["genesis_hash"]),
            "{name}"
        );
        total += check_creation(&built_in.fork_schedule(), &network["cases"], &name);
    }
    assert_eq!(total, 38 + 16 + 14 + 10);
}

/// The 2019 chain configs of the EIP-2124 creation vectors, in geth's `genesis.json` form,
/// copied from go-ethereum v1.9.6 `params/config.go` (`MainnetChainConfig` as of
/// Petersburg, `TestnetChainConfig` (Ropsten), `RinkebyChainConfig`, `GoerliChainConfig`),
/// not from the vectors: the schedule is built from them by
/// `ForkSchedule::from_chain_config`, as production builds it from a genesis file.
/// Ropsten, Rinkeby and Goerli are dead testnets and not built in.
fn eip2124_chain_config(network: &str) -> alloy_genesis::ChainConfig {
    let config = match network {
        "Mainnet" => serde_json::json!({
            "chainId": 1, "homesteadBlock": 1_150_000, "daoForkBlock": 1_920_000,
            "daoForkSupport": true, "eip150Block": 2_463_000, "eip155Block": 2_675_000,
            "eip158Block": 2_675_000, "byzantiumBlock": 4_370_000,
            "constantinopleBlock": 7_280_000, "petersburgBlock": 7_280_000,
        }),
        "Ropsten" => serde_json::json!({
            "chainId": 3, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 10,
            "eip158Block": 10, "byzantiumBlock": 1_700_000, "constantinopleBlock": 4_230_000,
            "petersburgBlock": 4_939_394, "istanbulBlock": 6_485_846,
        }),
        "Rinkeby" => serde_json::json!({
            "chainId": 4, "homesteadBlock": 1, "eip150Block": 2, "eip155Block": 3,
            "eip158Block": 3, "byzantiumBlock": 1_035_301, "constantinopleBlock": 3_660_663,
            "petersburgBlock": 4_321_234, "istanbulBlock": 5_435_345,
        }),
        "Goerli" => serde_json::json!({
            "chainId": 5, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0,
            "eip158Block": 0, "byzantiumBlock": 0, "constantinopleBlock": 0,
            "petersburgBlock": 0, "istanbulBlock": 1_561_651,
        }),
        other => panic!("no chain config for {other}"),
    };
    serde_json::from_value(config).expect("a geth chain config")
}

#[test]
fn eip2124_creation_vectors_match_schedules_built_from_their_chain_configs() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let mut total = 0;
    for network in file["eip2124_creation_vectors"]["networks"]
        .as_array()
        .expect("networks")
    {
        let name = network["network"].as_str().expect("name");
        let schedule = ForkSchedule::from_chain_config(
            genesis_hash(&network["genesis_hash"]),
            0,
            &eip2124_chain_config(name),
        );
        total += check_creation(&schedule, &network["cases"], name);
    }
    assert_eq!(total, 14 + 12 + 13 + 4);
}

#[test]
fn eip6122_creation_vectors_match() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let vectors = &file["eip6122_creation_vectors"];
    let schedule = ForkSchedule {
        genesis_hash: Network::Mainnet.genesis_hash(),
        genesis_timestamp: 0,
        block_forks: u64s(&vectors["local_fork_list_assumed"]["blocks"]),
        time_forks: u64s(&vectors["local_fork_list_assumed"]["times"]),
    };
    assert_eq!(check_creation(&schedule, &vectors["cases"], "eip6122"), 29);
}

#[test]
fn eip2124_and_eip6122_validation_vectors_match() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    for (key, expected_cases) in [
        ("eip2124_validation_vectors", 15),
        ("eip6122_validation_vectors", 16),
    ] {
        let vectors = &file[key];
        let schedule = ForkSchedule {
            genesis_hash: Network::Mainnet.genesis_hash(),
            genesis_timestamp: 0,
            block_forks: u64s(&vectors["local_fork_list_assumed"]["blocks"]),
            time_forks: u64s(&vectors["local_fork_list_assumed"]["times"]),
        };
        let cases = vectors["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), expected_cases, "{key}");
        for case in cases {
            check_validation(&schedule, case, key);
        }
    }
}

#[test]
fn geth_validation_vectors_match() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let mainnet = Network::Mainnet.fork_schedule();
    let legacy = ForkSchedule {
        time_forks: vec![],
        ..mainnet.clone()
    };
    let cases = file["geth_validation_vectors"]["cases"]
        .as_array()
        .expect("cases");
    assert_eq!(cases.len(), 45);
    for case in cases {
        let config = case["local_config"].as_str().expect("local_config");
        let schedule = if config.starts_with("mainnet_without_time_forks") {
            &legacy
        } else {
            &mainnet
        };
        check_validation(schedule, case, config);
    }
}

#[test]
fn fork_id_rlp_encoding_vectors_match() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let cases = file["eip2124_rlp_encoding_vectors"]["cases"]
        .as_array()
        .expect("cases");
    assert_eq!(cases.len(), 3);
    for case in cases {
        let id = ForkId {
            hash: fork_hash(&case["fork_hash"]),
            next: case["fork_next"].as_u64().expect("next"),
        };
        let bytes = unhex(case["rlp"].as_str().expect("rlp"));
        let mut encoded = Vec::new();
        id.encode(&mut encoded);
        assert_eq!(encoded, bytes);
        assert_eq!(ForkId::decode(&mut bytes.as_slice()).expect("decodes"), id);
    }
}

#[test]
fn mainnet_fork_hash_chain_matches_the_documented_schedule() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "forkid/eip2124_vectors.json");
    let schedule = &file["mainnet_fork_schedule"];
    let mainnet = Network::Mainnet.fork_schedule();
    let current = &schedule["current_forkid"];
    assert_eq!(
        mainnet.fork_id(30_000_000, 1_800_000_000),
        ForkId {
            hash: fork_hash(&current["fork_hash"]),
            next: 0
        }
    );
}
