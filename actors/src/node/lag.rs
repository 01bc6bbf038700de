//! How late the coordinating thread runs: [`LagProbe`], an actor on the arbiter that
//! coordinates peers, wakes every [`PROBE_INTERVAL`] and records how much later than due
//! it woke. Any message handler there that costs more than it should (a signature, a KZG
//! check, a JSON rendering) shows up as lag, so a regression is visible on the metrics
//! endpoint (`ethpeer_coordinator_lag_seconds`) without knowing which handler to time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

/// Between two probes (ours: ten a second is noise-free and cheap).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Upper bounds of the lag histogram's buckets, in microseconds (ours: 1 ms is a quiet
/// thread, 50 ms the latency an honest peer may notice).
pub const LAG_BUCKETS_MICROS: [u64; 6] = [1_000, 5_000, 10_000, 50_000, 250_000, 1_000_000];

/// The probe's counts, shared with the metrics endpoint.
#[derive(Debug, Default)]
pub struct LagMetrics {
    /// Probes whose lag was at most each bucket's bound (cumulative, as Prometheus wants).
    buckets: [AtomicU64; LAG_BUCKETS_MICROS.len()],
    /// Probes taken.
    count: AtomicU64,
    /// Their lags added, in microseconds.
    sum_micros: AtomicU64,
    /// The largest lag seen, in microseconds.
    max_micros: AtomicU64,
}

impl LagMetrics {
    /// Records one probe that woke `lag` after it was due.
    pub fn record(&self, lag: Duration) {
        let micros = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        for (bound, bucket) in LAG_BUCKETS_MICROS.iter().zip(&self.buckets) {
            if micros <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// The largest lag seen.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros.load(Ordering::Relaxed))
    }

    /// The histogram (`ethpeer_coordinator_lag_seconds`) and the largest lag.
    pub fn render(&self, out: &mut crate::exposition::Exposition) {
        let name = "ethpeer_coordinator_lag_seconds";
        let mut text = format!(
            "# HELP {name} How much later than due the coordinating thread ran a {} ms probe.\n\
             # TYPE {name} histogram\n",
            PROBE_INTERVAL.as_millis()
        );
        for (bound, bucket) in LAG_BUCKETS_MICROS.iter().zip(&self.buckets) {
            let le = *bound as f64 / 1e6;
            let n = bucket.load(Ordering::Relaxed);
            text.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {n}\n"));
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        text.push_str(&format!(
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}\n"
        ));
        out.raw(&text);
        out.gauge(
            "ethpeer_coordinator_lag_max_microseconds",
            "The largest lag of the coordinating thread seen since start.",
            self.max_micros.load(Ordering::Relaxed),
        );
    }
}

/// Wakes every [`PROBE_INTERVAL`] on the arbiter it was started on and records its lag.
pub struct LagProbe {
    metrics: Arc<LagMetrics>,
    due: Instant,
}

impl LagProbe {
    /// A probe recording into `metrics`; start it on the coordinating arbiter.
    pub fn new(metrics: Arc<LagMetrics>) -> Self {
        Self {
            metrics,
            due: Instant::now() + PROBE_INTERVAL,
        }
    }
}

impl Actor for LagProbe {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.due = Instant::now() + PROBE_INTERVAL;
        ctx.run_interval(PROBE_INTERVAL, |act, _ctx| {
            let now = Instant::now();
            act.metrics.record(now.saturating_duration_since(act.due));
            act.due = now + PROBE_INTERVAL;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_land_in_cumulative_buckets() {
        let metrics = LagMetrics::default();
        metrics.record(Duration::from_micros(500));
        metrics.record(Duration::from_millis(20));
        metrics.record(Duration::from_secs(2));
        assert_eq!(metrics.max(), Duration::from_secs(2));
        let mut out = crate::exposition::Exposition::new();
        metrics.render(&mut out);
        let text = out.into_text();
        assert!(
            text.contains("ethpeer_coordinator_lag_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("ethpeer_coordinator_lag_seconds_bucket{le=\"0.05\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("ethpeer_coordinator_lag_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("ethpeer_coordinator_lag_seconds_count 3\n"),
            "{text}"
        );
    }

    /// A handler that blocks the probe's thread shows as lag of about its length.
    #[actix_rt::test]
    async fn a_blocked_thread_shows_as_lag() {
        let metrics = Arc::new(LagMetrics::default());
        LagProbe::new(metrics.clone()).start();
        tokio::time::sleep(PROBE_INTERVAL / 2).await;
        // Blocks this (the probe's) thread past the next due probe.
        std::thread::sleep(PROBE_INTERVAL + Duration::from_millis(150));
        tokio::time::sleep(PROBE_INTERVAL).await;
        assert!(
            metrics.max() >= Duration::from_millis(100),
            "{:?}",
            metrics.max()
        );
    }
}
