//! What the node tells its watchers, below the node's wiring and above the actors that
//! produce it:
//!
//! - [`events`]: [`events::NodeEvent`], the embedding API's event stream.
//! - [`observe`]: the [`observe::PropagationObserver`]: first sightings per tx and block,
//!   the propagation trace file, `TxSeen`/`TxIncluded`.
//! - [`hub`]: the [`hub::SubscriptionHub`] behind `eth_subscribe` (pending txs, heads).
//! - [`sightings`]: the table of recent sightings the observer and the peers share.
//! - [`lane`]: the fast lane: `seen` arrivals decided and offered on the decoding peer's
//!   thread.
//! - [`shapes`]: geth's JSON shapes of pooled txs, shared by the hub and the RPC.
//! - [`logs`]: log filters (`eth_getLogs`, `eth_subscribe logs`).
//! - [`arrivals`]: [`arrivals::TxArrival`], a transaction's arrival with provenance
//!   (`ethpeer_subscribe txArrivals`, `NodeEvent::TxArrival`).

mod arrival_json;
pub mod arrivals;
pub mod events;
pub mod hub;
pub mod lane;
pub mod logs;
pub mod observe;
pub mod shapes;
pub mod sightings;
