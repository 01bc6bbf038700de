//! One lock for the heavy integration tests (the 20-node mesh, the go-ethereum eth suite
//! runs, the geth peers, the Kafka fleet): each starts many processes or nodes and needs both cores for its
//! timeouts to mean anything, so they run one at a time while the light tests go on
//! beside them.

use tokio::sync::{Mutex, MutexGuard};

static HEAVY: Mutex<()> = Mutex::const_new(());

/// Waits for the other heavy tests to finish; hold the guard for the whole test. A test
/// that panics releases it as it unwinds (the lock does not poison).
pub async fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().await
}
