//! Requests a test sends through a peer handle of ours (`SendRequest`), unwrapped.

use alloy_consensus::Header;
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::B256;
use ethpeer_actors::eth::{
    BlockBodies, BlockHeaders, EthBlockBody, EthMessage, GetBlockBodies, GetBlockHeaders,
    RequestPair,
};
use ethpeer_actors::peer::{PeerHandle, SendRequest};

/// The remote's answer to `message`.
pub async fn request(peer: &PeerHandle, message: EthMessage) -> EthMessage {
    peer.requests
        .send(SendRequest(message))
        .await
        .expect("peer alive")
        .expect("the remote answers")
}

/// `limit` headers from number `from` upwards.
pub async fn headers(peer: &PeerHandle, from: u64, limit: u64) -> Vec<Header> {
    let answer = request(
        peer,
        EthMessage::GetBlockHeaders(RequestPair::new(
            0,
            GetBlockHeaders {
                start_block: BlockHashOrNumber::Number(from),
                limit,
                skip: 0,
                reverse: false,
            },
        )),
    )
    .await;
    let EthMessage::BlockHeaders(RequestPair {
        message: BlockHeaders(headers),
        ..
    }) = answer
    else {
        panic!("{answer:?}")
    };
    headers
}

/// The bodies of the blocks with `hashes`.
pub async fn bodies(peer: &PeerHandle, hashes: Vec<B256>) -> Vec<EthBlockBody> {
    let answer = request(
        peer,
        EthMessage::GetBlockBodies(RequestPair::new(0, GetBlockBodies(hashes))),
    )
    .await;
    let EthMessage::BlockBodies(RequestPair {
        message: BlockBodies(bodies),
        ..
    }) = answer
    else {
        panic!("{answer:?}")
    };
    bodies
}
