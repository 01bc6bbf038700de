//! The eth/66 request envelope (EIP-2481): `[request-id, payload]`.

use alloy_rlp::{BufMut, Decodable, Encodable, Header};

/// A request or response tagged with its request id (EIP-2481).
///
/// The requester chooses the id (any u64; need not be sequential, duplicates allowed) and
/// the responder mirrors it. On the wire: `[request-id: P, payload]`, where the payload is
/// the message's own RLP item (usually a list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestPair<T> {
    /// The request id, mirrored by the responder.
    pub request_id: u64,
    /// The request or response body.
    pub message: T,
}

impl<T> RequestPair<T> {
    /// Pairs `message` with `request_id`.
    pub const fn new(request_id: u64, message: T) -> Self {
        Self {
            request_id,
            message,
        }
    }

    /// Builds the response to this request: same id, new body.
    pub fn answer<R>(&self, message: R) -> RequestPair<R> {
        RequestPair {
            request_id: self.request_id,
            message,
        }
    }
}

impl<T: Encodable> Encodable for RequestPair<T> {
    fn encode(&self, out: &mut dyn BufMut) {
        let payload_length = self.request_id.length() + self.message.length();
        Header {
            list: true,
            payload_length,
        }
        .encode(out);
        self.request_id.encode(out);
        self.message.encode(out);
    }

    fn length(&self) -> usize {
        let payload_length = self.request_id.length() + self.message.length();
        payload_length + alloy_rlp::length_of_length(payload_length)
    }
}

impl<T: Decodable> Decodable for RequestPair<T> {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        decode_list(buf, |payload| {
            Ok(Self {
                request_id: u64::decode(payload)?,
                message: T::decode(payload)?,
            })
        })
    }
}

/// Decodes one RLP list with `fields`, which must consume the list's payload exactly: a
/// missing element is `InputTooShort`, an extra one `ListLengthMismatch` (eth messages have
/// fixed arity, unlike the EIP-8 handshake packets).
pub(super) fn decode_list<T>(
    buf: &mut &[u8],
    fields: impl FnOnce(&mut &[u8]) -> alloy_rlp::Result<T>,
) -> alloy_rlp::Result<T> {
    let header = Header::decode(buf)?;
    if !header.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    if buf.len() < header.payload_length {
        return Err(alloy_rlp::Error::InputTooShort);
    }
    let (mut payload, rest) = buf.split_at(header.payload_length);
    let value = fields(&mut payload)?;
    if !payload.is_empty() {
        return Err(alloy_rlp::Error::ListLengthMismatch {
            expected: header.payload_length - payload.len(),
            got: header.payload_length,
        });
    }
    *buf = rest;
    Ok(value)
}
