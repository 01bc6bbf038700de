//! EIP-2481 (eth/66 request id) examples: every one decodes as eth/66 and re-encodes
//! byte for byte. Source: `eth/eip2481_examples.json` (ethereum/EIPs, eip-2481.md).

use alloy_eips::BlockHashOrNumber;
use alloy_primitives::B256;
use ethpeer_actors::eth::{EthMessage, EthVersion};

use crate::common::{json, testdata_or_skip, unhex};

#[test]
fn every_eip2481_example_decodes_and_reencodes_identically() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "eth/eip2481_examples.json");
    let examples = file["examples"].as_array().expect("examples");
    assert_eq!(examples.len(), 11);
    for example in examples {
        let kind = example["type"].as_str().expect("type");
        let id = u8::try_from(example["msg_code"].as_u64().expect("msg_code")).expect("u8");
        let bytes = unhex(example["rlp"].as_str().expect("rlp"));
        let message = EthMessage::decode(EthVersion::Eth66, id, &bytes)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(message.message_id() as u8, id, "{kind}");
        assert_eq!(message.request_id(), Some(1111), "{kind}");
        assert_eq!(
            hex::encode(message.encoded()),
            hex::encode(&bytes),
            "{kind}: re-encoding"
        );
    }
}

#[test]
fn eip2481_get_block_headers_fields_match_the_example_data() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "eth/eip2481_examples.json");
    let example = &file["examples"][0];
    let bytes = unhex(example["rlp"].as_str().expect("rlp"));
    let EthMessage::GetBlockHeaders(request) =
        EthMessage::decode(EthVersion::Eth66, 3, &bytes).expect("decodes")
    else {
        panic!("not GetBlockHeaders")
    };
    let data = &example["data"];
    let origin: B256 = data["Origin"]["Hash"]
        .as_str()
        .expect("hash")
        .parse()
        .expect("b256");
    assert_eq!(request.message.start_block, BlockHashOrNumber::Hash(origin));
    assert_eq!(
        request.message.limit,
        data["Amount"].as_u64().expect("amount")
    );
    assert_eq!(request.message.skip, data["Skip"].as_u64().expect("skip"));
    assert!(!request.message.reverse);
}
