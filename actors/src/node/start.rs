//! [`Node::start`] in stages, each one function: the core (pool, peer set, broadcast,
//! inbound handlers, what every session peer is started with), the peer manager, discovery,
//! the feeds (subscriptions, observer, head follower), and the accept loop; a probe of
//! the coordinating thread's lag runs beside them.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tokio::net::TcpListener;

use super::lag::LagProbe;
use super::manager::{Admission, InboundThrottle};
use super::{dial, wiring, Direction, Node, NodeConfig, PeerArbiters, PeerManager};
use crate::blocks::engine::{PayloadExecutor, TxLocations};
use crate::blocks::follow::{FollowLinks, FollowedChain, FollowedOverlay, HeadFollower};
use crate::blocks::produce::DevProducer;
use crate::blocks::propagation::BlockPropagator;
use crate::chain::ChainStore;
use crate::discovery::dns::service::DnsDiscovery;
use crate::discovery::{Discovery, DiscoveryConfig};
use crate::feed::hub::SubscriptionHub;
use crate::feed::observe::PropagationObserver;
use crate::peer::{SeenRoute, WireMetrics};
use crate::peer_set::{PeerSetActor, SessionPeerLinks, SubscribePeerEvents};
use crate::session::{accept_loop, SessionConfig, StoreStatus};
use crate::txs::broadcast::{PeerSetLink, TxBroadcaster};
use crate::txs::pool::{StateProvider, TxPool, ValidatingTxPool};

/// What the first stage starts: everything a peer needs once it is connected.
struct Core {
    pool: Arc<ValidatingTxPool>,
    peer_set: Addr<PeerSetActor>,
    session: Arc<SessionConfig>,
    broadcaster: Addr<TxBroadcaster>,
    propagator: Addr<BlockPropagator>,
    observer: Addr<PropagationObserver>,
    /// Shared by the observer and the hub: the `txArrivals` subscriptions held.
    arrival_demand: crate::feed::arrivals::ArrivalDemand,
    /// The `txArrivals` subscribers the lanes (peers', pool's) offer to (kept by the hub).
    outlet: Arc<crate::feed::lane::ArrivalOutlet>,
    /// The thread of the observer and the subscription hub.
    feed_arbiter: ArbiterHandle,
    wire: Arc<WireMetrics>,
    status: Arc<StoreStatus>,
    links: SessionPeerLinks,
    arbiters: Arc<PeerArbiters>,
}

impl Node {
    /// Starts every actor on the current arbiter and begins listening. Files are opened
    /// and the listener bound before any actor starts, so a bad path or a busy port fails
    /// here with nothing running.
    pub async fn start(
        config: NodeConfig,
        store: Arc<dyn ChainStore>,
        state: Arc<dyn StateProvider>,
    ) -> std::io::Result<Self> {
        let listener = match &config.listener {
            Some(bound) => {
                let listener = bound.try_clone()?;
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)?
            }
            None => TcpListener::bind(config.listen).await?,
        };
        let trace = open_trace(&config)?;
        let local_addr = listener.local_addr()?;
        // What peers see of us: the store with the followed blocks on top (our Status head,
        // the headers and bodies we serve).
        let follow = Arc::new(FollowedChain::with_window(config.history_window));
        let advertised: Arc<dyn ChainStore> =
            Arc::new(FollowedOverlay::new(store.clone(), follow.clone()));
        let core = Core::start(&config, (&store, &advertised), state, local_addr, trace);
        let manager = core.start_manager(&config);
        let (discovery, discovery_arbiter) =
            match start_discovery(&config, &core, &manager, local_addr).await? {
                Some((discovery, arbiter)) => (Some(discovery), Some(arbiter)),
                None => (None, None),
            };
        let dns = start_dns(&config, &core, &manager);
        let (subscriptions, subscription_metrics) = core.start_hub(&config);
        let tx_locations = Arc::new(TxLocations::default());
        let engine = start_engine(
            &config,
            &store,
            &core,
            &follow,
            &subscriptions,
            &tx_locations,
        );
        let node = Self {
            peer_set: core.peer_set,
            pool: core.pool,
            store,
            broadcaster: core.broadcaster,
            propagator: core.propagator,
            manager,
            observer: core.observer,
            local_addr,
            listener: Arc::default(),
            wire: core.wire,
            client_id: config.client_id.clone(),
            chain_id: config.chain_id,
            network_id: config.network_id,
            follow,
            subscription_metrics,
            extra_metrics: Arc::default(),
            subscriptions,
            hub_arbiter: core.feed_arbiter.clone(),
            session: core.session,
            links: core.links,
            chain: core.status,
            arbiters: core.arbiters,
            discovery,
            discovery_arbiter,
            dns,
            external_ip: config.discovery.external_ip,
            max_pending_handshakes: config.max_pending_handshakes,
            lag: Arc::default(),
            engine,
            datadir: config.datadir.clone(),
            tx_locations,
            header_rules: config.header_rules.clone(),
        };
        LagProbe::new(node.lag.clone()).start();
        if let Some(period) = config.dev_period {
            let producer = DevProducer::new(period, node.engine.clone()).start();
            node.pool.subscribe(producer.recipient());
        }
        node.start_feeds(&config);
        node.accept(listener, config.peer_policy.clone());
        log::info!("listening on {} as {}", node.local_addr, node.enode_url());
        Ok(node)
    }

    /// Stage: the pool's and the follower's subscribers (the RPC hub; the observer hears the
    /// pool as its hook's recipient) and the head follower.
    fn start_feeds(&self, config: &NodeConfig) {
        self.pool.subscribe(self.subscriptions.clone().recipient());
        // The observer (the pool's hook's recipient since the first stage) hands arrivals
        // to the hub; peers' Hellos name them in those arrivals.
        self.observer.do_send(crate::feed::observe::ConnectArrivals(
            self.subscriptions.clone().recipient(),
        ));
        self.manager
            .do_send(crate::feed::events::SubscribePeerEvents(
                self.observer.clone().recipient(),
            ));
        HeadFollower::new(
            config.follow.clone(),
            self.store.clone(),
            self.follow.clone(),
            self.pool.clone(),
            FollowLinks {
                peers: self.peer_set.clone().recipient(),
                heads: self.subscriptions.clone().recipient(),
                removed: Some(self.subscriptions.clone().recipient()),
                included: Some(self.observer.clone().recipient()),
                range: Some(self.peer_set.clone().recipient()),
            },
        )
        .with_rules(config.header_rules.clone())
        // Where we hold the state, followed blocks are executed before they count.
        .with_execution(
            config
                .genesis
                .as_ref()
                .map(|_| self.engine.clone().recipient()),
        )
        .start();
    }

    /// Stage: the accept loop (`--netrestrict`, per-IP throttle, bounded handshakes); each session that
    /// passes admission becomes a peer actor on the next arbiter.
    fn accept(&self, listener: TcpListener, policy: super::manager::PeerPolicy) {
        let throttle = Arc::new(InboundThrottle::default());
        // geth checks --netrestrict before the handshake too: no work for outsiders.
        let gate = move |addr: SocketAddr| {
            policy.allows_ip(addr.ip()) && throttle.allow(addr.ip(), tokio::time::Instant::now())
        };
        let (links, pool, manager) = (
            self.links.clone(),
            self.pool.clone() as Arc<dyn TxPool>,
            self.manager.clone(),
        );
        let (arbiters, local_addr) = (self.arbiters.clone(), self.local_addr);
        let on_session = move |established, addr: SocketAddr| {
            let (links, pool, manager) = (links.clone(), pool.clone(), manager.clone());
            let arbiters = arbiters.clone();
            async move {
                // An inbound connection's local end is the listening socket.
                let started = arbiters
                    .admit_and_start(
                        established,
                        (addr, local_addr),
                        Direction::Inbound,
                        Admission::of(&manager),
                        pool,
                        links,
                    )
                    .await;
                if let Err(error) = started {
                    log::debug!("{addr}: inbound session not started: {error}");
                }
            }
        };
        tokio::task::spawn_local(accept_loop(
            listener,
            self.session.clone(),
            self.chain.clone(),
            self.max_pending_handshakes,
            self.listener.clone(),
            gate,
            on_session,
        ));
    }
}

impl Core {
    /// The subscription hub, with its counters. It renders notifications (full txs as
    /// JSON) for every subscriber: on the feeds' arbiter, never on the thread that
    /// coordinates peers.
    fn start_hub(
        &self,
        config: &NodeConfig,
    ) -> (
        Addr<SubscriptionHub>,
        Arc<crate::feed::hub::SubscriptionMetrics>,
    ) {
        let hub = SubscriptionHub::new(config.max_subscriptions)
            .with_arrival_demand(self.arrival_demand.clone())
            .with_outlet(self.outlet.clone());
        let metrics = hub.metrics();
        let hub = SubscriptionHub::start_in_arbiter(&self.feed_arbiter, move |_| hub);
        self.outlet
            .connect(hub.clone().recipient(), hub.clone().recipient());
        (hub, metrics)
    }

    /// Stage: the pool, the peer set, the tx broadcaster and block propagator, the
    /// observer, the inbound handlers, our Status, and the arbiters peers run on.
    fn start(
        config: &NodeConfig,
        (store, advertised): (&Arc<dyn ChainStore>, &Arc<dyn ChainStore>),
        state: Arc<dyn StateProvider>,
        local_addr: SocketAddr,
        trace: Option<std::fs::File>,
    ) -> Self {
        let pool = Arc::new(
            ValidatingTxPool::new(config.rules.clone(), state).with_limits(config.pool_limits),
        );
        // The manager enforces the limits (with trusted peers exempt and the dial split);
        // the peer set's own cap is only a backstop above that.
        let hard_cap = config.max_peers + config.trusted_peers.len();
        let peer_set = PeerSetActor::new().with_max_peers(hard_cap).start();
        let session = Arc::new(session_config(config, local_addr));
        let key = broadcast_key(config);
        let broadcaster = TxBroadcaster::new(
            session.node_id(),
            key,
            pool.clone(),
            PeerSetLink::new(&peer_set),
        )
        .gossip(config.tx_gossip)
        .start();
        let propagator = BlockPropagator::new(peer_set.clone().recipient(), key).start();
        let observer = PropagationObserver::new(trace);
        let active = observer.activity();
        let arrival_demand = observer.arrival_demand();
        // `seen` arrivals are decided and offered on the decoding peer's thread.
        let outlet = Arc::new(crate::feed::lane::ArrivalOutlet::default());
        let lane = Arc::new(observer.lane(outlet.clone()));
        let hook: Arc<dyn crate::peer::SeenHook> = lane.clone();
        // The feeds (the observer here, the subscription hub later) share a thread of
        // their own: arrivals and notifications never wait behind the coordinating thread.
        let feed_arbiter = Arbiter::new().handle();
        let observer = PropagationObserver::start_in_arbiter(&feed_arbiter, move |_| observer);
        // Accepted txs' `validated` arrivals, on the thread that pooled them (a verifier);
        // the observer gets the pool's events with the lane's notes (TxSeen once a tx is
        // pooled, the arrivals the lane left for the hub).
        if !pool.set_admission_hook(lane, observer.clone().recipient()) {
            log::warn!("the pool had an admission hook already: the observer hears no pool events");
        }
        let seen = SeenRoute {
            active,
            to: observer.clone().recipient(),
            hook: Some(hook),
        };
        let routes = wiring::start_inbound_handlers(
            config,
            (store, advertised),
            &pool,
            &peer_set,
            &propagator,
            (seen, observer.clone().recipient()),
        );
        let wire = Arc::new(WireMetrics::default());
        let status = Arc::new(StoreStatus {
            network_id: config.network_id,
            forks: config.forks.clone(),
            store: advertised.clone(),
        });
        let links = SessionPeerLinks {
            register: peer_set.clone().recipient(),
            stopped: peer_set.clone().recipient(),
            on_message: routes,
            keepalive: Some((config.ping_interval, config.pong_timeout)),
            request_timeout: Some(config.request_timeout),
            wire: Some(wire.clone()),
            remote: None,
        };
        Self {
            pool,
            peer_set,
            session,
            broadcaster,
            propagator,
            observer,
            arrival_demand,
            outlet,
            feed_arbiter,
            wire,
            status,
            links,
            arbiters: Arc::new(PeerArbiters::start(config.peer_arbiters)),
        }
    }

    /// Stage: the peer manager (admission, limits, the dial scheduler), told of every
    /// peer the set registers or loses; static and trusted peers are dialed from here.
    fn start_manager(&self, config: &NodeConfig) -> Addr<PeerManager> {
        let dial = dial::dial_fn(
            self.session.clone(),
            self.status.clone(),
            self.pool.clone(),
            self.links.clone(),
            self.arbiters.clone(),
        );
        let manager = PeerManager::new(self.session.node_id(), config.max_peers, dial)
            .policy(config.peer_policy.clone())
            .trusted(config.trusted_peers.iter().map(|e| e.id))
            .static_peers(config.static_peers.iter().copied())
            .static_peers(config.trusted_peers.iter().copied())
            .start();
        self.peer_set
            .do_send(SubscribePeerEvents(manager.clone().recipient()));
        manager
    }
}

/// Stage: discv4 and discv5 on one UDP port, when either is on, on an arbiter (thread) of
/// their own: the socket loops and the signature recoveries of a datagram flood never run
/// on the thread that coordinates peers. What they find goes to the manager's dial
/// scheduler.
async fn start_discovery(
    config: &NodeConfig,
    core: &Core,
    manager: &Addr<PeerManager>,
    local_addr: SocketAddr,
) -> std::io::Result<Option<(Arc<Discovery>, ArbiterHandle)>> {
    if !(config.discovery.v4 || config.discovery.v5) {
        return Ok(None);
    }
    let arbiter = Arbiter::new().handle();
    let (settings, key, status) = (discovery_config(config), config.key, core.status.clone());
    let on_found = manager.clone().recipient();
    let (done, started) = futures::channel::oneshot::channel();
    let spawned = arbiter.spawn(async move {
        let discovery =
            crate::discovery::service::start(&settings, key, local_addr, status, on_found).await;
        let _ = done.send(discovery);
    });
    let gone = || std::io::Error::other("the discovery thread stopped while starting");
    if !spawned {
        return Err(gone());
    }
    let discovery = started.await.map_err(|_| gone())??;
    Ok(Some((Arc::new(discovery), arbiter)))
}

/// Stage: the EIP-1459 trees, when any is configured, into the same dial scheduler.
fn start_dns(
    config: &NodeConfig,
    core: &Core,
    manager: &Addr<PeerManager>,
) -> Option<Arc<DnsDiscovery>> {
    if config.discovery.dns.is_empty() {
        return None;
    }
    let status = core.status.clone();
    let verdict =
        move |r: &crate::discovery::enr::Record| crate::discovery::verdict(Some(r), &status);
    // A seed per node key: the walk order differs between nodes but not across restarts.
    let secret = config.key.secret_bytes();
    let seed = u64::from_le_bytes(secret[24..].try_into().unwrap_or_default());
    let trees = config.discovery.dns.clone();
    crate::discovery::dns::service::start_system(trees, seed, verdict, manager.clone().recipient())
        .map(Arc::new)
}

/// The propagation trace file, created before anything starts (a bad path fails the start).
fn open_trace(config: &NodeConfig) -> std::io::Result<Option<std::fs::File>> {
    let Some(path) = &config.trace_propagation else {
        return Ok(None);
    };
    std::fs::File::create(path).map(Some).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("propagation trace {}: {error}", path.display()),
        )
    })
}

/// Our side of every handshake: key, client id, versions, the port we announce, and the
/// deadline of each step.
fn session_config(config: &NodeConfig, local_addr: SocketAddr) -> SessionConfig {
    let mut session = SessionConfig::new(config.key, config.client_id.clone());
    session.eth_versions = config.eth_versions.clone();
    session.listen_port = local_addr.port();
    session.step_timeout = config.handshake_timeout;
    session
}

/// A deterministic secret per node key for the broadcasters' peer choice: it must be
/// stable for a node and unpredictable for others; our key is both.
fn broadcast_key(config: &NodeConfig) -> (u64, u64) {
    let secret = config.key.secret_bytes();
    (
        u64::from_le_bytes(secret[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(secret[8..16].try_into().unwrap_or_default()),
    )
}

/// The discovery settings as started: with an ephemeral RLPx port (0) and no discovery
/// port of its own, UDP takes an ephemeral port too, as geth binds `:0` for both. Reusing
/// the number the OS gave TCP could collide with any UDP socket already on it (a busy test
/// machine did: the node then failed to start).
fn discovery_config(config: &NodeConfig) -> DiscoveryConfig {
    let mut discovery = config.discovery.clone();
    if discovery.port.is_none() && config.listen.port() == 0 {
        discovery.port = Some(0);
    }
    discovery
}

/// The engine API's executor on a thread of its own (execution is CPU-heavy).
fn start_engine(
    config: &NodeConfig,
    store: &Arc<dyn ChainStore>,
    core: &Core,
    follow: &Arc<FollowedChain>,
    subscriptions: &Addr<SubscriptionHub>,
    locations: &Arc<TxLocations>,
) -> Addr<PayloadExecutor> {
    let (peer_set, observer) = (&core.peer_set, &core.observer);
    let (genesis, store, pool) = (config.genesis.clone(), store.clone(), core.pool.clone());
    let (followed, heads) = (follow.clone(), subscriptions.clone().recipient());
    let locations = locations.clone();
    let announce = config.dev_period.map(|_| peer_set.clone().recipient());
    let included = Some(observer.clone().recipient());
    let window = config.state_window;
    SyncArbiter::start(1, move || {
        PayloadExecutor::new(
            genesis.clone(),
            store.clone(),
            pool.clone(),
            followed.clone(),
            heads.clone(),
            locations.clone(),
        )
        .announcing(announce.clone())
        .reporting_inclusions(included.clone())
        .keeping(window)
    })
}
