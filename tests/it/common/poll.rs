//! Waiting for a condition that has no notification: one poll-until helper for every test,
//! with a deadline that fails the test with what was awaited (a bound on a hung test, not a
//! speed requirement).

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 20 ms for up to 20 s: the state lives in another process or actor,
/// which offers no notification for it.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(20), check).await
}

/// [`eventually`] with another deadline.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
