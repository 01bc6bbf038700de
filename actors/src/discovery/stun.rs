//! Our external address as a STUN server sees it (RFC 5389 Binding request; geth's
//! `--nat stun[:SERVER]`): the address that goes into our node record and enode when the
//! node sits behind a NAT that keeps the UDP mapping. The wire code is pure; [`query`]
//! asks servers over a blocking UDP socket, for use at start-up only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// RFC 5389's magic cookie, in every message after the type and length.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;

/// Binding request and success response message types.
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;

/// Attributes that carry the mapped address.
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// STUN header length.
const HEADER: usize = 20;

/// Largest response read (a STUN response fits one unfragmented datagram; RFC 5389 §7.1
/// bounds messages by the path MTU, 576 bytes when unknown; we take up to 1,500).
pub const MAX_RESPONSE: usize = 1500;

/// How long each try waits for an answer (RFC 5389 §7.2.1 starts retransmissions at
/// 500 ms).
pub const TRY_TIMEOUT: Duration = Duration::from_millis(500);

/// Tries per server before the next one (ours: RFC 5389 allows 7; start-up should not wait
/// long for a dead server).
pub const TRIES: usize = 3;

/// Public servers asked by a bare `--nat stun` (geth's list starts with Google's servers).
pub const DEFAULT_SERVERS: [&str; 3] = [
    "stun.l.google.com:19302",
    "stun1.l.google.com:19302",
    "stun.cloudflare.com:3478",
];

/// Why no external address was learned.
#[derive(Debug, thiserror::Error)]
pub enum StunError {
    /// A response that is not a well-formed Binding success for our transaction.
    #[error("malformed STUN response: {0}")]
    Malformed(&'static str),
    /// No server answered.
    #[error("no STUN server answered ({0})")]
    NoAnswer(String),
}

/// A Binding request with transaction id `id`.
pub fn binding_request(id: [u8; 12]) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    // Length 0: no attributes.
    out[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out[8..20].copy_from_slice(&id);
    out
}

/// The mapped address of a Binding success response to transaction `id` (XOR-MAPPED-
/// ADDRESS preferred, MAPPED-ADDRESS accepted from old servers). Every length is checked
/// against the datagram; unknown attributes are skipped.
pub fn parse_response(bytes: &[u8], id: [u8; 12]) -> Result<SocketAddr, StunError> {
    let header = bytes
        .get(..HEADER)
        .ok_or(StunError::Malformed("short header"))?;
    if u16::from_be_bytes([header[0], header[1]]) != BINDING_SUCCESS {
        return Err(StunError::Malformed("not a Binding success"));
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if header[4..8] != MAGIC_COOKIE.to_be_bytes() {
        return Err(StunError::Malformed("no magic cookie"));
    }
    if header[8..20] != id {
        return Err(StunError::Malformed("another transaction"));
    }
    let body = bytes
        .get(HEADER..HEADER + length)
        .ok_or(StunError::Malformed("length beyond the datagram"))?;
    let (mut xor, mut plain) = (None, None);
    let mut rest = body;
    while rest.len() >= 4 {
        let kind = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest
            .get(4..4 + len)
            .ok_or(StunError::Malformed("attribute beyond the message"))?;
        match kind {
            XOR_MAPPED_ADDRESS => xor = Some(address(value, Some(id))?),
            MAPPED_ADDRESS => plain = Some(address(value, None)?),
            _ => {}
        }
        // Attributes are padded to 4 bytes.
        let padded = (4 + len).div_ceil(4) * 4;
        rest = rest.get(padded..).unwrap_or_default();
    }
    xor.or(plain)
        .ok_or(StunError::Malformed("no mapped address"))
}

/// An address attribute's value; XOR-ed with the cookie (and the transaction id for IPv6)
/// when `xor_id` is given.
fn address(value: &[u8], xor_id: Option<[u8; 12]>) -> Result<SocketAddr, StunError> {
    let bad = StunError::Malformed("bad address attribute");
    let (family, port) = match value {
        [_, family, p0, p1, ..] => (*family, u16::from_be_bytes([*p0, *p1])),
        _ => return Err(bad),
    };
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = match xor_id {
        Some(_) => port ^ u16::from_be_bytes([cookie[0], cookie[1]]),
        None => port,
    };
    let ip = match (family, value.get(4..)) {
        (0x01, Some(raw)) if raw.len() == 4 => {
            let mut octets = [raw[0], raw[1], raw[2], raw[3]];
            if xor_id.is_some() {
                octets.iter_mut().zip(cookie).for_each(|(o, c)| *o ^= c);
            }
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        (0x02, Some(raw)) if raw.len() == 16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(raw);
            if let Some(id) = xor_id {
                let key = cookie.iter().chain(id.iter());
                octets.iter_mut().zip(key).for_each(|(o, k)| *o ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err(bad),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Asks `servers` in turn (each [`TRIES`] times, [`TRY_TIMEOUT`] apart) from a socket bound
/// to `local`; answers the first mapped address. Blocks: call at start-up.
pub fn query(servers: &[String], local: SocketAddr) -> Result<SocketAddr, StunError> {
    let socket = UdpSocket::bind(local).map_err(|e| StunError::NoAnswer(e.to_string()))?;
    socket
        .set_read_timeout(Some(TRY_TIMEOUT))
        .map_err(|e| StunError::NoAnswer(e.to_string()))?;
    let mut last = String::from("no servers");
    for server in servers {
        let Some(addr) = server
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.find(|a| a.is_ipv4() == local.is_ipv4()))
        else {
            last = format!("{server}: cannot resolve");
            continue;
        };
        for _ in 0..TRIES {
            let id: [u8; 12] = rand_id();
            if socket.send_to(&binding_request(id), addr).is_err() {
                continue;
            }
            let mut buf = [0u8; MAX_RESPONSE];
            last = format!("{server}: no answer");
            // Datagrams from elsewhere or for old transactions are skipped until timeout.
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                if from != addr {
                    continue;
                }
                match parse_response(&buf[..n], id) {
                    Ok(mapped) => return Ok(mapped),
                    Err(error) => last = format!("{server}: {error}"),
                }
            }
        }
    }
    Err(StunError::NoAnswer(last))
}

fn rand_id() -> [u8; 12] {
    let mut id = [0u8; 12];
    secp256k1::rand::RngCore::fill_bytes(&mut secp256k1::rand::rng(), &mut id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 §2.2, "Sample IPv4 Response" (SOFTWARE, XOR-MAPPED-ADDRESS 192.0.2.1:32853,
    /// MESSAGE-INTEGRITY, FINGERPRINT).
    const RFC5769_IPV4: [u8; 80] = [
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ];
    const RFC5769_ID: [u8; 12] = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    #[test]
    fn the_rfc5769_ipv4_response_maps_to_192_0_2_1() {
        let mapped = parse_response(&RFC5769_IPV4, RFC5769_ID).unwrap();
        assert_eq!(mapped, "192.0.2.1:32853".parse().unwrap());
    }

    #[test]
    fn requests_have_rfc5389s_header() {
        let request = binding_request(RFC5769_ID);
        assert_eq!(
            &request[..8],
            &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]
        );
        assert_eq!(&request[8..], &RFC5769_ID);
    }

    #[test]
    fn malformed_responses_are_typed_errors() {
        let good = RFC5769_IPV4;
        let mut other_id = RFC5769_ID;
        other_id[0] ^= 1;
        assert!(parse_response(&good, other_id).is_err());
        for cut in 0..good.len() {
            // Every truncation either fails or (past the message) still parses the same.
            let _ = parse_response(&good[..cut], RFC5769_ID);
        }
        let mut long = good;
        long[3] = 0xff; // length beyond the datagram
        assert!(parse_response(&long, RFC5769_ID).is_err());
        let mut attr = good;
        attr[39] = 0x40; // XOR-MAPPED-ADDRESS claims 64 bytes
        assert!(parse_response(&attr, RFC5769_ID).is_err());
        let mut family = good;
        family[41] = 0x07; // unknown address family
        assert!(parse_response(&family, RFC5769_ID).is_err());
        let mut kind = good;
        kind[1] = 0x11; // a Binding error response
        assert!(parse_response(&kind, RFC5769_ID).is_err());
    }
}
