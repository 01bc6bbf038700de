//! The archiver ([`Archiver`]): a [`NodeEvent`] subscriber on its own arbiter (segment
//! writes and syncs block only it) that turns `validated` and `settled` arrivals and
//! inclusions into
//! [`ArchiveEvent`]s, appends them to the [`ArchiveStore`], syncs every
//! [`SYNC_INTERVAL`], writes finished hours, and hands each event to a sink (Kafka) if
//! one is set.

use std::time::{Duration, SystemTime};

use actix::prelude::*;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::kafka::{KafkaSink, KafkaUrl, SinkStats};
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

/// Command: sync, and write every open hour's files as they stand (a clean stop).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct CloseArchive;

/// Query: the sink's counters (published, dropped, failures), zeros without a sink.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "(u64, u64, u64)")]
pub struct GetSinkStats;

impl Handler<GetSinkStats> for Archiver {
    type Result = MessageResult<GetSinkStats>;

    fn handle(&mut self, _msg: GetSinkStats, _ctx: &mut Self::Context) -> Self::Result {
        use std::sync::atomic::Ordering::Relaxed;
        MessageResult(self.sink.as_ref().map_or((0, 0, 0), |s| {
            (
                s.stats.published.load(Relaxed),
                s.stats.dropped.load(Relaxed),
                s.stats.failures.load(Relaxed),
            )
        }))
    }
}

/// Query: the store's counters.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "StoreStats")]
pub struct GetArchiveStats;

/// The archiver (see the module doc).
pub struct Archiver {
    store: Option<ArchiveStore>,
    source: String,
    /// What the scrape reads: the store's counters (copied every sync) and the sink's.
    metrics: Arc<ArchiveMetrics>,
    /// Where to publish: the address until started, then the running sink.
    sink_url: Option<KafkaUrl>,
    sink: Option<KafkaSink>,
    /// The sink's drop count last logged.
    dropped_logged: u64,
}

impl Archiver {
    /// An archiver writing to `store` (none: publish only) as `source`, publishing to
    /// Kafka at `sink` (none: archive only).
    pub fn new(store: Option<ArchiveStore>, source: String, sink: Option<KafkaUrl>) -> Self {
        let metrics = Arc::new(ArchiveMetrics {
            sink: sink.as_ref().map(|_| Arc::new(SinkStats::default())),
            ..ArchiveMetrics::default()
        });
        Self {
            store,
            source,
            metrics,
            sink_url: sink,
            sink: None,
            dropped_logged: 0,
        }
    }

    /// Logs the sink's losses when they grew.
    fn report_sink(&mut self) {
        let Some(sink) = &self.sink else {
            return;
        };
        let dropped = sink
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        if dropped > self.dropped_logged {
            log::warn!(
                "kafka sink: {} events dropped (buffer of {} full), {} published",
                dropped,
                super::kafka::SINK_BUFFER,
                sink.stats
                    .published
                    .load(std::sync::atomic::Ordering::Relaxed)
            );
            self.dropped_logged = dropped;
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
            // The sink buffers and counts its own losses.
            sink.offer(std::sync::Arc::new(event));
        }
    }
}

impl Actor for Archiver {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(ARCHIVE_MAILBOX);
        // On this arbiter: the sink's task shares its thread.
        let stats = self.metrics.sink.clone().unwrap_or_default();
        self.sink = self.sink_url.take().map(|url| KafkaSink::spawn(url, stats));
        ctx.run_interval(SYNC_INTERVAL, |this, _| {
            if let Some(store) = &mut this.store {
                if let Err(error) = store.sync() {
                    log::warn!("archive: sync: {error}");
                }
                this.metrics.copy(&store.stats);
            }
        });
        ctx.run_interval(FINALIZE_TICK, |this, _| {
            this.report_sink();
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

/// The archive's counters for `/metrics` (`Node::add_metrics`).
#[derive(Debug, Default)]
pub struct ArchiveMetrics {
    written: AtomicU64,
    duplicates: AtomicU64,
    full: AtomicU64,
    torn: AtomicU64,
    out_of_range: AtomicU64,
    hours: AtomicU64,
    failed_hours: AtomicU64,
    expired: AtomicU64,
    /// The Kafka sink's, when there is one.
    sink: Option<Arc<SinkStats>>,
}

impl ArchiveMetrics {
    fn copy(&self, stats: &StoreStats) {
        let pairs = [
            (&self.written, stats.written),
            (&self.duplicates, stats.duplicates),
            (&self.full, stats.full),
            (&self.torn, stats.torn),
            (&self.out_of_range, stats.out_of_range),
            (&self.hours, stats.hours_written),
            (&self.failed_hours, stats.failed_hours),
            (&self.expired, stats.expired),
        ];
        for (counter, value) in pairs {
            counter.store(value, Ordering::Relaxed);
        }
    }
}

impl crate::exposition::MetricsSource for ArchiveMetrics {
    fn render(&self, out: &mut crate::exposition::Exposition) {
        use crate::exposition::Kind;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.family(
            "ethpeer_archive_events_total",
            Kind::Counter,
            "Archive events by outcome: written to the hour's segment (replayed ones included), refused as duplicates, by a full hour or for a time outside the accepted window, or torn lines cut at replay.",
        )
        .sample(&[("outcome", "written")], get(&self.written))
        .sample(&[("outcome", "duplicate")], get(&self.duplicates))
        .sample(&[("outcome", "full")], get(&self.full))
        .sample(&[("outcome", "out_of_range")], get(&self.out_of_range))
        .sample(&[("outcome", "torn")], get(&self.torn));
        out.counter(
            "ethpeer_archive_hours_written_total",
            "Hours written as Parquet files (at their end, and at a clean stop).",
            get(&self.hours),
        );
        out.counter(
            "ethpeer_archive_hour_failures_total",
            "Attempts to write an hour's files that failed (its segment is kept and retried).",
            get(&self.failed_hours),
        );
        out.counter(
            "ethpeer_archive_files_expired_total",
            "Hour files deleted by --archive.retain.",
            get(&self.expired),
        );
        if let Some(sink) = &self.sink {
            out.family(
                "ethpeer_kafka_sink_events_total",
                Kind::Counter,
                "Archive events for Kafka: acknowledged by the broker, or dropped with the buffer full.",
            )
            .sample(&[("outcome", "published")], get(&sink.published))
            .sample(&[("outcome", "dropped")], get(&sink.dropped));
            out.counter(
                "ethpeer_kafka_sink_failures_total",
                "Failed connects or produce requests (each retried after a backoff).",
                get(&sink.failures),
            );
        }
    }
}

/// A running archiver on its own arbiter (what the binary holds).
pub struct ArchiverHandle {
    addr: Addr<Archiver>,
    arbiter: actix_rt::Arbiter,
    metrics: Arc<ArchiveMetrics>,
}

impl ArchiverHandle {
    /// Starts `archiver` on a new arbiter.
    pub fn start(archiver: Archiver) -> Self {
        let arbiter = actix_rt::Arbiter::new();
        let metrics = archiver.metrics.clone();
        let addr = Archiver::start_in_arbiter(&arbiter.handle(), move |_| archiver);
        Self {
            addr,
            arbiter,
            metrics,
        }
    }

    /// Its counters, for `Node::add_metrics`.
    pub fn metrics(&self) -> Arc<ArchiveMetrics> {
        self.metrics.clone()
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
