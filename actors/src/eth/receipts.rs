//! Receipt requests and responses in their three shapes: eth/66-68 (typed receipts with
//! bloom), eth/69 (flat receipts without bloom, EIP-7642) and eth/70 (paged, EIP-7975).

use alloy_consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy_primitives::{Log, B256};
use alloy_rlp::{Decodable, RlpDecodable, RlpDecodableWrapper, RlpEncodable, RlpEncodableWrapper};

use super::request::decode_list;

/// GetReceipts (0x0f) body for eth/66-69: the block hashes wanted.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct GetReceipts(pub Vec<B256>);

/// GetReceipts (0x0f) for eth/70 (EIP-7975):
/// `[request-id, firstBlockReceiptIndex, [blockhash, ...]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct GetReceipts70 {
    /// The request id, mirrored by the responder.
    pub request_id: u64,
    /// Index of the first receipt wanted in the first block (to continue a partial reply).
    pub first_block_receipt_index: u64,
    /// The block hashes wanted.
    pub block_hashes: Vec<B256>,
}

/// Receipts (0x10) body for eth/66-68: per block, the receipts in their network encoding
/// with bloom (legacy: list; typed: `type || rlp(receipt)` as a byte string).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct Receipts(pub Vec<Vec<ReceiptEnvelope>>);

/// A receipt as sent from eth/69 on: `[tx-type, post-state-or-status, cumulative-gas, logs]`,
/// one flat list for every type, without the bloom (EIP-7642).
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable)]
pub struct Receipt69 {
    /// EIP-2718 type of the transaction the receipt belongs to (0 for legacy).
    pub tx_type: u8,
    /// Status (EIP-658) or, before Byzantium, the post-state root.
    pub status: Eip658Value,
    /// Gas used in the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// Logs emitted.
    pub logs: Vec<Log>,
}

impl Decodable for Receipt69 {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        decode_list(buf, |payload| {
            let tx_type = u8::decode(payload)?;
            if TxType::try_from(tx_type).is_err() {
                return Err(alloy_rlp::Error::Custom(
                    "unknown transaction type in receipt",
                ));
            }
            Ok(Self {
                tx_type,
                status: Eip658Value::decode(payload)?,
                cumulative_gas_used: u64::decode(payload)?,
                logs: Vec::<Log>::decode(payload)?,
            })
        })
    }
}

impl Receipt69 {
    /// Converts to the eth/66-68 form, recomputing the bloom from the logs (eth/69 peers
    /// leave it out because it can be derived).
    pub fn into_envelope(self) -> ReceiptEnvelope {
        let receipt = Receipt {
            status: self.status,
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs,
        };
        let with_bloom = ReceiptWithBloom::from(receipt);
        match TxType::try_from(self.tx_type) {
            Ok(TxType::Eip2930) => ReceiptEnvelope::Eip2930(with_bloom),
            Ok(TxType::Eip1559) => ReceiptEnvelope::Eip1559(with_bloom),
            Ok(TxType::Eip4844) => ReceiptEnvelope::Eip4844(with_bloom),
            Ok(TxType::Eip7702) => ReceiptEnvelope::Eip7702(with_bloom),
            // The decoder only admits known types; legacy is the only one left.
            _ => ReceiptEnvelope::Legacy(with_bloom),
        }
    }

    /// Converts from the eth/66-68 form, dropping the bloom.
    pub fn from_envelope(envelope: &ReceiptEnvelope) -> Self {
        let tx_type = envelope.tx_type() as u8;
        let (ReceiptEnvelope::Legacy(with_bloom)
        | ReceiptEnvelope::Eip2930(with_bloom)
        | ReceiptEnvelope::Eip1559(with_bloom)
        | ReceiptEnvelope::Eip4844(with_bloom)
        | ReceiptEnvelope::Eip7702(with_bloom)) = envelope;
        let receipt = with_bloom.receipt.clone();
        Self {
            tx_type,
            status: receipt.status,
            cumulative_gas_used: receipt.cumulative_gas_used,
            logs: receipt.logs,
        }
    }
}

/// Receipts (0x10) body for eth/69: per block, flat receipts without bloom.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct Receipts69(pub Vec<Vec<Receipt69>>);

/// Receipts (0x10) for eth/70 (EIP-7975):
/// `[request-id, lastBlockIncomplete, [[receipt, ...], ...]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Receipts70 {
    /// The request id of the GetReceipts being answered.
    pub request_id: u64,
    /// Set when the last block's receipts were cut short to keep the reply under 10 MiB;
    /// the requester continues with `first_block_receipt_index`.
    pub last_block_incomplete: bool,
    /// Per block, flat receipts without bloom.
    pub receipts: Vec<Vec<Receipt69>>,
}
