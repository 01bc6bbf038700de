//! JSON-RPC over WebSocket (`--ws`): every method of the HTTP endpoint, plus
//! `eth_subscribe` (`newPendingTransactions`, with `true` full transactions, and
//! `newHeads`) and `eth_unsubscribe`. A browser page may connect only from an allowed
//! origin (`--ws.origins`, geth's rule). Each connection answers one request at a time,
//! drains its own bounded buffer of notifications (see [`crate::feed::hub`]), writes big
//! messages as 64 KiB continuation frames, and is closed when a write misses
//! [`WS_WRITE_TIMEOUT`] or a Pong misses [`WS_PONG_TIMEOUT`]; a request above
//! [`MAX_WS_MESSAGE`] or a subscription past the limits gets a JSON-RPC error. On our own
//! server ([`server`]) a connection writes its frames itself, straight into the socket
//! from the thread that has them (`direct`); mounted in an embedder's app
//! ([`configure`]) it writes through actix-ws.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Item, ProtocolError};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::limits::{WS_FRAME_SIZE, WS_PING_INTERVAL, WS_PONG_TIMEOUT, WS_WRITE_TIMEOUT};
use super::stream::StreamConnection;
use super::{RpcAccess, RpcError, MAX_REQUEST_SIZE};
use crate::feed::hub::{notification_buffer, NotificationSink, SUBSCRIBER_BUFFER};
use crate::node::Node;

/// Largest request message (a frame, or frames joined): the HTTP endpoint's body limit
/// (geth's 5 MiB `maxRequestContentLength`), so neither transport takes more per request.
pub const MAX_WS_MESSAGE: usize = MAX_REQUEST_SIZE;

pub use super::stream::LIMIT_EXCEEDED;

#[path = "ws_direct.rs"]
mod direct;
pub(crate) use direct::RawSocket;

/// Serves JSON-RPC over WebSocket at `GET /` on `addr` (one worker) as `access` allows.
pub fn server(
    node: Node,
    addr: impl Into<crate::api::http::Listen>,
    access: RpcAccess,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let (gate, timeout) = (
        access.limits.connections.clone(),
        access.limits.ws_write_timeout,
    );
    // The server keeps each connection's socket: its frames are written directly.
    crate::api::http::rpc_server(addr.into(), gate, timeout, true, move |config| {
        configure(node.clone(), access.clone())(config)
    })
}

/// Mounts the WebSocket endpoint at `GET /` of an embedder's app (or its scope).
pub fn configure(node: Node, access: RpcAccess) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(node))
            .app_data(web::Data::new(access))
            .route("", web::get().to(upgrade))
            .route("/", web::get().to(upgrade));
    }
}

async fn upgrade(
    node: web::Data<Node>,
    access: web::Data<RpcAccess>,
    request: HttpRequest,
    body: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let host = request
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !access.allows_host(host) {
        return Ok(HttpResponse::Forbidden().body("invalid host specified"));
    }
    let origin = request
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("\u{fffd}"));
    if !access.allows_origin(origin) {
        log::warn!("refused a WebSocket connection from origin {origin:?}");
        return Ok(HttpResponse::Forbidden().body("websocket: request origin not allowed"));
    }
    if let Some(refusal) = crate::api::http::over_connection_limit(&request) {
        return Ok(refusal);
    }
    let (response, session, stream) = actix_ws::handle(&request, body)?;
    let stream = stream
        .max_frame_size(MAX_WS_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(MAX_WS_MESSAGE);
    let connection = Connection {
        rpc: StreamConnection::new(node.get_ref().clone(), access.get_ref().clone()),
    };
    // Our own server kept the socket (see `direct`); an embedder's app did not.
    match request.conn_data::<RawSocket>() {
        Some(RawSocket(socket)) => {
            actix_web::rt::spawn(connection.run_direct(session, stream, socket.clone()))
        }
        None => actix_web::rt::spawn(connection.run(session, stream)),
    };
    Ok(response)
}

struct Connection {
    rpc: StreamConnection,
}

impl Connection {
    /// Answers requests and forwards notifications until either side closes, a write
    /// misses [`WS_WRITE_TIMEOUT`] or a Pong misses [`WS_PONG_TIMEOUT`].
    async fn run(
        self,
        mut session: actix_ws::Session,
        mut stream: actix_ws::AggregatedMessageStream,
    ) {
        let (sink, mut notes) = notification_buffer(SUBSCRIBER_BUFFER);
        let mut ping = tokio::time::interval(self.ping_interval());
        ping.reset();
        // When our unanswered Ping went out, if one is out.
        let mut ping_sent: Option<Instant> = None;
        loop {
            let sent = tokio::select! {
                message = stream.recv() => match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        self.answer(&mut session, text.as_bytes(), &sink).await
                    }
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        self.answer(&mut session, &bytes, &sink).await
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        within_deadline(self.deadline(), session.pong(&bytes)).await
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {
                        ping_sent = None;
                        Ok(())
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None => break,
                    Some(Err(error)) => {
                        self.refuse(session, error).await;
                        self.rpc.closed();
                        return;
                    }
                },
                Some(note) = notes.recv() => send_text(&mut session, note.to_json(), self.deadline()).await,
                _ = ping.tick() => match ping_sent {
                    Some(at) if at.elapsed() >= self.pong_timeout() => Err(SendFailed::Deadline),
                    Some(_) => Ok(()),
                    None => {
                        ping_sent = Some(Instant::now());
                        within_deadline(self.deadline(), session.ping(b"")).await
                    }
                },
            };
            match sent {
                Ok(()) => {}
                Err(SendFailed::Closed) => break,
                Err(SendFailed::Deadline) => {
                    self.node_gate_timeout();
                    log::debug!(
                        "ws connection {}: write or pong deadline missed",
                        self.rpc.id
                    );
                    break;
                }
            }
        }
        self.rpc.closed();
        let _ = tokio::time::timeout(self.deadline(), session.close(None)).await;
    }

    /// The write deadline ([`WS_WRITE_TIMEOUT`] unless configured).
    fn deadline(&self) -> std::time::Duration {
        self.rpc.access.limits.ws_write_timeout
    }

    /// Pings go out at [`WS_PING_INTERVAL`], scaled as the write deadline is (geth's 30 s
    /// against its 10 s deadline).
    fn ping_interval(&self) -> std::time::Duration {
        WS_PING_INTERVAL.mul_f64(self.scale())
    }

    /// The Pong deadline, scaled likewise ([`WS_PONG_TIMEOUT`]).
    fn pong_timeout(&self) -> std::time::Duration {
        WS_PONG_TIMEOUT.mul_f64(self.scale())
    }

    fn scale(&self) -> f64 {
        self.deadline().as_secs_f64() / WS_WRITE_TIMEOUT.as_secs_f64()
    }

    /// Counts a connection closed for a missed deadline.
    fn node_gate_timeout(&self) {
        self.rpc
            .access
            .limits
            .connections
            .ws_timeouts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A message that broke a limit (or the protocol): a JSON-RPC error, then close (the
    /// rest of an oversized frame cannot be skipped).
    async fn refuse(&self, mut session: actix_ws::Session, error: ProtocolError) {
        let (code, message) = match &error {
            ProtocolError::Overflow => (
                CloseCode::Size,
                format!("request exceeds {MAX_WS_MESSAGE} bytes"),
            ),
            ProtocolError::Io(e) if e.to_string().contains("continuation size") => (
                CloseCode::Size,
                format!("request exceeds {MAX_WS_MESSAGE} bytes"),
            ),
            other => (
                CloseCode::Protocol,
                format!("websocket protocol error: {other}"),
            ),
        };
        log::debug!("ws connection {}: {message}", self.rpc.id);
        let answer = error_json(Value::Null, &RpcError::new(LIMIT_EXCEEDED, message.clone()));
        let _ = session.text(answer.to_string()).await;
        let _ = session
            .close(Some(CloseReason {
                code,
                description: Some(message),
            }))
            .await;
    }

    /// Answers one request message (a call or a batch).
    async fn answer(
        &self,
        session: &mut actix_ws::Session,
        body: &[u8],
        sink: &NotificationSink,
    ) -> Result<(), SendFailed> {
        match self.rpc.answer(body, sink).await {
            Some(answer) => send_text(session, answer, self.deadline()).await,
            None => Ok(()),
        }
    }
}

fn error_json(id: Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

/// Why a write to a WebSocket client failed.
#[derive(Debug)]
enum SendFailed {
    /// The connection is closed.
    Closed,
    /// The client did not take it within [`WS_WRITE_TIMEOUT`] (or missed a Pong).
    Deadline,
}

/// One write under `deadline` ([`WS_WRITE_TIMEOUT`] by default).
async fn within_deadline(
    deadline: std::time::Duration,
    write: impl std::future::Future<Output = Result<(), actix_ws::Closed>>,
) -> Result<(), SendFailed> {
    match tokio::time::timeout(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(SendFailed::Closed),
        Err(_) => Err(SendFailed::Deadline),
    }
}

/// Writes `text` as one message: a single frame up to [`WS_FRAME_SIZE`], continuation
/// frames beyond (so a client that stops reading holds at most actix-ws' 32 queued frames
/// of it), all within [`WS_WRITE_TIMEOUT`].
async fn send_text(
    session: &mut actix_ws::Session,
    text: String,
    deadline: std::time::Duration,
) -> Result<(), SendFailed> {
    if text.len() <= WS_FRAME_SIZE {
        return within_deadline(deadline, session.text(text)).await;
    }
    let bytes = bytes::Bytes::from(text);
    let write = async {
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + WS_FRAME_SIZE).min(bytes.len());
            let chunk = bytes.slice(start..end);
            let item = match (start, end == bytes.len()) {
                (0, _) => Item::FirstText(chunk),
                (_, true) => Item::Last(chunk),
                (_, false) => Item::Continue(chunk),
            };
            session.continuation(item).await?;
            start = end;
        }
        Ok(())
    };
    within_deadline(deadline, write).await
}
