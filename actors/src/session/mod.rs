//! Sessions: the handshakes that turn a byte stream into a keyed, negotiated eth
//! connection (reth's `UnauthedP2PStream::handshake` is the model), as plain async
//! functions over any `AsyncRead + AsyncWrite`. No actix here; the peer actor is created
//! from the [`Established`] result.

mod error;
mod handshake;
mod listener;
mod status;

pub use error::{SessionError, Stage};
pub use handshake::{
    accept, dial, DetachedSession, Established, SessionConfig, SessionRead, HANDSHAKE_STEP_TIMEOUT,
};
pub use listener::{accept_loop, ListenerMetrics, MAX_PENDING_HANDSHAKES};
pub use status::{ChainStatus, StatusExchange, StatusMismatch, StatusRejection, StoreStatus};

#[cfg(test)]
mod tests;
