//! Round trips of every packet and hand-made malformed datagrams (the spec vectors are in
//! `tests/it/discv4_vectors.rs`, which reads the shared test data).

use super::*;

fn key(byte: u8) -> SecretKey {
    SecretKey::from_byte_array([byte; 32]).expect("valid key")
}

fn v4(a: u8, b: u8, c: u8, d: u8, udp: u16, tcp: u16) -> Endpoint {
    Endpoint {
        ip: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        udp,
        tcp,
    }
}

fn every_packet() -> Vec<Packet> {
    let v6 = Endpoint {
        ip: "2001:db8::1".parse().expect("ip"),
        udp: 30303,
        tcp: 30304,
    };
    vec![
        Packet::Ping(Ping {
            version: PING_VERSION,
            from: v4(10, 0, 0, 1, 30303, 30303),
            to: v6,
            expiration: 1_900_000_000,
            enr_seq: Some(7),
        }),
        Packet::Ping(Ping {
            version: PING_VERSION,
            from: v4(10, 0, 0, 1, 30303, 0),
            to: v4(10, 0, 0, 2, 1, 0),
            expiration: 1,
            enr_seq: None,
        }),
        Packet::Pong(Pong {
            to: v6,
            ping_hash: B256::repeat_byte(0xab),
            expiration: 1_900_000_000,
            enr_seq: Some(u64::MAX),
        }),
        Packet::Pong(Pong {
            to: v4(1, 2, 3, 4, 5, 6),
            ping_hash: B256::ZERO,
            expiration: 0,
            enr_seq: None,
        }),
        Packet::FindNode(FindNode {
            target: B512::repeat_byte(0x42),
            expiration: 1_900_000_000,
        }),
        Packet::Neighbors(Neighbors {
            nodes: (0..MAX_NEIGHBORS as u8)
                .map(|i| NodeRecord {
                    endpoint: if i % 2 == 0 {
                        v6
                    } else {
                        v4(10, 0, 0, i, 30303, 30303)
                    },
                    id: B512::repeat_byte(i),
                })
                .collect(),
            expiration: 1_900_000_000,
        }),
        Packet::Neighbors(Neighbors {
            nodes: vec![],
            expiration: 5,
        }),
        Packet::EnrRequest(EnrRequest {
            expiration: 1_900_000_000,
        }),
        Packet::EnrResponse(EnrResponse {
            request_hash: B256::repeat_byte(0x01),
            record: Bytes::from_static(&[0xc3, 0x01, 0x02, 0x03]),
        }),
    ]
}

#[test]
fn every_packet_round_trips_and_recovers_its_signer() {
    let signer = key(0x33);
    let id = crate::rlpx::handshake::NodeKey::new(signer).id();
    for packet in every_packet() {
        let (bytes, hash) = packet.encode(&signer);
        assert!(
            bytes.len() <= MAX_PACKET_SIZE,
            "{} too large",
            packet.name()
        );
        let decoded = Packet::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", packet.name()));
        assert_eq!(decoded.packet, packet);
        assert_eq!(decoded.hash, hash);
        assert_eq!(decoded.sender, id);
    }
}

#[test]
fn a_full_neighbors_packet_with_ipv6_fits_in_1280_bytes() {
    let node = NodeRecord {
        endpoint: Endpoint {
            ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
                .parse()
                .expect("ip"),
            udp: 65535,
            tcp: 65535,
        },
        id: B512::repeat_byte(0xff),
    };
    let packet = Packet::Neighbors(Neighbors {
        nodes: vec![node; MAX_NEIGHBORS],
        expiration: u64::MAX,
    });
    let (bytes, _) = packet.encode(&key(1));
    assert!(bytes.len() <= MAX_PACKET_SIZE, "{}", bytes.len());
}

#[test]
fn expiration_is_checked_against_the_callers_clock() {
    let ping = Packet::EnrRequest(EnrRequest { expiration: 100 });
    assert_eq!(ping.check_expiration(100), Ok(()));
    assert_eq!(
        ping.check_expiration(101),
        Err(Discv4WireError::Expired {
            expiration: 100,
            now: 101
        })
    );
    let response = Packet::EnrResponse(EnrResponse {
        request_hash: B256::ZERO,
        record: Bytes::from_static(&[0xc0]),
    });
    assert_eq!(response.check_expiration(u64::MAX), Ok(()));
    // geth reads expirations as int64: 2^64 - t is a negative time, expired.
    let negative = Packet::EnrRequest(EnrRequest {
        expiration: 0u64.wrapping_sub(1_900_000_000),
    });
    assert!(negative.check_expiration(1_800_000_000).is_err());
}

/// Re-signs `kind || data` so that only the data is wrong, not the envelope.
fn signed(kind: u8, data: &[u8]) -> Vec<u8> {
    let signer = key(9);
    let mut body = vec![kind];
    body.extend_from_slice(data);
    let digest = Message::from_digest(keccak256(&body).0);
    let (recovery, rs) = SECP256K1
        .sign_ecdsa_recoverable(digest, &signer)
        .serialize_compact();
    let mut packet = vec![0u8; 32];
    packet.extend_from_slice(&rs);
    packet.push(i32::from(recovery) as u8);
    packet.extend_from_slice(&body);
    let hash = keccak256(&packet[32..]);
    packet[..32].copy_from_slice(hash.as_slice());
    packet
}

#[test]
fn malformed_envelopes_are_typed_errors() {
    let (good, _) = every_packet()[0].encode(&key(2));
    // Only a header: no type-specific data.
    assert_eq!(
        Packet::decode(&good[..HEADER_SIZE]),
        Err(Discv4WireError::TooShort { len: HEADER_SIZE })
    );
    assert_eq!(
        Packet::decode(&[]),
        Err(Discv4WireError::TooShort { len: 0 })
    );
    // 1281 bytes: over the spec's limit even if the rest were valid.
    let mut big = good.clone();
    big.resize(MAX_PACKET_SIZE + 1, 0);
    assert_eq!(
        Packet::decode(&big),
        Err(Discv4WireError::TooLarge { len: 1281 })
    );
    // One flipped bit in the data: the hash no longer matches.
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(Packet::decode(&flipped), Err(Discv4WireError::HashMismatch));
    // Recovery id 4 (valid ones are 0..=3) with the hash fixed up: a forged signature.
    let mut forged = good.clone();
    forged[96] = 4;
    let hash = keccak256(&forged[32..]);
    forged[..32].copy_from_slice(hash.as_slice());
    assert_eq!(Packet::decode(&forged), Err(Discv4WireError::BadSignature));
    // r = s = 0 is no signature at all.
    let mut zero = good;
    zero[32..96].fill(0);
    let hash = keccak256(&zero[32..]);
    zero[..32].copy_from_slice(hash.as_slice());
    assert_eq!(Packet::decode(&zero), Err(Discv4WireError::BadSignature));
}

#[test]
fn malformed_data_is_a_typed_error_per_packet_type() {
    // Type 0x07 does not exist in discv4.
    assert_eq!(
        Packet::decode(&signed(0x07, &[0xc0])),
        Err(Discv4WireError::UnknownType { kind: 7 })
    );
    // A string where the data's list belongs.
    assert!(matches!(
        Packet::decode(&signed(0x03, &[0x80])),
        Err(Discv4WireError::Rlp { kind: 3, .. })
    ));
    // FindNode `[target]` without its expiration.
    let mut data = vec![0xf8, 0x42, 0xb8, 0x40];
    data.extend_from_slice(&[0x11; 64]);
    assert!(matches!(
        Packet::decode(&signed(0x03, &data)),
        Err(Discv4WireError::Rlp { kind: 3, .. })
    ));
    // A list header claiming 10 payload bytes with 1 present.
    assert!(matches!(
        Packet::decode(&signed(0x05, &[0xca, 0x01])),
        Err(Discv4WireError::Rlp { kind: 5, .. })
    ));
    // Ping with a 3-byte IP in `from`: [4, [0x010203, 1, 1], [..], 1].
    let data = [
        0xd1, 0x04, 0xc6, 0x83, 1, 2, 3, 0x01, 0x01, 0xc7, 0x84, 1, 2, 3, 4, 0x01, 0x01, 0x01,
    ];
    assert_eq!(
        Packet::decode(&signed(0x01, &data)),
        Err(Discv4WireError::BadIp { len: 3 })
    );
    // A port of three bytes (0x010000 > u16::MAX) in a Pong's endpoint.
    let data = [0xc6, 0xc5, 0x80, 0x83, 1, 0, 0];
    assert!(matches!(
        Packet::decode(&signed(0x02, &data)),
        Err(Discv4WireError::Rlp { kind: 2, .. })
    ));
    // Neighbors whose node id is 63 bytes.
    let mut node = vec![0xf8, 0x44, 0x80, 0x01, 0x01, 0xb8, 0x3f];
    node.extend_from_slice(&[7; 63]);
    let mut data = vec![0xf8, 0x49, 0xf8, 0x46];
    data.extend_from_slice(&node);
    data.push(0x01);
    assert!(matches!(
        Packet::decode(&signed(0x04, &data)),
        Err(Discv4WireError::Rlp { kind: 4, .. })
    ));
    // ENRResponse whose record is a string, then one of 301 bytes.
    let mut data = vec![0xe2, 0xa0];
    data.extend_from_slice(&[0; 32]);
    data.push(0x80);
    assert!(matches!(
        Packet::decode(&signed(0x06, &data)),
        Err(Discv4WireError::Rlp { kind: 6, .. })
    ));
    let mut record = vec![0xf9, 0x01, 0x2a];
    record.extend_from_slice(&[0x01; 298]);
    let mut data = vec![0xf9, 0x01, 0x4e, 0xa0];
    data.extend_from_slice(&[0; 32]);
    data.extend_from_slice(&record);
    assert_eq!(
        Packet::decode(&signed(0x06, &data)),
        Err(Discv4WireError::RecordTooLarge { len: 301 })
    );
}

#[test]
fn extra_elements_and_trailing_bytes_are_ignored() {
    // ENRRequest [expiration, "x", [1]] followed by two stray bytes.
    let data = [0xc5, 0x05, 0x78, 0xc1, 0x01, 0xc0, 0xff, 0xee];
    let decoded = Packet::decode(&signed(0x05, &data[..6])).expect("decodes");
    assert_eq!(
        decoded.packet,
        Packet::EnrRequest(EnrRequest { expiration: 5 })
    );
    let decoded = Packet::decode(&signed(0x05, &data)).expect("decodes with trailing bytes");
    assert_eq!(
        decoded.packet,
        Packet::EnrRequest(EnrRequest { expiration: 5 })
    );
}
