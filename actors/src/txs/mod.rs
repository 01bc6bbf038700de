//! The transaction path, in the order a tx travels it:
//!
//! - [`inbox`]: the [`inbox::TxInbox`] actor: peers' `Transactions`, announcements and
//!   `PooledTransactions` arrive here; announced txs are fetched (geth's tx fetcher rules).
//! - [`ingest`]: sender recovery and validation on the verifier threads, then the pool.
//! - [`pool`]: the [`pool::TxPool`] trait the actors read, the validating pool (stateless
//!   and [`pool::StateProvider`] checks) and an in-memory pool.
//! - [`broadcast`]: the [`broadcast::TxBroadcaster`]: each new batch to the peers that lack
//!   it (full to ⌈√n⌉ per sender, announced to the rest).
//!
//! Layering: `pool` sits below the peer actors (they read it when they write queued
//! hashes); `inbox`, `ingest` and `broadcast` sit above the peer set.

pub mod broadcast;
pub mod inbox;
pub mod ingest;
pub mod pool;
