//! Messages a peer actor handles (commands) and emits (events).

use std::sync::Arc;

use actix::Message;
use alloy_primitives::{B256, U256};

use super::PeerId;
use crate::eth::EthBlock;
use crate::p2p::DisconnectReason;

/// Command: send these transactions in full (bodies are looked up at send time).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct QueueTxs(pub Vec<B256>);

/// Command: announce these transaction hashes (NewPooledTransactionHashes).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct QueueTxAnns(pub Vec<B256>);

/// Command: propagate a block in full (NewBlock, eth <= 68).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct QueueProp {
    /// The block.
    pub block: Arc<EthBlock>,
    /// Total difficulty including the block.
    pub td: U256,
}

/// Command: announce a block (NewBlockHashes, eth <= 68).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct QueueAnn {
    /// The block hash.
    pub hash: B256,
    /// The block number.
    pub number: u64,
}

/// Command: drop queued work, send Disconnect with `reason`, close and stop.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// The reason sent to the peer.
    pub reason: DisconnectReason,
}

/// Why a peer actor stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// We disconnected it with this reason.
    Disconnected(DisconnectReason),
    /// A write failed (or timed out); the text says how.
    WriteFailed(String),
    /// The remote disconnected us with this reason.
    RemoteDisconnected(DisconnectReason),
    /// The actor was stopped without a disconnect (e.g. its system shut down).
    Dropped,
}

/// Event: a peer actor stopped. The peer set unregisters the peer on it.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct PeerStopped {
    /// The peer.
    pub id: PeerId,
    /// Why it stopped.
    pub reason: StopReason,
}

/// Event: a peer sent an eth message (decoded for its negotiated version). Status never
/// arrives here: it belongs to the handshake, and a second one is a violation.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct InboundEth {
    /// The sender: its id, negotiated version and the commands it takes (an answer with
    /// `send`, a request with [`super::PeerHandle::client`], `disconnect` for violations
    /// found after decoding).
    pub peer: super::PeerHandle,
    /// The message.
    pub message: crate::eth::EthMessage,
    /// Stops and resumes reading this peer's socket (backpressure on its own work).
    pub gate: super::ReadGate,
    /// Counts this message against the peer's [`super::MAX_INBOUND_IN_FLIGHT`] until it
    /// (and what is derived from it) has been handled.
    pub ticket: super::InboundTicket,
    /// For an announcement: the hashes the peer actor already asked its peer for (see
    /// [`super::prefetch`]); their answer follows as a PooledTransactions message, which
    /// names them again here. Empty otherwise.
    pub prefetched: Vec<alloy_primitives::B256>,
}

/// Where a peer's inbound eth messages go, by kind.
#[derive(Clone, Debug, Default)]
pub struct InboundRoutes {
    /// Requests (Get*).
    pub requests: Option<actix::Recipient<InboundEth>>,
    /// GetCells, when they have workers of their own (else they go with `requests`), so
    /// that computing cells never delays header and body serving.
    pub cells: Option<actix::Recipient<InboundEth>>,
    /// Block announcements and ranges (NewBlock, NewBlockHashes, BlockRangeUpdate).
    pub blocks: Option<actix::Recipient<InboundEth>>,
    /// Transactions and their announcements.
    pub transactions: Option<actix::Recipient<InboundEth>>,
    /// Observer of every tx and block the peer delivers or announces (propagation traces,
    /// embedders' "seen" events); `None` skips computing them.
    pub seen: Option<SeenRoute>,
    /// Set when announced txs are fetched at once: the node's shared claims, with which
    /// the peer actor that reads an announcement asks for its never-seen hashes itself.
    pub prefetch: Option<std::sync::Arc<super::PrefetchClaims>>,
}

/// Where [`Seen`] reports go, and whether anyone wants them right now: while `active` is
/// false (no trace, no subscriber) peers skip collecting hashes on the inbound path.
#[derive(Clone, Debug)]
pub struct SeenRoute {
    /// The observer.
    pub to: actix::Recipient<Seen>,
    /// Set by the observer while it has a use for reports.
    pub active: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Run on the peer's own thread with each report before it is sent (the feed's fast
    /// lane: first sightings decided, and `seen` arrivals written, where the message was
    /// decoded); `None` leaves everything to the observer.
    pub hook: Option<std::sync::Arc<dyn SeenHook>>,
}

/// Work done with a [`Seen`] report on the decoding peer's thread (see
/// [`SeenRoute::hook`]); what it returns travels to the observer in [`Seen::note`].
pub trait SeenHook: Send + Sync + std::fmt::Debug {
    /// Handles `report` before it is sent.
    fn record(&self, report: &Seen) -> Option<SeenNote>;

    /// Learns who `peer` is (its Hello's client id, its address, whether we dialed it)
    /// before its first message is read, so that even its first report can name it; the
    /// registration event that also says so reaches the observer's thread later.
    fn introduce(&self, peer: PeerId, client: &str, addr: std::net::SocketAddr, dialed: bool) {
        let _ = (peer, client, addr, dialed);
    }
}

/// What a [`SeenHook`] made of a report, for the observer that installed it (opaque here:
/// the hook's type belongs to the layer above).
#[derive(Clone, Debug)]
pub struct SeenNote(pub std::sync::Arc<dyn std::any::Any + Send + Sync>);

impl InboundRoutes {
    /// Every kind to one recipient.
    pub fn all(recipient: actix::Recipient<InboundEth>) -> Self {
        Self {
            requests: Some(recipient.clone()),
            cells: None,
            blocks: Some(recipient.clone()),
            transactions: Some(recipient),
            seen: None,
            prefetch: None,
        }
    }

    /// The recipient for `message`, if any.
    pub fn route(&self, message: &crate::eth::EthMessage) -> Option<&actix::Recipient<InboundEth>> {
        use crate::eth::EthMessage as M;
        match message {
            M::GetBlockHeaders(_)
            | M::GetBlockBodies(_)
            | M::GetPooledTransactions(_)
            | M::GetNodeData(_)
            | M::GetReceipts(_)
            | M::GetReceipts70(_)
            | M::GetBlockAccessLists(_) => self.requests.as_ref(),
            // Cells may cost c-kzg work: their own worker, when there is one.
            M::GetCells(_) => self.cells.as_ref().or(self.requests.as_ref()),
            M::NewBlock(_) | M::NewBlockHashes(_) | M::BlockRangeUpdate(_) => self.blocks.as_ref(),
            M::Transactions(_)
            | M::NewPooledTransactionHashes66(_)
            | M::NewPooledTransactionHashes68(_)
            | M::NewPooledTransactionHashes72(_) => self.transactions.as_ref(),
            _ => None,
        }
    }
}

/// Command: write this message (a response with its request id mirrored, or a
/// BlockRangeUpdate) ahead of queued broadcasts.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct SendEth(pub crate::eth::EthMessage);

/// How a peer passed something on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// The whole tx or block (Transactions, PooledTransactions, NewBlock).
    Full,
    /// Only its hash (NewPooledTransactionHashes, NewBlockHashes).
    Announced,
}

/// One thing a peer delivered or announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeenItem {
    /// A transaction, by hash.
    Tx(alloy_primitives::B256),
    /// A block, by hash and number.
    Block {
        /// The block hash.
        hash: alloy_primitives::B256,
        /// Its number.
        number: u64,
    },
}

/// Event: a peer delivered or announced txs or blocks. Sent for every such message, before
/// any validation, stamped with the time the frame was decoded.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct Seen {
    /// The peer.
    pub peer: PeerId,
    /// When the message was decoded.
    pub at: std::time::SystemTime,
    /// Full or announced.
    pub delivery: Delivery,
    /// Whether the message answered one of our requests (`PooledTransactions`): a fetch,
    /// not a broadcast.
    pub reply: bool,
    /// What it carried.
    pub items: Vec<SeenItem>,
    /// What the route's [`SeenHook`] made of it on the peer's thread, if there is one.
    pub note: Option<SeenNote>,
}

impl Seen {
    /// What `message` carries, if it delivers or announces txs or blocks.
    pub fn items_of(message: &crate::eth::EthMessage) -> Option<(Delivery, Vec<SeenItem>)> {
        use crate::eth::EthMessage as M;
        let txs = |hashes: &mut dyn Iterator<Item = alloy_primitives::B256>| -> Vec<SeenItem> {
            hashes.map(SeenItem::Tx).collect()
        };
        Some(match message {
            M::Transactions(list) => (
                Delivery::Full,
                txs(&mut list.0.iter().map(|tx| *tx.tx_hash())),
            ),
            M::PooledTransactions(pair) => (
                Delivery::Full,
                txs(&mut pair.message.0.iter().map(|tx| *tx.tx_hash())),
            ),
            M::NewPooledTransactionHashes66(ann) => {
                (Delivery::Announced, txs(&mut ann.0.iter().copied()))
            }
            M::NewPooledTransactionHashes68(ann) => {
                (Delivery::Announced, txs(&mut ann.hashes.iter().copied()))
            }
            M::NewPooledTransactionHashes72(ann) => {
                (Delivery::Announced, txs(&mut ann.hashes.iter().copied()))
            }
            M::NewBlock(new) => (
                Delivery::Full,
                vec![SeenItem::Block {
                    hash: new.block.header.hash_slow(),
                    number: new.block.header.number,
                }],
            ),
            M::NewBlockHashes(ann) => (
                Delivery::Announced,
                ann.0
                    .iter()
                    .map(|b| SeenItem::Block {
                        hash: b.hash,
                        number: b.number,
                    })
                    .collect(),
            ),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::cells::{CustodyBitmap, NewPooledTransactionHashes72};
    use crate::eth::{EthMessage, NewPooledTransactionHashes66, NewPooledTransactionHashes68};
    use alloy_primitives::{Bytes, B256};

    #[test]
    fn every_version_of_the_announcement_is_reported_as_one() {
        let hashes = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
        let announced: Vec<SeenItem> = hashes.iter().copied().map(SeenItem::Tx).collect();
        let (types, sizes) = (Bytes::from(vec![2u8, 3]), vec![120, 131_200]);
        for message in [
            EthMessage::NewPooledTransactionHashes66(NewPooledTransactionHashes66(hashes.clone())),
            EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                types: types.clone(),
                sizes: sizes.clone(),
                hashes: hashes.clone(),
            }),
            // eth/72's (EIP-8070): the one geth v1.17 peers send; it was missed once.
            EthMessage::NewPooledTransactionHashes72(NewPooledTransactionHashes72 {
                types: types.clone(),
                sizes: sizes.clone(),
                hashes: hashes.clone(),
                mask: CustodyBitmap::ALL,
            }),
        ] {
            let (delivery, items) = Seen::items_of(&message).expect("an announcement");
            assert_eq!(delivery, Delivery::Announced, "{message:?}");
            assert_eq!(items, announced, "{message:?}");
        }
    }
}
