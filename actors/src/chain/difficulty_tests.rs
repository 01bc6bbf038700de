//! Difficulty vectors from ethereum/tests `DifficultyTests` (retesteth fillers; each
//! file's network has every fork up to the named one active from block 0):
//! dfFrontier/difficultyFrontier.json, dfHomestead/difficultyHomestead.json,
//! dfByzantium/difficultyByzantium.json, dfEIP2384/difficultyEIP2384.json ("Berlin": Muir
//! Glacier's 9M delay), dfArrowGlacier/difficultyArrowGlacier.json and
//! difficultyArrowGlacierFromLondon.json ("ArrowGlacier"). Test names as in the files.

use alloy_primitives::{B256, U256};

use super::*;

/// (name, currentBlockNumber, parentTimestamp, currentTimestamp, parentDifficulty,
/// parentUncles, currentDifficulty), numbers as in the JSON.
type Vector = (
    &'static str,
    u64,
    u64,
    u64,
    &'static str,
    bool,
    &'static str,
);

fn check(forks: DifficultyForks, vectors: &[Vector]) {
    for (name, number, parent_time, time, parent_difficulty, uncles, want) in vectors {
        let parent = Header {
            number: number - 1,
            timestamp: *parent_time,
            difficulty: parent_difficulty.parse().expect("difficulty"),
            ommers_hash: if *uncles {
                B256::repeat_byte(1)
            } else {
                EMPTY_OMMER_ROOT_HASH
            },
            ..Default::default()
        };
        let want: U256 = want.parse().expect("difficulty");
        assert_eq!(forks.calc(&parent, *time), Ok(want), "{name}");
    }
}

fn from_zero(up_to: usize) -> DifficultyForks {
    let at = |i: usize| (up_to >= i).then_some(0);
    DifficultyForks {
        homestead: at(1),
        byzantium: at(2),
        constantinople: at(3),
        muir_glacier: at(4),
        london: at(5),
        arrow_glacier: at(6),
        gray_glacier: at(7),
    }
}

#[test]
fn frontier() {
    check(
        from_zero(0),
        &[
            (
                "DifficultyTest1",
                0x0186a0,
                0x75311a08a,
                0x75311a08b,
                "0x6a8007579a9bec39",
                false,
                "0x6a8d5758858f3fb6",
            ),
            (
                "DifficultyTest1000",
                0x1e8480,
                0x21882df51,
                0x21882df65,
                "0x7eca0d302494fee0",
                false,
                "0x7eba33ee7e946c41",
            ),
            (
                "DifficultyTest1030",
                0x0186a0,
                0x79c7e4435,
                0x79c7e4449,
                "0x5c7652fa711ae11b",
                true,
                "0x5c6ac43011ccbdbf",
            ),
        ],
    );
}

#[test]
fn homestead() {
    check(
        from_zero(1),
        &[
            (
                "DifficultyTest1",
                0x0186a0,
                0x68450ae0c,
                0x68450ae0d,
                "0x6aa9fe0e7a00ac12",
                false,
                "0x6ab7534e3bcfec27",
            ),
            (
                "DifficultyTest1000",
                0x1e8480,
                0x43072eb76,
                0x43072eb8a,
                "0x5d70c86ec8b54265",
                false,
                "0x5d651a55bae02bbd",
            ),
            (
                "DifficultyTest1030",
                0x0186a0,
                0x29e25a971,
                0x29e25a985,
                "0x3d77af9a705c9863",
                true,
                "0x3d7000a47d0e8cd0",
            ),
        ],
    );
}

#[test]
fn byzantium() {
    check(
        from_zero(2),
        &[
            (
                "DifficultyTest1",
                0x0186a0,
                0x28d214818,
                0x28d214819,
                "0x6963001f28ba95c2",
                false,
                "0x69702c7f2c9fad14",
            ),
            (
                "DifficultyTest1029",
                0x4ac4a0,
                0x75226c13d,
                0x75226c151,
                "0x7202995d022371be",
                false,
                "0x71f45909d6852d50",
            ),
            (
                "DifficultyTest1030",
                0x0186a0,
                0xfb02a4e6,
                0xfb02a4fa,
                "0x1b4780a170e725e9",
                true,
                "0x1b4780a170e725e9",
            ),
        ],
    );
}

#[test]
fn berlin_with_muir_glacier_delay() {
    check(
        from_zero(4),
        &[
            (
                "DifficultyTest1",
                0x186a0,
                0x63ed689e8,
                0x63ed689e9,
                "0x56bba5a95b3dff04",
                false,
                "0x56c67d1e106966c3",
            ),
            (
                "DifficultyTest1029",
                0x4ac4a0,
                0x284519d44,
                0x284519d58,
                "0x3fb64e092c00db60",
                false,
                "0x3fae573f6adb5b45",
            ),
            (
                "DifficultyTest1030",
                0x186a0,
                0x737a3e7b1,
                0x737a3e7c5,
                "0x38698bd3384bdef3",
                true,
                "0x38698bd3384bdef3",
            ),
        ],
    );
}

#[test]
fn arrow_glacier() {
    check(
        from_zero(6),
        &[
            (
                "difficultyArrowGlacier-0",
                0xa344e0,
                0,
                1,
                "0x223a2d17232652",
                false,
                "0x223e745cc60ab6",
            ),
            (
                "difficultyArrowGlacier-10",
                0xa344e0,
                0,
                0x2e,
                "0x223a2d17232652",
                false,
                "0x222910009794c2",
            ),
            (
                "difficultyArrowGlacier-100",
                0xaae600,
                0,
                1,
                "0x223a2d17232652",
                false,
                "0x223e745cc60abe",
            ),
            (
                "difficultyArrowGlacier-101",
                0xaae600,
                0,
                1,
                "0x223a2d17232652",
                true,
                "0x2242bba268ef22",
            ),
            // FromLondon: blocks far past the delay, so the bomb term is 2^30 and more.
            (
                "DifficultyTest100",
                0xd4e7e8,
                0x61f23a29,
                0x61f23a3e,
                "0x6a81ee2c854967f056",
                true,
                "0x6a81ee2c858967f056",
            ),
            (
                "DifficultyTest110",
                0xd5ab38,
                0x61ff403a,
                0x61ff404b,
                "0x168e8418b6527eeaa92",
                false,
                "0x168e8418b65a7eeaa92",
            ),
            (
                "DifficultyTest130",
                0xd731d8,
                0x62194c02,
                0x62194c0b,
                "0x10300f843b54f5a0e9df",
                false,
                "0x10300f843b55f5a0e9df",
            ),
        ],
    );
}

#[test]
fn each_fork_picks_its_rule_and_bomb_delay() {
    // Mainnet's fork blocks (geth params.MainnetChainConfig).
    let mainnet = DifficultyForks {
        homestead: Some(1_150_000),
        byzantium: Some(4_370_000),
        constantinople: Some(7_280_000),
        muir_glacier: Some(9_200_000),
        london: Some(12_965_000),
        arrow_glacier: Some(13_773_000),
        gray_glacier: Some(15_050_000),
    };
    let cases = [
        (1_149_999, DifficultyRule::Frontier),
        (1_150_000, DifficultyRule::Homestead),
        (
            4_370_000,
            DifficultyRule::Eip100 {
                bomb_delay: 3_000_000,
            },
        ),
        (
            7_280_000,
            DifficultyRule::Eip100 {
                bomb_delay: 5_000_000,
            },
        ),
        (
            9_200_000,
            DifficultyRule::Eip100 {
                bomb_delay: 9_000_000,
            },
        ),
        (
            12_965_000,
            DifficultyRule::Eip100 {
                bomb_delay: 9_700_000,
            },
        ),
        (
            13_773_000,
            DifficultyRule::Eip100 {
                bomb_delay: 10_700_000,
            },
        ),
        (
            15_050_000,
            DifficultyRule::Eip100 {
                bomb_delay: 11_400_000,
            },
        ),
    ];
    for (number, rule) in cases {
        assert_eq!(mainnet.rule(number), rule, "block {number}");
    }
}

#[test]
fn the_minimum_holds_and_bad_input_is_an_error_not_a_panic() {
    let forks = from_zero(7);
    let parent = Header {
        number: 20,
        timestamp: 240,
        ..Default::default()
    };
    // A zero-difficulty parent (our test chains) still gives the protocol minimum.
    assert_eq!(forks.calc(&parent, 252), Ok(U256::from(MINIMUM_DIFFICULTY)));
    assert_eq!(
        forks.calc(&parent, 240),
        Err(DifficultyError::Timestamp {
            timestamp: 240,
            parent: 240
        })
    );
    let huge = Header {
        difficulty: U256::MAX,
        ..parent.clone()
    };
    assert_eq!(forks.calc(&huge, 241), Err(DifficultyError::Overflow));
    // A block number whose bomb is 2^(far more than 255): an error, not a panic.
    let far = Header {
        number: u64::MAX - 1,
        ..parent.clone()
    };
    assert_eq!(from_zero(0).calc(&far, 241), Err(DifficultyError::Overflow));
    let mut header = Header {
        number: 21,
        timestamp: 252,
        difficulty: U256::from(MINIMUM_DIFFICULTY + 1),
        ..Default::default()
    };
    assert_eq!(
        forks.check(&parent, &header),
        Err(DifficultyError::Wrong {
            got: U256::from(MINIMUM_DIFFICULTY + 1),
            expected: U256::from(MINIMUM_DIFFICULTY)
        })
    );
    header.difficulty = U256::from(MINIMUM_DIFFICULTY);
    assert_eq!(forks.check(&parent, &header), Ok(()));
}
