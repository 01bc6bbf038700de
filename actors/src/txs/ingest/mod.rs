//! The inbound transaction path from peers to the pool, built so that one peer's junk costs
//! that peer, not everyone:
//!
//! - known before costly: a hash already pooled, rejected recently, being verified, or
//!   repeated in the same message is answered before any signature is recovered;
//! - each peer's transactions wait in their own bounded queue; while it is full the peer's
//!   socket is not read ([`crate::peer::ReadGate`]);
//! - sender recovery, stateless checks and KZG proofs run on [`Verifier`] threads (one per
//!   core, an actix `SyncArbiter`), which also add what passes to the pool, one batch per
//!   peer at a time, peers served round robin, so a peer's transactions reach the pool in
//!   the order it sent them;
//! - a peer whose batches keep failing is slowed (geth's 200 ms), and one that sends
//!   transactions no honest node relays (bad signature, wrong chain) is disconnected.

mod actor;
mod verifier;

pub use actor::{
    IngestMetrics, IngestTxs, TxIngest, TxsRejected, BAD_TXS_BEFORE_DISCONNECT, INGEST_BATCH,
    MAX_QUEUED_PER_PEER, RECENTLY_REJECTED, SLOW_DOWN,
};
pub use verifier::{never_relayed, start_verifiers, VerifiedTxs, Verifier, VerifyTxs};

#[cfg(test)]
mod tests;
