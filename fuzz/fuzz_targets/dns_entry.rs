//! Fuzz target: see `ethpeer_actors::fuzzing::dns_entry` (shared with the seed replay test).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ethpeer_actors::fuzzing::dns_entry(data));
