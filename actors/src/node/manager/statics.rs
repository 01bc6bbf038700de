//! Static (and trusted) peers: when each is dialed next, with backoff.

use std::time::Duration;

use tokio::time::Instant;

use super::{DIAL_BACKOFF_MAX, DIAL_BACKOFF_MIN};
use crate::discovery::enode::Enode;

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
}

pub(super) fn static_peer(enode: Enode, now: Instant) -> StaticPeer {
    StaticPeer {
        enode,
        backoff: DIAL_BACKOFF_MIN,
        next_at: now,
        dialing: false,
    }
}
