//! The archive's Parquet files: an hour's transactions (mempool-dumpster's 19 columns with
//! its names and types, then ours), its sourcelog and its trash; written whole to a
//! temporary name, synced, then renamed into place (a reader never sees half a file), and
//! read back into an [`Hour`] for late events, merges and reports.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::{hex, B256};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::record::{Field, Row};
use parquet::schema::parser::parse_message_type;

use super::hour::{Hour, SourceRow, TrashRow, TxRow};
use super::record::TxRecord;

/// Rows per row group: 65,536 transactions are about an hour of mainnet's mempool (the
/// dumpster sees 1.5 M a day), so an hour is one group; readers skip by group statistics.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// The zstd level: 3 is zstd's own default (its speed/size balance).
const ZSTD_LEVEL: i32 = 3;

/// The transactions file: mempool-dumpster's columns (names, physical and logical types
/// as its `TxSummaryEntry`, plus `txType`), then ethpeer's provenance.
pub const TX_SCHEMA: &str = "message transactions {
  required int64 timestamp (TIMESTAMP(MILLIS,true));
  required binary hash (STRING);
  required binary chainId (STRING);
  required int64 txType;
  required binary from (STRING);
  required binary to (STRING);
  required binary value (STRING);
  required binary nonce (STRING);
  required binary gas (STRING);
  required binary gasPrice (STRING);
  required binary gasTipCap (STRING);
  required binary gasFeeCap (STRING);
  required int64 dataSize;
  required binary data4Bytes (STRING);
  required group sources (LIST) { repeated group list { required binary element (STRING); } }
  required int64 includedAtBlockHeight;
  required int64 includedBlockTimestamp (TIMESTAMP(MILLIS,true));
  required int64 inclusionDelayMs;
  required binary rawTx;
  required binary firstPeer (STRING);
  required binary client (STRING);
  required binary peerAddress (STRING);
  required binary arrivalKind (STRING);
  optional int64 firstAnnounced (TIMESTAMP(NANOS,true));
  optional int64 firstDelivered (TIMESTAMP(NANOS,true));
  required int64 announcers;
  required int64 deliverers;
  required int64 blobCount;
  required binary blobColumns (STRING);
}";

/// The sourcelog: one row per peer that announced or delivered a transaction, per source.
pub const SOURCELOG_SCHEMA: &str = "message sourcelog {
  required int64 timestamp (TIMESTAMP(NANOS,true));
  required binary hash (STRING);
  required binary source (STRING);
  required binary peer (STRING);
  required binary client (STRING);
  required binary kind (STRING);
}";

/// The trash: refused transactions with the pool's reason.
pub const TRASH_SCHEMA: &str = "message trash {
  required int64 timestamp (TIMESTAMP(MILLIS,true));
  required binary hash (STRING);
  required binary source (STRING);
  required binary peer (STRING);
  required binary client (STRING);
  required binary kind (STRING);
  required binary reason (STRING);
}";

/// Why a file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file system refused.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// The Parquet layer refused (a damaged or foreign file).
    #[error("{path}: {error}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: parquet::errors::ParquetError,
    },
    /// A row lacks a column or holds a value of the wrong type.
    #[error("{path}: column {column}: missing or of another type")]
    Column {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
}

/// The three files of an hour in `dir` (`2026-12-05T21.transactions.parquet`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourFiles {
    /// The transactions file.
    pub txs: PathBuf,
    /// The sourcelog file.
    pub sourcelog: PathBuf,
    /// The trash file.
    pub trash: PathBuf,
}

impl HourFiles {
    /// The files of the hour named `stem` (`2026-12-05T21`) under `dir/<date>/`.
    pub fn new(dir: &Path, stem: &str) -> Self {
        let day = dir.join(stem.get(..10).unwrap_or(stem));
        Self {
            txs: day.join(format!("{stem}.transactions.parquet")),
            sourcelog: day.join(format!("{stem}.sourcelog.parquet")),
            trash: day.join(format!("{stem}.trash.parquet")),
        }
    }

    /// Whether the transactions file exists.
    pub fn exist(&self) -> bool {
        self.txs.exists()
    }

    /// Writes `hour` as the three files, each atomically.
    pub fn write(&self, hour: &Hour) -> Result<(), FileError> {
        let txs = hour.sorted_txs();
        write_file(&self.txs, TX_SCHEMA, &txs, tx_columns)?;
        let mut log: Vec<&SourceRow> = hour.sourcelog.iter().collect();
        log.sort_by_key(|r| (r.time_ns, r.hash));
        write_file(&self.sourcelog, SOURCELOG_SCHEMA, &log, source_columns)?;
        let trash: Vec<&TrashRow> = hour.trash.iter().collect();
        write_file(&self.trash, TRASH_SCHEMA, &trash, trash_columns)
    }

    /// Reads the three files (those that exist) into `hour`.
    pub fn read_into(&self, hour: &mut Hour) -> Result<(), FileError> {
        if self.txs.exists() {
            for_rows(&self.txs, |cols, row| {
                hour.merge_tx(tx_row(cols, row)?);
                Some(())
            })?;
        }
        if self.sourcelog.exists() {
            for_rows(&self.sourcelog, |cols, row| {
                hour.add_source(SourceRow {
                    time_ns: long(cols, row, "timestamp")?,
                    hash: hash(cols, row)?,
                    source: string(cols, row, "source")?,
                    peer: string(cols, row, "peer")?,
                    client: string(cols, row, "client")?,
                    delivery: string(cols, row, "kind")?,
                });
                Some(())
            })?;
        }
        if self.trash.exists() {
            for_rows(&self.trash, |cols, row| {
                hour.add_trash(TrashRow {
                    timestamp_ms: long(cols, row, "timestamp")?,
                    hash: hash(cols, row)?,
                    source: string(cols, row, "source")?,
                    peer: string(cols, row, "peer")?,
                    client: string(cols, row, "client")?,
                    kind: string(cols, row, "kind")?,
                    reason: string(cols, row, "reason")?,
                });
                Some(())
            })?;
        }
        Ok(())
    }
}

/// One column's values for a row group.
enum Column {
    /// INT64 values; `def` for an optional column (values only where 1).
    Long(Vec<i64>, Option<Vec<i16>>),
    /// BYTE_ARRAY values.
    Bytes(Vec<ByteArray>),
    /// A list of strings: values, definition and repetition levels.
    List(Vec<ByteArray>, Vec<i16>, Vec<i16>),
}

fn text(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

fn strings<R>(rows: &[R], f: impl Fn(&R) -> String) -> Column {
    Column::Bytes(rows.iter().map(|r| text(&f(r))).collect())
}

fn longs<R>(rows: &[R], f: impl Fn(&R) -> i64) -> Column {
    Column::Long(rows.iter().map(f).collect(), None)
}

fn optional_longs<R>(rows: &[R], f: impl Fn(&R) -> Option<i64>) -> Column {
    let all: Vec<Option<i64>> = rows.iter().map(f).collect();
    let def = all.iter().map(|v| i16::from(v.is_some())).collect();
    Column::Long(all.into_iter().flatten().collect(), Some(def))
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn tx_columns(rows: &[&TxRow]) -> Vec<Column> {
    let (mut values, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        if row.sources.is_empty() {
            def.push(0);
            rep.push(0);
        }
        for (i, source) in row.sources.iter().enumerate() {
            values.push(text(source));
            def.push(1);
            rep.push(i16::from(i > 0));
        }
    }
    let raw = |r: &&TxRow| hex::decode(&r.record.raw_tx).unwrap_or_default();
    vec![
        longs(rows, |r| r.record.timestamp_ms),
        strings(rows, |r| r.record.hash.to_string()),
        strings(rows, |r| r.record.chain_id.clone()),
        longs(rows, |r| i64::from(r.record.tx_type)),
        strings(rows, |r| r.record.from.clone()),
        strings(rows, |r| r.record.to.clone()),
        strings(rows, |r| r.record.value.clone()),
        strings(rows, |r| r.record.nonce.to_string()),
        strings(rows, |r| r.record.gas.to_string()),
        strings(rows, |r| r.record.gas_price.clone()),
        strings(rows, |r| r.record.gas_tip_cap.clone()),
        strings(rows, |r| r.record.gas_fee_cap.clone()),
        longs(rows, |r| to_i64(r.record.data_size)),
        strings(rows, |r| r.record.data4_bytes.clone()),
        Column::List(values, def, rep),
        longs(rows, |r| r.included.map_or(0, |(n, _)| to_i64(n))),
        longs(rows, |r| r.included.map_or(0, |(_, t)| t)),
        longs(rows, |r| r.inclusion_delay_ms().unwrap_or(0)),
        Column::Bytes(rows.iter().map(|r| ByteArray::from(raw(r))).collect()),
        strings(rows, |r| r.record.peer.clone()),
        strings(rows, |r| r.record.client.clone()),
        strings(rows, |r| r.record.peer_addr.clone()),
        strings(rows, |r| r.record.kind.clone()),
        optional_longs(rows, |r| r.record.first_announced_ns),
        optional_longs(rows, |r| r.record.first_delivered_ns),
        longs(rows, |r| i64::from(r.record.announcers)),
        longs(rows, |r| i64::from(r.record.deliverers)),
        longs(rows, |r| i64::from(r.record.blob_count)),
        strings(rows, |r| r.record.blob_columns.clone()),
    ]
}

fn source_columns(rows: &[&SourceRow]) -> Vec<Column> {
    vec![
        longs(rows, |r| r.time_ns),
        strings(rows, |r| r.hash.to_string()),
        strings(rows, |r| r.source.clone()),
        strings(rows, |r| r.peer.clone()),
        strings(rows, |r| r.client.clone()),
        strings(rows, |r| r.delivery.clone()),
    ]
}

fn trash_columns(rows: &[&TrashRow]) -> Vec<Column> {
    vec![
        longs(rows, |r| r.timestamp_ms),
        strings(rows, |r| r.hash.to_string()),
        strings(rows, |r| r.source.clone()),
        strings(rows, |r| r.peer.clone()),
        strings(rows, |r| r.client.clone()),
        strings(rows, |r| r.kind.clone()),
        strings(rows, |r| r.reason.clone()),
    ]
}

/// Writes `rows` to `path` through `path.tmp`: synced, then renamed.
fn write_file<R>(
    path: &Path,
    schema: &str,
    rows: &[R],
    columns: impl Fn(&[R]) -> Vec<Column>,
) -> Result<(), FileError> {
    let io = |error| FileError::Io {
        path: path.to_path_buf(),
        error,
    };
    let pq = |error| FileError::Parquet {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(io)?;
    let schema = Arc::new(parse_message_type(schema).map_err(pq)?);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).map_err(pq)?,
        ))
        .set_created_by(format!("ethpeer {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).map_err(pq)?;
    for chunk in rows.chunks(ROW_GROUP_ROWS) {
        let mut group = writer.next_row_group().map_err(pq)?;
        let mut data = columns(chunk).into_iter();
        while let Some(mut column) = group.next_column().map_err(pq)? {
            let values = data.next().ok_or_else(|| {
                pq(parquet::errors::ParquetError::General(
                    "fewer columns than the schema".into(),
                ))
            })?;
            write_column(column.untyped(), &values).map_err(pq)?;
            column.close().map_err(pq)?;
        }
        group.close().map_err(pq)?;
    }
    let file = writer.into_inner().map_err(pq)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself must survive a crash: sync the directory.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

fn write_column(
    writer: &mut ColumnWriter<'_>,
    values: &Column,
) -> Result<(), parquet::errors::ParquetError> {
    let mismatch = || parquet::errors::ParquetError::General("column type mismatch".into());
    match (writer, values) {
        (ColumnWriter::Int64ColumnWriter(w), Column::Long(v, def)) => {
            w.write_batch(v, def.as_deref(), None)?;
        }
        (ColumnWriter::ByteArrayColumnWriter(w), Column::Bytes(v)) => {
            w.write_batch(v, None, None)?;
        }
        (ColumnWriter::ByteArrayColumnWriter(w), Column::List(v, def, rep)) => {
            w.write_batch(v, Some(def), Some(rep))?;
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

/// Column names of a file, by index.
type Columns = Vec<String>;

/// Calls `each` with every row of `path`; a row it cannot read fails the file.
fn for_rows(
    path: &Path,
    mut each: impl FnMut(&Columns, &Row) -> Option<()>,
) -> Result<(), FileError> {
    let file = File::open(path).map_err(|error| FileError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let pq = |error| FileError::Parquet {
        path: path.to_path_buf(),
        error,
    };
    let reader = SerializedFileReader::new(file).map_err(pq)?;
    // The Parquet crate's row reader panics on some types it does not model (a foreign
    // or damaged file's annotations): that is this file's error, not the process's end.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut names: Option<Columns> = None;
        for row in reader.into_iter() {
            let row = row.map_err(pq)?;
            let cols = names
                .get_or_insert_with(|| row.get_column_iter().map(|(n, _)| n.clone()).collect());
            each(cols, &row).ok_or_else(|| FileError::Column {
                path: path.to_path_buf(),
                column: "a required column",
            })?;
        }
        Ok(())
    }));
    read.unwrap_or_else(|_| {
        Err(pq(parquet::errors::ParquetError::General(
            "the reader failed on this file's contents".into(),
        )))
    })
}

fn field<'r>(cols: &Columns, row: &'r Row, name: &str) -> Option<&'r Field> {
    let index = cols.iter().position(|c| c == name)?;
    row.get_column_iter().nth(index).map(|(_, f)| f)
}

fn long(cols: &Columns, row: &Row, name: &str) -> Option<i64> {
    match field(cols, row, name)? {
        Field::Long(v) | Field::TimestampMillis(v) | Field::TimestampMicros(v) => Some(*v),
        Field::Int(v) => Some(i64::from(*v)),
        _ => None,
    }
}

fn optional_long(cols: &Columns, row: &Row, name: &str) -> Option<Option<i64>> {
    match field(cols, row, name)? {
        Field::Null => Some(None),
        _ => long(cols, row, name).map(Some),
    }
}

fn string(cols: &Columns, row: &Row, name: &str) -> Option<String> {
    match field(cols, row, name)? {
        Field::Str(s) => Some(s.clone()),
        Field::Bytes(b) => b.as_utf8().ok().map(str::to_string),
        _ => None,
    }
}

fn hash(cols: &Columns, row: &Row) -> Option<B256> {
    string(cols, row, "hash")?.parse().ok()
}

fn tx_row(cols: &Columns, row: &Row) -> Option<TxRow> {
    let sources = match field(cols, row, "sources")? {
        Field::ListInternal(list) => list
            .elements()
            .iter()
            .filter_map(|f| match f {
                Field::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => BTreeSet::new(),
    };
    let raw = match field(cols, row, "rawTx")? {
        Field::Bytes(b) => hex::encode_prefixed(b.data()),
        Field::Str(s) => hex::encode_prefixed(s.as_bytes()),
        _ => return None,
    };
    let height = long(cols, row, "includedAtBlockHeight")?;
    let timestamp_ms = long(cols, row, "timestamp")?;
    let announced = optional_long(cols, row, "firstAnnounced")?;
    let delivered = optional_long(cols, row, "firstDelivered")?;
    let first_seen_ns = [announced, delivered]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(timestamp_ms.saturating_mul(1_000_000));
    let int = |name| long(cols, row, name).and_then(|v| u32::try_from(v).ok());
    let record = TxRecord {
        hash: hash(cols, row)?,
        timestamp_ms,
        first_seen_ns,
        chain_id: string(cols, row, "chainId")?,
        tx_type: u8::try_from(long(cols, row, "txType")?).ok()?,
        from: string(cols, row, "from")?,
        to: string(cols, row, "to")?,
        value: string(cols, row, "value")?,
        nonce: string(cols, row, "nonce")?.parse().ok()?,
        gas: string(cols, row, "gas")?.parse().ok()?,
        gas_price: string(cols, row, "gasPrice")?,
        gas_tip_cap: string(cols, row, "gasTipCap")?,
        gas_fee_cap: string(cols, row, "gasFeeCap")?,
        data_size: u64::try_from(long(cols, row, "dataSize")?).ok()?,
        data4_bytes: string(cols, row, "data4Bytes")?,
        raw_tx: raw,
        peer: string(cols, row, "firstPeer")?,
        client: string(cols, row, "client")?,
        peer_addr: string(cols, row, "peerAddress")?,
        kind: string(cols, row, "arrivalKind")?,
        first_announced_ns: announced,
        first_delivered_ns: delivered,
        announcers: int("announcers")?,
        deliverers: int("deliverers")?,
        blob_count: int("blobCount")?,
        blob_columns: string(cols, row, "blobColumns")?,
        sightings: Vec::new(),
    };
    let included = (height > 0).then(|| {
        (
            u64::try_from(height).unwrap_or(0),
            long(cols, row, "includedBlockTimestamp").unwrap_or(0),
        )
    });
    Some(TxRow {
        record,
        sources,
        included,
    })
}
