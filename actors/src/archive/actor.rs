//! The archiver ([`Archiver`]): a [`NodeEvent`] subscriber on its own arbiter (segment
//! writes and syncs block only it) that turns `validated` and `settled` arrivals and
//! inclusions into
//! [`ArchiveEvent`]s, appends them to the [`ArchiveStore`], syncs every
//! [`SYNC_INTERVAL`], writes finished hours, and hands each event to a sink (Kafka) if
//! one is set.

use std::time::{Duration, SystemTime};

use actix::prelude::*;

use super::record::{ArchiveEvent, EventBody, IncludedRecord, SCHEMA_VERSION};
use super::store::{Appended, ArchiveStore, StoreStats, SYNC_INTERVAL};
use crate::feed::arrivals::ArrivalTier;
use crate::feed::events::NodeEvent;

/// Events waiting in the archiver's mailbox at most: 16 s of mainnet's ~20 tx/s times
/// the three events a tx can cause, with room for a burst of 65,536; past it the
/// observer's `try_send` fails and the event is counted as dropped
/// (`ethpeer_events_dropped_total`), never waited for.
pub const ARCHIVE_MAILBOX: usize = 65_536;

/// How often finished hours are looked for (and retention applied).
pub const FINALIZE_TICK: Duration = Duration::from_secs(10);

/// Event: an archive event to publish (the Kafka sink's input).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct Publish(pub std::sync::Arc<ArchiveEvent>);

/// Command: sync, and write every open hour's files as they stand (a clean stop).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct CloseArchive;

/// Query: the store's counters.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "StoreStats")]
pub struct GetArchiveStats;

/// The archiver (see the module doc).
pub struct Archiver {
    store: Option<ArchiveStore>,
    source: String,
    sink: Option<Recipient<Publish>>,
}

impl Archiver {
    /// An archiver writing to `store` (none: publish only) as `source`, publishing to
    /// `sink`.
    pub fn new(
        store: Option<ArchiveStore>,
        source: String,
        sink: Option<Recipient<Publish>>,
    ) -> Self {
        Self {
            store,
            source,
            sink,
        }
    }

    fn take(&mut self, event: ArchiveEvent) {
        if let Some(store) = &mut self.store {
            match store.append(&event) {
                Ok(Appended::Full) => log::debug!("archive: hour full, event dropped"),
                Ok(_) => {}
                Err(error) => log::warn!("archive: {error}"),
            }
        }
        if let Some(sink) = &self.sink {
            // The sink buffers and counts its own losses; a full mailbox is one of them.
            let _ = sink.try_send(Publish(std::sync::Arc::new(event)));
        }
    }
}

impl Actor for Archiver {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(ARCHIVE_MAILBOX);
        ctx.run_interval(SYNC_INTERVAL, |this, _| {
            if let Some(store) = &mut this.store {
                if let Err(error) = store.sync() {
                    log::warn!("archive: sync: {error}");
                }
            }
        });
        ctx.run_interval(FINALIZE_TICK, |this, _| {
            if let Some(store) = &mut this.store {
                if let Err(error) = store.finalize_due(SystemTime::now()) {
                    log::warn!("archive: {error}");
                }
            }
        });
    }
}

impl Handler<NodeEvent> for Archiver {
    type Result = ();

    fn handle(&mut self, msg: NodeEvent, _ctx: &mut Self::Context) {
        match msg {
            NodeEvent::TxArrival(arrival) if arrival.tier != ArrivalTier::Seen => {
                if let Some(event) = ArchiveEvent::from_arrival(&self.source, &arrival) {
                    self.take(event);
                }
            }
            NodeEvent::TxIncluded {
                hash,
                block,
                block_timestamp,
                ..
            } => {
                let event = ArchiveEvent {
                    v: SCHEMA_VERSION,
                    source: self.source.clone(),
                    body: EventBody::Included(IncludedRecord {
                        hash,
                        block_number: block.number,
                        block_timestamp_ms: i64::try_from(block_timestamp)
                            .unwrap_or(i64::MAX)
                            .saturating_mul(1000),
                    }),
                };
                self.take(event);
            }
            _ => {}
        }
    }
}

impl Handler<CloseArchive> for Archiver {
    type Result = ();

    fn handle(&mut self, _msg: CloseArchive, _ctx: &mut Self::Context) {
        if let Some(store) = &mut self.store {
            if let Err(error) = store.checkpoint() {
                log::warn!("archive: at stop: {error}");
            }
        }
    }
}

impl Handler<GetArchiveStats> for Archiver {
    type Result = MessageResult<GetArchiveStats>;

    fn handle(&mut self, _msg: GetArchiveStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.store.as_ref().map(|s| s.stats).unwrap_or_default())
    }
}

/// A running archiver on its own arbiter (what the binary holds).
pub struct ArchiverHandle {
    addr: Addr<Archiver>,
    arbiter: actix_rt::Arbiter,
}

impl ArchiverHandle {
    /// Starts `archiver` on a new arbiter.
    pub fn start(archiver: Archiver) -> Self {
        let arbiter = actix_rt::Arbiter::new();
        let addr = Archiver::start_in_arbiter(&arbiter.handle(), move |_| archiver);
        Self { addr, arbiter }
    }

    /// Where node events go (`Node::subscribe`).
    pub fn events(&self) -> Recipient<NodeEvent> {
        self.addr.clone().recipient()
    }

    /// The archiver's address.
    pub fn addr(&self) -> &Addr<Archiver> {
        &self.addr
    }

    /// Syncs and writes the hours so far ([`CloseArchive`]), then stops the arbiter.
    pub async fn close(self) {
        let _ = self.addr.send(CloseArchive).await;
        self.arbiter.stop();
    }
}
