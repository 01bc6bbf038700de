//! Node discovery v5 (`discv5-wire.md`, `discv5-theory.md`) wired into the node, with sigp's
//! `discv5` crate (the implementation lighthouse and reth run): our record and key handed
//! to it, the UDP socket shared with discv4 as geth shares it, periodic random lookups, and
//! the nodes it finds emitted as [`NodeDiscovered`] with their `eth` entry's verdict.
//!
//! One port for both protocols: the crate reads the socket and hands every datagram it
//! cannot decode as discv5 (its `UnrecognizedFrame` event) to discv4 (geth does the
//! reverse: its v4 reads and passes unhandled packets to v5; either way one port serves
//! both and the record's `udp` names it).
//!
//! Our record is the same signed record discv4 serves (same sequence number, same file):
//! it is converted to the crate's record type by its RLP, and the crate may not change it
//! (its ENR auto-update and NAT revocation are off; `--nat extip:IP` names our address).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use discv5::enr::{CombinedKey, NodeId};
use discv5::{ConfigBuilder, Discv5, Event, ListenConfig};
use secp256k1::SecretKey;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use super::candidate::verdict;
use super::candidate::{ForkVerdict, NodeDiscovered, PeerSource};
use super::enode::Enode;
use crate::discovery::enr::{self, Record};
use crate::session::StoreStatus;

/// The first pause between random lookups, and the pause after a lookup that grew the
/// table (ours: geth's v5 iterator runs lookups back to back while the dialer wants
/// nodes; one second keeps that pace without a busy loop).
pub const LOOKUP_INTERVAL_MIN: Duration = Duration::from_secs(1);

/// The longest pause between random lookups: each lookup that finds nothing new doubles
/// the pause up to this (discv4's random lookup interval, `discv4::proto::LOOKUP_INTERVAL`).
pub const LOOKUP_INTERVAL_MAX: Duration = crate::discovery::v4::proto::LOOKUP_INTERVAL;

/// How often the crate pings each node of its table (liveness). The crate pings every
/// node at this interval, from its insertion on; geth instead pings one node at a time
/// and checks a new node within its 3 s `PingInterval`. The crate's default (300 s) would
/// leave a new node unchecked for five minutes; 10 s keeps that wait near geth's while a
/// table of ~200 nodes costs ~20 small packets a second.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);

/// Datagrams for discv4 queued at most (geth's `SharedUDPConn` holds 100).
pub const SHARED_QUEUE: usize = crate::discovery::v4::service::SHARED_QUEUE;

/// Counters of our discv5 wiring, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct Discv5Metrics {
    /// Random lookups started.
    pub lookups: AtomicU64,
    /// Live nodes found (lookup results and established sessions) offered to the dialer.
    pub discovered: AtomicU64,
    /// Found nodes not offered: no `eth` entry, no TCP port, or not a secp256k1 record.
    pub skipped: AtomicU64,
    /// Datagrams handed to discv4 on the shared socket.
    pub shared_to_v4: AtomicU64,
    /// Datagrams for discv4 dropped because its queue was full.
    pub shared_dropped: AtomicU64,
}

/// The running discv5 service.
pub struct Discv5Handle {
    /// The crate's service; `None` once stopped.
    service: Mutex<Option<Discv5>>,
    /// Our counters.
    pub metrics: Arc<Discv5Metrics>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Discv5Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discv5Handle")
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl Discv5Handle {
    /// Nodes in the routing table (0 once stopped).
    pub fn table_nodes(&self) -> usize {
        self.with(|service| service.table_entries_id().len())
            .unwrap_or(0)
    }

    /// The crate's own counters (process-wide: every discv5 instance in the process adds
    /// to them; its byte counts include discv4's datagrams on the shared socket).
    pub fn crate_metrics(&self) -> discv5::metrics::Metrics {
        Discv5::metrics()
    }

    /// The crate's table and sessions, our lookups and what they found
    /// (`ethpeer_discv5_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let from_crate = self.crate_metrics();
        out.gauge(
            "ethpeer_discv5_table_nodes",
            "Nodes in the discv5 routing table.",
            count(self.table_nodes()),
        );
        out.gauge(
            "ethpeer_discv5_active_sessions",
            "Established discv5 sessions (the crate's count, process-wide).",
            count(from_crate.active_sessions),
        );
        let m = &self.metrics;
        out.counter(
            "ethpeer_discv5_lookups_total",
            "Random discv5 lookups started.",
            load(&m.lookups),
        );
        out.counter(
            "ethpeer_discv5_discovered_total",
            "Live discv5 nodes offered to the dialer.",
            load(&m.discovered),
        );
        out.counter(
            "ethpeer_discv5_skipped_total",
            "Live discv5 nodes not offered (no eth entry, no TCP port, not secp256k1).",
            load(&m.skipped),
        );
        out.counter(
            "ethpeer_discv5_shared_to_v4_total",
            "Datagrams on the shared UDP port passed from discv5 to discv4.",
            load(&m.shared_to_v4),
        );
        out.counter(
            "ethpeer_discv5_shared_dropped_total",
            "Datagrams for discv4 dropped because its queue was full.",
            load(&m.shared_dropped),
        );
        out.counter(
            "ethpeer_discv5_bytes_in_total",
            "UDP bytes received on the discovery port (the crate's count, process-wide).",
            count(from_crate.bytes_recv),
        );
        out.counter(
            "ethpeer_discv5_bytes_out_total",
            "UDP bytes discv5 sent (the crate's count, process-wide).",
            count(from_crate.bytes_sent),
        );
    }

    /// Stops lookups and the crate's service.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        if let Some(mut service) = self.lock().take() {
            service.shutdown();
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Discv5) -> T) -> Option<T> {
        self.lock().as_ref().map(f)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Discv5>> {
        // A panic elsewhere while holding the lock leaves the service usable.
        self.service
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why discv5 could not start.
#[derive(Debug, thiserror::Error)]
pub enum Discv5Error {
    /// The node key or record is not usable by the crate.
    #[error("discv5 cannot use our key or record: {0}")]
    Identity(String),
    /// The crate's service did not start.
    #[error("discv5 did not start: {0}")]
    Start(String),
}

/// What discv5 needs from the node.
pub(super) struct Discv5Start {
    /// The shared (or own) UDP socket.
    pub socket: Arc<UdpSocket>,
    /// Our node key.
    pub key: SecretKey,
    /// Our record (the one discv4 serves).
    pub record: Record,
    /// Where lookups start (records only: the crate's table holds signed records).
    pub bootnodes: Vec<Record>,
    /// Where datagrams that are not discv5 go (discv4 on the shared socket), if anywhere.
    pub to_v4: Option<mpsc::Sender<(SocketAddr, Vec<u8>)>>,
    /// Fork filter state for the `eth` entry verdict.
    pub status: Arc<StoreStatus>,
    /// The dial scheduler.
    pub on_found: Recipient<NodeDiscovered>,
}

/// Converts our record to the crate's record type (same bytes, same signature).
pub fn to_crate_record(record: &Record) -> Result<discv5::Enr, Discv5Error> {
    let rlp = alloy_rlp::encode(record);
    alloy_rlp::Decodable::decode(&mut rlp.as_slice())
        .map_err(|error| Discv5Error::Identity(format!("record: {error}")))
}

/// Converts a crate record back to ours; `None` for a record that is not secp256k1 (v4
/// identity scheme), which RLPx could not dial anyway.
pub fn from_crate_record(record: &discv5::Enr) -> Option<Record> {
    enr::decode_record(&alloy_rlp::encode(record)).ok()
}

/// Starts the crate's service on the socket, adds the bootnodes and spawns the event and
/// lookup tasks (on the current thread: inside an actix `System` or a `LocalSet`).
pub(super) async fn start(setup: Discv5Start) -> Result<Arc<Discv5Handle>, Discv5Error> {
    let Discv5Start {
        socket,
        key,
        record,
        bootnodes,
        to_v4,
        status,
        on_found,
    } = setup;
    let local = socket
        .local_addr()
        .map_err(|error| Discv5Error::Start(error.to_string()))?;
    let listen = match local.ip() {
        IpAddr::V4(_) => ListenConfig::FromSockets {
            ipv4: Some(socket),
            ipv6: None,
        },
        IpAddr::V6(_) => ListenConfig::FromSockets {
            ipv4: None,
            ipv6: Some(socket),
        },
    };
    let config = crate_config(listen, &record);
    let mut secret = key.secret_bytes();
    let crate_key = CombinedKey::secp256k1_from_bytes(&mut secret)
        .map_err(|error| Discv5Error::Identity(format!("key: {error:?}")))?;
    let mut service = Discv5::new(to_crate_record(&record)?, crate_key, config)
        .map_err(|error| Discv5Error::Identity(error.to_string()))?;
    service
        .start()
        .await
        .map_err(|error| Discv5Error::Start(format!("{error:?}")))?;
    for boot in &bootnodes {
        let added = to_crate_record(boot).and_then(|r| {
            service
                .add_enr(r)
                .map_err(|error| Discv5Error::Identity(error.to_string()))
        });
        if let Err(error) = added {
            log::debug!("discv5 bootnode {}: {error}", boot.to_base64());
        }
    }
    let events = service
        .event_stream()
        .await
        .map_err(|error| Discv5Error::Start(format!("{error:?}")))?;
    let metrics = Arc::new(Discv5Metrics::default());
    let (stop, stopped) = watch::channel(false);
    let offer = Offer {
        status,
        on_found,
        metrics: metrics.clone(),
    };
    let handle = Arc::new(Discv5Handle {
        service: Mutex::new(Some(service)),
        metrics,
        stop,
    });
    tokio::task::spawn_local(run_events(events, to_v4, offer.clone()));
    tokio::task::spawn_local(run_lookups(Arc::downgrade(&handle), stopped, offer));
    log::info!(
        "discv5 listening on udp {local} ({} bootnodes)",
        bootnodes.len()
    );
    Ok(handle)
}

/// Whether the crate's /24 limits should apply: not for a loopback, private or unknown
/// address of ours (geth exempts LAN nodes from its limits; the crate cannot).
fn ip_limits_apply(ip: Option<IpAddr>) -> bool {
    match ip {
        Some(IpAddr::V4(ip)) => !(ip.is_loopback() || ip.is_private() || ip.is_link_local()),
        Some(IpAddr::V6(ip)) => !(ip.is_loopback() || ip.is_unicast_link_local()),
        None => false,
    }
}

/// Offers found records to the dial scheduler.
#[derive(Clone)]
struct Offer {
    status: Arc<StoreStatus>,
    on_found: Recipient<NodeDiscovered>,
    metrics: Arc<Discv5Metrics>,
}

impl Offer {
    /// One found record: dialed if its `eth` entry passes our fork filter. A record
    /// without an `eth` entry is not offered (unlike discv4's, which is tried once): the
    /// discv5 DHT is shared with consensus clients, whose records carry `eth2` and a TCP
    /// port that speaks libp2p, not RLPx; geth's v5 iterator filters them out the same way.
    fn record(&self, found: &discv5::Enr) {
        let candidate = candidate(found, |record| verdict(Some(record), &self.status));
        let Some((enode, fork)) = candidate else {
            self.metrics.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if !self.on_found.connected() {
            return;
        }
        self.metrics.discovered.fetch_add(1, Ordering::Relaxed);
        self.on_found.do_send(NodeDiscovered {
            enode,
            source: PeerSource::Discv5,
            fork,
        });
    }
}

/// A found record as a dial candidate with its fork verdict (from `judge`); `None` for a
/// record RLPx cannot use or that carries no `eth` entry (see [`Offer::record`]).
fn candidate(
    found: &discv5::Enr,
    judge: impl FnOnce(&Record) -> ForkVerdict,
) -> Option<(Enode, ForkVerdict)> {
    let record = from_crate_record(found)?;
    let addr = enr::tcp_addr(&record).filter(|addr| addr.port() != 0)?;
    let fork = judge(&record);
    (fork != ForkVerdict::Absent).then(|| {
        let id = enr::node_id(&record);
        (Enode { id, addr }, fork)
    })
}

/// The crate's events: sessions with live nodes are offered, talk requests answered,
/// datagrams that are not discv5 passed to discv4.
async fn run_events(
    mut events: mpsc::Receiver<Event>,
    to_v4: Option<mpsc::Sender<(SocketAddr, Vec<u8>)>>,
    offer: Offer,
) {
    while let Some(event) = events.recv().await {
        match event {
            Event::UnrecognizedFrame(frame) => {
                let Some(to_v4) = &to_v4 else { continue };
                let counter = match to_v4.try_send((frame.src_address, frame.packet)) {
                    Ok(()) => &offer.metrics.shared_to_v4,
                    Err(_) => &offer.metrics.shared_dropped,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            // A handshake proved the node's key and its record matched its address.
            Event::SessionEstablished(record, _) => offer.record(&record),
            // We serve no TALK protocol: an empty response, as the spec asks for unknown
            // protocols (and as geth answers).
            Event::TalkRequest(request) => {
                if let Err(error) = request.respond(Vec::new()) {
                    log::trace!("discv5 talk response: {error:?}");
                }
            }
            _ => {}
        }
    }
    log::debug!("discv5 event stream closed");
}

/// Random lookups, one at a time: the next starts [`LOOKUP_INTERVAL_MIN`] after one that
/// grew the table, and up to [`LOOKUP_INTERVAL_MAX`] (doubling) after ones that did not.
async fn run_lookups(
    handle: std::sync::Weak<Discv5Handle>,
    mut stopped: watch::Receiver<bool>,
    offer: Offer,
) {
    let mut pause = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stopped.changed() => return,
        }
        let Some(service) = handle.upgrade() else {
            return;
        };
        let before = service.table_nodes();
        if before == 0 {
            // Nothing to ask (no bootnodes, or all gone): the crate would only warn. Look
            // again once a node has reached us.
            pause = LOOKUP_INTERVAL_MIN;
            continue;
        }
        let Some(query) = service.with(|service| service.find_node(NodeId::random())) else {
            return;
        };
        drop(service);
        offer.metrics.lookups.fetch_add(1, Ordering::Relaxed);
        let found = tokio::select! {
            found = query => found,
            _ = stopped.changed() => return,
        };
        match found {
            Ok(records) => records.iter().for_each(|record| offer.record(record)),
            Err(error) => log::debug!("discv5 lookup: {error:?}"),
        }
        let Some(service) = handle.upgrade() else {
            return;
        };
        pause = match service.table_nodes() > before {
            true => LOOKUP_INTERVAL_MIN,
            false => (pause * 2).clamp(LOOKUP_INTERVAL_MIN, LOOKUP_INTERVAL_MAX),
        };
    }
}

/// The crate's configuration: our record as given (no updates of its own), geth's table IP
/// limits off loopback and LAN addresses, and the packet filter on the shared socket.
fn crate_config(listen: ListenConfig, record: &Record) -> discv5::Config {
    let mut builder = ConfigBuilder::new(listen);
    // Our record says what `--nat` and the listening address say; the crate must not
    // re-sign it from PONG votes or withdraw the address on its own.
    builder
        .disable_enr_update()
        .auto_nat_listen_duration(None)
        .ping_interval(PING_INTERVAL);
    if ip_limits_apply(
        record
            .ip4()
            .map(IpAddr::V4)
            .or(record.ip6().map(IpAddr::V6)),
    ) {
        // geth's table limits (2 per /24 in a bucket, 10 in the table). The crate's filter
        // has no LAN exemption, so a node on a loopback or private address keeps it off.
        builder.ip_limit();
    }
    // The crate's packet filter, as the first gate of the shared socket: its receive loop
    // drops a source over its budget with one map lookup, so a flood from one address never
    // fills the crate's 30-deep handler queue (which stops the loop reading, and the kernel
    // then drops everyone's datagrams, honest Pings included). Budgets are wide enough for
    // discv4 and discv5 together; no bans (many test nodes share 127.0.0.1, and our own
    // discv4 limiter handles requests).
    builder
        .enable_packet_filter()
        .filter_rate_limiter(packet_filter())
        .filter_max_nodes_per_ip(None)
        .filter_max_bans_per_ip(None);
    builder.build()
}

/// Datagrams one source IP may send on the shared port per second before the crate's
/// receive loop drops its next ones unread by either protocol (ours: an honest node's
/// discv4 and discv5 traffic, lookups included, stays far below it).
pub const FILTER_PER_IP: u64 = 500;

/// Datagrams from all sources per second before the loop drops (ours: what the crate's
/// pipeline and our discv4 keep up with on one core, with room).
pub const FILTER_TOTAL: u64 = 20_000;

/// The crate's per-IP and total datagram budgets.
fn packet_filter() -> Option<discv5::RateLimiter> {
    discv5::RateLimiterBuilder::new()
        .ip_n_every(FILTER_PER_IP, Duration::from_secs(1))
        .total_n_every(FILTER_TOTAL, Duration::from_secs(1))
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::enr::{LocalRecord, RecordContent};

    fn record(ip: &str) -> (SecretKey, Record) {
        let key = SecretKey::from_byte_array([7u8; 32]).unwrap();
        let content = RecordContent {
            ip: Some(ip.parse().unwrap()),
            tcp: 30303,
            udp: Some(30301),
            fork_id: None,
        };
        let record = LocalRecord::load_or_create(&key, content, None)
            .unwrap()
            .record()
            .clone();
        (key, record)
    }

    #[test]
    fn our_record_converts_to_the_crates_and_back_unchanged() {
        let (key, ours) = record("10.0.0.2");
        let theirs = to_crate_record(&ours).unwrap();
        assert_eq!(theirs.seq(), ours.seq());
        assert_eq!(theirs.to_base64(), ours.to_base64());
        assert_eq!(theirs.udp4(), Some(30301));
        // Same node id in both worlds (keccak of the public key).
        assert_eq!(theirs.node_id().raw(), ours.node_id().raw());
        let mut secret = key.secret_bytes();
        let crate_key = CombinedKey::secp256k1_from_bytes(&mut secret).unwrap();
        assert_eq!(theirs.public_key(), discv5::enr::EnrKey::public(&crate_key));
        assert_eq!(from_crate_record(&theirs).unwrap(), ours);
    }

    #[test]
    fn found_records_become_candidates_only_with_an_eth_entry_and_a_tcp_port() {
        use crate::eth::forkid::{ForkHash, ForkId};
        let key = SecretKey::from_byte_array([9u8; 32]).unwrap();
        let with_fork = |tcp| RecordContent {
            ip: Some("10.0.0.3".parse().unwrap()),
            tcp,
            udp: Some(30303),
            fork_id: Some(ForkId {
                hash: ForkHash([1, 2, 3, 4]),
                next: 0,
            }),
        };
        let found = |content| {
            let ours = LocalRecord::load_or_create(&key, content, None).unwrap();
            to_crate_record(ours.record()).unwrap()
        };
        let judged = |verdict| {
            move |record: &Record| {
                assert!(enr::eth_fork_id(record).is_some());
                verdict
            }
        };
        let (enode, fork) =
            candidate(&found(with_fork(30304)), judged(ForkVerdict::Compatible)).unwrap();
        assert_eq!(enode.addr, "10.0.0.3:30304".parse().unwrap());
        assert_eq!(fork, ForkVerdict::Compatible);
        // Another chain's node is still handed over: the scheduler refuses and counts it.
        let (_, fork) =
            candidate(&found(with_fork(30304)), judged(ForkVerdict::Incompatible)).unwrap();
        assert_eq!(fork, ForkVerdict::Incompatible);
        // No `eth` entry (a consensus client, say): not offered.
        let (_, plain) = record("10.0.0.4");
        let plain = to_crate_record(&plain).unwrap();
        assert!(candidate(&plain, |_| ForkVerdict::Absent).is_none());
        // No TCP port to dial.
        assert!(candidate(&found(with_fork(0)), judged(ForkVerdict::Compatible)).is_none());
        // A record of the ed25519 scheme is not an RLPx node.
        let ed = CombinedKey::generate_ed25519();
        let mut builder = discv5::Enr::builder();
        builder
            .ip4("10.0.0.5".parse().unwrap())
            .tcp4(30303)
            .udp4(30303);
        let ed_record = builder.build(&ed).unwrap();
        assert!(candidate(&ed_record, |_| ForkVerdict::Compatible).is_none());
    }

    #[test]
    fn ip_limits_apply_to_public_addresses_only() {
        assert!(ip_limits_apply(Some("203.0.113.7".parse().unwrap())));
        assert!(!ip_limits_apply(Some("127.0.0.1".parse().unwrap())));
        assert!(!ip_limits_apply(Some("192.168.1.4".parse().unwrap())));
        assert!(!ip_limits_apply(None));
    }
}
