//! Who may be a peer at all, before the limits: geth's `--netrestrict` (peers only from
//! these networks) and reth's `--trusted-only` (trusted peers only).

use std::net::IpAddr;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected an IP network such as 10.0.0.0/8 or fd00::/8")]
pub struct CidrError(pub String);

impl std::str::FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || CidrError(text.to_string());
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(fail)?;
        let addr: IpAddr = addr.parse().map_err(|_| fail())?;
        let prefix: u8 = prefix.parse().map_err(|_| fail())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return Err(fail());
        }
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is in the network (an IPv4 address mapped into IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let prefix = u32::from(self.prefix);
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The admission policy before the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Only peers whose address is in one of these networks (geth `--netrestrict`); empty:
    /// any address.
    pub netrestrict: Vec<Cidr>,
    /// Only trusted peers (reth `--trusted-only`): no one else is dialed or admitted.
    pub trusted_only: bool,
}

impl PeerPolicy {
    /// Whether an address may be a peer's.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.netrestrict.is_empty() || self.netrestrict.iter().any(|n| n.contains(ip))
    }

    /// Parses geth's comma-separated `--netrestrict` list.
    pub fn parse_netrestrict(list: &str) -> Result<Vec<Cidr>, CidrError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
        let host: Cidr = "127.0.2.1/32".parse().unwrap();
        assert!(host.contains("127.0.2.1".parse().unwrap()));
        assert!(!host.contains("127.0.2.2".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fdab::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "::/129",
            "x/8",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        let list = PeerPolicy::parse_netrestrict("10.0.0.0/8, 192.168.0.0/16").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].to_string(), "192.168.0.0/16");
        let policy = PeerPolicy {
            netrestrict: list,
            trusted_only: false,
        };
        assert!(policy.allows_ip("192.168.4.4".parse().unwrap()));
        assert!(!policy.allows_ip("8.8.8.8".parse().unwrap()));
        assert!(PeerPolicy::default().allows_ip("8.8.8.8".parse().unwrap()));
    }
}
