//! [`ReadGate`]: stops reading one peer's socket while that peer has made enough work for
//! us. Reading resumes when every holder opens it again. Not reading is the backpressure
//! a TCP peer feels: its sends stall, and its flood costs its own service only (reth stops
//! reading a session at 4 queued responses; geth sleeps a peer's fetcher 200 ms).

use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
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
}

#[derive(Default)]
struct Inner {
    closed: AtomicU8,
    waker: AtomicWaker,
}

/// A shared switch over one peer's inbound stream (cheap to clone).
#[derive(Clone, Default)]
pub struct ReadGate(Arc<Inner>);

impl std::fmt::Debug for ReadGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReadGate({:#05b})",
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

    /// Whether reading is stopped, for any reason.
    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire) != 0
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
}
