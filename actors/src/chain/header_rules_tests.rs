//! The checked excess-blob-gas arithmetic against alloy's (an independent implementation of
//! EIP-4844 and EIP-7918), and the fork fields of a built-in network. The rule-by-rule
//! tests on real headers of the ethtest chain are in `tests/it/header_rules.rs`.

use super::*;

#[test]
fn next_excess_blob_gas_matches_alloys_at_every_fork() {
    let forks = [
        BlobParams::cancun(),
        BlobParams::prague(),
        BlobParams::osaka(),
        BlobParams::bpo2(),
    ];
    let excesses = [0, 131_072, 393_216, 10_000_000, 80_000_000];
    let useds = [0, 131_072, 786_432, 1_179_648];
    let base_fees = [0, 7, 1_000_000_000, 50_000_000_000];
    for params in forks {
        for excess in excesses {
            for used in useds
                .iter()
                .copied()
                .filter(|u| *u <= params.max_blob_gas_per_block())
            {
                for base_fee in base_fees {
                    assert_eq!(
                        next_excess_blob_gas(&params, excess, used, base_fee),
                        Some(params.next_block_excess_blob_gas_osaka(excess, used, base_fee)),
                        "{params:?} excess {excess} used {used} base fee {base_fee}"
                    );
                }
            }
        }
    }
    // Values no honest chain reaches overflow to None instead of wrapping or panicking.
    assert_eq!(
        next_excess_blob_gas(&BlobParams::osaka(), u64::MAX, 1, 1),
        None
    );
}

#[test]
fn mainnets_rules_know_its_forks_and_blob_schedule() {
    let rules = HeaderRules::network(Network::Mainnet);
    // Cancun activated at 1710338135, Prague at 1746612311 (alloy's mainnet list).
    assert_eq!(rules.blob_params_at(1_710_338_134), None);
    assert_eq!(
        rules.blob_params_at(1_710_338_135),
        Some(BlobParams::cancun())
    );
    assert_eq!(
        rules.blob_params_at(1_746_612_311),
        Some(BlobParams::prague())
    );
    let far = rules.blob_params_at(4_000_000_000).expect("blobs");
    assert!(far.max_blob_count >= BlobParams::osaka().max_blob_count);
}
