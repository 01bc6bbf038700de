//! EIP-8070's sampler role between real nodes at eth/72: A and C hold a blob tx whole; B,
//! keeping columns 1-4, samples it once both announced every column, pools it with those
//! cells only, serves them (and the blobless tx) to eth/72 peers, and hides it from older
//! ones, which would need the blobs.

use alloy_primitives::B256;
use ethpeer_actors::eth::{
    Cells, CustodyBitmap, EthMessage, EthVersion, GetCells, GetPooledTransactions,
    PooledTransactions, RequestPair,
};
use ethpeer_actors::node::Node;
use ethpeer_actors::txs::inbox::BlobFetchPolicy;

use crate::common::testdata_or_skip;
use crate::node::{cell_proof_blob_tx, node_with, pooled_within};

/// Columns 1-4 (the consensus specs' minimal custody is 4 columns).
fn custody() -> CustodyBitmap {
    CustodyBitmap::from_indices([1, 2, 3, 4]).expect("mask")
}

/// The cells `peer` serves for `hash` at `mask`.
async fn cells_of(
    peer: &ethpeer_actors::peer::PeerHandle,
    hash: B256,
    mask: CustodyBitmap,
) -> Cells {
    let request = EthMessage::GetCells(GetCells {
        request_id: 0,
        hashes: vec![hash],
        mask,
    });
    match crate::fetch::request(peer, request).await {
        EthMessage::Cells(cells) => cells,
        other => panic!("{other:?}"),
    }
}

/// What `peer` answers to GetPooledTransactions for `hash`.
async fn pooled(peer: &ethpeer_actors::peer::PeerHandle, hash: B256) -> usize {
    let request =
        EthMessage::GetPooledTransactions(RequestPair::new(0, GetPooledTransactions(vec![hash])));
    match crate::fetch::request(peer, request).await {
        EthMessage::PooledTransactions(RequestPair {
            message: PooledTransactions(txs),
            ..
        }) => txs.len(),
        other => panic!("{other:?}"),
    }
}

#[actix_rt::test]
async fn a_sampler_pools_only_its_custody_cells_and_serves_them_at_eth72_only() {
    let dir = testdata_or_skip!();
    let tx = cell_proof_blob_tx(&dir, 603, 9);
    let hash = *tx.hash();
    // A salt under which B samples this tx (85% of salts do).
    let policy = (0u8..=255)
        .map(|n| BlobFetchPolicy::new(custody(), 15).salted(B256::repeat_byte(n)))
        .find(|p| !p.fetches_whole(&hash))
        .expect("a sampling salt");
    let a = node_with(&dir, 0xa1, &[EthVersion::Eth72]).await;
    let c = node_with(&dir, 0xa3, &[EthVersion::Eth72]).await;
    let versions = [EthVersion::Eth71, EthVersion::Eth72];
    let b: Node = crate::node::node_with_config(&dir, 0xa2, &versions, |config| {
        config.blob_fetch = policy;
        // geth's 500 ms and more: both announcements are in before B fetches the tx, so
        // the sample does not hang on the 2 s availability timeout when the machine is
        // loaded (it would then fetch the tx whole, as it should).
        config.arrival_wait = std::time::Duration::from_secs(1);
    })
    .await;
    b.dial(a.local_addr(), a.node_id())
        .await
        .expect("B dials A");
    b.dial(c.local_addr(), c.node_id())
        .await
        .expect("B dials C");
    crate::node::registered(&a, 1, "A").await;
    crate::node::registered(&c, 1, "C").await;
    assert!(c.internals().pool.add(vec![tx.clone()], None)[0].is_ok());
    assert!(a.internals().pool.add(vec![tx.clone()], None)[0].is_ok());

    let got = pooled_within(&b, hash, "B").await;
    // Sampled: no blobs, the custody columns' cells only (4 cells of one blob).
    assert_eq!(got.cells.as_ref().map(|c| c.mask()), Some(custody()));
    assert!(ethpeer_actors::eth::cells::is_blobless(&got.tx));

    // An eth/72 peer gets the blobless tx and the custody cells, but not columns B lacks.
    let e = node_with(&dir, 0xa5, &[EthVersion::Eth72]).await;
    let to_b = e
        .dial(b.local_addr(), b.node_id())
        .await
        .expect("E dials B");
    assert_eq!(pooled(&to_b, hash).await, 1);
    let served = cells_of(&to_b, hash, custody()).await;
    assert_eq!((served.hashes, served.cells[0].len()), (vec![hash], 4));
    assert!(cells_of(&to_b, hash, CustodyBitmap::data())
        .await
        .hashes
        .is_empty());
    // An eth/71 peer would need the blobs: for it B does not have the tx.
    let d = node_with(&dir, 0xa4, &[EthVersion::Eth71]).await;
    let old = d
        .dial(b.local_addr(), b.node_id())
        .await
        .expect("D dials B");
    assert_eq!(old.version, EthVersion::Eth71);
    assert_eq!(pooled(&old, hash).await, 0);
}
