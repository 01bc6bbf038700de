//! Node addresses: the `enode://ID@HOST:PORT` URLs that geth, reth and every devp2p client
//! print and accept, and the node key file that fixes our own id across restarts.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use alloy_primitives::{hex, B512};
pub use secp256k1::SecretKey;

use crate::p2p::PeerId;

/// A peer's id and TCP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Enode {
    /// The node id (uncompressed public key without the 0x04 prefix).
    pub id: PeerId,
    /// Where it listens for RLPx.
    pub addr: SocketAddr,
}

/// Why an enode URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnodeError {
    /// Not `enode://...`.
    #[error("{url:?}: not an enode URL (expected enode://<128 hex chars>@<ip>:<port>)")]
    Scheme {
        /// The input.
        url: String,
    },
    /// The id is not 64 bytes of hex.
    #[error("{url:?}: node id must be 128 hex characters")]
    Id {
        /// The input.
        url: String,
    },
    /// The id is not a point on the curve.
    #[error("{url:?}: node id is not a valid secp256k1 public key")]
    InvalidKey {
        /// The input.
        url: String,
    },
    /// The host part is not `ip:port` (or, for [`Enode::parse_resolving`], `host:port`).
    #[error("{url:?}: expected an IP address and TCP port after '@'")]
    Endpoint {
        /// The input.
        url: String,
    },
    /// The host name did not resolve to any address.
    #[error("{url:?}: cannot resolve host {host:?}: {reason}")]
    Resolve {
        /// The input.
        url: String,
        /// The host name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
}

impl Enode {
    /// Parses an enode URL whose host may be a DNS name, resolved now, an IPv4 address
    /// preferred (geth's `enode.ParseV4` resolves names the same way, so the usual
    /// docker-compose `enode://…@bootnode:30303` works). Blocks on the system resolver: for
    /// flags and files at start, not for remote data.
    pub fn parse_resolving(url: &str) -> Result<Self, EnodeError> {
        match url.parse::<Self>() {
            Ok(enode) => return Ok(enode),
            // Only a host that is not an IP address is left to resolve.
            Err(EnodeError::Endpoint { .. }) => (),
            Err(other) => return Err(other),
        }
        let rest = url.trim().strip_prefix("enode://").unwrap_or_default();
        let (id, endpoint) = rest.split_once('@').unwrap_or_default();
        let endpoint = endpoint.split('?').next().unwrap_or_default();
        let endpoint_error = || EnodeError::Endpoint {
            url: url.to_string(),
        };
        let (host, port) = endpoint.rsplit_once(':').ok_or_else(endpoint_error)?;
        let port: u16 = port.parse().map_err(|_| endpoint_error())?;
        if host.is_empty() || host.contains(['[', ']', '/', '@']) {
            return Err(endpoint_error());
        }
        let resolve_error = |reason: String| EnodeError::Resolve {
            url: url.to_string(),
            host: host.to_string(),
            reason,
        };
        let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| resolve_error(e.to_string()))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| resolve_error("no addresses".to_string()))?;
        // The id was checked by the first parse (it failed on the endpoint only).
        format!("enode://{id}@{addr}").parse()
    }
}

impl std::str::FromStr for Enode {
    type Err = EnodeError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let fail = |make: fn(String) -> EnodeError| make(url.to_string());
        let rest = url
            .trim()
            .strip_prefix("enode://")
            .ok_or_else(|| fail(|url| EnodeError::Scheme { url }))?;
        let (id, endpoint) = rest
            .split_once('@')
            .ok_or_else(|| fail(|url| EnodeError::Endpoint { url }))?;
        let id: [u8; 64] = hex::decode(id)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| fail(|url| EnodeError::Id { url }))?;
        let id = B512::from(id);
        if crate::rlpx::handshake::public_key(&id).is_err() {
            return Err(fail(|url| EnodeError::InvalidKey { url }));
        }
        // `?discport=N` names the UDP port of discovery; dialing needs only the TCP one.
        let endpoint = endpoint.split('?').next().unwrap_or_default();
        let addr: SocketAddr = endpoint
            .parse()
            .map_err(|_| fail(|url| EnodeError::Endpoint { url }))?;
        Ok(Self { id, addr })
    }
}

impl std::fmt::Display for Enode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "enode://{}@{}", hex::encode(self.id), self.addr)
    }
}

/// Whether an address is on this machine or a private network, where geth skips its
/// inbound throttle (`netutil.IsLAN`): several local nodes share one IP.
pub fn is_lan(ip: IpAddr) -> bool {
    // An IPv4 client of a dual-stack listener shows up as ::ffff:a.b.c.d.
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.is_unicast_link_local()
        }
    }
}

/// Why the node key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    /// Reading or creating the file failed.
    #[error("node key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is not 64 hex characters of a valid secp256k1 secret key.
    #[error("node key file {path}: expected 64 hex characters of a secp256k1 private key")]
    Invalid {
        /// The file.
        path: String,
    },
}

/// Reads a node key file: 64 hex characters (geth's `nodekey` format), surrounding
/// whitespace ignored.
pub fn read_node_key(path: &Path) -> Result<SecretKey, NodeKeyError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| NodeKeyError::Io {
        path: shown.clone(),
        source,
    })?;
    parse_node_key(&text).map_err(|_| NodeKeyError::Invalid { path: shown })
}

/// Parses a node key written as 64 hex characters (geth's `nodekey` file and
/// `--nodekeyhex` format), surrounding whitespace and a `0x` prefix ignored.
pub fn parse_node_key(text: &str) -> Result<SecretKey, NodeKeyError> {
    let text = text.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| SecretKey::from_byte_array(bytes).ok())
        .ok_or(NodeKeyError::Invalid {
            path: "(hex)".to_string(),
        })
}

/// Reads the node key at `path`, or creates it with a fresh random key (mode 0600, 64 hex
/// characters without newline, as geth writes it) when the file does not exist.
pub fn load_or_create_node_key(path: &Path) -> Result<SecretKey, NodeKeyError> {
    if path.exists() {
        return read_node_key(path);
    }
    let key = new_node_key();
    save_node_key(path, &key)?;
    Ok(key)
}

/// A fresh random node key (the OS's randomness).
pub fn new_node_key() -> SecretKey {
    SecretKey::new(&mut secp256k1::rand::rng())
}

/// Writes `key` to a new file at `path` (mode 0600, 64 hex characters without newline, as
/// geth writes it); an existing file is an error, never overwritten.
pub fn save_node_key(path: &Path, key: &SecretKey) -> Result<(), NodeKeyError> {
    let io = |source| NodeKeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, hex::encode(key.secret_bytes()).as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a979fb575495b8d6db44f750317d0f4622bf4c2aa3365d6af7c284339968eef29b69ad0dce72a4d8db5ebb4968de0e3bec910127f134779fbcb0cb6d3331163c";

    #[test]
    fn parses_and_prints_geth_enodes() {
        let url = format!("enode://{ID}@127.0.0.1:30303?discport=30301");
        let enode: Enode = url.parse().unwrap();
        assert_eq!(enode.addr, "127.0.0.1:30303".parse().unwrap());
        assert_eq!(enode.to_string(), format!("enode://{ID}@127.0.0.1:30303"));
        let v6: Enode = format!("enode://{ID}@[::1]:1").parse().unwrap();
        assert_eq!(v6.addr.port(), 1);
    }

    #[test]
    fn host_names_resolve_when_asked_and_only_then() {
        // `localhost` resolves from /etc/hosts, no network needed.
        let url = format!("enode://{ID}@localhost:30303?discport=30301");
        assert!(matches!(
            url.parse::<Enode>(),
            Err(EnodeError::Endpoint { .. })
        ));
        let enode = Enode::parse_resolving(&url).unwrap();
        assert!(enode.addr.ip().is_loopback(), "{enode}");
        assert_eq!(enode.addr.port(), 30303);
        // An IP address needs no resolver; errors other than the host stay what they were.
        let ip = Enode::parse_resolving(&format!("enode://{ID}@127.0.0.1:1")).unwrap();
        assert_eq!(ip.addr.port(), 1);
        assert!(matches!(
            Enode::parse_resolving(&format!("enode://{}@localhost:1", &ID[2..])),
            Err(EnodeError::Id { .. })
        ));
        for bad in ["localhost", "localhost:x", ":1", "no-such-host.invalid:1"] {
            let url = format!("enode://{ID}@{bad}");
            assert!(Enode::parse_resolving(&url).is_err(), "{url}");
        }
    }

    #[test]
    fn refuses_malformed_enodes() {
        for url in [
            format!("http://{ID}@127.0.0.1:1"),
            format!("enode://{}@127.0.0.1:1", &ID[2..]),
            format!("enode://{ID}@localhost:1"),
            format!("enode://{ID}"),
            format!("enode://{}@127.0.0.1:1", "ff".repeat(64)),
        ] {
            assert!(url.parse::<Enode>().is_err(), "{url}");
        }
    }

    #[test]
    fn node_key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodekey");
        let key = load_or_create_node_key(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 64);
        assert_eq!(load_or_create_node_key(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(matches!(
            read_node_key(&path),
            Err(NodeKeyError::Invalid { .. })
        ));
    }

    #[test]
    fn lan_addresses_are_exempt_from_the_throttle() {
        assert!(is_lan("127.0.0.1".parse().unwrap()));
        assert!(is_lan("192.168.1.4".parse().unwrap()));
        assert!(!is_lan("203.0.113.5".parse().unwrap()));
        assert!(is_lan("::ffff:127.0.0.1".parse().unwrap()));
    }
}
