//! The p2p Hello message (`rlpx.md` "Hello (0x00)") and capability negotiation.

use alloy_primitives::B512;
use alloy_rlp::{Decodable, Encodable, Header, RlpDecodable, RlpEncodable};

/// The p2p protocol version we speak (EIP-706: 5 means snappy after Hello).
pub const P2P_VERSION: u8 = 5;

/// Largest Hello accepted (geth `baseProtocolMaxMsgSize`, 2 KiB).
pub const MAX_HELLO_SIZE: usize = 2 * 1024;

/// Message ids below this belong to the p2p base protocol; capabilities start here.
pub const BASE_PROTOCOL_LENGTH: u64 = 0x10;

/// A capability: `[name, version]`, e.g. eth/68.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, RlpEncodable, RlpDecodable)]
pub struct Capability {
    /// Short ASCII name (at most 8 characters).
    pub name: String,
    /// Version.
    pub version: u8,
}

impl Capability {
    /// A capability.
    pub fn new(name: &str, version: u8) -> Self {
        Self {
            name: name.to_string(),
            version,
        }
    }
}

/// Hello: `[protocolVersion, clientId, [[cap, version], ...], listenPort, nodeKey, ...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The p2p version (5).
    pub protocol_version: u8,
    /// Free-form client name, e.g. `ethpeer/v0.1.0`.
    pub client_id: String,
    /// Offered capabilities.
    pub capabilities: Vec<Capability>,
    /// Legacy listen port (ignored on receipt).
    pub port: u16,
    /// The sender's node id (64-byte public key).
    pub id: B512,
}

impl Hello {
    /// Encodes the Hello payload.
    pub fn encoded(&self) -> Vec<u8> {
        let fields: [&dyn Encodable; 5] = [
            &self.protocol_version,
            &self.client_id,
            &self.capabilities,
            &self.port,
            &self.id,
        ];
        let payload_length = fields.iter().map(|f| f.length()).sum();
        let mut out = Vec::with_capacity(payload_length + 3);
        Header {
            list: true,
            payload_length,
        }
        .encode(&mut out);
        for field in fields {
            field.encode(&mut out);
        }
        out
    }

    /// Decodes a Hello, ignoring extra list elements and trailing data (EIP-8), and a
    /// capability whose version does not fit a byte (it cannot match any of ours).
    pub fn decode_lenient(bytes: &[u8]) -> alloy_rlp::Result<Self> {
        let mut buf = bytes;
        let header = Header::decode(&mut buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let mut body = buf
            .get(..header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        let protocol_version = u8::decode(&mut body)?;
        let client_id = String::decode(&mut body)?;
        let caps_header = Header::decode(&mut body)?;
        if !caps_header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let mut caps = body
            .get(..caps_header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        body = &body[caps_header.payload_length..];
        let mut capabilities = Vec::new();
        while !caps.is_empty() {
            let item = Header::decode(&mut caps)?;
            let mut fields = caps
                .get(..item.payload_length)
                .ok_or(alloy_rlp::Error::InputTooShort)?;
            caps = &caps[item.payload_length..];
            let name = String::decode(&mut fields)?;
            if let Ok(version) = u8::decode(&mut fields) {
                capabilities.push(Capability { name, version });
            }
        }
        let port = u16::decode(&mut body)?;
        let id = B512::decode(&mut body)?;
        Ok(Self {
            protocol_version,
            client_id,
            capabilities,
            port,
            id,
        })
    }
}

/// A capability both sides share, with the message-id offset it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedCapability {
    /// The capability (highest version both offer).
    pub capability: Capability,
    /// First message id of this capability on the connection.
    pub offset: u64,
    /// Number of message ids it reserves.
    pub length: u64,
}

/// Matches our capabilities with the remote's (`rlpx.md` "Message ID-based Multiplexing",
/// geth `matchProtocols`): for each name both offer, the highest version both offer; shared
/// capabilities sorted by name get consecutive id ranges from 0x10. `length_of` says how
/// many ids a (name, version) uses; unknown ones are skipped.
pub fn negotiate(
    ours: &[Capability],
    theirs: &[Capability],
    length_of: impl Fn(&Capability) -> Option<u64>,
) -> Vec<SharedCapability> {
    let mut shared: Vec<&Capability> = ours.iter().filter(|c| theirs.contains(c)).collect();
    shared.sort();
    // Highest version per name: after sorting, the last of each name.
    let mut best: Vec<&Capability> = Vec::new();
    for cap in shared {
        match best.last_mut() {
            Some(last) if last.name == cap.name => *last = cap,
            _ => best.push(cap),
        }
    }
    let mut offset = BASE_PROTOCOL_LENGTH;
    best.into_iter()
        .filter_map(|cap| {
            let length = length_of(cap)?;
            let shared = SharedCapability {
                capability: cap.clone(),
                offset,
                length,
            };
            offset += length;
            Some(shared)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_and_ignores_extra_elements() {
        let hello = Hello {
            protocol_version: P2P_VERSION,
            client_id: "ethpeer/test".into(),
            capabilities: vec![Capability::new("eth", 68), Capability::new("eth", 69)],
            port: 30303,
            id: B512::repeat_byte(7),
        };
        let bytes = hello.encoded();
        assert_eq!(Hello::decode_lenient(&bytes), Ok(hello.clone()));
        // Append an extra element inside the list and junk after it.
        let mut payload = bytes.as_slice();
        Header::decode(&mut payload).expect("list header");
        let mut longer = payload.to_vec();
        longer.extend_from_slice(&[0x83, 1, 2, 3]);
        let mut extended = Vec::new();
        Header {
            list: true,
            payload_length: longer.len(),
        }
        .encode(&mut extended);
        extended.extend(longer);
        extended.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(Hello::decode_lenient(&extended), Ok(hello));
        assert!(Hello::decode_lenient(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn negotiation_picks_the_highest_shared_version_and_assigns_offsets_by_name() {
        let ours = [
            Capability::new("snap", 1),
            Capability::new("eth", 68),
            Capability::new("eth", 69),
            Capability::new("eth", 70),
        ];
        let theirs = [
            Capability::new("eth", 69),
            Capability::new("eth", 68),
            Capability::new("snap", 1),
            Capability::new("les", 4),
        ];
        let lengths = |c: &Capability| match (c.name.as_str(), c.version) {
            ("eth", 66..=68) => Some(17),
            ("eth", 69 | 70) => Some(18),
            ("snap", 1) => Some(8),
            _ => None,
        };
        let shared = negotiate(&ours, &theirs, lengths);
        assert_eq!(
            shared,
            vec![
                SharedCapability {
                    capability: Capability::new("eth", 69),
                    offset: 0x10,
                    length: 18
                },
                SharedCapability {
                    capability: Capability::new("snap", 1),
                    offset: 0x22,
                    length: 8
                },
            ]
        );
        assert!(negotiate(&ours, &[Capability::new("les", 4)], lengths).is_empty());
    }
}
