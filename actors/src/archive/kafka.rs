//! A fleet through Kafka: [`KafkaSink`] publishes a node's archive events
//! ([`ArchiveEvent`], JSON, schema in [`super::record`]) to a topic, at least once, from a
//! bounded buffer with backoff while the broker is away (the node never waits on it;
//! what overflows is counted); [`consume`] reads a fleet's topic into one archive, the
//! same files as `--archive`, and keeps its read positions in the archive itself
//! (`kafka-offsets.json`, rewritten after each synced batch) so a restart resumes where
//! the archive stands: an event read twice is refused by the store as a duplicate.
//!
//! Records: key the tx hash (32 bytes), value the event's JSON, header `schema` =
//! [`SCHEMA_HEADER`]; the sink writes partition 0 of a topic it creates with one
//! partition when missing (a fleet's ~60 events/s per node are far below a partition's
//! capacity); the consumer reads every partition.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use tokio::sync::mpsc;

use super::record::{ArchiveEvent, EventBody};
use super::store::{ArchiveStore, StoreError};

/// Events the sink holds while the broker is slow or away: 65,536 is about 18 minutes of
/// a mainnet node's ~60 events/s (a tx's verdict and sightings), about 64 MiB of JSON at
/// most; past it new events are dropped and counted ([`SinkStats::dropped`]).
pub const SINK_BUFFER: usize = 65_536;

/// Events per produce request at most.
pub const SINK_BATCH: usize = 1_000;

/// Encoded bytes per produce request at most: under Kafka's default 1 MiB
/// (`message.max.bytes` of the broker, `max.request.size` of clients), with room for the
/// request's framing. An event alone larger than this cannot be published: it is
/// dropped and counted.
pub const SINK_BATCH_BYTES: usize = 900 * 1024;

/// How long the sink waits to fill a batch after its first event.
pub const SINK_LINGER: Duration = Duration::from_millis(50);

/// The first wait after a failed produce or connect; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// The longest wait between attempts while the broker is away.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long one request may retry inside the client before the sink reconnects.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Bytes one fetch asks for at most.
const FETCH_BYTES: i32 = 4 << 20;

/// How long a fetch waits for records at most.
const FETCH_WAIT_MS: i32 = 500;

/// The `schema` header every record carries.
pub const SCHEMA_HEADER: &str = "ethpeer.archive/1";

/// The consumer's positions, beside the archive's segments.
pub const OFFSETS_FILE: &str = "kafka-offsets.json";

/// Why a `kafka://` address was refused, or Kafka failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// Not `kafka://host:port[,host:port...]/topic`.
    #[error("{0}: expected kafka://host:port[,host:port]/topic")]
    Url(String),
    /// The topic does not exist (yet).
    #[error("kafka: no topic {0} yet")]
    NoTopic(String),
    /// The broker or client failed.
    #[error("kafka: {0}")]
    Client(#[from] rskafka::client::error::Error),
    /// The archive failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The offsets file could not be read or written.
    #[error("{path}: {error}")]
    Offsets {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
}

/// A parsed `kafka://` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaUrl {
    /// Bootstrap brokers (`host:port`).
    pub brokers: Vec<String>,
    /// The topic.
    pub topic: String,
}

impl std::str::FromStr for KafkaUrl {
    type Err = KafkaError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || KafkaError::Url(text.to_string());
        let rest = text.strip_prefix("kafka://").ok_or_else(bad)?;
        let (hosts, topic) = rest.split_once('/').ok_or_else(bad)?;
        let topic_ok = !topic.is_empty()
            && topic.len() <= 249
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let brokers: Vec<String> = hosts.split(',').map(str::to_string).collect();
        let hosts_ok = brokers.iter().all(|b| {
            b.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
        });
        if !topic_ok || !hosts_ok {
            return Err(bad());
        }
        Ok(Self {
            brokers,
            topic: topic.to_string(),
        })
    }
}

/// What the sink did.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events the broker acknowledged.
    pub published: AtomicU64,
    /// Events dropped because the buffer was full.
    pub dropped: AtomicU64,
    /// Failed attempts (connect or produce).
    pub failures: AtomicU64,
}

/// The publishing side: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct KafkaSink {
    tx: mpsc::Sender<Arc<ArchiveEvent>>,
    /// The counters.
    pub stats: Arc<SinkStats>,
}

impl KafkaSink {
    /// Starts the sink's task on the current arbiter (or tokio runtime), counting into
    /// `stats`.
    pub fn spawn(url: KafkaUrl, stats: Arc<SinkStats>) -> Self {
        let (tx, rx) = mpsc::channel(SINK_BUFFER);
        actix_rt::spawn(run_sink(url, rx, stats.clone()));
        Self { tx, stats }
    }

    /// Queues `event`; a full buffer drops it (counted).
    pub fn offer(&self, event: Arc<ArchiveEvent>) {
        if self.tx.try_send(event).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn backoff_config() -> rskafka::BackoffConfig {
    rskafka::BackoffConfig {
        init_backoff: MIN_BACKOFF,
        max_backoff: MAX_BACKOFF,
        base: 2.0,
        deadline: Some(REQUEST_DEADLINE),
    }
}

async fn connect(url: &KafkaUrl) -> Result<Client, KafkaError> {
    Ok(ClientBuilder::new(url.brokers.clone())
        .client_id("ethpeer")
        .backoff_config(backoff_config())
        .build()
        .await?)
}

/// The topic's partition 0, creating the topic (one partition) when missing.
async fn sink_partition(url: &KafkaUrl) -> Result<PartitionClient, KafkaError> {
    let client = connect(url).await?;
    let exists = client
        .list_topics()
        .await?
        .iter()
        .any(|t| t.name == url.topic);
    if !exists {
        // A fleet's nodes may race to create it: "already exists" is success.
        if let Err(error) = client
            .controller_client()?
            .create_topic(url.topic.clone(), 1, 1, 5_000)
            .await
        {
            log::debug!("kafka: create {}: {error}", url.topic);
        }
    }
    Ok(client
        .partition_client(url.topic.clone(), 0, UnknownTopicHandling::Retry)
        .await?)
}

fn record(event: &ArchiveEvent) -> Record {
    Record {
        key: event.hash().map(|h| h.to_vec()),
        value: serde_json::to_vec(event).ok(),
        headers: BTreeMap::from([("schema".to_string(), SCHEMA_HEADER.as_bytes().to_vec())]),
        timestamp: rskafka::chrono::Utc::now(),
    }
}

/// The sink's loop: batch, produce, and on failure back off and retry the same batch.
async fn run_sink(url: KafkaUrl, mut rx: mpsc::Receiver<Arc<ArchiveEvent>>, stats: Arc<SinkStats>) {
    let mut partition: Option<PartitionClient> = None;
    let mut backoff = MIN_BACKOFF;
    let mut carried: Option<Record> = None;
    while let Some(first) = match carried.take() {
        Some(record) => Some(record),
        None => rx.recv().await.map(|e| record(&e)),
    } {
        let mut bytes = first.approximate_size();
        if bytes > SINK_BATCH_BYTES {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut records = vec![first];
        let linger = tokio::time::sleep(SINK_LINGER);
        tokio::pin!(linger);
        while records.len() < SINK_BATCH {
            let next = tokio::select! {
                next = rx.recv() => next,
                () = &mut linger => None,
            };
            let Some(event) = next else {
                break;
            };
            let next = record(&event);
            if bytes + next.approximate_size() > SINK_BATCH_BYTES {
                // The next batch starts with it.
                carried = Some(next);
                break;
            }
            bytes += next.approximate_size();
            records.push(next);
        }
        loop {
            // The client retries inside a request; the sink bounds each attempt, so it
            // notices an absent broker, says so, and reconnects.
            let attempt = match &partition {
                Some(p) => tokio::time::timeout(
                    REQUEST_DEADLINE,
                    p.produce(records.clone(), Compression::NoCompression),
                )
                .await
                .map_err(|_| "no answer".to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
                None => match tokio::time::timeout(REQUEST_DEADLINE, sink_partition(&url)).await {
                    Ok(Ok(p)) => {
                        partition = Some(p);
                        continue;
                    }
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("no answer".to_string()),
                },
            };
            match attempt {
                Ok(_) => {
                    stats
                        .published
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    backoff = MIN_BACKOFF;
                    break;
                }
                Err(error) => {
                    let failures = stats.failures.fetch_add(1, Ordering::Relaxed);
                    if (failures + 1).is_power_of_two() {
                        log::warn!(
                            "kafka sink {}: {error}; {} events wait (retrying)",
                            url.topic,
                            records.len() + rx.len()
                        );
                    }
                    partition = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Reads the consumer's positions (partition -> next offset).
fn read_offsets(dir: &Path) -> Result<BTreeMap<i32, i64>, KafkaError> {
    let path = dir.join(OFFSETS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KafkaError::Offsets {
            path,
            error: e.into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(error) => Err(KafkaError::Offsets { path, error }),
    }
}

/// Writes the positions atomically (temporary file, sync, rename).
fn write_offsets(dir: &Path, offsets: &BTreeMap<i32, i64>) -> Result<(), KafkaError> {
    let path = dir.join(OFFSETS_FILE);
    let tmp = dir.join(format!("{OFFSETS_FILE}.tmp"));
    let err = |error| KafkaError::Offsets {
        path: path.clone(),
        error,
    };
    let bytes = serde_json::to_vec(offsets).map_err(|e| err(e.into()))?;
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)
}

/// Consumes `url`'s topic into the archive at `dir` until `stop` resolves; then writes
/// the hours so far and the positions. Events that fail to parse are skipped (counted in
/// the log).
pub async fn consume(
    url: &KafkaUrl,
    dir: &Path,
    retain: Option<Duration>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), KafkaError> {
    let mut reader = Reader {
        store: ArchiveStore::open(dir, retain)?,
        offsets: read_offsets(dir)?,
        skipped: 0,
    };
    log::info!(
        "archive: consuming {} from {:?} into {} at positions {:?}",
        url.topic,
        url.brokers,
        dir.display(),
        reader.offsets
    );
    log::info!(
        "archive: holding {} events (replayed from its segments)",
        reader.store.stats.written
    );
    tokio::pin!(stop);
    let mut partitions: Vec<PartitionClient> = Vec::new();
    let mut last_finalize = SystemTime::now();
    loop {
        if partitions.is_empty() {
            tokio::select! {
                () = &mut stop => break,
                found = consumer_partitions(url) => match found {
                    Ok(found) => partitions = found,
                    Err(error) => {
                        log::warn!("archive: kafka: {error}; retrying");
                        tokio::time::sleep(MAX_BACKOFF).await;
                        continue;
                    }
                },
            }
        }
        // Stopping mid-round is safe: each record's event and position are taken
        // together, between the round's awaits.
        let round = tokio::select! {
            () = &mut stop => break,
            round = reader.round(&partitions) => round?,
        };
        match round {
            Round::Took(0) => {}
            Round::Took(_) => reader.commit(dir)?,
            Round::Reconnect => {
                partitions.clear();
                tokio::time::sleep(MIN_BACKOFF).await;
            }
        }
        let now = SystemTime::now();
        if now.duration_since(last_finalize).unwrap_or_default() >= super::actor::FINALIZE_TICK {
            reader.store.finalize_due(now)?;
            last_finalize = now;
            // Listed again: a topic created since, or partitions added to it.
            partitions.clear();
        }
    }
    close(&mut reader.store, dir, &reader.offsets)
}

/// The consumer's archive and positions.
struct Reader {
    store: ArchiveStore,
    offsets: BTreeMap<i32, i64>,
    skipped: u64,
}

/// What one pass over the partitions did.
enum Round {
    /// Records taken.
    Took(usize),
    /// A fetch failed: list the partitions again.
    Reconnect,
}

impl Reader {
    /// One fetch from each partition, every record appended to the store.
    async fn round(&mut self, partitions: &[PartitionClient]) -> Result<Round, KafkaError> {
        let mut took = 0;
        for partition in partitions {
            let id = partition.partition();
            let offset = match self.offsets.get(&id) {
                Some(offset) => *offset,
                None => match partition.get_offset(OffsetAt::Earliest).await {
                    Ok(offset) => offset,
                    Err(error) => {
                        log::warn!("archive: kafka partition {id}: {error}; retrying");
                        continue;
                    }
                },
            };
            let records = match partition
                .fetch_records(offset, 1..FETCH_BYTES, FETCH_WAIT_MS)
                .await
            {
                Ok((records, _high)) => records,
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    // Retention deleted what we had not read (or the topic was made
                    // again): go on from its oldest record, saying how much was lost;
                    // what is read twice is refused as a duplicate.
                    let earliest = partition
                        .get_offset(OffsetAt::Earliest)
                        .await
                        .unwrap_or(offset);
                    log::warn!(
                        "archive: kafka partition {id}: offset {offset} is out of range; \
                         {} events skipped, resuming at {earliest}",
                        earliest.saturating_sub(offset).max(0)
                    );
                    self.offsets.insert(id, earliest);
                    continue;
                }
                Err(error) => {
                    log::warn!("archive: kafka fetch: {error}; reconnecting");
                    return Ok(Round::Reconnect);
                }
            };
            for r in records {
                match r.record.value.as_deref().map(ArchiveEvent::parse) {
                    Some(Ok(event)) if !matches!(event.body, EventBody::Offset(_)) => {
                        self.store.append(&event)?;
                    }
                    _ => self.skipped += 1,
                }
                self.offsets.insert(id, r.offset.saturating_add(1));
                took += 1;
            }
        }
        Ok(Round::Took(took))
    }

    /// Syncs the segments, then keeps the positions (in that order: a crash between
    /// them re-reads events the store then refuses as duplicates).
    fn commit(&mut self, dir: &Path) -> Result<(), KafkaError> {
        self.store.sync()?;
        write_offsets(dir, &self.offsets)?;
        log::info!(
            "archive: holding {} events ({} duplicates refused, {} unreadable skipped)",
            self.store.stats.written,
            self.store.stats.duplicates,
            self.skipped
        );
        Ok(())
    }
}

async fn consumer_partitions(url: &KafkaUrl) -> Result<Vec<PartitionClient>, KafkaError> {
    let client = connect(url).await?;
    let topics = client.list_topics().await?;
    let ids: Vec<i32> = topics
        .iter()
        .find(|t| t.name == url.topic)
        .map(|t| t.partitions.iter().copied().collect())
        .unwrap_or_default();
    if ids.is_empty() {
        // Not created yet (no node has published): looked for again after a backoff.
        return Err(KafkaError::NoTopic(url.topic.clone()));
    }
    let mut out = Vec::new();
    for id in ids {
        out.push(
            client
                .partition_client(url.topic.clone(), id, UnknownTopicHandling::Retry)
                .await?,
        );
    }
    Ok(out)
}

fn close(
    store: &mut ArchiveStore,
    dir: &Path,
    offsets: &BTreeMap<i32, i64>,
) -> Result<(), KafkaError> {
    store.sync()?;
    write_offsets(dir, offsets)?;
    store.checkpoint()?;
    log::info!("archive: stopped at {offsets:?}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_urls_parse_or_are_refused() {
        let url: KafkaUrl = "kafka://127.0.0.1:9092,k2:19092/ethpeer.arrivals"
            .parse()
            .expect("valid");
        assert_eq!(url.brokers, ["127.0.0.1:9092", "k2:19092"]);
        assert_eq!(url.topic, "ethpeer.arrivals");
        for bad in [
            "kafka://127.0.0.1:9092",
            "kafka://127.0.0.1:9092/",
            "kafka://127.0.0.1/t",
            "kafka://:9092/t",
            "kafka://h:0/t",
            "kafka://h:99999/t",
            "http://h:1/t",
            "kafka://h:1/a b",
        ] {
            assert!(bad.parse::<KafkaUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_round_trip_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_offsets(dir.path()).expect("none").is_empty());
        let offsets = BTreeMap::from([(0, 42), (3, 7)]);
        write_offsets(dir.path(), &offsets).expect("write");
        assert_eq!(read_offsets(dir.path()).expect("read"), offsets);
        std::fs::write(dir.path().join(OFFSETS_FILE), b"{").expect("damage");
        assert!(read_offsets(dir.path()).is_err());
    }
}
