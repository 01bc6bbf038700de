//! What a peer actor does with frames from the remote: p2p keepalive and Disconnect, eth
//! decoding with violations turned into disconnects, and decoded messages handed on.

use actix::prelude::*;

use super::{short, Disconnect, InboundEth, Outbound, PeerActor, PeerMetrics, Seen, StopReason};
use crate::eth::{EthMessage, EthMessageId};
use crate::p2p::{self, DisconnectReason, P2pMessage};
use crate::rlpx::{RlpxError, RlpxMessage};

impl StreamHandler<Result<RlpxMessage, RlpxError>> for PeerActor {
    fn handle(&mut self, item: Result<RlpxMessage, RlpxError>, ctx: &mut Self::Context) {
        if self.disconnecting.is_some() {
            // Draining until the remote closes; nothing it says matters any more.
            return;
        }
        let message = match item {
            Ok(message) => message,
            Err(error) => {
                // A bad MAC or frame: the stream cannot be trusted any further.
                log::debug!("peer {}: inbound: {error}", short(&self.id()));
                self.set_stop_reason(StopReason::WriteFailed(format!("inbound: {error}")));
                ctx.notify(Disconnect {
                    reason: error.disconnect_reason(),
                });
                return;
            }
        };
        if message.id < p2p::BASE_PROTOCOL_LENGTH {
            self.handle_p2p(message, ctx);
        } else {
            self.handle_eth(message, ctx);
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        log::debug!("peer {}: remote closed the connection", short(&self.id()));
        self.set_stop_reason(StopReason::RemoteDisconnected(DisconnectReason::TcpError));
        ctx.stop();
    }
}

impl PeerActor {
    fn handle_p2p(&mut self, message: RlpxMessage, ctx: &mut Context<Self>) {
        match P2pMessage::decode(message.id, &message.payload) {
            Ok(P2pMessage::Ping) => self.queue_control(Outbound::Pong, ctx),
            Ok(P2pMessage::Pong) => self.ping_sent = None,
            Ok(P2pMessage::Disconnect(reason)) => {
                let reason = reason.unwrap_or(DisconnectReason::DisconnectRequested);
                log::debug!("peer {}: remote disconnected: {reason}", short(&self.id()));
                self.set_stop_reason(StopReason::RemoteDisconnected(reason));
                ctx.stop();
            }
            Ok(P2pMessage::Hello(_)) => {
                log::debug!("peer {}: second Hello", short(&self.id()));
                ctx.notify(Disconnect {
                    reason: DisconnectReason::ProtocolBreach,
                });
            }
            Err(error) => {
                log::debug!("peer {}: {error}", short(&self.id()));
                ctx.notify(Disconnect {
                    reason: error.disconnect_reason(),
                });
            }
        }
    }

    fn handle_eth(&mut self, message: RlpxMessage, ctx: &mut Context<Self>) {
        let id = message.id - self.eth_offset;
        let decoded = u8::try_from(id)
            .map_err(|_| crate::eth::EthWireError::UnknownMessageId { id: u8::MAX })
            .and_then(|id| EthMessage::decode(self.version(), id, &message.payload));
        let observer = self
            .on_message
            .seen
            .as_ref()
            .filter(|route| route.active.load(std::sync::atomic::Ordering::Relaxed));
        if let (Ok(message), Some(route)) = (&decoded, observer) {
            if let Some((delivery, items)) = Seen::items_of(message) {
                let mut report = Seen {
                    peer: self.id(),
                    at: std::time::SystemTime::now(),
                    delivery,
                    reply: matches!(message, EthMessage::PooledTransactions(_)),
                    items,
                    note: None,
                };
                if let Some(hook) = &route.hook {
                    report.note = hook.record(&report);
                }
                // Bounded: an observer that falls behind loses reports, counted per peer.
                if route.to.try_send(report).is_err() {
                    PeerMetrics::add(&self.metrics.dropped_seen, 1);
                }
            }
        }
        match decoded {
            Ok(message) if message.message_id() == EthMessageId::Status => {
                log::debug!("peer {}: second Status", short(&self.id()));
                ctx.notify(Disconnect {
                    reason: DisconnectReason::SubprotocolSpecific,
                });
            }
            Ok(message) if message.message_id().is_response() => {
                match self.requests.resolve(message) {
                    Ok(super::requests::Resolved::Answered) => {}
                    Ok(super::requests::Resolved::Late) => {
                        PeerMetrics::add(&self.metrics.late_responses, 1);
                    }
                    Err(violation) => {
                        log::debug!("peer {}: {violation}", short(&self.id()));
                        ctx.notify(Disconnect {
                            reason: DisconnectReason::SubprotocolSpecific,
                        });
                    }
                }
            }
            Ok(message) => {
                if let Some(violation) = broadcast_violation(&message) {
                    log::debug!("peer {}: {violation}", short(&self.id()));
                    ctx.notify(Disconnect {
                        reason: DisconnectReason::SubprotocolSpecific,
                    });
                    return;
                }
                if let Some(route) = self.on_message.route(&message).cloned() {
                    if message.message_id().is_request() {
                        self.serving_started(ctx);
                    }
                    let prefetched = self.prefetch(&message, &route, ctx);
                    route.do_send(InboundEth {
                        ticket: self.gate.ticket(),
                        gate: self.gate.clone(),
                        peer: self.link(ctx),
                        message,
                        prefetched,
                    });
                }
            }
            Err(error) => {
                log::debug!("peer {}: eth violation: {error}", short(&self.id()));
                ctx.notify(Disconnect {
                    reason: error.disconnect_reason(),
                });
            }
        }
    }
}

/// Most transactions one Transactions message may carry; more is a violation (geth
/// `maxTransactionAnnouncements`, 5000, `eth/protocols/eth/protocol.go`).
pub const MAX_TRANSACTIONS_PER_MESSAGE: usize = 5000;

/// Rules on broadcasts that geth enforces with a disconnect: at most
/// [`MAX_TRANSACTIONS_PER_MESSAGE`] txs, no blob transaction inside Transactions
/// (EIP-4844: blob txs are only announced), no hash twice in one announcement.
fn broadcast_violation(message: &EthMessage) -> Option<&'static str> {
    let duplicates = |hashes: &[alloy_primitives::B256]| {
        let mut seen = std::collections::HashSet::with_capacity(hashes.len());
        !hashes.iter().all(|h| seen.insert(h))
    };
    match message {
        EthMessage::Transactions(txs) if txs.0.len() > MAX_TRANSACTIONS_PER_MESSAGE => {
            Some("more than 5000 transactions in one message")
        }
        EthMessage::Transactions(txs) if txs.0.iter().any(|tx| tx.is_eip4844()) => {
            Some("blob transaction in a Transactions broadcast")
        }
        EthMessage::NewPooledTransactionHashes66(ann) if duplicates(&ann.0) => {
            Some("duplicate hashes in one announcement")
        }
        EthMessage::NewPooledTransactionHashes68(ann) if duplicates(&ann.hashes) => {
            Some("duplicate hashes in one announcement")
        }
        EthMessage::NewPooledTransactionHashes72(ann) if duplicates(&ann.hashes) => {
            Some("duplicate hashes in one announcement")
        }
        _ => None,
    }
}
