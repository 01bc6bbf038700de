//! The per-peer actor and what talks to it: queue commands, the handle other actors hold,
//! the outbound connection abstraction and per-peer metrics.

mod actor;
mod client;
mod connection;
mod gate;
mod inbound;
mod messages;
mod metrics;
pub mod prefetch;
mod queues;
mod requests;

use std::sync::Arc;

use actix::{Actor, Addr, Handler, Recipient};

pub(crate) use actor::short;
pub use actor::{
    InboundStream, PeerActor, DISCONNECT_GRACE, MAX_QUEUED_CONTROL, MAX_QUEUED_REPLY_BYTES,
    MAX_QUEUED_RESPONSES, MAX_UNANSWERED_REQUESTS, PEER_MAILBOX_CAPACITY, PING_INTERVAL,
    PONG_TIMEOUT, SERVE_DEADLINE, WRITE_TIMEOUT,
};
pub use client::{ClientError, PeerClient, PeerRequest, ReceiptsReply};
pub use connection::{memory_connection, ConnectionError, Outbound, OutboundSink};
pub use gate::{GateReason, Gated, InboundTicket, ReadGate, MAX_INBOUND_IN_FLIGHT};
pub use inbound::MAX_TRANSACTIONS_PER_MESSAGE;
pub use messages::{
    Delivery, Disconnect, InboundEth, InboundRoutes, PeerStopped, QueueAnn, QueueProp, QueueTxAnns,
    QueueTxs, Seen, SeenHook, SeenItem, SeenNote, SeenRoute, SendEth, StopReason,
};
pub use metrics::{PeerMetrics, WireMetrics, P2P_SLOT, WIRE_SLOTS};
pub use prefetch::PrefetchClaims;
pub use queues::{
    PeerQueues, QueuedProp, MAX_QUEUED_BLOCK_ANNS, MAX_QUEUED_PROPS, MAX_QUEUED_TXS,
    MAX_QUEUED_TX_ANNS, MAX_TX_PACKET_SIZE,
};
pub use requests::{
    RequestError, ResponseViolation, SendRequest, MAX_PENDING_REQUESTS, REMEMBERED_EXPIRED,
    REQUEST_TIMEOUT,
};

use crate::eth::EthVersion;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;

pub use crate::p2p::PeerId;

/// What other actors hold to talk to one peer: its id and version, a recipient per
/// command, and its metrics. Cheap to clone; holds no concrete actor type, so any actor
/// (or a test double) that handles the commands can stand behind it.
#[derive(Clone)]
pub struct PeerHandle {
    /// The peer's node id.
    pub id: PeerId,
    /// The negotiated eth version.
    pub version: EthVersion,
    /// Full-transaction queue.
    pub txs: Recipient<QueueTxs>,
    /// Transaction announcement queue.
    pub tx_anns: Recipient<QueueTxAnns>,
    /// Block propagation queue.
    pub props: Recipient<QueueProp>,
    /// Block announcement queue.
    pub block_anns: Recipient<QueueAnn>,
    /// Disconnect command.
    pub disconnect: Recipient<Disconnect>,
    /// Requests to this peer, answered with its response.
    pub requests: Recipient<SendRequest>,
    /// Messages written ahead of broadcasts (responses, BlockRangeUpdate).
    pub send: Recipient<SendEth>,
    /// Shared counters.
    pub metrics: Arc<PeerMetrics>,
    /// The remote's TCP address, when the peer came over TCP (in-memory test peers have
    /// none): what the follower's quorum counts network prefixes by.
    pub remote: Option<std::net::SocketAddr>,
}

impl PeerHandle {
    /// A handle for an actor that handles every peer command.
    pub fn new<A>(
        id: PeerId,
        version: EthVersion,
        addr: &Addr<A>,
        metrics: Arc<PeerMetrics>,
    ) -> Self
    where
        A: Actor<Context = actix::Context<A>>
            + Handler<QueueTxs>
            + Handler<QueueTxAnns>
            + Handler<QueueProp>
            + Handler<QueueAnn>
            + Handler<Disconnect>
            + Handler<SendRequest>
            + Handler<SendEth>,
    {
        Self {
            id,
            version,
            txs: addr.clone().recipient(),
            tx_anns: addr.clone().recipient(),
            props: addr.clone().recipient(),
            block_anns: addr.clone().recipient(),
            disconnect: addr.clone().recipient(),
            requests: addr.clone().recipient(),
            send: addr.clone().recipient(),
            metrics,
            remote: None,
        }
    }
}

impl PeerHandle {
    /// A typed request client for this peer.
    pub fn client(&self) -> PeerClient {
        PeerClient::new(self.requests.clone())
    }
}

/// Test support: a handle for a stand-in remote that answers requests, takes answers and
/// disconnects (`addr`), with the four broadcast queues going to an actor that drops them.
#[cfg(any(test, feature = "fuzzing"))]
pub fn remote_handle<A>(id: PeerId, version: EthVersion, addr: &Addr<A>) -> PeerHandle
where
    A: Actor<Context = actix::Context<A>>
        + Handler<Disconnect>
        + Handler<SendRequest>
        + Handler<SendEth>,
{
    /// Takes every broadcast queue command and drops it.
    struct DropQueues;
    impl Actor for DropQueues {
        type Context = actix::Context<Self>;
    }
    macro_rules! drops {
        ($($command:ty),*) => {$(
            impl Handler<$command> for DropQueues {
                type Result = ();
                fn handle(&mut self, _: $command, _: &mut actix::Context<Self>) {}
            }
        )*};
    }
    drops!(QueueTxs, QueueTxAnns, QueueProp, QueueAnn);
    let queues = DropQueues.start();
    PeerHandle {
        id,
        version,
        txs: queues.clone().recipient(),
        tx_anns: queues.clone().recipient(),
        props: queues.clone().recipient(),
        block_anns: queues.recipient(),
        disconnect: addr.clone().recipient(),
        requests: addr.clone().recipient(),
        send: addr.clone().recipient(),
        metrics: Arc::default(),
        remote: None,
    }
}

impl std::fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerHandle")
            .field("id", &short(&self.id))
            .field("version", &self.version)
            .finish()
    }
}
