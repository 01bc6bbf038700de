//! Fuzz target: arbitrary bytes as every (eth version, message id) pair; see
//! `ethpeer_actors::fuzzing::eth_decode` (shared with the seed replay test).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ethpeer_actors::fuzzing::eth_decode(data));
