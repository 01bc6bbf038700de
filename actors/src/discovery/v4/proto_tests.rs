//! The protocol without sockets: several state machines exchange datagrams through an
//! in-memory network under paused tokio time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use alloy_primitives::{B256, B512};
use secp256k1::SecretKey;
use tokio::time::Instant;

use super::*;
use crate::discovery::enr::{LocalRecord, RecordContent};
use crate::discovery::v4::limiter::REQUEST_BURST;
use crate::discovery::v4::metrics::DropReason;
use crate::discovery::v4::wire::{Endpoint, FindNode, Packet, Ping, Pong, PING_VERSION};
use crate::eth::forkid::{ForkHash, ForkId};

/// 2026-01-01: the wall clock the machines start at.
const UNIX: u64 = 1_767_225_600;

fn key(n: u8) -> SecretKey {
    SecretKey::from_byte_array([n; 32]).expect("key")
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000 + u16::from(n)))
}

fn id_of(n: u8) -> B512 {
    crate::rlpx::handshake::NodeKey::new(key(n)).id()
}

fn machine(n: u8, bootnodes: &[u8], now: Instant) -> Discv4 {
    let content = RecordContent {
        ip: Some(addr(n).ip()),
        tcp: 30_000 + u16::from(n),
        udp: Some(addr(n).port()),
        fork_id: Some(ForkId {
            hash: ForkHash([1, 2, 3, 4]),
            next: 0,
        }),
    };
    let record = LocalRecord::load_or_create(&key(n), content, None)
        .expect("record")
        .record()
        .clone();
    let endpoint = Endpoint {
        ip: addr(n).ip(),
        udp: addr(n).port(),
        tcp: 30_000 + u16::from(n),
    };
    let config = Discv4Config {
        bootnodes: bootnodes
            .iter()
            .map(|b| (id_of(*b), addr(*b), 30_000 + u16::from(*b)))
            .collect(),
        seed: u64::from(n),
        ..Discv4Config::default()
    };
    Discv4::new(key(n), record, endpoint, config, now, UNIX)
}

/// Machines by address; datagrams are delivered at once, in order.
struct Net {
    nodes: HashMap<SocketAddr, Discv4>,
    discovered: HashMap<SocketAddr, Vec<DiscoveredNode>>,
    /// Addresses whose datagrams vanish (a dead node).
    dead: Vec<SocketAddr>,
}

impl Net {
    fn new(machines: Vec<(u8, Discv4)>) -> Self {
        Self {
            nodes: machines.into_iter().map(|(n, m)| (addr(n), m)).collect(),
            discovered: HashMap::new(),
            dead: Vec::new(),
        }
    }

    /// Delivers everything queued until the network is quiet.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            let senders: Vec<SocketAddr> = self.nodes.keys().copied().collect();
            for from in senders {
                let Some(machine) = self.nodes.get_mut(&from) else {
                    continue;
                };
                let mut out = Vec::new();
                while let Some(datagram) = machine.poll_transmit() {
                    out.push(datagram);
                }
                while let Some(Discv4Event::Discovered(node)) = machine.poll_event() {
                    self.discovered.entry(from).or_default().push(node);
                }
                for (to, bytes) in out {
                    moved = true;
                    if self.dead.contains(&to) || self.dead.contains(&from) {
                        continue;
                    }
                    if let Some(target) = self.nodes.get_mut(&to) {
                        target.on_datagram(from, &bytes, Instant::now());
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network never went quiet");
    }

    /// Runs every machine's timers for `duration` in `step`s of paused time.
    async fn run_for(&mut self, duration: Duration) {
        let step = Duration::from_millis(50);
        let end = Instant::now() + duration;
        while Instant::now() < end {
            for machine in self.nodes.values_mut() {
                machine.tick(Instant::now());
            }
            self.settle();
            tokio::time::advance(step).await;
        }
    }

    fn machine(&self, n: u8) -> &Discv4 {
        &self.nodes[&addr(n)]
    }
}

#[tokio::test(start_paused = true)]
async fn two_nodes_bond_through_a_bootnode_entry_and_exchange_records() {
    let now = Instant::now();
    let mut net = Net::new(vec![(1, machine(1, &[], now)), (2, machine(2, &[1], now))]);
    net.run_for(Duration::from_secs(2)).await;
    let (a, b) = (net.machine(1), net.machine(2));
    assert!(
        a.table().get(&id_of(2)).is_some(),
        "bootnode knows the newcomer"
    );
    assert!(
        b.table().get(&id_of(1)).is_some(),
        "newcomer knows the bootnode"
    );
    let now = Instant::now();
    assert!(a.is_bonded(&id_of(2), addr(2).ip(), now) && b.is_bonded(&id_of(1), addr(1).ip(), now));
    // Each handed the other to its owner, with the record (and its eth entry).
    for (at, other) in [(1, 2), (2, 1)] {
        let found = &net.discovered[&addr(at)];
        let node = found
            .iter()
            .find(|n| n.id == id_of(other))
            .expect("discovered");
        let record = node.record.as_ref().expect("record fetched");
        assert!(crate::discovery::enr::eth_fork_id(record).is_some());
        assert_eq!(node.tcp, 30_000 + u16::from(other));
    }
}

#[tokio::test(start_paused = true)]
async fn six_nodes_that_know_one_bootnode_find_each_other() {
    let now = Instant::now();
    let mut machines = vec![(1, machine(1, &[], now))];
    for n in 2..=6 {
        machines.push((n, machine(n, &[1], now)));
    }
    let mut net = Net::new(machines);
    net.run_for(Duration::from_secs(25)).await;
    for n in 1..=6u8 {
        let table = net.machine(n).table();
        let known = (1..=6u8)
            .filter(|m| *m != n && table.get(&id_of(*m)).is_some())
            .count();
        assert_eq!(known, 5, "node {n} knows {known} of 5");
        let discovered = net.discovered.get(&addr(n)).map_or(0, Vec::len);
        assert!(
            discovered >= 5,
            "node {n} handed {discovered} nodes to its owner"
        );
    }
}

/// A raw remote with its own key: what an attacker or a test peer sends.
fn raw(n: u8, packet: &Packet) -> Vec<u8> {
    packet.encode(&key(n)).0
}

fn ping_from(n: u8, expiration: u64) -> Packet {
    Packet::Ping(Ping {
        version: PING_VERSION,
        from: Endpoint {
            ip: addr(n).ip(),
            udp: addr(n).port(),
            tcp: 1,
        },
        to: Endpoint {
            ip: addr(1).ip(),
            udp: addr(1).port(),
            tcp: 0,
        },
        expiration,
        enr_seq: None,
    })
}

fn drain(machine: &mut Discv4) -> Vec<(SocketAddr, Packet)> {
    std::iter::from_fn(|| machine.poll_transmit())
        .map(|(to, bytes)| (to, Packet::decode(&bytes).expect("ours decode").packet))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn findnode_without_a_bond_gets_no_answer() {
    let mut a = machine(1, &[], Instant::now());
    let find = Packet::FindNode(FindNode {
        target: B512::repeat_byte(1),
        expiration: UNIX + 20,
    });
    a.on_datagram(addr(9), &raw(9, &find), Instant::now());
    assert!(drain(&mut a).is_empty());
    assert_eq!(a.metrics().drops(DropReason::Unbonded), 1);
}

#[tokio::test(start_paused = true)]
async fn a_ping_is_answered_and_the_unknown_sender_is_pinged_back() {
    let mut a = machine(1, &[], Instant::now());
    a.on_datagram(addr(9), &raw(9, &ping_from(9, UNIX + 20)), Instant::now());
    let sent = drain(&mut a);
    assert!(matches!(&sent[0], (to, Packet::Pong(p)) if *to == addr(9) && p.enr_seq == Some(1)));
    assert!(matches!(&sent[1], (to, Packet::Ping(_)) if *to == addr(9)));
    // Not in the table until it answers our Ping.
    assert!(a.table().get(&id_of(9)).is_none());
}

#[tokio::test(start_paused = true)]
async fn expired_unsolicited_forged_and_reflected_packets_are_dropped_and_counted() {
    let mut a = machine(1, &[], Instant::now());
    let now = Instant::now();
    // Expired a second ago.
    a.on_datagram(addr(9), &raw(9, &ping_from(9, UNIX - 1)), now);
    // A Pong nobody asked for.
    let pong = Packet::Pong(Pong {
        to: Endpoint {
            ip: addr(1).ip(),
            udp: addr(1).port(),
            tcp: 0,
        },
        ping_hash: alloy_primitives::B256::repeat_byte(7),
        expiration: UNIX + 20,
        enr_seq: None,
    });
    a.on_datagram(addr(9), &raw(9, &pong), now);
    // Garbage and a bit-flipped Ping.
    a.on_datagram(addr(9), &[0u8; 50], now);
    let mut flipped = raw(9, &ping_from(9, UNIX + 20));
    flipped[40] ^= 1;
    a.on_datagram(addr(9), &flipped, now);
    // Our own packet reflected back.
    a.on_datagram(addr(9), &raw(1, &ping_from(1, UNIX + 20)), now);
    assert!(drain(&mut a).is_empty());
    let m = a.metrics();
    assert_eq!(m.drops(DropReason::Expired), 1);
    assert_eq!(m.drops(DropReason::Unsolicited), 1);
    assert_eq!(m.drops(DropReason::Malformed), 2);
    assert_eq!(m.drops(DropReason::FromSelf), 1);
}

#[tokio::test(start_paused = true)]
async fn a_ping_flood_from_one_address_is_rate_limited_without_hurting_others() {
    let mut a = machine(1, &[], Instant::now());
    let ping = raw(9, &ping_from(9, UNIX + 20));
    for _ in 0..1000 {
        a.on_datagram(addr(9), &ping, Instant::now());
    }
    let pongs = drain(&mut a)
        .into_iter()
        .filter(|(_, p)| matches!(p, Packet::Pong(_)))
        .count();
    assert_eq!(pongs, REQUEST_BURST as usize);
    assert_eq!(
        a.metrics().drops(DropReason::RateLimited),
        1000 - u64::from(REQUEST_BURST)
    );
    // A node on another address is still answered.
    let elsewhere = SocketAddr::from(([127, 0, 1, 8], 40_008));
    a.on_datagram(elsewhere, &raw(8, &ping_from(8, UNIX + 20)), Instant::now());
    assert!(drain(&mut a)
        .iter()
        .any(|(to, p)| *to == elsewhere && matches!(p, Packet::Pong(_))));
}

/// Many keys from many ports of one address are one source: the per-IP budget holds
/// (keyed by address and port, 0 of 73,945 such Pings were limited before).
#[tokio::test(start_paused = true)]
async fn pings_signed_by_many_keys_from_many_ports_of_one_address_share_its_budget() {
    let mut a = machine(1, &[], Instant::now());
    for n in 10..=250u8 {
        let from = SocketAddr::from(([127, 0, 0, 1], 50_000 + u16::from(n)));
        a.on_datagram(from, &raw(n, &ping_from(n, UNIX + 20)), Instant::now());
    }
    let pongs = drain(&mut a)
        .into_iter()
        .filter(|(_, p)| matches!(p, Packet::Pong(_)))
        .count();
    assert_eq!(pongs, REQUEST_BURST as usize);
}

/// A Pong nobody asked for is dropped before its signature is recovered, and one replayed
/// from other ports does not count as an answer; an expiration far in the future is
/// refused (it would make the packet replayable for ever).
#[tokio::test(start_paused = true)]
async fn unsolicited_replies_and_far_future_expirations_are_dropped_before_any_recovery() {
    let mut a = machine(1, &[], Instant::now());
    let pong = raw(
        9,
        &Packet::Pong(Pong {
            to: Endpoint {
                ip: addr(1).ip(),
                udp: addr(1).port(),
                tcp: 0,
            },
            ping_hash: B256::repeat_byte(7),
            expiration: UNIX + 20,
            enr_seq: None,
        }),
    );
    for port in 0..256u16 {
        let from = SocketAddr::from(([127, 0, 0, 1], 60_000 + port));
        a.on_datagram(from, &pong, Instant::now());
    }
    assert_eq!(a.metrics().drops(DropReason::Unsolicited), 256);
    assert_eq!(
        a.metrics()
            .packets_in
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .sum::<u64>(),
        0
    );
    let forever = raw(9, &ping_from(9, 1u64 << 62));
    a.on_datagram(addr(9), &forever, Instant::now());
    assert_eq!(a.metrics().drops(DropReason::Expired), 1);
    assert!(drain(&mut a).is_empty(), "no Pong to a replayable Ping");
}

#[tokio::test(start_paused = true)]
async fn a_node_that_stops_answering_leaves_the_table_on_revalidation() {
    let now = Instant::now();
    let mut net = Net::new(vec![(1, machine(1, &[], now)), (2, machine(2, &[1], now))]);
    net.run_for(Duration::from_secs(2)).await;
    assert!(net.machine(1).table().get(&id_of(2)).is_some());
    net.dead.push(addr(2));
    net.run_for(Duration::from_secs(12)).await;
    assert!(net.machine(1).table().get(&id_of(2)).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_bond_made_from_one_ip_does_not_serve_findnode_from_another() {
    let now = Instant::now();
    let mut net = Net::new(vec![(1, machine(1, &[], now)), (2, machine(2, &[1], now))]);
    net.run_for(Duration::from_secs(2)).await;
    let a = net.nodes.get_mut(&addr(1)).expect("a");
    let _ = drain(a);
    let find = Packet::FindNode(FindNode {
        target: B512::repeat_byte(1),
        expiration: UNIX + 60,
    });
    // Node 2's key, but from 127.0.0.2: geth's Amplification/WrongIP case.
    let elsewhere = SocketAddr::from(([127, 0, 0, 2], addr(2).port()));
    a.on_datagram(elsewhere, &raw(2, &find), Instant::now());
    assert!(drain(a).is_empty());
    assert_eq!(a.metrics().drops(DropReason::Unbonded), 1);
    // From its own address it is answered.
    a.on_datagram(addr(2), &raw(2, &find), Instant::now());
    assert!(drain(a)
        .iter()
        .any(|(to, p)| *to == addr(2) && matches!(p, Packet::Neighbors(_))));
}

/// geth's liveness rule: a table node that answered many revalidations survives a missed
/// Pong (its count divided by 3) and leaves only when the count reaches zero; a new node
/// goes at its first miss.
#[tokio::test(start_paused = true)]
async fn a_long_lived_node_survives_missed_revalidations_until_its_liveness_runs_out() {
    let start = Instant::now();
    let mut a = machine(1, &[], start);
    let mut veteran = super::super::table::NodeEntry::new(id_of(5), addr(5), 30_005, start);
    veteran.liveness_checks = 9;
    a.table.add(veteran);
    let mut misses = 0;
    while a.table().get(&id_of(5)).is_some() && misses < 10 {
        // Only the veteran is in the table: each round pings it, it never answers.
        tokio::time::advance(REVALIDATE_INTERVAL).await;
        a.tick(Instant::now());
        tokio::time::advance(RESPONSE_TIMEOUT).await;
        a.tick(Instant::now());
        drain(&mut a);
        misses += 1;
        if let Some(entry) = a.table().get(&id_of(5)) {
            assert_eq!(
                entry.liveness_checks,
                9 / 3u32.pow(misses),
                "after {misses} misses"
            );
        }
    }
    // 9 -> 3 -> 1 -> 0: out at the third miss.
    assert_eq!(misses, 3);
}

/// A newcomer whose bootnode was silent at start (its packets lost) asks again within
/// [`EMPTY_TABLE_RETRY`], not after a full [`LOOKUP_INTERVAL`]: the table fills about a
/// second after the bootnode answers.
#[tokio::test(start_paused = true)]
async fn an_empty_table_asks_its_bootnodes_again_within_seconds() {
    let now = Instant::now();
    let mut net = Net::new(vec![(1, machine(1, &[], now)), (2, machine(2, &[1], now))]);
    net.run_for(Duration::from_secs(2)).await;
    // The newcomer arrives while the bootnode's answers are lost.
    net.dead.push(addr(1));
    net.nodes.insert(addr(3), machine(3, &[1], Instant::now()));
    net.run_for(Duration::from_secs(3)).await;
    assert!(net.machine(3).table().is_empty(), "the bootnode was silent");
    net.dead.clear();
    net.run_for(EMPTY_TABLE_RETRY * 3).await;
    assert!(
        net.machine(3).table().get(&id_of(2)).is_some(),
        "the newcomer found node 2 through the bootnode {} s after it answered, well \
         before a {} s lookup interval",
        (EMPTY_TABLE_RETRY * 3).as_secs(),
        LOOKUP_INTERVAL.as_secs()
    );
}
