//! The JSON of a [`TxArrival`] (`ethpeer_subscription`'s `result`), serialized straight from
//! borrowed views of its fields. It is rendered once per arrival on the thread that has it
//! (for `seen`, the decoding peer's), so it builds no `serde_json::Value` tree: the fields
//! go to the output buffer in the order the tree's sorted maps gave them, so the text is
//! the same as before, byte for byte (tested against that construction).

use serde::Serialize;
use serde_json::Value;

use super::arrivals::{rfc3339_nanos, ArrivalKind, ArrivalSource, ArrivalTier, TxArrival, Verdict};
use super::events::Direction;
use crate::peer::{Delivery, PeerId};

/// The top-level object; fields in sorted key order.
#[derive(Serialize)]
struct View<'a> {
    announcers: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    blobs: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<&'a alloy_primitives::FixedBytes<16>>,
    deliverers: u32,
    #[serde(rename = "firstAnnounced")]
    first_announced: Option<String>,
    #[serde(rename = "firstDelivered")]
    first_delivered: Option<String>,
    hash: &'a alloy_primitives::B256,
    kind: ArrivalKind,
    peer: PeerView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<Vec<SourceView<'a>>>,
    tier: ArrivalTier,
    #[serde(skip_serializing_if = "Option::is_none")]
    tx: Option<Value>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    tx_type: Option<String>,
    verdict: Option<VerdictView>,
}

/// The first peer: its id, and its card when known.
#[derive(Serialize)]
struct PeerView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    direction: Option<Direction>,
    id: &'a PeerId,
}

/// One sighting of a `validated` or `settled` arrival.
#[derive(Serialize)]
struct SourceView<'a> {
    client: Option<&'a str>,
    delivery: Delivery,
    peer: String,
    time: String,
}

/// The pool's verdict.
#[derive(Serialize)]
struct VerdictView {
    accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// `arrival` as its subscribers get it; `full` adds the accepted transaction as `tx`.
pub(super) fn render(arrival: &TxArrival, full: bool) -> String {
    let card = arrival.peer_card.as_deref();
    let view = View {
        announcers: arrival.announcers,
        blobs: arrival.blob.as_ref().map(|b| b.blobs),
        columns: arrival.blob.as_ref().map(|b| &b.columns.0),
        deliverers: arrival.deliverers,
        first_announced: arrival.first_announced.map(rfc3339_nanos),
        first_delivered: arrival.first_delivered.map(rfc3339_nanos),
        hash: &arrival.hash,
        kind: arrival.kind,
        peer: PeerView {
            address: card.map(|c| c.addr.to_string()),
            client: card.map(|c| c.client.as_str()),
            direction: card.map(|c| c.direction),
            id: &arrival.peer,
        },
        sources: (!arrival.sources.is_empty())
            .then(|| arrival.sources.iter().map(source).collect()),
        tier: arrival.tier,
        tx: match (full, &arrival.tx) {
            (true, Some(tx)) => {
                Some(serde_json::to_value(super::shapes::pending_tx(tx)).unwrap_or(Value::Null))
            }
            _ => None,
        },
        tx_type: arrival.tx_type.map(|ty| format!("{ty:#x}")),
        verdict: arrival.verdict.as_ref().map(|verdict| match verdict {
            Verdict::Accepted => VerdictView {
                accepted: true,
                reason: None,
            },
            Verdict::Rejected(error) => VerdictView {
                accepted: false,
                reason: Some(error.to_string()),
            },
        }),
    };
    // Every field serializes infallibly (strings, numbers, fixed bytes, unit enums); an
    // empty object would only stand for a serde_json bug.
    serde_json::to_string(&view).unwrap_or_else(|_| String::from("{}"))
}

fn source(s: &ArrivalSource) -> SourceView<'_> {
    SourceView {
        client: s.card.as_ref().map(|c| c.client.as_str()),
        delivery: s.delivery,
        peer: s.peer_hex(),
        time: rfc3339_nanos(s.at),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use alloy_primitives::B256;
    use serde_json::json;

    use super::*;
    use crate::eth::cells::CustodyBitmap;
    use crate::feed::arrivals::{BlobArrival, PeerCard};
    use crate::testing::{sender, tx};
    use crate::txs::pool::PoolError;

    /// The construction the typed views replaced: a `Value` tree, then its text.
    fn reference(a: &TxArrival, full: bool) -> String {
        let peer = match &a.peer_card {
            Some(card) => json!({
                "id": a.peer,
                "client": card.client,
                "address": card.addr.to_string(),
                "direction": card.direction,
            }),
            None => json!({"id": a.peer}),
        };
        let verdict = match &a.verdict {
            None => Value::Null,
            Some(Verdict::Accepted) => json!({"accepted": true}),
            Some(Verdict::Rejected(error)) => {
                json!({"accepted": false, "reason": error.to_string()})
            }
        };
        let mut out = json!({
            "tier": a.tier, "hash": a.hash, "peer": peer, "kind": a.kind,
            "firstAnnounced": a.first_announced.map(rfc3339_nanos),
            "firstDelivered": a.first_delivered.map(rfc3339_nanos),
            "announcers": a.announcers, "deliverers": a.deliverers, "verdict": verdict,
        });
        if let Some(ty) = a.tx_type {
            out["type"] = json!(format!("{ty:#x}"));
        }
        if let Some(blob) = &a.blob {
            out["blobs"] = json!(blob.blobs);
            out["columns"] = json!(blob.columns.0);
        }
        if !a.sources.is_empty() {
            let sources: Vec<Value> = a
                .sources
                .iter()
                .map(|s| {
                    json!({
                        "peer": s.peer_hex(),
                        "client": s.card.as_ref().map(|c| c.client.as_str()),
                        "delivery": s.delivery,
                        "time": rfc3339_nanos(s.at),
                    })
                })
                .collect();
            out["sources"] = Value::Array(sources);
        }
        if let (true, Some(tx)) = (full, &a.tx) {
            out["tx"] =
                serde_json::to_value(crate::feed::shapes::pending_tx(tx)).unwrap_or(Value::Null);
        }
        out.to_string()
    }

    fn arrivals() -> Vec<TxArrival> {
        let at = UNIX_EPOCH + Duration::new(1_796_489_893, 500);
        let card = Arc::new(PeerCard {
            client: "Geth/v1.17.10 \"quoted\"".into(),
            addr: "127.0.1.1:30303".parse().expect("addr"),
            direction: Direction::Inbound,
        });
        let seen = TxArrival {
            hash: B256::repeat_byte(1),
            tier: ArrivalTier::Seen,
            peer: PeerId::repeat_byte(2),
            peer_card: None,
            kind: ArrivalKind::Broadcast,
            first_announced: None,
            first_delivered: Some(at),
            announcers: 0,
            deliverers: 1,
            verdict: None,
            tx: None,
            tx_type: None,
            blob: None,
            sources: Vec::new(),
        };
        let mut carded = seen.clone();
        carded.peer_card = Some(card.clone());
        let mut rejected = carded.clone();
        rejected.tier = ArrivalTier::Validated;
        rejected.kind = ArrivalKind::Fetched;
        rejected.first_announced = Some(at);
        rejected.verdict = Some(Verdict::Rejected(PoolError::Underpriced));
        rejected.tx_type = Some(3);
        rejected.blob = Some(BlobArrival {
            blobs: 2,
            columns: CustodyBitmap::ALL,
        });
        rejected.sources = vec![
            ArrivalSource {
                tag: 0x0202_0202_0202_0202,
                peer: None,
                card: None,
                delivery: Delivery::Announced,
                at,
            },
            ArrivalSource {
                tag: 7,
                peer: Some(PeerId::repeat_byte(9)),
                card: Some(card),
                delivery: Delivery::Full,
                at,
            },
        ];
        let mut accepted = carded.clone();
        accepted.tier = ArrivalTier::Settled;
        accepted.verdict = Some(Verdict::Accepted);
        accepted.tx = Some(Arc::new(tx(sender(4), 0, 12)));
        accepted.tx_type = Some(2);
        vec![seen, carded, rejected, accepted]
    }

    #[test]
    fn the_text_is_the_value_trees_byte_for_byte() {
        for arrival in arrivals() {
            for full in [false, true] {
                assert_eq!(render(&arrival, full), reference(&arrival, full));
            }
        }
    }
}
