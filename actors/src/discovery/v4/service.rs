//! The discovery service: one tokio UDP socket around the [`Discv4`] state machine. This
//! loop only moves datagrams in and out, runs the timers and forwards discovered nodes;
//! every decision is the state machine's. The socket may be shared with discv5 (as geth
//! shares one port): then discv5 reads it and passes on what it cannot decode
//! ([`Inbound::Shared`]), and this loop only sends on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B512;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::metrics::Discv4Metrics;
use super::proto::{DiscoveredNode, Discv4, Discv4Event};
use super::wire::MAX_PACKET_SIZE;
use crate::discovery::enr::Record;

/// How often the state machine's timers run (ours: a tenth of the 500 ms reply timeout).
pub const TICK: Duration = Duration::from_millis(50);

/// Commands the loop queues at most (ours; lookups and stop are rare).
pub const COMMAND_QUEUE: usize = 16;

/// Datagrams queued from a sharing protocol at most (geth's `SharedUDPConn` queue of
/// unhandled packets holds 100).
pub const SHARED_QUEUE: usize = 100;

/// Where the service's datagrams come from.
#[derive(Debug)]
pub enum Inbound {
    /// It reads the socket itself.
    Socket,
    /// Another protocol reads the shared socket and hands over the datagrams it could not
    /// decode, with their source.
    Shared(mpsc::Receiver<(SocketAddr, Vec<u8>)>),
}

/// Commands to the running service.
#[derive(Debug)]
enum Command {
    Lookup(B512),
    Stop,
}

/// The running service's handle. Dropping it stops the service.
#[derive(Debug)]
pub struct Discv4Handle {
    /// Where the socket is bound.
    pub local_addr: SocketAddr,
    /// Our record as the service announces it.
    pub record: Record,
    /// Counters.
    pub metrics: Arc<Discv4Metrics>,
    commands: mpsc::Sender<Command>,
}

impl Discv4Handle {
    /// Starts a lookup of `target` (its results reach the table and, once verified, the
    /// discovered-node channel).
    pub fn lookup(&self, target: B512) {
        let _ = self.commands.try_send(Command::Lookup(target));
    }

    /// Stops the service.
    pub fn stop(&self) {
        let _ = self.commands.try_send(Command::Stop);
    }
}

/// Starts services.
pub struct Discv4Service;

impl Discv4Service {
    /// Runs `proto` on `socket` in a task of the current thread (`spawn_local`: inside an
    /// actix `System` or a `LocalSet`); verified nodes go to `discovered`, which never
    /// blocks the loop (a full channel drops the node; it is announced again when its
    /// record changes or it is rediscovered).
    pub fn spawn(
        socket: Arc<UdpSocket>,
        inbound: Inbound,
        proto: Discv4,
        record: Record,
        discovered: mpsc::Sender<DiscoveredNode>,
    ) -> std::io::Result<Discv4Handle> {
        let local_addr = socket.local_addr()?;
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let metrics = proto.metrics().clone();
        tokio::task::spawn_local(run(socket, inbound, proto, queue, discovered));
        log::info!("discv4 listening on udp {local_addr}");
        Ok(Discv4Handle {
            local_addr,
            record,
            metrics,
            commands,
        })
    }
}

async fn run(
    socket: Arc<UdpSocket>,
    mut inbound: Inbound,
    mut proto: Discv4,
    mut commands: mpsc::Receiver<Command>,
    discovered: mpsc::Sender<DiscoveredNode>,
) {
    // One byte more than the limit, so that an oversized datagram is seen as such.
    let mut buf = vec![0u8; MAX_PACKET_SIZE + 1];
    let mut timer = tokio::time::interval(TICK);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = next_datagram(&socket, &mut inbound, &mut buf) => {
                if let Some((len, from)) = received {
                    proto.on_datagram(from, &buf[..len], Instant::now());
                }
            }
            _ = timer.tick() => proto.tick(Instant::now()),
            command = commands.recv() => match command {
                Some(Command::Lookup(target)) => {
                    proto.lookup(target, Instant::now());
                }
                Some(Command::Stop) | None => break,
            },
        }
        while let Some((to, datagram)) = proto.poll_transmit() {
            if let Err(error) = socket.send_to(&datagram, to).await {
                log::trace!("discv4 send to {to}: {error}");
            }
        }
        while let Some(Discv4Event::Discovered(node)) = proto.poll_event() {
            if discovered.try_send(node).is_err() && discovered.is_closed() {
                log::debug!("discv4: nobody takes discovered nodes any more");
            }
        }
    }
    log::debug!("discv4 on {:?} stopped", socket.local_addr());
}

/// The next datagram into `buf`: its length and source; `None` after a receive error.
async fn next_datagram(
    socket: &UdpSocket,
    inbound: &mut Inbound,
    buf: &mut [u8],
) -> Option<(usize, SocketAddr)> {
    match inbound {
        Inbound::Socket => match socket.recv_from(buf).await {
            Ok(received) => Some(received),
            // ICMP port-unreachable surfaces as an error on some platforms: not fatal.
            Err(error) => {
                log::trace!("discv4 recv: {error}");
                None
            }
        },
        Inbound::Shared(queue) => match queue.recv().await {
            Some((from, datagram)) => {
                // The sharer reads at most 1,280 bytes; anything longer is cut to one byte
                // over our limit, which the decoder rejects as oversized.
                let len = datagram.len().min(buf.len());
                buf[..len].copy_from_slice(&datagram[..len]);
                Some((len, from))
            }
            // The sharer stopped: nothing more will come (timers and commands still run).
            None => std::future::pending().await,
        },
    }
}
