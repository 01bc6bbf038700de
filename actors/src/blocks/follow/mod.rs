//! Following the chain's head from peers, for a node without a consensus client: peers'
//! heads (eth/69+ Status and BlockRangeUpdate, header polls) pick a head that peers on a
//! quorum of networks agree on; every header passes the stateless rules; its header chain and bodies are fetched and checked (each body against its
//! header's roots), kept in [`FollowedChain`], and applied to the pool (included and
//! stale-nonce transactions leave). Followed blocks are the peers' word: they never enter
//! the chain store, are never relayed and never become the head of our Status.

mod actor;
mod followed;
mod overlay;
mod poll;
mod round;

mod heads;

pub use actor::{
    BlockIncluded, FollowConfig, FollowLinks, HeadFollower, POLLED_PEERS, REANCHOR_ROUNDS,
    REORG_DEPTH,
};
pub use followed::{
    FollowedBlock, FollowedChain, FollowedTx, CONSENSUS_QUIET_SECONDS, FOLLOWED_BLOCKS,
    MAX_HISTORY_WINDOW,
};
pub use heads::{head_logs, ExecuteFollowed, HeadLog, NewHead, NewHeads, RemovedHeads};
pub use overlay::FollowedOverlay;
pub use poll::{
    agreed_chain, FollowError, PeerChain, Voter, BODIES_PER_REQUEST, HEADERS_PER_POLL,
    QUORUM_PREFIX_V4, QUORUM_PREFIX_V6,
};
