//! The node's outside interfaces, the top of the crate: they read a running
//! [`Node`](crate::node::Node) and nothing below depends on them.
//!
//! - [`rpc`]: JSON-RPC over HTTP and WebSocket (`eth_`, `net_`, `web3_`, `txpool_`,
//!   `admin_`, `eth_subscribe`).
//! - [`metrics`]: the Prometheus text endpoint; [`process`]: its process families.
//! - [`rpc`]: also IPC (`rpc::ipc`).
//! - [`engine`]: the engine API a consensus client drives us through (JWT).
//! - `http`: the actix-web server they run on.

pub mod dashboard;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod process;
pub mod rpc;
