//! [`PeerActor`]: one per connected peer. Its mailbox receives queue commands; it keeps
//! one bounded queue per kind and writes at most one message at a time to its connection,
//! blocks before transactions (go-ethereum's per-peer broadcast loop, as an actor).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

// Tokio's clock only (pings and serving deadlines alike), so that tests can pause it.
use tokio::time::Instant;

use actix::prelude::*;
use futures::SinkExt;

use super::{
    ConnectionError, Disconnect, InboundRoutes, Outbound, OutboundSink, PeerHandle, PeerId,
    PeerMetrics, PeerQueues, PeerStopped, QueueAnn, QueueProp, QueueTxAnns, QueueTxs, QueuedProp,
    SendEth, StopReason,
};
use crate::eth::{BlockHashNumber, EthMessage, EthVersion};
use crate::p2p::DisconnectReason;
use crate::rlpx::{RlpxError, RlpxMessage};
use crate::txs::pool::TxPool;

/// Mailbox capacity of a peer actor, in messages. Senders use `try_send`, so a peer whose
/// actor falls this far behind loses the excess (counted in `dropped_mailbox`) instead of
/// holding up the sender. Queue commands carry whole batches, so 1024 messages is far more
/// than a healthy peer ever has waiting.
pub const PEER_MAILBOX_CAPACITY: usize = 1024;

/// How long one write may take before the peer is dropped (geth `frameWriteTimeout`, 20 s).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a disconnecting peer may take to write its Disconnect before the actor stops
/// anyway (geth waits up to 2 s for the remote to close, `rlpx.md` suggests the same).
pub const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// How often we ping (geth `pingInterval`, 15 s).
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// How long a Pong may take before the peer is dropped with ping-timeout (20 s).
pub const PONG_TIMEOUT: Duration = Duration::from_secs(20);

/// Responses waiting to be written at most. A peer that keeps this many requests
/// unanswered in its own receive path loses further answers (and times them out) rather
/// than growing our memory; reth pauses reading at 4 queued responses.
pub const MAX_QUEUED_RESPONSES: usize = 16;

/// Requests of a peer being served or waiting to be written at most; while it has this
/// many, its socket is not read (reth stops reading a session at 4 queued responses).
pub const MAX_UNANSWERED_REQUESTS: usize = 4;

/// Reply bytes one peer can have queued at most: [`MAX_UNANSWERED_REQUESTS`] replies, each
/// under the eth message cap (10 MiB, geth `maxMessageSize`; headers and bodies stop near
/// the 2 MiB soft limit, eth/70 receipts page at 10 MiB). The bound follows from the two
/// limits above, so it needs no counter of its own: 40 MiB for the rare peer asking for
/// four pages of receipts, 8 MiB for headers and bodies.
pub const MAX_QUEUED_REPLY_BYTES: usize = MAX_UNANSWERED_REQUESTS * crate::eth::MAX_MESSAGE_SIZE;

/// How long a request routed to the request handler counts as unanswered at most (the
/// handler answers at once; a lost answer frees its slot after this, as our own request
/// timeout).
pub const SERVE_DEADLINE: Duration = super::REQUEST_TIMEOUT;

/// Control messages (Ping/Pong) queued at most; a remote flooding Pings loses the excess
/// Pongs.
pub const MAX_QUEUED_CONTROL: usize = 8;

/// The inbound half of a connection: decoded frames or transport errors.
pub type InboundStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<RlpxMessage, RlpxError>>>>;

/// One connected peer: queues what the node wants sent and writes it.
pub struct PeerActor {
    /// The remote's node id.
    id: PeerId,
    /// The negotiated eth version (decides announcement shape and which messages exist).
    version: EthVersion,
    /// Where transaction bodies and announcement metadata are read at send time.
    pub(super) pool: Arc<dyn TxPool>,
    /// The four outbound queues.
    queues: PeerQueues,
    /// The connection's write half; `None` while a write is in flight (it travels with
    /// the write future), which is what limits us to one write at a time.
    sink: Option<OutboundSink>,
    /// Set once a disconnect was asked for; nothing but the Disconnect is written after.
    pub(super) disconnecting: Option<DisconnectReason>,
    /// Whether the Disconnect message still has to be written.
    disconnect_pending: bool,
    /// Why the actor stops, reported in [`PeerStopped`].
    stop_reason: StopReason,
    /// Told when this actor stops (the peer set, to unregister it).
    on_stop: Option<Recipient<PeerStopped>>,
    /// Shared counters.
    pub(super) metrics: Arc<PeerMetrics>,
    /// How long one write may take before the peer is dropped.
    write_timeout: Duration,
    /// Ping/Pong waiting to be written; they go before everything else.
    pub(super) control: VecDeque<Outbound>,
    /// Responses and our requests waiting to be written; after control, before broadcasts.
    responses: VecDeque<EthMessage>,
    /// Requests we sent that await a response.
    pub(super) requests: super::requests::RequestTracker,
    /// How long a request may wait for its response.
    request_timeout: Duration,
    /// The inbound half and the eth offset, until `started` attaches it.
    inbound: Option<(InboundStream, u64)>,
    /// First message id of eth on this connection.
    pub(super) eth_offset: u64,
    /// Who hears about decoded inbound eth messages.
    pub(super) on_message: InboundRoutes,
    /// When our outstanding Ping was sent, if one is.
    pub(super) ping_sent: Option<Instant>,
    /// Ping interval and Pong deadline.
    keepalive: (Duration, Duration),
    /// Whether an inbound stream is attached (then a Disconnect waits for the remote to
    /// close, up to [`DISCONNECT_GRACE`], so it is not lost to a TCP reset).
    pub(super) has_inbound: bool,
    /// Stops reading the socket while this peer's work is backed up (see [`ReadGate`]).
    pub(super) gate: super::ReadGate,
    /// When each request routed to the request handler arrived, oldest first, until its
    /// answer is queued.
    pub(super) serving: VecDeque<Instant>,
    /// This actor's own handle, made once, which inbound messages carry as their sender.
    link: Option<super::PeerHandle>,
    /// Whether a prefetch of announced txs (see [`super::prefetch`]) is in flight: one at
    /// a time, cleared by the task that forwards its answer.
    pub(super) prefetching: Arc<std::sync::atomic::AtomicBool>,
}

impl PeerActor {
    /// A peer actor writing to `sink`.
    pub fn new(id: PeerId, version: EthVersion, pool: Arc<dyn TxPool>, sink: OutboundSink) -> Self {
        Self {
            id,
            version,
            pool,
            queues: PeerQueues::default(),
            sink: Some(sink),
            disconnecting: None,
            disconnect_pending: false,
            stop_reason: StopReason::Dropped,
            on_stop: None,
            metrics: Arc::default(),
            write_timeout: WRITE_TIMEOUT,
            control: VecDeque::new(),
            responses: VecDeque::new(),
            requests: Default::default(),
            request_timeout: super::REQUEST_TIMEOUT,
            inbound: None,
            eth_offset: 0,
            on_message: InboundRoutes::default(),
            ping_sent: None,
            keepalive: (PING_INTERVAL, PONG_TIMEOUT),
            has_inbound: false,
            gate: super::ReadGate::default(),
            serving: VecDeque::new(),
            link: None,
            prefetching: Arc::default(),
        }
    }

    /// Overrides the keepalive: ping every `interval`, disconnect with ping-timeout when a
    /// Pong takes longer than `timeout` (defaults [`PING_INTERVAL`], [`PONG_TIMEOUT`]).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive = (interval, timeout);
        self
    }

    /// Reads `inbound` (frames from the remote; eth starts at `eth_offset`): the actor then
    /// answers Pings, pings every [`PING_INTERVAL`], stops on the remote's Disconnect,
    /// disconnects on protocol violations, and hands decoded eth messages to `on_message`.
    pub fn inbound(
        mut self,
        inbound: InboundStream,
        eth_offset: u64,
        on_message: InboundRoutes,
    ) -> Self {
        self.inbound = Some((inbound, eth_offset));
        self.eth_offset = eth_offset;
        self.on_message = on_message;
        self
    }

    /// Overrides [`WRITE_TIMEOUT`] (e.g. for a transport with its own deadline).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Reports the actor's stop to `recipient` (normally the peer set).
    pub fn on_stop(mut self, recipient: Recipient<PeerStopped>) -> Self {
        self.on_stop = Some(recipient);
        self
    }

    /// Starts the actor on the current arbiter and returns its handle.
    pub fn spawn(self) -> PeerHandle {
        let (id, version, metrics) = (self.id, self.version, self.metrics.clone());
        // The capacity must be set in `create`: messages sent before `started` runs would
        // meet actix's default of 16.
        let addr = Self::create(|ctx| {
            ctx.set_mailbox_capacity(PEER_MAILBOX_CAPACITY);
            self
        });
        PeerHandle::new(id, version, &addr, metrics)
    }
}

impl Actor for PeerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        log::debug!("peer {} started ({})", short(&self.id), self.version);
        if let Some((stream, _)) = self.inbound.take() {
            ctx.add_stream(self.gate.guard(stream));
            self.has_inbound = true;
            ctx.run_interval(self.keepalive.0, |act, ctx| act.ping(ctx));
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        log::debug!("peer {} stopped: {:?}", short(&self.id), self.stop_reason);
        if let Some(on_stop) = self.on_stop.take() {
            on_stop.do_send(PeerStopped {
                id: self.id,
                reason: self.stop_reason.clone(),
            });
        }
    }
}

impl Handler<QueueTxs> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: QueueTxs, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() {
            return;
        }
        let dropped = self.queues.push_txs(msg.0, &self.metrics);
        if dropped > 0 {
            log::debug!(
                "peer {}: tx queue full, dropped {dropped} oldest",
                short(&self.id)
            );
        }
        self.pump(ctx);
    }
}

impl Handler<QueueTxAnns> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: QueueTxAnns, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() {
            return;
        }
        let dropped = self.queues.push_tx_anns(msg.0, &self.metrics);
        if dropped > 0 {
            log::debug!(
                "peer {}: announcement queue full, dropped {dropped} oldest",
                short(&self.id)
            );
        }
        self.pump(ctx);
    }
}

impl Handler<QueueProp> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: QueueProp, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() || !self.version.has_total_difficulty() {
            // eth/69+ has no NewBlock; the propagator should not have asked.
            return;
        }
        let number = msg.block.header.number;
        if !self.queues.push_prop(
            QueuedProp {
                block: msg.block,
                td: msg.td,
            },
            &self.metrics,
        ) {
            log::debug!(
                "peer {}: block propagation queue full, dropped block {number}",
                short(&self.id)
            );
        }
        self.pump(ctx);
    }
}

impl Handler<QueueAnn> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: QueueAnn, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() || !self.version.has_total_difficulty() {
            return;
        }
        let ann = BlockHashNumber {
            hash: msg.hash,
            number: msg.number,
        };
        if !self.queues.push_block_ann(ann, &self.metrics) {
            log::debug!(
                "peer {}: block announcement queue full, dropped block {}",
                short(&self.id),
                msg.number
            );
        }
        self.pump(ctx);
    }
}

impl Handler<Disconnect> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() {
            return;
        }
        log::debug!("peer {}: disconnecting: {}", short(&self.id), msg.reason);
        self.disconnecting = Some(msg.reason);
        self.disconnect_pending = true;
        self.stop_reason = StopReason::Disconnected(msg.reason);
        self.queues.clear();
        self.queues.publish_depths(&self.metrics);
        // A connection that never drains cannot take the Disconnect: stop anyway.
        ctx.run_later(DISCONNECT_GRACE, |_, ctx| ctx.stop());
        self.pump(ctx);
    }
}

impl PeerActor {
    /// Counts a request handed to the request handler; see [`Self::check_serving`].
    pub(super) fn serving_started(&mut self, ctx: &mut Context<Self>) {
        self.serving.push_back(Instant::now());
        self.check_serving(ctx);
    }

    /// Stops reading while [`MAX_UNANSWERED_REQUESTS`] requests are being served or their
    /// answers wait to be written; resumes once fewer are. A request unanswered for
    /// [`SERVE_DEADLINE`] stops counting.
    pub(super) fn check_serving(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while self
            .serving
            .front()
            .is_some_and(|at| now.duration_since(*at) >= SERVE_DEADLINE)
        {
            self.serving.pop_front();
        }
        let backed_up = self.serving.len() + self.responses.len() >= MAX_UNANSWERED_REQUESTS;
        let was = self.gate.is_held_by(super::GateReason::Serving);
        self.gate.set(super::GateReason::Serving, backed_up);
        if backed_up && !was {
            // Nothing else may come to reopen it if an answer was lost.
            ctx.run_later(SERVE_DEADLINE, |act, ctx| act.check_serving(ctx));
        }
    }

    /// Starts the next write if none is in flight and something is queued.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.sink.is_none() {
            return; // a write is in flight; its completion pumps again
        }
        let Some(item) = self.next_item() else {
            return;
        };
        let Some(mut sink) = self.sink.take() else {
            return;
        };
        let last = matches!(item, Outbound::Disconnect(_));
        let timeout = self.write_timeout;
        let write = async move {
            let result = match actix_rt::time::timeout(timeout, sink.send(item)).await {
                Ok(result) => result,
                Err(_) => Err(ConnectionError::Timeout { after: timeout }),
            };
            if last {
                // Flush and close so the Disconnect is not lost when the actor drops.
                let _ = sink.close().await;
            }
            (sink, result)
        };
        ctx.spawn(write.into_actor(self).map(move |(sink, result), act, ctx| {
            act.sink = Some(sink);
            act.check_serving(ctx);
            match result {
                // With a reader attached, wait for the remote to close (or the grace
                // timer) so the Disconnect is read before our socket goes away.
                Ok(()) if last && act.has_inbound => {}
                Ok(()) if last => ctx.stop(),
                Ok(()) => {
                    PeerMetrics::add(&act.metrics.messages_sent, 1);
                    act.pump(ctx);
                }
                Err(err) => {
                    log::debug!("peer {}: {err}", short(&act.id));
                    if !last {
                        act.stop_reason = StopReason::WriteFailed(err.to_string());
                    }
                    ctx.stop();
                }
            }
        }));
    }
}

impl PeerActor {
    /// What to write next, by priority: the Disconnect, control, responses, then the
    /// queues.
    fn next_item(&mut self) -> Option<Outbound> {
        if self.disconnect_pending {
            self.disconnect_pending = false;
            return self.disconnecting.map(Outbound::Disconnect);
        }
        if self.disconnecting.is_some() {
            return None;
        }
        if let Some(control) = self.control.pop_front() {
            return Some(control);
        }
        if let Some(response) = self.responses.pop_front() {
            return Some(Outbound::Eth(response));
        }
        self.queues
            .next_message(self.pool.as_ref(), self.version, &self.metrics)
            .map(Outbound::Eth)
    }
}

impl Handler<SendEth> for PeerActor {
    type Result = ();

    fn handle(&mut self, msg: SendEth, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() {
            return;
        }
        if self.responses.len() >= MAX_QUEUED_RESPONSES {
            PeerMetrics::add(&self.metrics.dropped_responses, 1);
            log::debug!(
                "peer {}: response queue full, dropped {:?}",
                short(&self.id),
                msg.0.message_id()
            );
            return;
        }
        if msg.0.message_id().is_response() {
            self.serving.pop_front();
        }
        self.responses.push_back(msg.0);
        self.pump(ctx);
        self.check_serving(ctx);
    }
}

impl Handler<super::SendRequest> for PeerActor {
    type Result = ResponseFuture<Result<EthMessage, super::RequestError>>;

    fn handle(&mut self, msg: super::SendRequest, ctx: &mut Self::Context) -> Self::Result {
        match self.start_request(msg.0, ctx) {
            Ok(answer) => Box::pin(answer),
            Err(error) => Box::pin(async move { Err(error) }),
        }
    }
}

impl PeerActor {
    /// Queues `request` (its id assigned here) with a deadline; resolves to its response.
    pub(super) fn start_request(
        &mut self,
        mut request: EthMessage,
        ctx: &mut Context<Self>,
    ) -> Result<
        impl std::future::Future<Output = Result<EthMessage, super::RequestError>> + 'static,
        super::RequestError,
    > {
        use super::RequestError;
        let (tx, rx) = futures::channel::oneshot::channel();
        if self.disconnecting.is_some() {
            return Err(RequestError::PeerGone);
        }
        if self.responses.len() >= MAX_QUEUED_RESPONSES {
            return Err(RequestError::TooManyPending {
                limit: MAX_QUEUED_RESPONSES,
            });
        }
        let id = self.requests.start(&mut request, tx).map_err(|(e, _)| e)?;
        self.responses.push_back(request);
        let timeout = self.request_timeout;
        ctx.run_later(timeout, move |act, _| act.requests.expire(id, timeout));
        self.pump(ctx);
        Ok(async move { rx.await.unwrap_or(Err(RequestError::PeerGone)) })
    }
}

impl PeerActor {
    /// Overrides [`super::REQUEST_TIMEOUT`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Queues a control message (Ping/Pong) unless too many are waiting.
    pub(super) fn queue_control(&mut self, item: Outbound, ctx: &mut Context<Self>) {
        if self.control.len() < MAX_QUEUED_CONTROL {
            self.control.push_back(item);
            self.pump(ctx);
        }
    }

    /// Keepalive tick: ping, and drop the peer if the last Ping went unanswered.
    fn ping(&mut self, ctx: &mut Context<Self>) {
        if self.disconnecting.is_some() {
            return;
        }
        if let Some(sent) = self.ping_sent {
            if sent.elapsed() >= self.keepalive.1 {
                log::debug!("peer {}: no pong for {:?}", short(&self.id), sent.elapsed());
                ctx.notify(Disconnect {
                    reason: DisconnectReason::PingTimeout,
                });
            }
            return;
        }
        self.ping_sent = Some(Instant::now());
        self.queue_control(Outbound::Ping, ctx);
        let timeout = self.keepalive.1;
        ctx.run_later(timeout, move |act, ctx| {
            if act.ping_sent.is_some_and(|sent| sent.elapsed() >= timeout) {
                log::debug!("peer {}: ping timeout", short(&act.id));
                ctx.notify(Disconnect {
                    reason: DisconnectReason::PingTimeout,
                });
            }
        });
    }

    /// Records why the actor stops (the first reason wins).
    pub(super) fn set_stop_reason(&mut self, reason: StopReason) {
        if self.stop_reason == StopReason::Dropped {
            self.stop_reason = reason;
        }
    }

    /// The peer's id.
    pub(super) fn id(&self) -> PeerId {
        self.id
    }

    /// The negotiated version.
    pub(super) fn version(&self) -> EthVersion {
        self.version
    }

    /// The handle others reach this actor by (what an inbound message names as its
    /// sender), made on first use.
    pub(super) fn link(&mut self, ctx: &mut Context<Self>) -> super::PeerHandle {
        let (id, version, metrics) = (self.id, self.version, self.metrics.clone());
        self.link
            .get_or_insert_with(|| super::PeerHandle::new(id, version, &ctx.address(), metrics))
            .clone()
    }
}

/// The first 8 hex digits of a node id, for logs.
pub(crate) fn short(id: &PeerId) -> String {
    alloy_primitives::hex::encode(&id[..4])
}
