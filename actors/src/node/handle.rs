//! The embedding API of a running [`Node`]: its peers as [`Peer`] handles (information,
//! disconnect, ban), a bounded stream of [`NodeEvent`]s, and the pool and chain reads an
//! embedder needs, so that embedders never hold the node's internal actors.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use actix::prelude::*;
use alloy_consensus::Header;

use super::manager::{BanPeer, ConnectedPeer, ConnectedPeers, DisconnectPeer, PeerManager};
use super::{Direction, Node, NodeEvent};
use crate::discovery::candidate::PeerSource;
use crate::discovery::enode::Enode;
use crate::eth::{EthVersion, PooledTx};
use crate::p2p::PeerId;
use crate::txs::pool::{PoolError, TxPool};

/// What an embedder knows of one connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its node id and address.
    pub enode: Enode,
    /// Who dialed.
    pub direction: Direction,
    /// The client id from its Hello.
    pub client: String,
    /// The capabilities from its Hello (`eth/68`, `snap/1`, ...).
    pub caps: Vec<String>,
    /// The negotiated eth version.
    pub version: EthVersion,
    /// Whether it is trusted (exempt from the peer limits).
    pub trusted: bool,
    /// Whether it is static (redialed when it leaves).
    pub is_static: bool,
    /// How it was found (flag, discovery, inbound, ...).
    pub source: PeerSource,
    /// How long it has been connected.
    pub connected_for: Duration,
}

impl PeerInfo {
    fn of(peer: &ConnectedPeer) -> Self {
        Self {
            enode: peer.session.enode,
            direction: peer.session.direction,
            client: peer.session.client.clone(),
            caps: peer.session.caps.clone(),
            version: peer.session.version,
            trusted: peer.trusted,
            is_static: peer.is_static,
            source: peer.found,
            connected_for: peer.since.elapsed(),
        }
    }
}

/// A handle on one connected peer.
#[derive(Clone, Debug)]
pub struct Peer {
    info: PeerInfo,
    manager: Addr<PeerManager>,
}

impl Peer {
    /// What it was when the handle was taken.
    pub fn info(&self) -> &PeerInfo {
        &self.info
    }

    /// Its node id.
    pub fn id(&self) -> PeerId {
        self.info.enode.id
    }

    /// Disconnects it (reason: disconnect requested); a static peer is redialed later.
    /// Answers whether it was still connected.
    pub async fn disconnect(&self) -> bool {
        self.manager
            .send(DisconnectPeer(self.id()))
            .await
            .unwrap_or(false)
    }

    /// Disconnects it and refuses it (dialing and admission) for `duration`.
    pub async fn ban(&self, duration: Duration) -> bool {
        ban(&self.manager, self.id(), duration).await
    }
}

async fn ban(manager: &Addr<PeerManager>, id: PeerId, duration: Duration) -> bool {
    manager
        .send(BanPeer { id, duration })
        .await
        .unwrap_or(false)
}

impl Node {
    /// Where it listens for RLPx.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local_addr
    }

    /// The client id it sends in Hello.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Its chain id and network id.
    pub fn chain_ids(&self) -> (u64, u64) {
        (self.chain_id, self.network_id)
    }

    /// The connected peers.
    pub async fn peers(&self) -> Vec<Peer> {
        let peers = self.manager.send(ConnectedPeers).await.unwrap_or_default();
        peers
            .iter()
            .map(|p| Peer {
                info: PeerInfo::of(p),
                manager: self.manager.clone(),
            })
            .collect()
    }

    /// The connected peer `id`, if it is connected.
    pub async fn peer(&self, id: PeerId) -> Option<Peer> {
        self.peers().await.into_iter().find(|p| p.id() == id)
    }

    /// Bans node `id` for `duration` whether or not it is connected (see [`Peer::ban`]).
    pub async fn ban(&self, id: PeerId, duration: Duration) -> bool {
        ban(&self.manager, id, duration).await
    }

    /// Forgets static peer `id` and disconnects it; answers whether it was known.
    pub async fn remove_peer(&self, id: PeerId) -> bool {
        self.manager
            .send(super::manager::RemovePeer(id))
            .await
            .unwrap_or(false)
    }

    /// Validates and pools transactions as if submitted over RPC; each one's outcome in
    /// order. Accepted ones are announced to peers.
    pub fn submit_transactions(
        &self,
        txs: Vec<PooledTx>,
    ) -> Vec<Result<alloy_primitives::B256, PoolError>> {
        self.pool.add(txs, None)
    }

    /// Executable and gapped transactions in the pool.
    pub fn pool_status(&self) -> (usize, usize) {
        self.pool.status()
    }

    /// The pooled transaction `hash`, if the pool holds it (sender recovered).
    pub fn pooled(&self, hash: &alloy_primitives::B256) -> Option<Arc<crate::txs::pool::PoolTx>> {
        self.pool.get(hash)
    }

    /// The head of the local chain (genesis and imported blocks).
    pub fn head(&self) -> Header {
        self.store.head()
    }

    /// The head followed from peers, if any (number and hash).
    pub fn followed_head(&self) -> Option<alloy_eips::BlockNumHash> {
        self.follow
            .head()
            .map(|b| alloy_eips::BlockNumHash::new(b.header.number, b.hash))
    }

    /// A stream of every later [`NodeEvent`], holding at most `buffer` undelivered ones:
    /// when the consumer falls behind, events past the buffer are dropped (counted by
    /// [`EventStream::dropped`]) and the node never waits. Must be called inside an actix
    /// system (the forwarding actor runs on the caller's arbiter).
    pub fn events(&self, buffer: usize) -> EventStream {
        let (tx, rx) = tokio::sync::mpsc::channel(buffer.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let forward = Forward {
            tx,
            dropped: dropped.clone(),
        }
        .start();
        self.subscribe(forward.recipient());
        EventStream { rx, dropped }
    }
}

/// Events of a node as a [`futures::Stream`] (see [`Node::events`]).
#[derive(Debug)]
pub struct EventStream {
    rx: tokio::sync::mpsc::Receiver<NodeEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventStream {
    /// The next event; `None` once the node is gone.
    pub async fn next(&mut self) -> Option<NodeEvent> {
        self.rx.recv().await
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl futures::Stream for EventStream {
    type Item = NodeEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<NodeEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// Moves events from the node's subscribers into an [`EventStream`]'s buffer.
struct Forward {
    tx: tokio::sync::mpsc::Sender<NodeEvent>,
    dropped: Arc<AtomicU64>,
}

impl Actor for Forward {
    type Context = Context<Self>;
}

impl Handler<NodeEvent> for Forward {
    type Result = ();

    fn handle(&mut self, event: NodeEvent, ctx: &mut Context<Self>) {
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The stream was dropped: stop, and the node's subscribers forget us.
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }
}
