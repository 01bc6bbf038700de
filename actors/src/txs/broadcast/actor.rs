//! [`TxBroadcaster`]: subscribed to the pool's new-tx events, routes each batch to the
//! peers that lack it (go-ethereum's `txBroadcastLoop` / `BroadcastTransactions`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use alloy_primitives::{Address, B256};

use super::DirectPeerChoice;
use crate::peer::{PeerHandle, PeerId, QueueTxAnns, QueueTxs};
use crate::peer_set::{
    FilterUnknownTxs, PeerEvent, PeersWithoutTx, SubscribePeerEvents, TxRecipients,
};
use crate::txs::pool::{NewTxs, PoolTx, TxPool};

/// Transactions larger than this are only announced, never broadcast in full (geth
/// `txMaxBroadcastSize`, 4096 bytes).
pub const TX_MAX_BROADCAST_SIZE: usize = 4096;

/// Pending hashes announced to a newly registered peer (geth `syncTransactions`, capped by
/// the 4096-hash announcement queue).
pub const MAX_SYNC_ANNOUNCEMENTS: usize = 4096;

/// What the broadcaster needs from the peer set.
#[derive(Clone)]
pub struct PeerSetLink {
    /// Lookup-and-mark of the peers lacking each transaction.
    pub peers_without_tx: Recipient<PeersWithoutTx>,
    /// Lookup-and-mark for one peer.
    pub filter_unknown: Recipient<FilterUnknownTxs>,
    /// Subscription to registrations.
    pub subscribe: Recipient<SubscribePeerEvents>,
}

impl PeerSetLink {
    /// The link to an actor that handles the three messages (the [`crate::peer_set::PeerSetActor`]).
    pub fn new<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<PeersWithoutTx>
            + Handler<FilterUnknownTxs>
            + Handler<SubscribePeerEvents>,
    {
        Self {
            peers_without_tx: addr.clone().recipient(),
            filter_unknown: addr.clone().recipient(),
            subscribe: addr.clone().recipient(),
        }
    }
}

/// Query: the broadcaster's counters. Answered after every batch received before it has
/// been routed (batches are routed in order), so it also serves as a barrier.
#[derive(Debug, Message)]
#[rtype(result = "BroadcastStats")]
pub struct GetBroadcastStats;

/// Answer to [`GetBroadcastStats`]: a snapshot of [`BroadcastMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcastStats {
    /// Pool batches routed.
    pub batches: u64,
    /// (transaction, peer) pairs routed.
    pub pairs: u64,
    /// Transactions queued in full, summed over peers.
    pub full: u64,
    /// Transactions queued as announcements, summed over peers.
    pub announced: u64,
    /// Queue commands refused by a full peer mailbox.
    pub mailbox_full: u64,
}

/// Counters of the broadcaster's work.
#[derive(Debug, Default)]
pub struct BroadcastMetrics {
    /// Pool batches routed.
    pub batches: AtomicU64,
    /// (transaction, peer) pairs routed.
    pub pairs: AtomicU64,
    /// Transactions queued in full, summed over peers.
    pub full: AtomicU64,
    /// Transactions queued as announcements, summed over peers.
    pub announced: AtomicU64,
    /// Queue commands refused by a full peer mailbox (the peer's loss, counted).
    pub mailbox_full: AtomicU64,
}

/// Routes new pool transactions to peers: each transaction to every peer lacking it, in
/// full to the ⌈√n⌉ direct peers of its sender (unless it is a blob or over 4096 bytes) and
/// as an announcement to the others; one queue command per peer per batch.
pub struct TxBroadcaster {
    /// The pool whose events we route and whose pending set new peers get.
    pool: Arc<dyn TxPool>,
    /// The peer set.
    peer_set: PeerSetLink,
    /// Keyed per-sender choice of direct peers.
    choice: DirectPeerChoice,
    /// Shared counters.
    metrics: Arc<BroadcastMetrics>,
}

impl TxBroadcaster {
    /// A broadcaster for node `self_id`; `key` is the secret SipHash key of the per-sender
    /// peer choice (random per node in production).
    pub fn new(
        self_id: PeerId,
        key: (u64, u64),
        pool: Arc<dyn TxPool>,
        peer_set: PeerSetLink,
    ) -> Self {
        Self {
            pool,
            peer_set,
            choice: DirectPeerChoice::new(self_id, key),
            metrics: Arc::default(),
        }
    }

    /// The broadcaster's counters.
    pub fn metrics(&self) -> Arc<BroadcastMetrics> {
        self.metrics.clone()
    }
}

impl Actor for TxBroadcaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Unbounded, measured rather than capped: pool events come at the rate txs enter
        // the pool, at most what the verifier threads pass (42,381 txs/s with 2 threads in
        // the ingest bench), while routing takes 6.06 M (tx, peer) pairs/s (routing bench):
        // 50 peers' worth of the fastest ingest is 2.1 M pairs/s, a third of that. So the
        // mailbox holds only a burst, and dropping pool events would lose broadcasts.
        ctx.set_mailbox_capacity(0);
        self.pool.subscribe(ctx.address().recipient());
        self.peer_set
            .subscribe
            .do_send(SubscribePeerEvents(ctx.address().recipient()));
    }
}

impl Handler<NewTxs> for TxBroadcaster {
    type Result = ();

    fn handle(&mut self, msg: NewTxs, ctx: &mut Self::Context) {
        let hashes = msg.txs.iter().map(|tx| tx.hash).collect();
        let query = self
            .peer_set
            .peers_without_tx
            .send(PeersWithoutTx { hashes, mark: true });
        // `wait`: batches are routed one at a time, in pool order. We wait on the peer set
        // (local, quick), never on a peer.
        ctx.wait(
            query
                .into_actor(self)
                .map(move |result, act, _| match result {
                    Ok(recipients) => act.route(&msg.txs, recipients),
                    Err(err) => log::warn!("tx broadcast: peer set unavailable: {err}"),
                }),
        );
    }
}

impl Handler<PeerEvent> for TxBroadcaster {
    type Result = ();

    fn handle(&mut self, msg: PeerEvent, ctx: &mut Self::Context) {
        let PeerEvent::Registered(peer) = msg else {
            return;
        };
        let hashes = self.pool.pending_hashes(MAX_SYNC_ANNOUNCEMENTS);
        if hashes.is_empty() {
            return;
        }
        let query = self.peer_set.filter_unknown.send(FilterUnknownTxs {
            peer: peer.id,
            hashes,
        });
        ctx.wait(query.into_actor(self).map(move |result, act, _| {
            if let Ok(unknown) = result {
                if !unknown.is_empty() {
                    act.send_anns(&peer, unknown);
                }
            }
        }));
    }
}

impl Handler<GetBroadcastStats> for TxBroadcaster {
    type Result = MessageResult<GetBroadcastStats>;

    fn handle(&mut self, _msg: GetBroadcastStats, _ctx: &mut Self::Context) -> Self::Result {
        let m = &self.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MessageResult(BroadcastStats {
            batches: get(&m.batches),
            pairs: get(&m.pairs),
            full: get(&m.full),
            announced: get(&m.announced),
            mailbox_full: get(&m.mailbox_full),
        })
    }
}

impl TxBroadcaster {
    /// Groups one batch per peer and queues it: full or announced per the rules above.
    fn route(&mut self, txs: &[Arc<PoolTx>], recipients: TxRecipients) {
        let TxRecipients { peers, lacking } = recipients;
        let mut full: Vec<Vec<B256>> = vec![Vec::new(); peers.len()];
        let mut anns: Vec<Vec<B256>> = vec![Vec::new(); peers.len()];
        let mut direct_by_sender: HashMap<Address, Vec<bool>> = HashMap::new();
        let mut pairs = 0u64;
        for (tx, lacking) in txs.iter().zip(&lacking) {
            pairs += lacking.len() as u64;
            let announce_only = tx.is_blob() || tx.size > TX_MAX_BROADCAST_SIZE;
            let direct = (!announce_only).then(|| {
                &*direct_by_sender
                    .entry(tx.sender)
                    .or_insert_with(|| self.choice.direct_mask(&tx.sender, &peers))
            });
            for &i in lacking {
                let i = i as usize;
                if direct.is_some_and(|mask| mask[i]) {
                    full[i].push(tx.hash);
                } else {
                    anns[i].push(tx.hash);
                }
            }
        }
        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
        self.metrics.pairs.fetch_add(pairs, Ordering::Relaxed);
        for ((peer, full), anns) in peers.iter().zip(full).zip(anns) {
            if !full.is_empty() {
                let n = full.len() as u64;
                match peer.txs.try_send(QueueTxs(full)) {
                    Ok(()) => {
                        self.metrics.full.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(err) => self.count_refused(peer, n, &err),
                }
            }
            if !anns.is_empty() {
                self.send_anns(peer, anns);
            }
        }
    }

    fn send_anns(&self, peer: &PeerHandle, hashes: Vec<B256>) {
        let n = hashes.len() as u64;
        match peer.tx_anns.try_send(QueueTxAnns(hashes)) {
            Ok(()) => {
                self.metrics.announced.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => self.count_refused(peer, n, &err),
        }
    }

    /// A full mailbox: the items are that peer's loss; nobody waits. A closed one: the
    /// peer is gone and about to be unregistered.
    fn count_refused<M>(&self, peer: &PeerHandle, items: u64, err: &SendError<M>) {
        if let SendError::Full(_) = err {
            self.metrics.mailbox_full.fetch_add(1, Ordering::Relaxed);
            crate::peer::PeerMetrics::add(&peer.metrics.dropped_mailbox, items);
            log::debug!(
                "tx broadcast: peer {} mailbox full, dropped {items} hashes",
                crate::peer::short(&peer.id)
            );
        }
    }
}
