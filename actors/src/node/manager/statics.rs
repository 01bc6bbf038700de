//! Static (and trusted) peers: when each is dialed next, with backoff.

use std::time::Duration;

use tokio::time::Instant;

use super::{DIAL_BACKOFF_MAX, DIAL_BACKOFF_MIN};
use crate::discovery::enode::Enode;

/// Least time between two warnings about one static or trusted peer that keeps failing
/// (ours: the first failure is reported at once, then at most once a minute with the count
/// since, so an operator learns of a wrong enode within seconds without a log flood).
pub const STATIC_FAILURE_WARN_INTERVAL: Duration = Duration::from_secs(60);

/// One static or trusted peer's dial schedule.
#[derive(Debug)]
pub(super) struct StaticPeer {
    /// Where it is.
    pub(super) enode: Enode,
    /// The wait after the next failure.
    pub(super) backoff: Duration,
    /// When it is dialed next.
    pub(super) next_at: Instant,
    /// Whether a dial is in progress.
    pub(super) dialing: bool,
    /// Failed dials since the last warning.
    pub(super) unreported_failures: u32,
    /// When the last warning was logged.
    pub(super) warned_at: Option<Instant>,
}

impl StaticPeer {
    /// Schedules the next dial after the current backoff; after a failure (or a connection
    /// that did not last) the backoff doubles up to [`DIAL_BACKOFF_MAX`], after a stable
    /// connection it starts again from [`DIAL_BACKOFF_MIN`].
    pub(super) fn retry_later(&mut self, failed: bool) {
        if !failed {
            self.backoff = DIAL_BACKOFF_MIN;
        }
        self.next_at = Instant::now() + self.backoff;
        if failed {
            self.backoff = (self.backoff * 2).min(DIAL_BACKOFF_MAX);
        }
    }

    /// Counts a failed dial; answers how many failures to report now, if a warning is due
    /// ([`STATIC_FAILURE_WARN_INTERVAL`]).
    pub(super) fn failure_to_report(&mut self, now: Instant) -> Option<u32> {
        self.unreported_failures = self.unreported_failures.saturating_add(1);
        let due = self
            .warned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= STATIC_FAILURE_WARN_INTERVAL);
        if !due {
            return None;
        }
        self.warned_at = Some(now);
        Some(std::mem::take(&mut self.unreported_failures))
    }
}

pub(super) fn static_peer(enode: Enode, now: Instant) -> StaticPeer {
    StaticPeer {
        enode,
        backoff: DIAL_BACKOFF_MIN,
        next_at: now,
        dialing: false,
        unreported_failures: 0,
        warned_at: None,
    }
}
