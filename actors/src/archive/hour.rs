//! One hour of the archive in memory ([`Hour`]): transactions de-duplicated by hash (the
//! earliest sighting's fields kept, every source named), the sourcelog (one row per peer
//! sighting per source) and the trash (refused transactions), built from
//! [`ArchiveEvent`]s and from the rows of files already written, so a late event or a
//! merge of several nodes' archives rewrites an hour whole.

use std::collections::{BTreeSet, HashMap, HashSet};

use alloy_primitives::B256;

use super::record::{ArchiveEvent, EventBody, IncludedRecord, SightingRecord, TxRecord};

/// Sightings taken from one event at most: the observer records 64 peers per tx
/// (`MAX_SIGHTINGS_PER_HASH`), so more comes only from a damaged or hostile event.
pub const MAX_EVENT_SIGHTINGS: usize = 64;

fn capped(sightings: &[SightingRecord]) -> &[SightingRecord] {
    &sightings[..sightings.len().min(MAX_EVENT_SIGHTINGS)]
}

/// A transaction row: the earliest source's record, every source, the inclusion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRow {
    /// The fields of the earliest sighting (its `sightings` emptied: they live in the
    /// sourcelog).
    pub record: TxRecord,
    /// The sources (nodes) that saw it.
    pub sources: BTreeSet<String>,
    /// The including block's number and timestamp (ms), when known.
    pub included: Option<(u64, i64)>,
}

impl TxRow {
    /// Milliseconds from the first sighting to the including block's timestamp
    /// (mempool-dumpster's `inclusionDelayMs`; negative when the block was older).
    pub fn inclusion_delay_ms(&self) -> Option<i64> {
        self.included
            .map(|(_, at)| at.saturating_sub(self.record.timestamp_ms))
    }
}

/// One sourcelog row: a peer's sighting at one source.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceRow {
    /// When the message was decoded, ns since the Unix epoch.
    pub time_ns: i64,
    /// The transaction.
    pub hash: B256,
    /// The node that saw it.
    pub source: String,
    /// The peer's id (hex).
    pub peer: String,
    /// The peer's client.
    pub client: String,
    /// `announced` or `delivered`.
    pub delivery: String,
}

/// One trash row: a refused transaction at one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashRow {
    /// First sighting, ms.
    pub timestamp_ms: i64,
    /// The transaction.
    pub hash: B256,
    /// The node that refused it.
    pub source: String,
    /// Its first peer (hex id).
    pub peer: String,
    /// That peer's client.
    pub client: String,
    /// How it first came.
    pub kind: String,
    /// The pool's reason.
    pub reason: String,
}

/// An hour being assembled.
#[derive(Debug, Default)]
pub struct Hour {
    /// Transactions by hash.
    pub txs: HashMap<B256, TxRow>,
    /// Sourcelog rows, de-duplicated.
    pub sourcelog: Vec<SourceRow>,
    sourcelog_keys: HashSet<(B256, String, String, String)>,
    /// Trash rows, one per (hash, source).
    pub trash: Vec<TrashRow>,
    trash_keys: HashSet<(B256, String)>,
    /// Inclusions of transactions not (yet) in this hour.
    pub inclusions: HashMap<B256, (u64, i64)>,
}

impl Hour {
    /// Adds one event (offsets are ignored).
    pub fn add(&mut self, event: &ArchiveEvent) {
        match &event.body {
            EventBody::Tx(record) => self.add_tx(&event.source, record),
            EventBody::Rejected(record) => {
                self.add_sightings(record.hash, &event.source, &record.sightings);
                self.add_trash(TrashRow {
                    timestamp_ms: record.timestamp_ms,
                    hash: record.hash,
                    source: event.source.clone(),
                    peer: record.peer.clone(),
                    client: record.client.clone(),
                    kind: record.kind.clone(),
                    reason: record.reason.clone(),
                });
            }
            EventBody::Sightings(record) => {
                self.add_sightings(record.hash, &event.source, &record.sightings);
                if let Some(row) = self.txs.get_mut(&record.hash) {
                    row.record.announcers = row.record.announcers.max(record.announcers);
                    row.record.deliverers = row.record.deliverers.max(record.deliverers);
                }
            }
            EventBody::Included(record) => self.add_inclusion(record),
            EventBody::Offset(_) => {}
        }
    }

    fn add_tx(&mut self, source: &str, record: &TxRecord) {
        self.add_sightings(record.hash, source, &record.sightings);
        let mut fields = record.clone();
        fields.sightings = Vec::new();
        let included = self.inclusions.remove(&record.hash);
        self.merge_tx(TxRow {
            record: fields,
            sources: BTreeSet::from([source.to_string()]),
            included,
        });
    }

    /// Merges a row (from an event or a file): the earliest sighting's fields win.
    pub fn merge_tx(&mut self, row: TxRow) {
        match self.txs.get_mut(&row.record.hash) {
            None => {
                self.txs.insert(row.record.hash, row);
            }
            Some(old) => {
                old.sources.extend(row.sources);
                old.included = old.included.or(row.included);
                if row.record.first_seen_ns < old.record.first_seen_ns {
                    old.record = row.record;
                }
            }
        }
    }

    /// Adds `source`'s sightings of `hash` to the sourcelog (at most
    /// [`MAX_EVENT_SIGHTINGS`]).
    fn add_sightings(&mut self, hash: B256, source: &str, sightings: &[SightingRecord]) {
        for s in capped(sightings) {
            self.add_source(SourceRow {
                time_ns: s.time_ns,
                hash,
                source: source.to_string(),
                peer: s.peer.clone(),
                client: s.client.clone(),
                delivery: s.delivery.clone(),
            });
        }
    }

    /// Adds a sourcelog row unless the same sighting is there.
    pub fn add_source(&mut self, row: SourceRow) {
        let key = (
            row.hash,
            row.source.clone(),
            row.peer.clone(),
            row.delivery.clone(),
        );
        if self.sourcelog_keys.insert(key) {
            self.sourcelog.push(row);
        }
    }

    /// Adds a trash row unless this source's refusal of it is there.
    pub fn add_trash(&mut self, row: TrashRow) {
        if self.trash_keys.insert((row.hash, row.source.clone())) {
            self.trash.push(row);
        }
    }

    /// Joins an inclusion to its transaction (or keeps it for one still to come).
    pub fn add_inclusion(&mut self, record: &IncludedRecord) {
        let at = (record.block_number, record.block_timestamp_ms);
        match self.txs.get_mut(&record.hash) {
            Some(row) => row.included = row.included.or(Some(at)),
            None => {
                self.inclusions.insert(record.hash, at);
            }
        }
    }

    /// The transaction rows, by first sighting then hash (the files' order).
    pub fn sorted_txs(&self) -> Vec<&TxRow> {
        let mut rows: Vec<&TxRow> = self.txs.values().collect();
        rows.sort_by_key(|r| (r.record.first_seen_ns, r.record.hash));
        rows
    }
}
