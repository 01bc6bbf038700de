//! The node's internal actors and shared state, for this workspace's tests and benchmarks
//! (feature `internals`). Not a stable API: embedders use [`Node`]'s methods
//! (`node/handle.rs`), which survive changes to what is behind them.

use std::sync::Arc;

use actix::Addr;

use super::{lag, Node, PeerManager};
use crate::blocks::follow::FollowedChain;
use crate::blocks::propagation::BlockPropagator;
use crate::chain::ChainStore;
use crate::discovery::service::Discovery;
use crate::feed::observe::PropagationObserver;
use crate::peer::WireMetrics;
use crate::peer_set::PeerSetActor;
use crate::session::ListenerMetrics;
use crate::txs::broadcast::TxBroadcaster;
use crate::txs::pool::ValidatingTxPool;

/// Borrowed views of a node's parts.
#[derive(Clone, Copy)]
pub struct Internals<'a> {
    /// The peer registry.
    pub peer_set: &'a Addr<PeerSetActor>,
    /// The transaction pool.
    pub pool: &'a Arc<ValidatingTxPool>,
    /// The chain store.
    pub store: &'a Arc<dyn ChainStore>,
    /// The tx broadcaster.
    pub broadcaster: &'a Addr<TxBroadcaster>,
    /// The block propagator.
    pub propagator: &'a Addr<BlockPropagator>,
    /// Admission and dialing.
    pub manager: &'a Addr<PeerManager>,
    /// Propagation trace and seen events.
    pub observer: &'a Addr<PropagationObserver>,
    /// Inbound handshake counters.
    pub listener: &'a Arc<ListenerMetrics>,
    /// Messages and bytes by type, all peers.
    pub wire: &'a Arc<WireMetrics>,
    /// Blocks followed from peers.
    pub follow: &'a Arc<FollowedChain>,
    /// The `eth_subscribe` hub.
    pub subscriptions: &'a Addr<crate::feed::hub::SubscriptionHub>,
    /// The hub's counters.
    pub subscription_metrics: &'a Arc<crate::feed::hub::SubscriptionMetrics>,
    /// Discovery, when it runs.
    pub discovery: Option<&'a Arc<Discovery>>,
    /// DNS node lists, when configured.
    pub dns: Option<&'a Arc<crate::discovery::dns::service::DnsDiscovery>>,
    /// The coordinating thread's lag probe.
    pub lag: &'a Arc<lag::LagMetrics>,
}

impl Node {
    /// The node's parts (feature `internals`; not a stable API).
    pub fn internals(&self) -> Internals<'_> {
        Internals {
            peer_set: &self.peer_set,
            pool: &self.pool,
            store: &self.store,
            broadcaster: &self.broadcaster,
            propagator: &self.propagator,
            manager: &self.manager,
            observer: &self.observer,
            listener: &self.listener,
            wire: &self.wire,
            follow: &self.follow,
            subscriptions: &self.subscriptions,
            subscription_metrics: &self.subscription_metrics,
            discovery: self.discovery.as_ref(),
            dns: self.dns.as_ref(),
            lag: &self.lag,
        }
    }
}
