//! Peer discovery, every way the node finds nodes to dial, in one wing:
//!
//! - [`enode`]: `enode://` URLs, the node key file, and which addresses are LAN (a leaf:
//!   the table, the dialer and the RPC use it).
//! - [`enr`]: Ethereum Node Records (EIP-778), ours and others'.
//! - [`v4`]: discovery v4 as a socket-free state machine and its UDP loop.
//! - [`v5`]: discovery v5 (sigp's `discv5` crate) on the same UDP port.
//! - [`dns`]: EIP-1459 DNS node lists (the tree client, and [`dns::service`] that walks
//!   them).
//! - [`bootnodes`]: the public networks' built-in bootnodes.
//! - [`service`]: the composition: settings, our record, v4 and v5 sharing one socket,
//!   and the forwarder that judges each node's fork id.
//! - [`candidate`]: [`NodeDiscovered`], the event every source emits; the node hands
//!   discovery a `Recipient<NodeDiscovered>` (its dial scheduler) and discovery never
//!   names the consumer.
//!
//! Dependencies point down: this wing uses `eth`, `rlpx` (keys), `session` (our Status
//! for fork-id verdicts) and nothing above them.

pub mod bootnodes;
pub mod candidate;
pub mod dns;
pub mod enode;
pub mod enr;
pub mod service;
pub mod stun;
pub mod v4;
pub mod v5;

pub use candidate::{verdict, ForkVerdict, NodeDiscovered, PeerSource};
pub use service::{Bootnode, BootnodeError, Discovery, DiscoveryConfig};
