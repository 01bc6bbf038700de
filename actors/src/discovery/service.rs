//! Discovery composed: the settings ([`DiscoveryConfig`], bootnode URLs with
//! `?discport=`), our node record, the discv4 service on the UDP port (shared with
//! [`super::v5`] when both run), and the forwarder that judges each discovered node's
//! `eth` entry against our fork filter and emits it as a [`NodeDiscovered`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use secp256k1::SecretKey;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::candidate::{verdict, NodeDiscovered, PeerSource};
use super::enode::{Enode, EnodeError};
use super::v5::{self, Discv5Handle, Discv5Start};
use crate::discovery::enr::{self, LocalRecord, Record, RecordContent};
use crate::discovery::v4::{
    DiscoveredNode, Discv4, Discv4Config, Discv4Handle, Discv4Service, Endpoint, Inbound,
};
use crate::session::StoreStatus;

/// Discovered nodes queued between the UDP loop and the forwarder (ours; a full queue
/// drops nodes, which discovery offers again when their record changes).
pub const DISCOVERED_QUEUE: usize = 256;

/// The discovery socket's receive buffer (ours; the kernel caps it at
/// `net.core.rmem_max`): about 40,000 small datagrams between two reads.
pub const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// A bootnode: its enode and the UDP port its discovery answers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bootnode {
    /// Id and RLPx endpoint.
    pub enode: Enode,
    /// Discovery port: `?discport=N` of the URL, else the RLPx port (as geth).
    pub udp: u16,
}

/// Why a bootnode could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BootnodeError {
    /// A malformed enode URL.
    #[error(transparent)]
    Enode(#[from] EnodeError),
    /// A malformed or forged `enr:` record.
    #[error("{text:?}: {source}")]
    Record {
        /// The input.
        text: String,
        /// Why.
        source: enr::EnrError,
    },
    /// A record without an IPv4/IPv6 address and UDP port.
    #[error("{text:?}: the record names no IP address and UDP port")]
    NoAddress {
        /// The input.
        text: String,
    },
}

impl std::str::FromStr for Bootnode {
    type Err = BootnodeError;

    /// An `enode://ID@IP:TCP[?discport=UDP]` URL or an `enr:` record (geth accepts both).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().starts_with("enr:") {
            return from_record(text);
        }
        let enode: Enode = text.parse()?;
        let udp = text
            .split_once('?')
            .and_then(|(_, query)| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("discport="))
            })
            .and_then(|port| port.parse().ok())
            .unwrap_or(enode.addr.port());
        Ok(Self { enode, udp })
    }
}

/// A bootnode from its record: IPv4 preferred; a record without a TCP port is dialed at
/// its UDP port, as geth assumes.
fn from_record(text: &str) -> Result<Bootnode, BootnodeError> {
    let record = enr::parse_record(text).map_err(|source| BootnodeError::Record {
        text: text.to_string(),
        source,
    })?;
    let v4 = record.ip4().zip(record.udp4()).map(|(ip, udp)| {
        let tcp = record.tcp4().unwrap_or(udp);
        (IpAddr::V4(ip), udp, tcp)
    });
    let v6 = || {
        record.ip6().zip(record.udp6()).map(|(ip, udp)| {
            let tcp = record.tcp6().unwrap_or(udp);
            (IpAddr::V6(ip), udp, tcp)
        })
    };
    let (ip, udp, tcp) = v4.or_else(v6).ok_or_else(|| BootnodeError::NoAddress {
        text: text.to_string(),
    })?;
    Ok(Bootnode {
        enode: Enode {
            id: enr::node_id(&record),
            addr: SocketAddr::new(ip, tcp),
        },
        udp,
    })
}

/// How the node discovers peers. Off by default for embedders; the `ethpeer` binary turns
/// discv4 and discv5 on unless `--nodiscover`.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryConfig {
    /// Run discv4 (`--discovery.v4`).
    pub v4: bool,
    /// Run discv5 (`--discovery.v5`), on the same UDP port as discv4.
    pub v5: bool,
    /// Where discv5 lookups start: signed records only (the `enr:` bootnodes).
    pub v5_bootnodes: Vec<Record>,
    /// UDP port (`--discovery.port`); `None`: the RLPx listening port (an ephemeral one
    /// when that is 0).
    pub port: Option<u16>,
    /// The address others reach us at (`--nat extip:IP`), put into our record and enode.
    pub external_ip: Option<IpAddr>,
    /// Where lookups start.
    pub bootnodes: Vec<Bootnode>,
    /// Where our record (and so its sequence number) is kept across restarts.
    pub record_file: Option<PathBuf>,
    /// A UDP socket already bound for discovery (then `port` is not bound again).
    pub socket: Option<Arc<std::net::UdpSocket>>,
    /// EIP-1459 trees to take nodes from (`--discovery.dns`); empty: none.
    pub dns: Vec<crate::discovery::dns::Link>,
}

/// The running discovery services and our record.
#[derive(Debug)]
pub struct Discovery {
    /// The discv4 service, if it runs.
    pub v4: Option<Discv4Handle>,
    /// The discv5 service, if it runs.
    pub v5: Option<Arc<Discv5Handle>>,
    record: Record,
    port: u16,
}

impl Discovery {
    /// Our record (both protocols serve it).
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The UDP port discovery answers on (both protocols: the record's `udp`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Datagrams the kernel dropped on our socket because its receive buffer was full
    /// (Linux's `/proc/net/udp` `drops` of the socket on our port): what neither protocol
    /// ever saw, the loss a flood causes. `None` where the table cannot be read.
    pub fn kernel_drops(&self) -> Option<u64> {
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|table| udp_drops(&table, self.port))
            .reduce(|a, b| a + b)
    }

    /// Stops every service.
    pub fn stop(&self) {
        if let Some(v4) = &self.v4 {
            v4.stop();
        }
        if let Some(v5) = &self.v5 {
            v5.stop();
        }
    }
}

/// The `drops` of the sockets bound to local `port` in a `/proc/net/udp` table (columns:
/// `sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
/// ref pointer drops`; the address is hex `IP:PORT`).
fn udp_drops(table: &str, port: u16) -> u64 {
    let port = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            local
                .ends_with(&port)
                .then(|| fields.last()?.parse::<u64>().ok())?
        })
        .sum()
}

/// The IP our record names: the external one if given, else the listening one unless it
/// is unspecified (then none, as geth without NAT).
pub(super) fn announced_ip(config: &DiscoveryConfig, listen: SocketAddr) -> Option<IpAddr> {
    config
        .external_ip
        .or_else(|| (!listen.ip().is_unspecified()).then_some(listen.ip()))
}

/// Binds the UDP socket, makes our record and starts discv4 (with its forwarder) and
/// discv5 on it, as the config asks.
pub async fn start(
    config: &DiscoveryConfig,
    key: SecretKey,
    tcp: SocketAddr,
    status: Arc<StoreStatus>,
    on_found: Recipient<NodeDiscovered>,
) -> std::io::Result<Discovery> {
    let socket = match &config.socket {
        Some(bound) => {
            let socket = bound.try_clone()?;
            socket.set_nonblocking(true)?;
            Arc::new(UdpSocket::from_std(socket)?)
        }
        None => {
            let udp_addr = SocketAddr::new(tcp.ip(), config.port.unwrap_or(tcp.port()));
            Arc::new(UdpSocket::bind(udp_addr).await?)
        }
    };
    // A flood fills the default buffer (about 200 KiB, a few hundred datagrams) between two
    // reads and the kernel then drops honest datagrams with the flood's.
    if let Err(error) = socket2::SockRef::from(socket.as_ref()).set_recv_buffer_size(RECV_BUFFER) {
        log::debug!("discovery: receive buffer not enlarged: {error}");
    }
    let udp = socket.local_addr()?;
    let ip = announced_ip(config, tcp);
    let content = RecordContent {
        ip,
        tcp: tcp.port(),
        udp: Some(udp.port()),
        fork_id: Some(status.now().fork_id()),
    };
    let local = LocalRecord::load_or_create(&key, content, config.record_file.as_deref())
        .map_err(std::io::Error::other)?;
    let record = local.record().clone();
    // Both on: discv5 reads the socket and passes discv4's datagrams on.
    let (to_v4, inbound) = match config.v4 && config.v5 {
        true => {
            let (to_v4, queue) = mpsc::channel(v5::SHARED_QUEUE);
            (Some(to_v4), Inbound::Shared(queue))
        }
        false => (None, Inbound::Socket),
    };
    let v4 = match config.v4 {
        true => Some(start_v4(
            config,
            key,
            &record,
            (socket.clone(), inbound),
            status.clone(),
            on_found.clone(),
            (ip, tcp.port()),
        )?),
        false => None,
    };
    let v5 = match config.v5 {
        true => Some(
            v5::start(Discv5Start {
                socket,
                key,
                record: record.clone(),
                bootnodes: config.v5_bootnodes.clone(),
                to_v4,
                status,
                on_found,
            })
            .await
            .map_err(std::io::Error::other)?,
        ),
        false => None,
    };
    Ok(Discovery {
        v4,
        v5,
        record,
        port: udp.port(),
    })
}

/// Starts discv4 and its forwarder on `socket`.
fn start_v4(
    config: &DiscoveryConfig,
    key: SecretKey,
    record: &Record,
    (socket, inbound): (Arc<UdpSocket>, Inbound),
    status: Arc<StoreStatus>,
    on_found: Recipient<NodeDiscovered>,
    (ip, tcp): (Option<IpAddr>, u16),
) -> std::io::Result<Discv4Handle> {
    let udp = socket.local_addr()?;
    let endpoint = Endpoint {
        ip: ip.unwrap_or(udp.ip()),
        udp: udp.port(),
        tcp,
    };
    let proto_config = Discv4Config {
        bootnodes: config
            .bootnodes
            .iter()
            .map(|b| {
                let addr = SocketAddr::new(b.enode.addr.ip(), b.udp);
                (b.enode.id, addr, b.enode.addr.port())
            })
            .collect(),
        seed: u64::from_le_bytes(key.secret_bytes()[16..24].try_into().unwrap_or_default()),
        ..Discv4Config::default()
    };
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let proto = Discv4::new(
        key,
        record.clone(),
        endpoint,
        proto_config,
        tokio::time::Instant::now(),
        unix,
    );
    let (found, discovered) = mpsc::channel(DISCOVERED_QUEUE);
    let v4 = Discv4Service::spawn(socket, inbound, proto, record.clone(), found)?;
    tokio::task::spawn_local(forward(discovered, status, on_found));
    Ok(v4)
}

/// Offers every discovered node to the dial scheduler with its fork verdict.
async fn forward(
    mut discovered: mpsc::Receiver<DiscoveredNode>,
    status: Arc<StoreStatus>,
    on_found: Recipient<NodeDiscovered>,
) {
    while let Some(node) = discovered.recv().await {
        let fork = verdict(node.record.as_ref(), &status);
        let ip = node
            .record
            .as_ref()
            .and_then(|r| enr::tcp_addr(r).map(|a| a.ip()))
            .filter(|ip| crate::discovery::v4::relay_allowed(node.udp.ip(), *ip))
            .unwrap_or(node.udp.ip());
        let enode = Enode {
            id: node.id,
            addr: SocketAddr::new(ip, node.tcp),
        };
        if !on_found.connected() {
            return;
        }
        on_found.do_send(NodeDiscovered {
            enode,
            source: PeerSource::Discv4,
            fork,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_read_for_our_port_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1000: 0100007F:9C41 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 93452 2 0000000000000000 1234\n\
            1001: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 93453 2 0000000000000000 7\n";
        assert_eq!(udp_drops(table, 0x9C41), 1234);
        assert_eq!(udp_drops(table, 8080), 7);
        assert_eq!(udp_drops(table, 1), 0);
    }

    const ID: &str = "a979fb575495b8d6db44f750317d0f4622bf4c2aa3365d6af7c284339968eef29b69ad0dce72a4d8db5ebb4968de0e3bec910127f134779fbcb0cb6d3331163c";

    #[test]
    fn bootnode_urls_take_their_udp_port_from_discport_or_the_tcp_port() {
        let with: Bootnode = format!("enode://{ID}@10.3.58.6:30303?discport=30301")
            .parse()
            .unwrap();
        assert_eq!((with.enode.addr.port(), with.udp), (30303, 30301));
        let without: Bootnode = format!("enode://{ID}@10.3.58.6:30303").parse().unwrap();
        assert_eq!(without.udp, 30303);
        assert!(format!("enode://{ID}").parse::<Bootnode>().is_err());
        assert!("enr:-IS4QHCYrYZ".parse::<Bootnode>().is_err());
    }

    #[test]
    fn a_bootnode_record_gives_id_ip_and_ports() {
        // The enr.md example: 127.0.0.1, udp 30303, no tcp (dialed at the udp port).
        let text = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
        let node: Bootnode = text.parse().unwrap();
        assert_eq!(node.enode.addr, "127.0.0.1:30303".parse().unwrap());
        assert_eq!(node.udp, 30303);
        assert!(alloy_primitives::hex::encode(node.enode.id).starts_with("ca634cae"));
    }

    #[test]
    fn the_record_names_the_external_ip_else_a_specific_listening_ip() {
        let listen: SocketAddr = "0.0.0.0:30303".parse().unwrap();
        let mut config = DiscoveryConfig::default();
        assert_eq!(announced_ip(&config, listen), None);
        assert_eq!(
            announced_ip(&config, "10.0.0.2:1".parse().unwrap()),
            Some("10.0.0.2".parse().unwrap())
        );
        config.external_ip = Some("203.0.113.7".parse().unwrap());
        assert_eq!(
            announced_ip(&config, listen),
            Some("203.0.113.7".parse().unwrap())
        );
    }
}
