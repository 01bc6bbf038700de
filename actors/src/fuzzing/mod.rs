//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*`), here so that the small seed
//! corpora in `fuzz/seeds/` replay through the very same code in a plain `cargo test`.
//! Each takes arbitrary bytes from a remote's point of view and must never panic; where an
//! input decodes, it checks that encoding it again gives the same value (a panic there is
//! a finding, not a crash of the node, which never re-encodes remote data this way).

mod live;

pub use live::{json_rpc, tx_fetcher};

use std::sync::{Arc, OnceLock};

use alloy_primitives::{Keccak256, B256, B512};
use bytes::BytesMut;
use secp256k1::SecretKey;
use tokio_util::codec::{Decoder, Encoder};

use crate::eth::{EthMessage, EthVersion, PooledTx};
use crate::node::Enode;
use crate::p2p::P2pMessage;
use crate::rlpx::handshake::{read_ack, read_auth, Secrets};
use crate::rlpx::{codecs, RlpxMessage};
use crate::txs::pool::validate::ValidationRules;
use crate::txs::pool::{NoState, ValidatingTxPool};

/// Byte 0 picks the eth version, byte 1 the message id, the rest is the payload: decoding
/// never panics, and what decodes re-encodes to the same message.
pub fn eth_decode(data: &[u8]) {
    let [selector, id, payload @ ..] = data else {
        return;
    };
    let version = EthVersion::ALL[usize::from(*selector) % EthVersion::ALL.len()];
    if let Ok(message) = EthMessage::decode(version, *id, payload) {
        let again = EthMessage::decode(version, *id, &message.encoded());
        assert_eq!(
            again.as_ref(),
            Ok(&message),
            "round trip changed the message"
        );
    }
}

/// The pre-authentication surface: arbitrary bytes as an RLPx auth and as an ack, read
/// with a fixed static key. Neither may panic.
pub fn rlpx_handshake(data: &[u8]) {
    let key = SecretKey::from_byte_array([0x11; 32]).unwrap_or_else(|_| unreachable!());
    let _ = read_auth(&key, data);
    let _ = read_ack(&key, data);
}

/// The frame codecs of one session: arbitrary bytes into the ingress decoder (tampered
/// frames must be refused, never panic), then byte 0 as a message id and the rest as a
/// payload through the egress encoder and back, with and without snappy.
pub fn rlpx_frames(data: &[u8]) {
    let (mut encoder, _) = codecs(secrets(b"a->b", b"b->a"));
    let (_, mut decoder) = codecs(secrets(b"b->a", b"a->b"));
    let mut raw = BytesMut::from(data);
    while let Ok(Some(_)) = decoder.decode(&mut raw) {}
    let [id, payload @ ..] = data else {
        return;
    };
    let (_, mut decoder) = codecs(secrets(b"b->a", b"a->b"));
    for snappy in [false, true] {
        encoder.set_snappy(snappy);
        decoder.set_snappy(snappy);
        let message = RlpxMessage {
            id: u64::from(*id),
            payload: payload.to_vec().into(),
        };
        let mut wire = BytesMut::new();
        if encoder.encode(message.clone(), &mut wire).is_ok() {
            let back = decoder.decode(&mut wire);
            assert_eq!(back.ok().flatten(), Some(message), "frame round trip");
        }
    }
}

/// Secrets of one direction: `egress` and `ingress` seed the two MAC states.
fn secrets(egress: &[u8], ingress: &[u8]) -> Secrets {
    let mac = |seed: &[u8]| {
        let mut state = Keccak256::new();
        state.update(seed);
        state
    };
    Secrets {
        aes_secret: B256::repeat_byte(0x21),
        mac_secret: B256::repeat_byte(0x22),
        egress_mac: mac(egress),
        ingress_mac: mac(ingress),
        remote_id: B512::ZERO,
    }
}

/// Byte 0 as a p2p message id (Hello, Disconnect, Ping, Pong, reserved ids), the rest as
/// its payload: decoding never panics, and what decodes re-encodes to the same message.
pub fn p2p_message(data: &[u8]) {
    let [id, payload @ ..] = data else {
        return;
    };
    if let Ok(message) = P2pMessage::decode(u64::from(*id % 0x10), payload) {
        let again = P2pMessage::decode(message.id(), &message.encoded());
        assert_eq!(
            again.as_ref(),
            Ok(&message),
            "round trip changed the message"
        );
    }
}

/// Arbitrary text as an enode URL (flags, `admin_addPeer`): parsing never panics, and a
/// parsed URL prints to a URL that parses to the same node.
pub fn enode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(enode) = text.parse::<Enode>() {
        assert_eq!(
            enode.to_string().parse::<Enode>().ok(),
            Some(enode),
            "printed enode parses back"
        );
    }
}

/// Arbitrary bytes as an RLP chain file (`ethpeer import`, `--chain`): reading and the
/// link and root checks never panic.
pub fn chain_file(data: &[u8]) {
    if let Ok(blocks) = crate::chain::read_chain_file(data) {
        if let Some(first) = blocks.first() {
            let parent = alloy_consensus::Header {
                number: first.header.number.saturating_sub(1),
                ..Default::default()
            };
            let _ = crate::chain::verify_chain(&parent, &blocks);
        }
    }
}

/// Arbitrary bytes as network-form transactions, one after another, into a validating pool
/// (stateless checks, sender recovery, KZG for blob sidecars, insertion rules): nothing
/// panics, whatever the pool already holds from earlier inputs.
pub fn tx_pool(data: &[u8]) {
    static POOL: OnceLock<Arc<ValidatingTxPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let rules = ValidationRules {
            chain_id: 1,
            block_gas_limit: 30_000_000,
            max_blobs_per_tx: 9,
            calldata_floor: true,
        };
        Arc::new(ValidatingTxPool::new(rules, Arc::new(NoState)).with_capacity(256, 1 << 24))
    });
    let mut rest = data;
    let mut txs = Vec::new();
    while !rest.is_empty() && txs.len() < 64 {
        match <PooledTx as alloy_eips::eip2718::Decodable2718>::network_decode(&mut rest) {
            Ok(tx) => txs.push(tx),
            Err(_) => break,
        }
    }
    let _ = pool.add(txs, None);
}

/// Arbitrary bytes as a discv4 datagram: the envelope and packet decoder never panics, a
/// packet that decodes re-signs to the same packet, and a state machine fed the datagram
/// (as the UDP loop would) never panics either.
pub fn discv4_packet(data: &[u8]) {
    use crate::discovery::v4::{Discv4, Discv4Config, Endpoint, Packet};
    let key = SecretKey::from_byte_array([0x11; 32]).unwrap_or_else(|_| unreachable!());
    if let Ok(decoded) = Packet::decode(data) {
        let (again, _) = decoded.packet.encode(&key);
        assert_eq!(
            Packet::decode(&again).map(|d| d.packet).ok(),
            Some(decoded.packet),
            "round trip changed the packet"
        );
    }
    let content = crate::discovery::enr::RecordContent {
        ip: Some([127, 0, 0, 1].into()),
        tcp: 30303,
        udp: Some(30303),
        fork_id: None,
    };
    let Ok(local) = crate::discovery::enr::LocalRecord::load_or_create(&key, content, None) else {
        return;
    };
    let endpoint = Endpoint {
        ip: [127, 0, 0, 1].into(),
        udp: 30303,
        tcp: 30303,
    };
    let now = tokio::time::Instant::now();
    let mut machine = Discv4::new(
        key,
        local.record().clone(),
        endpoint,
        Discv4Config::default(),
        now,
        // Packets of any expiration before 2100 count as expired or not as the data says.
        1_800_000_000,
    );
    let from = std::net::SocketAddr::from(([127, 0, 0, 2], 30303));
    machine.on_datagram(from, data, now);
    machine.tick(now);
    while machine.poll_transmit().is_some() {}
}

/// Arbitrary bytes as a node record, in RLP (ENRResponse) and text (`enr:` bootnodes)
/// form: decoding never panics; a record that decodes re-encodes to one that decodes
/// equal, and its `eth` entry reads without panicking.
pub fn enr_record(data: &[u8]) {
    if let Ok(record) = crate::discovery::enr::decode_record(data) {
        let again = crate::discovery::enr::decode_record(&alloy_rlp::encode(&record)).ok();
        assert_eq!(again.as_ref(), Some(&record), "record round trip");
        let _ = crate::discovery::enr::eth_fork_id(&record);
        let _ = crate::discovery::enr::content_of(&record);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(node) = text.parse::<crate::node::Bootnode>() {
            let _ = node.enode.to_string();
        }
    }
}

/// Arbitrary bytes as an EIP-1459 TXT record: root, branch, leaf and link parsing never
/// panics; a parsed link prints back to a link that parses equal, a branch's children
/// to the same branch, a root's signature check runs to an answer.
pub fn dns_entry(data: &[u8]) {
    use crate::discovery::dns::{Entry, Link, Root};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(root) = Root::parse(text) {
        if let Ok(link) =
            "enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@n".parse::<Link>()
        {
            let _ = root.verify(&link.key);
        }
    }
    match Entry::parse(text) {
        Ok(Entry::Link(link)) => {
            let again = link.to_string().parse::<Link>().ok();
            assert_eq!(again.as_ref(), Some(&link), "link round trip");
        }
        Ok(Entry::Branch(children)) => {
            let names: Vec<String> = children.iter().map(ToString::to_string).collect();
            let text = format!(
                "{}{}",
                crate::discovery::dns::entry::BRANCH_PREFIX,
                names.join(",")
            );
            match Entry::parse(&text) {
                Ok(Entry::Branch(again)) => assert_eq!(again, children, "branch round trip"),
                other => panic!("branch round trip: {other:?}"),
            }
        }
        Ok(Entry::Enr(record)) => assert!(record.verify(), "unverified record accepted"),
        Err(_) => {}
    }
}
