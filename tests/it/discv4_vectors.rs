//! discv4 packet vectors (`discv4/packets.json`: EIP-8's five discovery packets signed with
//! key B, and go-ethereum's plain Ping from `v4wire_test.go`): each passes the hash and
//! signature checks, recovers key B as sender and decodes to the file's values, extra list
//! elements and trailing bytes notwithstanding. All carry expiration 1136239445 (2006), so
//! the expiration check must refuse them at today's clock.

use std::net::IpAddr;

use alloy_primitives::{B256, B512};
use ethpeer_actors::discovery::v4::wire::{Discv4WireError, Packet};

use crate::common::{json, testdata_or_skip, unhex};

fn endpoint_matches(
    endpoint: &ethpeer_actors::discovery::v4::Endpoint,
    expected: &serde_json::Value,
) -> bool {
    let ip: IpAddr = expected["ip"].as_str().expect("ip").parse().expect("ip");
    endpoint.ip == ip
        && u64::from(endpoint.udp) == expected["udp"].as_u64().expect("udp")
        && u64::from(endpoint.tcp) == expected["tcp"].as_u64().expect("tcp")
}

#[test]
fn eip8_discovery_packets_verify_and_decode() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "discv4/packets.json");
    let signer = B512::from_slice(&unhex(file["signer_pubkey"].as_str().expect("key")));
    let mut packets: Vec<serde_json::Value> = file["packets"].as_array().expect("packets").clone();
    packets.push(file["extra_go_ethereum_vector"].clone());
    assert_eq!(packets.len(), 6);
    for vector in &packets {
        let name = vector["name"].as_str().expect("name");
        let bytes = unhex(vector["hex"].as_str().expect("hex"));
        let decoded = Packet::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.sender, signer, "{name}");
        assert_eq!(decoded.hash, B256::from_slice(&bytes[..32]), "{name}");
        let want = &vector["decoded"];
        assert_eq!(
            decoded.packet.expiration(),
            want["expiration"].as_u64(),
            "{name}"
        );
        match &decoded.packet {
            Packet::Ping(ping) => {
                assert_eq!(Some(ping.version), want["version"].as_u64(), "{name}");
                assert!(endpoint_matches(&ping.from, &want["from"]), "{name}");
                assert!(endpoint_matches(&ping.to, &want["to"]), "{name}");
                // geth reads the version-4 ping's first extra element as enr-seq 1; the
                // version-555 ping's extra element is a list, so no enr-seq.
                let seq = match ping.version {
                    4 if want["rest"].is_array() => Some(1),
                    _ => None,
                };
                assert_eq!(ping.enr_seq, seq, "{name}");
            }
            Packet::Pong(pong) => {
                assert!(endpoint_matches(&pong.to, &want["to"]), "{name}");
                let hash = unhex(want["ping_hash"].as_str().expect("hash"));
                assert_eq!(pong.ping_hash.as_slice(), hash.as_slice(), "{name}");
                assert_eq!(pong.enr_seq, None, "{name}: its extra element is a list");
            }
            Packet::FindNode(find) => {
                let target = unhex(want["target"].as_str().expect("target"));
                assert_eq!(find.target.as_slice(), target.as_slice(), "{name}");
            }
            Packet::Neighbors(neighbors) => {
                let nodes = want["nodes"].as_array().expect("nodes");
                assert_eq!(neighbors.nodes.len(), nodes.len(), "{name}");
                for (node, expected) in neighbors.nodes.iter().zip(nodes) {
                    assert!(endpoint_matches(&node.endpoint, expected), "{name}");
                    let id = unhex(expected["node_id"].as_str().expect("id"));
                    assert_eq!(node.id.as_slice(), id.as_slice(), "{name}");
                }
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(
            matches!(
                decoded.packet.check_expiration(today),
                Err(Discv4WireError::Expired {
                    expiration: 1136239445,
                    ..
                })
            ),
            "{name}: an expired vector must fail the expiration check"
        );
    }
}

#[test]
fn a_tampered_vector_fails_its_hash_check() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "discv4/packets.json");
    let mut bytes = unhex(file["packets"][0]["hex"].as_str().expect("hex"));
    // The last byte is inside the signed data.
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    assert_eq!(Packet::decode(&bytes), Err(Discv4WireError::HashMismatch));
}

#[test]
fn the_enr_md_record_verifies_and_names_its_node() {
    let dir = testdata_or_skip!();
    let file = json(&dir, "discv4/packets.json");
    let vector = &file["enr_test_vector"];
    let record =
        ethpeer_actors::discovery::enr::parse_record(vector["text"].as_str().expect("text"))
            .expect("the enr.md record is valid");
    assert_eq!(record.seq(), vector["seq"].as_u64().expect("seq"));
    assert_eq!(record.ip4(), Some(std::net::Ipv4Addr::new(127, 0, 0, 1)));
    assert_eq!(record.udp4(), Some(0x765f));
    assert_eq!(
        hex::encode(record.node_id().raw()),
        vector["node_id"].as_str().expect("id")
    );
    let rlp = unhex(
        vector["derived_by_this_research"]["record_rlp"]
            .as_str()
            .expect("rlp"),
    );
    assert_eq!(alloy_rlp::encode(&record), rlp);
    assert!(ethpeer_actors::discovery::enr::decode_record(&rlp).is_ok());
    // No eth entry in the spec's example.
    assert!(ethpeer_actors::discovery::enr::eth_fork_id(&record).is_none());
    // Its node id as discv4 names it is key B's public key.
    assert_eq!(
        ethpeer_actors::discovery::enr::node_id(&record).as_slice(),
        unhex(file["signer_pubkey"].as_str().expect("key")).as_slice()
    );
}
