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
    assert!(decode(EthVersion::Eth68, 0x05, "c6 820457 c3 b9ffff").is_err());
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
    // Long-form length b8 05 for a 5-byte string: lengths under 56 must use the short form.
    assert!(decode(EthVersion::Eth68, 0x0e, "cb 820457 c7 b805 0102030405").is_err());
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

#[test]
fn unknown_transaction_type_is_rejected() {
    // Transactions [ "7f 01 02" ]: a typed tx of type 0x7f.
    assert!(decode(EthVersion::Eth68, 0x02, "c4 83 7f0102").is_err());
    // Type 0x05 (not defined for eth/66-70).
    assert!(decode(EthVersion::Eth68, 0x02, "c4 83 05c0c0").is_err());
    // Receipts (eth/69) [1111, [[ [9, 1, 0, []] ]]]: a receipt of tx type 9.
    let error = decode(EthVersion::Eth69, 0x10, "ca 820457 c6 c5 c4 09 01 80 c0");
    assert!(error.is_err(), "{error:?}");
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
    ];
    for (version, id) in cases {
        assert_eq!(
            decode(version, id as u8, "c0"),
            Err(EthWireError::IllegalInVersion { id, version })
        );
    }
    for id in [0x0b, 0x0c, 0x12, 0xff] {
        assert_eq!(
            decode(EthVersion::Eth70, id, "c0"),
            Err(EthWireError::UnknownMessageId { id })
        );
    }
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
    let error = decode(EthVersion::Eth69, 0x07, "c0").expect_err("illegal");
    assert_eq!(
        error.disconnect_reason(),
        DisconnectReason::SubprotocolSpecific
    );
}
