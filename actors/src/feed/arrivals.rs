//! Transaction arrivals with provenance: [`TxArrival`], what the node knows of where and
//! how a transaction reached it (first peer with its client and address, broadcast or
//! fetched, first announcement and delivery times, how many peers followed within a
//! second, the pool's verdict, blob fields), in three tiers ([`ArrivalTier`]). The
//! [`super::observe::PropagationObserver`] produces them; the embedding API gets them as
//! [`super::events::NodeEvent::TxArrival`] and WebSocket clients through
//! `ethpeer_subscribe("txArrivals")` ([`super::hub`]), each rendered to JSON once
//! ([`TxArrival::to_json`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use alloy_primitives::B256;
use serde_json::Value;

use super::events::Direction;
use crate::eth::cells::CustodyBitmap;
use crate::peer::{Delivery, PeerId};
use crate::txs::pool::{PoolError, PoolTx};

/// Which moment of a transaction's arrival an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalTier {
    /// The first time a peer delivered the whole transaction, as soon as its message is
    /// decoded: before any signature or pool check.
    Seen,
    /// The pool's verdict: accepted (with the transaction) or rejected (with why).
    Validated,
    /// One [`super::observe::SPREAD_WINDOW`] after the first sighting: the final counts of
    /// the peers that announced and delivered it within that second.
    Settled,
}

impl ArrivalTier {
    /// Every tier, in the order a transaction goes through them.
    pub const ALL: [Self; 3] = [Self::Seen, Self::Validated, Self::Settled];

    /// Its bit in an [`ArrivalFilter`]'s mask.
    pub const fn bit(self) -> u8 {
        match self {
            Self::Seen => 1,
            Self::Validated => 2,
            Self::Settled => 4,
        }
    }

    /// The name clients use (`seen`, `validated`, `settled`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Validated => "validated",
            Self::Settled => "settled",
        }
    }
}

/// How the transaction first reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalKind {
    /// The first whole copy was a broadcast (`Transactions`), whether or not another peer
    /// had announced it before (`firstAnnounced` says).
    Broadcast,
    /// An announcement (`NewPooledTransactionHashes`) came first and the first whole copy
    /// was a `PooledTransactions` reply to our request.
    Fetched,
    /// The first whole copy was a `PooledTransactions` reply with no announcement recorded
    /// before it (one whose report was lost, or a request of our own).
    Pooled,
    /// Only announced so far: nobody delivered it yet.
    Announced,
}

/// What the node knows of a peer when it reports an arrival: its Hello and its socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCard {
    /// The client id from its Hello (e.g. `Geth/v1.17.10-stable/linux-amd64/go1.26`).
    pub client: String,
    /// Its TCP address.
    pub addr: SocketAddr,
    /// Who dialed.
    pub direction: Direction,
}

/// The pool's verdict on an arrived transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Pooled.
    Accepted,
    /// Refused, with the pool's reason.
    Rejected(PoolError),
}

/// A blob transaction's blob fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobArrival {
    /// Its blob count (versioned hashes).
    pub blobs: usize,
    /// The cell columns we hold of its blobs: every column for a whole sidecar, the
    /// custody columns for a sampled (eth/72) one.
    pub columns: CustodyBitmap,
}

/// One peer's sighting of a transaction, as a `settled` arrival lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrivalSource {
    /// The first 8 bytes of the peer's id (always known).
    pub tag: u64,
    /// The whole id, when the peer registered through the node (not only reported).
    pub peer: Option<PeerId>,
    /// Its client and address, when known.
    pub card: Option<Arc<PeerCard>>,
    /// Whether it announced or delivered the transaction.
    pub delivery: Delivery,
    /// When its message was decoded (microsecond precision).
    pub at: SystemTime,
}

impl ArrivalSource {
    /// The peer as text: its whole id in hex when known, else the 8-byte tag.
    pub fn peer_hex(&self) -> String {
        match &self.peer {
            Some(id) => alloy_primitives::hex::encode(id),
            None => format!("{:016x}", self.tag),
        }
    }
}

/// One transaction arrival event (see the module doc). Times are the wall clock when the
/// carrying message was decoded.
#[derive(Clone, Debug)]
pub struct TxArrival {
    /// The transaction hash.
    pub hash: B256,
    /// Which moment this event reports.
    pub tier: ArrivalTier,
    /// The first peer that announced or delivered it.
    pub peer: PeerId,
    /// That peer's client and address, when the node had registered it by then.
    pub peer_card: Option<Arc<PeerCard>>,
    /// How it first came.
    pub kind: ArrivalKind,
    /// The first announcement by any peer, if one came first or at all.
    pub first_announced: Option<SystemTime>,
    /// The first delivery of the whole transaction by any peer.
    pub first_delivered: Option<SystemTime>,
    /// Distinct peers that announced it within a second of the first sighting, so far.
    pub announcers: u32,
    /// Distinct peers that delivered it within a second of the first sighting, so far.
    pub deliverers: u32,
    /// The pool's verdict ([`ArrivalTier::Validated`], and [`ArrivalTier::Settled`] once
    /// known).
    pub verdict: Option<Verdict>,
    /// The pooled transaction (an accepted [`ArrivalTier::Validated`] event, and the
    /// [`ArrivalTier::Settled`] one of an accepted transaction).
    pub tx: Option<Arc<PoolTx>>,
    /// Its EIP-2718 type, once validated.
    pub tx_type: Option<u8>,
    /// Blob fields of a validated blob transaction.
    pub blob: Option<BlobArrival>,
    /// Every peer's sighting so far ([`ArrivalTier::Validated`]) or within the spread
    /// window ([`ArrivalTier::Settled`]); empty at [`ArrivalTier::Seen`]. Up to 64 per
    /// transaction (the observer's `MAX_SIGHTINGS_PER_HASH`), first first.
    pub sources: Vec<ArrivalSource>,
}

impl TxArrival {
    /// The JSON clients get (`ethpeer_subscription`'s `result`); `full` adds the accepted
    /// transaction in geth's shape as `tx`. Times are RFC 3339 UTC with nanoseconds.
    pub fn to_json(&self, full: bool) -> String {
        super::arrival_json::render(self, full)
    }
}

/// The blob fields of a pooled transaction, if it carries blobs.
pub fn blob_arrival(tx: &PoolTx) -> Option<BlobArrival> {
    let blobs =
        alloy_consensus::Transaction::blob_versioned_hashes(&tx.tx).map_or(0, <[B256]>::len);
    (blobs > 0).then(|| BlobArrival {
        blobs,
        columns: tx.cells.as_ref().map_or(CustodyBitmap::ALL, |c| c.mask()),
    })
}

/// A time as RFC 3339 UTC with nanoseconds (`2026-12-05T19:00:00.123456789Z`).
pub fn rfc3339_nanos(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, nanos) = (since.as_secs(), since.subsec_nanos());
    let (date, clock) = civil(secs);
    format!("{date}T{clock}.{nanos:09}Z")
}

/// `secs` since the epoch as (`YYYY-MM-DD`, `hh:mm:ss`) in UTC (Howard Hinnant's
/// civil-from-days algorithm).
pub fn civil(secs: u64) -> (String, String) {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{hour:02}:{minute:02}:{second:02}"),
    )
}

/// Which arrivals a subscription wants: tiers (a mask of [`ArrivalTier::bit`]) and
/// whether accepted transactions come whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrivalFilter {
    /// The tiers' bits.
    pub tiers: u8,
    /// Whether `tx` is included.
    pub full: bool,
}

impl ArrivalFilter {
    /// Every tier, hashes only.
    pub const ALL: Self = Self {
        tiers: 7,
        full: false,
    };

    /// From `ethpeer_subscribe("txArrivals", {"tiers": [...], "fullTx": bool})`'s options
    /// (none: every tier, no transactions).
    pub fn from_json(options: Option<&Value>) -> Result<Self, String> {
        let object = match options {
            None | Some(Value::Null) => return Ok(Self::ALL),
            Some(Value::Object(object)) => object,
            Some(_) => return Err("txArrivals options must be an object".into()),
        };
        if let Some(unknown) = object.keys().find(|k| *k != "tiers" && *k != "fullTx") {
            return Err(format!("unknown txArrivals option \"{unknown}\""));
        }
        let full = match object.get("fullTx") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(full)) => *full,
            Some(_) => return Err("fullTx must be a boolean".into()),
        };
        let tiers = match object.get("tiers") {
            None | Some(Value::Null) => Self::ALL.tiers,
            Some(Value::Array(names)) => names.iter().try_fold(0u8, |mask, name| {
                let tier = ArrivalTier::ALL
                    .into_iter()
                    .find(|t| name.as_str() == Some(t.as_str()))
                    .ok_or_else(|| format!("unknown tier {name} (seen, validated, settled)"))?;
                Ok::<u8, String>(mask | tier.bit())
            })?,
            Some(_) => return Err("tiers must be an array".into()),
        };
        if tiers == 0 {
            return Err("tiers must name at least one tier".into());
        }
        Ok(Self { tiers, full })
    }

    /// Whether an arrival of `tier` passes.
    pub const fn passes(&self, tier: ArrivalTier) -> bool {
        self.tiers & tier.bit() != 0
    }
}

/// Event: arrivals for the subscription hub, in the order they happened.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct TxArrivals(pub Vec<Arc<TxArrival>>);

/// Shared between the hub and the observer: how many `txArrivals` subscriptions exist
/// (the observer builds arrivals only while some do, or an embedder listens) and the
/// peers' report switch the observer owns (a first subscription turns it on).
#[derive(Clone, Debug, Default)]
pub struct ArrivalDemand {
    /// `txArrivals` subscriptions held.
    pub subscriptions: Arc<AtomicUsize>,
    /// The peers' report switch ([`crate::peer::SeenRoute::active`]).
    pub reports: Arc<AtomicBool>,
    /// Whether an embedder listens to the observer's events (kept by the observer).
    pub embedders: Arc<AtomicBool>,
}

impl ArrivalDemand {
    /// Records that `count` subscriptions exist; a first one turns peers' reports on.
    pub fn set(&self, count: usize) {
        self.subscriptions.store(count, Ordering::Relaxed);
        if count > 0 {
            self.reports.store(true, Ordering::Relaxed);
        }
    }

    /// Whether any subscription wants arrivals.
    pub fn wanted(&self) -> bool {
        self.subscriptions.load(Ordering::Relaxed) > 0
    }

    /// Whether anyone wants arrivals: a subscription or an embedder.
    pub fn any(&self) -> bool {
        self.wanted() || self.embedders.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_are_rfc3339_utc_with_nanoseconds() {
        let at = UNIX_EPOCH + std::time::Duration::new(1_796_489_893, 7);
        assert_eq!(rfc3339_nanos(at), "2026-12-05T16:58:13.000000007Z");
        let leap = UNIX_EPOCH + std::time::Duration::new(951_782_400, 999_999_999);
        assert_eq!(rfc3339_nanos(leap), "2000-02-29T00:00:00.999999999Z");
    }

    #[test]
    fn filters_parse_tiers_and_refuse_what_they_do_not_know() {
        assert_eq!(ArrivalFilter::from_json(None), Ok(ArrivalFilter::ALL));
        let filter =
            ArrivalFilter::from_json(Some(&json!({"tiers": ["validated"], "fullTx": true})))
                .expect("valid");
        assert!(filter.full && filter.passes(ArrivalTier::Validated));
        assert!(!filter.passes(ArrivalTier::Seen) && !filter.passes(ArrivalTier::Settled));
        for bad in [
            json!({"tiers": ["mined"]}),
            json!({"tiers": []}),
            json!({"tiers": "seen"}),
            json!({"fullTx": 1}),
            json!({"since": 0}),
            json!([1]),
        ] {
            assert!(ArrivalFilter::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_arrival_renders_every_field() {
        let card = PeerCard {
            client: "Geth/v1.17.10".into(),
            addr: "127.0.1.1:30303".parse().expect("addr"),
            direction: Direction::Inbound,
        };
        let at = UNIX_EPOCH + std::time::Duration::new(1_796_489_893, 500);
        let arrival = TxArrival {
            hash: B256::repeat_byte(1),
            tier: ArrivalTier::Validated,
            peer: PeerId::repeat_byte(2),
            peer_card: Some(Arc::new(card)),
            kind: ArrivalKind::Fetched,
            first_announced: Some(at),
            first_delivered: None,
            announcers: 3,
            deliverers: 1,
            verdict: Some(Verdict::Rejected(PoolError::Underpriced)),
            tx: None,
            tx_type: Some(3),
            blob: Some(BlobArrival {
                blobs: 2,
                columns: CustodyBitmap::ALL,
            }),
            sources: vec![ArrivalSource {
                tag: 0x0202_0202_0202_0202,
                peer: None,
                card: None,
                delivery: Delivery::Announced,
                at,
            }],
        };
        let value: Value = serde_json::from_str(&arrival.to_json(true)).expect("JSON");
        assert_eq!(value["tier"], "validated");
        assert_eq!(value["peer"]["client"], "Geth/v1.17.10");
        assert_eq!(value["peer"]["address"], "127.0.1.1:30303");
        assert_eq!(value["peer"]["direction"], "inbound");
        assert_eq!(value["kind"], "fetched");
        assert_eq!(value["firstAnnounced"], "2026-12-05T16:58:13.000000500Z");
        assert_eq!(value["firstDelivered"], Value::Null);
        assert_eq!(value["sources"][0]["peer"], "0202020202020202");
        assert_eq!(value["sources"][0]["delivery"], "announced");
        assert_eq!(
            value["sources"][0]["time"],
            "2026-12-05T16:58:13.000000500Z"
        );
        assert_eq!(
            (value["announcers"].clone(), value["deliverers"].clone()),
            (json!(3), json!(1))
        );
        assert_eq!(value["verdict"]["accepted"], false);
        assert_eq!(
            value["verdict"]["reason"],
            "pool full and transaction underpriced"
        );
        assert_eq!(value["type"], "0x3");
        assert_eq!(value["blobs"], 2);
        assert_eq!(value["columns"], format!("0x{}", "ff".repeat(16)));
        assert!(value.get("tx").is_none(), "no tx without an accepted one");
    }
}
