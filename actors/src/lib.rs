//! # ethpeer-actors
//!
//! An embeddable Ethereum devp2p peer subsystem built on actix. Layers, lowest first (a
//! lower layer never imports a higher one):
//!
//! - [`eth`]: the eth wire protocol, eth/66 to eth/70. One [`eth::EthMessage`] enum for
//!   every version, decoded in one place ([`eth::EthMessage::decode`]) with typed errors;
//!   fork ids (EIP-2124/6122) and genesis headers from geth-style `genesis.json`.
//! - [`p2p`]: the devp2p base protocol (disconnect reasons).
//! - [`chain`]: RLP chain files and the checks that need no execution.
//! - [`rlp_tree`]: schema-free RLP, for tools and conformance tests.
//!
//! Actors (actix), each holding only `Recipient`s and traits of the others:
//!
//! - [`peer::PeerActor`]: one per connection; bounded queues for txs, tx announcements,
//!   block propagations and block announcements; one write in flight, blocks first.
//! - [`peer_set::PeerSetActor`]: registration, known-tx/known-block sets, lookups.
//! - [`tx_broadcast::TxBroadcaster`]: routes pool batches (full to ⌈√n⌉ per sender,
//!   announced to the rest).
//! - [`block_propagation::BlockPropagator`]: NewBlock / NewBlockHashes for eth <= 68.
//! - [`tx_pool`]: the [`tx_pool::TxPool`] trait the actors read, and an in-memory pool.
//!
//! Types for headers, transactions, receipts and RLP come from the alloy stack
//! (`alloy-consensus`, `alloy-eips`, `alloy-primitives`, `alloy-rlp`) and are re-exported
//! where our API exposes them.
//!
//! ```
//! use ethpeer_actors::eth::{EthMessage, EthVersion, GetBlockHeaders, RequestPair};
//!
//! let request = EthMessage::GetBlockHeaders(RequestPair::new(
//!     7,
//!     GetBlockHeaders { start_block: 1u64.into(), limit: 2, skip: 1, reverse: false },
//! ));
//! let bytes = request.encoded();
//! let decoded = EthMessage::decode(EthVersion::Eth68, 0x03, &bytes).unwrap();
//! assert_eq!(decoded, request);
//! // NewBlock does not exist on eth/69: a typed error, not a panic.
//! assert!(EthMessage::decode(EthVersion::Eth69, 0x07, &bytes).is_err());
//! ```

pub mod block_import;
pub mod block_propagation;
pub mod chain;
pub mod eth;
pub mod node;
pub mod p2p;
pub mod peer;
pub mod peer_set;
pub mod requests;
pub mod rlp_tree;
pub mod rlpx;
pub mod session;
pub mod tx_broadcast;
pub mod tx_fetcher;
pub mod tx_pool;

#[cfg(test)]
mod testing;

pub use alloy_consensus;
pub use alloy_eips;
pub use alloy_primitives;
pub use alloy_rlp;
