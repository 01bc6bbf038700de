//! [`ReadGate`]: stops reading one peer's socket while that peer has made enough work for
//! us. Reading resumes when every holder opens it again. Not reading is the backpressure
//! a TCP peer feels: its sends stall, and its flood costs its own service only (reth stops
//! reading a session at 4 queued responses; geth sleeps a peer's fetcher 200 ms).
//!
//! The gate also counts the peer's messages still on their way through other actors'
//! mailboxes ([`InboundTicket`]): past [`MAX_INBOUND_IN_FLIGHT`] of them the socket is not
//! read either. That bounds what one peer can put into the shared, unbounded mailboxes of
//! the fetcher, the ingest path and the peer set, however slow those are.

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use futures::Stream;

/// Why a gate is closed; each holder opens only its own reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum GateReason {
    /// Requests the peer sent are not answered yet (see `MAX_UNANSWERED_REQUESTS`).
    Serving = 1,
    /// Transactions the peer sent wait for validation (the ingest queue's bound).
    IngestBacklog = 2,
    /// The peer's transactions keep failing; it is slowed for a while.
    Slowed = 4,
    /// The peer announced more hashes than the fetcher tracks per peer; it is paused.
    AnnounceFlood = 8,
}

/// A peer's inbound messages that may wait in other actors' mailboxes at once before its
/// socket stops being read. geth handles one message per peer at a time (its read loop
/// blocks on the fetcher's unbuffered channels until they are taken); 16 lets us decode the
/// next frames while the last ones are handled, and caps one peer's share of a shared
/// mailbox at 16 messages (at most 16 x 10 MiB of payload, the eth message cap).
pub const MAX_INBOUND_IN_FLIGHT: usize = 16;

#[derive(Default)]
struct Inner {
    closed: AtomicU8,
    /// Live [`InboundTicket`]s.
    in_flight: AtomicUsize,
    waker: AtomicWaker,
}

/// A shared switch over one peer's inbound stream (cheap to clone).
#[derive(Clone, Default)]
pub struct ReadGate(Arc<Inner>);

impl std::fmt::Debug for ReadGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReadGate({:#06b})",
            self.0.closed.load(Ordering::Acquire)
        )
    }
}

impl ReadGate {
    /// Stops reading for `reason` (until [`Self::open`] with the same reason).
    pub fn close(&self, reason: GateReason) {
        self.0.closed.fetch_or(reason as u8, Ordering::AcqRel);
    }

    /// Lifts `reason`; reading resumes once no reason is left.
    pub fn open(&self, reason: GateReason) {
        let before = self.0.closed.fetch_and(!(reason as u8), Ordering::AcqRel);
        if before & !(reason as u8) == 0 {
            self.0.waker.wake();
        }
    }

    /// Closes or opens for `reason`.
    pub fn set(&self, reason: GateReason, closed: bool) {
        if closed {
            self.close(reason);
        } else {
            self.open(reason);
        }
    }

    /// Whether reading is stopped, for any reason (a holder's, or too many messages in
    /// flight).
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire) != 0
            || self.0.in_flight.load(Ordering::Acquire) >= MAX_INBOUND_IN_FLIGHT
    }

    /// A ticket for one inbound message handed to another actor; reading stops while
    /// [`MAX_INBOUND_IN_FLIGHT`] of them are alive.
    pub fn ticket(&self) -> InboundTicket {
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        InboundTicket(self.clone())
    }

    /// This peer's messages still in other actors' mailboxes.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::Acquire)
    }

    /// Whether `reason` holds the gate.
    pub fn is_held_by(&self, reason: GateReason) -> bool {
        self.0.closed.load(Ordering::Acquire) & reason as u8 != 0
    }

    /// `stream`, read only while this gate is open.
    pub fn guard<S>(&self, stream: S) -> Gated<S> {
        Gated {
            gate: self.clone(),
            inner: stream,
        }
    }
}

/// One inbound message of a peer on its way through other actors (carried inside the
/// message; cloning counts as another message). Dropping it, once the last actor handled
/// the message, lets the peer's socket be read again if it was at the limit.
pub struct InboundTicket(ReadGate);

impl InboundTicket {
    /// Another ticket of the same peer (for a message derived from this one).
    pub fn share(&self) -> Self {
        self.0.ticket()
    }
}

impl Clone for InboundTicket {
    fn clone(&self) -> Self {
        self.share()
    }
}

impl std::fmt::Debug for InboundTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InboundTicket({} in flight)", self.0.in_flight())
    }
}

impl Drop for InboundTicket {
    fn drop(&mut self) {
        let before = self.0 .0.in_flight.fetch_sub(1, Ordering::AcqRel);
        if before == MAX_INBOUND_IN_FLIGHT {
            // The reader may be parked on the limit (it re-checks after registering).
            self.0 .0.waker.wake();
        }
    }
}

/// A stream that yields nothing while its [`ReadGate`] is closed.
pub struct Gated<S> {
    gate: ReadGate,
    inner: S,
}

impl<S: Stream + Unpin> Stream for Gated<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.gate.is_closed() {
            self.gate.0.waker.register(cx.waker());
            // Opened between the check and the registration: read now.
            if self.gate.is_closed() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_holds_items_until_every_reason_is_lifted() {
        let gate = ReadGate::default();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut gated = gate.guard(rx);
        tx.unbounded_send(1).expect("open channel");
        gate.close(GateReason::Serving);
        gate.close(GateReason::Slowed);
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(1), gated.next());
        assert!(waiting.await.is_err(), "read through a closed gate");
        gate.open(GateReason::Serving);
        assert!(gate.is_closed() && gate.is_held_by(GateReason::Slowed));
        let mut reader = tokio::spawn(async move { gated.next().await });
        // Paused time only advances once every task is idle: the reader had its chance.
        let held = tokio::time::timeout(std::time::Duration::from_secs(1), &mut reader);
        assert!(held.await.is_err(), "one reason still holds it");
        gate.open(GateReason::Slowed);
        assert_eq!(reader.await.expect("joins"), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn too_many_messages_in_flight_hold_reading_until_one_is_handled() {
        let gate = ReadGate::default();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut gated = gate.guard(rx);
        tx.unbounded_send(1).expect("open channel");
        let first = gate.ticket();
        let mut tickets: Vec<InboundTicket> = (1..MAX_INBOUND_IN_FLIGHT - 1)
            .map(|_| gate.ticket())
            .collect();
        // A clone is a message derived from the first: it counts too.
        tickets.push(first.clone());
        assert_eq!(gate.in_flight(), MAX_INBOUND_IN_FLIGHT);
        assert!(gate.is_closed());
        let mut reader = tokio::spawn(async move { gated.next().await });
        let held = tokio::time::timeout(std::time::Duration::from_secs(1), &mut reader);
        assert!(held.await.is_err(), "read with every ticket out");
        drop(first);
        assert_eq!(reader.await.expect("joins"), Some(1));
        drop(tickets);
        assert_eq!(gate.in_flight(), 0);
    }
}
