//! [`Verifier`]: the CPU-heavy half of transaction validation (sender recovery, stateless
//! checks, KZG proofs) on worker threads, and the pool admission of what passes. An actix
//! `SyncArbiter` was chosen because the work is synchronous and the results must come back
//! as actor messages; each thread takes one batch at a time from a shared queue.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::B256;

use crate::eth::{PooledTx, SampledCells};
use crate::peer::PeerId;
use crate::txs::pool::validate::TxValidationError;
use crate::txs::pool::{PoolError, ValidatingTxPool};

/// Command: verify these transactions and add those that pass to the pool, as from
/// `origin`, sampled blob txs with their `cells`; answers the pool's verdict on each, in
/// order.
#[derive(Debug, Message)]
#[rtype(result = "VerifiedTxs")]
pub struct VerifyTxs {
    /// The transactions, in the order their peer sent them.
    pub txs: Vec<PooledTx>,
    /// The verified cells of sampled blob txs (eth/72), by hash.
    pub cells: HashMap<B256, SampledCells>,
    /// The peer they came from (the pool counts its rejections per peer).
    pub origin: Option<PeerId>,
}

/// What [`VerifyTxs`] answers.
#[derive(Debug, Clone, Default)]
pub struct VerifiedTxs {
    /// The pool's verdict on each tx, in order.
    pub results: Vec<Result<B256, PoolError>>,
    /// How many failed verification in a way no honest node relays (see [`never_relayed`]).
    pub bad: usize,
}

/// One worker thread's actor.
pub struct Verifier {
    pool: Arc<ValidatingTxPool>,
}

impl Actor for Verifier {
    type Context = SyncContext<Self>;
}

impl Handler<VerifyTxs> for Verifier {
    type Result = MessageResult<VerifyTxs>;

    fn handle(&mut self, msg: VerifyTxs, _ctx: &mut SyncContext<Self>) -> Self::Result {
        let VerifyTxs {
            txs,
            mut cells,
            origin,
        } = msg;
        let outcomes: Vec<_> = txs.into_iter().map(|tx| self.pool.verify(tx)).collect();
        let bad = outcomes
            .iter()
            .filter(|o| o.as_ref().is_err_and(never_relayed))
            .count();
        let outcomes = outcomes
            .into_iter()
            .map(|outcome| {
                outcome.map(|tx| match cells.remove(&tx.hash) {
                    Some(cells) => tx.with_cells(cells),
                    None => tx,
                })
            })
            .collect();
        // Pooled here rather than back on the coordinating thread: the pool takes adds
        // from any thread (RPC submissions come from the HTTP workers), and the verdict
        // reaches the pool's hook (which writes the feeds' `validated` arrivals on this
        // thread) and subscribers one thread hand-off sooner.
        let results = self.pool.add_verified(outcomes, origin);
        MessageResult(VerifiedTxs { results, bad })
    }
}

/// Whether a verification failure is one no honest node relays: a bad signature, another
/// chain, below intrinsic gas, a tip above its cap, oversized init code.
pub fn never_relayed(error: &TxValidationError) -> bool {
    matches!(
        error,
        TxValidationError::InvalidSignature
            | TxValidationError::WrongChainId { .. }
            | TxValidationError::IntrinsicGas { .. }
            | TxValidationError::TipAboveFeeCap { .. }
            | TxValidationError::InitCodeTooLarge { .. }
    )
}

/// Starts `threads` verifier threads (at least one) checking against, and adding to,
/// `pool`.
pub fn start_verifiers(pool: Arc<ValidatingTxPool>, threads: usize) -> Addr<Verifier> {
    SyncArbiter::start(threads.max(1), move || Verifier { pool: pool.clone() })
}
