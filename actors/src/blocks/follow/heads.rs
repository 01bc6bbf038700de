//! [`NewHeads`]: the event the follower emits for each round's new blocks (the RPC's
//! `newHeads` subscriptions and embedders consume it; the producer owns the type).

use actix::prelude::*;
use alloy_consensus::Header;
use alloy_primitives::B256;

/// Event: new heads were followed (one round's blocks, lowest first).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct NewHeads(pub Vec<NewHead>);

/// One new head.
#[derive(Clone, Debug)]
pub struct NewHead {
    /// Its hash.
    pub hash: B256,
    /// Its header.
    pub header: Header,
}

/// Command: execute a block learned from peers before it counts (where the node holds the
/// state): `Ok(true)` when it executed and was stored, `Ok(false)` when it cannot be
/// executed here (no state, unknown parent), `Err` with the reason when it is invalid.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, String>")]
pub struct ExecuteFollowed(pub crate::eth::EthBlock);
