//! The one [`EthMessage`] enum for every eth version, its message ids, and the single place
//! where a payload is decoded according to the negotiated version.

use alloy_rlp::{Decodable, Encodable};

use super::{
    BlockAccessLists, BlockBodies, BlockHeaders, BlockRangeUpdate, Cells, EthVersion, EthWireError,
    GetBlockAccessLists, GetBlockBodies, GetBlockHeaders, GetCells, GetNodeData,
    GetPooledTransactions, GetReceipts, GetReceipts70, NewBlock, NewBlockHashes,
    NewPooledTransactionHashes66, NewPooledTransactionHashes68, NewPooledTransactionHashes72,
    NodeData, PooledTransactions, Receipts, Receipts69, Receipts70, RequestPair, Status, Status69,
    Transactions,
};

/// Largest eth message accepted, in bytes (geth `maxMessageSize`, 10 MiB; `caps/eth.md`
/// says larger messages warrant a disconnect).
pub const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// eth message ids, relative to the eth capability's offset (`caps/eth.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[repr(u8)]
pub enum EthMessageId {
    /// 0x00 Status.
    Status = 0x00,
    /// 0x01 NewBlockHashes (eth <= 68).
    NewBlockHashes = 0x01,
    /// 0x02 Transactions.
    Transactions = 0x02,
    /// 0x03 GetBlockHeaders.
    GetBlockHeaders = 0x03,
    /// 0x04 BlockHeaders.
    BlockHeaders = 0x04,
    /// 0x05 GetBlockBodies.
    GetBlockBodies = 0x05,
    /// 0x06 BlockBodies.
    BlockBodies = 0x06,
    /// 0x07 NewBlock (eth <= 68).
    NewBlock = 0x07,
    /// 0x08 NewPooledTransactionHashes.
    NewPooledTransactionHashes = 0x08,
    /// 0x09 GetPooledTransactions.
    GetPooledTransactions = 0x09,
    /// 0x0a PooledTransactions.
    PooledTransactions = 0x0a,
    /// 0x0d GetNodeData (eth/66 only).
    GetNodeData = 0x0d,
    /// 0x0e NodeData (eth/66 only).
    NodeData = 0x0e,
    /// 0x0f GetReceipts.
    GetReceipts = 0x0f,
    /// 0x10 Receipts.
    Receipts = 0x10,
    /// 0x11 BlockRangeUpdate (eth >= 69).
    BlockRangeUpdate = 0x11,
    /// 0x12 GetBlockAccessLists (eth >= 71, EIP-8159).
    GetBlockAccessLists = 0x12,
    /// 0x13 BlockAccessLists (eth >= 71, EIP-8159).
    BlockAccessLists = 0x13,
    /// 0x14 GetCells (eth >= 72).
    GetCells = 0x14,
    /// 0x15 Cells (eth >= 72).
    Cells = 0x15,
}

impl EthMessageId {
    /// Every id, in code order.
    pub const ALL: [Self; 20] = [
        Self::Status,
        Self::NewBlockHashes,
        Self::Transactions,
        Self::GetBlockHeaders,
        Self::BlockHeaders,
        Self::GetBlockBodies,
        Self::BlockBodies,
        Self::NewBlock,
        Self::NewPooledTransactionHashes,
        Self::GetPooledTransactions,
        Self::PooledTransactions,
        Self::GetNodeData,
        Self::NodeData,
        Self::GetReceipts,
        Self::Receipts,
        Self::BlockRangeUpdate,
        Self::GetBlockAccessLists,
        Self::BlockAccessLists,
        Self::GetCells,
        Self::Cells,
    ];

    /// Looks up an id; `None` for codes no eth version defines (0x0b, 0x0c, > 0x15).
    pub fn from_u8(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u8 == id)
    }

    /// Whether the message exists in `version`: GetNodeData/NodeData only in eth/66
    /// (EIP-4938), NewBlock/NewBlockHashes only up to eth/68 (geth's eth/69 handler table
    /// has no entry for them), BlockRangeUpdate from eth/69 (EIP-7642), the block access
    /// list messages from eth/71 (EIP-8159), the cell messages from eth/72.
    pub fn is_valid_in(self, version: EthVersion) -> bool {
        match self {
            Self::GetNodeData | Self::NodeData => version == EthVersion::Eth66,
            Self::NewBlock | Self::NewBlockHashes => version <= EthVersion::Eth68,
            Self::BlockRangeUpdate => version >= EthVersion::Eth69,
            Self::GetBlockAccessLists | Self::BlockAccessLists => version >= EthVersion::Eth71,
            Self::GetCells | Self::Cells => version >= EthVersion::Eth72,
            _ => true,
        }
    }

    /// Whether the message asks the peer for data (answered with a response).
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Self::GetBlockHeaders
                | Self::GetBlockBodies
                | Self::GetPooledTransactions
                | Self::GetNodeData
                | Self::GetReceipts
                | Self::GetBlockAccessLists
                | Self::GetCells
        )
    }

    /// Whether the message answers a request (and so must match one we sent).
    pub fn is_response(self) -> bool {
        matches!(
            self,
            Self::BlockHeaders
                | Self::BlockBodies
                | Self::PooledTransactions
                | Self::NodeData
                | Self::Receipts
                | Self::BlockAccessLists
                | Self::Cells
        )
    }
}

/// Every eth message of every supported version.
///
/// A variant carries a version suffix only where its encoding changed: `Status` (66-68)
/// vs `Status69` (69+), `NewPooledTransactionHashes66` (66/67) vs `...68` (68+), and the
/// receipt messages of eth/69 and eth/70. Request/response messages carry their EIP-2481
/// request id; eth/70's receipt messages have it inline because their envelope has three
/// elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EthMessage {
    /// Status for eth/66-68.
    Status(Status),
    /// Status for eth/69+.
    Status69(Status69),
    /// NewBlockHashes (eth <= 68).
    NewBlockHashes(NewBlockHashes),
    /// Transactions.
    Transactions(Transactions),
    /// GetBlockHeaders.
    GetBlockHeaders(RequestPair<GetBlockHeaders>),
    /// BlockHeaders.
    BlockHeaders(RequestPair<BlockHeaders>),
    /// GetBlockBodies.
    GetBlockBodies(RequestPair<GetBlockBodies>),
    /// BlockBodies.
    BlockBodies(RequestPair<BlockBodies>),
    /// NewBlock (eth <= 68). Boxed: a block is large next to the other variants.
    NewBlock(Box<NewBlock>),
    /// NewPooledTransactionHashes for eth/66-67.
    NewPooledTransactionHashes66(NewPooledTransactionHashes66),
    /// NewPooledTransactionHashes for eth/68-71.
    NewPooledTransactionHashes68(NewPooledTransactionHashes68),
    /// NewPooledTransactionHashes for eth/72 (with the custody mask).
    NewPooledTransactionHashes72(NewPooledTransactionHashes72),
    /// GetPooledTransactions.
    GetPooledTransactions(RequestPair<GetPooledTransactions>),
    /// PooledTransactions.
    PooledTransactions(RequestPair<PooledTransactions>),
    /// GetNodeData (eth/66).
    GetNodeData(RequestPair<GetNodeData>),
    /// NodeData (eth/66).
    NodeData(RequestPair<NodeData>),
    /// GetReceipts for eth/66-69.
    GetReceipts(RequestPair<GetReceipts>),
    /// GetReceipts for eth/70.
    GetReceipts70(GetReceipts70),
    /// Receipts for eth/66-68 (with bloom).
    Receipts(RequestPair<Receipts>),
    /// Receipts for eth/69 (without bloom).
    Receipts69(RequestPair<Receipts69>),
    /// Receipts for eth/70 (without bloom, paged).
    Receipts70(Receipts70),
    /// BlockRangeUpdate (eth >= 69).
    BlockRangeUpdate(BlockRangeUpdate),
    /// GetBlockAccessLists (eth >= 71).
    GetBlockAccessLists(RequestPair<GetBlockAccessLists>),
    /// BlockAccessLists (eth >= 71).
    BlockAccessLists(RequestPair<BlockAccessLists>),
    /// GetCells (eth >= 72).
    GetCells(GetCells),
    /// Cells (eth >= 72).
    Cells(Cells),
}

/// Applies `$e` to the request id field of every message that has one (the one list of
/// such messages), `None` for the others.
macro_rules! request_id_field {
    ($message:expr, $m:ident => $e:expr) => {
        match $message {
            Self::GetBlockHeaders($m) => Some($e),
            Self::BlockHeaders($m) => Some($e),
            Self::GetBlockBodies($m) => Some($e),
            Self::BlockBodies($m) => Some($e),
            Self::GetPooledTransactions($m) => Some($e),
            Self::PooledTransactions($m) => Some($e),
            Self::GetNodeData($m) => Some($e),
            Self::NodeData($m) => Some($e),
            Self::GetReceipts($m) => Some($e),
            Self::GetReceipts70($m) => Some($e),
            Self::Receipts($m) => Some($e),
            Self::Receipts69($m) => Some($e),
            Self::Receipts70($m) => Some($e),
            Self::GetBlockAccessLists($m) => Some($e),
            Self::BlockAccessLists($m) => Some($e),
            Self::GetCells($m) => Some($e),
            Self::Cells($m) => Some($e),
            _ => None,
        }
    };
}

impl EthMessage {
    /// Decodes the payload of message `id` as sent on a connection that negotiated `version`.
    ///
    /// This is the one place where versions gate decoding: an id unknown to every version,
    /// an id illegal in `version`, a payload that is not exactly one well-formed RLP item of
    /// the right shape, an oversized payload, and the shape rules the spec adds (equal eth/68
    /// announcement lists, a sane block range) are all typed [`EthWireError`]s.
    pub fn decode(version: EthVersion, id: u8, mut payload: &[u8]) -> Result<Self, EthWireError> {
        let message_id = EthMessageId::from_u8(id).ok_or(EthWireError::UnknownMessageId { id })?;
        if !message_id.is_valid_in(version) {
            return Err(EthWireError::IllegalInVersion {
                id: message_id,
                version,
            });
        }
        if payload.len() > MAX_MESSAGE_SIZE {
            return Err(EthWireError::MessageTooLarge {
                size: payload.len(),
                limit: MAX_MESSAGE_SIZE,
            });
        }
        let buf = &mut payload;
        let message = Self::decode_body(version, message_id, buf)?;
        if !buf.is_empty() {
            return Err(EthWireError::TrailingBytes {
                id: message_id,
                trailing: buf.len(),
            });
        }
        Ok(message)
    }

    /// The body of a message whose id is legal in `version`: the one match from id (and
    /// version, where an encoding changed) to variant.
    fn decode_body(
        version: EthVersion,
        message_id: EthMessageId,
        buf: &mut &[u8],
    ) -> Result<Self, EthWireError> {
        let eth69 = version >= EthVersion::Eth69;
        Ok(match message_id {
            EthMessageId::Status if eth69 => Self::Status69(item(message_id, buf)?),
            EthMessageId::Status => Self::Status(item(message_id, buf)?),
            EthMessageId::NewBlockHashes => Self::NewBlockHashes(item(message_id, buf)?),
            EthMessageId::Transactions => Self::Transactions(item(message_id, buf)?),
            EthMessageId::GetBlockHeaders => Self::GetBlockHeaders(item(message_id, buf)?),
            EthMessageId::BlockHeaders => Self::BlockHeaders(item(message_id, buf)?),
            EthMessageId::GetBlockBodies => Self::GetBlockBodies(item(message_id, buf)?),
            EthMessageId::BlockBodies => Self::BlockBodies(item(message_id, buf)?),
            EthMessageId::NewBlock => Self::NewBlock(Box::new(item::<NewBlock>(message_id, buf)?)),
            EthMessageId::NewPooledTransactionHashes if version >= EthVersion::Eth72 => {
                let announcement = item::<NewPooledTransactionHashes72>(message_id, buf)?;
                announcement.validate()?;
                Self::NewPooledTransactionHashes72(announcement)
            }
            EthMessageId::NewPooledTransactionHashes if version >= EthVersion::Eth68 => {
                let announcement = item::<NewPooledTransactionHashes68>(message_id, buf)?;
                announcement.validate()?;
                Self::NewPooledTransactionHashes68(announcement)
            }
            EthMessageId::NewPooledTransactionHashes => {
                Self::NewPooledTransactionHashes66(item(message_id, buf)?)
            }
            EthMessageId::GetPooledTransactions => {
                Self::GetPooledTransactions(item(message_id, buf)?)
            }
            EthMessageId::PooledTransactions => Self::PooledTransactions(item(message_id, buf)?),
            EthMessageId::GetNodeData => Self::GetNodeData(item(message_id, buf)?),
            EthMessageId::NodeData => Self::NodeData(item(message_id, buf)?),
            EthMessageId::GetReceipts if version >= EthVersion::Eth70 => {
                Self::GetReceipts70(item(message_id, buf)?)
            }
            EthMessageId::GetReceipts => Self::GetReceipts(item(message_id, buf)?),
            EthMessageId::Receipts if version >= EthVersion::Eth70 => {
                Self::Receipts70(item(message_id, buf)?)
            }
            EthMessageId::Receipts if eth69 => Self::Receipts69(item(message_id, buf)?),
            EthMessageId::Receipts => Self::Receipts(item(message_id, buf)?),
            EthMessageId::BlockRangeUpdate => {
                let update = item::<BlockRangeUpdate>(message_id, buf)?;
                update.validate()?;
                Self::BlockRangeUpdate(update)
            }
            EthMessageId::GetBlockAccessLists => Self::GetBlockAccessLists(item(message_id, buf)?),
            EthMessageId::BlockAccessLists => Self::BlockAccessLists(item(message_id, buf)?),
            EthMessageId::GetCells => Self::GetCells(item(message_id, buf)?),
            EthMessageId::Cells => {
                let cells = item::<Cells>(message_id, buf)?;
                cells.validate()?;
                Self::Cells(cells)
            }
        })
    }

    /// The message's id.
    pub fn message_id(&self) -> EthMessageId {
        match self {
            Self::Status(_) | Self::Status69(_) => EthMessageId::Status,
            Self::NewBlockHashes(_) => EthMessageId::NewBlockHashes,
            Self::Transactions(_) => EthMessageId::Transactions,
            Self::GetBlockHeaders(_) => EthMessageId::GetBlockHeaders,
            Self::BlockHeaders(_) => EthMessageId::BlockHeaders,
            Self::GetBlockBodies(_) => EthMessageId::GetBlockBodies,
            Self::BlockBodies(_) => EthMessageId::BlockBodies,
            Self::NewBlock(_) => EthMessageId::NewBlock,
            Self::NewPooledTransactionHashes66(_)
            | Self::NewPooledTransactionHashes68(_)
            | Self::NewPooledTransactionHashes72(_) => EthMessageId::NewPooledTransactionHashes,
            Self::GetPooledTransactions(_) => EthMessageId::GetPooledTransactions,
            Self::PooledTransactions(_) => EthMessageId::PooledTransactions,
            Self::GetNodeData(_) => EthMessageId::GetNodeData,
            Self::NodeData(_) => EthMessageId::NodeData,
            Self::GetReceipts(_) | Self::GetReceipts70(_) => EthMessageId::GetReceipts,
            Self::Receipts(_) | Self::Receipts69(_) | Self::Receipts70(_) => EthMessageId::Receipts,
            Self::BlockRangeUpdate(_) => EthMessageId::BlockRangeUpdate,
            Self::GetBlockAccessLists(_) => EthMessageId::GetBlockAccessLists,
            Self::BlockAccessLists(_) => EthMessageId::BlockAccessLists,
            Self::GetCells(_) => EthMessageId::GetCells,
            Self::Cells(_) => EthMessageId::Cells,
        }
    }

    /// Whether this variant is the right shape for `version` (what [`Self::decode`] would
    /// produce there). Senders check this before encoding.
    pub fn is_valid_for(&self, version: EthVersion) -> bool {
        let eth68 = version >= EthVersion::Eth68;
        let eth69 = version >= EthVersion::Eth69;
        let eth70 = version >= EthVersion::Eth70;
        self.message_id().is_valid_in(version)
            && match self {
                Self::Status(_) => !eth69,
                Self::Status69(_) => eth69,
                Self::NewPooledTransactionHashes66(_) => !eth68,
                Self::NewPooledTransactionHashes68(_) => eth68 && version < EthVersion::Eth72,
                Self::NewPooledTransactionHashes72(_) => version >= EthVersion::Eth72,
                Self::GetReceipts(_) => !eth70,
                Self::GetReceipts70(_) => eth70,
                Self::Receipts(_) => !eth69,
                Self::Receipts69(_) => eth69 && !eth70,
                Self::Receipts70(_) => eth70,
                _ => true,
            }
    }

    /// The request id, for request and response messages.
    pub fn request_id(&self) -> Option<u64> {
        request_id_field!(self, m => m.request_id)
    }

    /// The request id, mutable (to assign one when sending a request).
    pub fn request_id_mut(&mut self) -> Option<&mut u64> {
        request_id_field!(self, m => &mut m.request_id)
    }

    /// For a request: the id of the response it expects and how many items it asks for at
    /// most (headers: the limit; otherwise the number of hashes). `None` for other messages.
    pub fn expected_response(&self) -> Option<(EthMessageId, u64)> {
        let len = |n: usize| n as u64;
        Some(match self {
            Self::GetBlockHeaders(m) => (EthMessageId::BlockHeaders, m.message.limit),
            Self::GetBlockBodies(m) => (EthMessageId::BlockBodies, len(m.message.0.len())),
            Self::GetPooledTransactions(m) => {
                (EthMessageId::PooledTransactions, len(m.message.0.len()))
            }
            Self::GetNodeData(m) => (EthMessageId::NodeData, len(m.message.0.len())),
            Self::GetReceipts(m) => (EthMessageId::Receipts, len(m.message.0.len())),
            Self::GetReceipts70(m) => (EthMessageId::Receipts, len(m.block_hashes.len())),
            Self::GetBlockAccessLists(m) => {
                (EthMessageId::BlockAccessLists, len(m.message.0.len()))
            }
            Self::GetCells(m) => (EthMessageId::Cells, len(m.hashes.len())),
            _ => return None,
        })
    }

    /// For a response: how many items it carries (headers, bodies, transactions, nodes, or
    /// blocks' receipt lists). `None` for other messages.
    pub fn response_items(&self) -> Option<u64> {
        let len = |n: usize| Some(n as u64);
        match self {
            Self::BlockHeaders(m) => len(m.message.0.len()),
            Self::BlockBodies(m) => len(m.message.0.len()),
            Self::PooledTransactions(m) => len(m.message.0.len()),
            Self::NodeData(m) => len(m.message.0.len()),
            Self::Receipts(m) => len(m.message.0.len()),
            Self::Receipts69(m) => len(m.message.0.len()),
            Self::Receipts70(m) => len(m.receipts.len()),
            Self::BlockAccessLists(m) => len(m.message.0.len()),
            Self::Cells(m) => len(m.hashes.len()),
            _ => None,
        }
    }

    /// Encodes the payload (without the message id) into `out`.
    pub fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        self.inner().encode(out)
    }

    /// The encoded payload length in bytes.
    pub fn length(&self) -> usize {
        self.inner().length()
    }

    /// The encoded payload (without the message id).
    pub fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.length());
        self.encode(&mut out);
        out
    }

    fn inner(&self) -> &dyn Encodable {
        match self {
            Self::Status(m) => m,
            Self::Status69(m) => m,
            Self::NewBlockHashes(m) => m,
            Self::Transactions(m) => m,
            Self::GetBlockHeaders(m) => m,
            Self::BlockHeaders(m) => m,
            Self::GetBlockBodies(m) => m,
            Self::BlockBodies(m) => m,
            Self::NewBlock(m) => m.as_ref(),
            Self::NewPooledTransactionHashes66(m) => m,
            Self::NewPooledTransactionHashes68(m) => m,
            Self::NewPooledTransactionHashes72(m) => m,
            Self::GetPooledTransactions(m) => m,
            Self::PooledTransactions(m) => m,
            Self::GetNodeData(m) => m,
            Self::NodeData(m) => m,
            Self::GetReceipts(m) => m,
            Self::GetReceipts70(m) => m,
            Self::Receipts(m) => m,
            Self::Receipts69(m) => m,
            Self::Receipts70(m) => m,
            Self::BlockRangeUpdate(m) => m,
            Self::GetBlockAccessLists(m) => m,
            Self::BlockAccessLists(m) => m,
            Self::GetCells(m) => m,
            Self::Cells(m) => m,
        }
    }
}

/// One RLP item of type `T`, as the body of message `id`.
fn item<T: Decodable>(id: EthMessageId, buf: &mut &[u8]) -> Result<T, EthWireError> {
    T::decode(buf).map_err(|source| EthWireError::Rlp { id, source })
}
