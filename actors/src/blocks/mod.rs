//! Blocks: how the node learns, checks and passes on blocks.
//!
//! - [`propagation`]: the [`propagation::BlockPropagator`]: NewBlock / NewBlockHashes out
//!   for eth <= 68.
//! - [`import`]: the [`import::BlockHandler`]: NewBlock / NewBlockHashes in, validation,
//!   import.
//! - [`follow`]: the [`follow::HeadFollower`]: the head from peers (a quorum of them must
//!   agree), bodies checked against headers, pool hygiene, `newHeads`.
//! - [`engine`]: the [`engine::PayloadExecutor`]: a consensus client's payloads executed
//!   and stored, its forkchoice as the head; blocks built from the pool.
//! - [`produce`]: the [`produce::DevProducer`]: when a dev network makes a block.
//!
//! Serving blocks to peers lives in [`crate::serve`], beside pooled txs and cells.

pub mod engine;
pub mod follow;
pub mod import;
pub mod produce;
pub mod propagation;
