//! # ethpeer-actors
//!
//! An embeddable Ethereum devp2p peer subsystem built on actix.
//!
//! The crate is built in layers, lowest first; each imports only the layers above it in
//! this list (`.ci/layers` checks it):
//!
//! Protocol code, pure data and functions (no actix):
//!
//! - [`p2p`]: the devp2p base protocol: Hello, capability negotiation, Disconnect (with
//!   the reasons every layer's errors map to), Ping/Pong.
//! - [`eth`]: the eth wire protocol, eth/66 to eth/72. One [`eth::EthMessage`] enum for
//!   every version, decoded in one place ([`eth::EthMessage::decode`]) with typed errors;
//!   fork ids (EIP-2124/6122), genesis headers (geth `genesis.json`, the built-in dev
//!   network, the public networks).
//! - [`rlpx`]: ECIES, the EIP-8 handshake and the frame codecs.
//! - [`rlp_tree`]: schema-free RLP, for tools and conformance tests.
//! - [`chain`]: the [`chain::ChainStore`] trait with memory and redb stores, serving
//!   headers/bodies/receipts, RLP chain files, block checks and execution.
//! - [`session`]: the handshakes (RLPx, Hello, Status) as async functions over any
//!   `AsyncRead + AsyncWrite`, and the bounded accept loop.
//!
//! Wings (each one folder), held together by `Recipient`s and traits:
//!
//! - [`discovery`]: discv4, discv5, DNS lists, records, enode URLs and bootnodes; every
//!   source emits [`discovery::NodeDiscovered`] to a recipient the node gives it.
//! - [`peer`]: [`peer::PeerActor`], one per connection: bounded queues, one write in
//!   flight, blocks first; [`peer::PeerClient`] sends it typed requests.
//! - [`peer_set`]: [`peer_set::PeerSetActor`]: registration, known-tx/known-block sets.
//! - [`txs`]: the tx path: [`txs::inbox::TxInbox`] (broadcasts, announcements, fetches),
//!   [`txs::ingest`] (verifier threads), [`txs::pool`] (the [`txs::pool::TxPool`] trait
//!   and pools), [`txs::broadcast::TxBroadcaster`] (full to ⌈√n⌉ per sender, announced to
//!   the rest).
//! - [`blocks`]: [`blocks::propagation::BlockPropagator`] (NewBlock/NewBlockHashes for
//!   eth <= 68), [`blocks::import::BlockHandler`] (blocks in, validation, import),
//!   [`blocks::follow::HeadFollower`] (the head from a quorum of peers; followed blocks
//!   are never stored, relayed or advertised).
//! - [`serve`]: [`serve::RequestHandler`], peers' Get* requests from the store and pool.
//! - [`feed`]: what watchers hear: [`feed::events::NodeEvent`], the propagation
//!   observer, the `eth_subscribe` hub.
//! - [`node`]: wiring only: [`node::NodeBuilder`], [`node::Node`], the
//!   [`node::PeerManager`] (admission, peer limits, dialing with backoff).
//! - [`api`]: JSON-RPC over HTTP and WebSocket ([`api::rpc`]) and Prometheus
//!   ([`api::metrics`]) on a running node.
//!
//! ## Embedding
//!
//! Inside an actix `System` (an actix-web app has one), [`node::NodeBuilder`] starts the
//! subsystem and returns a [`node::Node`]: its methods are the embedding API (peers as
//! [`node::Peer`] handles that disconnect or ban, a bounded [`node::EventStream`] of
//! [`node::NodeEvent`]s, the pool and chain reads); the actors behind them are private.
//! An actix actor may subscribe instead with [`node::Node::subscribe`].
//!
//! ```
//! use std::time::Duration;
//! use ethpeer_actors::node::{NodeBuilder, NodeEvent};
//!
//! actix::System::new().block_on(async {
//!     let local = "127.0.0.1:0".parse().unwrap();
//!     // Two nodes on the built-in dev network, each on a free port.
//!     let a = NodeBuilder::dev().listen(local).start().await.unwrap();
//!     let b = NodeBuilder::dev().listen(local).start().await.unwrap();
//!     // Every later event, at most 1024 waiting: a slow reader loses events, never the node.
//!     let mut events = a.events(1024);
//!
//!     b.add_peer(a.enode()).await; // static: dialed now, redialed with backoff
//!     let (client, caps) = loop {
//!         match events.next().await.unwrap() {
//!             NodeEvent::PeerConnected { client, caps, .. } => break (client, caps),
//!             _ => continue, // discovery, tx and block events
//!         }
//!     };
//!     assert!(client.starts_with("ethpeer/"));
//!     assert!(caps.iter().any(|c| c == "eth/72"));
//!
//!     // Peers by id, as handles: information, disconnect, ban for a while.
//!     let peer = a.peer(b.node_id()).await.unwrap();
//!     assert_eq!(peer.info().client, client);
//!     assert!(peer.ban(Duration::from_secs(60)).await);
//!     loop {
//!         if let NodeEvent::PeerDisconnected { id, .. } = events.next().await.unwrap() {
//!             assert_eq!(id, b.node_id());
//!             break;
//!         }
//!     }
//!     assert!(a.peers().await.is_empty());
//!     assert_eq!(a.pool_status(), (0, 0));
//!     b.shutdown(Duration::from_secs(2)).await;
//! });
//! ```
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

// Production functions stay under 80 lines (style.md); tests may be longer scenarios.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod api;
pub mod archive;
pub mod blocks;
pub mod chain;
pub mod discovery;
pub mod eth;
pub mod exposition;
pub mod feed;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod node;
pub mod p2p;
pub mod peer;
pub mod peer_set;
pub mod rlp_tree;
pub mod rlpx;
pub mod serve;
pub mod session;
pub mod txs;

#[cfg(test)]
mod testing;

pub use alloy_consensus;
pub use alloy_eips;
pub use alloy_primitives;
pub use alloy_rlp;
