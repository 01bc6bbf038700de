//! The archive's event schema ([`ArchiveEvent`], version [`SCHEMA_VERSION`]): one JSON
//! object per event, the same bytes in the write-ahead segment and on a Kafka topic. Built
//! from the feed's `settled` arrivals (an accepted tx with every sighting, or a refused one
//! with the pool's reason) and from followed blocks (inclusions).
//!
//! Schema v1 (every event carries `v`, `source` and `event`):
//! - `tx`: `hash`, `timestampMs` (first sighting, ms), `firstSeenNs`, `chainId`
//!   (decimal, empty for a pre-EIP-155 tx), `txType`, `from` and `to` (EIP-55, `to`
//!   empty for a creation), `value`, `nonce`, `gas`, `gasPrice`, `gasTipCap`, `gasFeeCap`
//!   (decimal strings, geth's getters: a dynamic-fee tx's `gasPrice` is its fee cap, a
//!   legacy tx's tip and fee caps its gas price), `dataSize`, `data4Bytes`, `rawTx` (hex,
//!   EIP-2718 without a blob sidecar), `peer`, `client`, `peerAddr`, `kind`,
//!   `firstAnnouncedNs`, `firstDeliveredNs`, `announcers`, `deliverers`, `blobCount`,
//!   `blobColumns` (hex mask) and `sightings` (`peer`, `client`, `delivery`, `timeNs`).
//! - `rejected`: `hash`, `timestampMs`, `peer`, `client`, `kind`, `reason`, `sightings`.
//! - `sightings` (a second after the first sighting): `hash`, `timestampMs`,
//!   `announcers`, `deliverers`, `sightings`.
//! - `included`: `hash`, `blockNumber`, `blockTimestampMs`.
//! - `offset` (the fleet consumer's own bookkeeping, never published): `partition`,
//!   `offset`: the next Kafka offset to read.

use std::time::{SystemTime, UNIX_EPOCH};

use alloy_consensus::{Signed, Transaction, TxEip4844Variant, TxEnvelope};
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::{hex, B256};
use serde::{Deserialize, Serialize};

use crate::eth::PooledTx;
use crate::feed::arrivals::{ArrivalSource, ArrivalTier, TxArrival, Verdict};
use crate::peer::Delivery;

/// The schema version every event carries (`v`); a reader refuses newer majors.
pub const SCHEMA_VERSION: u32 = 1;

/// One archived event with its envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveEvent {
    /// [`SCHEMA_VERSION`] when written.
    pub v: u32,
    /// The node that saw it (`--archive.source`): one of a fleet's names.
    pub source: String,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of archived event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum EventBody {
    /// A transaction the pool accepted, with its provenance.
    Tx(Box<TxRecord>),
    /// A transaction the pool refused.
    Rejected(RejectedRecord),
    /// Every peer's sighting of a transaction, a second after the first (the `settled`
    /// arrival): the sourcelog's rows and the final counts.
    Sightings(SightingsRecord),
    /// A followed block included a transaction.
    Included(IncludedRecord),
    /// A fleet consumer's read position (kept in its own segment only).
    Offset(OffsetRecord),
}

/// One peer's sighting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SightingRecord {
    /// Its node id in hex (or the 8-byte tag of a peer that never registered).
    pub peer: String,
    /// Its Hello client id, when known.
    pub client: String,
    /// `announced` or `delivered`.
    pub delivery: String,
    /// When its message was decoded, ns since the Unix epoch.
    pub time_ns: i64,
}

/// An accepted transaction: mempool-dumpster's fields plus ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxRecord {
    /// The transaction hash.
    pub hash: B256,
    /// The first sighting (announcement or delivery), ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The same, in ns.
    pub first_seen_ns: i64,
    /// Its chain id in decimal (empty for a pre-EIP-155 tx).
    pub chain_id: String,
    /// Its EIP-2718 type.
    pub tx_type: u8,
    /// The sender (EIP-55).
    pub from: String,
    /// The recipient (EIP-55; empty for a contract creation).
    pub to: String,
    /// Wei sent, decimal.
    pub value: String,
    /// The sender nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas: u64,
    /// geth's `GasPrice()`: the gas price, or a dynamic-fee tx's fee cap (decimal wei).
    pub gas_price: String,
    /// geth's `GasTipCap()` (decimal wei).
    pub gas_tip_cap: String,
    /// geth's `GasFeeCap()` (decimal wei).
    pub gas_fee_cap: String,
    /// The input length in bytes.
    pub data_size: u64,
    /// The input's first 4 bytes (`0x` hex; empty when shorter).
    pub data4_bytes: String,
    /// The EIP-2718 encoding without a blob sidecar, `0x` hex.
    pub raw_tx: String,
    /// The first peer's node id (hex).
    pub peer: String,
    /// That peer's Hello client id (empty when unknown).
    pub client: String,
    /// That peer's address (empty when unknown).
    pub peer_addr: String,
    /// How it first came: `broadcast`, `fetched`, `pooled` or `announced`.
    pub kind: String,
    /// The first announcement by any peer, ns.
    pub first_announced_ns: Option<i64>,
    /// The first delivery by any peer, ns.
    pub first_delivered_ns: Option<i64>,
    /// Distinct peers that announced it within a second.
    pub announcers: u32,
    /// Distinct peers that delivered it within a second.
    pub deliverers: u32,
    /// Blob count (0 for other types).
    pub blob_count: u32,
    /// The cell columns held, a 128-bit mask in hex (empty for other types).
    pub blob_columns: String,
    /// Every peer's sighting within the spread window.
    pub sightings: Vec<SightingRecord>,
}

/// A refused transaction (the "trash").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedRecord {
    /// The transaction hash.
    pub hash: B256,
    /// The first sighting (announcement or delivery), ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The first peer's node id (hex).
    pub peer: String,
    /// That peer's Hello client id (empty when unknown).
    pub client: String,
    /// How it first came: `broadcast`, `fetched`, `pooled` or `announced`.
    pub kind: String,
    /// The pool's reason.
    pub reason: String,
    /// Every peer's sighting within the spread window.
    pub sightings: Vec<SightingRecord>,
}

/// The sightings of a transaction within the spread window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SightingsRecord {
    /// The transaction hash.
    pub hash: B256,
    /// The first sighting, ms (the hour it belongs to).
    pub timestamp_ms: i64,
    /// Distinct peers that announced it within a second.
    pub announcers: u32,
    /// Distinct peers that delivered it within a second.
    pub deliverers: u32,
    /// Every peer's sighting.
    pub sightings: Vec<SightingRecord>,
}

/// An inclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncludedRecord {
    /// The transaction hash.
    pub hash: B256,
    /// The including block's number.
    pub block_number: u64,
    /// The block's header timestamp, in ms.
    pub block_timestamp_ms: i64,
}

/// A consumer's position in a Kafka partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetRecord {
    /// The partition.
    pub partition: i32,
    /// The next offset to read.
    pub offset: i64,
}

/// Nanoseconds since the Unix epoch (0 before it; saturating far after).
pub fn unix_ns(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl ArchiveEvent {
    /// The event for an arrival: at `validated`, a [`TxRecord`] if the pool accepted it
    /// or a [`RejectedRecord`] if it refused it (written at once, so a crash a second
    /// later keeps it); at `settled`, a [`SightingsRecord`]; `None` otherwise.
    pub fn from_arrival(source: &str, arrival: &TxArrival) -> Option<Self> {
        let first = [arrival.first_announced, arrival.first_delivered]
            .into_iter()
            .flatten()
            .min()?;
        let sightings: Vec<SightingRecord> = arrival.sources.iter().map(sighting).collect();
        if arrival.tier == ArrivalTier::Settled {
            return Some(Self {
                v: SCHEMA_VERSION,
                source: source.to_string(),
                body: EventBody::Sightings(SightingsRecord {
                    hash: arrival.hash,
                    timestamp_ms: unix_ns(first) / 1_000_000,
                    announcers: arrival.announcers,
                    deliverers: arrival.deliverers,
                    sightings,
                }),
            });
        }
        if arrival.tier != ArrivalTier::Validated {
            return None;
        }
        let client = arrival
            .peer_card
            .as_ref()
            .map_or_else(String::new, |c| c.client.clone());
        let kind = serde_json::to_value(arrival.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let body = match arrival.verdict.as_ref()? {
            Verdict::Rejected(reason) => EventBody::Rejected(RejectedRecord {
                hash: arrival.hash,
                timestamp_ms: unix_ns(first) / 1_000_000,
                peer: hex::encode(arrival.peer),
                client,
                kind,
                reason: reason.to_string(),
                sightings,
            }),
            Verdict::Accepted => {
                let tx = arrival.tx.as_ref()?;
                let mut record = tx_fields(&tx.tx, tx.sender);
                record.hash = arrival.hash;
                record.timestamp_ms = unix_ns(first) / 1_000_000;
                record.first_seen_ns = unix_ns(first);
                record.peer = hex::encode(arrival.peer);
                record.client = client;
                record.peer_addr = arrival
                    .peer_card
                    .as_ref()
                    .map_or_else(String::new, |c| c.addr.to_string());
                record.kind = kind;
                record.first_announced_ns = arrival.first_announced.map(unix_ns);
                record.first_delivered_ns = arrival.first_delivered.map(unix_ns);
                record.announcers = arrival.announcers;
                record.deliverers = arrival.deliverers;
                if let Some(blob) = &arrival.blob {
                    record.blob_count = u32::try_from(blob.blobs).unwrap_or(u32::MAX);
                    record.blob_columns = hex::encode(blob.columns.0);
                }
                record.sightings = sightings;
                EventBody::Tx(Box::new(record))
            }
        };
        Some(Self {
            v: SCHEMA_VERSION,
            source: source.to_string(),
            body,
        })
    }

    /// The transaction hash it is about, if any.
    pub fn hash(&self) -> Option<B256> {
        match &self.body {
            EventBody::Tx(r) => Some(r.hash),
            EventBody::Rejected(r) => Some(r.hash),
            EventBody::Sightings(r) => Some(r.hash),
            EventBody::Included(r) => Some(r.hash),
            EventBody::Offset(_) => None,
        }
    }

    /// The event's time in ms (first sighting; a block's timestamp), for its hour.
    pub fn time_ms(&self) -> Option<i64> {
        match &self.body {
            EventBody::Tx(r) => Some(r.timestamp_ms),
            EventBody::Rejected(r) => Some(r.timestamp_ms),
            EventBody::Sightings(r) => Some(r.timestamp_ms),
            EventBody::Included(r) => Some(r.block_timestamp_ms),
            EventBody::Offset(_) => None,
        }
    }

    /// Parses one event, refusing a newer schema.
    pub fn parse(bytes: &[u8]) -> Result<Self, RecordError> {
        let event: Self = serde_json::from_slice(bytes).map_err(RecordError::Json)?;
        if event.v > SCHEMA_VERSION {
            return Err(RecordError::Version(event.v));
        }
        Ok(event)
    }
}

/// Why an event could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not an event of this schema.
    #[error("not an archive event: {0}")]
    Json(serde_json::Error),
    /// Written by a newer ethpeer.
    #[error("archive schema v{0} is newer than this ethpeer's v{SCHEMA_VERSION}")]
    Version(u32),
}

fn sighting(source: &ArrivalSource) -> SightingRecord {
    SightingRecord {
        peer: source.peer_hex(),
        client: source
            .card
            .as_ref()
            .map_or_else(String::new, |c| c.client.clone()),
        delivery: match source.delivery {
            Delivery::Announced => "announced",
            Delivery::Full => "delivered",
        }
        .to_string(),
        time_ns: unix_ns(source.at),
    }
}

/// mempool-dumpster's transaction fields of `tx` sent by `from` (the rest left empty).
pub fn tx_fields(tx: &PooledTx, from: alloy_primitives::Address) -> TxRecord {
    let input = tx.input();
    let canonical = canonical(tx);
    let mut raw = Vec::with_capacity(canonical.encode_2718_len());
    canonical.encode_2718(&mut raw);
    TxRecord {
        hash: *tx.hash(),
        timestamp_ms: 0,
        first_seen_ns: 0,
        chain_id: tx.chain_id().map_or_else(String::new, |id| id.to_string()),
        tx_type: tx.ty(),
        from: from.to_checksum(None),
        to: tx.to().map_or_else(String::new, |to| to.to_checksum(None)),
        value: tx.value().to_string(),
        nonce: tx.nonce(),
        gas: tx.gas_limit(),
        // geth's GasPrice(): a dynamic-fee tx answers its fee cap.
        gas_price: tx
            .gas_price()
            .unwrap_or_else(|| tx.max_fee_per_gas())
            .to_string(),
        gas_tip_cap: tx
            .max_priority_fee_per_gas()
            .or_else(|| tx.gas_price())
            .unwrap_or_default()
            .to_string(),
        gas_fee_cap: tx.max_fee_per_gas().to_string(),
        data_size: input.len() as u64,
        data4_bytes: if input.len() >= 4 {
            hex::encode_prefixed(&input[..4])
        } else {
            String::new()
        },
        raw_tx: hex::encode_prefixed(&raw),
        peer: String::new(),
        client: String::new(),
        peer_addr: String::new(),
        kind: String::new(),
        first_announced_ns: None,
        first_delivered_ns: None,
        announcers: 0,
        deliverers: 0,
        blob_count: 0,
        blob_columns: String::new(),
        sightings: Vec::new(),
    }
}

/// The canonical (block) form of `tx`: a blob tx without its sidecar, as the dumpster
/// stores it and as a block carries it.
fn canonical(tx: &PooledTx) -> TxEnvelope {
    match tx {
        PooledTx::Legacy(t) => TxEnvelope::Legacy(t.clone()),
        PooledTx::Eip2930(t) => TxEnvelope::Eip2930(t.clone()),
        PooledTx::Eip1559(t) => TxEnvelope::Eip1559(t.clone()),
        PooledTx::Eip7702(t) => TxEnvelope::Eip7702(t.clone()),
        PooledTx::Eip4844(t) => TxEnvelope::Eip4844(Signed::new_unchecked(
            TxEip4844Variant::TxEip4844(t.tx().tx.clone()),
            *t.signature(),
            *t.hash(),
        )),
    }
}
