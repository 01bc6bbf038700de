//! Joins an established RLPx session to the set: the write half becomes a new peer actor's
//! outbound sink, the read half its inbound stream, and the peer is registered here (the
//! peer actor itself knows nothing of the set: `peer` sits below `peer_set`).

use std::sync::Arc;

use actix::prelude::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Register, RegisterError};
use crate::p2p::{self, P2pMessage};
use crate::peer::{
    ConnectionError, Disconnect, InboundRoutes, Outbound, OutboundSink, PeerActor, PeerHandle,
    PeerStopped, WireMetrics,
};
use crate::rlpx::RlpxMessage;
use crate::session::Established;
use crate::txs::pool::TxPool;

/// Where a new session peer reports.
#[derive(Clone)]
pub struct SessionPeerLinks {
    /// The peer set (registration).
    pub register: Recipient<Register>,
    /// The peer set (unregistration when the actor stops).
    pub stopped: Recipient<PeerStopped>,
    /// Who gets the peer's inbound eth messages.
    pub on_message: InboundRoutes,
    /// Ping interval and Pong deadline; `None` for geth's 15 s / 20 s.
    pub keepalive: Option<(std::time::Duration, std::time::Duration)>,
    /// Deadline of our requests to the peer; `None` for [`crate::peer::REQUEST_TIMEOUT`].
    pub request_timeout: Option<std::time::Duration>,
    /// Node-wide message counters by type, if kept.
    pub wire: Option<Arc<WireMetrics>>,
    /// The remote's TCP address (set per session; `None` for in-memory streams).
    pub remote: Option<std::net::SocketAddr>,
}

/// Creates the peer actor for an established session and registers it. A refused
/// registration (already registered, set closed) disconnects the peer with the matching
/// reason and is returned.
pub async fn start_session_peer<S>(
    session: Established<S>,
    pool: Arc<dyn TxPool>,
    links: SessionPeerLinks,
) -> Result<PeerHandle, RegisterError>
where
    S: AsyncRead + AsyncWrite + 'static,
{
    let Established {
        remote_id,
        eth_version,
        eth_offset,
        head,
        reader,
        writer,
        ..
    } = session;
    let (wire_out, wire_in) = (links.wire.clone(), links.wire.clone());
    let sink: OutboundSink = Box::pin(writer.sink_map_err(ConnectionError::from).with(
        move |item: Outbound| {
            let frame = frame(item, eth_offset);
            if let Some(wire) = &wire_out {
                wire.count(false, eth_code(frame.id, eth_offset), frame.payload.len());
            }
            futures::future::ready(Ok::<_, ConnectionError>(frame))
        },
    ));
    let inbound = Box::pin(reader.map(move |item| {
        if let (Some(wire), Ok(message)) = (&wire_in, &item) {
            wire.count(
                true,
                eth_code(message.id, eth_offset),
                message.payload.len(),
            );
        }
        item
    }));
    let mut actor = PeerActor::new(remote_id, eth_version, pool, sink)
        .inbound(inbound, eth_offset, links.on_message)
        .on_stop(links.stopped);
    if let Some((interval, timeout)) = links.keepalive {
        actor = actor.keepalive(interval, timeout);
    }
    if let Some(timeout) = links.request_timeout {
        actor = actor.request_timeout(timeout);
    }
    let mut handle = actor.spawn();
    handle.remote = links.remote;
    match links
        .register
        .send(Register {
            peer: handle.clone(),
            head,
        })
        .await
    {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(error)) => {
            handle.disconnect.do_send(Disconnect {
                reason: error.disconnect_reason(),
            });
            Err(error)
        }
        Err(_) => {
            let error = RegisterError::Closed;
            handle.disconnect.do_send(Disconnect {
                reason: error.disconnect_reason(),
            });
            Err(error)
        }
    }
}

/// The frame for one outbound item: eth ids shifted by the capability offset, p2p ids as is.
fn frame(item: Outbound, eth_offset: u64) -> RlpxMessage {
    let (id, payload) = match item {
        Outbound::Eth(message) => (eth_offset + message.message_id() as u64, message.encoded()),
        Outbound::Disconnect(reason) => (
            p2p::ids::DISCONNECT,
            P2pMessage::Disconnect(Some(reason)).encoded(),
        ),
        Outbound::Ping => (p2p::ids::PING, P2pMessage::Ping.encoded()),
        Outbound::Pong => (p2p::ids::PONG, P2pMessage::Pong.encoded()),
    };
    RlpxMessage {
        id,
        payload: payload.into(),
    }
}

/// The eth code of a frame id, `None` for p2p messages.
fn eth_code(id: u64, eth_offset: u64) -> Option<u64> {
    id.checked_sub(eth_offset)
}
