//! eth/71 block access list exchange (EIP-8159): GetBlockAccessLists (0x12) and
//! BlockAccessLists (0x13).
//!
//! A block access list (BAL, EIP-7928) is carried as its raw RLP list: the receiver checks
//! `keccak256(raw)` against the header's `block-access-list-hash`, so the bytes must reach
//! it exactly as sent. The current EIP text and go-ethereum v1.17.10
//! (`eth/protocols/eth/protocol.go`, `BlockAccessListResponse`) signal an unavailable BAL
//! with the RLP empty string `0x80`, because the empty list `0xc0` is itself a valid BAL.

use alloy_primitives::{keccak256, Bytes, B256};
use alloy_rlp::{BufMut, Decodable, Encodable, Header, RlpDecodableWrapper, RlpEncodableWrapper};

/// The RLP empty string, the entry for a block whose access list the server lacks.
pub const EMPTY_STRING_CODE: u8 = alloy_rlp::EMPTY_STRING_CODE;

/// GetBlockAccessLists (0x12, eth/71+) body: the block hashes whose BALs are wanted.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct GetBlockAccessLists(pub Vec<B256>);

/// One position of a BlockAccessLists response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockAccessListEntry {
    /// The server does not have this block's BAL (unknown block, pre-Amsterdam block,
    /// pruned): the RLP empty string.
    Unavailable,
    /// The BAL as its complete RLP list encoding (header included), kept byte for byte.
    Available(Bytes),
}

impl BlockAccessListEntry {
    /// `keccak256` of the encoded BAL (what the header commits to), `None` if unavailable.
    pub fn hash(&self) -> Option<B256> {
        match self {
            Self::Unavailable => None,
            Self::Available(raw) => Some(keccak256(raw)),
        }
    }
}

impl Encodable for BlockAccessListEntry {
    fn encode(&self, out: &mut dyn BufMut) {
        match self {
            Self::Unavailable => out.put_u8(EMPTY_STRING_CODE),
            Self::Available(raw) => out.put_slice(raw),
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Unavailable => 1,
            Self::Available(raw) => raw.len(),
        }
    }
}

impl Decodable for BlockAccessListEntry {
    /// Accepts the empty string or one complete RLP list; any other string is malformed
    /// (a BAL is a list, and "unavailable" has exactly one encoding).
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let start = *buf;
        let header = Header::decode(buf)?;
        if !header.list {
            return if header.payload_length == 0 {
                Ok(Self::Unavailable)
            } else {
                Err(alloy_rlp::Error::UnexpectedString)
            };
        }
        if buf.len() < header.payload_length {
            return Err(alloy_rlp::Error::InputTooShort);
        }
        let header_length = start.len() - buf.len();
        let total = header_length + header.payload_length;
        *buf = &buf[header.payload_length..];
        Ok(Self::Available(Bytes::copy_from_slice(&start[..total])))
    }
}

/// BlockAccessLists (0x13, eth/71+) body: one entry per requested hash, in request order,
/// possibly cut short from the tail by the server's response limits.
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodableWrapper, RlpDecodableWrapper)]
pub struct BlockAccessLists(pub Vec<BlockAccessListEntry>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::RequestPair;

    fn hex(s: &str) -> Vec<u8> {
        alloy_primitives::hex::decode(s).expect("hex")
    }

    #[test]
    fn entries_keep_their_bytes_and_the_empty_string_means_unavailable() {
        // [7, [0x80, 0xc0, [[0x01]]]]: unavailable, the empty BAL, a one-item BAL.
        let wire = hex("c707c580c0c2c101");
        let decoded = RequestPair::<BlockAccessLists>::decode(&mut wire.as_slice()).expect("ok");
        assert_eq!(decoded.request_id, 7);
        let entries = &decoded.message.0;
        assert_eq!(entries[0], BlockAccessListEntry::Unavailable);
        assert_eq!(
            entries[1],
            BlockAccessListEntry::Available(Bytes::from(hex("c0")))
        );
        assert_eq!(
            entries[2],
            BlockAccessListEntry::Available(Bytes::from(hex("c2c101")))
        );
        assert_eq!(entries[1].hash(), Some(keccak256([0xc0])));
        assert_eq!(entries[0].hash(), None);
        let mut out = Vec::new();
        decoded.encode(&mut out);
        assert_eq!(out, wire);
    }

    #[test]
    fn non_empty_strings_and_truncated_lists_are_rejected() {
        for bad in ["c501c382abcd", "c403c3c201", "c20181"] {
            let wire = hex(bad);
            assert!(
                RequestPair::<BlockAccessLists>::decode(&mut wire.as_slice()).is_err(),
                "{bad} decoded"
            );
        }
    }

    #[test]
    fn request_round_trips() {
        let request = RequestPair::new(1, GetBlockAccessLists(vec![B256::repeat_byte(0xab)]));
        let mut out = Vec::new();
        request.encode(&mut out);
        assert_eq!(out[..3], hex("e301e1")[..]);
        let back = RequestPair::<GetBlockAccessLists>::decode(&mut out.as_slice()).expect("ok");
        assert_eq!(back, request);
    }
}
