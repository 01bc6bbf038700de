//! The discv4 protocol as a state machine, fed datagrams and time, with no socket: it
//! answers Pings, serves FindNode and ENRRequest only to bonded nodes (the endpoint proof
//! against amplification), runs lookups, revalidates the table and tells its owner about
//! nodes whose endpoint it verified. The socket loop ([`super::service`]) only moves bytes
//! in and out and calls [`Discv4::tick`]; tests drive it with paused tokio time.
//!
//! Packet handlers live in `handlers.rs`; this file holds the state, the timers and the
//! outgoing requests.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{keccak256, B256, B512};
use secp256k1::SecretKey;
use tokio::time::Instant;

use super::limiter::RequestLimiter;
use super::lookup::{Lookup, LookupNode};
use super::metrics::Discv4Metrics;
use super::table::{NodeEntry, Table, BUCKET_SIZE};
use super::wire::{Endpoint, EnrRequest, FindNode, Packet, Ping, PING_VERSION};
use crate::discovery::enr::Record;

/// geth `expiration`: how far in the future our packets' expiration lies.
pub const EXPIRATION: Duration = Duration::from_secs(20);

/// How far in the future a received packet's expiration may lie (ours: geth sends now +
/// 20 s; the rest allows for clock skew). A later one is refused: a packet valid until
/// 2^62 could be replayed forever.
pub const MAX_EXPIRATION_AHEAD: Duration = Duration::from_secs(300);

/// geth `respTimeout`: how long we wait for a reply.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long an endpoint proof lasts (`discv4.md`: a node is verified if it answered a
/// Ping "within the last 12 hours").
pub const BOND_EXPIRATION: Duration = Duration::from_secs(12 * 3600);

/// Between random lookups while the service runs (ours; geth runs lookups whenever its
/// dialer wants nodes, and refreshes the table every 30 min).
pub const LOOKUP_INTERVAL: Duration = Duration::from_secs(10);

/// Between lookups while the table is empty: the bootnodes did not answer (lost packets, or
/// their per-IP limit spent by other nodes behind our address), so ask again soon rather
/// than after a full [`LOOKUP_INTERVAL`] (geth's dialer likewise re-seeds an empty table
/// from its bootnodes as soon as a lookup comes back empty).
pub const EMPTY_TABLE_RETRY: Duration = Duration::from_secs(1);

/// Between revalidation pings: the least recently checked node is pinged (ours; geth
/// revalidates one node every few seconds).
pub const REVALIDATE_INTERVAL: Duration = Duration::from_secs(5);

/// Requests awaiting a reply at most; beyond it new requests are not sent (ours).
pub const MAX_PENDING: usize = 512;

/// Lookups running at once at most (ours).
pub const MAX_LOOKUPS: usize = 4;

/// Bond records kept at most; the oldest go first (ours; an entry is ~100 bytes).
pub const MAX_BONDS: usize = 16_384;

/// Events and datagrams buffered for the owner at most before the oldest are dropped
/// (ours; the socket loop drains them after every input).
pub const MAX_QUEUED: usize = 4096;

/// What the state machine tells its owner.
#[derive(Clone, Debug)]
pub enum Discv4Event {
    /// A node proved its endpoint (and, where it has one, sent its record).
    Discovered(DiscoveredNode),
}

/// A verified node, as a dial candidate.
#[derive(Clone, Debug)]
pub struct DiscoveredNode {
    /// Its id.
    pub id: B512,
    /// Where it answers discovery.
    pub udp: SocketAddr,
    /// Its RLPx port (from its record when known, else from its endpoint; 0 unknown).
    pub tcp: u16,
    /// Its record, if it has one and sent it.
    pub record: Option<Record>,
}

/// Configuration of the state machine.
#[derive(Clone, Debug)]
pub struct Discv4Config {
    /// Nodes to start from: (id, discovery endpoint, RLPx port).
    pub bootnodes: Vec<(B512, SocketAddr, u16)>,
    /// Between random lookups.
    pub lookup_interval: Duration,
    /// Between revalidation pings.
    pub revalidate_interval: Duration,
    /// Seed of the random targets (lookups) and choices.
    pub seed: u64,
}

impl Default for Discv4Config {
    fn default() -> Self {
        Self {
            bootnodes: Vec::new(),
            lookup_interval: LOOKUP_INTERVAL,
            revalidate_interval: REVALIDATE_INTERVAL,
            seed: 0x5eed,
        }
    }
}

/// When we last saw each half of a node's bond.
#[derive(Clone, Debug, Default)]
pub(super) struct Bond {
    /// It answered our Ping: its endpoint is proven, we serve its FindNode.
    pub(super) pong_received: Option<Instant>,
    /// The address that Pong came from (the proof holds for it only).
    pub(super) pong_ip: Option<IpAddr>,
    /// It pinged us (and got our Pong): it will serve our FindNode.
    pub(super) ping_received: Option<Instant>,
    /// The record sequence number we last handed to the owner (None: not yet handed).
    pub(super) announced: Option<Option<u64>>,
    /// Where it answered us, and its RLPx port.
    pub(super) endpoint: Option<(SocketAddr, u16)>,
    /// Its record, once it sent one.
    pub(super) record: Option<Record>,
}

/// Why we pinged a node: what to do with its Pong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PingPurpose {
    /// It pinged us first or was found: verify it.
    Bond,
    /// Revalidation of a table entry.
    Revalidate,
    /// Bond before a lookup's FindNode to it.
    BondThenFind(u64),
}

/// A request awaiting its reply.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) id: B512,
    pub(super) addr: SocketAddr,
    pub(super) deadline: Instant,
    pub(super) kind: PendingKind,
}

#[derive(Debug)]
pub(super) enum PendingKind {
    Ping {
        hash: B256,
        purpose: PingPurpose,
        tcp: u16,
    },
    FindNode {
        lookup: u64,
        received: usize,
    },
    Enr {
        hash: B256,
    },
}

/// The discv4 protocol of one node.
pub struct Discv4 {
    pub(super) key: SecretKey,
    pub(super) local_id: B512,
    pub(super) record: Record,
    pub(super) endpoint: Endpoint,
    pub(super) table: Table,
    pub(super) bonds: HashMap<B512, Bond>,
    pub(super) pending: Vec<Pending>,
    pub(super) lookups: Vec<Lookup>,
    /// FindNodes waiting for the remote to ping us back: (due, lookup, node).
    pub(super) deferred: Vec<(Instant, u64, LookupNode)>,
    /// ENRRequests waiting for the remote to ping us back: (due, node, address).
    pub(super) deferred_enr: Vec<(Instant, B512, SocketAddr)>,
    pub(super) limiter: RequestLimiter,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<Discv4Event>,
    pub(super) metrics: Arc<Discv4Metrics>,
    config: Discv4Config,
    started: Instant,
    unix_at_start: u64,
    rng: u64,
    next_lookup_id: u64,
    next_lookup: Instant,
    next_revalidate: Instant,
}

impl Discv4 {
    /// The protocol of node `key` with `record`, reachable at `endpoint`. `unix_now` is
    /// the wall clock at `now` (packet expirations are UNIX seconds).
    pub fn new(
        key: SecretKey,
        record: Record,
        endpoint: Endpoint,
        config: Discv4Config,
        now: Instant,
        unix_now: u64,
    ) -> Self {
        let local_id = crate::rlpx::handshake::NodeKey::new(key).id();
        Self {
            key,
            local_id,
            record,
            endpoint,
            table: Table::new(local_id),
            bonds: HashMap::new(),
            pending: Vec::new(),
            lookups: Vec::new(),
            deferred: Vec::new(),
            deferred_enr: Vec::new(),
            limiter: RequestLimiter::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            metrics: Arc::default(),
            rng: config.seed | 1,
            next_lookup: now,
            next_revalidate: now + config.revalidate_interval,
            config,
            started: now,
            unix_at_start: unix_now,
            next_lookup_id: 1,
        }
    }

    /// Shares these counters instead of fresh ones.
    pub fn with_metrics(mut self, metrics: Arc<Discv4Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Our node id.
    pub fn local_id(&self) -> B512 {
        self.local_id
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Discv4Metrics> {
        &self.metrics
    }

    /// Replaces our record (a new sequence number is announced in later Pings and Pongs).
    pub fn set_record(&mut self, record: Record) {
        self.record = record;
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<Discv4Event> {
        self.events.pop_front()
    }

    /// Whether `id` at `ip` holds a live endpoint proof (it answered our Ping there
    /// recently). The proof is for one address, as geth's `checkBond(id, ip)`: a node
    /// cannot bond from one address and have answers sent to another.
    pub fn is_bonded(&self, id: &B512, ip: IpAddr, now: Instant) -> bool {
        self.bonds.get(id).is_some_and(|b| {
            b.pong_ip == Some(ip)
                && b.pong_received
                    .is_some_and(|at| now.saturating_duration_since(at) < BOND_EXPIRATION)
        })
    }

    /// Starts a lookup of `target` from the table's closest nodes (the bootnodes while the
    /// table is empty). Answers false when [`MAX_LOOKUPS`] are already running.
    pub fn lookup(&mut self, target: B512, now: Instant) -> bool {
        if self.lookups.len() >= MAX_LOOKUPS {
            return false;
        }
        let hash = keccak256(target);
        let mut seeds: Vec<LookupNode> = self
            .table
            .closest(&hash, BUCKET_SIZE)
            .into_iter()
            .map(|e| LookupNode::new(e.id, e.udp, e.tcp))
            .collect();
        if seeds.is_empty() {
            seeds = self
                .config
                .bootnodes
                .iter()
                .map(|(id, udp, tcp)| LookupNode::new(*id, *udp, *tcp))
                .collect();
        }
        let id = self.next_lookup_id;
        self.next_lookup_id += 1;
        self.lookups
            .push(Lookup::new(id, target, self.local_id, seeds));
        self.metrics.lookups.fetch_add(1, Ordering::Relaxed);
        self.advance_lookup(id, now);
        true
    }

    /// Runs the timers: reply timeouts, deferred FindNodes, lookups, revalidation.
    pub fn tick(&mut self, now: Instant) {
        self.expire_pending(now);
        let due: Vec<(u64, LookupNode)> = {
            let (due, later): (Vec<_>, Vec<_>) =
                self.deferred.drain(..).partition(|(at, _, _)| *at <= now);
            self.deferred = later;
            due.into_iter().map(|(_, l, n)| (l, n)).collect()
        };
        for (lookup, node) in due {
            if !self.send_findnode(lookup, node, now) {
                self.lookup_answered(lookup, now);
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.deferred_enr)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.deferred_enr = later;
        for (_, id, addr) in due {
            self.request_enr(id, addr, now);
        }
        if now >= self.next_lookup {
            let pause = if self.table.is_empty() {
                EMPTY_TABLE_RETRY.min(self.config.lookup_interval)
            } else {
                self.config.lookup_interval
            };
            self.next_lookup = now + pause;
            // The first lookup looks for ourselves (fills the nearest buckets); later ones
            // for random targets (fill the rest and find dial candidates).
            let target = if self.metrics.lookups.load(Ordering::Relaxed) == 0 {
                self.local_id
            } else {
                self.random_id()
            };
            self.lookup(target, now);
        }
        if now >= self.next_revalidate {
            self.next_revalidate = now + self.config.revalidate_interval;
            self.revalidate(now);
        }
    }

    /// The wall clock (UNIX seconds) at `now`.
    pub(super) fn unix(&self, now: Instant) -> u64 {
        self.unix_at_start
            .saturating_add(now.saturating_duration_since(self.started).as_secs())
    }

    fn expiration(&self, now: Instant) -> u64 {
        self.unix(now).saturating_add(EXPIRATION.as_secs())
    }

    /// Signs and queues `packet` to `to`; answers its hash.
    pub(super) fn send(&mut self, to: SocketAddr, packet: &Packet) -> B256 {
        let (bytes, hash) = packet.encode(&self.key);
        self.metrics.count_out(packet.kind());
        if self.outbox.len() >= MAX_QUEUED {
            self.outbox.pop_front();
        }
        self.outbox.push_back((to, bytes));
        hash
    }

    pub(super) fn emit(&mut self, event: Discv4Event) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Pings `id` at `addr` (one Ping in flight per node); its Pong is handled per
    /// `purpose`. Answers false when it could not be sent (too many pending).
    pub(super) fn ping(
        &mut self,
        id: B512,
        addr: SocketAddr,
        tcp: u16,
        purpose: PingPurpose,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= MAX_PENDING || id == self.local_id {
            return false;
        }
        let packet = Packet::Ping(Ping {
            version: PING_VERSION,
            from: self.endpoint,
            to: Endpoint {
                ip: addr.ip(),
                udp: addr.port(),
                tcp: 0,
            },
            expiration: self.expiration(now),
            enr_seq: Some(self.record.seq()),
        });
        let hash = self.send(addr, &packet);
        self.pending.push(Pending {
            id,
            addr,
            deadline: now + RESPONSE_TIMEOUT,
            kind: PendingKind::Ping { hash, purpose, tcp },
        });
        true
    }

    /// Asks `id` for its record (EIP-868).
    pub(super) fn request_enr(&mut self, id: B512, addr: SocketAddr, now: Instant) {
        let already = self
            .pending
            .iter()
            .any(|p| p.id == id && matches!(p.kind, PendingKind::Enr { .. }));
        if already || self.pending.len() >= MAX_PENDING {
            return;
        }
        let packet = Packet::EnrRequest(EnrRequest {
            expiration: self.expiration(now),
        });
        let hash = self.send(addr, &packet);
        self.pending.push(Pending {
            id,
            addr,
            deadline: now + RESPONSE_TIMEOUT,
            kind: PendingKind::Enr { hash },
        });
    }

    /// Asks the lookup's next nodes, bonding first where they may not know us; finishes
    /// the lookup when nothing is left to ask.
    pub(super) fn advance_lookup(&mut self, lookup_id: u64, now: Instant) {
        loop {
            let Some(lookup) = self.lookups.iter_mut().find(|l| l.id == lookup_id) else {
                return;
            };
            let Some(node) = lookup.next_to_ask() else {
                if lookup.is_done() {
                    self.lookups.retain(|l| l.id != lookup_id);
                }
                return;
            };
            let they_know_us = self
                .bonds
                .get(&node.id)
                .and_then(|b| b.ping_received)
                .is_some_and(|at| now.saturating_duration_since(at) < BOND_EXPIRATION);
            let sent = if they_know_us && self.is_bonded(&node.id, node.udp.ip(), now) {
                self.send_findnode(lookup_id, node, now)
            } else {
                self.ping(
                    node.id,
                    node.udp,
                    node.tcp,
                    PingPurpose::BondThenFind(lookup_id),
                    now,
                )
            };
            if !sent {
                self.lookup_answered(lookup_id, now);
            }
        }
    }

    /// Sends a lookup's FindNode to `node`.
    pub(super) fn send_findnode(&mut self, lookup_id: u64, node: LookupNode, now: Instant) -> bool {
        if self.pending.len() >= MAX_PENDING {
            return false;
        }
        let target = match self.lookups.iter().find(|l| l.id == lookup_id) {
            Some(lookup) => lookup.target,
            None => return false,
        };
        let packet = Packet::FindNode(FindNode {
            target,
            expiration: self.expiration(now),
        });
        self.send(node.udp, &packet);
        self.pending.push(Pending {
            id: node.id,
            addr: node.udp,
            deadline: now + RESPONSE_TIMEOUT,
            kind: PendingKind::FindNode {
                lookup: lookup_id,
                received: 0,
            },
        });
        true
    }

    /// One of a lookup's questions ended; ask the next.
    pub(super) fn lookup_answered(&mut self, lookup_id: u64, now: Instant) {
        if let Some(lookup) = self.lookups.iter_mut().find(|l| l.id == lookup_id) {
            lookup.answered();
        }
        // `advance_lookup` is reentrant through `lookup_answered` only on failures to
        // send, which do not loop back here.
        self.advance_lookup(lookup_id, now);
    }

    /// Requests whose reply did not come in time.
    fn expire_pending(&mut self, now: Instant) {
        let (expired, live): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.deadline <= now);
        self.pending = live;
        for request in expired {
            match request.kind {
                PendingKind::Ping { purpose, .. } => match purpose {
                    PingPurpose::Revalidate => self.missed_revalidation(request.id, now),
                    PingPurpose::BondThenFind(lookup) => self.lookup_answered(lookup, now),
                    PingPurpose::Bond => {}
                },
                PendingKind::FindNode { lookup, .. } => self.lookup_answered(lookup, now),
                PendingKind::Enr { .. } => {
                    // No record: hand the node over without one (it is still tried once).
                    self.announce(request.id);
                }
            }
        }
    }

    /// A table node missed its revalidation Pong: as geth's `tab_revalidate.go`, its
    /// liveness count is divided by 3 and it leaves the table (a replacement moving up)
    /// only at zero, so a node that answered for a long time survives a missed Pong or two
    /// (say, during a flood) while a new or flaky one goes at once.
    fn missed_revalidation(&mut self, id: B512, now: Instant) {
        let Some(entry) = self.table.get_mut(&id) else {
            return;
        };
        entry.liveness_checks /= 3;
        if entry.liveness_checks == 0 && self.table.remove(&id) {
            log::debug!("discv4: {} failed revalidation", short(&id));
        }
        self.update_gauges(now);
    }

    fn revalidate(&mut self, now: Instant) {
        let Some(entry) = self.table.least_recently_checked() else {
            return;
        };
        let (id, udp, tcp) = (entry.id, entry.udp, entry.tcp);
        if let Some(entry) = self.table.get_mut(&id) {
            entry.checked_at = now;
        }
        self.ping(id, udp, tcp, PingPurpose::Revalidate, now);
    }

    /// Tells the owner about a verified node, once per record sequence number.
    pub(super) fn announce(&mut self, id: B512) {
        let Some(bond) = self.bonds.get_mut(&id) else {
            return;
        };
        let Some((udp, tcp)) = bond.endpoint else {
            return;
        };
        let seq = bond.record.as_ref().map(|r| r.seq());
        if bond.announced == Some(seq) {
            return;
        }
        bond.announced = Some(seq);
        let node = DiscoveredNode {
            id,
            udp,
            tcp: bond
                .record
                .as_ref()
                .and_then(|r| r.tcp4().or_else(|| r.tcp6()))
                .unwrap_or(tcp),
            record: bond.record.clone(),
        };
        if node.tcp == 0 {
            return;
        }
        self.metrics.discovered.fetch_add(1, Ordering::Relaxed);
        self.emit(Discv4Event::Discovered(node));
    }

    /// Adds a node whose endpoint is proven to the table and refreshes the gauges.
    pub(super) fn add_verified(&mut self, id: B512, addr: SocketAddr, tcp: u16, now: Instant) {
        let bond = self.bond_mut(id);
        bond.endpoint = Some((addr, tcp));
        let record = bond.record.clone();
        let mut entry = NodeEntry::new(id, addr, tcp, now);
        entry.record = record;
        self.table.add(entry);
        self.update_gauges(now);
    }

    pub(super) fn update_gauges(&mut self, now: Instant) {
        self.metrics
            .table_size
            .store(self.table.len() as u64, Ordering::Relaxed);
        let bonded = self
            .bonds
            .values()
            .filter(|b| {
                b.pong_received
                    .is_some_and(|at| now.saturating_duration_since(at) < BOND_EXPIRATION)
            })
            .count();
        self.metrics.bonded.store(bonded as u64, Ordering::Relaxed);
    }

    /// The bond record of `id`, making room when the map is full.
    pub(super) fn bond_mut(&mut self, id: B512) -> &mut Bond {
        if !self.bonds.contains_key(&id) && self.bonds.len() >= MAX_BONDS {
            let last = |b: &Bond| b.pong_received.max(b.ping_received);
            if let Some(oldest) = self
                .bonds
                .iter()
                .min_by_key(|(_, b)| last(b))
                .map(|(id, _)| *id)
            {
                self.bonds.remove(&oldest);
            }
        }
        self.bonds.entry(id).or_default()
    }

    /// A pseudo-random node id (SplitMix64, seeded by the config).
    pub(super) fn random_id(&mut self) -> B512 {
        let mut bytes = [0u8; 64];
        for chunk in bytes.chunks_mut(8) {
            self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
        }
        B512::from(bytes)
    }
}

/// The first bytes of an id, for logs.
pub(super) fn short(id: &B512) -> String {
    alloy_primitives::hex::encode(&id[..4])
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
