//! Accepting inbound connections with a bounded number of handshakes in progress, each
//! under its deadline, so that half-open or slow connections cost little.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::{accept, Established, SessionConfig, StatusExchange};

/// Inbound handshakes in progress at most (geth `defaultMaxPendingPeers`, 50); further
/// connections are closed at once until a slot frees.
pub const MAX_PENDING_HANDSHAKES: usize = 50;

/// Counters of an accept loop.
#[derive(Debug, Default)]
pub struct ListenerMetrics {
    /// Connections accepted from the socket.
    pub accepted: AtomicU64,
    /// Connections closed at once because every handshake slot was taken.
    pub refused_busy: AtomicU64,
    /// Connections the gate refused (inbound throttle).
    pub refused_gate: AtomicU64,
    /// Handshakes that failed or timed out.
    pub failed: AtomicU64,
    /// Sessions established.
    pub established: AtomicU64,
}

/// Accepts connections from `listener` forever: each passes `gate` (e.g. a per-IP
/// throttle; refused connections are closed before any handshake), gets a handshake slot
/// (at most `max_pending` at once, else it is closed), `TCP_NODELAY`, and the session handshake
/// (every step under `config.step_timeout`); established sessions go to `on_session`.
/// Runs handshakes as local tasks, so call it from within a Tokio `LocalSet` (an actix
/// `System` is one).
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    config: Arc<SessionConfig>,
    status: Arc<dyn StatusExchange>,
    max_pending: usize,
    metrics: Arc<ListenerMetrics>,
    gate: impl Fn(SocketAddr) -> bool,
    on_session: F,
) where
    F: Fn(Established<TcpStream>, SocketAddr) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let slots = Arc::new(Semaphore::new(max_pending));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors: back off briefly instead of spinning.
                log::warn!("accept failed: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        metrics.accepted.fetch_add(1, Ordering::Relaxed);
        if !gate(addr) {
            metrics.refused_gate.fetch_add(1, Ordering::Relaxed);
            log::debug!("{addr}: refused before the handshake (throttled)");
            drop(stream);
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.refused_busy.fetch_add(1, Ordering::Relaxed);
            log::debug!("{addr}: {max_pending} handshakes in progress, closing");
            drop(stream);
            continue;
        };
        let (config, status, metrics, on_session) = (
            config.clone(),
            status.clone(),
            metrics.clone(),
            on_session.clone(),
        );
        tokio::task::spawn_local(async move {
            let _permit = permit;
            if let Err(error) = stream.set_nodelay(true) {
                log::debug!("{addr}: set_nodelay: {error}");
            }
            match accept(stream, &config, status.as_ref()).await {
                Ok(session) => {
                    metrics.established.fetch_add(1, Ordering::Relaxed);
                    drop(_permit);
                    on_session(session, addr).await;
                }
                Err(error) => {
                    metrics.failed.fetch_add(1, Ordering::Relaxed);
                    log::debug!(
                        "{addr}: inbound handshake failed: {error} (reason {})",
                        error.disconnect_reason()
                    );
                }
            }
        });
    }
}

impl ListenerMetrics {
    /// Inbound connections by result (`ethpeer_inbound_connections_total`).
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        let mut family = out.family(
            "ethpeer_inbound_connections_total",
            crate::exposition::Kind::Counter,
            "Inbound TCP connections.",
        );
        for (result, counter) in [
            ("accepted", &self.accepted),
            ("throttled", &self.refused_gate),
            ("busy", &self.refused_busy),
            ("handshake_failed", &self.failed),
            ("established", &self.established),
        ] {
            family.sample(
                &[("result", result)],
                counter.load(std::sync::atomic::Ordering::Relaxed),
            );
        }
    }
}
