//! Both sides of the handshake in memory: the secrets and MAC states must mirror.

use super::*;

fn key(byte: u8) -> SecretKey {
    SecretKey::from_byte_array([byte; 32]).expect("valid key")
}

fn exchange(legacy_auth: bool) {
    let (a, b) = (key(1), key(2));
    let b_pub = PublicKey::from_secret_key(SECP256K1, &b);
    let (ra, rb) = (HandshakeRandomness::random(), HandshakeRandomness::random());
    let auth = if legacy_auth {
        // Build a legacy auth the way pre-EIP-8 clients did.
        let shared = B256::from(ecdh_x(&b_pub, &a));
        let (rec, sig) = SECP256K1
            .sign_ecdsa_recoverable(Message::from_digest((shared ^ ra.nonce).0), &ra.ephemeral)
            .serialize_compact();
        let eph_pub = PublicKey::from_secret_key(SECP256K1, &ra.ephemeral);
        let mut plain = sig.to_vec();
        plain.push(i32::from(rec) as u8);
        plain.extend_from_slice(keccak256(&eph_pub.serialize_uncompressed()[1..]).as_slice());
        plain.extend_from_slice(node_id(&PublicKey::from_secret_key(SECP256K1, &a)).as_slice());
        plain.extend_from_slice(ra.nonce.as_slice());
        plain.push(0);
        ecies::encrypt(&b_pub, &plain, &[])
    } else {
        auth_packet(&NodeKey::new(a), &b_pub, &ra)
    };
    let received = read_auth(&b, &auth).expect("auth reads");
    assert_eq!(
        received.format,
        if legacy_auth {
            PacketFormat::Legacy
        } else {
            PacketFormat::Eip8
        }
    );
    assert_eq!(
        received.initiator_id,
        node_id(&PublicKey::from_secret_key(SECP256K1, &a))
    );
    assert_eq!(
        received.initiator_ephemeral,
        PublicKey::from_secret_key(SECP256K1, &ra.ephemeral)
    );
    let a_pub = public_key(&received.initiator_id).expect("valid id");
    let ack = ack_packet(&a_pub, &rb, received.format);
    let acked = read_ack(&a, &ack).expect("ack reads");
    assert_eq!(acked.recipient_nonce, rb.nonce);
    // The ack has the auth's format: read_ack takes either, so look at the bytes.
    let rb_id = node_id(&PublicKey::from_secret_key(SECP256K1, &rb.ephemeral));
    if legacy_auth {
        // Pre-EIP-8: no size prefix, ECIES over ephemeral id || nonce || 0x00 (97 bytes),
        // no shared MAC data.
        assert_eq!(ack.len(), LEGACY_ACK_SIZE);
        let plain = ecies::decrypt(&a, &ack, &[]).expect("a legacy ECIES packet");
        let mut expected = rb_id.to_vec();
        expected.extend_from_slice(rb.nonce.as_slice());
        expected.push(0);
        assert_eq!(plain, expected);
    } else {
        // EIP-8: a 2-byte size prefix (also the ECIES shared MAC data), then an RLP list
        // [ephemeral id, nonce, version] followed by padding.
        let (prefix, sealed) = ack.split_at(2);
        assert_eq!(
            usize::from(u16::from_be_bytes([prefix[0], prefix[1]])),
            sealed.len()
        );
        let plain = ecies::decrypt(&a, sealed, prefix).expect("an EIP-8 ECIES packet");
        let mut body = list_payload(&plain).expect("an RLP list");
        assert_eq!(B512::decode(&mut body).expect("ephemeral id"), rb_id);
        assert_eq!(B256::decode(&mut body).expect("nonce"), rb.nonce);
        assert_eq!(u64::decode(&mut body).expect("version"), HANDSHAKE_VERSION);
    }

    let a_secrets = Exchange {
        initiator: true,
        our_ephemeral: &ra.ephemeral,
        remote_ephemeral: &acked.recipient_ephemeral,
        initiator_nonce: ra.nonce,
        recipient_nonce: acked.recipient_nonce,
        auth: &auth,
        ack: &ack,
        remote_id: node_id(&b_pub),
    }
    .secrets();
    let b_secrets = Exchange {
        initiator: false,
        our_ephemeral: &rb.ephemeral,
        remote_ephemeral: &received.initiator_ephemeral,
        initiator_nonce: received.initiator_nonce,
        recipient_nonce: rb.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: received.initiator_id,
    }
    .secrets();
    assert_eq!(a_secrets.aes_secret, b_secrets.aes_secret);
    assert_eq!(a_secrets.mac_secret, b_secrets.mac_secret);
    assert_eq!(
        a_secrets.egress_mac.clone().finalize(),
        b_secrets.ingress_mac.clone().finalize()
    );
    assert_eq!(
        a_secrets.ingress_mac.finalize(),
        b_secrets.egress_mac.finalize()
    );
}

#[test]
fn eip8_handshake_secrets_mirror() {
    exchange(false);
}

#[test]
fn legacy_auth_is_accepted_and_answered_in_kind() {
    exchange(true);
}

#[test]
fn eip8_packets_carry_100_to_300_bytes_of_padding_and_stay_under_2048() {
    let b_pub = PublicKey::from_secret_key(SECP256K1, &key(2));
    for _ in 0..20 {
        let random = HandshakeRandomness::random();
        assert!((100..=300).contains(&random.padding));
        let packet = auth_packet(&NodeKey::new(key(1)), &b_pub, &random);
        assert!(packet.len() <= MAX_HANDSHAKE_PACKET_SIZE);
        assert_eq!(
            usize::from(u16::from_be_bytes([packet[0], packet[1]])) + 2,
            packet.len()
        );
    }
}

#[test]
fn oversized_or_truncated_packets_are_refused() {
    let b = key(2);
    assert!(matches!(
        read_auth(&b, &vec![0u8; 3000]),
        Err(RlpxError::HandshakeTooLarge { .. })
    ));
    let packet = auth_packet(
        &NodeKey::new(key(1)),
        &PublicKey::from_secret_key(SECP256K1, &b),
        &HandshakeRandomness::random(),
    );
    assert!(read_auth(&b, &packet[..packet.len() - 1]).is_err());
    let mut flipped = packet.clone();
    flipped[100] ^= 0x40;
    assert!(matches!(read_auth(&b, &flipped), Err(RlpxError::EciesMac)));
    assert!(read_auth(&b, &[]).is_err());
}
