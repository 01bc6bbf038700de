//! The frame codecs of two sides of a real handshake: round trips (with and without
//! snappy, up to 10 MiB), tampering anywhere in a frame, and size limits.

use bytes::BytesMut;
use secp256k1::{PublicKey, SecretKey, SECP256K1};
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::rlpx::handshake::{self, Exchange, HandshakeRandomness, PacketFormat};

/// Codec pairs (initiator's, recipient's) from a fresh in-memory handshake.
pub(crate) fn pair() -> ((RlpxEncoder, RlpxDecoder), (RlpxEncoder, RlpxDecoder)) {
    let a = SecretKey::from_byte_array([1; 32]).expect("key");
    let b = SecretKey::from_byte_array([2; 32]).expect("key");
    let b_pub = PublicKey::from_secret_key(SECP256K1, &b);
    let (ra, rb) = (HandshakeRandomness::random(), HandshakeRandomness::random());
    let auth = handshake::auth_packet(&handshake::NodeKey::new(a), &b_pub, &ra);
    let received = handshake::read_auth(&b, &auth).expect("auth");
    let ack = handshake::ack_packet(
        &handshake::public_key(&received.initiator_id).expect("id"),
        &rb,
        PacketFormat::Eip8,
    );
    let acked = handshake::read_ack(&a, &ack).expect("ack");
    let sa = Exchange {
        initiator: true,
        our_ephemeral: &ra.ephemeral,
        remote_ephemeral: &acked.recipient_ephemeral,
        initiator_nonce: ra.nonce,
        recipient_nonce: rb.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: handshake::node_id(&b_pub),
    }
    .secrets();
    let sb = Exchange {
        initiator: false,
        our_ephemeral: &rb.ephemeral,
        remote_ephemeral: &received.initiator_ephemeral,
        initiator_nonce: ra.nonce,
        recipient_nonce: rb.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: received.initiator_id,
    }
    .secrets();
    (codecs(sa), codecs(sb))
}

fn message(id: u64, len: usize) -> RlpxMessage {
    RlpxMessage {
        id,
        payload: (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into(),
    }
}

#[test]
fn messages_round_trip_in_both_directions_with_and_without_snappy() {
    let ((mut a_out, mut a_in), (mut b_out, mut b_in)) = pair();
    for snappy in [false, true] {
        for codec in [
            &mut a_out as &mut dyn SetSnappy,
            &mut b_out,
            &mut a_in,
            &mut b_in,
        ] {
            codec.snappy(snappy);
        }
        for (id, len) in [
            (0x00, 0),
            (0x02, 1),
            (0x10, 15),
            (0x11, 16),
            (0x21, 17),
            (0x7f, 1000),
            (0x80, 100_000),
        ] {
            let mut wire = BytesMut::new();
            a_out.encode(message(id, len), &mut wire).expect("encode");
            assert_eq!(
                b_in.decode(&mut wire).expect("decode"),
                Some(message(id, len))
            );
            b_out.encode(message(id, len), &mut wire).expect("encode");
            assert_eq!(
                a_in.decode(&mut wire).expect("decode"),
                Some(message(id, len))
            );
        }
    }
}

#[test]
fn a_10_mib_message_arrives_in_pieces() {
    let ((mut a_out, _), (_, mut b_in)) = pair();
    let big = message(0x12, 10 * 1024 * 1024);
    let mut wire = BytesMut::new();
    a_out.encode(big.clone(), &mut wire).expect("encode");
    // Feed it in 64 KiB pieces, as a socket would.
    let mut incoming = BytesMut::new();
    let mut decoded = None;
    while !wire.is_empty() {
        let n = wire.len().min(64 * 1024);
        incoming.extend_from_slice(&wire.split_to(n));
        if let Some(m) = b_in.decode(&mut incoming).expect("decode") {
            decoded = Some(m);
        }
    }
    assert_eq!(decoded, Some(big));
}

#[test]
fn one_flipped_bit_in_header_header_mac_body_or_frame_mac_is_rejected() {
    // frame layout: header (0..16) | header MAC (16..32) | body (32..48) | frame MAC (48..64)
    for (position, expect_header) in [(3, true), (20, true), (40, false), (60, false)] {
        let ((mut a_out, _), (_, mut b_in)) = pair();
        let mut wire = BytesMut::new();
        a_out.encode(message(0x10, 10), &mut wire).expect("encode");
        assert_eq!(wire.len(), 64);
        wire[position] ^= 0x01;
        let error = b_in.decode(&mut wire).expect_err("tampered frame accepted");
        if expect_header {
            assert!(
                matches!(error, RlpxError::HeaderMac),
                "byte {position}: {error}"
            );
        } else {
            assert!(
                matches!(error, RlpxError::FrameMac),
                "byte {position}: {error}"
            );
        }
    }
}

#[test]
fn oversized_payloads_are_refused_without_inflating() {
    let ((mut a_out, _), (_, mut b_in)) = pair();
    b_in.set_snappy(true);
    b_in.set_max_payload(1024);
    // 2 KiB of zeros compresses to a few bytes but declares 2048 uncompressed.
    a_out.set_snappy(true);
    let mut wire = BytesMut::new();
    a_out
        .encode(
            RlpxMessage {
                id: 0x10,
                payload: vec![0u8; 2048].into(),
            },
            &mut wire,
        )
        .expect("encode");
    assert!(matches!(
        b_in.decode(&mut wire),
        Err(RlpxError::UncompressedTooLarge {
            size: 2048,
            limit: 1024
        })
    ));
}

#[test]
fn a_frame_over_the_size_field_is_refused_by_the_encoder() {
    let ((mut a_out, _), _) = pair();
    let mut wire = BytesMut::new();
    let huge = message(0x10, MAX_FRAME_SIZE + 1);
    assert!(matches!(
        a_out.encode(huge, &mut wire),
        Err(RlpxError::FrameTooLarge { .. })
    ));
}

/// Lets the test toggle snappy on both codec kinds uniformly.
trait SetSnappy {
    fn snappy(&mut self, on: bool);
}
impl SetSnappy for RlpxEncoder {
    fn snappy(&mut self, on: bool) {
        self.set_snappy(on);
    }
}
impl SetSnappy for RlpxDecoder {
    fn snappy(&mut self, on: bool) {
        self.set_snappy(on);
    }
}
