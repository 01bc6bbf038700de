//! The discovery service: one tokio UDP socket around the [`Discv4`] state machine. This
//! loop only moves datagrams in and out, runs the timers and forwards discovered nodes;
//! every decision is the state machine's.

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
use crate::enr::Record;

/// How often the state machine's timers run (ours: a tenth of the 500 ms reply timeout).
pub const TICK: Duration = Duration::from_millis(50);

/// Commands the loop queues at most (ours; lookups and stop are rare).
pub const COMMAND_QUEUE: usize = 16;

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
        socket: UdpSocket,
        proto: Discv4,
        record: Record,
        discovered: mpsc::Sender<DiscoveredNode>,
    ) -> std::io::Result<Discv4Handle> {
        let local_addr = socket.local_addr()?;
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let metrics = proto.metrics().clone();
        tokio::task::spawn_local(run(socket, proto, queue, discovered));
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
    socket: UdpSocket,
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
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => proto.on_datagram(from, &buf[..len], Instant::now()),
                // ICMP port-unreachable surfaces as an error on some platforms: not fatal.
                Err(error) => log::trace!("discv4 recv: {error}"),
            },
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
