//! [`Verifier`]: the CPU-heavy half of transaction validation (sender recovery, stateless
//! checks, KZG proofs) on worker threads. An actix `SyncArbiter` was chosen because the
//! work is synchronous and the results must come back as actor messages; each thread
//! takes one batch at a time from a shared queue.

use std::sync::Arc;

use actix::prelude::*;

use crate::eth::PooledTx;
use crate::txs::pool::validate::TxValidationError;
use crate::txs::pool::{PoolTx, ValidatingTxPool};

/// Command: verify these transactions; answers each one's outcome, in order.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Result<PoolTx, TxValidationError>>")]
pub struct VerifyTxs(pub Vec<PooledTx>);

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
        MessageResult(msg.0.into_iter().map(|tx| self.pool.verify(tx)).collect())
    }
}

/// Starts `threads` verifier threads (at least one) checking against `pool`'s rules.
pub fn start_verifiers(pool: Arc<ValidatingTxPool>, threads: usize) -> Addr<Verifier> {
    SyncArbiter::start(threads.max(1), move || Verifier { pool: pool.clone() })
}
