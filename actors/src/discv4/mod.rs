//! Node discovery v4 (`discv4.md`, EIP-8, EIP-868): how a node finds peers without anyone
//! typing their addresses in.
//!
//! - [`wire`]: the six packets and their signed envelope, pure data.

pub mod wire;

pub use wire::{Decoded, Discv4WireError, Endpoint, NodeRecord, Packet};
pub mod table;
