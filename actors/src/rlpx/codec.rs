//! RLPx framing as two tokio-util codecs, one per direction, so that `FramedWrite` and
//! `FramedRead` can each own one: AES-256-CTR with the aes secret and a zero IV (one
//! keystream per direction), MACs checked before decrypting, frame size as u24, message ids
//! RLP-encoded, payloads snappy-compressed once both Hellos said p2p version 5.

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy_rlp::{Decodable, Encodable};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::handshake::Secrets;
use super::mac::MacState;
use super::{RlpxError, MAX_UNCOMPRESSED_SIZE};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Largest frame body (the 24-bit frame-size field).
pub const MAX_FRAME_SIZE: usize = (1 << 24) - 1;

/// One message as carried in a frame: its id (p2p ids 0x00-0x0f, capabilities from 0x10)
/// and its payload (uncompressed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RlpxMessage {
    /// The message id.
    pub id: u64,
    /// The RLP payload.
    pub payload: Bytes,
}

/// Builds both directions' codecs from the handshake secrets.
pub fn codecs(secrets: Secrets) -> (RlpxEncoder, RlpxDecoder) {
    let cipher = || Aes256Ctr::new(&secrets.aes_secret.0.into(), &[0u8; 16].into());
    let encoder = RlpxEncoder {
        cipher: cipher(),
        mac: MacState::new(secrets.egress_mac.clone(), secrets.mac_secret),
        snappy: false,
    };
    let decoder = RlpxDecoder {
        cipher: cipher(),
        mac: MacState::new(secrets.ingress_mac, secrets.mac_secret),
        snappy: false,
        frame_size: None,
        max_payload: MAX_UNCOMPRESSED_SIZE,
    };
    (encoder, decoder)
}

/// The egress half: encrypts and MACs messages into frames.
pub struct RlpxEncoder {
    cipher: Aes256Ctr,
    mac: MacState,
    snappy: bool,
}

impl RlpxEncoder {
    /// Compress payloads from now on (after Hello, when both sides speak p2p v5).
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on;
    }
}

impl Encoder<RlpxMessage> for RlpxEncoder {
    type Error = RlpxError;

    fn encode(&mut self, message: RlpxMessage, dst: &mut BytesMut) -> Result<(), RlpxError> {
        let payload = if self.snappy && !message.payload.is_empty() {
            Bytes::from(snap::raw::Encoder::new().compress_vec(&message.payload)?)
        } else {
            message.payload
        };
        let size = message.id.length() + payload.len();
        if size > MAX_FRAME_SIZE {
            return Err(RlpxError::FrameTooLarge {
                size,
                limit: MAX_FRAME_SIZE,
            });
        }
        let mut header = [0u8; 16];
        header[..3].copy_from_slice(&(size as u32).to_be_bytes()[1..]);
        // header-data = rlp([capability-id, context-id]) = [0, 0], always zero now.
        header[3..6].copy_from_slice(&[0xc2, 0x80, 0x80]);
        self.cipher.apply_keystream(&mut header);
        let header_mac = self.mac.header_mac(&header);
        let padded = size.div_ceil(16) * 16;
        dst.reserve(32 + padded + 16);
        dst.put_slice(&header);
        dst.put_slice(&header_mac);
        let start = dst.len();
        message.id.encode(dst);
        dst.put_slice(&payload);
        dst.put_bytes(0, padded - size);
        self.cipher.apply_keystream(&mut dst[start..]);
        let frame_mac = self.mac.frame_mac(&dst[start..]);
        dst.put_slice(&frame_mac);
        Ok(())
    }
}

/// The ingress half: checks MACs, decrypts frames and yields messages.
pub struct RlpxDecoder {
    cipher: Aes256Ctr,
    mac: MacState,
    snappy: bool,
    /// Size of the frame whose header was read and whose body we wait for.
    frame_size: Option<usize>,
    /// Largest (uncompressed) payload accepted.
    max_payload: usize,
}

impl RlpxDecoder {
    /// Decompress payloads from now on (after Hello, when both sides speak p2p v5).
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on;
    }

    /// Lowers the largest accepted payload (e.g. to Hello's 2 KiB before the handshake ends).
    pub fn set_max_payload(&mut self, max: usize) {
        self.max_payload = max.min(MAX_UNCOMPRESSED_SIZE);
    }
}

impl Decoder for RlpxDecoder {
    type Item = RlpxMessage;
    type Error = RlpxError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RlpxMessage>, RlpxError> {
        let size = match self.frame_size {
            Some(size) => size,
            None => {
                if src.len() < 32 {
                    src.reserve(32 - src.len());
                    return Ok(None);
                }
                let mut header: [u8; 16] =
                    src[..16].try_into().map_err(|_| RlpxError::HeaderMac)?;
                // Authenticate before decrypting.
                if !constant_time_eq(&self.mac.header_mac(&header), &src[16..32]) {
                    return Err(RlpxError::HeaderMac);
                }
                self.cipher.apply_keystream(&mut header);
                src.advance(32);
                let size = usize::from(header[0]) << 16
                    | usize::from(header[1]) << 8
                    | usize::from(header[2]);
                // Even compressed, a frame cannot be larger than the payload it inflates to
                // by more than snappy's worst case; refuse early what cannot be valid.
                let limit = snap::raw::max_compress_len(self.max_payload) + 16;
                if size > limit {
                    return Err(RlpxError::FrameTooLarge { size, limit });
                }
                self.frame_size = Some(size);
                size
            }
        };
        let padded = size.div_ceil(16) * 16;
        if src.len() < padded + 16 {
            src.reserve(padded + 16 - src.len());
            return Ok(None);
        }
        self.frame_size = None;
        if !constant_time_eq(
            &self.mac.frame_mac(&src[..padded]),
            &src[padded..padded + 16],
        ) {
            return Err(RlpxError::FrameMac);
        }
        let mut frame = src.split_to(padded + 16);
        frame.truncate(padded);
        self.cipher.apply_keystream(&mut frame);
        frame.truncate(size);
        let mut body: &[u8] = &frame;
        let id = u64::decode(&mut body).map_err(|source| RlpxError::MessageId { source })?;
        let payload = if self.snappy && !body.is_empty() {
            let declared = snap::raw::decompress_len(body)?;
            if declared > self.max_payload {
                return Err(RlpxError::UncompressedTooLarge {
                    size: declared,
                    limit: self.max_payload,
                });
            }
            Bytes::from(snap::raw::Decoder::new().decompress_vec(body)?)
        } else {
            if body.len() > self.max_payload {
                return Err(RlpxError::UncompressedTooLarge {
                    size: body.len(),
                    limit: self.max_payload,
                });
            }
            frame.advance(frame.len() - body.len());
            frame.freeze()
        };
        Ok(Some(RlpxMessage { id, payload }))
    }
}

/// Compares MACs without an early exit, so the time taken says nothing about how many
/// leading bytes of a forged MAC were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
