//! Integration tests of ethpeer, in one test binary (one link, one process start).

// A failed expectation in a test should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alloy_ws;
mod archive;
mod arrivals;
mod common;

mod cli;
mod dashboard;
mod dev_blocks;
mod discovery;
mod discv4_suite;
mod discv4_vectors;
mod discv5;
mod discv5_suite;
mod e2e;
mod eip2481;
mod engine_api;
mod eth_protocol;
mod ethtest_chain;
mod fetch;
mod follow_head;
mod forkid_vectors;
mod fuzz_seeds;
mod geth;
mod geth_peer;
mod geth_sync;
mod head_trust;
mod header_rules;
mod import;
mod interop;
mod interop_discv4;
mod kafka;
mod malformed;
mod node;
mod node_dev;
mod operators;
mod peer_policy;
mod pow_vectors;
mod rlp_vectors;
mod rlpx_vectors;
mod roundtrip;
mod rpc_hostile;
mod rpc_shapes;
mod sampling;
mod serve;
mod tx_fetch;
mod tx_validation;
mod viem;
mod ws;
