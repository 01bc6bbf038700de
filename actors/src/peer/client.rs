//! The typed request client: one place that turns a typed eth request into the message a
//! peer actor sends (the actor assigns the request id, keeps the deadline and checks the
//! reply's type and size) and the reply back into its typed body, as reth's
//! `HeadersClient`/`BodiesClient` do. Callers never build `RequestPair::new(0, ..)` nor
//! match reply variants by hand.

use std::future::Future;

use actix::Recipient;
use alloy_consensus::{Header, ReceiptEnvelope};

use super::requests::{RequestError, SendRequest};
use crate::eth::{
    BlockHeaders, Cells, EthBlockBody, EthMessage, EthMessageId, GetBlockBodies, GetBlockHeaders,
    GetCells, GetPooledTransactions, GetReceipts, GetReceipts70, PooledTx, Receipt69, Receipts70,
    RequestPair,
};

/// A request a peer answers with one typed reply.
pub trait PeerRequest {
    /// The body of the reply.
    type Reply;

    /// The request as a message (request id 0: the peer actor assigns the real one).
    fn into_message(self) -> EthMessage;

    /// The reply's body, or the id of the message when it is another kind.
    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId>;
}

impl PeerRequest for GetBlockHeaders {
    type Reply = Vec<Header>;

    fn into_message(self) -> EthMessage {
        EthMessage::GetBlockHeaders(RequestPair::new(0, self))
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::BlockHeaders(RequestPair {
                message: BlockHeaders(headers),
                ..
            }) => Ok(headers),
            other => Err(other.message_id()),
        }
    }
}

impl PeerRequest for GetBlockBodies {
    type Reply = Vec<EthBlockBody>;

    fn into_message(self) -> EthMessage {
        EthMessage::GetBlockBodies(RequestPair::new(0, self))
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::BlockBodies(reply) => Ok(reply.message.0),
            other => Err(other.message_id()),
        }
    }
}

impl PeerRequest for GetPooledTransactions {
    type Reply = Vec<PooledTx>;

    fn into_message(self) -> EthMessage {
        EthMessage::GetPooledTransactions(RequestPair::new(0, self))
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::PooledTransactions(reply) => Ok(reply.message.0),
            other => Err(other.message_id()),
        }
    }
}

/// Receipts as the negotiated version sends them: with blooms up to eth/68, without
/// (EIP-7642) from eth/69.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptsReply {
    /// eth/66-68: full receipt envelopes, per block.
    WithBlooms(Vec<Vec<ReceiptEnvelope>>),
    /// eth/69: receipts without blooms, per block.
    WithoutBlooms(Vec<Vec<Receipt69>>),
}

impl PeerRequest for GetReceipts {
    type Reply = ReceiptsReply;

    /// eth/66-69's form; eth/70 peers are asked with `GetReceipts70` (partial lists),
    /// which no caller needs yet.
    fn into_message(self) -> EthMessage {
        EthMessage::GetReceipts(RequestPair::new(0, self))
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::Receipts(reply) => Ok(ReceiptsReply::WithBlooms(reply.message.0)),
            EthMessage::Receipts69(reply) => Ok(ReceiptsReply::WithoutBlooms(reply.message.0)),
            other => Err(other.message_id()),
        }
    }
}

/// eth/70+'s receipts request (EIP-7975): a page of receipts from
/// `first_block_receipt_index` of the first block on; the reply says whether the last
/// block was cut short.
impl PeerRequest for GetReceipts70 {
    type Reply = Receipts70;

    fn into_message(self) -> EthMessage {
        EthMessage::GetReceipts70(self)
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::Receipts70(reply) => Ok(reply),
            other => Err(other.message_id()),
        }
    }
}

impl PeerRequest for GetCells {
    /// The eth/72 `Cells` message itself: the txs answered, the columns, the cells.
    type Reply = Cells;

    fn into_message(self) -> EthMessage {
        EthMessage::GetCells(GetCells {
            request_id: 0,
            ..self
        })
    }

    fn take_reply(message: EthMessage) -> Result<Self::Reply, EthMessageId> {
        match message {
            EthMessage::Cells(reply) => Ok(reply),
            other => Err(other.message_id()),
        }
    }
}

/// Why a typed request got no typed reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The peer actor refused, timed out or lost the request.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The peer actor is gone (its mailbox closed).
    #[error("peer gone")]
    Gone,
    /// A reply of another kind (the peer actor matches kinds, so this means a bug).
    #[error("{got:?} does not answer the request")]
    WrongReply {
        /// What arrived.
        got: EthMessageId,
    },
}

/// Sends typed requests to one peer. Cheap to clone; holds only the peer's request
/// recipient, so the future it returns outlives the caller's borrow.
#[derive(Clone, Debug)]
pub struct PeerClient {
    requests: Recipient<SendRequest>,
}

impl PeerClient {
    /// A client over a peer's request recipient.
    pub fn new(requests: Recipient<SendRequest>) -> Self {
        Self { requests }
    }

    /// Sends `request` and resolves to its typed reply (or why there is none).
    pub fn request<R: PeerRequest>(
        &self,
        request: R,
    ) -> impl Future<Output = Result<R::Reply, ClientError>> + 'static
    where
        R::Reply: 'static,
    {
        let sent = self.requests.send(SendRequest(request.into_message()));
        async move {
            let reply = sent.await.map_err(|_| ClientError::Gone)??;
            R::take_reply(reply).map_err(|got| ClientError::WrongReply { got })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::{BlockBodies, CustodyBitmap, PooledTransactions};

    #[test]
    fn each_request_takes_only_its_own_reply() {
        let headers = EthMessage::BlockHeaders(RequestPair::new(3, BlockHeaders(vec![])));
        let bodies = EthMessage::BlockBodies(RequestPair::new(3, BlockBodies(vec![])));
        assert_eq!(GetBlockHeaders::take_reply(headers.clone()), Ok(vec![]));
        assert_eq!(
            GetBlockHeaders::take_reply(bodies.clone()),
            Err(EthMessageId::BlockBodies)
        );
        assert!(GetBlockBodies::take_reply(bodies).is_ok());
        assert!(GetPooledTransactions::take_reply(headers.clone()).is_err());
        let pooled =
            EthMessage::PooledTransactions(RequestPair::new(1, PooledTransactions(vec![])));
        assert_eq!(GetPooledTransactions::take_reply(pooled), Ok(vec![]));
    }

    #[test]
    fn requests_leave_the_id_to_the_peer_actor() {
        let message = GetCells {
            request_id: 99,
            hashes: vec![],
            mask: CustodyBitmap::default(),
        }
        .into_message();
        let EthMessage::GetCells(request) = message else {
            panic!("a GetCells");
        };
        assert_eq!(request.request_id, 0);
        let EthMessage::GetReceipts(pair) = GetReceipts(vec![]).into_message() else {
            panic!("a GetReceipts");
        };
        assert_eq!(pair.request_id, 0);
    }
}
