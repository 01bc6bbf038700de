//! The archive on disk ([`ArchiveStore`]): each event is appended to its hour's
//! write-ahead segment (`<dir>/wal/2026-12-05T21.wal`, JSON lines), segments are synced
//! at least every [`SYNC_INTERVAL`], and an hour becomes its Parquet files
//! ([`super::files::HourFiles`]) [`FINALIZE_DELAY`] after it ends (or, so far, at a clean
//! stop). On open the segments are replayed: a torn last line (a crash mid-write) is cut
//! off, and what they hold is known again, so the node resumes the hour with no gap and
//! no duplicate.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use alloy_primitives::B256;
use lru::LruCache;

use super::files::{FileError, HourFiles};
use super::hour::Hour;
use super::record::{unix_ns, ArchiveEvent, EventBody, IncludedRecord};
use crate::feed::arrivals::civil;

/// Segments are synced at least this often: what `kill -9` can lose (issue 27's bound).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// An hour's files are written this long after it ends: a `settled` event comes a second
/// after its tx's first sighting, and a tx sent in an hour's last minute is usually
/// included within five blocks (60 s), so its inclusion joins its row.
pub const FINALIZE_DELAY: Duration = Duration::from_secs(60);

/// Events kept per hour at most, every source together: a mainnet tx makes two (its
/// verdict and its sightings) and mainnet has about 62,500 an hour (mempool-dumpster sees
/// about 1.5 M a day), so this holds a fleet of 33 nodes. Past it an hour takes no more
/// events (counted); the de-duplication set (8-byte keys, about 16 bytes an event with
/// the table) stays under 64 MiB per open hour.
pub const MAX_HOUR_EVENTS: usize = 1 << 22;

/// Hours with an open segment at most. An event for another hour first writes and closes
/// the oldest open one (its files; a later event for it reopens it and the next write
/// merges), so a burst of events spread over many hours (a fleet's backlog, a hostile
/// producer) holds at most this many files and de-duplication sets.
pub const MAX_OPEN_HOURS: usize = 24;

/// How far before now an event may be: the retention a Kafka topic keeps by default
/// (`log.retention.hours` 168), so a consumer can catch up on a week's backlog. Older
/// events are refused (counted).
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// How far after now an event may be (a clock a little ahead, never a hostile far
/// future); later events are refused (counted).
pub const MAX_EVENT_LEAD: Duration = Duration::from_secs(3600);

/// Inclusions of txs not archived yet (a block that came before the tx's `settled`
/// event) kept at most: four hours of mainnet blocks' txs (about 170 per block).
pub const MAX_PENDING_INCLUSIONS: usize = 1 << 18;

const HOUR_MS: i64 = 3_600_000;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A segment or directory could not be used.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// An hour's files could not be written.
    #[error(transparent)]
    File(#[from] FileError),
}

/// What became of an appended event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Appended {
    /// Written to its segment.
    Written,
    /// Its (hash, source) is in its hour already.
    Duplicate,
    /// Its hour holds [`MAX_HOUR_EVENTS`].
    Full,
    /// Its time is outside [[`MAX_EVENT_AGE`] ago, [`MAX_EVENT_LEAD`] ahead].
    OutOfRange,
    /// An inclusion of a tx not archived (yet): kept in memory for it.
    Pending,
}

/// Counters for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Events written to segments (replayed ones included).
    pub written: u64,
    /// Events refused as duplicates.
    pub duplicates: u64,
    /// Events refused by a full hour.
    pub full: u64,
    /// Torn or unreadable segment lines dropped at replay.
    pub torn: u64,
    /// Events refused for their time (see [`Appended::OutOfRange`]).
    pub out_of_range: u64,
    /// Hours whose files could not be written (their segments are kept; retried).
    pub failed_hours: u64,
    /// Hours written to Parquet.
    pub hours_written: u64,
    /// Hour files deleted by retention.
    pub expired: u64,
}

/// One open hour: its segment and what it holds.
struct OpenHour {
    path: PathBuf,
    wal: BufWriter<File>,
    /// The [`dedup_key`] of every tx, rejected and sightings event.
    seen: HashSet<u64>,
    /// The hashes (for routing inclusions).
    hashes: HashSet<B256>,
    dirty: bool,
}

/// The archive directory.
pub struct ArchiveStore {
    dir: PathBuf,
    retain: Option<Duration>,
    hours: BTreeMap<i64, OpenHour>,
    pending: LruCache<B256, IncludedRecord>,
    /// The wall clock (a fixed one in tests).
    clock: fn() -> SystemTime,
    /// The counters.
    pub stats: StoreStats,
}

/// An hour's name: `2026-12-05T21` (hours before 1970 are refused before they get one).
pub fn hour_stem(hour: i64) -> String {
    let secs = u64::try_from(hour.saturating_mul(3600)).unwrap_or(0);
    let (date, clock) = civil(secs);
    format!("{date}T{}", clock.get(..2).unwrap_or("00"))
}

/// The hour index (hours since the epoch) of a time in ms.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

impl ArchiveStore {
    /// Opens (creating) `dir`, replaying its segments.
    pub fn open(dir: &Path, retain: Option<Duration>) -> Result<Self, StoreError> {
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(io(&wal_dir))?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            retain,
            hours: BTreeMap::new(),
            pending: LruCache::new(
                NonZeroUsize::new(MAX_PENDING_INCLUSIONS).unwrap_or(NonZeroUsize::MIN),
            ),
            clock: SystemTime::now,
            stats: StoreStats::default(),
        };
        remove_stale_temporaries(dir);
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
            .map_err(io(&wal_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wal"))
            .collect();
        segments.sort();
        for path in segments {
            let Some(hour) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(parse_stem)
            else {
                continue;
            };
            let events = store.replay(&path)?;
            let open = store.open_hour(hour)?;
            for event in &events {
                if let Some(hash) = event.hash() {
                    if !matches!(event.body, EventBody::Included(_)) {
                        open.seen.insert(dedup_key(event));
                        open.hashes.insert(hash);
                    }
                }
            }
            store.stats.written += events.len() as u64;
        }
        Ok(store)
    }

    /// Reads the time from `clock` instead of the system's (tests at a fixed time).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The events of a segment; a torn or unreadable tail is cut off the file.
    fn replay(&mut self, path: &Path) -> Result<Vec<ArchiveEvent>, StoreError> {
        let (events, good, torn) = read_segment(path)?;
        self.stats.torn += torn;
        let len = std::fs::metadata(path).map_err(io(path))?.len();
        if good < len {
            log::warn!(
                "archive: {}: cutting {} torn bytes at its end",
                path.display(),
                len - good
            );
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io(path))?;
            file.set_len(good).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
        Ok(events)
    }

    fn open_hour(&mut self, hour: i64) -> Result<&mut OpenHour, StoreError> {
        if !self.hours.contains_key(&hour) {
            let path = self
                .dir
                .join("wal")
                .join(format!("{}.wal", hour_stem(hour)));
            let created = !path.exists();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            if created {
                // The new name itself must survive a power loss, not only its bytes.
                let wal = self.dir.join("wal");
                File::open(&wal)
                    .and_then(|d| d.sync_all())
                    .map_err(io(&wal))?;
            }
            let open = OpenHour {
                path,
                wal: BufWriter::new(file),
                seen: HashSet::new(),
                hashes: HashSet::new(),
                dirty: false,
            };
            self.hours.insert(hour, open);
        }
        self.hours.get_mut(&hour).ok_or_else(|| StoreError::Io {
            path: self.dir.clone(),
            error: std::io::Error::other("hour vanished"),
        })
    }

    /// Appends `event` to its hour's segment (an inclusion to its tx's hour).
    pub fn append(&mut self, event: &ArchiveEvent) -> Result<Appended, StoreError> {
        if let EventBody::Included(record) = &event.body {
            let hour = self
                .hours
                .iter()
                .find(|(_, h)| h.hashes.contains(&record.hash))
                .map(|(hour, _)| *hour);
            let Some(hour) = hour else {
                self.pending.put(record.hash, record.clone());
                return Ok(Appended::Pending);
            };
            return self.write(hour, event).map(|()| Appended::Written);
        }
        let (Some(hash), Some(ms)) = (event.hash(), event.time_ms()) else {
            return Ok(Appended::Duplicate);
        };
        let now = unix_ns((self.clock)()) / 1_000_000;
        let age = i64::try_from(MAX_EVENT_AGE.as_millis()).unwrap_or(i64::MAX);
        let lead = i64::try_from(MAX_EVENT_LEAD.as_millis()).unwrap_or(i64::MAX);
        if ms < now.saturating_sub(age) || ms > now.saturating_add(lead) {
            self.stats.out_of_range += 1;
            return Ok(Appended::OutOfRange);
        }
        let hour = hour_of(ms);
        self.make_room(hour);
        let open = self.open_hour(hour)?;
        let key = dedup_key(event);
        if open.seen.contains(&key) {
            self.stats.duplicates += 1;
            return Ok(Appended::Duplicate);
        }
        if open.seen.len() >= MAX_HOUR_EVENTS {
            self.stats.full += 1;
            return Ok(Appended::Full);
        }
        open.seen.insert(key);
        open.hashes.insert(hash);
        self.write(hour, event)?;
        if let Some(inclusion) = self.pending.pop(&hash) {
            let included = ArchiveEvent {
                v: event.v,
                source: event.source.clone(),
                body: EventBody::Included(inclusion),
            };
            self.write(hour, &included)?;
        }
        Ok(Appended::Written)
    }

    /// Before opening `hour`: if [`MAX_OPEN_HOURS`] are open, writes and closes the
    /// oldest (a failure keeps it open and is counted: the cap is then passed, not the
    /// data lost).
    fn make_room(&mut self, hour: i64) {
        if self.hours.contains_key(&hour) || self.hours.len() < MAX_OPEN_HOURS {
            return;
        }
        if let Some(oldest) = self.hours.keys().next().copied() {
            if let Err(error) = self.finalize(oldest, true) {
                self.stats.failed_hours += 1;
                log::warn!("archive: closing {}: {error}", hour_stem(oldest));
            }
        }
    }

    fn write(&mut self, hour: i64, event: &ArchiveEvent) -> Result<(), StoreError> {
        let open = self.open_hour(hour)?;
        let mut line = serde_json::to_vec(event).map_err(|e| StoreError::Io {
            path: open.path.clone(),
            error: e.into(),
        })?;
        line.push(b'\n');
        open.wal.write_all(&line).map_err(io(&open.path))?;
        open.dirty = true;
        self.stats.written += 1;
        Ok(())
    }

    /// Flushes and syncs every segment written since the last sync.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        for open in self.hours.values_mut().filter(|h| h.dirty) {
            open.wal.flush().map_err(io(&open.path))?;
            open.wal.get_ref().sync_data().map_err(io(&open.path))?;
            open.dirty = false;
        }
        Ok(())
    }

    /// Writes the files of every hour that ended [`FINALIZE_DELAY`] before `now` and
    /// closes its segment; then applies retention. Answers the hours written.
    pub fn finalize_due(&mut self, now: SystemTime) -> Result<Vec<i64>, StoreError> {
        let now_ms = unix_ns(now) / 1_000_000;
        let delay = i64::try_from(FINALIZE_DELAY.as_millis()).unwrap_or(i64::MAX);
        let due: Vec<i64> = self
            .hours
            .keys()
            .copied()
            .filter(|h| (h + 1).saturating_mul(HOUR_MS).saturating_add(delay) <= now_ms)
            .collect();
        let mut written = Vec::new();
        for hour in due {
            // One hour failing (a damaged earlier file, a full disk) keeps its segment for
            // the next tick and stops no other hour.
            match self.finalize(hour, true) {
                Ok(()) => written.push(hour),
                Err(error) => {
                    self.stats.failed_hours += 1;
                    log::warn!("archive: writing {}: {error}", hour_stem(hour));
                }
            }
        }
        self.expire(now_ms);
        Ok(written)
    }

    /// Writes every open hour's files as they stand (a clean stop); segments stay, so a
    /// restart within the hour goes on from them and rewrites the files at its end.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        let hours: Vec<i64> = self.hours.keys().copied().collect();
        let mut first_error = None;
        for hour in hours {
            if let Err(error) = self.finalize(hour, false) {
                self.stats.failed_hours += 1;
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes `hour`'s files from its files so far and its segment; `close` also deletes
    /// the segment (once the files are in place).
    fn finalize(&mut self, hour: i64, close: bool) -> Result<(), StoreError> {
        self.sync()?;
        let stem = hour_stem(hour);
        let files = HourFiles::new(&self.dir, &stem);
        let mut assembled = Hour::default();
        files.read_into(&mut assembled)?;
        if let Some(open) = self.hours.get(&hour) {
            let (events, _, _) = read_segment(&open.path)?;
            for event in &events {
                assembled.add(event);
            }
        }
        files.write(&assembled)?;
        self.stats.hours_written += 1;
        log::info!(
            "archive: wrote {stem} ({} txs, {} sightings, {} refused)",
            assembled.txs.len(),
            assembled.sourcelog.len(),
            assembled.trash.len()
        );
        if close {
            if let Some(open) = self.hours.remove(&hour) {
                drop(open.wal);
                std::fs::remove_file(&open.path).map_err(io(&open.path))?;
            }
        }
        Ok(())
    }

    /// Deletes hour files older than the retention.
    fn expire(&mut self, now_ms: i64) {
        let Some(retain) = self.retain else {
            return;
        };
        let keep_ms = i64::try_from(retain.as_millis()).unwrap_or(i64::MAX);
        let oldest = hour_of(now_ms.saturating_sub(keep_ms));
        let Ok(days) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for day in days.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            let Ok(entries) = std::fs::read_dir(&day) else {
                continue;
            };
            for path in entries.flatten().map(|e| e.path()) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let old = name
                    .get(..13)
                    .and_then(parse_stem)
                    .is_some_and(|h| h < oldest);
                if old && name.ends_with(".parquet") && std::fs::remove_file(&path).is_ok() {
                    self.stats.expired += 1;
                }
            }
            // Only an empty day directory goes.
            let _ = std::fs::remove_dir(&day);
        }
    }

    /// The hours with an open segment.
    pub fn open_hours(&self) -> Vec<i64> {
        self.hours.keys().copied().collect()
    }
}

/// What makes an event a duplicate: its hash, source and kind (a source may refuse a tx
/// and accept it later, and sends one sightings event per tx), as a keyed 64-bit digest:
/// two different events share one with probability 2^-64 per pair.
fn dedup_key(event: &ArchiveEvent) -> u64 {
    use std::hash::{Hash, Hasher};
    static KEY: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let (k0, k1) = *KEY.get_or_init(|| {
        let mut bytes = [0u8; 16];
        secp256k1::rand::RngCore::fill_bytes(&mut secp256k1::rand::rng(), &mut bytes);
        let (a, b) = bytes.split_at(8);
        (
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        )
    });
    let mut hasher = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
    event.hash().unwrap_or_default().hash(&mut hasher);
    event.source.hash(&mut hasher);
    std::mem::discriminant(&event.body).hash(&mut hasher);
    hasher.finish()
}

/// A segment's events, the length of its readable prefix and the count of lines dropped.
fn read_segment(path: &Path) -> Result<(Vec<ArchiveEvent>, u64, u64), StoreError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let (mut events, mut good, mut torn) = (Vec::new(), 0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io(path))?;
        if read == 0 {
            break;
        }
        // A line without its newline is the tail a crash tore.
        let complete = line.last() == Some(&b'\n');
        match ArchiveEvent::parse(&line) {
            Ok(event) if complete => {
                events.push(event);
                good += read as u64;
            }
            _ if !complete => {
                torn += 1;
                break;
            }
            _ => {
                // A whole but unreadable line (a newer schema, damage): skipped, kept.
                torn += 1;
                good += read as u64;
            }
        }
    }
    Ok((events, good, torn))
}

/// Deletes `*.parquet.tmp` files a crash left mid-write (their hour's segment is still
/// there and writes them again).
fn remove_stale_temporaries(dir: &Path) {
    let Ok(days) = std::fs::read_dir(dir) else {
        return;
    };
    for day in days.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Ok(entries) = std::fs::read_dir(&day) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.to_string_lossy().ends_with(".parquet.tmp") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The hour index of a stem (`2026-12-05T21`).
pub fn parse_stem(stem: &str) -> Option<i64> {
    let b = stem.as_bytes();
    if b.len() != 13 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| stem.get(r)?.parse::<i64>().ok();
    let (year, month, day, hour) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(0..24).contains(&hour) {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of `civil`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 24 + hour)
}
