//! Transaction gossip messages: Transactions, the two shapes of NewPooledTransactionHashes,
//! GetPooledTransactions and PooledTransactions (blob txs in network form).

use alloy_consensus::{EthereumTxEnvelope, TxEip4844WithSidecar, TxEnvelope};
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::{Bytes, B256};
use alloy_rlp::{RlpDecodable, RlpDecodableWrapper, RlpEncodable, RlpEncodableWrapper};

use super::EthWireError;

/// A transaction as gossiped in PooledTransactions: blob transactions carry their sidecar
/// (`0x03 || rlp([tx_payload_body, blobs, commitments, proofs])`, EIP-4844 "networking"), in
/// either the EIP-4844 (v0) or the EIP-7594 cell-proof (v1) wrapper.
pub type PooledTx = EthereumTxEnvelope<TxEip4844WithSidecar<BlobTransactionSidecarVariant>>;

/// Transactions (0x02): full transactions in their consensus (block) encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct Transactions(pub Vec<TxEnvelope>);

/// NewPooledTransactionHashes (0x08) for eth/66 and eth/67: hashes only.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct NewPooledTransactionHashes66(pub Vec<B256>);

/// NewPooledTransactionHashes (0x08) for eth/68+ (EIP-5793):
/// `[txtypes: B, [txsize: P, ...], [txhash: B_32, ...]]`.
///
/// `types` is one byte string, not a list. The three lists must have the same length;
/// [`NewPooledTransactionHashes68::validate`] checks it and the decoder calls it.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct NewPooledTransactionHashes68 {
    /// One EIP-2718 type byte per transaction.
    pub types: Bytes,
    /// The consensus-encoding size of each transaction (for blob txs: with sidecar).
    pub sizes: Vec<u64>,
    /// The transaction hashes.
    pub hashes: Vec<B256>,
}

/// The rule of the eth/68 and eth/72 announcements: the type, size and hash lists have one
/// entry per transaction (geth disconnects otherwise).
pub(crate) fn announcement_lengths(
    types: usize,
    sizes: usize,
    hashes: usize,
) -> Result<(), EthWireError> {
    if types != sizes || sizes != hashes {
        return Err(EthWireError::AnnouncementLengthMismatch {
            types,
            sizes,
            hashes,
        });
    }
    Ok(())
}

impl NewPooledTransactionHashes68 {
    /// Checks that the three lists have equal length (geth disconnects otherwise).
    pub fn validate(&self) -> Result<(), EthWireError> {
        announcement_lengths(self.types.len(), self.sizes.len(), self.hashes.len())
    }

    /// Iterates over `(type, size, hash)` triples.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u64, &B256)> {
        self.types
            .iter()
            .zip(&self.sizes)
            .zip(&self.hashes)
            .map(|((t, s), h)| (*t, *s, h))
    }
}

/// Most hashes we ask for in one GetPooledTransactions (geth's tx fetcher
/// `maxTxRetrievals`, 256).
pub const MAX_TX_RETRIEVALS: usize = 256;
/// Most announced bytes we ask for in one GetPooledTransactions (geth's tx fetcher
/// `maxTxRetrievalSize`, 128 KiB).
pub const MAX_TX_RETRIEVAL_SIZE: u64 = 128 * 1024;

/// GetPooledTransactions (0x09) body: the hashes wanted.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct GetPooledTransactions(pub Vec<B256>);

/// PooledTransactions (0x0a) body: the transactions found, in request order.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct PooledTransactions(pub Vec<PooledTx>);

/// GetNodeData (0x0d, eth/66 only) body: state trie node hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct GetNodeData(pub Vec<B256>);

/// NodeData (0x0e, eth/66 only) body: the trie nodes found.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct NodeData(pub Vec<Bytes>);
