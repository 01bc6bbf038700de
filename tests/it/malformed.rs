//! Hand-made malformed inputs: each returns a typed error, never a panic. The bytes are
//! spelled out with a comment on what is wrong with them.

use alloy_rlp::Error as RlpError;
use ethpeer_actors::eth::{EthMessage, EthMessageId, EthVersion, EthWireError, MAX_MESSAGE_SIZE};
use ethpeer_actors::p2p::DisconnectReason;

fn decode(version: EthVersion, id: u8, hex: &str) -> Result<EthMessage, EthWireError> {
    let bytes = hex::decode(hex.replace(' ', "")).expect("test hex");
    EthMessage::decode(version, id, &bytes)
}

fn rlp_error(result: Result<EthMessage, EthWireError>) -> RlpError {
    match result {
        Err(EthWireError::Rlp { source, .. }) => source,
        other => panic!("expected an RLP error, got {other:?}"),
    }
}

/// A valid GetBlockHeaders: [1111, [5, 1, 0, 0]] = request 1111 for 1 header from block 5.
/// c8: list of 8 bytes; 820457: 1111; c4: list of 4 bytes; 05 01 80 80: origin, limit,
/// skip, reverse.
const GET_HEADERS: &str = "c8 820457 c4 05 01 80 80";

#[test]
fn valid_baseline_decodes() {
    let message = decode(EthVersion::Eth68, 0x03, GET_HEADERS).expect("valid");
    assert_eq!(message.request_id(), Some(1111));
}

#[test]
fn truncated_list_is_input_too_short() {
    // Outer header says 8 payload bytes; only 7 follow (the reverse flag is cut off).
    let error = rlp_error(decode(EthVersion::Eth68, 0x03, "c8 820457 c4 05 01 80"));
    assert_eq!(error, RlpError::InputTooShort);
}

#[test]
fn length_past_the_end_is_input_too_short() {
    // f8 ff: a list of 255 bytes, followed by 3 bytes.
    assert_eq!(
        rlp_error(decode(EthVersion::Eth68, 0x05, "f8ff 820457 c0")),
        RlpError::InputTooShort
    );
    // b9 ffff: a 65535-byte string inside GetBlockBodies' hash list.
    assert_eq!(
        rlp_error(decode(EthVersion::Eth68, 0x05, "c6 820457 c3 b9ffff")),
        RlpError::InputTooShort
    );
}

#[test]
fn oversized_declared_lengths_are_rejected_without_allocating() {
    // bb ffffffff: a string claiming 4 GiB; ff + 8 length bytes: a list claiming 2^64-1.
    for hex in ["bbffffffff00", "ffffffffffffffffff00", "fb7fffffffffffff00"] {
        for id in [0x02, 0x04, 0x06, 0x0a] {
            assert!(decode(EthVersion::Eth68, id, hex).is_err(), "{hex} as {id}");
        }
    }
}

#[test]
fn non_canonical_integer_with_leading_zero_is_rejected() {
    // Request id 82 0001: a two-byte integer with a leading zero (canonical is 01).
    let error = rlp_error(decode(EthVersion::Eth68, 0x03, "c8 820001 c4 05 01 80 80"));
    assert_eq!(error, RlpError::LeadingZero);
    // Block number 81 05: a single byte below 0x80 wrapped in a string header.
    let error = rlp_error(decode(
        EthVersion::Eth68,
        0x03,
        "c9 820457 c5 8105 01 80 80",
    ));
    assert_eq!(error, RlpError::NonCanonicalSingleByte);
    // GetBlockBodies [1111, [hash]] with the hash's length in long form, b8 20, where a
    // 32-byte string must use the short form a0 (lengths under 56): e6 outer list of 38,
    // e2 hash list of 34. GetBlockBodies is legal on eth/68, so the RLP is read.
    let hash = "ab".repeat(32);
    let error = rlp_error(decode(
        EthVersion::Eth68,
        0x05,
        &format!("e6 820457 e2 b820 {hash}"),
    ));
    assert_eq!(error, RlpError::NonCanonicalSize);
    // The same request in short form (e5, e1, a0) decodes: the length form is the fault.
    assert!(decode(EthVersion::Eth68, 0x05, &format!("e5 820457 e1 a0 {hash}")).is_ok());
}

#[test]
fn wrong_list_arity_is_rejected() {
    // GetBlockHeaders body with 5 elements (an extra 80).
    assert!(matches!(
        rlp_error(decode(
            EthVersion::Eth68,
            0x03,
            "c9 820457 c5 05 01 80 80 80"
        )),
        RlpError::ListLengthMismatch { .. }
    ));
    // GetBlockHeaders body with 3 elements (reverse missing).
    assert_eq!(
        rlp_error(decode(EthVersion::Eth68, 0x03, "c7 820457 c3 05 01 80")),
        RlpError::InputTooShort
    );
    // A request pair with a third element.
    assert!(matches!(
        rlp_error(decode(
            EthVersion::Eth68,
            0x03,
            "c9 820457 c4 05 01 80 80 80"
        )),
        RlpError::ListLengthMismatch { .. }
    ));
    // Status (eth/68) with 5 of its 6 fields: [68, 1, 0, hash, hash] without fork id.
    let status5 = format!("f845 44 01 80 a0{} a0{}", "11".repeat(32), "22".repeat(32));
    assert!(decode(EthVersion::Eth68, 0x00, &status5).is_err());
    // A bare integer where the request pair list belongs.
    assert_eq!(
        rlp_error(decode(EthVersion::Eth68, 0x03, "820457")),
        RlpError::UnexpectedString
    );
}

#[test]
fn unequal_eth68_announcement_lists_are_rejected() {
    // types "02 02" (2), sizes [100] (1), hashes [h] (1).
    let hex = format!("e7 820202 c164 e1a0{}", "ab".repeat(32));
    assert_eq!(
        decode(EthVersion::Eth68, 0x08, &hex),
        Err(EthWireError::AnnouncementLengthMismatch {
            types: 2,
            sizes: 1,
            hashes: 1
        })
    );
    // The same announcement is a list of hashes at eth/67: its shape is wrong there.
    assert!(decode(EthVersion::Eth67, 0x08, &hex).is_err());
}

/// Transactions [tx] with one EIP-2718 tx of type `tx_type` whose body is a valid EIP-1559
/// body: e3 list of 35; a2 the 34-byte typed tx; the type byte; e0 body list of 32: chain id
/// 1, nonce, tip, fee cap and gas 0, to 0x11..11, value 0, empty data, empty access list,
/// y-parity 0, r 1, s 1.
fn transactions_with_type(tx_type: &str) -> String {
    let to = "11".repeat(20);
    format!("e3 a2 {tx_type} e0 01 80 80 80 80 94{to} 80 80 c0 80 01 01")
}

#[test]
fn unknown_transaction_type_is_rejected() {
    // The body is valid for type 0x02, so the type byte alone decides.
    assert!(decode(EthVersion::Eth68, 0x02, &transactions_with_type("02")).is_ok());
    let unknown_type = RlpError::Custom("unexpected tx type");
    // Type 0x05: not defined for eth/66-70 (0x04 is the last, EIP-7702).
    assert_eq!(
        rlp_error(decode(
            EthVersion::Eth68,
            0x02,
            &transactions_with_type("05")
        )),
        unknown_type
    );
    // Type 0x7f: the top of the EIP-2718 range, not defined.
    assert_eq!(
        rlp_error(decode(
            EthVersion::Eth68,
            0x02,
            &transactions_with_type("7f")
        )),
        unknown_type
    );
    // Receipts (eth/69) [1111, [[ [type, 1, 0, []] ]]]: ca outer list of 10, c6 the
    // receipts of all blocks, c5 one block's, c4 one receipt. Type 2 decodes, type 9 (no such
    // tx type) is refused by name.
    let receipts = |tx_type: &str| format!("ca 820457 c6 c5 c4 {tx_type} 01 80 c0");
    assert!(decode(EthVersion::Eth69, 0x10, &receipts("02")).is_ok());
    assert_eq!(
        rlp_error(decode(EthVersion::Eth69, 0x10, &receipts("09"))),
        RlpError::Custom("unknown transaction type in receipt")
    );
}

#[test]
fn messages_illegal_in_the_version_are_typed_errors() {
    // NewBlock and NewBlockHashes on eth/69+, GetNodeData on eth/67+, BlockRangeUpdate
    // before eth/69: rejected before looking at the payload.
    let cases = [
        (EthVersion::Eth69, EthMessageId::NewBlock),
        (EthVersion::Eth70, EthMessageId::NewBlockHashes),
        (EthVersion::Eth67, EthMessageId::GetNodeData),
        (EthVersion::Eth68, EthMessageId::NodeData),
        (EthVersion::Eth68, EthMessageId::BlockRangeUpdate),
        (EthVersion::Eth70, EthMessageId::GetBlockAccessLists),
        (EthVersion::Eth66, EthMessageId::BlockAccessLists),
        (EthVersion::Eth71, EthMessageId::GetCells),
        (EthVersion::Eth71, EthMessageId::Cells),
    ];
    for (version, id) in cases {
        assert_eq!(
            decode(version, id as u8, "c0"),
            Err(EthWireError::IllegalInVersion { id, version })
        );
    }
    for id in [0x0b, 0x0c, 0x16, 0xff] {
        assert_eq!(
            decode(EthVersion::Eth71, id, "c0"),
            Err(EthWireError::UnknownMessageId { id })
        );
    }
}

#[test]
fn malformed_block_access_list_messages_are_rejected() {
    // GetBlockAccessLists [5, [hash]] decodes; a 31-byte hash, a missing hash list and a
    // hash list given as a string do not.
    let hash = "a0".to_string() + &"ab".repeat(32);
    assert!(decode(EthVersion::Eth71, 0x12, &format!("e3 05 e1 {hash}")).is_ok());
    let short_hash = "9f".to_string() + &"ab".repeat(31);
    assert_eq!(
        rlp_error(decode(
            EthVersion::Eth71,
            0x12,
            &format!("e2 05 e0 {short_hash}")
        )),
        RlpError::UnexpectedLength
    );
    assert_eq!(
        rlp_error(decode(EthVersion::Eth71, 0x12, "c1 05")),
        RlpError::InputTooShort
    );
    assert_eq!(
        rlp_error(decode(EthVersion::Eth71, 0x12, "c2 05 80")),
        RlpError::UnexpectedString
    );
    // BlockAccessLists [5, [entry]]: the empty string and a list are entries; a non-empty
    // string (neither "unavailable" nor a BAL) and a list running past its parent are not.
    assert!(decode(EthVersion::Eth71, 0x13, "c4 05 c2 80 c0").is_ok());
    assert_eq!(
        rlp_error(decode(EthVersion::Eth71, 0x13, "c5 05 c3 82 abcd")),
        RlpError::UnexpectedString
    );
    assert!(decode(EthVersion::Eth71, 0x13, "c4 05 c2 c3 01").is_err());
}

#[test]
fn trailing_bytes_after_the_message_are_rejected() {
    let hex = format!("{GET_HEADERS} 00");
    assert_eq!(
        decode(EthVersion::Eth68, 0x03, &hex),
        Err(EthWireError::TrailingBytes {
            id: EthMessageId::GetBlockHeaders,
            trailing: 1
        })
    );
}

#[test]
fn block_range_update_rules() {
    let hash = "ab".repeat(32);
    // [earliest 10, latest 5, hash]: earliest above latest.
    assert_eq!(
        decode(EthVersion::Eth69, 0x11, &format!("e3 0a 05 a0{hash}")),
        Err(EthWireError::InvalidBlockRange {
            earliest: 10,
            latest: 5
        })
    );
    // [0, 5, zero hash].
    assert_eq!(
        decode(
            EthVersion::Eth69,
            0x11,
            &format!("e3 80 05 a0{}", "00".repeat(32))
        ),
        Err(EthWireError::ZeroLatestHash)
    );
    assert!(decode(EthVersion::Eth69, 0x11, &format!("e3 05 05 a0{hash}")).is_ok());
}

#[test]
fn oversized_message_is_rejected_before_decoding() {
    let payload = vec![0u8; MAX_MESSAGE_SIZE + 1];
    assert_eq!(
        EthMessage::decode(EthVersion::Eth68, 0x02, &payload),
        Err(EthWireError::MessageTooLarge {
            size: MAX_MESSAGE_SIZE + 1,
            limit: MAX_MESSAGE_SIZE
        })
    );
}

#[test]
fn every_wire_error_maps_to_subprotocol_error() {
    let every_kind = [
        EthWireError::UnknownMessageId { id: 0xff },
        EthWireError::IllegalInVersion {
            id: EthMessageId::NewBlock,
            version: EthVersion::Eth69,
        },
        EthWireError::Rlp {
            id: EthMessageId::Status,
            source: RlpError::InputTooShort,
        },
        EthWireError::TrailingBytes {
            id: EthMessageId::GetBlockHeaders,
            trailing: 1,
        },
        EthWireError::AnnouncementLengthMismatch {
            types: 2,
            sizes: 1,
            hashes: 1,
        },
        EthWireError::InvalidBlockRange {
            earliest: 10,
            latest: 5,
        },
        EthWireError::ZeroLatestHash,
        EthWireError::CellsLengthMismatch {
            hashes: 2,
            lists: 1,
        },
        EthWireError::MessageTooLarge {
            size: MAX_MESSAGE_SIZE + 1,
            limit: MAX_MESSAGE_SIZE,
        },
    ];
    for error in &every_kind {
        // No wildcard: a new variant fails to compile here until it is added to the list.
        match error {
            EthWireError::UnknownMessageId { .. }
            | EthWireError::IllegalInVersion { .. }
            | EthWireError::Rlp { .. }
            | EthWireError::TrailingBytes { .. }
            | EthWireError::AnnouncementLengthMismatch { .. }
            | EthWireError::InvalidBlockRange { .. }
            | EthWireError::ZeroLatestHash
            | EthWireError::CellsLengthMismatch { .. }
            | EthWireError::MessageTooLarge { .. } => {}
        }
        assert_eq!(
            error.disconnect_reason(),
            DisconnectReason::SubprotocolSpecific,
            "{error:?}"
        );
    }
    assert_eq!(every_kind.len(), 9, "one value of each variant");
}
