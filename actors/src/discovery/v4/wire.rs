//! The discv4 wire format (`discv4.md` "Wire Protocol", EIP-8, EIP-868): the six packets,
//! their signed envelope and the checks every received packet passes before anything else
//! looks at it (size, hash, signature, type, RLP shape). Pure data and functions: no
//! sockets, no clock (expiration is checked against a `now` the caller passes).
//!
//! A packet is `hash(32) || signature(65) || type(1) || rlp(data)` with
//! `hash = keccak256(signature || type || data)` and the recoverable signature made over
//! `keccak256(type || data)`; the signer's public key is the sender's node id. Following
//! EIP-8, decoding ignores extra list elements and bytes after the data's list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use alloy_primitives::{keccak256, Bytes, B256, B512};
use alloy_rlp::{Decodable, Encodable, Header};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, SecretKey, SECP256K1};

use crate::rlpx::handshake::node_id;

/// `discv4.md`: "The maximum size of any packet is 1280 bytes" (geth `maxPacketSize`).
pub const MAX_PACKET_SIZE: usize = 1280;

/// Bytes before the packet data: hash (32), signature (65), type (1).
pub const HEADER_SIZE: usize = 32 + 65 + 1;

/// The Ping version we send (`discv4.md`: "version = 4"); receivers ignore it (EIP-8).
pub const PING_VERSION: u64 = 4;

/// geth `v4wire.MaxNeighbors`: nodes per Neighbors packet, so that a full packet with IPv6
/// endpoints stays under [`MAX_PACKET_SIZE`].
pub const MAX_NEIGHBORS: usize = 12;

/// EIP-778: "The maximum encoded size of a node record is 300 bytes."
pub const MAX_RECORD_SIZE: usize = 300;

/// Why a received datagram is not a valid discv4 packet. Every variant means "drop it";
/// none is worth an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Discv4WireError {
    /// Shorter than the header plus one byte of data.
    #[error("packet of {len} bytes is shorter than the {HEADER_SIZE}-byte header")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// Longer than [`MAX_PACKET_SIZE`].
    #[error("packet of {len} bytes exceeds {MAX_PACKET_SIZE}")]
    TooLarge {
        /// Datagram length.
        len: usize,
    },
    /// The leading hash is not keccak256 of the rest.
    #[error("packet hash does not match its content")]
    HashMismatch,
    /// The signature does not recover to a public key.
    #[error("packet signature is invalid")]
    BadSignature,
    /// A packet type discv4 does not define.
    #[error("unknown packet type {kind:#04x}")]
    UnknownType {
        /// The type byte.
        kind: u8,
    },
    /// The data is not the packet's RLP shape.
    #[error("packet type {kind:#04x}: {source}")]
    Rlp {
        /// The type byte.
        kind: u8,
        /// What the RLP decoder said.
        source: alloy_rlp::Error,
    },
    /// An endpoint's IP is neither 4 nor 16 bytes (nor empty).
    #[error("endpoint IP of {len} bytes")]
    BadIp {
        /// Its length.
        len: usize,
    },
    /// An ENRResponse's record exceeds [`MAX_RECORD_SIZE`].
    #[error("node record of {len} bytes exceeds {MAX_RECORD_SIZE}")]
    RecordTooLarge {
        /// Its encoded length.
        len: usize,
    },
    /// The packet's expiration (UNIX seconds) has passed.
    #[error("packet expired at {expiration} (now {now})")]
    Expired {
        /// The packet's expiration.
        expiration: u64,
        /// Our clock.
        now: u64,
    },
}

/// An IP address with the UDP and TCP ports at it (`[ip, udp-port, tcp-port]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// 4 bytes on the wire for IPv4, 16 for IPv6.
    pub ip: IpAddr,
    /// Discovery port.
    pub udp: u16,
    /// RLPx port (0 where unknown, as in a Ping's `to`).
    pub tcp: u16,
}

/// Ping (0x01): `[version, from, to, expiration, enr-seq?]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    /// Ignored on receipt (EIP-8); we send [`PING_VERSION`].
    pub version: u64,
    /// The sender's endpoint as it believes it to be (receivers use the packet's source).
    pub from: Endpoint,
    /// The recipient's endpoint as the sender sees it.
    pub to: Endpoint,
    /// UNIX seconds after which the packet is void.
    pub expiration: u64,
    /// The sender's ENR sequence number (EIP-868), when it has a record.
    pub enr_seq: Option<u64>,
}

/// Pong (0x02): `[to, ping-hash, expiration, enr-seq?]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pong {
    /// The Ping's source endpoint as the ponging node saw it.
    pub to: Endpoint,
    /// The hash of the Ping this answers (the endpoint proof).
    pub ping_hash: B256,
    /// UNIX seconds after which the packet is void.
    pub expiration: u64,
    /// The sender's ENR sequence number (EIP-868).
    pub enr_seq: Option<u64>,
}

/// FindNode (0x03): `[target, expiration]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindNode {
    /// A public key; the answer lists the nodes closest to `keccak256(target)`.
    pub target: B512,
    /// UNIX seconds after which the packet is void.
    pub expiration: u64,
}

/// One node in a Neighbors packet: `[ip, udp, tcp, id]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeRecord {
    /// Where it is.
    pub endpoint: Endpoint,
    /// Its public key (node id).
    pub id: B512,
}

/// Neighbors (0x04): `[[node, ...], expiration]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbors {
    /// At most [`MAX_NEIGHBORS`] when we send; whatever fits in a packet when we receive.
    pub nodes: Vec<NodeRecord>,
    /// UNIX seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRRequest (0x05, EIP-868): `[expiration]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrRequest {
    /// UNIX seconds after which the packet is void.
    pub expiration: u64,
}

/// ENRResponse (0x06, EIP-868): `[request-hash, ENR]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrResponse {
    /// Hash of the ENRRequest it answers.
    pub request_hash: B256,
    /// The record's RLP (a list), at most [`MAX_RECORD_SIZE`] bytes; its signature is
    /// checked where it is decoded as a record, not here.
    pub record: Bytes,
}

/// Any discv4 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// 0x01.
    Ping(Ping),
    /// 0x02.
    Pong(Pong),
    /// 0x03.
    FindNode(FindNode),
    /// 0x04.
    Neighbors(Neighbors),
    /// 0x05.
    EnrRequest(EnrRequest),
    /// 0x06.
    EnrResponse(EnrResponse),
}

/// A received packet that passed the envelope checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The packet.
    pub packet: Packet,
    /// Its hash (what a Pong or ENRResponse echoes).
    pub hash: B256,
    /// The signer: the sender's node id.
    pub sender: B512,
}

impl Packet {
    /// The type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Ping(_) => 0x01,
            Self::Pong(_) => 0x02,
            Self::FindNode(_) => 0x03,
            Self::Neighbors(_) => 0x04,
            Self::EnrRequest(_) => 0x05,
            Self::EnrResponse(_) => 0x06,
        }
    }

    /// A short name for logs and metrics labels.
    pub fn name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// The expiration, for the packets that carry one (all but ENRResponse).
    pub fn expiration(&self) -> Option<u64> {
        match self {
            Self::Ping(p) => Some(p.expiration),
            Self::Pong(p) => Some(p.expiration),
            Self::FindNode(p) => Some(p.expiration),
            Self::Neighbors(p) => Some(p.expiration),
            Self::EnrRequest(p) => Some(p.expiration),
            Self::EnrResponse(_) => None,
        }
    }

    /// Fails with [`Discv4WireError::Expired`] when the expiration is before `now` (UNIX
    /// seconds), as geth's `v4wire.Expired`, which reads it as a signed number: values
    /// above `i64::MAX` are negative times, long past (devp2p's `Ping/PastExpiration`
    /// sends one).
    pub fn check_expiration(&self, now: u64) -> Result<(), Discv4WireError> {
        match self.expiration() {
            Some(expiration) if expiration < now || i64::try_from(expiration).is_err() => {
                Err(Discv4WireError::Expired { expiration, now })
            }
            _ => Ok(()),
        }
    }

    /// The RLP of the packet data.
    pub fn data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Ping(p) => {
                let seq = OptionalSeq(p.enr_seq);
                let fields: [&dyn Encodable; 5] = [&p.version, &p.from, &p.to, &p.expiration, &seq];
                encode_list(&fields, &mut out);
            }
            Self::Pong(p) => {
                let seq = OptionalSeq(p.enr_seq);
                let fields: [&dyn Encodable; 4] = [&p.to, &p.ping_hash, &p.expiration, &seq];
                encode_list(&fields, &mut out);
            }
            Self::FindNode(p) => encode_list(&[&p.target, &p.expiration], &mut out),
            Self::Neighbors(p) => encode_list(&[&p.nodes, &p.expiration], &mut out),
            Self::EnrRequest(p) => encode_list(&[&p.expiration], &mut out),
            Self::EnrResponse(p) => encode_list(&[&p.request_hash, &RawItem(&p.record)], &mut out),
        }
        out
    }

    /// The signed packet and its hash.
    pub fn encode(&self, key: &SecretKey) -> (Vec<u8>, B256) {
        let mut signed = Vec::with_capacity(HEADER_SIZE + 64);
        signed.push(self.kind());
        signed.extend_from_slice(&self.data());
        let digest = Message::from_digest(keccak256(&signed).0);
        let (recovery, rs) = SECP256K1
            .sign_ecdsa_recoverable(digest, key)
            .serialize_compact();
        let mut packet = vec![0u8; 32];
        packet.extend_from_slice(&rs);
        packet.push(i32::from(recovery) as u8);
        packet.extend_from_slice(&signed);
        let hash = keccak256(&packet[32..]);
        packet[..32].copy_from_slice(hash.as_slice());
        (packet, hash)
    }

    /// Checks a datagram's size, hash and signature, then decodes its data (EIP-8
    /// tolerant). Expiration is left to the caller ([`Packet::check_expiration`]).
    pub fn decode(datagram: &[u8]) -> Result<Decoded, Discv4WireError> {
        let (packet, hash) = Self::decode_unverified(datagram)?;
        let sender = Self::recover_sender(datagram)?;
        Ok(Decoded {
            packet,
            hash,
            sender,
        })
    }

    /// The cheap half of [`Packet::decode`]: size, hash and data, no signature recovery.
    /// A reply can then be matched to a pending request (its hash fields, its source)
    /// before the costly half runs.
    pub fn decode_unverified(datagram: &[u8]) -> Result<(Packet, B256), Discv4WireError> {
        let len = datagram.len();
        if len <= HEADER_SIZE {
            return Err(Discv4WireError::TooShort { len });
        }
        if len > MAX_PACKET_SIZE {
            return Err(Discv4WireError::TooLarge { len });
        }
        let hash = keccak256(&datagram[32..]);
        if hash.as_slice() != &datagram[..32] {
            return Err(Discv4WireError::HashMismatch);
        }
        let signed = &datagram[97..];
        let packet = decode_data(signed[0], &signed[1..])?;
        Ok((packet, hash))
    }

    /// The costly half of [`Packet::decode`]: the signer's node id (one ecrecover, about
    /// 30-40 µs). Call it on a datagram [`Packet::decode_unverified`] accepted.
    pub fn recover_sender(datagram: &[u8]) -> Result<B512, Discv4WireError> {
        if datagram.len() <= HEADER_SIZE {
            return Err(Discv4WireError::TooShort {
                len: datagram.len(),
            });
        }
        let signed = &datagram[97..];
        let recovery = RecoveryId::try_from(i32::from(datagram[96]))
            .map_err(|_| Discv4WireError::BadSignature)?;
        let signature = RecoverableSignature::from_compact(&datagram[32..96], recovery)
            .map_err(|_| Discv4WireError::BadSignature)?;
        let public = SECP256K1
            .recover_ecdsa(Message::from_digest(keccak256(signed).0), &signature)
            .map_err(|_| Discv4WireError::BadSignature)?;
        Ok(node_id(&public))
    }
}

/// The metrics label of a packet type byte.
pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        0x01 => "ping",
        0x02 => "pong",
        0x03 => "findnode",
        0x04 => "neighbors",
        0x05 => "enrrequest",
        0x06 => "enrresponse",
        _ => "unknown",
    }
}

/// Decodes the data of a packet of type `kind`.
fn decode_data(kind: u8, data: &[u8]) -> Result<Packet, Discv4WireError> {
    let rlp = |source| Discv4WireError::Rlp { kind, source };
    let mut list = List::open(data).map_err(rlp)?;
    let packet = match kind {
        0x01 => Packet::Ping(Ping {
            version: list.next().map_err(rlp)?,
            from: list.endpoint(kind)?,
            to: list.endpoint(kind)?,
            expiration: list.next().map_err(rlp)?,
            enr_seq: list.optional_u64(),
        }),
        0x02 => Packet::Pong(Pong {
            to: list.endpoint(kind)?,
            ping_hash: list.next().map_err(rlp)?,
            expiration: list.next().map_err(rlp)?,
            enr_seq: list.optional_u64(),
        }),
        0x03 => Packet::FindNode(FindNode {
            target: list.next().map_err(rlp)?,
            expiration: list.next().map_err(rlp)?,
        }),
        0x04 => {
            let mut nodes_list = list.nested().map_err(rlp)?;
            let mut nodes = Vec::new();
            while !nodes_list.is_empty() {
                let mut node = nodes_list.nested().map_err(rlp)?;
                let endpoint = node.endpoint_fields(kind)?;
                let id = node.next().map_err(rlp)?;
                nodes.push(NodeRecord { endpoint, id });
            }
            Packet::Neighbors(Neighbors {
                nodes,
                expiration: list.next().map_err(rlp)?,
            })
        }
        0x05 => Packet::EnrRequest(EnrRequest {
            expiration: list.next().map_err(rlp)?,
        }),
        0x06 => {
            let request_hash = list.next().map_err(rlp)?;
            let record = list.raw_list().map_err(rlp)?;
            if record.len() > MAX_RECORD_SIZE {
                return Err(Discv4WireError::RecordTooLarge { len: record.len() });
            }
            Packet::EnrResponse(EnrResponse {
                request_hash,
                record: Bytes::copy_from_slice(record),
            })
        }
        _ => return Err(Discv4WireError::UnknownType { kind }),
    };
    Ok(packet)
}

/// The payload of one RLP list, read field by field; what is left after the fields we
/// know is ignored (EIP-8).
struct List<'a> {
    rest: &'a [u8],
}

impl<'a> List<'a> {
    /// The list at the start of `data` (bytes after it are ignored, EIP-8).
    fn open(mut data: &'a [u8]) -> Result<Self, alloy_rlp::Error> {
        let header = Header::decode(&mut data)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let rest = data
            .get(..header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        Ok(Self { rest })
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn next<T: Decodable>(&mut self) -> Result<T, alloy_rlp::Error> {
        T::decode(&mut self.rest)
    }

    /// The next element as a list of its own.
    fn nested(&mut self) -> Result<List<'a>, alloy_rlp::Error> {
        let raw = self.raw_list()?;
        List::open(raw)
    }

    /// The next element's full encoding; it must be a list.
    fn raw_list(&mut self) -> Result<&'a [u8], alloy_rlp::Error> {
        let start = self.rest;
        let header = Header::decode(&mut self.rest)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let used = start.len() - self.rest.len() + header.payload_length;
        let raw = start.get(..used).ok_or(alloy_rlp::Error::InputTooShort)?;
        self.rest = &start[used..];
        Ok(raw)
    }

    /// An optional trailing integer (EIP-868's enr-seq): absent, or not an integer (an
    /// EIP-8 sender's extra element in that place), reads as `None`.
    fn optional_u64(&mut self) -> Option<u64> {
        let mut probe = self.rest;
        u64::decode(&mut probe).ok()
    }

    /// The next element as an `[ip, udp, tcp]` list.
    fn endpoint(&mut self, kind: u8) -> Result<Endpoint, Discv4WireError> {
        let mut inner = self
            .nested()
            .map_err(|source| Discv4WireError::Rlp { kind, source })?;
        inner.endpoint_fields(kind)
    }

    /// The next three elements as ip, udp, tcp.
    fn endpoint_fields(&mut self, kind: u8) -> Result<Endpoint, Discv4WireError> {
        let rlp = |source| Discv4WireError::Rlp { kind, source };
        let raw: Bytes = self.next().map_err(rlp)?;
        let ip = match raw.len() {
            // geth sends an empty IP when it does not know its own (a Ping's `from`).
            0 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            4 => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
            16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&raw);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            len => return Err(Discv4WireError::BadIp { len }),
        };
        Ok(Endpoint {
            ip,
            udp: self.next().map_err(rlp)?,
            tcp: self.next().map_err(rlp)?,
        })
    }
}

/// An optional trailing ENR sequence number: encodes nothing when absent.
struct OptionalSeq(Option<u64>);

impl Encodable for OptionalSeq {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        if let Some(seq) = self.0 {
            seq.encode(out);
        }
    }
    fn length(&self) -> usize {
        self.0.map_or(0, |seq| seq.length())
    }
}

/// Bytes that are already RLP, written as they are.
struct RawItem<'a>(&'a [u8]);

impl Encodable for RawItem<'_> {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        out.put_slice(self.0)
    }
    fn length(&self) -> usize {
        self.0.len()
    }
}

impl Encodable for Endpoint {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        let ip = ip_bytes(self.ip);
        encode_list(&[&ip.as_slice(), &self.udp, &self.tcp], out);
    }
    fn length(&self) -> usize {
        let ip = ip_bytes(self.ip);
        list_length(&[&ip.as_slice(), &self.udp, &self.tcp])
    }
}

impl Encodable for NodeRecord {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        let ip = ip_bytes(self.endpoint.ip);
        let fields: [&dyn Encodable; 4] = [
            &ip.as_slice(),
            &self.endpoint.udp,
            &self.endpoint.tcp,
            &self.id,
        ];
        encode_list(&fields, out);
    }
    fn length(&self) -> usize {
        let ip = ip_bytes(self.endpoint.ip);
        list_length(&[
            &ip.as_slice(),
            &self.endpoint.udp,
            &self.endpoint.tcp,
            &self.id,
        ])
    }
}

fn list_length(fields: &[&dyn Encodable]) -> usize {
    let payload_length: usize = fields.iter().map(|f| f.length()).sum();
    alloy_rlp::length_of_length(payload_length) + payload_length
}

fn encode_list(fields: &[&dyn Encodable], out: &mut dyn bytes::BufMut) {
    let payload_length = fields.iter().map(|f| f.length()).sum();
    Header {
        list: true,
        payload_length,
    }
    .encode(out);
    for field in fields {
        field.encode(out);
    }
}

/// 4 bytes for IPv4 (and IPv4-mapped IPv6, as geth's `To4`), 16 for IPv6.
fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
