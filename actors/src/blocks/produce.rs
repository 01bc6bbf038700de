//! [`DevProducer`]: block production on a dev network, as geth `--dev` does it: every
//! `--dev.period` seconds a block (empty ones included), or with a period of 0 a block as
//! soon as the pool has executable transactions. The blocks are built and stored by the
//! engine's executor ([`super::engine::ProduceBlock`]), on its own thread; this actor only
//! says when, and never runs two builds at once.

use std::time::Duration;

use actix::prelude::*;

use super::engine::{PayloadExecutor, ProduceBlock};
use crate::txs::pool::NewTxs;

/// Decides when blocks are produced (see the module doc).
pub struct DevProducer {
    period: Duration,
    engine: Addr<PayloadExecutor>,
    /// A build is in flight.
    busy: bool,
    /// Transactions arrived during the build: build again after it.
    again: bool,
}

impl DevProducer {
    /// A producer asking `engine` for a block every `period` (zero: when txs arrive).
    pub fn new(period: Duration, engine: Addr<PayloadExecutor>) -> Self {
        Self {
            period,
            engine,
            busy: false,
            again: false,
        }
    }

    fn produce(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            self.again = true;
            return;
        }
        self.busy = true;
        let empty_ok = !self.period.is_zero();
        self.engine
            .send(ProduceBlock { empty_ok })
            .into_actor(self)
            .map(|outcome, act, ctx| {
                act.busy = false;
                if let Ok(Err(reason)) = outcome {
                    log::debug!("dev: no block: {reason}");
                }
                if std::mem::take(&mut act.again) {
                    act.produce(ctx);
                }
            })
            .spawn(ctx);
    }
}

impl Actor for DevProducer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if !self.period.is_zero() {
            ctx.run_interval(self.period, |act, ctx| act.produce(ctx));
        }
    }
}

impl Handler<NewTxs> for DevProducer {
    type Result = ();

    fn handle(&mut self, _msg: NewTxs, ctx: &mut Context<Self>) {
        if self.period.is_zero() {
            self.produce(ctx);
        }
    }
}
