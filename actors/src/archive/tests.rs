//! The archive's unit tests: events from arrivals, segment replay after a crash, the
//! Parquet round trip, and a report over a fixture with known times.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use alloy_primitives::B256;

use super::files::HourFiles;
use super::hour::Hour;
use super::record::{ArchiveEvent, EventBody, IncludedRecord, SightingRecord, SCHEMA_VERSION};
use super::report::{percentile, report};
use super::store::{hour_of, hour_stem, parse_stem, Appended, ArchiveStore};
use crate::feed::arrivals::{
    ArrivalKind, ArrivalSource, ArrivalTier, PeerCard, TxArrival, Verdict,
};
use crate::feed::events::Direction;
use crate::peer::Delivery;
use crate::testing;

/// 2026-12-05T21:00:00Z in ms.
const HOUR_START_MS: i64 = 1_796_504_400_000;

/// The store's clock in these tests: 2026-12-06T00:30Z, so every test hour is recent.
fn test_now() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_796_517_000_000)
}

fn open_store(dir: &std::path::Path, retain: Option<Duration>) -> ArchiveStore {
    ArchiveStore::open(dir, retain)
        .expect("open")
        .with_clock(test_now)
}

fn validated(n: u64, at_ms: i64) -> TxArrival {
    let tx = Arc::new(testing::tx(testing::sender(n), 0, 68));
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0));
    let card = Arc::new(PeerCard {
        client: "Geth/v1.17.10".into(),
        addr: "127.0.1.1:30303".parse().expect("addr"),
        direction: Direction::Outbound,
    });
    TxArrival {
        hash: tx.hash,
        tier: ArrivalTier::Validated,
        peer: testing::peer_id(1),
        peer_card: Some(card.clone()),
        kind: ArrivalKind::Broadcast,
        first_announced: None,
        first_delivered: Some(at),
        announcers: 0,
        deliverers: 2,
        verdict: Some(Verdict::Accepted),
        tx: Some(tx),
        tx_type: Some(2),
        blob: None,
        sources: vec![
            ArrivalSource {
                tag: 1,
                peer: Some(testing::peer_id(1)),
                card: Some(card),
                delivery: Delivery::Full,
                at,
            },
            ArrivalSource {
                tag: 2,
                peer: None,
                card: None,
                delivery: Delivery::Full,
                at: at + Duration::from_micros(1500),
            },
        ],
    }
}

fn event(n: u64, at_ms: i64) -> ArchiveEvent {
    ArchiveEvent::from_arrival("a", &validated(n, at_ms)).expect("an accepted arrival")
}

#[test]
fn a_settled_arrival_becomes_a_dumpster_row_with_its_sightings() {
    let e = event(7, HOUR_START_MS + 5);
    assert_eq!(e.v, SCHEMA_VERSION);
    let EventBody::Tx(r) = &e.body else {
        panic!("not a tx event: {e:?}");
    };
    assert_eq!(r.timestamp_ms, HOUR_START_MS + 5);
    assert_eq!(r.from, testing::sender(7).to_checksum(None));
    // The sender's 20 bytes, then 68 bytes of calldata (testing::tx).
    assert_eq!(r.data_size, 88);
    assert_eq!(
        r.data4_bytes,
        alloy_primitives::hex::encode_prefixed(&testing::sender(7)[..4])
    );
    assert_eq!(
        (r.chain_id.as_str(), r.value.as_str(), r.gas_price.as_str()),
        ("1", "1", "2000000000")
    );
    assert_eq!(r.gas_tip_cap, "1000000000");
    assert_eq!(
        r.to,
        alloy_primitives::Address::repeat_byte(0x77).to_checksum(None)
    );
    assert_eq!(r.client, "Geth/v1.17.10");
    assert_eq!(r.kind, "broadcast");
    assert_eq!(r.sightings.len(), 2);
    assert_eq!(r.sightings[1].peer, "0000000000000002");
    assert_eq!(r.sightings[1].time_ns - r.sightings[0].time_ns, 1_500_000);
    // The raw tx decodes to the same hash.
    let raw = alloy_primitives::hex::decode(&r.raw_tx).expect("hex");
    assert_eq!(alloy_primitives::keccak256(&raw), r.hash);
    // The JSON round trip is exact; a newer schema is refused.
    let json = serde_json::to_vec(&e).expect("json");
    assert_eq!(ArchiveEvent::parse(&json).expect("parse"), e);
    let newer = String::from_utf8(json)
        .expect("utf8")
        .replace("\"v\":1", "\"v\":2");
    assert!(ArchiveEvent::parse(newer.as_bytes()).is_err());
    // No verdict yet: nothing to archive.
    let mut open = validated(8, HOUR_START_MS);
    open.verdict = None;
    assert!(ArchiveEvent::from_arrival("a", &open).is_none());
    // A second later the settled arrival brings the sightings, which join the row.
    let mut later = validated(7, HOUR_START_MS + 5);
    later.tier = ArrivalTier::Settled;
    later.deliverers = 5;
    let sightings = ArchiveEvent::from_arrival("a", &later).expect("sightings");
    let EventBody::Sightings(s) = &sightings.body else {
        panic!("not sightings: {sightings:?}");
    };
    assert_eq!((s.sightings.len(), s.deliverers), (2, 5));
    let mut hour = Hour::default();
    let mut bare = e.clone();
    if let EventBody::Tx(r) = &mut bare.body {
        r.sightings.clear();
    }
    hour.add(&bare);
    hour.add(&sightings);
    assert_eq!(hour.sourcelog.len(), 2);
    assert_eq!(hour.txs[&s.hash].record.deliverers, 5);
    // The store takes both, once each.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_store(dir.path(), None);
    assert_eq!(store.append(&bare).expect("tx"), Appended::Written);
    assert_eq!(
        store.append(&sightings).expect("sightings"),
        Appended::Written
    );
    assert_eq!(
        store.append(&sightings).expect("again"),
        Appended::Duplicate
    );
}

#[test]
fn hour_names_round_trip() {
    let hour = hour_of(HOUR_START_MS + 3_599_999);
    assert_eq!(hour_stem(hour), "2026-12-05T21");
    assert_eq!(parse_stem("2026-12-05T21"), Some(hour));
    assert_eq!(
        parse_stem("2024-02-29T00").map(hour_stem).as_deref(),
        Some("2024-02-29T00")
    );
    for bad in [
        "2026-13-05T21",
        "2026-12-05T24",
        "2026-12-05 21",
        "x",
        "2026-12-05T2",
    ] {
        assert_eq!(parse_stem(bad), None, "{bad}");
    }
}

#[test]
fn a_crash_loses_only_the_torn_line_and_a_restart_refuses_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_store(dir.path(), None);
    for n in 0..10 {
        assert_eq!(
            store
                .append(&event(n, HOUR_START_MS + n as i64))
                .expect("append"),
            Appended::Written
        );
    }
    assert_eq!(
        store.append(&event(3, HOUR_START_MS + 3)).expect("append"),
        Appended::Duplicate
    );
    store.sync().expect("sync");
    drop(store);
    // A crash mid-write leaves half a line.
    let wal = dir.path().join("wal").join("2026-12-05T21.wal");
    let mut bytes = std::fs::read(&wal).expect("wal");
    let whole = bytes.len();
    bytes.extend_from_slice(br#"{"v":1,"source":"a","event":"tx","hash":"0x12"#);
    std::fs::write(&wal, &bytes).expect("write");

    let mut store = open_store(dir.path(), None);
    assert_eq!(store.stats.torn, 1);
    assert_eq!(std::fs::metadata(&wal).expect("wal").len() as usize, whole);
    for n in 0..12 {
        let want = if n < 10 {
            Appended::Duplicate
        } else {
            Appended::Written
        };
        assert_eq!(
            store
                .append(&event(n, HOUR_START_MS + n as i64))
                .expect("append"),
            want,
            "tx {n}"
        );
    }
    // An inclusion joins its tx; one for an unknown tx waits for it.
    let EventBody::Tx(first) = event(0, HOUR_START_MS).body else {
        panic!("tx");
    };
    let included = |hash| ArchiveEvent {
        v: SCHEMA_VERSION,
        source: "a".into(),
        body: EventBody::Included(IncludedRecord {
            hash,
            block_number: 9,
            block_timestamp_ms: HOUR_START_MS + 12_000,
        }),
    };
    assert_eq!(
        store.append(&included(first.hash)).expect("append"),
        Appended::Written
    );
    let late = event(20, HOUR_START_MS + 20);
    let late_hash = late.hash().expect("hash");
    assert_eq!(
        store.append(&included(late_hash)).expect("append"),
        Appended::Pending
    );
    assert_eq!(store.append(&late).expect("append"), Appended::Written);

    // The hour is over a minute later: its files are written and the segment goes.
    let after =
        UNIX_EPOCH + Duration::from_millis(u64::try_from(HOUR_START_MS).unwrap_or(0) + 3_660_001);
    assert_eq!(
        store.finalize_due(after).expect("finalize"),
        vec![hour_of(HOUR_START_MS)]
    );
    assert!(!wal.exists());
    let mut hour = Hour::default();
    HourFiles::new(dir.path(), "2026-12-05T21")
        .read_into(&mut hour)
        .expect("read");
    assert_eq!(hour.txs.len(), 13);
    assert_eq!(hour.sourcelog.len(), 26);
    assert_eq!(
        hour.txs[&first.hash].included,
        Some((9, HOUR_START_MS + 12_000))
    );
    assert_eq!(hour.txs[&first.hash].inclusion_delay_ms(), Some(12_000));
    assert_eq!(
        hour.txs[&late_hash].included,
        Some((9, HOUR_START_MS + 12_000))
    );
}

#[test]
fn a_clean_stop_writes_the_hour_so_far_and_a_restart_rewrites_it_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_store(dir.path(), None);
    store.append(&event(1, HOUR_START_MS)).expect("append");
    store.checkpoint().expect("checkpoint");
    let files = HourFiles::new(dir.path(), "2026-12-05T21");
    let mut hour = Hour::default();
    files.read_into(&mut hour).expect("read");
    assert_eq!(hour.txs.len(), 1);
    drop(store);
    let mut store = open_store(dir.path(), None);
    assert_eq!(
        store.append(&event(1, HOUR_START_MS)).expect("append"),
        Appended::Duplicate
    );
    store.append(&event(2, HOUR_START_MS + 1)).expect("append");
    store.checkpoint().expect("checkpoint");
    let mut hour = Hour::default();
    files.read_into(&mut hour).expect("read");
    assert_eq!(hour.txs.len(), 2);
    assert_eq!(hour.sourcelog.len(), 4);
}

#[test]
fn the_transactions_file_keeps_the_dumpster_columns_and_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hour = Hour::default();
    for n in 0..5 {
        hour.add(&event(n, HOUR_START_MS + n as i64));
    }
    let files = HourFiles::new(dir.path(), "2026-12-05T21");
    files.write(&hour).expect("write");
    let mut back = Hour::default();
    files.read_into(&mut back).expect("read");
    assert_eq!(back.txs, hour.txs);
    assert_eq!(back.sourcelog.len(), hour.sourcelog.len());
    let schema =
        parquet::schema::parser::parse_message_type(super::files::TX_SCHEMA).expect("schema");
    let names: Vec<&str> = schema.get_fields().iter().map(|f| f.name()).collect();
    let dumpster = [
        "timestamp",
        "hash",
        "chainId",
        "txType",
        "from",
        "to",
        "value",
        "nonce",
        "gas",
        "gasPrice",
        "gasTipCap",
        "gasFeeCap",
        "dataSize",
        "data4Bytes",
        "sources",
        "includedAtBlockHeight",
        "includedBlockTimestamp",
        "inclusionDelayMs",
        "rawTx",
    ];
    assert_eq!(&names[..19], &dumpster);
}

fn sighted(hour: &mut Hour, source: &str, n: u64, at_ms: i64, delays_us: &[i64]) {
    let mut e = event(n, at_ms);
    e.source = source.into();
    if let EventBody::Tx(r) = &mut e.body {
        r.sightings = delays_us
            .iter()
            .enumerate()
            .map(|(i, us)| SightingRecord {
                peer: format!("{i:016x}"),
                client: String::new(),
                delivery: "delivered".into(),
                time_ns: at_ms * 1_000_000 + us * 1000,
            })
            .collect();
        r.first_seen_ns = at_ms * 1_000_000 + delays_us.iter().min().copied().unwrap_or(0) * 1000;
    }
    hour.add(&e);
}

#[test]
fn a_report_over_known_times_prints_exact_leads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (mut ha, mut hb) = (Hour::default(), Hour::default());
    // Ten txs both saw: a first by 1..=8 ms on eight, b first by 3 ms on two.
    for n in 0..10u64 {
        let t = HOUR_START_MS + 100 * n as i64;
        if n < 8 {
            sighted(&mut ha, "a", n, t, &[0]);
            sighted(&mut hb, "b", n, t, &[(n as i64 + 1) * 1000]);
        } else {
            sighted(&mut ha, "a", n, t, &[3000, 4000]);
            sighted(&mut hb, "b", n, t, &[0]);
        }
    }
    // Two only a saw, one of them included.
    sighted(&mut ha, "a", 20, HOUR_START_MS, &[0]);
    sighted(&mut ha, "a", 21, HOUR_START_MS, &[0]);
    let EventBody::Tx(r) = event(20, HOUR_START_MS).body else {
        panic!("tx");
    };
    ha.add_inclusion(&IncludedRecord {
        hash: r.hash,
        block_number: 5,
        block_timestamp_ms: HOUR_START_MS + 24_000,
    });
    HourFiles::new(a.path(), "2026-12-05T21")
        .write(&ha)
        .expect("a");
    HourFiles::new(b.path(), "2026-12-05T21")
        .write(&hb)
        .expect("b");
    let (hours, txs) =
        super::report::merge(&[a.path().into(), b.path().into()], dir.path()).expect("merge");
    assert_eq!((hours, txs), (1, 12));

    let r = report(dir.path()).expect("report");
    assert_eq!(r.txs, 12);
    assert_eq!(r.coverage["a"], 12);
    assert_eq!(r.coverage["b"], 10);
    assert_eq!(r.exclusive["a"], (2, 1));
    let pair = &r.pairs[0];
    assert_eq!((pair.a.as_str(), pair.b.as_str()), ("a", "b"));
    assert_eq!((pair.both, pair.a_first, pair.b_first), (10, 8, 2));
    // Leads: 1..=8 ms and 3, 3 ms: sorted 1 2 3 3 3 4 5 6 7 8.
    assert_eq!(pair.lead_ms, [3.0, 7.0, 8.0]);
    assert_eq!(r.inclusion, (1, [24_000, 24_000, 24_000]));
    let md = r.to_markdown();
    assert!(
        md.contains("| a / b | 10 | 8 (80.0%) | 2 (20.0%) | 3.000 | 7.000 | 8.000 |"),
        "{md}"
    );
    let svg = dir.path().join("cdf.svg");
    r.plot_cdf(&svg).expect("plot");
    let drawn = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        drawn.contains("<svg") && drawn.contains("polyline"),
        "{drawn}"
    );
    let _ = B256::ZERO;
}

#[test]
fn events_outside_the_time_window_are_refused_and_open_hours_are_capped() {
    use super::store::MAX_OPEN_HOURS;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_store(dir.path(), None);
    let now = 1_796_517_000_000i64;
    for ms in [now + 2 * 3_600_000, now - 8 * 24 * 3_600_000, -1, i64::MAX] {
        assert_eq!(
            store.append(&event(1, ms)).expect("append"),
            Appended::OutOfRange,
            "{ms}"
        );
    }
    assert_eq!(store.stats.out_of_range, 4);
    // A backlog spread over 30 hours keeps at most MAX_OPEN_HOURS segments open.
    for h in 0..30i64 {
        let ms = now - 30 * 3_600_000 + h * 3_600_000;
        assert_eq!(
            store.append(&event(h as u64, ms)).expect("append"),
            Appended::Written
        );
        assert!(store.open_hours().len() <= MAX_OPEN_HOURS);
    }
    // Closed early, the first hours are already files; an event for one of them
    // reopens it and a clean stop merges it into the same files.
    let first = now - 30 * 3_600_000;
    assert_eq!(
        store.append(&event(100, first)).expect("append"),
        Appended::Written
    );
    store.checkpoint().expect("checkpoint");
    let mut hour = Hour::default();
    HourFiles::new(dir.path(), &super::store::hour_stem(hour_of(first)))
        .read_into(&mut hour)
        .expect("read");
    assert_eq!(hour.txs.len(), 2);
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<i64> = (1..=100).collect();
    assert_eq!(
        [0.5, 0.9, 0.99, 1.0].map(|p| percentile(&v, p)),
        [50, 90, 99, 100]
    );
    assert_eq!(percentile::<i64>(&[], 0.5), 0);
    assert_eq!(percentile(&[7], 0.01), 7);
}

#[test]
fn retention_deletes_only_hours_older_than_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open_store(dir.path(), Some(Duration::from_secs(2 * 3600)));
    // Hours 21:00, 22:00 and 23:00 of one day, each written once it is over.
    for h in 0..3i64 {
        store
            .append(&event(h as u64, HOUR_START_MS + h * 3_600_000))
            .expect("append");
    }
    let at = |ms: i64| UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    // At 00:01:01 the next day all three are over: written; retention (2 h) keeps hours
    // from 22:00 on.
    let now = HOUR_START_MS + 3 * 3_600_000 + 61_000;
    assert_eq!(store.finalize_due(at(now)).expect("finalize").len(), 3);
    let kept: Vec<bool> = ["2026-12-05T21", "2026-12-05T22", "2026-12-05T23"]
        .iter()
        .map(|stem| HourFiles::new(dir.path(), stem).exist())
        .collect();
    assert_eq!(kept, [false, true, true]);
    assert_eq!(store.stats.expired, 3, "the 21:00 hour's three files");
    assert!(store.open_hours().is_empty());
}

#[test]
fn a_damaged_file_is_an_error_and_a_failing_hour_stops_no_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = HourFiles::new(dir.path(), "2026-12-05T21");
    std::fs::create_dir_all(files.txs.parent().expect("day")).expect("day dir");
    std::fs::write(&files.txs, b"PAR1 not really a parquet file PAR1").expect("write");
    assert!(files.read_into(&mut Hour::default()).is_err());
    // The store keeps that hour's segment (counted) and still writes the next hour.
    let mut store = open_store(dir.path(), None);
    store.append(&event(1, HOUR_START_MS)).expect("append");
    store
        .append(&event(2, HOUR_START_MS + 3_600_000))
        .expect("append");
    let later = UNIX_EPOCH + Duration::from_millis(1_796_517_000_000);
    let written = store.finalize_due(later).expect("finalize");
    assert_eq!(written, vec![hour_of(HOUR_START_MS + 3_600_000)]);
    assert_eq!(store.stats.failed_hours, 1);
    assert!(dir.path().join("wal").join("2026-12-05T21.wal").exists());
}

#[test]
fn a_half_written_file_left_by_a_crash_is_removed_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = dir.path().join("2026-12-05");
    std::fs::create_dir_all(&day).expect("day");
    let tmp = day.join("2026-12-05T21.transactions.parquet.tmp");
    std::fs::write(&tmp, b"half").expect("tmp");
    let _store = open_store(dir.path(), None);
    assert!(!tmp.exists());
}

#[test]
fn a_refused_tx_goes_to_the_trash_with_the_pools_reason() {
    use crate::txs::pool::PoolError;
    let mut refused = validated(9, HOUR_START_MS + 7);
    refused.verdict = Some(Verdict::Rejected(PoolError::Underpriced));
    refused.tx = None;
    let e = ArchiveEvent::from_arrival("a", &refused).expect("a refusal");
    let EventBody::Rejected(r) = &e.body else {
        panic!("not a refusal: {e:?}");
    };
    assert_eq!(r.reason, PoolError::Underpriced.to_string());
    assert_eq!(
        (r.timestamp_ms, r.client.as_str()),
        (HOUR_START_MS + 7, "Geth/v1.17.10")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hour = Hour::default();
    hour.add(&e);
    hour.add(&e);
    let files = HourFiles::new(dir.path(), "2026-12-05T21");
    files.write(&hour).expect("write");
    let mut back = Hour::default();
    files.read_into(&mut back).expect("read");
    assert!(back.txs.is_empty());
    assert_eq!(back.trash.len(), 1);
    assert_eq!(back.trash[0].reason, PoolError::Underpriced.to_string());
    assert_eq!(back.trash[0].source, "a");
    assert_eq!(back.sourcelog.len(), 2);
}
