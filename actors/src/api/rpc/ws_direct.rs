//! WebSocket connections whose frames we write ourselves, straight into the socket, from
//! whichever thread has them: a `seen` arrival is written by the peer thread that decoded
//! it, a pool notification by the hub, an answer by the connection's own task. actix-web
//! still accepts the connection and runs the upgrade (Host and Origin checks, connection
//! places, the 101) and actix-ws still parses the client's frames, but nothing is written
//! through actix after the 101: its write path would have every notification wait for the
//! HTTP worker's thread to wake (0.3 ms at the median on a loaded 2-core machine,
//! `benches/first_seen.rs`).
//!
//! Each frame, or each message's frames, is written whole under one lock, so writers never
//! interleave. What the socket does not take at once waits in the connection's buffer,
//! which its task flushes as the socket drains: notifications beyond [`SUBSCRIBER_BYTES`]
//! there are refused (the subscriber loses them, as with a full queue), answers are always
//! taken, and a buffer that has not emptied within the write deadline closes the connection.

use std::sync::{Arc, Mutex, MutexGuard};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, ProtocolError};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::super::limits::WS_FRAME_SIZE;
use super::super::RpcError;
use super::{error_json, Connection, LIMIT_EXCEEDED, MAX_WS_MESSAGE};
use crate::feed::hub::{
    Notification, NotificationSink, NotificationWriter, Offer, SUBSCRIBER_BYTES,
};

/// The socket of a WebSocket server's connection, kept when it was accepted (a duplicate
/// descriptor of the same socket) so the connection can write without actix.
#[derive(Clone, Debug)]
pub(crate) struct RawSocket(pub Arc<std::net::TcpStream>);

/// Bytes the connection's task writes per syscall when flushing, under the writer's lock:
/// one [`WS_FRAME_SIZE`], so a peer thread that writes a notification meanwhile waits for
/// at most one 64 KiB copy into the socket, not for megabytes of a slow client's backlog.
const FLUSH_CHUNK: usize = WS_FRAME_SIZE;

/// Opcodes (RFC 6455 section 5.2).
const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The frames of one message from the server (unmasked, RFC 6455 section 5.1): one frame up
/// to [`WS_FRAME_SIZE`], continuation frames of that size beyond.
pub(crate) fn frames(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    let mut chunks = payload.chunks(WS_FRAME_SIZE).peekable();
    if chunks.peek().is_none() {
        header(&mut out, true, opcode, 0);
        return out;
    }
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let code = if first { opcode } else { CONTINUATION };
        header(&mut out, chunks.peek().is_none(), code, chunk.len());
        out.extend_from_slice(chunk);
        first = false;
    }
    out
}

/// A frame header: FIN and opcode, then the payload length in 7, 7+16 or 7+64 bits.
fn header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: usize) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// A Close frame with `code` and as much of `reason` as fits a control frame (125 bytes).
fn close_frame(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut payload = u16::from(code).to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    frames(CLOSE, &payload)
}

/// Bytes written but not yet taken by the socket.
#[derive(Debug, Default)]
struct Unsent {
    bytes: Vec<u8>,
    /// How many of `bytes` went out already.
    sent: usize,
    /// Since when the socket has taken nothing of what waits (the write deadline runs from
    /// here: a client that reads slowly but reads is not cut off).
    since: Option<Instant>,
    /// The socket failed or the connection ended: nothing more is written.
    closed: bool,
    /// Our Close frame is queued: nothing may follow it (RFC 6455 section 5.5.1).
    closing: bool,
    /// Notifications held while a request is answered, so none goes before its answer
    /// (a subscription's first notification before the answer that carries its id).
    held: Option<Vec<u8>>,
}

impl Unsent {
    fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }
}

/// Capacity a drained buffer keeps at most: a spike's megabytes are given back.
const KEPT_CAPACITY: usize = 4 * FLUSH_CHUNK;

/// One connection's writer (see the module doc). Its socket is another descriptor of the
/// connection's socket, registered with the connection's runtime; `try_write` works from
/// any thread.
#[derive(Debug)]
pub(crate) struct DirectWriter {
    socket: TcpStream,
    unsent: Mutex<Unsent>,
    /// Tells the connection's task that bytes wait (or the socket failed).
    wake: tokio::sync::Notify,
}

impl DirectWriter {
    pub(crate) fn new(socket: TcpStream) -> Self {
        Self {
            socket,
            unsent: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, Unsent> {
        self.unsent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `bytes` (whole frames) now, or queues what the socket does not take.
    /// Unless `always` (answers, control frames), more than [`SUBSCRIBER_BYTES`] waiting
    /// refuses them, and while a request is answered they are held until its answer.
    pub(crate) fn write(&self, bytes: &[u8], always: bool) -> Result<(), Offer> {
        let mut unsent = self.state();
        if unsent.closed || unsent.closing {
            return Err(Offer::Closed);
        }
        let queued = unsent.len() + unsent.held.as_ref().map_or(0, Vec::len);
        if !always && queued.saturating_add(bytes.len()) > SUBSCRIBER_BYTES {
            return Err(Offer::Full);
        }
        if let (false, Some(held)) = (always, unsent.held.as_mut()) {
            held.extend_from_slice(bytes);
            return Ok(());
        }
        self.push(&mut unsent, bytes)
    }

    /// Sends `bytes` after what waits: straight into the socket when nothing does (one
    /// [`FLUSH_CHUNK`] at most under the lock), the rest queued for the task's flush.
    fn push(&self, unsent: &mut Unsent, bytes: &[u8]) -> Result<(), Offer> {
        if unsent.len() > 0 {
            unsent.bytes.extend_from_slice(bytes);
            return Ok(());
        }
        let mut written = 0;
        let direct = bytes.len().min(FLUSH_CHUNK);
        while written < direct {
            match self.socket.try_write(&bytes[written..direct]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    unsent.closed = true;
                    self.wake.notify_one();
                    return Err(Offer::Closed);
                }
            }
        }
        if written < bytes.len() {
            unsent.bytes.clear();
            unsent.sent = 0;
            unsent.bytes.extend_from_slice(&bytes[written..]);
            unsent.since = Some(Instant::now());
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Holds notifications from now until [`Self::answer`].
    fn hold(&self) {
        let mut unsent = self.state();
        if unsent.held.is_none() {
            unsent.held = Some(Vec::new());
        }
    }

    /// Sends a request's answer (if it has one), then what was held while it was answered.
    fn answer(&self, answer: Option<&[u8]>) -> Result<(), Offer> {
        let mut unsent = self.state();
        let held = unsent.held.take().unwrap_or_default();
        if unsent.closed || unsent.closing {
            return Err(Offer::Closed);
        }
        let mut out = answer.map(|text| frames(TEXT, text)).unwrap_or_default();
        out.extend_from_slice(&held);
        if out.is_empty() {
            return Ok(());
        }
        self.push(&mut unsent, &out)
    }

    /// Queues our Close frame (and any answer before it); nothing is written after it.
    fn close_with(&self, last: &[u8]) {
        let mut unsent = self.state();
        if unsent.closed || unsent.closing {
            return;
        }
        unsent.held = None;
        let _ = self.push(&mut unsent, last);
        unsent.closing = true;
    }

    /// When the socket last took something while bytes wait, if any wait.
    fn waiting_since(&self) -> Option<Instant> {
        let unsent = self.state();
        (unsent.len() > 0).then_some(unsent.since).flatten()
    }

    fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Ends writing; later writes are refused.
    fn close(&self) {
        self.state().closed = true;
    }

    /// Writes what waits as the socket takes it, until nothing does (an error: the socket
    /// failed).
    async fn flush(&self) -> std::io::Result<()> {
        loop {
            self.socket.writable().await?;
            let mut unsent = self.state();
            if unsent.len() == 0 || unsent.closed {
                return Ok(());
            }
            let start = unsent.sent;
            let end = unsent.bytes.len().min(start.saturating_add(FLUSH_CHUNK));
            match self.socket.try_write(&unsent.bytes[start..end]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    unsent.sent += n;
                    unsent.since = Some(Instant::now());
                    if unsent.len() == 0 {
                        unsent.bytes.clear();
                        unsent.bytes.shrink_to(KEPT_CAPACITY);
                        unsent.sent = 0;
                        unsent.since = None;
                        return Ok(());
                    }
                    if unsent.sent >= unsent.bytes.len() / 2 {
                        // What went out is dropped once it is half the buffer: the buffer
                        // stays within twice what waits, at one copy per byte.
                        let sent = unsent.sent;
                        unsent.bytes.drain(..sent);
                        unsent.sent = 0;
                    }
                }
                // Would block: readiness was cleared; wait for the socket again.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    unsent.closed = true;
                    return Err(e);
                }
            }
        }
    }

    /// Ends the connection for the client too, whatever else holds this socket.
    fn shut_down(&self) {
        let _ = socket2::SockRef::from(&self.socket).shutdown(std::net::Shutdown::Both);
    }
}

impl NotificationWriter for DirectWriter {
    fn write_note(&self, note: &Notification) -> Result<(), Offer> {
        self.write(&frames(TEXT, note.to_json().as_bytes()), false)
    }

    fn write_notes(&self, notes: &[Notification]) -> (usize, Result<(), Offer>) {
        let mut out = Vec::new();
        for note in notes {
            out.extend_from_slice(&frames(TEXT, note.to_json().as_bytes()));
        }
        // One write: all of them or none.
        match self.write(&out, false) {
            Ok(()) => (notes.len(), Ok(())),
            Err(refused) => (0, Err(refused)),
        }
    }

    fn backlog(&self) -> usize {
        self.state().len()
    }
}

/// Why a direct connection ends.
enum End {
    /// The client closed, or the socket failed.
    Closed,
    /// Unsent bytes outlived the write deadline, or a Pong did not come in time.
    Deadline,
    /// The client broke a limit or the protocol: tell it why, then close.
    Refused(CloseCode, String),
}

impl Connection {
    /// Serves the connection writing its frames directly (see the module doc), until
    /// either side closes, the socket fails, or a deadline is missed.
    pub(super) async fn run_direct(
        self,
        session: actix_ws::Session,
        mut stream: AggregatedMessageStream,
        socket: Arc<std::net::TcpStream>,
    ) {
        let registered = socket.try_clone().and_then(TcpStream::from_std);
        let writer = match registered {
            Ok(socket) => Arc::new(DirectWriter::new(socket)),
            Err(error) => {
                log::debug!(
                    "ws connection {}: {error}; served through actix",
                    self.rpc.id
                );
                return self.run(session, stream).await;
            }
        };
        // Until the runtime has seen the new registration writable, `try_write` from other
        // threads would say WouldBlock and leave their first notifications to this task.
        let _ = tokio::time::timeout(self.deadline(), writer.flush()).await;
        let sink = NotificationSink::writer(writer.clone());
        // Also ends the connection if this task is dropped before `finish` (a server stop).
        let mut ending = Ending {
            rpc: &self.rpc,
            writer: &writer,
            done: false,
        };
        let mut ping = tokio::time::interval(self.ping_interval());
        ping.reset();
        let mut ping_sent: Option<Instant> = None;
        let end = loop {
            if writer.is_closed() {
                break End::Closed;
            }
            let waiting = writer.waiting_since();
            let overdue = waiting.map(|since| since + self.deadline());
            // A client that sends but does not read is not read either past this backlog:
            // answers and pongs cannot pile up, and its own TCP window stalls it.
            let reading = writer.backlog() < SUBSCRIBER_BYTES;
            let step = tokio::select! {
                message = stream.recv(), if reading => {
                    self.take(message, &writer, &sink, &mut ping_sent).await
                }
                flushed = writer.flush(), if waiting.is_some() => {
                    flushed.map_err(|_| End::Closed)
                }
                () = sleep_until(overdue), if overdue.is_some() => Err(End::Deadline),
                () = writer.wake.notified() => Ok(()),
                _ = ping.tick() => match ping_sent {
                    Some(at) if at.elapsed() >= self.pong_timeout() => Err(End::Deadline),
                    Some(_) => Ok(()),
                    None => {
                        ping_sent = Some(Instant::now());
                        writer.write(&frames(PING, b""), true).map_err(|_| End::Closed)
                    }
                },
            };
            if let Err(end) = step {
                break end;
            }
        };
        self.finish(end, &writer).await;
        ending.done = true;
        drop(session);
    }

    /// Handles one client message: a request answered, a Ping ponged, a Pong noted.
    async fn take(
        &self,
        message: Option<Result<AggregatedMessage, ProtocolError>>,
        writer: &DirectWriter,
        sink: &NotificationSink,
        ping_sent: &mut Option<Instant>,
    ) -> Result<(), End> {
        let body = match message {
            Some(Ok(AggregatedMessage::Text(text))) => text.into_bytes(),
            Some(Ok(AggregatedMessage::Binary(bytes))) => bytes,
            Some(Ok(AggregatedMessage::Ping(bytes))) => {
                return writer
                    .write(&frames(PONG, &bytes), true)
                    .map_err(|_| End::Closed);
            }
            Some(Ok(AggregatedMessage::Pong(_))) => {
                *ping_sent = None;
                return Ok(());
            }
            Some(Ok(AggregatedMessage::Close(_))) | None => return Err(End::Closed),
            Some(Err(error)) => return Err(refusal(&error)),
        };
        // Notifications wait while the request is answered: a subscription's first ones
        // must not reach the client before the answer that tells it the id.
        writer.hold();
        let answer = self.rpc.answer(&body, sink).await;
        writer
            .answer(answer.as_deref().map(str::as_bytes))
            .map_err(|_| End::Closed)
    }

    /// Closes as `end` says: a refusal's JSON-RPC error and Close, a deadline counted.
    async fn finish(&self, end: End, writer: &DirectWriter) {
        let last = match end {
            End::Closed => close_frame(CloseCode::Normal, ""),
            End::Deadline => {
                self.node_gate_timeout();
                log::debug!(
                    "ws connection {}: write or pong deadline missed",
                    self.rpc.id
                );
                writer.close();
                writer.shut_down();
                self.rpc.closed();
                return;
            }
            End::Refused(code, message) => {
                log::debug!("ws connection {}: {message}", self.rpc.id);
                let answer =
                    error_json(Value::Null, &RpcError::new(LIMIT_EXCEEDED, message.clone()));
                let mut last = frames(TEXT, answer.to_string().as_bytes());
                last.extend_from_slice(&close_frame(code, &message));
                last
            }
        };
        self.rpc.closed();
        writer.close_with(&last);
        let _ = tokio::time::timeout(self.deadline(), writer.flush()).await;
        writer.close();
        writer.shut_down();
    }
}

/// Ends a direct connection whose task stops before its `finish` (dropped with a stopping
/// server): the hub forgets its subscriptions, and the socket is shut down though peers
/// and the hub may still hold its writer.
struct Ending<'a> {
    rpc: &'a super::StreamConnection,
    writer: &'a DirectWriter,
    done: bool,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.writer.close();
            self.writer.shut_down();
            self.rpc.closed();
        }
    }
}

/// Sleeps until `at` (forever without one; the branch is disabled then).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The Close code and message for a client frame that broke a limit or the protocol.
fn refusal(error: &ProtocolError) -> End {
    let too_big = format!("request exceeds {MAX_WS_MESSAGE} bytes");
    match error {
        ProtocolError::Overflow => End::Refused(CloseCode::Size, too_big),
        ProtocolError::Io(e) if e.to_string().contains("continuation size") => {
            End::Refused(CloseCode::Size, too_big)
        }
        other => End::Refused(
            CloseCode::Protocol,
            format!("websocket protocol error: {other}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_match_rfc_6455s_examples() {
        // RFC 6455 section 5.7: an unmasked text "Hello", an unmasked Ping "Hello", and
        // 256 bytes and 64 KiB in single unmasked frames (their lengths in 16 and 64 bits).
        assert_eq!(frames(TEXT, b"Hello"), b"\x81\x05Hello");
        assert_eq!(frames(PING, b"Hello"), b"\x89\x05Hello");
        let long = frames(0x2, &[7u8; 256]);
        assert_eq!(long[..4], [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(long.len(), 4 + 256);
        let huge = frames(0x2, &vec![7u8; 65_536]);
        assert_eq!(huge[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        // One byte more: a first frame without FIN, then a final continuation frame.
        let split = frames(TEXT, &vec![b'a'; WS_FRAME_SIZE + 1]);
        assert_eq!(split[..2], [0x01, 0x7F]);
        assert_eq!(split[10 + WS_FRAME_SIZE..], [0x80, 0x01, b'a']);
        assert_eq!(frames(PONG, b""), [0x8A, 0x00]);
        // A Close carries its code; a reason is cut to fit a control frame, on a char.
        assert_eq!(close_frame(CloseCode::Size, ""), [0x88, 0x02, 0x03, 0xF1]);
        let cut = close_frame(CloseCode::Protocol, &"é".repeat(100));
        assert!(cut.len() <= 2 + 125 && std::str::from_utf8(&cut[4..]).is_ok());
    }

    /// Reads text frames (as the writer makes them: unmasked, unfragmented) until `count`.
    fn read_frames(client: &mut std::net::TcpStream, count: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < count {
            let mut head = [0u8; 2];
            client.read_exact(&mut head).expect("header");
            assert_eq!(head[0], 0x81, "a whole text frame starts here");
            let len = match head[1] {
                126 => {
                    let mut len = [0u8; 2];
                    client.read_exact(&mut len).expect("length");
                    usize::from(u16::from_be_bytes(len))
                }
                127 => panic!("no frame here is that long"),
                len => usize::from(len),
            };
            let mut payload = vec![0u8; len];
            client.read_exact(&mut payload).expect("payload");
            out.push(payload);
        }
        out
    }

    #[actix_rt::test]
    async fn frames_from_two_threads_reach_a_slow_client_whole_and_a_full_buffer_refuses() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        let writer = Arc::new(DirectWriter::new(
            TcpStream::from_std(server).expect("tokio"),
        ));
        // Two threads write 1 KiB frames, each numbered, while nobody reads: the socket
        // fills, the rest waits in the buffer, and past SUBSCRIBER_BYTES it is refused.
        let threads: Vec<_> = [b'a', b'b']
            .into_iter()
            .map(|tag| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    let mut taken = Vec::new();
                    for n in 0u32.. {
                        let mut payload = vec![tag; 1024];
                        payload[..4].copy_from_slice(&n.to_be_bytes());
                        match writer.write(&frames(TEXT, &payload), false) {
                            Ok(()) => taken.push(payload),
                            Err(Offer::Full) => break,
                            Err(Offer::Closed) => panic!("open"),
                        }
                    }
                    taken
                })
            })
            .collect();
        let taken: Vec<Vec<Vec<u8>>> = threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .collect();
        assert!(writer.waiting_since().is_some(), "the rest waits");
        // An answer is taken even now.
        let answer = vec![b'z'; 300];
        writer
            .write(&frames(TEXT, &answer), true)
            .expect("answers always fit");
        let count = taken[0].len() + taken[1].len() + 1;
        assert!(
            count * 1028 > SUBSCRIBER_BYTES,
            "refused only past the byte bound"
        );
        let reader = std::thread::spawn(move || read_frames(&mut client, count));
        tokio::time::timeout(std::time::Duration::from_secs(30), writer.flush())
            .await
            .expect("flushed in time")
            .expect("socket fine");
        let heard = reader.join().expect("frames whole");
        // Each thread's frames arrive whole and in its own order; the answer last.
        for (tag, sent) in [b'a', b'b'].into_iter().zip(&taken) {
            let got: Vec<&Vec<u8>> = heard.iter().filter(|p| p[4] == tag).collect();
            assert_eq!(got.len(), sent.len());
            assert!(got.iter().zip(sent).all(|(g, s)| *g == s));
        }
        assert_eq!(heard.last(), Some(&answer));
        assert!(writer.waiting_since().is_none());
    }

    /// A writer on one end of a loopback connection, and the other end. Its socket's
    /// readiness is known once the runtime has polled it (as a connection's task has by
    /// its first write); `try_write` says WouldBlock before that.
    async fn pair() -> (DirectWriter, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        let writer = DirectWriter::new(TcpStream::from_std(server).expect("tokio"));
        writer.flush().await.expect("writable");
        (writer, client)
    }

    #[actix_rt::test]
    async fn notifications_written_while_a_request_is_answered_follow_its_answer() {
        let (writer, mut client) = pair().await;
        writer.hold();
        // A subscription's first notification, written by another thread before the
        // subscribe call's answer (which carries the id) is out.
        writer
            .write(&frames(TEXT, b"first notification"), false)
            .expect("held");
        writer.answer(Some(b"the answer")).expect("written");
        let heard = read_frames(&mut client, 2);
        assert_eq!(
            heard,
            vec![b"the answer".to_vec(), b"first notification".to_vec()]
        );
        // Not held any more.
        writer
            .write(&frames(TEXT, b"next"), false)
            .expect("written");
        assert_eq!(read_frames(&mut client, 1), vec![b"next".to_vec()]);
    }

    #[actix_rt::test]
    async fn nothing_is_written_after_our_close_frame() {
        let (writer, mut client) = pair().await;
        writer.close_with(&close_frame(CloseCode::Normal, ""));
        assert_eq!(
            writer.write(&frames(TEXT, b"late"), false),
            Err(Offer::Closed)
        );
        assert_eq!(writer.answer(Some(b"late answer")), Err(Offer::Closed));
        writer.close();
        writer.shut_down();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).expect("read to the end");
        assert_eq!(rest, [0x88, 0x02, 0x03, 0xE8]);
    }
}
