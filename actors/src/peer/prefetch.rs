//! Fetching announced txs from the announcing peer's own thread: when the node fetches at
//! once (`--txpool.arrivalwait 0`), the peer actor that read an announcement asks for the
//! never-seen hashes in it right away, instead of handing the announcement to the tx inbox
//! on the coordinating thread and waiting for the inbox to hand a request back. The inbox
//! still owns the outcome: the announcement reaches it naming the hashes already asked
//! for, and the answer (or an empty one, when the request fails) follows it.
//!
//! Measured on the first-seen bench (`benches/tools/fetch_trace.py`), the two hand-offs
//! took 0.80 ms at the median from the announcement read to the request written, where
//! geth took 0.21 ms to answer.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use actix::prelude::*;
use alloy_primitives::B256;

use super::{short, InboundEth, PeerActor};
use crate::eth::{EthMessage, GetPooledTransactions, PooledTransactions, RequestPair};
use crate::txs::pool::TxPool;

/// Most hashes one prefetch asks for: one request's worth, as the inbox asks.
pub const MAX_PREFETCH_HASHES: usize = crate::eth::MAX_TX_RETRIEVALS;
/// Most announced bytes one prefetch asks for: one request's worth, as the inbox asks.
pub const MAX_PREFETCH_BYTES: u64 = crate::eth::MAX_TX_RETRIEVAL_SIZE;
/// Hashes the claim window remembers (geth's fetcher `maxTxAnnounces`, 4,096: as many as
/// one peer may have outstanding). A hash that left the window is at worst fetched twice,
/// and by then it is normally pooled, which stops a second fetch first.
pub const MAX_PREFETCH_CLAIMS: usize = 4096;
/// The EIP-4844 tx type: blob txs are never prefetched (their sidecars, or on eth/72 their
/// cells, follow the inbox's blob policy).
const BLOB_TX_TYPE: u8 = 3;

/// The hashes some peer is already fetching by itself, shared by every peer actor of a
/// node: the first peer to announce a hash claims it, later announcers leave it to the
/// inbox. A bounded window, oldest claims forgotten first.
#[derive(Debug, Default)]
pub struct PrefetchClaims {
    window: Mutex<ClaimWindow>,
}

#[derive(Debug, Default)]
struct ClaimWindow {
    claimed: HashSet<B256>,
    order: VecDeque<B256>,
}

impl PrefetchClaims {
    /// Claims `hash`; false when it is already claimed.
    pub fn claim(&self, hash: B256) -> bool {
        // A poisoned lock only means another peer thread panicked mid-claim; the window
        // is still a set of hashes.
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if !window.claimed.insert(hash) {
            return false;
        }
        window.order.push_back(hash);
        if window.order.len() > MAX_PREFETCH_CLAIMS {
            if let Some(oldest) = window.order.pop_front() {
                window.claimed.remove(&oldest);
            }
        }
        true
    }

    /// How many hashes are remembered.
    pub fn len(&self) -> usize {
        let window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.order.len()
    }

    /// Whether no hash is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The hashes of `message` (an eth/68 or eth/72 announcement) to ask its sender for now:
/// not blob txs, not in `pool`, claimed here first, a leading run within one request's
/// count and bytes (the announced sizes are wire values: added without overflow). eth/66 announcements
/// carry no types, so they are left to the inbox.
pub fn prefetchable(message: &EthMessage, pool: &dyn TxPool, claims: &PrefetchClaims) -> Vec<B256> {
    let announced: Vec<(u8, u64, B256)> = match message {
        EthMessage::NewPooledTransactionHashes68(ann) => {
            ann.iter().map(|(t, s, h)| (t, s, *h)).collect()
        }
        EthMessage::NewPooledTransactionHashes72(ann) => ann
            .types
            .iter()
            .zip(&ann.sizes)
            .zip(&ann.hashes)
            .map(|((t, s), h)| (*t, *s, *h))
            .collect(),
        _ => return Vec::new(),
    };
    let mut hashes = Vec::new();
    let mut bytes: u64 = 0;
    for (ty, size, hash) in announced {
        if hashes.len() >= MAX_PREFETCH_HASHES {
            break;
        }
        if ty == BLOB_TX_TYPE {
            continue;
        }
        if bytes.saturating_add(size) > MAX_PREFETCH_BYTES {
            // Stop rather than skip: the rest of a sender's nonces are asked for together,
            // by the inbox, after this request.
            break;
        }
        if pool.get(&hash).is_some() || !claims.claim(hash) {
            continue;
        }
        bytes = bytes.saturating_add(size);
        hashes.push(hash);
    }
    hashes
}

impl PeerActor {
    /// Asks this peer at once for the never-seen hashes of `message` (an announcement)
    /// when the node fetches at once and no prefetch of ours is in flight; returns the
    /// hashes asked for (empty: none). The answer, or an empty PooledTransactions when the
    /// request fails, times out or the peer goes, is sent to `route` after `message`.
    pub(super) fn prefetch(
        &mut self,
        message: &EthMessage,
        route: &Recipient<InboundEth>,
        ctx: &mut Context<Self>,
    ) -> Vec<B256> {
        let Some(claims) = self.on_message.prefetch.clone() else {
            return Vec::new();
        };
        if self.prefetching.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let hashes = prefetchable(message, self.pool.as_ref(), &claims);
        if hashes.is_empty() {
            return hashes;
        }
        let request = GetPooledTransactions(hashes.clone());
        let request = EthMessage::GetPooledTransactions(RequestPair::new(0, request));
        let answer = match self.start_request(request, ctx) {
            Ok(answer) => answer,
            Err(error) => {
                // The inbox asks for them as usual.
                log::debug!("peer {}: prefetch not sent: {error}", short(&self.id()));
                return Vec::new();
            }
        };
        self.prefetching.store(true, Ordering::Relaxed);
        let (flag, route, peer, gate, asked) = (
            self.prefetching.clone(),
            route.clone(),
            self.link(ctx),
            self.gate.clone(),
            hashes.clone(),
        );
        // A task of the arbiter, not of this actor's context: if the peer stops, the
        // request's sender is dropped, the answer resolves to an error, and the inbox
        // still hears that nothing came.
        actix_rt::spawn(async move {
            let message = match answer.await {
                Ok(reply @ EthMessage::PooledTransactions(_)) => reply,
                _ => EthMessage::PooledTransactions(RequestPair::new(
                    0,
                    PooledTransactions(Vec::new()),
                )),
            };
            flag.store(false, Ordering::Relaxed);
            route.do_send(InboundEth {
                ticket: gate.ticket(),
                gate,
                peer,
                message,
                prefetched: asked,
            });
        });
        hashes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::NewPooledTransactionHashes68;
    use crate::testing::{pool, sender, tx};

    fn hash(n: usize) -> B256 {
        B256::from(alloy_primitives::U256::from(n))
    }

    fn announce(entries: &[(u8, u64, B256)]) -> EthMessage {
        EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
            types: entries.iter().map(|e| e.0).collect::<Vec<u8>>().into(),
            sizes: entries.iter().map(|e| e.1).collect(),
            hashes: entries.iter().map(|e| e.2).collect(),
        })
    }

    #[test]
    fn a_hash_is_claimed_once_until_it_leaves_the_window() {
        let claims = PrefetchClaims::default();
        assert!(claims.claim(hash(0)));
        assert!(!claims.claim(hash(0)));
        for n in 1..=MAX_PREFETCH_CLAIMS {
            assert!(claims.claim(hash(n)));
        }
        assert_eq!(claims.len(), MAX_PREFETCH_CLAIMS);
        // The oldest left: it may be claimed again; the newest may not.
        assert!(claims.claim(hash(0)));
        assert!(!claims.claim(hash(MAX_PREFETCH_CLAIMS)));
    }

    #[test]
    fn only_new_unpooled_non_blob_hashes_within_one_request_are_taken() {
        let (mem, pool) = pool();
        let pooled = tx(sender(1), 0, 10);
        mem.insert(vec![pooled.clone()]);
        let claims = PrefetchClaims::default();
        assert!(claims.claim(hash(3)));
        let message = announce(&[
            (2, 120, pooled.hash),
            (3, 1_000_000, hash(1)),
            (2, 120, hash(2)),
            (2, 120, hash(3)),
            (2, MAX_PREFETCH_BYTES - 120, hash(4)),
            (2, 1, hash(5)),
            (2, 1, hash(6)),
        ]);
        // The pooled one, the blob tx (whatever its size) and the one claimed elsewhere are
        // skipped; the first past the byte budget ends the run, so what follows it (a
        // sender's later nonces) is left to the inbox together.
        assert_eq!(
            prefetchable(&message, pool.as_ref(), &claims),
            vec![hash(2), hash(4)]
        );
        assert!(!claims.claim(hash(2)) && claims.claim(hash(5)) && claims.claim(hash(6)));
        // A wire size of 2^64-1 is past the budget, without overflow.
        let huge = announce(&[(2, u64::MAX, hash(7)), (2, 1, hash(8))]);
        assert!(prefetchable(&huge, pool.as_ref(), &claims).is_empty());
        let many: Vec<_> = (100..100 + 2 * MAX_PREFETCH_HASHES)
            .map(|n| (2, 1, hash(n)))
            .collect();
        let taken = prefetchable(&announce(&many), pool.as_ref(), &claims);
        assert_eq!(taken.len(), MAX_PREFETCH_HASHES);
        let legacy = EthMessage::NewPooledTransactionHashes66(
            crate::eth::NewPooledTransactionHashes66(vec![hash(9)]),
        );
        assert!(prefetchable(&legacy, pool.as_ref(), &claims).is_empty());
    }
}
