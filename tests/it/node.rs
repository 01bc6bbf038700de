//! The whole subsystem (`node::Node`) twice over loopback: B dials A, a transaction added
//! to A's pool reaches B's pool, and A serves B the ethtest chain's headers and bodies.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use ethpeer_actors::chain::ChainStore;
use ethpeer_actors::eth::{genesis, EthVersion};
use ethpeer_actors::node::{DialError, Node, NodeConfig};
use ethpeer_actors::peer_set::Len;
use ethpeer_actors::session::SessionError;
use ethpeer_actors::txs::pool::{MemoryState, TxPool};
use secp256k1::SecretKey;

use crate::common::testdata_or_skip;
use crate::tx_validation::{rules, sender, signed, transfer};

async fn node(dir: &std::path::Path, key: u8) -> Node {
    node_with(dir, key, &EthVersion::ALL).await
}

/// A node on the ethtest chain (store with the 600 blocks, head state for the pool) with
/// key bytes `key`, offering `versions`, listening on 127.0.0.1:0.
pub(crate) async fn node_with(dir: &std::path::Path, key: u8, versions: &[EthVersion]) -> Node {
    node_with_config(dir, key, versions, |_| {}).await
}

/// [`node_with`], with `adjust` applied to its configuration last.
pub(crate) async fn node_with_config(
    dir: &std::path::Path,
    key: u8,
    versions: &[EthVersion],
    adjust: impl FnOnce(&mut NodeConfig),
) -> Node {
    node_from(dir, key, versions, adjust, crate::common::ethtest(dir)).await
}

/// [`node_with_config`] serving the chain (and receipts, if it has them) of `ethtest`.
pub(crate) async fn node_from(
    dir: &std::path::Path,
    key: u8,
    versions: &[EthVersion],
    adjust: impl FnOnce(&mut NodeConfig),
    ethtest: crate::common::Ethtest,
) -> Node {
    let spec = genesis::load_genesis(&dir.join("ethtest/genesis.json")).expect("genesis");
    let genesis_hash = ethtest.store.canonical_hash(0).expect("genesis");
    let config = NodeConfig::new(
        SecretKey::from_byte_array([key; 32]).expect("key"),
        "127.0.0.1:0".parse().expect("addr"),
        spec.config.chain_id,
        genesis::fork_schedule(&spec, genesis_hash),
        rules(),
    );
    let state =
        Arc::new(MemoryState::from_dump(&dir.join("ethtest/headstate.json")).expect("state"));
    let mut config = NodeConfig {
        arrival_wait: Duration::ZERO,
        eth_versions: versions.to_vec(),
        ..config
    };
    adjust(&mut config);
    Node::start(config, ethtest.store, state)
        .await
        .expect("starts")
}

#[actix_rt::test]
async fn a_transaction_added_at_a_reaches_b() {
    let dir = testdata_or_skip!();
    let (a, b) = (node(&dir, 0x91).await, node(&dir, 0x92).await);
    let url = a.enode().to_string();
    assert!(url.starts_with("enode://") && url.ends_with(&a.local_addr().to_string()));
    b.dial(a.local_addr(), a.node_id())
        .await
        .expect("B dials A");
    assert_eq!(b.internals().peer_set.send(Len).await.expect("alive"), 1);
    registered(&a, 1, "A").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let (_, key) = sender(&dir);
    let tx = signed(
        key,
        transfer(
            603,
            U256::from(1),
            21_000,
            TxKind::Call(Address::repeat_byte(3)),
            Bytes::new(),
        ),
    );
    let hash = *tx.hash();
    assert!(a.internals().pool.add(vec![tx], None)[0].is_ok());
    while b.internals().pool.get(&hash).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(5),
            "B never got the tx"
        );
        tokio::task::yield_now().await;
    }
}

#[actix_rt::test]
async fn a_serves_b_the_ethtest_chains_headers_and_bodies() {
    let dir = testdata_or_skip!();
    let (a, b) = (node(&dir, 0x94).await, node(&dir, 0x95).await);
    let peer = b
        .dial(a.local_addr(), a.node_id())
        .await
        .expect("B dials A");
    // The expectation is the chain file itself, not A's store.
    let blocks = crate::common::ethtest(&dir).blocks;
    // The last 64 headers, by number: exactly the chain's blocks 537..=600.
    let headers = crate::fetch::headers(&peer, 537, 64).await;
    let tail = &blocks[536..];
    assert_eq!(tail.len(), 64);
    let want: Vec<_> = tail.iter().map(|block| block.header.clone()).collect();
    assert_eq!(headers, want);

    // Their bodies, by hash: exactly the chain's.
    let hashes: Vec<B256> = want.iter().map(|h| h.hash_slow()).collect();
    let bodies = crate::fetch::bodies(&peer, hashes).await;
    assert_eq!(bodies.len(), 64);
    for (body, block) in bodies.iter().zip(tail) {
        assert_eq!(body, &block.body, "block {}", block.header.number);
    }
}

/// eth/71 and up (here eth/72): B asks A for block access lists of the (pre-Amsterdam) ethtest chain and an
/// unknown hash; every position is answered, in request order, with the empty string.
#[actix_rt::test]
async fn a_answers_bs_block_access_list_request_at_eth71_and_up() {
    use ethpeer_actors::eth::{
        BlockAccessListEntry, BlockAccessLists, EthMessage, GetBlockAccessLists, RequestPair,
    };
    let dir = testdata_or_skip!();
    let (a, b) = (node(&dir, 0x96).await, node(&dir, 0x97).await);
    let peer = b
        .dial(a.local_addr(), a.node_id())
        .await
        .expect("B dials A");
    assert_eq!(peer.version, EthVersion::LATEST);
    let head = a.internals().store.head().hash_slow();
    let hashes = vec![head, B256::repeat_byte(0xde), head];
    let answer = crate::fetch::request(
        &peer,
        EthMessage::GetBlockAccessLists(RequestPair::new(0, GetBlockAccessLists(hashes))),
    )
    .await;
    let EthMessage::BlockAccessLists(RequestPair {
        message: BlockAccessLists(entries),
        ..
    }) = answer
    else {
        panic!("{answer:?}")
    };
    assert_eq!(entries, vec![BlockAccessListEntry::Unavailable; 3]);
}

/// `hash` from `node`'s pool once it is there (polled every 10 ms; at most 10 s, then
/// the test fails naming `who`).
/// Waits until `node`'s peer set holds `peers` peers. A dial returns once the dialer's side
/// is up; the dialed node registers the inbound peer on its own schedule, and a blob tx
/// pooled before that never reaches the peer: a new peer is announced the pending plain
/// txs only (geth's `syncTransactions` leaves blob txs out too).
pub(crate) async fn registered(node: &Node, peers: usize, who: &str) {
    let what = format!("{who} registers {peers} peers");
    crate::common::poll::eventually_within(&what, Duration::from_secs(5), || async {
        node.internals().peer_set.send(Len).await.expect("alive") == peers
    })
    .await;
}

pub(crate) async fn pooled_within(
    node: &Node,
    hash: B256,
    who: &str,
) -> Arc<ethpeer_actors::txs::pool::PoolTx> {
    let what = format!("{who} pools {hash}");
    crate::common::poll::eventually_within(&what, Duration::from_secs(10), || async {
        node.internals().pool.get(&hash).is_some()
    })
    .await;
    node.internals().pool.get(&hash).expect("pooled, just seen")
}

/// The ethtest sender's blob tx with `nonce` and one blob of `fill` bytes, with an
/// EIP-7594 sidecar (cell proofs), as go-ethereum's suite makes them.
pub(crate) fn cell_proof_blob_tx(
    dir: &std::path::Path,
    nonce: u64,
    fill: u8,
) -> ethpeer_actors::eth::PooledTx {
    cell_proof_blobs_tx(dir, nonce, fill, 1)
}

/// [`cell_proof_blob_tx`] with `blobs` blobs (filled `fill`, `fill + 1`, ...): with more
/// than one blob the order of cells in Cells matters (geth's is blob by blob).
pub(crate) fn cell_proof_blobs_tx(
    dir: &std::path::Path,
    nonce: u64,
    fill: u8,
    blobs: u8,
) -> ethpeer_actors::eth::PooledTx {
    use alloy_consensus::{SignableTransaction, Signed, TxEip4844, TxEip4844WithSidecar};
    use alloy_eips::eip4844::Blob;
    use alloy_eips::eip7594::{BlobTransactionSidecarEip7594, BlobTransactionSidecarVariant};
    let (_, key) = sender(dir);
    let sidecar = BlobTransactionSidecarEip7594::try_from_blobs_with_settings(
        (0..blobs)
            .map(|i| Blob::repeat_byte(fill.wrapping_add(i)))
            .collect(),
        alloy_eips::eip4844::env_settings::EnvKzgSettings::Default.get(),
    )
    .expect("kzg");
    let tx = TxEip4844 {
        chain_id: rules().chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: Address::repeat_byte(7),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 1_000_000_000,
        input: Default::default(),
    };
    let signature =
        alloy_consensus::crypto::secp256k1::sign_message(key, tx.signature_hash()).expect("signs");
    let sidecar = BlobTransactionSidecarVariant::Eip7594(sidecar);
    ethpeer_actors::eth::PooledTx::Eip4844(Signed::new_unhashed(
        TxEip4844WithSidecar { tx, sidecar },
        signature,
    ))
}

/// A blob tx pooled at A reaches B's pool whole: at eth/72 as a blobless tx whose 64 data
/// columns B fetches with GetCells and verifies, at eth/71 with its blobs in
/// PooledTransactions.
#[actix_rt::test]
async fn a_blob_tx_crosses_from_a_to_b_at_eth72_by_cells_and_at_eth71_whole() {
    let dir = testdata_or_skip!();
    for (key, version) in [(0x98u8, EthVersion::Eth72), (0x9a, EthVersion::Eth71)] {
        let a = node(&dir, key).await;
        let b = node_with(&dir, key + 1, &[version]).await;
        let peer = b
            .dial(a.local_addr(), a.node_id())
            .await
            .expect("B dials A");
        assert_eq!(peer.version, version);
        registered(&a, 1, "A").await;
        let tx = cell_proof_blob_tx(&dir, 603, 1);
        let hash = *tx.hash();
        assert!(a.internals().pool.add(vec![tx.clone()], None)[0].is_ok());
        let got = pooled_within(&b, hash, &format!("{version}: B")).await;
        // The blobs B pooled are A's, rebuilt from cells at eth/72.
        assert_eq!(got.tx, tx, "{version}");
        let cells_in = |node: &Node| {
            let slot = ethpeer_actors::eth::EthMessageId::Cells as usize;
            node.internals().wire.messages_in[slot].load(std::sync::atomic::Ordering::Relaxed)
        };
        let want = u64::from(version == EthVersion::Eth72);
        assert_eq!(cells_in(&b), want, "{version}: Cells replies B got");
    }
}

#[actix_rt::test]
async fn dialing_ourselves_is_refused() {
    let dir = testdata_or_skip!();
    let a = node(&dir, 0x93).await;
    let error = a
        .dial(a.local_addr(), a.node_id())
        .await
        .expect_err("refused");
    assert!(
        matches!(error, DialError::Session(SessionError::ConnectedToSelf)),
        "{error}"
    );
}
