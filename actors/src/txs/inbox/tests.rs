//! The fetcher alone, on paused time: fake announcers (answering GetPooledTransactions
//! from a list, or not at all), a fake ingest path that records what it was handed, and
//! an in-memory pool.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::B256;
use futures::channel::mpsc;
use futures::StreamExt;

use super::*;
use crate::eth::{
    EthMessage, EthVersion, NewPooledTransactionHashes68, PooledTransactions, PooledTx, RequestPair,
};
use crate::p2p::DisconnectReason;
use crate::peer::{
    Disconnect, GateReason, InboundEth, PeerId, ReadGate, RequestError, SendEth, SendRequest,
};
use crate::peer_set::PeerSetActor;
use crate::testing::{peer_id, pool, sender, tx};
use crate::txs::ingest::IngestTxs;
use crate::txs::pool::{InMemoryTxPool, PoolTx, TxPool};

/// An announcer: answers GetPooledTransactions with the txs it holds (or never, when
/// `silent`), and records what it was asked and any Disconnect.
struct Announcer {
    holds: Vec<PooledTx>,
    silent: bool,
    asked: mpsc::UnboundedSender<Vec<B256>>,
    hangups: mpsc::UnboundedSender<DisconnectReason>,
}

impl Actor for Announcer {
    type Context = Context<Self>;
}

impl Handler<SendRequest> for Announcer {
    type Result = ResponseFuture<Result<EthMessage, RequestError>>;

    fn handle(&mut self, msg: SendRequest, _: &mut Context<Self>) -> Self::Result {
        let EthMessage::GetPooledTransactions(request) = msg.0 else {
            return Box::pin(async { Err(RequestError::PeerGone) });
        };
        let _ = self.asked.unbounded_send(request.message.0.clone());
        if self.silent {
            return Box::pin(futures::future::pending());
        }
        let txs: Vec<PooledTx> = self
            .holds
            .iter()
            .filter(|t| request.message.0.contains(t.hash()))
            .cloned()
            .collect();
        let answer = EthMessage::PooledTransactions(RequestPair::new(
            request.request_id,
            PooledTransactions(txs),
        ));
        Box::pin(async move { Ok(answer) })
    }
}

impl Handler<Disconnect> for Announcer {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        let _ = self.hangups.unbounded_send(msg.reason);
    }
}

impl Handler<SendEth> for Announcer {
    type Result = ();
    fn handle(&mut self, _: SendEth, _: &mut Context<Self>) {}
}

/// Stops an announcer (the peer leaves).
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

impl Handler<Stop> for Announcer {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Records what the fetcher hands on, and accepts all of it.
struct Ingest(mpsc::UnboundedSender<(PeerId, Vec<B256>)>);

impl Actor for Ingest {
    type Context = Context<Self>;
}

impl Handler<IngestTxs> for Ingest {
    type Result = MessageResult<IngestTxs>;
    fn handle(&mut self, msg: IngestTxs, _: &mut Context<Self>) -> Self::Result {
        let hashes: Vec<B256> = msg.txs.iter().map(|t| *t.hash()).collect();
        let _ = self.0.unbounded_send((msg.peer, hashes.clone()));
        MessageResult(hashes.into_iter().map(Ok).collect())
    }
}

struct Rig {
    fetcher: Addr<TxInbox>,
    pool: Arc<InMemoryTxPool>,
    ingested: mpsc::UnboundedReceiver<(PeerId, Vec<B256>)>,
}

fn rig() -> Rig {
    rig_waiting(DEFAULT_ARRIVAL_WAIT)
}

/// A rig whose inbox waits `arrival_wait` after announcements.
fn rig_waiting(arrival_wait: Duration) -> Rig {
    let (mem, shared): (Arc<InMemoryTxPool>, Arc<dyn TxPool>) = pool();
    let (tx, ingested) = mpsc::unbounded();
    let links = TxInboxLinks {
        mark: PeerSetActor::new().start().recipient(),
        ingest: Ingest(tx).start().recipient(),
    };
    Rig {
        fetcher: TxInbox::new(shared, links, arrival_wait).start(),
        pool: mem,
        ingested,
    }
}

struct Peer {
    id: PeerId,
    addr: Addr<Announcer>,
    asked: mpsc::UnboundedReceiver<Vec<B256>>,
    hangups: mpsc::UnboundedReceiver<DisconnectReason>,
    gate: ReadGate,
}

fn peer(n: u8, holds: &[PoolTx], silent: bool) -> Peer {
    let (asked_tx, asked) = mpsc::unbounded();
    let (hangups_tx, hangups) = mpsc::unbounded();
    let addr = Announcer {
        holds: holds.iter().map(|t| t.tx.clone()).collect(),
        silent,
        asked: asked_tx,
        hangups: hangups_tx,
    }
    .start();
    Peer {
        id: peer_id(n),
        addr,
        asked,
        hangups,
        gate: ReadGate::default(),
    }
}

impl Peer {
    /// `message` as if this peer had sent it.
    fn says(&self, message: EthMessage) -> InboundEth {
        let gate = self.gate.clone();
        InboundEth {
            peer: crate::peer::remote_handle(self.id, EthVersion::Eth68, &self.addr),
            message,
            ticket: gate.ticket(),
            gate,
            prefetched: Vec::new(),
        }
    }
}

impl Peer {
    /// `message` as if this peer's actor had asked for `prefetched` of it already.
    fn says_prefetched(&self, message: EthMessage, prefetched: &[PoolTx]) -> InboundEth {
        let mut msg = self.says(message);
        msg.prefetched = prefetched.iter().map(|t| t.hash).collect();
        msg
    }

    /// The answer to this peer's prefetch of `asked` as its actor forwards it: `txs`
    /// (none when the request failed).
    fn answers(&self, asked: &[PoolTx], txs: &[PooledTx]) -> InboundEth {
        let mut msg = self.says(EthMessage::PooledTransactions(RequestPair::new(
            7,
            PooledTransactions(txs.to_vec()),
        )));
        msg.prefetched = asked.iter().map(|t| t.hash).collect();
        msg
    }
}

/// An eth/68 announcement of `txs` with their true types and sizes.
fn announce(txs: &[PoolTx]) -> EthMessage {
    EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: txs.iter().map(|t| t.tx.ty()).collect::<Vec<u8>>().into(),
        sizes: txs.iter().map(|t| t.tx.encode_2718_len() as u64).collect(),
        hashes: txs.iter().map(|t| t.hash).collect(),
    })
}

fn txs(n: u64) -> Vec<PoolTx> {
    (0..n).map(|nonce| tx(sender(1), nonce, 10)).collect()
}

/// Whether `rx` yields within `wait` of paused time (time only advances while every task
/// is idle, so "nothing" means nothing was going to come).
async fn nothing_within<T>(rx: &mut mpsc::UnboundedReceiver<T>, wait: Duration) -> bool {
    tokio::time::timeout(wait, rx.next()).await.is_err()
}

#[actix_rt::test]
async fn an_announcement_is_fetched_after_the_arrival_wait_and_handed_to_ingest() {
    tokio::time::pause();
    let mut rig = rig();
    let txs = txs(3);
    let mut a = peer(1, &txs, false);
    rig.fetcher.do_send(a.says(announce(&txs)));
    // Not before geth's 500 ms: the tx may still come in full from someone else.
    assert!(
        nothing_within(
            &mut a.asked,
            DEFAULT_ARRIVAL_WAIT - Duration::from_millis(1)
        )
        .await
    );
    let asked = a.asked.next().await.expect("a request");
    assert_eq!(asked, txs.iter().map(|t| t.hash).collect::<Vec<_>>());
    let (from, handed) = rig.ingested.next().await.expect("handed on");
    assert_eq!((from, handed), (a.id, asked));
}

#[actix_rt::test]
async fn without_an_arrival_wait_an_announcement_is_fetched_at_once() {
    tokio::time::pause();
    let rig = rig_waiting(Duration::ZERO);
    let txs = txs(1);
    let mut a = peer(1, &txs, false);
    let start = tokio::time::Instant::now();
    rig.fetcher.do_send(a.says(announce(&txs)));
    assert_eq!(a.asked.next().await.expect("a request"), vec![txs[0].hash]);
    // Not even the timer wheel's next millisecond (paused time moves only for timers).
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[actix_rt::test]
async fn a_pooled_hash_is_not_fetched() {
    tokio::time::pause();
    let rig = rig();
    let txs = txs(2);
    rig.pool.insert(vec![txs[0].clone()]);
    let mut a = peer(1, &txs, false);
    rig.fetcher.do_send(a.says(announce(&txs)));
    let asked = a.asked.next().await.expect("a request");
    assert_eq!(asked, vec![txs[1].hash]);
}

#[actix_rt::test]
async fn a_hash_is_asked_of_one_announcer_at_a_time() {
    tokio::time::pause();
    let mut rig = rig();
    let txs = txs(1);
    let mut silent = peer(1, &txs, true);
    let mut other = peer(2, &txs, false);
    rig.fetcher.do_send(silent.says(announce(&txs)));
    rig.fetcher.do_send(other.says(announce(&txs)));
    // The first announcer is asked and never answers (the peer actor's own 5 s request
    // timeout is not part of this fake); the second is not asked meanwhile.
    assert_eq!(silent.asked.next().await.expect("asked"), vec![txs[0].hash]);
    assert!(nothing_within(&mut other.asked, Duration::from_secs(1)).await);
    assert!(nothing_within(&mut rig.ingested, Duration::from_millis(1)).await);
}

#[actix_rt::test]
async fn a_hash_its_announcer_does_not_deliver_is_fetched_from_another() {
    tokio::time::pause();
    let mut rig = rig();
    let txs = txs(1);
    // Announces, then answers without the tx.
    let mut empty = peer(1, &[], false);
    let mut other = peer(2, &txs, false);
    rig.fetcher.do_send(empty.says(announce(&txs)));
    rig.fetcher.do_send(other.says(announce(&txs)));
    assert_eq!(
        empty.asked.next().await.expect("asked first"),
        vec![txs[0].hash]
    );
    assert_eq!(
        other.asked.next().await.expect("asked next"),
        vec![txs[0].hash]
    );
    let (from, handed) = rig.ingested.next().await.expect("handed on");
    assert_eq!((from, handed), (other.id, vec![txs[0].hash]));
}

#[actix_rt::test]
async fn a_delivery_of_another_type_than_announced_disconnects_its_sender() {
    tokio::time::pause();
    let rig = rig();
    let txs = txs(1);
    let mut a = peer(1, &txs, false);
    // Announced as a legacy tx (type 0); delivered as EIP-1559.
    let lie = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![0u8].into(),
        sizes: vec![txs[0].tx.encode_2718_len() as u64],
        hashes: vec![txs[0].hash],
    });
    rig.fetcher.do_send(a.says(lie));
    assert_eq!(
        a.hangups.next().await,
        Some(DisconnectReason::SubprotocolSpecific)
    );
}

#[actix_rt::test]
async fn a_request_asks_for_at_most_256_hashes() {
    tokio::time::pause();
    let mut rig = rig();
    let many: Vec<B256> = (0..MAX_TX_ANNOUNCES as u64 + 10)
        .map(|n| B256::left_padding_from(&n.to_be_bytes()))
        .collect();
    let mut a = peer(1, &[], true);
    let ann = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![2u8; many.len()].into(),
        sizes: vec![100; many.len()],
        hashes: many,
    });
    rig.fetcher.do_send(a.says(ann));
    // One request at a time, at most 256 hashes: the first asks for the first 256.
    let asked = a.asked.next().await.expect("a request");
    assert_eq!(asked.len(), MAX_TX_RETRIEVALS);
    assert!(nothing_within(&mut rig.ingested, Duration::from_millis(1)).await);
}

/// Announced sizes are wire values: two of 2^64-1 used to overflow their sum (a panic in
/// debug builds, killing the fetcher). The first goes alone; the second waits for the next
/// request.
#[actix_rt::test]
async fn announced_sizes_near_u64_max_do_not_overflow_the_batch() {
    tokio::time::pause();
    let rig = rig();
    let mut a = peer(1, &[], true);
    let hashes = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
    let ann = EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![2u8; 2].into(),
        sizes: vec![u64::MAX; 2],
        hashes: hashes.clone(),
    });
    rig.fetcher.do_send(a.says(ann));
    // A hung-test deadline on paused time: a fetcher that panicked never asks.
    let asked = tokio::time::timeout(Duration::from_secs(10), a.asked.next()).await;
    assert_eq!(asked.ok().flatten().as_deref(), Some(&hashes[..1]));
    assert!(rig.fetcher.connected(), "the fetcher survived");
}

fn junk_announcement(from: u64, n: u64) -> EthMessage {
    let hashes: Vec<B256> = (from..from + n)
        .map(|n| B256::left_padding_from(&n.to_be_bytes()))
        .collect();
    EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
        types: vec![2u8; hashes.len()].into(),
        sizes: vec![100; hashes.len()],
        hashes,
    })
}

/// The announcement flood: a peer past 4,096 outstanding hashes (geth's
/// `maxTxAnnounces`) has the rest ignored, a real tx among them too, while another peer's
/// announcement is fetched as usual.
#[actix_rt::test]
async fn an_announcement_flood_is_ignored_past_4096_and_another_peer_is_still_fetched() {
    tokio::time::pause();
    let mut rig = rig();
    let real = txs(2);
    let mut flooder = peer(1, &real[..1], false);
    let honest = peer(2, &real[1..], false);
    for round in 0..4 {
        let from = round * 4096;
        rig.fetcher
            .do_send(flooder.says(junk_announcement(from, 4096)));
    }
    rig.fetcher.do_send(flooder.says(announce(&real[..1])));
    rig.fetcher.do_send(honest.says(announce(&real[1..])));
    let stats = rig.fetcher.send(GetInboxStats).await.expect("alive");
    assert_eq!(stats.ignored, 3 * 4096 + 1, "{stats:?}");
    // The flooder is not read for a while; the honest peer is.
    assert!(flooder.gate.is_held_by(GateReason::AnnounceFlood));
    assert!(!honest.gate.is_closed());
    assert_eq!(stats.wanted, 4096 + 1);
    let (from, handed) = rig.ingested.next().await.expect("the honest peer's tx");
    assert_eq!((from, handed), (honest.id, vec![real[1].hash]));
    // The flooder is asked for its first 4,096 hashes only (16 requests of 256, answered
    // empty): never for the real tx it announced past its limit.
    let mut asked = 0;
    while let Ok(Some(hashes)) =
        tokio::time::timeout(Duration::from_secs(60), flooder.asked.next()).await
    {
        assert!(!hashes.contains(&real[0].hash), "fetched past the limit");
        asked += hashes.len();
    }
    assert_eq!(asked, 4096);
    assert!(nothing_within(&mut rig.ingested, Duration::from_secs(1)).await);
    assert!(
        !flooder.gate.is_closed(),
        "paused for {ANNOUNCE_FLOOD_PAUSE:?} only"
    );
}

/// A peer that leaves is forgotten: its announcements and counts go at the next prune,
/// so a departed flooder's state does not stay.
#[actix_rt::test]
async fn a_departed_peers_announcements_are_released() {
    tokio::time::pause();
    let rig = rig();
    let a = peer(1, &[], true);
    rig.fetcher.do_send(a.says(junk_announcement(0, 1000)));
    let stats = rig.fetcher.send(GetInboxStats).await.expect("alive");
    assert_eq!((stats.wanted, stats.announcers), (1000, 1));
    a.addr.do_send(Stop);
    tokio::time::sleep(super::actor::PRUNE_INTERVAL + Duration::from_secs(1)).await;
    let stats = rig.fetcher.send(GetInboxStats).await.expect("alive");
    assert_eq!(
        (stats.wanted, stats.announcers, stats.busy),
        (0, 0, 0),
        "{stats:?}"
    );
}

fn bodies(txs: &[PoolTx]) -> Vec<PooledTx> {
    txs.iter().map(|t| t.tx.clone()).collect()
}

#[actix_rt::test]
async fn prefetched_hashes_are_not_asked_again_and_the_rest_follow_their_answer() {
    tokio::time::pause();
    let mut rig = rig_waiting(Duration::ZERO);
    let txs = txs(3);
    let mut a = peer(1, &txs, false);
    let mut b = peer(2, &txs, false);
    // a's actor asked for the first two itself: a is busy until they come, so the third
    // (the same sender's next nonce) is not asked for meanwhile.
    rig.fetcher
        .do_send(a.says_prefetched(announce(&txs), &txs[..2]));
    // A later announcer of the prefetched ones is not asked while the answer is awaited.
    rig.fetcher.do_send(b.says(announce(&txs[..2])));
    assert!(nothing_within(&mut a.asked, Duration::from_secs(1)).await);
    assert!(nothing_within(&mut b.asked, Duration::from_millis(1)).await);
    rig.fetcher
        .do_send(a.answers(&txs[..2], &bodies(&txs[..2])));
    let (from, handed) = rig.ingested.next().await.expect("the prefetch handed on");
    assert_eq!((from, handed), (a.id, vec![txs[0].hash, txs[1].hash]));
    assert_eq!(
        a.asked.next().await.expect("then the rest"),
        vec![txs[2].hash]
    );
    let (_, third) = rig.ingested.next().await.expect("the rest handed on");
    assert_eq!(third, vec![txs[2].hash]);
    assert!(nothing_within(&mut b.asked, Duration::from_secs(1)).await);
    let stats = rig.fetcher.send(GetInboxStats).await.expect("alive");
    assert_eq!(stats.wanted, 0, "nothing left wanted: {stats:?}");
}

#[actix_rt::test]
async fn a_failed_prefetch_is_fetched_from_the_next_announcer() {
    tokio::time::pause();
    let mut rig = rig_waiting(Duration::ZERO);
    let txs = txs(1);
    let a = peer(1, &txs, false);
    let mut b = peer(2, &txs, false);
    rig.fetcher.do_send(a.says_prefetched(announce(&txs), &txs));
    rig.fetcher.do_send(b.says(announce(&txs)));
    assert!(nothing_within(&mut b.asked, Duration::from_secs(1)).await);
    // The request failed (timed out, or a left): its actor forwards an empty answer.
    rig.fetcher.do_send(a.answers(&txs, &[]));
    assert_eq!(b.asked.next().await.expect("b asked"), vec![txs[0].hash]);
    let (from, handed) = rig.ingested.next().await.expect("handed on");
    assert_eq!((from, handed), (b.id, vec![txs[0].hash]));
}

#[actix_rt::test]
async fn a_prefetch_answer_unlike_its_announcement_drops_the_peer_and_the_next_is_asked() {
    tokio::time::pause();
    let mut rig = rig_waiting(Duration::ZERO);
    let txs = txs(1);
    let mut a = peer(1, &txs, false);
    let mut b = peer(2, &txs, false);
    // a announced a size 9 bytes off the tx it then delivers.
    let EthMessage::NewPooledTransactionHashes68(mut lie) = announce(&txs) else {
        unreachable!()
    };
    lie.sizes[0] += MAX_SIZE_DEVIATION + 1;
    let lie = EthMessage::NewPooledTransactionHashes68(lie);
    rig.fetcher.do_send(a.says_prefetched(lie, &txs));
    rig.fetcher.do_send(b.says(announce(&txs)));
    rig.fetcher.do_send(a.answers(&txs, &bodies(&txs)));
    assert_eq!(
        a.hangups.next().await.expect("a dropped"),
        DisconnectReason::SubprotocolSpecific
    );
    // Within a bound of paused time, which jumps ahead when nothing else is pending.
    let asked = tokio::time::timeout(Duration::from_secs(10), b.asked.next()).await;
    assert_eq!(asked.ok().flatten(), Some(vec![txs[0].hash]), "b asked");
    let (from, handed) = rig.ingested.next().await.expect("handed on");
    assert_eq!((from, handed), (b.id, vec![txs[0].hash]));
}

#[actix_rt::test]
async fn a_pooled_transactions_message_naming_no_prefetch_is_ignored() {
    tokio::time::pause();
    let mut rig = rig_waiting(Duration::ZERO);
    let txs = txs(1);
    let a = peer(1, &txs, false);
    rig.fetcher.do_send(a.answers(&[], &bodies(&txs)));
    assert!(nothing_within(&mut rig.ingested, Duration::from_secs(1)).await);
}
