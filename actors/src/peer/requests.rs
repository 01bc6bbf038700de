//! Requests we send to a peer: request-id allocation, the pending table with a deadline per
//! request, and matching responses by id, message type and item count. Anything that does
//! not match is a protocol violation by the peer (geth's tracker errors, 0x10).

use std::collections::HashMap;
use std::time::Duration;

use actix::Message;
use futures::channel::oneshot;

use crate::eth::{EthMessage, EthMessageId};

/// How long a request may go unanswered before the requester is told it timed out (the
/// issue's 5 s default; geth's downloader starts from a few seconds too).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Requests in flight per peer at most; more are refused until some complete.
pub const MAX_PENDING_REQUESTS: usize = 64;

/// Ids of requests that timed out, remembered so that their late answers are dropped
/// quietly (counted) rather than taken for unsolicited responses: a slow peer is not a
/// hostile one. Four windows of [`MAX_PENDING_REQUESTS`].
pub const REMEMBERED_EXPIRED: usize = 4 * MAX_PENDING_REQUESTS;

/// Command: send `0` (a request; its id is assigned here) and answer with the response.
#[derive(Debug, Message)]
#[rtype(result = "Result<EthMessage, RequestError>")]
pub struct SendRequest(pub EthMessage);

/// Why a request got no (valid) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The message is not a request.
    #[error("{id:?} is not a request")]
    NotARequest {
        /// The message id.
        id: EthMessageId,
    },
    /// Too many requests are in flight to this peer.
    #[error("{limit} requests already in flight")]
    TooManyPending {
        /// The limit.
        limit: usize,
    },
    /// No response within the deadline.
    #[error("no response within {after:?}")]
    Timeout {
        /// The deadline.
        after: Duration,
    },
    /// The peer disconnected (or broke the protocol) before answering.
    #[error("peer gone before answering")]
    PeerGone,
}

/// A response that matches no request we sent: the peer is disconnected for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseViolation {
    /// No request with this id is pending.
    #[error("unsolicited {id:?} with request id {request_id}")]
    Unsolicited {
        /// The message.
        id: EthMessageId,
        /// Its request id.
        request_id: u64,
    },
    /// The response type does not answer the request with that id.
    #[error("{got:?} answers a request that expects {expected:?}")]
    WrongType {
        /// What arrived.
        got: EthMessageId,
        /// What the request expects.
        expected: EthMessageId,
    },
    /// More items than were asked for.
    #[error("{got} items where at most {asked} were asked for")]
    TooManyItems {
        /// Items in the response.
        got: u64,
        /// Items requested.
        asked: u64,
    },
}

struct Pending {
    expected: EthMessageId,
    max_items: u64,
    reply: oneshot::Sender<Result<EthMessage, RequestError>>,
}

/// The pending-request table of one peer.
#[derive(Default)]
pub(super) struct RequestTracker {
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Ids that timed out, oldest first, at most [`REMEMBERED_EXPIRED`].
    expired: std::collections::VecDeque<u64>,
}

/// What became of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resolved {
    /// Handed to the requester.
    Answered,
    /// It answers a request that had timed out: dropped.
    Late,
}

impl RequestTracker {
    /// Assigns `request` a fresh id and records it. Returns the id.
    pub(super) fn start(
        &mut self,
        request: &mut EthMessage,
        reply: oneshot::Sender<Result<EthMessage, RequestError>>,
    ) -> Result<
        u64,
        (
            RequestError,
            oneshot::Sender<Result<EthMessage, RequestError>>,
        ),
    > {
        let Some((expected, max_items)) = request.expected_response() else {
            return Err((
                RequestError::NotARequest {
                    id: request.message_id(),
                },
                reply,
            ));
        };
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            return Err((
                RequestError::TooManyPending {
                    limit: MAX_PENDING_REQUESTS,
                },
                reply,
            ));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        if let Some(slot) = request.request_id_mut() {
            *slot = id;
        }
        self.pending.insert(
            id,
            Pending {
                expected,
                max_items,
                reply,
            },
        );
        Ok(id)
    }

    /// Matches a response to its request and hands it to the requester.
    pub(super) fn resolve(&mut self, response: EthMessage) -> Result<Resolved, ResponseViolation> {
        let got = response.message_id();
        let request_id = response.request_id().unwrap_or_default();
        if let Some(at) = self.expired.iter().position(|id| *id == request_id) {
            self.expired.remove(at);
            return Ok(Resolved::Late);
        }
        let Some(pending) = self.pending.remove(&request_id) else {
            return Err(ResponseViolation::Unsolicited {
                id: got,
                request_id,
            });
        };
        if pending.expected != got {
            let _ = pending.reply.send(Err(RequestError::PeerGone));
            return Err(ResponseViolation::WrongType {
                got,
                expected: pending.expected,
            });
        }
        let items = response.response_items().unwrap_or_default();
        if items > pending.max_items {
            let _ = pending.reply.send(Err(RequestError::PeerGone));
            return Err(ResponseViolation::TooManyItems {
                got: items,
                asked: pending.max_items,
            });
        }
        // The requester may have given up; that is its business.
        let _ = pending.reply.send(Ok(response));
        Ok(Resolved::Answered)
    }

    /// Gives up on request `id` if it is still pending; its answer, if it still comes, is
    /// dropped as late.
    pub(super) fn expire(&mut self, id: u64, after: Duration) {
        if let Some(pending) = self.pending.remove(&id) {
            let _ = pending.reply.send(Err(RequestError::Timeout { after }));
            if self.expired.len() >= REMEMBERED_EXPIRED {
                self.expired.pop_front();
            }
            self.expired.push_back(id);
        }
    }
}
