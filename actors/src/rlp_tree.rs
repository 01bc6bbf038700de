//! A schema-free view of RLP: any well-formed item as a tree of byte strings and lists.
//! Used by `ethpeer rlp decode` and by the generic RLP conformance tests.

use alloy_rlp::{BufMut, Encodable, Header};

/// One RLP item: a byte string or a list of items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RlpItem {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<RlpItem>),
}

/// Deepest list nesting accepted by [`RlpItem::decode_exact`]; deeper input is refused
/// rather than risking the stack on hostile data.
pub const MAX_RLP_DEPTH: usize = 1024;

/// Why bytes are not exactly one canonical RLP item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RlpTreeError {
    /// The item is malformed or not canonical.
    #[error("invalid RLP at byte {offset}: {source}")]
    Rlp {
        /// Offset of the item that failed.
        offset: usize,
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
    /// Bytes follow the first complete item.
    #[error("{trailing} trailing bytes after the first item")]
    TrailingBytes {
        /// How many bytes were left.
        trailing: usize,
    },
    /// Lists nest deeper than [`MAX_RLP_DEPTH`].
    #[error("lists nested deeper than {max}")]
    TooDeep {
        /// The limit.
        max: usize,
    },
}

impl RlpItem {
    /// Decodes `input`, which must be exactly one canonical item.
    pub fn decode_exact(input: &[u8]) -> Result<Self, RlpTreeError> {
        let mut buf = input;
        let item = Self::decode_one(&mut buf, input.len(), 0)?;
        if !buf.is_empty() {
            return Err(RlpTreeError::TrailingBytes {
                trailing: buf.len(),
            });
        }
        Ok(item)
    }

    /// Decodes the first item of `buf` and advances past it.
    fn decode_one(buf: &mut &[u8], total: usize, depth: usize) -> Result<Self, RlpTreeError> {
        if depth > MAX_RLP_DEPTH {
            return Err(RlpTreeError::TooDeep { max: MAX_RLP_DEPTH });
        }
        let offset = total - buf.len();
        let rlp = |source| RlpTreeError::Rlp { offset, source };
        // Header::decode enforces canonical forms: no leading zeros in lengths, single
        // bytes below 0x80 not wrapped, long forms only for payloads over 55 bytes.
        let header = Header::decode(buf).map_err(rlp)?;
        if buf.len() < header.payload_length {
            return Err(rlp(alloy_rlp::Error::InputTooShort));
        }
        let (mut payload, rest) = buf.split_at(header.payload_length);
        *buf = rest;
        if !header.list {
            return Ok(Self::Bytes(payload.to_vec()));
        }
        let mut items = Vec::new();
        while !payload.is_empty() {
            items.push(Self::decode_one(&mut payload, total, depth + 1)?);
        }
        Ok(Self::List(items))
    }

    /// A JSON view: byte strings as `0x`-prefixed hex, lists as arrays.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Bytes(bytes) => {
                serde_json::Value::String(format!("0x{}", alloy_primitives::hex::encode(bytes)))
            }
            Self::List(items) => {
                serde_json::Value::Array(items.iter().map(Self::to_json).collect())
            }
        }
    }

    fn payload_length(&self) -> usize {
        match self {
            Self::Bytes(bytes) => bytes.as_slice().length(),
            Self::List(items) => items.iter().map(Encodable::length).sum(),
        }
    }
}

impl Encodable for RlpItem {
    fn encode(&self, out: &mut dyn BufMut) {
        match self {
            Self::Bytes(bytes) => bytes.as_slice().encode(out),
            Self::List(items) => {
                Header {
                    list: true,
                    payload_length: self.payload_length(),
                }
                .encode(out);
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Bytes(_) => self.payload_length(),
            Self::List(_) => {
                let payload = self.payload_length();
                payload + alloy_rlp::length_of_length(payload)
            }
        }
    }
}
