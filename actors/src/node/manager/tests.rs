//! PeerManager alone: admission rules, the inbound throttle and static-peer backoff, with a
//! dial function injected and Tokio's clock paused.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use super::*;
use crate::eth::EthVersion;

fn enode(n: u8) -> Enode {
    let key = secp256k1::SecretKey::from_byte_array([n.max(1); 32]).unwrap();
    let id = crate::rlpx::handshake::node_id(&key.public_key(secp256k1::SECP256K1));
    Enode {
        id,
        addr: SocketAddr::from(([127, 0, 0, 1], 30000 + u16::from(n))),
    }
}

fn admit(n: u8, direction: Direction) -> Admit {
    Admit(SessionInfo {
        enode: enode(n),
        local: SocketAddr::from(([127, 0, 0, 1], 30303)),
        direction,
        version: EthVersion::Eth68,
        client: format!("test/{n}"),
        caps: vec!["eth/68".into()],
    })
}

fn never_dial() -> DialFn {
    Rc::new(|_, _| {
        Box::pin(async {
            Err(crate::node::DialError::Connect(std::io::Error::other(
                "no dialing in this test",
            )))
        })
    })
}

#[actix_rt::test]
async fn admission_keeps_the_split_and_exempts_trusted_peers() {
    // 6 peers: 2 dialed (6 / 3), 4 inbound.
    let manager = PeerManager::new(enode(99).id, 6, never_dial())
        .trusted([enode(50).id])
        .start();
    for n in 1..=4 {
        assert_eq!(
            manager.send(admit(n, Direction::Inbound)).await.unwrap(),
            Ok(())
        );
    }
    assert_eq!(
        manager.send(admit(5, Direction::Inbound)).await.unwrap(),
        Err(DisconnectReason::TooManyPeers)
    );
    // Dialed slots are separate from inbound ones.
    for n in 10..=11 {
        assert_eq!(
            manager.send(admit(n, Direction::Outbound)).await.unwrap(),
            Ok(())
        );
    }
    assert_eq!(
        manager.send(admit(12, Direction::Outbound)).await.unwrap(),
        Err(DisconnectReason::TooManyPeers)
    );
    // A trusted peer gets in anyway; duplicates and ourselves never do.
    assert_eq!(
        manager.send(admit(50, Direction::Inbound)).await.unwrap(),
        Ok(())
    );
    assert_eq!(
        manager.send(admit(1, Direction::Outbound)).await.unwrap(),
        Err(DisconnectReason::AlreadyConnected)
    );
    assert_eq!(
        manager.send(admit(99, Direction::Inbound)).await.unwrap(),
        Err(DisconnectReason::ConnectedToSelf)
    );
    // A failed registration frees its slot.
    manager.send(AdmitFailed(enode(1).id)).await.unwrap();
    assert_eq!(
        manager.send(admit(5, Direction::Inbound)).await.unwrap(),
        Ok(())
    );
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert_eq!(stats.refused["too_many_peers"], 2);
    assert_eq!(stats.refused["already_connected"], 1);
}

#[test]
fn the_throttle_refuses_a_public_ip_for_30_seconds() {
    let throttle = InboundThrottle::default();
    let t0 = tokio::time::Instant::now();
    let public: IpAddr = "203.0.113.5".parse().unwrap();
    let other: IpAddr = "203.0.113.6".parse().unwrap();
    assert!(throttle.allow(public, t0));
    assert!(!throttle.allow(public, t0 + Duration::from_secs(29)));
    assert!(throttle.allow(other, t0 + Duration::from_secs(29)));
    assert!(throttle.allow(public, t0 + Duration::from_secs(30)));
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    assert!(throttle.allow(local, t0) && throttle.allow(local, t0));
}

#[test]
fn the_throttle_stays_bounded() {
    let throttle = InboundThrottle::default();
    let t0 = tokio::time::Instant::now();
    for n in 0..(MAX_THROTTLED_IPS as u32 + 100) {
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + n));
        assert!(throttle.allow(ip, t0));
    }
    assert_eq!(throttle.seen.lock().unwrap().len(), MAX_THROTTLED_IPS);
}

#[actix_rt::test]
async fn a_failing_static_peer_is_redialed_with_doubling_backoff() {
    tokio::time::pause();
    let start = Instant::now();
    let attempts = Rc::new(RefCell::new(Vec::new()));
    let log = attempts.clone();
    let dial: DialFn = Rc::new(move |_, _| {
        log.borrow_mut().push(Instant::now() - start);
        Box::pin(async {
            Err(crate::node::DialError::Connect(std::io::Error::other(
                "connection refused",
            )))
        })
    });
    let manager = PeerManager::new(enode(99).id, 50, dial)
        .static_peers([enode(1)])
        .start();
    // Paused time jumps ahead whenever the runtime is idle: 120 virtual seconds.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let attempts = attempts.borrow().clone();
    let gaps: Vec<f64> = attempts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // 1, 2, 4, 8, 16, 32, then capped at 35 s (plus up to one dial tick each).
    let expected = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 35.0];
    assert!(gaps.len() >= expected.len(), "{gaps:?}");
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *gap >= want && *gap <= want + DIAL_TICK.as_secs_f64() + 0.01,
            "{gaps:?}"
        );
    }
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert_eq!(stats.dial_failures as usize, attempts.len());
}

#[actix_rt::test]
async fn dials_respect_the_dialed_limit_and_trusted_exemption() {
    tokio::time::pause();
    // Limit 3 → one dialed slot. Three static peers, one of them trusted.
    let started = Rc::new(RefCell::new(Vec::new()));
    let log = started.clone();
    let dial: DialFn = Rc::new(move |enode: Enode, admission: Admission| {
        log.borrow_mut().push(enode.id);
        Box::pin(async move {
            let verdict = admission
                .admit
                .send(Admit(SessionInfo {
                    enode,
                    local: SocketAddr::from(([127, 0, 0, 1], 40000)),
                    direction: Direction::Outbound,
                    version: EthVersion::Eth68,
                    client: "x".into(),
                    caps: vec![],
                }))
                .await
                .map_err(|e| crate::node::DialError::Connect(std::io::Error::other(e)))?;
            verdict.map_err(crate::node::DialError::Refused)
        })
    });
    let manager = PeerManager::new(enode(99).id, 3, dial)
        .static_peers([enode(1), enode(2)])
        .start();
    manager
        .send(AddPeer {
            enode: enode(3),
            trusted: true,
        })
        .await
        .unwrap();
    // Twenty dial ticks of paused time: an over-dial on any later tick would show.
    tokio::time::sleep(DIAL_TICK * 20).await;
    let started = started.borrow().clone();
    let trusted = started.iter().filter(|id| **id == enode(3).id).count();
    assert_eq!(trusted, 1, "the trusted peer is dialed, once: {started:?}");
    let untrusted = started.iter().filter(|id| **id != enode(3).id).count();
    assert_eq!(
        untrusted, 1,
        "one dialed slot for the two untrusted static peers"
    );
}

#[actix_rt::test]
async fn a_closing_manager_admits_nobody() {
    let manager = PeerManager::new(enode(99).id, 50, never_dial()).start();
    manager.send(ShutDown).await.unwrap();
    assert_eq!(
        manager.send(admit(1, Direction::Inbound)).await.unwrap(),
        Err(DisconnectReason::ClientQuitting)
    );
}

#[actix_rt::test]
async fn a_static_peer_that_keeps_dropping_us_is_redialed_less_and_less_often() {
    tokio::time::pause();
    let start = Instant::now();
    let attempts = Rc::new(RefCell::new(Vec::new()));
    let manager_cell: Rc<RefCell<Option<Addr<PeerManager>>>> = Rc::default();
    let (log, cell) = (attempts.clone(), manager_cell.clone());
    let id = crate::testing::peer_id(1);
    let dial: DialFn = Rc::new(move |enode: Enode, admission: Admission| {
        log.borrow_mut().push(Instant::now() - start);
        let manager = cell.borrow().clone();
        Box::pin(async move {
            // The remote accepts, registers, and drops us at once (a full geth does this).
            admission
                .admit
                .send(Admit(SessionInfo {
                    enode,
                    local: SocketAddr::from(([127, 0, 0, 1], 40000)),
                    direction: Direction::Outbound,
                    version: EthVersion::Eth68,
                    client: "full".into(),
                    caps: vec![],
                }))
                .await
                .unwrap()
                .unwrap();
            let manager = manager.unwrap();
            let (_, pool) = crate::testing::pool();
            let (handle, _rx) = crate::testing::spawn_peer(1, EthVersion::Eth68, pool, 4);
            manager.send(PeerEvent::Registered(handle)).await.unwrap();
            manager
                .send(PeerEvent::Unregistered {
                    id: enode.id,
                    reason: Some(crate::peer::StopReason::RemoteDisconnected(
                        DisconnectReason::TooManyPeers,
                    )),
                })
                .await
                .unwrap();
            Ok(())
        })
    });
    let peer = Enode {
        id,
        addr: SocketAddr::from(([127, 0, 0, 1], 30001)),
    };
    let manager = PeerManager::new(enode(99).id, 50, dial)
        .static_peers([peer])
        .start();
    *manager_cell.borrow_mut() = Some(manager.clone());
    tokio::time::sleep(Duration::from_secs(40)).await;
    let attempts = attempts.borrow().clone();
    let gaps: Vec<f64> = attempts
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // 1, 2, 4, 8, 16 s: not once a second.
    assert!(gaps.len() >= 4 && gaps.len() <= 6, "{gaps:?}");
    for (gap, want) in gaps.iter().zip([1.0, 2.0, 4.0, 8.0, 16.0]) {
        assert!(*gap >= want && *gap <= want + 0.3, "{gaps:?}");
    }
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert_eq!(
        stats.disconnects["remote_too_many_peers"] as usize,
        attempts.len()
    );
}

#[actix_rt::test]
async fn waiting_for_no_peers_resolves_when_the_last_one_goes() {
    let manager = PeerManager::new(enode(99).id, 50, never_dial()).start();
    // Nobody there: at once.
    manager.send(WaitForNoPeers).await.unwrap();
    manager
        .send(admit(1, Direction::Inbound))
        .await
        .unwrap()
        .unwrap();
    let waiting = manager.send(WaitForNoPeers);
    futures::pin_mut!(waiting);
    // Still one admitted peer: the wait is pending after the manager handled it.
    assert!(futures::poll!(&mut waiting).is_pending());
    manager.send(GetManagerStats).await.unwrap();
    assert!(futures::poll!(&mut waiting).is_pending());
    manager.send(AdmitFailed(enode(1).id)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("resolved once the peer was released")
        .unwrap();
}
