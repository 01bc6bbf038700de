//! The ingest path alone: a real validating pool, real verifier threads, and fake peers
//! (a disconnect inbox and a read gate each).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_consensus::{SignableTransaction, Signed, TxEip1559};
use alloy_primitives::{Address, Signature, TxKind, B256, U256};
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};

use super::*;
use crate::eth::PooledTx;
use crate::p2p::DisconnectReason;
use crate::peer::{Disconnect, GateReason, ReadGate};
use crate::testing::peer_id;
use crate::txs::ingest::actor::HeldCells;
use crate::txs::pool::validate::{TxValidationError, ValidationRules};
use crate::txs::pool::{MemoryState, PoolError, TxPool, ValidatingTxPool};

/// Key `n`'s address has nonce 5 and 1000 ETH at the pool's state.
fn key(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn address(n: u8) -> Address {
    use alloy_consensus::transaction::SignerRecoverable;
    signed(n, 0).recover_signer().expect("recovers")
}

fn transfer(nonce: u64) -> TxEip1559 {
    TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x77)),
        value: U256::from(1),
        ..Default::default()
    }
}

/// A transfer signed by key `n`.
fn signed(n: u8, nonce: u64) -> PooledTx {
    let tx = transfer(nonce);
    let signature = alloy_consensus::crypto::secp256k1::sign_message(key(n), tx.signature_hash())
        .expect("signs");
    PooledTx::Eip1559(Signed::new_unhashed(tx, signature))
}

/// A transfer whose signature cannot recover any sender (r = 0), distinct per `nonce`.
fn unsigned(nonce: u64) -> PooledTx {
    let signature = Signature::new(U256::ZERO, U256::from(1), false);
    PooledTx::Eip1559(Signed::new_unhashed(transfer(nonce), signature))
}

fn pool() -> Arc<ValidatingTxPool> {
    let alloc: serde_json::Value = (1..=4u8)
        .map(|n| {
            (
                address(n).to_string(),
                serde_json::json!({"balance": "0x3635c9adc5dea00000", "nonce": "0x5"}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let genesis: alloy_genesis::Genesis = serde_json::from_value(serde_json::json!({
        "config": {"chainId": 1},
        "gasLimit": "0x1c9c380",
        "difficulty": "0x0",
        "alloc": alloc
    }))
    .expect("genesis");
    let rules = ValidationRules {
        chain_id: 1,
        block_gas_limit: 30_000_000,
        max_blobs_per_tx: 6,
        calldata_floor: true,
    };
    Arc::new(ValidatingTxPool::new(
        rules,
        Arc::new(MemoryState::from_genesis(&genesis)),
    ))
}

/// Collects the Disconnects a fake peer is sent.
struct Hangups(mpsc::UnboundedSender<DisconnectReason>);
impl Actor for Hangups {
    type Context = Context<Self>;
}
impl Handler<Disconnect> for Hangups {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        let _ = self.0.unbounded_send(msg.reason);
    }
}

struct FakePeer {
    id: crate::peer::PeerId,
    gate: ReadGate,
    hangup: Recipient<Disconnect>,
    hangups: mpsc::UnboundedReceiver<DisconnectReason>,
}

fn fake_peer(n: u8) -> FakePeer {
    let (tx, hangups) = mpsc::unbounded();
    FakePeer {
        id: peer_id(n),
        gate: ReadGate::default(),
        hangup: Hangups(tx).start().recipient(),
        hangups,
    }
}

impl FakePeer {
    fn send(&self, txs: Vec<PooledTx>) -> IngestTxs {
        IngestTxs {
            peer: self.id,
            txs,
            gate: self.gate.clone(),
            disconnect: self.hangup.clone(),
            ticket: None,
            cells: Default::default(),
        }
    }
}

fn ingest(pool: &Arc<ValidatingTxPool>, workers: usize) -> (Addr<TxIngest>, Arc<IngestMetrics>) {
    let ingest = TxIngest::new(
        pool.clone(),
        start_verifiers(pool.clone(), workers).recipient(),
        workers,
    );
    let metrics = ingest.metrics();
    (ingest.start(), metrics)
}

#[actix_rt::test]
async fn known_repeated_and_recently_rejected_hashes_are_answered_before_any_recovery() {
    let pool = pool();
    let (ingest, metrics) = ingest(&pool, 1);
    let peer = fake_peer(1);
    // Nonces 0..4 are below the account's 5: refused for good, after verification.
    let stale: Vec<PooledTx> = (0..5).map(|nonce| signed(1, nonce)).collect();
    let fresh = signed(1, 5);
    let mut first = stale.clone();
    first.push(fresh.clone());
    first.push(fresh.clone());
    let outcomes = ingest.send(peer.send(first)).await.expect("alive");
    assert!(outcomes[..5].iter().all(|o| matches!(
        o,
        Err(PoolError::Invalid(TxValidationError::NonceTooLow { .. }))
    )));
    assert_eq!(outcomes[5], Ok(*fresh.hash()));
    assert_eq!(
        outcomes[6],
        Err(PoolError::AlreadyKnown),
        "twice in one message"
    );
    assert_eq!(metrics.verified.load(Ordering::Relaxed), 6);
    // The same message again: nothing is verified a second time.
    let mut again = stale;
    again.push(fresh);
    let outcomes = ingest.send(peer.send(again)).await.expect("alive");
    assert!(outcomes[..5]
        .iter()
        .all(|o| *o == Err(PoolError::RecentlyRejected)));
    assert_eq!(outcomes[5], Err(PoolError::AlreadyKnown), "pooled");
    assert_eq!(metrics.verified.load(Ordering::Relaxed), 6);
    assert_eq!(metrics.skipped_rejected.load(Ordering::Relaxed), 5);
}

#[actix_rt::test]
async fn a_peer_sending_unrecoverable_signatures_is_disconnected_and_others_keep_their_service() {
    let pool = pool();
    let (ingest, metrics) = ingest(&pool, 2);
    let mut attacker = fake_peer(1);
    let honest = fake_peer(2);
    let junk: Vec<PooledTx> = (0..2_000).map(unsigned).collect();
    let flood = ingest.send(attacker.send(junk));
    let good = ingest.send(honest.send(vec![signed(2, 5), signed(2, 6)]));
    let (flood, good) = futures::join!(flood, good);
    // A deadline for a hung test, not a speed goal.
    let hangup = tokio::time::timeout(Duration::from_secs(60), attacker.hangups.next()).await;
    assert_eq!(hangup, Ok(Some(DisconnectReason::UselessPeer)));
    assert!(good.expect("alive").iter().all(Result::is_ok));
    assert_eq!(pool.len(), 2);
    // Only its first batch was verified; the rest were dropped with it.
    let flood = flood.expect("alive");
    assert_eq!(
        flood.iter().filter(|o| **o == Err(PoolError::Busy)).count(),
        2_000 - INGEST_BATCH
    );
    assert_eq!(metrics.disconnected.load(Ordering::Relaxed), 1);
}

#[actix_rt::test]
async fn a_mostly_refused_batch_slows_its_sender_for_200_ms() {
    let pool = pool();
    let (ingest, metrics) = ingest(&pool, 1);
    let peer = fake_peer(3);
    tokio::time::pause();
    // Stale nonces: refused for a reason other than "known" or "underpriced".
    let stale: Vec<PooledTx> = (0..4).map(|nonce| signed(3, nonce)).collect();
    ingest.send(peer.send(stale)).await.expect("alive");
    assert!(peer.gate.is_held_by(GateReason::Slowed));
    assert_eq!(metrics.slowed.load(Ordering::Relaxed), 1);
    // Past the slow-down timer's deadline, then one round trip through the actor.
    tokio::time::sleep(SLOW_DOWN + Duration::from_millis(1)).await;
    ingest.send(peer.send(vec![])).await.expect("alive");
    assert!(!peer.gate.is_closed());
}

#[actix_rt::test]
async fn a_big_backlog_closes_the_senders_gate_and_another_peer_is_served_first() {
    let pool = pool();
    // One worker: batches are verified strictly in the order they were dispatched.
    let (ingest, _) = ingest(&pool, 1);
    let flooder = fake_peer(1);
    let other = fake_peer(2);
    // Valid transactions, more than a peer may have waiting.
    let backlog: Vec<PooledTx> = (0..(MAX_QUEUED_PER_PEER + 100) as u64)
        .map(|nonce| signed(1, 5 + nonce))
        .collect();
    let mut flood = ingest.send(flooder.send(backlog)).boxed_local();
    let served = ingest.send(other.send(vec![signed(2, 5)]));
    // The flood's submission closed its gate as soon as it was queued.
    let served = served.await.expect("alive");
    assert!(flooder.gate.is_held_by(GateReason::IngestBacklog));
    assert_eq!(served, vec![Ok(*signed(2, 5).hash())]);
    assert!(
        (&mut flood).now_or_never().is_none(),
        "the other peer's tx waited for the whole backlog"
    );
}

#[actix_rt::test]
async fn a_dropped_peers_queued_sampled_txs_leave_no_cells_behind() {
    use crate::eth::cells::{cell_sidecar, without_blobs, CustodyBitmap};
    use crate::eth::SampledCells;
    use crate::testing::{cell_blob_tx, column_cells, sender};
    let pool = pool();
    let (ingest, _) = ingest(&pool, 1);
    let mut attacker = fake_peer(1);
    // Its junk gets it dropped after the first batch; a sampled tx waits behind the junk.
    let junk: Vec<PooledTx> = (0..2 * INGEST_BATCH as u64).map(unsigned).collect();
    let tx = cell_blob_tx(sender(9), 0, &[1]);
    let mask = CustodyBitmap::from_indices([1, 2, 3, 4]).expect("mask");
    let sidecar = cell_sidecar(&tx).expect("7594");
    let sampled = SampledCells::verify(sidecar, mask, column_cells(&tx, &mask)).expect("cells");
    let mut queued = attacker.send(vec![without_blobs(&tx)]);
    queued.cells.insert(*tx.hash(), sampled);
    let (flood, queued) = futures::join!(ingest.send(attacker.send(junk)), ingest.send(queued));
    assert!(flood.is_ok());
    assert_eq!(queued.expect("alive"), vec![Err(PoolError::Busy)]);
    // A deadline for a hung test, not a speed goal.
    let hangup = tokio::time::timeout(Duration::from_secs(60), attacker.hangups.next()).await;
    assert_eq!(hangup, Ok(Some(DisconnectReason::UselessPeer)));
    assert_eq!(ingest.send(HeldCells).await.expect("alive"), 0);
}

/// Records where the pool's admission hook ran and which txs it was given.
#[derive(Debug, Default)]
struct HookProbe(std::sync::Mutex<Vec<(std::thread::ThreadId, Vec<B256>)>>);

impl crate::txs::pool::AdmissionHook for HookProbe {
    fn admitted(
        &self,
        txs: &[Arc<crate::txs::pool::PoolTx>],
    ) -> Option<crate::txs::pool::AdmissionNote> {
        let hashes: Vec<B256> = txs.iter().map(|tx| tx.hash).collect();
        self.0
            .lock()
            .expect("lock")
            .push((std::thread::current().id(), hashes.clone()));
        Some(crate::txs::pool::AdmissionNote(Arc::new(hashes)))
    }
}

/// Collects the pool's events.
struct Events(mpsc::UnboundedSender<crate::txs::pool::NewTxs>);
impl Actor for Events {
    type Context = Context<Self>;
}
impl Handler<crate::txs::pool::NewTxs> for Events {
    type Result = ();
    fn handle(&mut self, msg: crate::txs::pool::NewTxs, _: &mut Context<Self>) {
        let _ = self.0.unbounded_send(msg);
    }
}

#[actix_rt::test]
async fn the_verifier_thread_runs_the_pools_admission_hook_and_only_its_recipient_gets_the_note() {
    let pool = pool();
    let probe = Arc::new(HookProbe::default());
    let (events, mut heard) = mpsc::unbounded();
    let (noted, mut heard_noted) = mpsc::unbounded();
    assert!(pool.set_admission_hook(probe.clone(), Events(noted).start().recipient()));
    let (other, _) = mpsc::unbounded();
    assert!(
        !pool.set_admission_hook(
            Arc::new(HookProbe::default()),
            Events(other).start().recipient()
        ),
        "the first hook stays"
    );
    pool.subscribe(Events(events).start().recipient());
    let (ingest, _) = ingest(&pool, 1);
    let peer = fake_peer(1);
    let (good, stale) = (signed(1, 5), signed(1, 4));
    let outcomes = ingest
        .send(peer.send(vec![stale, good.clone()]))
        .await
        .expect("alive");
    assert_eq!(outcomes[1], Ok(*good.hash()));
    // Only the accepted tx, on the verifier's thread, not this one.
    let calls = probe.0.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1);
    assert_ne!(calls[0].0, std::thread::current().id());
    assert_eq!(calls[0].1, vec![*good.hash()]);
    // A subscriber gets the event without a note; the hook's recipient with it.
    let event = tokio::time::timeout(Duration::from_secs(5), heard.next())
        .await
        .expect("an event")
        .expect("open");
    assert!(event.note.is_none());
    let event = tokio::time::timeout(Duration::from_secs(5), heard_noted.next())
        .await
        .expect("an event")
        .expect("open");
    let note = event.note.expect("the hook's note");
    assert_eq!(
        note.0.downcast_ref::<Vec<B256>>(),
        Some(&vec![*good.hash()])
    );
}
