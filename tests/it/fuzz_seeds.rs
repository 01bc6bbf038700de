//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`), replayed through the same
//! functions the fuzzers run (`ethpeer_actors::fuzzing`), so a regression shows up in a
//! plain `cargo test` without a fuzzer; plus well-formed inputs made here (a real auth
//! packet, the ethtest chain's first blocks, a signed transaction), which the fuzzers'
//! round-trip checks must pass.

use std::path::Path;

use alloy_eips::eip2718::Encodable2718;
use ethpeer_actors::fuzzing;

use crate::common::testdata;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 12] = [
    ("eth_decode", fuzzing::eth_decode),
    ("rlpx_handshake", fuzzing::rlpx_handshake),
    ("rlpx_frames", fuzzing::rlpx_frames),
    ("p2p_message", fuzzing::p2p_message),
    ("enode", fuzzing::enode),
    ("chain_file", fuzzing::chain_file),
    ("tx_pool", fuzzing::tx_pool),
    ("json_rpc", fuzzing::json_rpc),
    ("tx_fetcher", fuzzing::tx_fetcher),
    ("discv4_packet", fuzzing::discv4_packet),
    ("enr_record", fuzzing::enr_record),
    ("dns_entry", fuzzing::dns_entry),
];

#[test]
fn every_seed_replays_through_its_target() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, target) in TARGETS {
        let dir = seeds.join(name);
        let mut replayed = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("seed");
            target(&bytes);
            replayed += 1;
        }
        assert!(replayed >= 1, "no seed for {name}");
    }
}

#[test]
fn well_formed_inputs_pass_the_targets_round_trip_checks() {
    use secp256k1::{PublicKey, SecretKey, SECP256K1};
    // A real EIP-8 auth to the fuzz target's static key (0x11..).
    let ours = SecretKey::from_byte_array([0x11; 32]).expect("key");
    let auth = ethpeer_actors::rlpx::handshake::auth_packet(
        &ethpeer_actors::rlpx::handshake::NodeKey::new(
            SecretKey::from_byte_array([0x12; 32]).expect("key"),
        ),
        &PublicKey::from_secret_key(SECP256K1, &ours),
        &ethpeer_actors::rlpx::handshake::HandshakeRandomness::random(),
    );
    fuzzing::rlpx_handshake(&auth);
    // Messages that decode: their re-encoding must decode to the same message.
    fuzzing::eth_decode(&[
        2, 0x03, 0xca, 0x82, 0x04, 0x57, 0xc6, 0x01, 0x0a, 0x80, 0x80,
    ]);
    fuzzing::p2p_message(&[0x01, 0xc1, 0x04]);
    fuzzing::rlpx_frames(&[0x10, 0xc2, 0x01, 0x02]);
    fuzzing::enode(format!("enode://{}@127.0.0.1:30303", "ab".repeat(64)).as_bytes());
    let (_, raw) = crate::node_dev::dev_transfer(0, 0);
    let bytes = hex::decode(raw.trim_start_matches("0x")).expect("hex");
    fuzzing::tx_pool(&bytes);
    let tx = ethpeer_actors::eth::genesis::dev_transfer(
        1,
        0,
        alloy_primitives::Address::ZERO,
        alloy_primitives::U256::from(1),
    )
    .expect("a dev account");
    fuzzing::tx_pool(&tx.encoded_2718());
    fuzzing::json_rpc(
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["{raw}"]}}"#
        )
        .as_bytes(),
    );
    fuzzing::tx_fetcher(&fetcher_script(tx));
    // A signed FindNode and our own record: their round-trip checks must pass.
    let find = ethpeer_actors::discovery::v4::Packet::FindNode(
        ethpeer_actors::discovery::v4::wire::FindNode {
            target: alloy_primitives::B512::repeat_byte(3),
            expiration: 1_900_000_000,
        },
    );
    fuzzing::discv4_packet(
        &find
            .encode(&SecretKey::from_byte_array([0x12; 32]).expect("key"))
            .0,
    );
    let content = ethpeer_actors::discovery::enr::RecordContent {
        ip: Some([10, 0, 0, 1].into()),
        tcp: 30303,
        udp: Some(30301),
        fork_id: None,
    };
    let record = ethpeer_actors::discovery::enr::LocalRecord::load_or_create(
        &SecretKey::from_byte_array([0x13; 32]).expect("key"),
        content,
        None,
    )
    .expect("record");
    fuzzing::enr_record(&alloy_rlp::encode(record.record()));
    fuzzing::enr_record(record.record().to_base64().as_bytes());
    if let Some(dir) = testdata() {
        let chain = std::fs::read(dir.join("ethtest/chain.rlp")).expect("chain.rlp");
        fuzzing::chain_file(&chain[..chain.len().min(64 * 1024)]);
        fuzzing::chain_file(&chain);
    }
}

/// A script for the tx_fetcher target with a real tx: broadcast by peer 0, announced by
/// peer 1 (the "recent hash" form), and delivered by peer 1 when asked.
fn fetcher_script(tx: ethpeer_actors::eth::PooledTx) -> Vec<u8> {
    use ethpeer_actors::eth::{EthMessage, PooledTransactions, RequestPair, Transactions};
    let chunk = |op: u8, peer: u8, payload: Vec<u8>| {
        let len = u16::try_from(payload.len()).expect("small");
        let mut bytes = vec![op, peer];
        bytes.extend(len.to_be_bytes());
        bytes.extend(payload);
        bytes
    };
    let size = u32::try_from(tx.encode_2718_len()).expect("small");
    let broadcast = EthMessage::Transactions(Transactions(vec![tx.clone().into()])).encoded();
    let reply =
        EthMessage::PooledTransactions(RequestPair::new(1, PooledTransactions(vec![tx]))).encoded();
    let mut script = chunk(1, 0, broadcast.to_vec());
    script.extend([0, 1, 1, 2]);
    script.extend(size.to_be_bytes());
    script.extend([0, 1]);
    script.extend(chunk(2, 1, reply.to_vec()));
    script
}
