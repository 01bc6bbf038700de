//! Our record's content, the `eth` entry, and the sequence number across restarts (the
//! `enr.md` vector is checked in `tests/it/discv4_vectors.rs` from the shared test data).

use super::*;
use crate::eth::forkid::ForkHash;

fn key() -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_byte_array([0x21; 32]).expect("key")
}

fn content(tcp: u16) -> RecordContent {
    RecordContent {
        ip: Some("10.1.2.3".parse().expect("ip")),
        tcp,
        udp: Some(30301),
        fork_id: Some(ForkId {
            hash: ForkHash([0xde, 0xad, 0xbe, 0xef]),
            next: 1_700_000_000,
        }),
    }
}

#[test]
fn our_record_carries_ip_ports_key_and_fork_id() {
    let local = LocalRecord::load_or_create(&key(), content(30303), None).expect("record");
    let record = local.record();
    assert!(record.verify());
    assert_eq!(record.seq(), 1);
    assert_eq!(content_of(record), content(30303));
    assert_eq!(
        node_id(record),
        crate::rlpx::handshake::NodeKey::new(key()).id()
    );
    assert_eq!(
        tcp_addr(record),
        Some("10.1.2.3:30303".parse().expect("addr"))
    );
    // The text form decodes back to the same record.
    let again = parse_record(&record.to_base64()).expect("text");
    assert_eq!(&again, record);
    // And the RLP form through the remote-record path.
    let rlp = alloy_rlp::encode(record);
    assert_eq!(&decode_record(&rlp).expect("rlp"), record);
}

#[test]
fn the_eth_entry_is_a_list_holding_the_fork_id_list() {
    let entry = EthEntry {
        fork_id: ForkId {
            hash: ForkHash([1, 2, 3, 4]),
            next: 0,
        },
    };
    // [[0x01020304, 0]] = c7 c6 84 01020304 80
    let bytes = alloy_rlp::encode(entry);
    assert_eq!(bytes, [0xc7, 0xc6, 0x84, 1, 2, 3, 4, 0x80]);
    assert_eq!(
        EthEntry::decode(&mut bytes.as_slice()).expect("decodes"),
        entry
    );
    // geth's enrEntry ignores later elements: [[hash, next], 5].
    let longer = [0xc8, 0xc6, 0x84, 1, 2, 3, 4, 0x80, 0x05];
    assert_eq!(
        EthEntry::decode(&mut longer.as_slice()).expect("decodes"),
        entry
    );
    // A bare fork id (no outer list) is not an entry: the first element must be a list.
    let bare = [0xc6, 0x84, 1, 2, 3, 4, 0x80];
    assert!(EthEntry::decode(&mut bare.as_slice()).is_err());
    assert!(EthEntry::decode(&mut [0x80].as_slice()).is_err());
}

#[test]
fn the_sequence_number_survives_restarts_and_rises_on_change() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(RECORD_FILE);
    let first = LocalRecord::load_or_create(&key(), content(30303), Some(&path)).expect("first");
    assert_eq!(first.seq(), 1);
    // Same content after a restart: same sequence number, same record.
    let same = LocalRecord::load_or_create(&key(), content(30303), Some(&path)).expect("same");
    assert_eq!(same.seq(), 1);
    // A new port: one higher, saved.
    let mut moved =
        LocalRecord::load_or_create(&key(), content(30304), Some(&path)).expect("moved");
    assert_eq!(moved.seq(), 2);
    assert!(!moved.update(content(30304)).expect("no change"));
    assert!(moved.update(content(30305)).expect("change"));
    assert_eq!(moved.seq(), 3);
    let reloaded =
        LocalRecord::load_or_create(&key(), content(30305), Some(&path)).expect("reloaded");
    assert_eq!(reloaded.seq(), 3);
    // Another key's record in the file does not carry its sequence over.
    let other = secp256k1::SecretKey::from_byte_array([0x22; 32]).expect("key");
    let theirs = LocalRecord::load_or_create(&other, content(1), Some(&path)).expect("other");
    assert_eq!(theirs.seq(), 1);
    // A damaged file starts afresh rather than failing the node.
    std::fs::write(&path, "enr:garbage").expect("write");
    let fresh = LocalRecord::load_or_create(&key(), content(30305), Some(&path)).expect("fresh");
    assert_eq!(fresh.seq(), 1);
}

#[test]
fn forged_and_malformed_remote_records_are_refused() {
    let local = LocalRecord::load_or_create(&key(), content(30303), None).expect("record");
    let mut rlp = alloy_rlp::encode(local.record());
    // Flip a bit of the last value (the udp port): the signature no longer matches.
    let last = rlp.len() - 1;
    rlp[last] ^= 1;
    assert!(decode_record(&rlp).is_err());
    assert!(decode_record(&[]).is_err());
    assert!(decode_record(&[0xc0]).is_err());
    assert!(decode_record(&[0xf9, 0xff, 0xff]).is_err());
    assert!(parse_record("enr:").is_err());
    assert!(parse_record("enode://x").is_err());
}

#[test]
fn a_record_without_an_eth_entry_has_no_fork_id() {
    let mut plain = content(1);
    plain.fork_id = None;
    let local = LocalRecord::load_or_create(&key(), plain, None).expect("record");
    assert!(eth_fork_id(local.record()).is_none());
}
