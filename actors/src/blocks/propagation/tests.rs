//! The block propagator with a real peer set and peer actors on in-memory connections,
//! on a paused clock: each connection is read until it falls quiet.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use alloy_consensus::Header;
use alloy_primitives::{B256, U256};
use futures::StreamExt;

use super::*;
use crate::eth::{EthBlock, EthMessage, EthVersion};
use crate::peer::{Outbound, PeerHandle};
use crate::peer_set::{MarkBlock, PeerHead, PeerSetActor, Register};
use crate::testing::{peer_id, pool, spawn_peer};

fn block(number: u64) -> Arc<EthBlock> {
    Arc::new(EthBlock {
        header: Header {
            number,
            gas_limit: 30_000_000,
            ..Default::default()
        },
        body: Default::default(),
    })
}

struct Rig {
    set: Addr<PeerSetActor>,
    propagator: Addr<BlockPropagator>,
    peers: Vec<(
        PeerHandle,
        futures::channel::mpsc::Receiver<crate::peer::Outbound>,
    )>,
}

async fn rig(versions: &[EthVersion]) -> Rig {
    let (_, pool) = pool();
    let set = PeerSetActor::new().start();
    let propagator = BlockPropagator::new(set.clone().recipient(), (7, 11)).start();
    let mut peers = Vec::new();
    for (n, version) in versions.iter().enumerate() {
        let (peer, rx) = spawn_peer(n as u8 + 1, *version, pool.clone(), 8);
        let head = PeerHead::TotalDifficulty {
            td: U256::from(1),
            best_hash: B256::ZERO,
        };
        set.send(Register {
            peer: peer.clone(),
            head,
        })
        .await
        .expect("alive")
        .expect("registered");
        peers.push((peer, rx));
    }
    Rig {
        set,
        propagator,
        peers,
    }
}

/// How long a connection must stay silent, on the paused clock, to count as quiet. The
/// paused clock only moves when every actor is idle, so nothing is still on its way then.
const QUIET: Duration = Duration::from_secs(1);

/// What each peer was actually sent: (NewBlock count, NewBlockHashes entries), read from
/// its connection until it is quiet. Tests using it pause the clock.
async fn outcome(rig: &mut Rig) -> Vec<(usize, usize)> {
    let mut result = Vec::new();
    for (_, rx) in &mut rig.peers {
        let (mut props, mut anns) = (0, 0);
        while let Ok(Some(outbound)) = tokio::time::timeout(QUIET, rx.next()).await {
            match outbound {
                Outbound::Eth(EthMessage::NewBlock(_)) => props += 1,
                Outbound::Eth(EthMessage::NewBlockHashes(h)) => anns += h.0.len(),
                other => panic!("unexpected {other:?}"),
            }
        }
        result.push((props, anns));
    }
    result
}

#[actix_rt::test]
async fn a_block_goes_in_full_to_sqrt_n_eth68_peers_and_is_announced_to_the_rest() {
    tokio::time::pause();
    let mut versions = vec![EthVersion::Eth68; 7];
    versions.extend([EthVersion::Eth66, EthVersion::Eth69, EthVersion::Eth70]);
    let mut rig = rig(&versions).await;
    let b = block(1);
    // Peer 1 sent us the block: it is marked and gets nothing.
    rig.set
        .send(MarkBlock {
            peer: peer_id(1),
            hash: b.header.hash_slow(),
        })
        .await
        .expect("alive");
    rig.propagator
        .send(PropagateBlock {
            block: b.clone(),
            td: U256::from(100),
        })
        .await
        .expect("alive");
    // Routed before this reply (batches are handled in order).
    rig.propagator
        .send(AnnounceBlock {
            hash: b.header.hash_slow(),
            number: 1,
        })
        .await
        .expect("alive");
    let outcome = outcome(&mut rig).await;
    assert_eq!(outcome[0], (0, 0), "not back to the sender");
    assert_eq!(
        &outcome[8..],
        &[(0, 0), (0, 0)],
        "eth/69+ peers get neither message"
    );
    let eligible = &outcome[1..8];
    assert_eq!(
        eligible.iter().filter(|o| **o == (1, 0)).count(),
        3,
        "ceil(sqrt(7)) get NewBlock"
    );
    assert_eq!(
        eligible.iter().filter(|o| **o == (0, 1)).count(),
        4,
        "the rest get NewBlockHashes"
    );
}

#[actix_rt::test]
async fn announce_after_import_reaches_every_eth68_peer_lacking_the_block() {
    tokio::time::pause();
    let mut rig = rig(&[EthVersion::Eth68, EthVersion::Eth68, EthVersion::Eth69]).await;
    let hash = B256::repeat_byte(9);
    rig.set
        .send(MarkBlock {
            peer: peer_id(2),
            hash,
        })
        .await
        .expect("alive");
    rig.propagator
        .send(AnnounceBlock { hash, number: 5 })
        .await
        .expect("alive");
    rig.propagator
        .send(AnnounceBlock { hash, number: 5 })
        .await
        .expect("alive");
    assert_eq!(
        outcome(&mut rig).await,
        vec![(0, 1), (0, 0), (0, 0)],
        "once, to peer 1 only"
    );
}
