//! discv4 floods against a release `ethpeer node` on the ethtest chain (discovery on): while
//! an attacker on 127.0.0.1 sends 100,000 datagrams a second, eight honest nodes on
//! 127.0.2.1 to 127.0.9.1 ping 4 times a second each and an honest eth/68 peer asks for a header every 25 ms. The
//! bench prints, next to the quiet baseline: the attacker's packets per second, the share of
//! honest Pings answered (a Pong within 500 ms), the honest peer's GetBlockHeaders round
//! trip (p50/p99/max: the coordinating thread's latency) and the node's threads' CPU.
//!
//! Run: `cargo bench --bench udp_flood` (needs `../shared/testdata`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy_primitives::B256;
use ethpeer_actors::discovery::v4::wire::{Endpoint, Packet, Ping, Pong, PING_VERSION};
use secp256k1::SecretKey;

use support::{dial, honest, percentile, shares, status, testdata, thread_ticks};

/// Source ports the attacker sends from (one IP; the bench keeps within `ulimit -n`).
const ATTACK_PORTS: u16 = 256;

/// The attacker's rate: the issue measured its floods at 83k packets/s; we send 100k/s.
const ATTACK_RATE: u64 = 100_000;

/// Between the honest node's Pings: 4 a second, under the per-IP budget (5/s) a node
/// sending a Ping to one peer every few seconds never approaches.
const HONEST_PING_INTERVAL: Duration = Duration::from_millis(250);

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn key(n: u32) -> SecretKey {
    let mut bytes = [0x11u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_byte_array(bytes).unwrap()
}

fn ping(key: &SecretKey, from: SocketAddr, to: SocketAddr) -> (Vec<u8>, B256) {
    let endpoint = |a: SocketAddr| Endpoint {
        ip: a.ip(),
        udp: a.port(),
        tcp: 0,
    };
    Packet::Ping(Ping {
        version: PING_VERSION,
        from: endpoint(from),
        to: endpoint(to),
        expiration: unix() + 60,
        enr_seq: None,
    })
    .encode(key)
}

/// The attacker's datagrams for a flood.
fn flood(kind: u8, node: SocketAddr) -> Vec<Vec<u8>> {
    match kind {
        // One valid, signed Pong answering nothing we asked, replayed.
        1 => vec![
            Packet::Pong(Pong {
                to: Endpoint {
                    ip: node.ip(),
                    udp: node.port(),
                    tcp: 0,
                },
                ping_hash: B256::repeat_byte(7),
                expiration: unix() + 60,
                enr_seq: None,
            })
            .encode(&key(1))
            .0,
        ],
        // Pings signed by 4,096 keys.
        2 => (0..4096u32)
            .map(|n| ping(&key(n), "127.0.0.1:1".parse().unwrap(), node).0)
            .collect(),
        _ => Vec::new(),
    }
}

/// Sends `datagrams` round-robin from [`ATTACK_PORTS`] sockets until `stop`; the count.
fn attack(datagrams: Vec<Vec<u8>>, node: SocketAddr, stop: Arc<AtomicBool>) -> u64 {
    if datagrams.is_empty() {
        return 0;
    }
    let sockets: Vec<UdpSocket> = (0..ATTACK_PORTS)
        .filter_map(|_| UdpSocket::bind("127.0.0.1:0").ok())
        .collect();
    let (mut sent, mut i) = (0u64, 0usize);
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // Paced in batches of 1,000 to ATTACK_RATE.
        for _ in 0..1000 {
            let socket = &sockets[i % sockets.len()];
            if socket
                .send_to(&datagrams[i % datagrams.len()], node)
                .is_ok()
            {
                sent += 1;
            }
            i += 1;
        }
        let due = start + Duration::from_secs_f64(sent as f64 / ATTACK_RATE as f64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    sent
}

/// Pings the node every [`HONEST_PING_INTERVAL`] from `from` until `stop`; the count
/// (the Pongs are counted in `answered`).
fn honest_pings(
    from: SocketAddr,
    node: SocketAddr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> u64 {
    let socket = UdpSocket::bind(from).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let key = key(0xffff);
    let mut sent = 0;
    let mut buf = [0u8; 1280];
    while !stop.load(Ordering::Relaxed) {
        let (datagram, hash) = ping(&key, me, node);
        socket.send_to(&datagram, node).unwrap();
        sent += 1;
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            let Ok((len, _)) = socket.recv_from(&mut buf) else {
                continue;
            };
            if let Ok(decoded) = Packet::decode(&buf[..len]) {
                if matches!(decoded.packet, Packet::Pong(p) if p.ping_hash == hash) {
                    answered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        std::thread::sleep(HONEST_PING_INTERVAL);
    }
    sent
}

fn main() {
    let Some(node) = support::bench_node("udp_flood") else {
        return;
    };
    let dir = testdata();
    node.run(|mut lines, pid| async move {
        let enode = lines.next_line().await.unwrap().unwrap();
        let metrics = support::line_with(&mut lines, "metrics ").await;
        let dropped = |m: String| async move {
            let shared = support::metric(&m, "ethpeer_discv5_shared_dropped_total ").await;
            let limited =
                support::metric(&m, "ethpeer_discv4_dropped_total{reason=\"rate_limited\"} ").await;
            let unsolicited =
                support::metric(&m, "ethpeer_discv4_dropped_total{reason=\"unsolicited\"} ").await;
            let kernel = support::metric(&m, "ethpeer_discovery_socket_drops_total ").await;
            (shared, limited, unsolicited, kernel)
        };
        let rlpx: SocketAddr = enode.rsplit('@').next().unwrap().split('?').next().unwrap().parse().unwrap();
        let udp_port = enode
            .split_once("?discport=")
            .map_or(rlpx.port(), |(_, p)| p.parse().unwrap());
        let udp = SocketAddr::new(rlpx.ip(), udp_port);
        let status = status(&dir);
        println!("| flood | attacker packets/s | honest Pings answered | honest header p50 | p99 | max | node threads' CPU | kernel drops / v5->v4 queue drops / rate-limited / unsolicited |");
        println!("|---|---|---|---|---|---|---|---|");
        let floods = [
            ("quiet baseline", 0u8),
            ("one signed Pong replayed from 256 ports", 1),
            ("Pings signed by 4,096 keys from 256 ports", 2),
        ];
        for (n, (name, kind)) in floods.into_iter().enumerate() {
            let conn = dial(&enode, &status, 60 + n as u8).await;
            let stop = Arc::new(AtomicBool::new(false));
            let answered = Arc::new(AtomicU64::new(0));
            let datagrams = flood(kind, udp);
            let attacker = {
                let stop = stop.clone();
                std::thread::spawn(move || attack(datagrams, udp, stop))
            };
            // Eight honest nodes on eight /24s: 160 Pings in the 5 s of a round.
            let pingers: Vec<_> = (2..10u8)
                .map(|net| {
                    let (stop, answered) = (stop.clone(), answered.clone());
                    let from = SocketAddr::from(([127, 0, net, 1], 0));
                    std::thread::spawn(move || honest_pings(from, udp, stop, answered))
                })
                .collect();
            let before = dropped(metrics.clone()).await;
            let ticks = thread_ticks(pid);
            let started = Instant::now();
            let rtts = honest(conn).await;
            let cpu = shares(&ticks, &thread_ticks(pid));
            stop.store(true, Ordering::Relaxed);
            let sent = attacker.join().unwrap();
            let pings: u64 = pingers.into_iter().map(|p| p.join().unwrap()).sum();
            let rate = sent as f64 / started.elapsed().as_secs_f64();
            let after = dropped(metrics.clone()).await;
            println!(
                "| {name} | {rate:.0} | {}/{pings} | {:.2} ms | {:.2} ms | {:.2} ms | {cpu} | {} / {} / {} / {} |",
                answered.load(Ordering::Relaxed),
                percentile(&rtts, 0.5).as_secs_f64() * 1e3,
                percentile(&rtts, 0.99).as_secs_f64() * 1e3,
                rtts.last().unwrap().as_secs_f64() * 1e3,
                after.3 - before.3,
                after.0 - before.0,
                after.1 - before.1,
                after.2 - before.2,
            );
        }
    });
}
