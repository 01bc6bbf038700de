//! The dial scheduler's treatment of discovered nodes, with paused time and an injected
//! dial function: the dialed share after static peers, the 35 s dial history, three
//! failures, one try without a fork id, never a mismatching fork id.

use std::cell::RefCell;
use std::net::SocketAddr;
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

type Log = Rc<RefCell<Vec<(PeerId, Instant)>>>;

/// A dial function that records each dial and either admits the session or fails.
fn dial_fn(log: Log, succeed: bool) -> DialFn {
    Rc::new(move |enode: Enode, admission: Admission| {
        log.borrow_mut().push((enode.id, Instant::now()));
        Box::pin(async move {
            if !succeed {
                return Err(crate::node::DialError::Connect(std::io::Error::other(
                    "connection refused",
                )));
            }
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
    })
}

fn found(n: u8, fork: ForkVerdict) -> NodeDiscovered {
    NodeDiscovered {
        enode: enode(n),
        source: PeerSource::Discv4,
        fork,
    }
}

#[actix_rt::test]
async fn discovered_nodes_fill_only_the_dialed_share_left_by_static_peers() {
    tokio::time::pause();
    let log = Log::default();
    // Limit 9: three dialed slots; one goes to the static peer.
    let manager = PeerManager::new(enode(99).id, 9, dial_fn(log.clone(), true))
        .static_peers([enode(1)])
        .start();
    for n in 10..16 {
        manager
            .send(found(n, ForkVerdict::Compatible))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let dialed: Vec<PeerId> = log.borrow().iter().map(|(id, _)| *id).collect();
    assert_eq!(dialed.first(), Some(&enode(1).id), "static peer first");
    assert_eq!(dialed.len(), 3, "{dialed:?}");
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert_eq!(stats.candidates["discv4"], 6);
}

#[actix_rt::test]
async fn a_failing_candidate_waits_35_s_between_dials_and_is_dropped_after_three() {
    tokio::time::pause();
    let log = Log::default();
    let manager = PeerManager::new(enode(99).id, 50, dial_fn(log.clone(), false)).start();
    manager
        .send(found(1, ForkVerdict::Compatible))
        .await
        .unwrap();
    // Another candidate's failures do not hold this one back.
    manager
        .send(found(2, ForkVerdict::Compatible))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(300)).await;
    let times: Vec<Instant> = log
        .borrow()
        .iter()
        .filter(|(id, _)| *id == enode(1).id)
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(times.len(), MAX_CANDIDATE_FAILURES as usize);
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= DIAL_HISTORY_EXPIRATION, "{times:?}");
    }
    let other = log
        .borrow()
        .iter()
        .filter(|(id, _)| *id == enode(2).id)
        .count();
    assert_eq!(other, MAX_CANDIDATE_FAILURES as usize);
}

#[actix_rt::test]
async fn no_fork_id_is_tried_once_and_another_chain_never() {
    tokio::time::pause();
    let log = Log::default();
    let manager = PeerManager::new(enode(99).id, 50, dial_fn(log.clone(), false)).start();
    manager.send(found(1, ForkVerdict::Absent)).await.unwrap();
    manager
        .send(found(2, ForkVerdict::Incompatible))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    let dialed: Vec<PeerId> = log.borrow().iter().map(|(id, _)| *id).collect();
    assert_eq!(dialed, vec![enode(1).id]);
    let stats = manager.send(GetManagerStats).await.unwrap();
    assert_eq!(stats.candidates_incompatible, 1);
}
