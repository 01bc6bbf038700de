//! Test fixtures shared by the actor unit tests: transactions, pools, in-memory peers.

use std::sync::Arc;

use alloy_consensus::{Signed, TxEip1559, TxEip4844, TxEip4844WithSidecar, TxLegacy};
use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, Bytes48};
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{Address, Bytes, Signature, TxKind, B512, U256};
use futures::channel::mpsc;
use futures::StreamExt;

use crate::eth::{EthMessage, EthVersion, PooledTx};
use crate::peer::{memory_connection, Outbound, PeerActor, PeerHandle, PeerId};
use crate::txs::pool::{InMemoryTxPool, PoolTx, TxPool};

/// A peer id whose bytes are all `n`.
pub fn peer_id(n: u8) -> PeerId {
    B512::repeat_byte(n)
}

/// A sender address numbered `n`.
pub fn sender(n: u64) -> Address {
    Address::left_padding_from(&n.to_be_bytes())
}

/// An EIP-1559 transfer from `from` with `nonce` and `calldata` bytes of input. The pool
/// used in these tests does not validate, so the signature is a fixed test value; the
/// sender's address goes into the calldata so that two senders' txs never share a hash.
pub fn tx(from: Address, nonce: u64, calldata: usize) -> PoolTx {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000 + 16 * calldata as u64,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x77)),
        value: U256::from(1),
        access_list: Default::default(),
        input: [from.as_slice(), &vec![0xab; calldata]].concat().into(),
    };
    PoolTx::new(
        PooledTx::Eip1559(Signed::new_unhashed(tx, Signature::test_signature())),
        from,
    )
}

/// A legacy transaction (for mixed-type checks).
pub fn legacy_tx(from: Address, nonce: u64) -> PoolTx {
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce,
        gas_price: 1_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(1),
        input: Bytes::new(),
    };
    PoolTx::new(
        PooledTx::Legacy(Signed::new_unhashed(tx, Signature::test_signature())),
        from,
    )
}

/// A blob transaction with a one-blob sidecar.
pub fn blob_tx(from: Address, nonce: u64) -> PoolTx {
    let tx = TxEip4844 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(0x77),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: vec![Default::default()],
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    let sidecar = BlobTransactionSidecarVariant::Eip4844(BlobTransactionSidecar {
        blobs: vec![Blob::ZERO],
        commitments: vec![Bytes48::ZERO],
        proofs: vec![Bytes48::ZERO],
    });
    let signed = Signed::new_unhashed(
        TxEip4844WithSidecar { tx, sidecar },
        Signature::test_signature(),
    );
    PoolTx::new(PooledTx::Eip4844(signed), from)
}

/// An empty in-memory pool behind the trait object the actors take.
pub fn pool() -> (Arc<InMemoryTxPool>, Arc<dyn TxPool>) {
    let pool = Arc::new(InMemoryTxPool::new());
    let shared: Arc<dyn TxPool> = pool.clone();
    (pool, shared)
}

/// A peer actor on an in-memory connection buffering `capacity` writes. Its write
/// timeout is an hour: tests that keep a connection unread decide themselves when that
/// matters (see the peer tests for the timeout itself).
pub fn spawn_peer(
    n: u8,
    version: EthVersion,
    pool: Arc<dyn TxPool>,
    capacity: usize,
) -> (PeerHandle, mpsc::Receiver<Outbound>) {
    let (sink, rx) = memory_connection(capacity);
    let actor = PeerActor::new(peer_id(n), version, pool, sink)
        .write_timeout(std::time::Duration::from_secs(3600));
    (actor.spawn(), rx)
}

/// The next eth message written to `rx`, or `None` if nothing arrives within 5 s (a
/// deadline for a hung test, not a delay: it returns as soon as a message is there).
pub async fn next_eth(rx: &mut mpsc::Receiver<Outbound>) -> Option<EthMessage> {
    match actix_rt::time::timeout(std::time::Duration::from_secs(5), rx.next()).await {
        Ok(Some(Outbound::Eth(message))) => Some(message),
        _ => None,
    }
}

/// A blob transaction of one blob per `fills` byte (each blob that byte repeated) with a
/// real EIP-7594 sidecar (commitments and 128 cell proofs per blob, computed by c-kzg).
pub fn cell_blob_tx(from: Address, nonce: u64, fills: &[u8]) -> PooledTx {
    use alloy_eips::eip7594::BlobTransactionSidecarEip7594;
    let sidecar = BlobTransactionSidecarEip7594::try_from_blobs_with_settings(
        fills.iter().map(|f| Blob::repeat_byte(*f)).collect(),
        alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get(),
    )
    .expect("kzg");
    let tx = TxEip4844 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: from,
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    let sidecar = BlobTransactionSidecarVariant::Eip7594(sidecar);
    PooledTx::Eip4844(Signed::new_unhashed(
        TxEip4844WithSidecar { tx, sidecar },
        Signature::test_signature(),
    ))
}

/// The cells of `tx`'s blobs at `mask`'s columns, column by column (as Cells carries them).
pub fn column_cells(
    tx: &PooledTx,
    mask: &crate::eth::CustodyBitmap,
) -> Vec<crate::eth::cells::Cell> {
    let PooledTx::Eip4844(signed) = tx else {
        return Vec::new();
    };
    let per_blob: Vec<Vec<crate::eth::cells::Cell>> = signed
        .tx()
        .sidecar
        .blobs()
        .iter()
        .map(|b| crate::eth::cells::cells_of_blob(b, mask).expect("cells"))
        .collect();
    (0..mask.count())
        .flat_map(|column| per_blob.iter().map(move |cells| cells[column]))
        .collect()
}
