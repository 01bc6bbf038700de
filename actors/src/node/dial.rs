//! Dialing and admission: connect, handshake, ask the [`PeerManager`](super::PeerManager),
//! start the peer (on the next of the [`PeerArbiters`]); a slot the manager reserved is given
//! back if the start fails.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::B512;
use tokio::net::TcpStream;

use super::manager::{self, Admission, Admit, AdmitFailed, SessionInfo};
use super::{DialError, Direction, Enode, PeerArbiters, StoreStatus, DIAL_TIMEOUT};
use crate::p2p::DisconnectReason;
use crate::peer::PeerHandle;
use crate::peer_set::{start_session_peer, SessionPeerLinks};
use crate::session::{self, Established, SessionConfig};
use crate::txs::pool::TxPool;

/// The manager's way to dial: connect under [`DIAL_TIMEOUT`], handshake, admit, start.
pub(super) fn dial_fn(
    session: Arc<SessionConfig>,
    status: Arc<StoreStatus>,
    pool: Arc<dyn TxPool>,
    links: SessionPeerLinks,
    arbiters: Arc<PeerArbiters>,
) -> manager::DialFn {
    Rc::new(move |enode: Enode, admission: Admission| {
        let (session, status, pool, links, arbiters) = (
            session.clone(),
            status.clone(),
            pool.clone(),
            links.clone(),
            arbiters.clone(),
        );
        Box::pin(async move {
            dial_once(enode, &session, &status, admission, pool, links, arbiters)
                .await
                .map(|_| ())
        })
    })
}

/// Connect, handshake, admit, start: one attempt.
pub(super) async fn dial_once(
    enode: Enode,
    session: &SessionConfig,
    status: &StoreStatus,
    admission: Admission,
    pool: Arc<dyn TxPool>,
    links: SessionPeerLinks,
    arbiters: Arc<PeerArbiters>,
) -> Result<PeerHandle, DialError> {
    let stream = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(enode.addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "dial timeout"))??;
    stream.set_nodelay(true)?;
    let local = stream.local_addr()?;
    let established = session::dial(stream, session, enode.id, &status.now()).await?;
    arbiters
        .admit_and_start(
            established,
            (enode.addr, local),
            Direction::Outbound,
            admission,
            pool,
            links,
        )
        .await
}

/// Asks the manager; refused sessions get Disconnect(reason), admitted ones a peer actor.
pub(super) async fn admit_and_start(
    established: Established<TcpStream>,
    (addr, local): (SocketAddr, SocketAddr),
    direction: Direction,
    admission: Admission,
    pool: Arc<dyn TxPool>,
    links: SessionPeerLinks,
) -> Result<PeerHandle, DialError> {
    let id = established.remote_id;
    let hello = &established.remote_hello;
    let request = Admit(SessionInfo {
        enode: Enode { id, addr },
        local,
        direction,
        version: established.eth_version,
        client: hello.client_id.clone(),
        caps: hello
            .capabilities
            .iter()
            .map(|c| format!("{}/{}", c.name, c.version))
            .collect(),
    });
    let verdict = admission
        .admit
        .send(request)
        .await
        .unwrap_or(Err(DisconnectReason::ClientQuitting));
    if let Err(reason) = verdict {
        established.disconnect(reason).await;
        return Err(DialError::Refused(reason));
    }
    // From here the manager holds a slot for this peer: whatever ends this future early
    // (a failed registration, or a caller dropping it) must give the slot back.
    let mut reservation = Reservation {
        id,
        failed: Some(admission.failed),
    };
    // The feed learns who the peer is before its first message can be read.
    if let Some(hook) = links.on_message.seen.as_ref().and_then(|s| s.hook.as_ref()) {
        let client = &established.remote_hello.client_id;
        hook.introduce(id, client, addr, direction == Direction::Outbound);
    }
    let links = SessionPeerLinks {
        remote: Some(addr),
        ..links
    };
    let handle = start_session_peer(established, pool, links).await?;
    reservation.failed = None;
    Ok(handle)
}

/// Releases an admitted peer's slot in the manager when dropped before the peer started.
struct Reservation {
    id: B512,
    failed: Option<Recipient<AdmitFailed>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(failed) = self.failed.take() {
            failed.do_send(AdmitFailed(self.id));
        }
    }
}
