//! [`HeldAnnouncements`]: tx announcements the broadcaster has routed but not yet handed to
//! their peers, and each peer's turn. Every peer has a fixed phase within the hold period
//! (from its node id), so a flush is spread over the period instead of waking all peers'
//! threads at once: at 500 peers one burst of 500 frames kept inbound frames waiting about
//! 3 ms (the arrivals bench's `seen` p99 at 200 tx/s).

use std::collections::HashMap;
use std::time::Duration;

use alloy_primitives::B256;
use tokio::time::Instant;

use crate::peer::{PeerHandle, PeerId, PeerMetrics, MAX_QUEUED_TX_ANNS};

/// How often held announcements are checked for peers whose turn has come (ours: a fifth
/// of the shortest hold, [`super::MIN_ANNOUNCE_HOLD`], so one hold's peers go out
/// over at least five ticks).
pub const ANNOUNCE_TICK: Duration = Duration::from_millis(2);

/// One peer's held announcements.
struct Held {
    peer: PeerHandle,
    hashes: Vec<B256>,
    due: Instant,
}

/// Held announcements by peer, each list at most [`MAX_QUEUED_TX_ANNS`] (the peer's own
/// queue bound; the oldest are dropped beyond it and counted in the peer's metrics). This
/// doubles a peer's worst-case announcement backlog (its queue and this list: 256 KiB
/// of hashes), for at most one hold period.
pub struct HeldAnnouncements {
    /// Where every peer's phase is counted from.
    epoch: Instant,
    by_peer: HashMap<PeerId, Held>,
}

impl HeldAnnouncements {
    /// Nothing held; phases counted from `epoch`.
    pub fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            by_peer: HashMap::new(),
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.by_peer.is_empty()
    }

    /// Adds `hashes` for `peer`. A peer with nothing held yet is due at its next turn
    /// after `now` for a period of `hold`.
    pub fn hold(&mut self, peer: &PeerHandle, hashes: Vec<B256>, now: Instant, hold: Duration) {
        let epoch = self.epoch;
        let held = self.by_peer.entry(peer.id).or_insert_with(|| Held {
            peer: peer.clone(),
            hashes: Vec::new(),
            due: next_turn(epoch, &peer.id, now, hold),
        });
        if !std::sync::Arc::ptr_eq(&held.peer.metrics, &peer.metrics) {
            // The peer reconnected since: hand everything to the live connection (its
            // known set is new, so the older hashes are not known there either).
            held.peer = peer.clone();
        }
        held.hashes.extend(hashes);
        let excess = held.hashes.len().saturating_sub(MAX_QUEUED_TX_ANNS);
        if excess > 0 {
            held.hashes.drain(..excess);
            PeerMetrics::add(&peer.metrics.dropped_tx_anns, excess as u64);
        }
    }

    /// Takes the lists of peers due by `now`.
    pub fn take_due(&mut self, now: Instant) -> Vec<(PeerHandle, Vec<B256>)> {
        self.by_peer
            .extract_if(|_, held| held.due <= now)
            .map(|(_, held)| (held.peer, held.hashes))
            .collect()
    }

    /// Takes every list, due or not.
    pub fn take_all(&mut self) -> Vec<(PeerHandle, Vec<B256>)> {
        self.by_peer
            .drain()
            .map(|(_, held)| (held.peer, held.hashes))
            .collect()
    }
}

/// The first instant at or after `now` that is `id`'s turn: its phase (the id's first eight
/// bytes modulo the period) plus a whole number of `hold` periods after `epoch`.
pub fn next_turn(epoch: Instant, id: &PeerId, now: Instant, hold: Duration) -> Instant {
    let period = u64::try_from(hold.as_nanos()).unwrap_or(u64::MAX).max(1);
    let mut head = [0u8; 8];
    head.copy_from_slice(&id.as_slice()[..8]);
    let phase = u64::from_le_bytes(head) % period;
    let since = u64::try_from(now.saturating_duration_since(epoch).as_nanos()).unwrap_or(0);
    // In u128: `phase` is below `period` and `period - since % period` at most `period`.
    let (phase, period_wide) = (u128::from(phase), u128::from(period));
    let wait = (phase + period_wide - u128::from(since % period)) % period_wide;
    now + Duration::from_nanos(u64::try_from(wait).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::peer_id;

    #[test]
    fn each_peer_has_its_own_turn_within_one_period() {
        let epoch = Instant::now();
        let hold = Duration::from_millis(50);
        let now = epoch + Duration::from_millis(1234);
        let turns: Vec<Instant> = (1..=200u8)
            .map(|n| next_turn(epoch, &peer_id(n), now, hold))
            .collect();
        assert!(turns.iter().all(|t| *t >= now && *t < now + hold));
        // Spread, not bunched: the 200 turns fall in at least 40 of the 50 milliseconds.
        let mut ms: Vec<u128> = turns.iter().map(|t| (*t - now).as_millis()).collect();
        ms.sort();
        ms.dedup();
        assert!(ms.len() >= 40, "{} distinct milliseconds", ms.len());
    }

    #[actix_rt::test]
    async fn a_peer_that_reconnected_gets_what_was_held_on_its_new_connection() {
        use crate::eth::EthVersion;
        use crate::testing::{pool, spawn_peer};
        let (_, shared) = pool();
        let (old, _old_rx) = spawn_peer(3, EthVersion::Eth68, shared.clone(), 0);
        let (new, _new_rx) = spawn_peer(3, EthVersion::Eth68, shared, 0);
        assert_eq!(old.id, new.id);
        let mut held = HeldAnnouncements::new(Instant::now());
        let (now, hold) = (Instant::now(), Duration::from_millis(10));
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        held.hold(&old, vec![a], now, hold);
        held.hold(&new, vec![b], now, hold);
        let taken = held.take_all();
        assert_eq!(taken.len(), 1);
        let (peer, hashes) = &taken[0];
        assert!(std::sync::Arc::ptr_eq(&peer.metrics, &new.metrics));
        assert_eq!(hashes, &vec![a, b]);
        assert!(held.is_empty());
    }

    #[test]
    fn a_turn_comes_back_one_period_later() {
        let epoch = Instant::now();
        let hold = Duration::from_millis(10);
        let id = peer_id(7);
        let first = next_turn(epoch, &id, epoch + Duration::from_millis(3), hold);
        assert_eq!(next_turn(epoch, &id, first, hold), first);
        let after = first + Duration::from_nanos(1);
        assert_eq!(next_turn(epoch, &id, after, hold), first + hold);
        // A zero period or a clock before the epoch does not panic.
        assert_eq!(next_turn(first, &id, epoch, Duration::ZERO), epoch);
    }
}
