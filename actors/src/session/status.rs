//! The eth Status step of a session: what we announce and how a remote's Status is checked
//! (geth's order: network id, version, genesis, fork id filter, then for eth/69+ the block
//! range and a nonzero latest hash).

use std::sync::Arc;

use alloy_primitives::{B256, U256};

use crate::chain::ChainStore;
use crate::eth::forkid::{ForkFilter, ForkSchedule};
use crate::eth::PeerHead;
use crate::eth::{EthMessage, EthVersion, Status, Status69};
use crate::p2p::DisconnectReason;

/// What was wrong with a remote Status (geth's checks, in geth's order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusMismatch {
    /// The first eth message was not a Status.
    #[error("first message was {got:?}, not Status")]
    NotStatus {
        /// What came instead.
        got: crate::eth::EthMessageId,
    },
    /// Another network.
    #[error("network id {theirs}, ours {ours}")]
    NetworkId {
        /// Theirs.
        theirs: u64,
        /// Ours.
        ours: u64,
    },
    /// A Status version other than the negotiated one.
    #[error("status version {theirs}, negotiated {negotiated}")]
    Version {
        /// The version in their Status.
        theirs: u8,
        /// The version the Hellos agreed on.
        negotiated: EthVersion,
    },
    /// Another genesis block.
    #[error("genesis {theirs}, ours {ours}")]
    Genesis {
        /// Theirs.
        theirs: B256,
        /// Ours.
        ours: B256,
    },
    /// A fork id our EIP-2124 filter refuses.
    #[error("fork id {fork_id:?}: {error}")]
    ForkId {
        /// Their fork id.
        fork_id: alloy_eips::eip2124::ForkId,
        /// The filter's verdict.
        error: crate::eth::forkid::ValidationError,
    },
    /// An eth/69 block range that ends before it starts.
    #[error("block range earliest {earliest} > latest {latest}")]
    BlockRange {
        /// First block served.
        earliest: u64,
        /// Latest block.
        latest: u64,
    },
    /// An eth/69 latest hash of zero (geth refuses it).
    #[error("zero latest block hash")]
    ZeroLatestHash,
}

/// Why a remote Status was refused, and the reason to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRejection {
    /// What was wrong.
    pub reason: StatusMismatch,
    /// The disconnect reason (geth: 0x10 for every Status check).
    pub disconnect: DisconnectReason,
}

/// What the session needs from the eth layer for the Status step.
pub trait StatusExchange: Send + Sync {
    /// Our Status for `version`.
    fn local_status(&self, version: EthVersion) -> EthMessage;

    /// Checks the remote's Status on a connection that negotiated `version`; on success,
    /// the head it announced.
    fn check_remote(
        &self,
        version: EthVersion,
        remote: &EthMessage,
    ) -> Result<PeerHead, StatusRejection>;
}

/// Our chain as the Status step sees it: network, genesis, fork schedule and head.
#[derive(Clone, Debug)]
pub struct ChainStatus {
    /// The network id.
    pub network_id: u64,
    /// The genesis hash.
    pub genesis: B256,
    /// The fork schedule (for our fork id and the remote's validation).
    pub forks: ForkSchedule,
    /// Our head block number.
    pub head_number: u64,
    /// Our head block timestamp.
    pub head_timestamp: u64,
    /// Our head block hash.
    pub head_hash: B256,
    /// Our total difficulty (eth <= 68).
    pub total_difficulty: U256,
    /// The earliest block we serve (eth >= 69).
    pub earliest: u64,
}

impl ChainStatus {
    /// The Status of the chain in `store` (genesis, head, TD; the stores keep every block
    /// from genesis, so `earliest` is 0) on network `network_id` with fork schedule `forks`.
    pub fn from_store(network_id: u64, forks: ForkSchedule, store: &dyn ChainStore) -> Self {
        let head = store.head();
        let head_hash = head.hash_slow();
        Self {
            network_id,
            genesis: store.canonical_hash(0).unwrap_or(head_hash),
            forks,
            head_number: head.number,
            head_timestamp: head.timestamp,
            head_hash,
            total_difficulty: store.total_difficulty(&head_hash).unwrap_or_default(),
            earliest: store.earliest(),
        }
    }

    /// Our current fork id (EIP-2124) at the head.
    pub fn fork_id(&self) -> alloy_eips::eip2124::ForkId {
        self.filter().current()
    }

    fn filter(&self) -> ForkFilter {
        self.forks.filter(self.head_number, self.head_timestamp)
    }
}

fn reject(reason: StatusMismatch) -> StatusRejection {
    StatusRejection {
        reason,
        disconnect: DisconnectReason::SubprotocolSpecific,
    }
}

impl StatusExchange for ChainStatus {
    fn local_status(&self, version: EthVersion) -> EthMessage {
        let fork_id = self.filter().current();
        if version >= EthVersion::Eth69 {
            EthMessage::Status69(Status69 {
                version: version.as_u8(),
                network_id: self.network_id,
                genesis: self.genesis,
                fork_id,
                earliest: self.earliest,
                latest: self.head_number,
                latest_hash: self.head_hash,
            })
        } else {
            EthMessage::Status(Status {
                version: version.as_u8(),
                network_id: self.network_id,
                total_difficulty: self.total_difficulty,
                best_hash: self.head_hash,
                genesis: self.genesis,
                fork_id,
            })
        }
    }

    fn check_remote(
        &self,
        version: EthVersion,
        remote: &EthMessage,
    ) -> Result<PeerHead, StatusRejection> {
        let (remote_version, network_id, genesis, fork_id, head) = match remote {
            EthMessage::Status(s) => (
                s.version,
                s.network_id,
                s.genesis,
                s.fork_id,
                PeerHead::TotalDifficulty {
                    td: s.total_difficulty,
                    best_hash: s.best_hash,
                },
            ),
            EthMessage::Status69(s) => (
                s.version,
                s.network_id,
                s.genesis,
                s.fork_id,
                PeerHead::Range {
                    earliest: s.earliest,
                    latest: s.latest,
                    latest_hash: s.latest_hash,
                },
            ),
            other => {
                return Err(reject(StatusMismatch::NotStatus {
                    got: other.message_id(),
                }))
            }
        };
        if network_id != self.network_id {
            return Err(reject(StatusMismatch::NetworkId {
                theirs: network_id,
                ours: self.network_id,
            }));
        }
        if remote_version != version.as_u8() {
            return Err(reject(StatusMismatch::Version {
                theirs: remote_version,
                negotiated: version,
            }));
        }
        if genesis != self.genesis {
            return Err(reject(StatusMismatch::Genesis {
                theirs: genesis,
                ours: self.genesis,
            }));
        }
        self.filter()
            .validate(fork_id)
            .map_err(|error| reject(StatusMismatch::ForkId { fork_id, error }))?;
        if let PeerHead::Range {
            earliest,
            latest,
            latest_hash,
        } = head
        {
            if earliest > latest {
                return Err(reject(StatusMismatch::BlockRange { earliest, latest }));
            }
            if latest_hash.is_zero() {
                return Err(reject(StatusMismatch::ZeroLatestHash));
            }
        }
        Ok(head)
    }
}

/// Our Status as of the store's head at the time of each handshake (and of each fork-id
/// verdict on a discovered node's record): the store moves, so it is read anew each time.
pub struct StoreStatus {
    /// The network id.
    pub network_id: u64,
    /// The fork schedule of the chain in the store.
    pub forks: ForkSchedule,
    /// The chain whose head we advertise.
    pub store: Arc<dyn ChainStore>,
}

impl StoreStatus {
    /// Our Status at the store's head now.
    pub fn now(&self) -> ChainStatus {
        ChainStatus::from_store(self.network_id, self.forks.clone(), self.store.as_ref())
    }
}

impl StatusExchange for StoreStatus {
    fn local_status(&self, version: EthVersion) -> EthMessage {
        self.now().local_status(version)
    }

    fn check_remote(
        &self,
        version: EthVersion,
        remote: &EthMessage,
    ) -> Result<PeerHead, StatusRejection> {
        self.now().check_remote(version, remote)
    }
}
