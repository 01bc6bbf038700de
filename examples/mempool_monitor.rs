//! A mempool monitor that embeds the ethpeer node as a library: it joins a network (with
//! discovery from the network's bootnodes, or only the static peers given), follows the
//! head from its peers, and prints one line per transaction
//!
//! - when the pool first accepts it (`seen`): the first-seen time, the first peer and
//!   whether that peer sent it in full or announced it, the tx type and sender;
//! - when a followed block includes it (`included`): the first-seen time, how many peers
//!   delivered or announced it within 1 s of the first, and the time to inclusion.
//!
//! Ctrl-C disconnects the peers with "client quitting" and prints the totals.
//!
//! Run: `cargo run --example mempool_monitor -- [NETWORK] [P2P_ADDR] [ENODE...]`, with
//! NETWORK one of `mainnet`, `sepolia`, `holesky`, `hoodi` or `dev` (default `mainnet`;
//! `dev` has no bootnodes: give it peers) and P2P_ADDR default `0.0.0.0:30303`.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use ethpeer_actors::discovery::bootnodes;
use ethpeer_actors::eth::forkid::Network;
use ethpeer_actors::node::{DiscoveryConfig, Enode, NodeBuilder, NodeEvent};

/// Events the printer can hold unprocessed: a Transactions message of a few hundred txs
/// is a burst of events; past a full mailbox the node drops them (and counts them).
const MONITOR_MAILBOX: usize = 16_384;

/// Prints the node's tx events.
#[derive(Default)]
struct Monitor {
    seen: u64,
    included: u64,
}

impl Actor for Monitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MONITOR_MAILBOX);
    }
}

/// Seconds since the Unix epoch, with milliseconds.
fn unix(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", since.as_secs(), since.subsec_millis())
}

impl Handler<NodeEvent> for Monitor {
    type Result = ();

    fn handle(&mut self, event: NodeEvent, _ctx: &mut Self::Context) {
        match event {
            NodeEvent::TxSeen {
                hash,
                tx,
                peer,
                delivery,
                first_seen,
            } => {
                self.seen += 1;
                println!(
                    "seen     {hash} first_seen={} type={} from={} first_peer={} ({delivery:?})",
                    unix(first_seen),
                    tx.tx_type,
                    tx.sender,
                    &peer.to_string()[..18],
                );
            }
            NodeEvent::TxIncluded {
                hash,
                block,
                first_seen,
                included_at,
                peers_within_window,
                ..
            } => {
                self.included += 1;
                // A block taken before the tx's first sighting (clock order) reads as 0.
                let wait = included_at.duration_since(first_seen).unwrap_or_default();
                println!(
                    "included {hash} first_seen={} peers_within_1s={peers_within_window} \
                     block={} time_to_inclusion={:.3}s",
                    unix(first_seen),
                    block.number,
                    wait.as_secs_f64(),
                );
            }
            NodeEvent::PeerConnected { client, .. } => log::info!("peer connected: {client}"),
            _ => {}
        }
    }
}

/// Query: txs seen and included so far.
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
struct Totals;

impl Handler<Totals> for Monitor {
    type Result = MessageResult<Totals>;

    fn handle(&mut self, _msg: Totals, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult((self.seen, self.included))
    }
}

fn invalid(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, error.to_string())
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    let network = args.next().unwrap_or_else(|| "mainnet".into());
    let listen: SocketAddr = args
        .next()
        .as_deref()
        .unwrap_or("0.0.0.0:30303")
        .parse()
        .map_err(invalid)?;
    let peers: Vec<Enode> = args
        .map(|e| e.parse().map_err(invalid))
        .collect::<Result<_, _>>()?;
    let mut builder = match network.as_str() {
        "dev" => NodeBuilder::dev(),
        name => {
            let network: Network = name.parse().map_err(invalid)?;
            let bootnodes = bootnodes::bootnodes(network)
                .iter()
                .map(|b| b.parse().map_err(invalid))
                .collect::<Result<_, _>>()?;
            NodeBuilder::network(network).discovery(DiscoveryConfig {
                v4: true,
                bootnodes,
                ..DiscoveryConfig::default()
            })
        }
    };
    for peer in peers {
        builder = builder.static_peer(peer);
    }
    actix_rt::System::new().block_on(async move {
        let node = builder.listen(listen).start().await?;
        let monitor = Monitor::default().start();
        node.subscribe(monitor.clone().recipient());
        println!("{}", node.enode());
        tokio::signal::ctrl_c().await?;
        node.shutdown(std::time::Duration::from_secs(3)).await;
        let (seen, included) = monitor.send(Totals).await.unwrap_or_default();
        println!("{seen} txs seen, {included} included in followed blocks");
        Ok(())
    })
}
