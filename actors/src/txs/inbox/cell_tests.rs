//! The fetcher's eth/72 blob path alone, on paused time: announcers holding whole blob
//! txs that serve them without blobs and serve their cells (or corrupt ones), and a fake
//! ingest path recording what each delivered tx carries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::B256;
use futures::channel::mpsc;
use futures::StreamExt;

use super::*;
use crate::eth::cells::{self, is_blobless, without_blobs, CustodyBitmap};
use crate::eth::{
    Cells, EthMessage, EthVersion, NewPooledTransactionHashes72, PooledTransactions, PooledTx,
    RequestPair,
};
use crate::p2p::DisconnectReason;
use crate::peer::{Disconnect, InboundEth, PeerId, ReadGate, RequestError, SendEth, SendRequest};
use crate::peer_set::PeerSetActor;
use crate::testing::{cell_blob_tx, column_cells, peer_id, pool, sender};
use crate::txs::ingest::IngestTxs;
use crate::txs::pool::TxPool;

/// What a peer was asked: GetPooledTransactions (None) or GetCells of a mask.
type Asked = Option<CustodyBitmap>;

/// An eth/72 peer holding whole blob txs.
struct CellPeer {
    holds: Vec<PooledTx>,
    /// Flip a byte of every cell it serves.
    corrupt: bool,
    /// Answer GetCells only with a timeout, after [`STALL`].
    stall: bool,
    asked: mpsc::UnboundedSender<Asked>,
    hangups: mpsc::UnboundedSender<DisconnectReason>,
}

impl Actor for CellPeer {
    type Context = Context<Self>;
}

impl Handler<SendRequest> for CellPeer {
    type Result = ResponseFuture<Result<EthMessage, RequestError>>;

    fn handle(&mut self, msg: SendRequest, _: &mut Context<Self>) -> Self::Result {
        let answer = match msg.0 {
            EthMessage::GetPooledTransactions(request) => {
                let _ = self.asked.unbounded_send(None);
                let txs = self
                    .holds
                    .iter()
                    .filter(|t| request.message.0.contains(t.hash()))
                    .map(without_blobs)
                    .collect();
                EthMessage::PooledTransactions(RequestPair::new(
                    request.request_id,
                    PooledTransactions(txs),
                ))
            }
            EthMessage::GetCells(request) if self.stall => {
                let _ = self.asked.unbounded_send(Some(request.mask));
                return Box::pin(async {
                    tokio::time::sleep(STALL).await;
                    Err(RequestError::Timeout { after: STALL })
                });
            }
            EthMessage::GetCells(request) => {
                let _ = self.asked.unbounded_send(Some(request.mask));
                let held: Vec<&PooledTx> = self
                    .holds
                    .iter()
                    .filter(|t| request.hashes.contains(t.hash()))
                    .collect();
                let corrupt = self.corrupt;
                EthMessage::Cells(Cells {
                    request_id: request.request_id,
                    hashes: held.iter().map(|t| *t.hash()).collect(),
                    cells: held
                        .iter()
                        .map(|t| {
                            let mut cells = column_cells(t, &request.mask);
                            if corrupt {
                                cells.iter_mut().for_each(|c| c.0[31] ^= 1);
                            }
                            cells
                        })
                        .collect(),
                    mask: request.mask,
                })
            }
            _ => return Box::pin(async { Err(RequestError::PeerGone) }),
        };
        Box::pin(async move { Ok(answer) })
    }
}

impl Handler<Disconnect> for CellPeer {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        let _ = self.hangups.unbounded_send(msg.reason);
    }
}

impl Handler<SendEth> for CellPeer {
    type Result = ();
    fn handle(&mut self, _: SendEth, _: &mut Context<Self>) {}
}

/// What one delivered tx carried: its hash, whether it had blobs, its sampled columns.
type Delivered = (PeerId, B256, bool, Option<CustodyBitmap>);

/// Records deliveries and accepts them.
struct Ingest(mpsc::UnboundedSender<Delivered>);

impl Actor for Ingest {
    type Context = Context<Self>;
}

impl Handler<IngestTxs> for Ingest {
    type Result = MessageResult<IngestTxs>;
    fn handle(&mut self, msg: IngestTxs, _: &mut Context<Self>) -> Self::Result {
        let mut cells: HashMap<B256, crate::eth::SampledCells> = msg.cells;
        let hashes: Vec<B256> = msg.txs.iter().map(|t| *t.hash()).collect();
        for tx in &msg.txs {
            let sampled = cells.remove(tx.hash()).map(|c| c.mask());
            let _ = self
                .0
                .unbounded_send((msg.peer, *tx.hash(), !is_blobless(tx), sampled));
        }
        MessageResult(hashes.into_iter().map(Ok).collect())
    }
}

struct Peer {
    id: PeerId,
    addr: Addr<CellPeer>,
    asked: mpsc::UnboundedReceiver<Asked>,
    hangups: mpsc::UnboundedReceiver<DisconnectReason>,
}

fn peer(n: u8, holds: &PooledTx, corrupt: bool) -> Peer {
    rigged_peer(n, holds, corrupt, false)
}

/// A peer that answers GetCells only with a timeout, [`STALL`] later (as a peer that
/// never answers does, through the request tracker's deadline).
fn stalling_peer(n: u8, holds: &PooledTx) -> Peer {
    rigged_peer(n, holds, false, true)
}

/// How long a stalling peer takes to fail: past [`BLOB_AVAILABILITY_TIMEOUT`].
const STALL: Duration = Duration::from_secs(5);

fn rigged_peer(n: u8, holds: &PooledTx, corrupt: bool, stall: bool) -> Peer {
    let (asked_tx, asked) = mpsc::unbounded();
    let (hangups_tx, hangups) = mpsc::unbounded();
    let addr = CellPeer {
        holds: vec![holds.clone()],
        corrupt,
        stall,
        asked: asked_tx,
        hangups: hangups_tx,
    }
    .start();
    Peer {
        id: peer_id(n),
        addr,
        asked,
        hangups,
    }
}

impl Peer {
    /// This peer's eth/72 announcement of `tx` with `mask`.
    fn announces(&self, tx: &PooledTx, mask: CustodyBitmap) -> InboundEth {
        let gate = ReadGate::default();
        InboundEth {
            peer: crate::peer::remote_handle(self.id, EthVersion::Eth72, &self.addr),
            message: EthMessage::NewPooledTransactionHashes72(NewPooledTransactionHashes72 {
                types: vec![tx.ty()].into(),
                sizes: vec![without_blobs(tx).encode_2718_len() as u64],
                hashes: vec![*tx.hash()],
                mask,
            }),
            ticket: gate.ticket(),
            gate,
            prefetched: Vec::new(),
        }
    }
}

/// A fetcher deciding blob fetches by `policy`, and what it hands to ingest.
fn rig(policy: BlobFetchPolicy) -> (Addr<TxInbox>, mpsc::UnboundedReceiver<Delivered>) {
    let (_, shared): (_, Arc<dyn TxPool>) = pool();
    let (tx, delivered) = mpsc::unbounded();
    let links = TxInboxLinks {
        mark: PeerSetActor::new().start().recipient(),
        ingest: Ingest(tx).start().recipient(),
    };
    let fetcher = TxInbox::new(shared, links, DEFAULT_ARRIVAL_WAIT)
        .with_blob_policy(policy)
        .start();
    (fetcher, delivered)
}

/// Columns 1-4: a minimal custody (the consensus specs' `CUSTODY_REQUIREMENT` is 4).
fn custody() -> CustodyBitmap {
    CustodyBitmap::from_indices([1, 2, 3, 4]).expect("mask")
}

/// A sampling policy that samples `tx` (the salt is searched, deterministically).
fn sampling(tx: &PooledTx) -> BlobFetchPolicy {
    (0u8..=255)
        .map(|n| {
            BlobFetchPolicy::new(custody(), MIN_FULL_FETCH_PERCENT).salted(B256::repeat_byte(n))
        })
        .find(|p| !p.fetches_whole(tx.hash()))
        .expect("85% of salts sample")
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), rx.next())
        .await
        .expect("within 30 s of paused time")
        .expect("open")
}

#[test]
fn the_policy_fetches_its_share_whole_and_everything_with_full_custody() {
    let hashes: Vec<B256> = (0u32..10_000)
        .map(|i| alloy_primitives::keccak256(i.to_be_bytes()))
        .collect();
    let share = |p: &BlobFetchPolicy| hashes.iter().filter(|h| p.fetches_whole(h)).count();
    let sampler = BlobFetchPolicy::new(custody(), 15).salted(B256::repeat_byte(7));
    assert!(
        (1_350..=1_650).contains(&share(&sampler)),
        "{}",
        share(&sampler)
    );
    // geth's floor: asking for less than 15% still fetches 15% whole.
    assert_eq!(BlobFetchPolicy::new(custody(), 0).full_percent(), 15);
    assert_eq!(share(&BlobFetchPolicy::new(custody(), 100)), 10_000);
    // Another salt, another choice for the same tx.
    let other = BlobFetchPolicy::new(custody(), 15).salted(B256::repeat_byte(8));
    assert!(hashes
        .iter()
        .any(|h| sampler.fetches_whole(h) != other.fetches_whole(h)));
    // 64 or more custody columns: eager, every tx whole.
    assert_eq!(share(&BlobFetchPolicy::default()), 10_000);
    let half = BlobFetchPolicy::new(CustodyBitmap::data(), 15);
    assert_eq!(share(&half), 10_000);
}

#[test]
fn custody_flags_parse_columns_and_ranges_and_refuse_the_rest() {
    let parse = BlobFetchPolicy::parse_custody;
    assert_eq!(parse("all"), Ok(CustodyBitmap::ALL));
    assert_eq!(parse(" 1-4 "), Ok(custody()));
    assert_eq!(
        parse("0,64-65,127"),
        Ok(CustodyBitmap::from_indices([0, 64, 65, 127]).expect("mask"))
    );
    for bad in ["", "128", "5-3", "a", "1,", "0-200", "-1"] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[actix_rt::test]
async fn invalid_cells_disconnect_their_sender_and_the_next_announcer_serves_the_whole_tx() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[1, 2]);
    let (fetcher, mut delivered) = rig(BlobFetchPolicy::default());
    let mut bad = peer(1, &tx, true);
    let mut good = peer(2, &tx, false);
    fetcher.do_send(bad.announces(&tx, CustodyBitmap::ALL));
    fetcher.do_send(good.announces(&tx, CustodyBitmap::ALL));
    // The first announcer is asked for the tx, then for the data columns.
    assert_eq!(next(&mut bad.asked).await, None);
    assert_eq!(next(&mut bad.asked).await, Some(CustodyBitmap::data()));
    assert_eq!(
        next(&mut bad.hangups).await,
        DisconnectReason::SubprotocolSpecific
    );
    assert_eq!(next(&mut good.asked).await, Some(CustodyBitmap::data()));
    // Handed to ingest as the deliverer's: its sidecar's proofs are checked there.
    let (from, hash, whole, sampled) = next(&mut delivered).await;
    assert_eq!(
        (from, hash, whole, sampled),
        (bad.id, *tx.hash(), true, None)
    );
    assert!(good.hangups.try_recv().is_err(), "the good peer stays");
    let stats = fetcher.send(GetInboxStats).await.expect("stats");
    assert_eq!((stats.blobs_whole, stats.pending_cells), (1, 0));
}

#[actix_rt::test]
async fn a_sampler_waits_for_two_providers_then_fetches_only_its_custody_columns() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[3]);
    let (fetcher, mut delivered) = rig(sampling(&tx));
    let mut first = peer(1, &tx, false);
    let mut second = peer(2, &tx, false);
    fetcher.do_send(first.announces(&tx, CustodyBitmap::ALL));
    assert_eq!(next(&mut first.asked).await, None);
    // One provider is not enough to sample on: no cells asked yet.
    let wait = BLOB_AVAILABILITY_TIMEOUT - Duration::from_millis(100);
    assert!(tokio::time::timeout(wait, first.asked.next())
        .await
        .is_err());
    fetcher.do_send(second.announces(&tx, CustodyBitmap::ALL));
    // The second provider arrives in time: custody columns only, from one of them.
    let asked = tokio::select! {
        mask = next(&mut first.asked) => mask,
        mask = next(&mut second.asked) => mask,
    };
    assert_eq!(asked, Some(custody()));
    let (_, hash, whole, sampled) = next(&mut delivered).await;
    assert_eq!((hash, whole, sampled), (*tx.hash(), false, Some(custody())));
    let stats = fetcher.send(GetInboxStats).await.expect("stats");
    assert_eq!((stats.blobs_whole, stats.blobs_sampled), (0, 1));
}

#[actix_rt::test]
async fn a_sampler_with_a_single_announcer_fetches_the_tx_whole_after_the_timeout() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[4]);
    let (fetcher, mut delivered) = rig(sampling(&tx));
    let mut only = peer(1, &tx, false);
    fetcher.do_send(only.announces(&tx, CustodyBitmap::ALL));
    assert_eq!(next(&mut only.asked).await, None);
    let started = tokio::time::Instant::now();
    // Never a partial fetch from a single announcer: the whole tx, after geth's 2 s.
    assert_eq!(next(&mut only.asked).await, Some(CustodyBitmap::data()));
    assert!(started.elapsed() >= BLOB_AVAILABILITY_TIMEOUT - Duration::from_millis(600));
    let (_, hash, whole, sampled) = next(&mut delivered).await;
    assert_eq!((hash, whole, sampled), (*tx.hash(), true, None));
    assert_eq!(cells::CELLS_PER_BLOB, 128);
}

#[actix_rt::test]
async fn a_sampler_asks_a_partial_announcer_holding_its_columns_once_two_provide() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[5]);
    let (fetcher, mut delivered) = rig(sampling(&tx));
    let mut partial = peer(1, &tx, false);
    let mut providers = [peer(2, &tx, false), peer(3, &tx, false)];
    // A peer holding only our columns announces first and serves the tx.
    let columns = CustodyBitmap::from_indices([1, 2, 3, 4, 90]).expect("mask");
    fetcher.do_send(partial.announces(&tx, columns));
    assert_eq!(next(&mut partial.asked).await, None);
    for provider in &providers {
        fetcher.do_send(provider.announces(&tx, CustodyBitmap::ALL));
    }
    // It covers the custody columns, so it is asked (it announced first).
    assert_eq!(next(&mut partial.asked).await, Some(custody()));
    let (from, _, whole, sampled) = next(&mut delivered).await;
    assert_eq!((from, whole, sampled), (partial.id, false, Some(custody())));
    for provider in &mut providers {
        assert!(provider.asked.try_recv().is_err(), "providers not asked");
    }
}

#[actix_rt::test]
async fn a_provider_stalling_past_the_availability_timeout_leaves_no_tx_pending_forever() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[6]);
    let (fetcher, mut delivered) = rig(sampling(&tx));
    let mut staller = stalling_peer(1, &tx);
    let mut honest = peer(2, &tx, false);
    fetcher.do_send(staller.announces(&tx, CustodyBitmap::ALL));
    fetcher.do_send(honest.announces(&tx, CustodyBitmap::ALL));
    assert_eq!(next(&mut staller.asked).await, None);
    // Two providers: the first announcer is asked for the custody columns and stalls
    // while the availability timeout passes, then fails, leaving one provider.
    assert_eq!(next(&mut staller.asked).await, Some(custody()));
    // Too few providers after the timeout: the tx is fetched whole from the other.
    assert_eq!(next(&mut honest.asked).await, Some(CustodyBitmap::data()));
    let (from, hash, whole, _) = next(&mut delivered).await;
    assert_eq!((from, hash, whole), (staller.id, *tx.hash(), true));
    let stats = fetcher.send(GetInboxStats).await.expect("stats");
    assert_eq!(stats.pending_cells, 0);
    assert!(honest.hangups.try_recv().is_err(), "the honest peer stays");
}

#[actix_rt::test]
async fn a_blob_tx_whose_cells_failed_is_fetched_again_when_announced_again() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[7]);
    let (fetcher, mut delivered) = rig(BlobFetchPolicy::default());
    let mut bad = peer(1, &tx, true);
    // A partial announcer: it stays an announcer of the hash but cannot serve it whole.
    let partial = peer(2, &tx, false);
    fetcher.do_send(bad.announces(&tx, CustodyBitmap::ALL));
    fetcher.do_send(partial.announces(&tx, custody()));
    assert_eq!(next(&mut bad.asked).await, None);
    assert_eq!(next(&mut bad.asked).await, Some(CustodyBitmap::data()));
    assert_eq!(
        next(&mut bad.hangups).await,
        DisconnectReason::SubprotocolSpecific
    );
    // Nobody left to serve its cells: given up. A later honest announcer fetches it anew.
    let stats = fetcher.send(GetInboxStats).await.expect("stats");
    assert_eq!(stats.pending_cells, 0);
    let mut honest = peer(3, &tx, false);
    fetcher.do_send(honest.announces(&tx, CustodyBitmap::ALL));
    assert_eq!(next(&mut honest.asked).await, None);
    assert_eq!(next(&mut honest.asked).await, Some(CustodyBitmap::data()));
    let (from, hash, whole, _) = next(&mut delivered).await;
    assert_eq!((from, hash, whole), (honest.id, *tx.hash(), true));
}

/// A forged blobless blob tx of `blobs` blobs: `tx`'s one commitment and its proofs
/// repeated (sound in shape, as the fetcher checks before asking for cells).
fn fat_blobless(tx: &PooledTx, blobs: usize) -> PooledTx {
    use alloy_consensus::Signed;
    let PooledTx::Eip4844(signed) = without_blobs(tx) else {
        panic!("a blob tx");
    };
    let mut body = signed.tx().clone();
    let hash = body.tx.blob_versioned_hashes[0];
    body.tx.blob_versioned_hashes = vec![hash; blobs];
    if let alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip7594(sidecar) = &mut body.sidecar
    {
        sidecar.commitments = vec![sidecar.commitments[0]; blobs];
        sidecar.cell_proofs = sidecar.cell_proofs.repeat(blobs);
    }
    PooledTx::Eip4844(Signed::new_unhashed(body, *signed.signature()))
}

#[actix_rt::test]
async fn forged_blob_txs_of_thousands_of_blobs_are_not_held_while_their_cells_are_fetched() {
    tokio::time::pause();
    let fat = fat_blobless(
        &cell_blob_tx(sender(1), 0, &[8]),
        MAX_PENDING_CELL_BLOBS + 1,
    );
    let (fetcher, _delivered) = rig(BlobFetchPolicy::default());
    let mut forger = stalling_peer(1, &fat);
    fetcher.do_send(forger.announces(&fat, CustodyBitmap::ALL));
    assert_eq!(next(&mut forger.asked).await, None);
    // Too many blobs to hold: never asked for its cells, nothing pending.
    let asked = tokio::time::timeout(Duration::from_secs(1), forger.asked.next()).await;
    assert!(asked.is_err(), "asked for the cells of {asked:?}");
    let stats = fetcher.send(GetInboxStats).await.expect("stats");
    assert_eq!(stats.pending_cells, 0);
}

/// `tx` with forged cell proofs: the same hash (proofs are not signed over) and
/// commitments, proofs that refuse its own cells. (A constant blob's true proofs are all
/// the point at infinity; its commitment, a valid point, is not one of them.)
fn with_forged_proofs(tx: &PooledTx) -> PooledTx {
    use alloy_consensus::Signed;
    let PooledTx::Eip4844(signed) = tx.clone() else {
        panic!("a blob tx");
    };
    let mut body = signed.tx().clone();
    if let alloy_eips::eip7594::BlobTransactionSidecarVariant::Eip7594(sidecar) = &mut body.sidecar
    {
        sidecar.cell_proofs = vec![sidecar.commitments[0]; sidecar.cell_proofs.len()];
    }
    PooledTx::Eip4844(Signed::new_unhashed(body, *signed.signature()))
}

#[actix_rt::test]
async fn forged_proofs_disconnect_their_deliverer_not_the_honest_cell_provider() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[9]);
    let forged = with_forged_proofs(&tx);
    assert_eq!(forged.hash(), tx.hash());
    let (fetcher, mut delivered) = rig(BlobFetchPolicy::default());
    // The forger announces first (only some columns, so it is not asked for the data
    // columns) and delivers the tx with its forged proofs; the honest peer serves cells.
    let mut forger = peer(1, &forged, false);
    let mut honest = peer(2, &tx, false);
    fetcher.do_send(forger.announces(&tx, custody()));
    fetcher.do_send(honest.announces(&tx, CustodyBitmap::ALL));
    assert_eq!(next(&mut forger.asked).await, None);
    assert_eq!(next(&mut honest.asked).await, Some(CustodyBitmap::data()));
    assert_eq!(
        next(&mut forger.hangups).await,
        DisconnectReason::SubprotocolSpecific
    );
    // The tx is fetched again, sidecar and all, from the honest peer, and completed.
    assert_eq!(next(&mut honest.asked).await, None);
    assert_eq!(next(&mut honest.asked).await, Some(CustodyBitmap::data()));
    let (from, hash, whole, _) = next(&mut delivered).await;
    assert_eq!((from, hash, whole), (honest.id, *tx.hash(), true));
    assert!(honest.hangups.try_recv().is_err(), "the honest peer stays");
}

#[actix_rt::test]
async fn a_sample_failing_forged_proofs_blames_nobody_and_the_whole_fetch_finds_the_forger() {
    tokio::time::pause();
    let tx = cell_blob_tx(sender(1), 0, &[10]);
    let forged = with_forged_proofs(&tx);
    let (fetcher, mut delivered) = rig(sampling(&tx));
    let mut forger = peer(1, &forged, false);
    let mut providers = [peer(2, &tx, false), peer(3, &tx, false)];
    fetcher.do_send(forger.announces(&tx, CustodyBitmap::from_indices([90]).expect("mask")));
    for provider in &providers {
        fetcher.do_send(provider.announces(&tx, CustodyBitmap::ALL));
    }
    assert_eq!(next(&mut forger.asked).await, None);
    // The first provider's sample refuses the forged proofs; a sample cannot tell whose
    // fault that is, so nobody is dropped and the next provider is asked for the blobs.
    assert_eq!(next(&mut providers[0].asked).await, Some(custody()));
    assert_eq!(
        next(&mut providers[1].asked).await,
        Some(CustodyBitmap::data())
    );
    assert_eq!(
        next(&mut forger.hangups).await,
        DisconnectReason::SubprotocolSpecific
    );
    // Fetched anew from the first provider, with its true proofs, and sampled.
    assert_eq!(next(&mut providers[0].asked).await, None);
    assert_eq!(next(&mut providers[0].asked).await, Some(custody()));
    let delivery = next(&mut delivered).await;
    assert_eq!(
        delivery,
        (providers[0].id, *tx.hash(), false, Some(custody()))
    );
    for provider in &mut providers {
        assert!(provider.hangups.try_recv().is_err(), "providers stay");
    }
}
