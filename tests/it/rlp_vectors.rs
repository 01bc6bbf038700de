//! ethereum/tests RLP vectors (`rlp/rlptest.json`, `rlp/invalidRLPTest.json`,
//! `rlp/RandomRLPTests/example.json`) through our schema-free RLP tree, which rides on
//! alloy-rlp's canonical header decoding.

use alloy_rlp::Encodable;
use ethpeer_actors::rlp_tree::RlpItem;
use serde_json::Value;

use crate::common::{json, testdata_or_skip, unhex};

/// The vectors' input notation: a string is raw bytes (`#digits` is a big integer, `0x..`
/// is hex in `listofbinaries`), a number is an integer, an array is a list.
fn item_from_json(value: &Value) -> RlpItem {
    match value {
        Value::String(s) if s.starts_with('#') => RlpItem::Bytes(decimal_to_be_bytes(&s[1..])),
        Value::String(s) if s.starts_with("0x") => RlpItem::Bytes(unhex(s)),
        Value::String(s) => RlpItem::Bytes(s.as_bytes().to_vec()),
        Value::Number(n) => {
            let n = n.as_u64().expect("small integer");
            RlpItem::Bytes(
                n.to_be_bytes()
                    .iter()
                    .copied()
                    .skip_while(|b| *b == 0)
                    .collect(),
            )
        }
        Value::Array(items) => RlpItem::List(items.iter().map(item_from_json).collect()),
        other => panic!("unexpected vector input {other}"),
    }
}

/// Big-endian minimal bytes of a decimal number of any size (`bigint` is 2^256, one past
/// U256).
fn decimal_to_be_bytes(digits: &str) -> Vec<u8> {
    let mut bytes: Vec<u8> = Vec::new();
    for digit in digits.bytes() {
        let mut carry = u32::from(digit - b'0');
        for byte in bytes.iter_mut().rev() {
            let value = u32::from(*byte) * 10 + carry;
            *byte = value as u8;
            carry = value >> 8;
        }
        while carry > 0 {
            bytes.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    bytes
}

#[test]
fn every_valid_rlp_vector_encodes_and_decodes() {
    let dir = testdata_or_skip!();
    let cases = json(&dir, "rlp/rlptest.json");
    let cases = cases.as_object().expect("object of cases");
    assert_eq!(cases.len(), 29, "the ethereum/tests cases");
    for (name, case) in cases {
        let out = unhex(case["out"].as_str().expect("out"));
        let input = item_from_json(&case["in"]);
        if name == "listofbinaries" {
            // Documented quirk: `out` is a 4-item list followed by 153 zero bytes of EIP-8
            // padding, while `in` lists the padding as 153 more items. Check it as
            // "one list + trailing data".
            let RlpItem::List(items) = &input else {
                panic!("listofbinaries is a list")
            };
            let list = RlpItem::List(items[..4].to_vec());
            let mut encoded = Vec::new();
            list.encode(&mut encoded);
            assert_eq!(
                &out[..encoded.len()],
                encoded.as_slice(),
                "{name}: list part"
            );
            let padding: Vec<u8> = items[4..]
                .iter()
                .flat_map(|i| match i {
                    RlpItem::Bytes(b) => b.clone(),
                    RlpItem::List(_) => panic!("padding items are bytes"),
                })
                .collect();
            assert_eq!(&out[encoded.len()..], padding.as_slice(), "{name}: padding");
            assert_eq!(
                RlpItem::decode_exact(&encoded).expect("list part decodes"),
                list
            );
            continue;
        }
        let mut encoded = Vec::new();
        input.encode(&mut encoded);
        assert_eq!(hex::encode(&encoded), hex::encode(&out), "{name}: encoding");
        assert_eq!(input.length(), out.len(), "{name}: length");
        assert_eq!(
            RlpItem::decode_exact(&out).expect(name),
            input,
            "{name}: decoding"
        );
    }
}

#[test]
fn every_invalid_rlp_vector_is_rejected() {
    let dir = testdata_or_skip!();
    let cases = json(&dir, "rlp/invalidRLPTest.json");
    let cases = cases.as_object().expect("object of cases");
    assert_eq!(cases.len(), 17);
    for (name, case) in cases {
        assert_eq!(case["in"], "INVALID", "{name}");
        // Mixed notation: some `out` values have 0x, one is uppercase.
        let out = unhex(&case["out"].as_str().expect("out").to_lowercase());
        assert!(
            RlpItem::decode_exact(&out).is_err(),
            "{name} ({}) was accepted",
            hex::encode(&out)
        );
    }
}

#[test]
fn random_rlp_example_is_accepted() {
    let dir = testdata_or_skip!();
    let cases = json(&dir, "rlp/RandomRLPTests/example.json");
    let cases = cases.as_object().expect("object");
    assert_eq!(cases.len(), 1, "the one ethereum/tests example");
    for (name, case) in cases {
        assert_eq!(case["in"], "VALID");
        let out = unhex(case["out"].as_str().expect("out"));
        let item = RlpItem::decode_exact(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut again = Vec::new();
        item.encode(&mut again);
        assert_eq!(again, out, "{name}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // 5,001 nested lists, built inside out because each list header covers its payload;
    // deeper than MAX_RLP_DEPTH (1024).
    let mut bytes = vec![0xc0];
    for _ in 0..5000 {
        let mut header = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: bytes.len(),
        }
        .encode(&mut header);
        header.extend_from_slice(&bytes);
        bytes = header;
    }
    assert!(RlpItem::decode_exact(&bytes).is_err());
}
