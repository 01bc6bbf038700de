//! Node discovery v4 (`discv4.md`, EIP-8, EIP-868): how a node finds peers without anyone
//! typing their addresses in.
//!
//! - [`wire`]: the six packets and their signed envelope, pure data.
//! - [`table`]: the Kademlia table (geth's buckets, replacements and IP limits).
//! - [`lookup`]: one iterative lookup's bookkeeping.
//! - [`proto`] (with `handlers`): the protocol as a state machine fed datagrams and time:
//!   bonding, serving, lookups, revalidation, ENR requests, per-source rate limits.
//! - [`service`]: the thin tokio UDP loop around the state machine.
//! - [`metrics`]: counters shared with the metrics endpoint.

mod handlers;
pub mod limiter;
pub mod lookup;
pub mod metrics;
pub mod proto;
pub mod service;
pub mod table;
pub mod wire;

pub use handlers::relay_allowed;
pub use metrics::{Discv4Metrics, DropReason};
pub use proto::{DiscoveredNode, Discv4, Discv4Config, Discv4Event};
pub use service::{Discv4Handle, Discv4Service, Inbound};
pub use wire::{Decoded, Discv4WireError, Endpoint, NodeRecord, Packet};
