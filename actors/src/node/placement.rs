//! Where peers run: [`PeerArbiters`], one actix arbiter (a thread with its own runtime) per
//! core, taken in turn. A session is handshaken where it was accepted or dialed, then
//! detached from that runtime and its peer actor started on the next arbiter, so socket
//! reads, frame decryption, decoding and writes of different peers run in parallel. Every
//! other actor reaches a peer through its `Recipient`s, whichever thread it is on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::{Arbiter, ArbiterHandle};
use futures::channel::oneshot;
use tokio::net::TcpStream;

use super::manager::Admission;
use super::DialError;
use crate::feed::events::Direction;
use crate::peer::PeerHandle;
use crate::peer_set::SessionPeerLinks;
use crate::session::Established;
use crate::txs::pool::TxPool;

/// The arbiters peers are spread over (none: peers run where their session was made).
#[derive(Default)]
pub struct PeerArbiters {
    arbiters: Vec<ArbiterHandle>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PeerArbiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PeerArbiters({})", self.arbiters.len())
    }
}

impl PeerArbiters {
    /// Starts `count` arbiters (0: none, peers stay on the current one).
    pub fn start(count: usize) -> Self {
        Self {
            arbiters: (0..count).map(|_| Arbiter::new().handle()).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.arbiters.len()
    }

    /// Whether peers stay on the current arbiter.
    pub fn is_empty(&self) -> bool {
        self.arbiters.is_empty()
    }

    /// Stops their threads (peers on them stop with them).
    pub fn stop(&self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }

    fn pick(&self) -> Option<&ArbiterHandle> {
        if self.arbiters.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.arbiters.get(turn % self.arbiters.len())
    }

    /// Admits an established session and starts its peer on the next arbiter.
    pub(super) async fn admit_and_start(
        self: Arc<Self>,
        established: Established<TcpStream>,
        addrs: (SocketAddr, SocketAddr),
        direction: Direction,
        admission: Admission,
        pool: Arc<dyn TxPool>,
        links: SessionPeerLinks,
    ) -> Result<PeerHandle, DialError> {
        let start = move |established| {
            super::dial::admit_and_start(established, addrs, direction, admission, pool, links)
        };
        let Some(arbiter) = self.pick() else {
            return start(established).await;
        };
        let detached = established.detach()?;
        let (reply, answer) = oneshot::channel();
        let sent = arbiter.spawn_fn(move || {
            actix_rt::spawn(async move {
                let started = match detached.attach() {
                    Ok(established) => start(established).await,
                    Err(error) => Err(DialError::Connect(error)),
                };
                let _ = reply.send(started);
            });
        });
        let stopped = || DialError::Connect(std::io::Error::other("peer arbiter stopped"));
        if !sent {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}
