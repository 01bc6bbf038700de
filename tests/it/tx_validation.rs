//! Pool validation with the ethtest chain's rules and `headstate.json` as state, senders
//! signing with the keys in `accounts.json`: a valid transfer passes; nonce too low, value
//! equal to the whole balance, gas limit 1,337, a 50 KiB init-code creation and 128 KiB of
//! calldata are each refused with their typed error.

use alloy_consensus::{SignableTransaction, Signed, TxEip1559};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::eth::PooledTx;
use ethpeer_actors::txs::pool::validate::{
    validate_state, validate_stateless, TxValidationError, ValidationRules,
};
use ethpeer_actors::txs::pool::{MemoryState, StateProvider};

use crate::common::{json, testdata_or_skip};

/// The ethtest chain: Prague active, 300M gas limit, 9 blobs per tx.
pub(crate) fn rules() -> ValidationRules {
    ValidationRules {
        chain_id: 3_503_995_874_084_926,
        block_gas_limit: 300_000_000,
        max_blobs_per_tx: 9,
        calldata_floor: true,
    }
}

/// The account `0x7435…865f` (nonce 603 at the head) and its key.
pub(crate) fn sender(dir: &std::path::Path) -> (Address, B256) {
    let accounts = json(dir, "ethtest/accounts.json");
    let address: Address = "0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f"
        .parse()
        .expect("address");
    let key = accounts["0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f"]["key"]
        .as_str()
        .expect("key")
        .parse()
        .expect("b256");
    (address, key)
}

pub(crate) fn signed(key: B256, tx: TxEip1559) -> PooledTx {
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).expect("signs");
    PooledTx::Eip1559(Signed::new_unhashed(tx, signature))
}

pub(crate) fn transfer(
    nonce: u64,
    value: U256,
    gas_limit: u64,
    to: TxKind,
    input: Bytes,
) -> TxEip1559 {
    TxEip1559 {
        chain_id: rules().chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value,
        access_list: Default::default(),
        input,
    }
}

#[test]
fn valid_and_invalid_transactions_with_the_ethtest_state() {
    let dir = testdata_or_skip!();
    let state = MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state dump");
    let (address, key) = sender(&dir);
    let account = state.account(&address).expect("funded account");
    assert_eq!(account.nonce, 603);
    let to = TxKind::Call(Address::repeat_byte(0x42));

    // Valid: the next nonce, 1 wei, plain transfer gas.
    let ok = validate_stateless(
        signed(key, transfer(603, U256::from(1), 21_000, to, Bytes::new())),
        &rules(),
    )
    .expect("valid");
    assert_eq!(ok.sender, address);
    assert_eq!(validate_state(&ok, &state), Ok(()));

    // Nonce too low.
    let low = validate_stateless(
        signed(key, transfer(602, U256::from(1), 21_000, to, Bytes::new())),
        &rules(),
    )
    .expect("stateless ok");
    assert_eq!(
        validate_state(&low, &state),
        Err(TxValidationError::NonceTooLow {
            nonce: 602,
            account: 603
        })
    );

    // The whole balance as value: nothing left for gas.
    let all = validate_stateless(
        signed(
            key,
            transfer(603, account.balance, 21_000, to, Bytes::new()),
        ),
        &rules(),
    )
    .expect("stateless ok");
    assert!(matches!(
        validate_state(&all, &state),
        Err(TxValidationError::InsufficientFunds { .. })
    ));

    // Gas limit 1,337.
    let cheap = validate_stateless(
        signed(key, transfer(603, U256::from(1), 1_337, to, Bytes::new())),
        &rules(),
    );
    assert_eq!(
        cheap.err(),
        Some(TxValidationError::IntrinsicGas {
            gas_limit: 1_337,
            intrinsic: 21_000
        })
    );

    // A 50 KiB init-code creation.
    let initcode = Bytes::from(vec![0x60; 50 * 1024]);
    let create = validate_stateless(
        signed(
            key,
            transfer(603, U256::ZERO, 10_000_000, TxKind::Create, initcode),
        ),
        &rules(),
    );
    assert_eq!(
        create.err(),
        Some(TxValidationError::InitCodeTooLarge {
            size: 50 * 1024,
            limit: 49_152
        })
    );

    // 128 KiB of calldata.
    let calldata = Bytes::from(vec![0x01; 128 * 1024]);
    let big = validate_stateless(
        signed(key, transfer(603, U256::ZERO, 20_000_000, to, calldata)),
        &rules(),
    );
    assert!(
        matches!(big, Err(TxValidationError::Oversized { .. })),
        "{big:?}"
    );

    // Another chain's signature.
    let mut foreign = transfer(603, U256::from(1), 21_000, to, Bytes::new());
    foreign.chain_id = 1;
    assert!(matches!(
        validate_stateless(signed(key, foreign), &rules()),
        Err(TxValidationError::WrongChainId { got: 1, .. })
    ));
}

#[test]
fn intrinsic_gas_counts_calldata_access_lists_and_the_prague_floor() {
    use ethpeer_actors::txs::pool::validate::intrinsic_gas;
    let key = B256::repeat_byte(0x11);
    let to = TxKind::Call(Address::ZERO);
    let tx = |input: Vec<u8>| signed(key, transfer(0, U256::ZERO, 1_000_000, to, input.into()));
    assert_eq!(intrinsic_gas(&tx(vec![]), true), 21_000);
    // 2 zero bytes (4 each) + 2 nonzero (16 each).
    assert_eq!(intrinsic_gas(&tx(vec![0, 0, 1, 1]), false), 21_000 + 8 + 32);
    // With the EIP-7623 floor: 1,000 nonzero bytes = 4,000 tokens x 10 = 40,000 > 16,000.
    assert_eq!(intrinsic_gas(&tx(vec![1; 1000]), false), 21_000 + 16_000);
    assert_eq!(intrinsic_gas(&tx(vec![1; 1000]), true), 21_000 + 40_000);
}

mod pool {
    use std::sync::Arc;

    use alloy_primitives::{Address, Bytes, TxKind, U256};
    use ethpeer_actors::txs::pool::{MemoryState, PoolError, TxPool, ValidatingTxPool};

    use super::{rules, sender, signed, transfer};
    use crate::common::testdata_or_skip;

    fn pool(dir: &std::path::Path) -> ValidatingTxPool {
        let state = MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state");
        ValidatingTxPool::new(rules(), Arc::new(state))
    }

    fn tx(
        key: alloy_primitives::B256,
        nonce: u64,
        tip: u128,
        fee: u128,
    ) -> ethpeer_actors::eth::PooledTx {
        let mut t = transfer(
            nonce,
            U256::from(1),
            21_000,
            TxKind::Call(Address::repeat_byte(1)),
            Bytes::new(),
        );
        t.max_priority_fee_per_gas = tip;
        t.max_fee_per_gas = fee;
        signed(key, t)
    }

    #[test]
    fn replacements_need_a_ten_percent_bump_on_both_fees() {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let pool = pool(&dir);
        let first = pool
            .add(vec![tx(key, 603, 100, 1_000)], None)
            .remove(0)
            .expect("accepted");
        assert_eq!(
            pool.add(vec![tx(key, 603, 105, 1_100)], None).remove(0),
            Err(PoolError::ReplacementUnderpriced)
        );
        assert_eq!(
            pool.add(vec![tx(key, 603, 110, 1_050)], None).remove(0),
            Err(PoolError::ReplacementUnderpriced)
        );
        let second = pool
            .add(vec![tx(key, 603, 110, 1_100)], None)
            .remove(0)
            .expect("replaces");
        assert_eq!(pool.len(), 1);
        assert!(pool.get(&first).is_none() && pool.get(&second).is_some());
    }

    /// Wire values at their extremes: a value of 2^256-1 used to wrap `value + gas * fee`
    /// past zero and pass the balance check; fee caps near 2^128 used to overflow the
    /// 10% bump product (a panic in debug builds).
    #[test]
    fn extreme_values_and_fees_neither_overflow_nor_pass() {
        use ethpeer_actors::txs::pool::validate::TxValidationError;
        use ethpeer_actors::txs::pool::NoState;
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let pool = pool(&dir);
        let huge = signed(
            key,
            transfer(
                603,
                U256::MAX,
                21_000,
                TxKind::Call(Address::repeat_byte(1)),
                Bytes::new(),
            ),
        );
        assert!(matches!(
            pool.add(vec![huge], None).remove(0),
            Err(PoolError::Invalid(TxValidationError::InsufficientFunds { cost, .. }))
                if cost == U256::MAX
        ));
        let stateless = ValidatingTxPool::new(rules(), Arc::new(NoState));
        let old = u128::MAX / 2;
        assert!(stateless.add(vec![tx(key, 603, old, old)], None)[0].is_ok());
        assert!(
            stateless.add(vec![tx(key, 603, u128::MAX, u128::MAX)], None)[0].is_ok(),
            "a 100% bump replaces"
        );
    }

    #[test]
    fn future_transactions_are_capped_per_sender_and_rejections_counted_per_peer() {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let pool = pool(&dir);
        let peer = alloy_primitives::B512::repeat_byte(3);
        assert!(pool.add(vec![tx(key, 603, 1, 10_000_000_000)], Some(peer))[0].is_ok());
        // 604 is missing: 605.. are future; 64 of them are kept.
        let future: Vec<_> = (605..605 + 64)
            .map(|n| tx(key, n, 1, 10_000_000_000))
            .collect();
        assert!(pool.add(future, Some(peer)).iter().all(Result::is_ok));
        assert_eq!(
            pool.add(vec![tx(key, 700, 1, 10_000_000_000)], Some(peer))[0],
            Err(PoolError::TooManyFuture)
        );
        assert!(pool.add(vec![tx(key, 500, 1, 10_000_000_000)], Some(peer))[0].is_err());
        let counts = pool.rejections(&peer);
        assert_eq!(
            (counts.get("too_many_future"), counts.get("nonce_too_low")),
            (Some(&1), Some(&1))
        );
        // Filling the gap is not future.
        assert!(pool.add(vec![tx(key, 604, 1, 10_000_000_000)], None)[0].is_ok());
    }

    #[test]
    fn a_full_pool_evicts_its_cheapest_transaction_for_a_better_paying_one() {
        let dir = testdata_or_skip!();
        let (_, key) = sender(&dir);
        let pool = pool(&dir).with_capacity(3, usize::MAX);
        let hashes: Vec<_> = [(603, 5), (604, 3), (605, 7)]
            .iter()
            .map(|(n, tip)| {
                pool.add(vec![tx(key, *n, *tip, 10_000_000_000)], None)
                    .remove(0)
                    .expect("fits")
            })
            .collect();
        assert_eq!(
            pool.add(vec![tx(key, 606, 2, 10_000_000_000)], None)
                .remove(0),
            Err(PoolError::Underpriced)
        );
        let better = pool
            .add(vec![tx(key, 606, 9, 10_000_000_000)], None)
            .remove(0)
            .expect("evicts");
        assert_eq!(pool.len(), 3);
        assert!(pool.get(&hashes[1]).is_none(), "the tip-3 tx was evicted");
        assert!(pool.get(&better).is_some());
    }
}
