//! Fuzz target: arbitrary bytes as every (eth version, message id) pair.
//!
//! Byte 0 picks the version, byte 1 the message id (any u8, so unknown ids are fuzzed
//! too), the rest is the payload. Decoding must never panic; whatever decodes must
//! re-encode to bytes that decode to the same message.

#![no_main]

use ethpeer_actors::eth::{EthMessage, EthVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, id, payload @ ..] = data else { return };
    let version = EthVersion::ALL[usize::from(*selector) % EthVersion::ALL.len()];
    if let Ok(message) = EthMessage::decode(version, *id, payload) {
        let encoded = message.encoded();
        let again = EthMessage::decode(version, *id, &encoded).expect("re-encoded message decodes");
        assert_eq!(again, message, "round trip changed the message");
    }
});
