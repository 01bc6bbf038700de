//! The header rules that need no state (issue: a head that liars cannot fake), on the real
//! headers of hive's ethtest chain (made by go-ethereum): every header of the chain passes
//! against its parent, and a post-Prague header with one rule broken is refused with that
//! rule named.

use alloy_consensus::Header;
use alloy_primitives::{Bytes, B256, B64, U256};
use ethpeer_actors::chain::{self, HeaderRuleError as E, HeaderRules};
use ethpeer_actors::eth::genesis;

use crate::common::testdata_or_skip;

/// The ethtest chain's headers, genesis first, and its rules.
fn headers() -> Option<(Vec<Header>, HeaderRules)> {
    let dir = crate::common::testdata()?;
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis.json");
    let mut headers = vec![genesis::genesis_header(&spec).expect("genesis header")];
    let bytes = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
    let blocks = chain::read_chain_file(&bytes).expect("chain decodes");
    headers.extend(blocks.into_iter().map(|b| b.header));
    Some((headers, HeaderRules::from_config(&spec.config)))
}

#[test]
fn every_header_of_the_ethtest_chain_passes() {
    let _dir = testdata_or_skip!();
    let (headers, rules) = headers().expect("testdata");
    assert_eq!(headers.len(), 601);
    for pair in headers.windows(2) {
        let now = pair[1].timestamp;
        assert_eq!(
            rules.check(&pair[0], &pair[1], now),
            Ok(()),
            "block {}",
            pair[1].number
        );
    }
}

/// A rule's name, how to break it, and the error expected.
type Case = (&'static str, Box<dyn Fn(&mut Header)>, fn(&E) -> bool);

#[test]
fn a_header_breaking_one_rule_is_refused_with_that_rule() {
    let _dir = testdata_or_skip!();
    let (headers, rules) = headers().expect("testdata");
    // The last two blocks: post-Prague (pragueTime 120), with blobs' fields.
    let (parent, good) = (&headers[599], &headers[600]);
    assert!(good.requests_hash.is_some() && good.excess_blob_gas.is_some());
    let now = good.timestamp + 1;
    let parent_time = parent.timestamp;
    let check = |change: &dyn Fn(&mut Header)| {
        let mut header = good.clone();
        change(&mut header);
        rules.check(parent, &header, now)
    };
    assert_eq!(check(&|_| {}), Ok(()));
    let cases: Vec<Case> = vec![
        ("number", Box::new(|h| h.number += 1), |e| {
            matches!(e, E::Link { .. })
        }),
        (
            "parent hash",
            Box::new(|h| h.parent_hash = B256::ZERO),
            |e| matches!(e, E::Link { .. }),
        ),
        (
            "timestamp at the parent's",
            Box::new(move |h| h.timestamp = parent_time),
            |e| matches!(e, E::OlderThanParent { .. }),
        ),
        (
            "timestamp a slot ahead",
            Box::new(move |h| h.timestamp = now + 13),
            |e| matches!(e, E::FromTheFuture { .. }),
        ),
        (
            "gas limit up by parent/1024",
            Box::new(|h| h.gas_limit += h.gas_limit / 1024 + 1),
            |e| matches!(e, E::GasLimit { .. }),
        ),
        (
            "gas used above the limit",
            Box::new(|h| h.gas_used = h.gas_limit + 1),
            |e| matches!(e, E::GasUsed { .. }),
        ),
        (
            "33 bytes of extra data",
            Box::new(|h| h.extra_data = Bytes::from(vec![1; 33])),
            |e| matches!(e, E::ExtraData(33)),
        ),
        (
            "no base fee",
            Box::new(|h| h.base_fee_per_gas = None),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "baseFeePerGas",
                        present: false
                    }
                )
            },
        ),
        (
            "no withdrawals root",
            Box::new(|h| h.withdrawals_root = None),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "withdrawalsRoot",
                        present: false
                    }
                )
            },
        ),
        (
            "no blob gas used",
            Box::new(|h| h.blob_gas_used = None),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "blobGasUsed",
                        present: false
                    }
                )
            },
        ),
        (
            "no beacon root",
            Box::new(|h| h.parent_beacon_block_root = None),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "parentBeaconBlockRoot",
                        present: false
                    }
                )
            },
        ),
        (
            "no requests hash",
            Box::new(|h| h.requests_hash = None),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "requestsHash",
                        present: false
                    }
                )
            },
        ),
        (
            "an Amsterdam field",
            Box::new(|h| h.block_access_list_hash = Some(B256::ZERO)),
            |e| {
                matches!(
                    e,
                    E::ForkField {
                        field: "blockAccessListHash",
                        present: true
                    }
                )
            },
        ),
        (
            "difficulty",
            Box::new(|h| h.difficulty = U256::from(1)),
            |e| matches!(e, E::NotProofOfStake(_)),
        ),
        ("nonce", Box::new(|h| h.nonce = B64::from(1u64)), |e| {
            matches!(e, E::NotProofOfStake(_))
        }),
        ("ommers", Box::new(|h| h.ommers_hash = B256::ZERO), |e| {
            matches!(e, E::NotProofOfStake(_))
        }),
        (
            "base fee off by one",
            Box::new(|h| h.base_fee_per_gas = h.base_fee_per_gas.map(|f| f + 1)),
            |e| matches!(e, E::BaseFee { .. }),
        ),
        (
            "excess blob gas off",
            Box::new(|h| h.excess_blob_gas = h.excess_blob_gas.map(|g| g + 131_072)),
            |e| matches!(e, E::ExcessBlobGas { .. }),
        ),
        (
            "part of a blob",
            Box::new(|h| h.blob_gas_used = Some(1)),
            |e| matches!(e, E::BlobGasUsed { .. }),
        ),
        (
            "too many blobs",
            Box::new(|h| h.blob_gas_used = Some(131_072 * 10)),
            |e| matches!(e, E::BlobGasUsed { .. }),
        ),
    ];
    for (rule, change, expected) in cases {
        let result = check(change.as_ref());
        assert!(result.as_ref().is_err_and(expected), "{rule}: {result:?}");
    }
    // Before Cancun (cancunTime 60) blob fields must be absent.
    let early = headers
        .iter()
        .position(|h| h.timestamp >= 20 && h.timestamp < 60)
        .expect("a pre-Cancun block");
    let mut header = headers[early].clone();
    header.blob_gas_used = Some(0);
    assert_eq!(
        rules.check(&headers[early - 1], &header, header.timestamp),
        Err(E::ForkField {
            field: "blobGasUsed",
            present: true
        })
    );
}
