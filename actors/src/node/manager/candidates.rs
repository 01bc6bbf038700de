//! Dial candidates from discovery, as geth's dial scheduler treats them: each node at most
//! once per [`DIAL_HISTORY_EXPIRATION`], a node whose record carries no `eth` entry only
//! once, a node dropped after [`MAX_CANDIDATE_FAILURES`] failed dials in a row, and at most
//! [`MAX_CANDIDATES`] remembered (oldest forgotten first).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::discovery::enode::Enode;
use crate::discovery::{ForkVerdict, PeerSource};
use crate::peer::PeerId;

/// geth `dialHistoryExpiration` (inbound throttle 30 s + 5 s): a node is not redialed
/// sooner.
pub const DIAL_HISTORY_EXPIRATION: Duration = Duration::from_secs(35);

/// Failed dials in a row after which a candidate is forgotten (ours; discovery offers it
/// again when its record changes).
pub const MAX_CANDIDATE_FAILURES: u32 = 3;

/// Candidates remembered at most (ours; ~200 bytes each).
pub const MAX_CANDIDATES: usize = 1024;

/// How long the node with the higher id waits before dialing a node it found (ours). Two
/// nodes that find each other at once would otherwise dial each other at once, and each
/// refuses the second connection as a duplicate, losing both; with this wait the lower
/// id's dial lands first and the other node sees it connected.
pub const TIE_BREAK_WAIT: Duration = Duration::from_secs(3);

/// One candidate.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub(super) enode: Enode,
    pub(super) source: PeerSource,
    pub(super) once: bool,
    /// Whether it waits [`TIE_BREAK_WAIT`] before each dial (our id is the higher one).
    pub(super) defer: bool,
    /// When it was first offered.
    pub(super) since: Instant,
    pub(super) last_dial: Option<Instant>,
    pub(super) failures: u32,
    pub(super) dialing: bool,
}

/// The candidates, in the order they arrived.
#[derive(Debug, Default)]
pub(super) struct Candidates {
    pub(super) map: HashMap<PeerId, Candidate>,
    order: VecDeque<PeerId>,
}

impl Candidates {
    /// Adds or refreshes a candidate (a new address or record replaces the old one but
    /// keeps its dial history).
    pub(super) fn offer(
        &mut self,
        enode: Enode,
        source: PeerSource,
        verdict: ForkVerdict,
        (defer, now): (bool, Instant),
    ) {
        if verdict == ForkVerdict::Incompatible {
            if let Some(old) = self.map.get(&enode.id) {
                if !old.dialing {
                    self.remove(&enode.id);
                }
            }
            return;
        }
        let once = verdict == ForkVerdict::Absent;
        if let Some(old) = self.map.get_mut(&enode.id) {
            old.enode = enode;
            old.once = once;
            return;
        }
        while self.map.len() >= MAX_CANDIDATES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&oldest).is_some_and(|c| c.dialing) {
                self.order.push_back(oldest);
                continue;
            }
            self.map.remove(&oldest);
        }
        self.order.push_back(enode.id);
        self.map.insert(
            enode.id,
            Candidate {
                enode,
                source,
                once,
                defer,
                since: now,
                last_dial: None,
                failures: 0,
                dialing: false,
            },
        );
    }

    /// Candidates that may be dialed now, oldest first.
    pub(super) fn due(&self, now: Instant) -> Vec<PeerId> {
        self.order
            .iter()
            .filter(|id| {
                self.map.get(*id).is_some_and(|c| {
                    let earliest = match c.last_dial {
                        Some(at) => at + DIAL_HISTORY_EXPIRATION,
                        None => c.since,
                    };
                    let wait = if c.defer {
                        TIE_BREAK_WAIT
                    } else {
                        Duration::ZERO
                    };
                    !c.dialing && now >= earliest + wait
                })
            })
            .copied()
            .collect()
    }

    /// A dial of `id` ended: a failure counts against this node only.
    pub(super) fn dial_done(&mut self, id: &PeerId, failed: bool) {
        let Some(candidate) = self.map.get_mut(id) else {
            return;
        };
        candidate.dialing = false;
        candidate.failures = if failed {
            candidate.failures.saturating_add(1)
        } else {
            0
        };
        if candidate.once || candidate.failures >= MAX_CANDIDATE_FAILURES {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: &PeerId) {
        self.map.remove(id);
        self.order.retain(|c| c != id);
    }
}
