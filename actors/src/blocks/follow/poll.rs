//! One round of following, as plain async functions over peers' typed request clients: ask
//! the best peers for headers above our head, count which (number, hash) pairs enough
//! peers vouch for, fetch the agreed blocks' bodies and check them against the headers'
//! roots.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use alloy_consensus::proofs::{calculate_ommers_root, calculate_receipt_root};
use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::B256;

use crate::chain::{verify_block, HeaderRuleError, HeaderRules};
use crate::eth::{
    EthBlock, EthVersion, GetBlockBodies, GetBlockHeaders, GetReceipts, GetReceipts70, Receipt69,
};
use crate::p2p::PeerId;
use crate::peer::{ClientError, PeerClient, PeerHandle, ReceiptsReply};

/// Who a vote counts for: a network prefix (IPv4 /24, IPv6 /48: one operator's
/// addresses, so keys or ports on one host or subnet count once), or, for a peer without
/// a TCP address (an in-memory test peer), the peer itself. Loopback and LAN addresses
/// obey the same rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Voter {
    /// The masked address of the peer's network.
    Prefix(IpAddr),
    /// A peer without an address.
    Peer(PeerId),
}

/// Bits of an IPv4 address that name its network for the quorum (a /24).
pub const QUORUM_PREFIX_V4: u32 = 24;
/// Bits of an IPv6 address that name its network for the quorum (a /48, a site).
pub const QUORUM_PREFIX_V6: u32 = 48;

impl Voter {
    /// The voter a peer's answers and claims count for.
    pub fn of(handle: &PeerHandle) -> Self {
        Self::new(handle.id, handle.remote)
    }

    /// The voter of peer `id` connected over `remote`.
    pub fn new(id: PeerId, remote: Option<std::net::SocketAddr>) -> Self {
        match remote.map(|addr| addr.ip().to_canonical()) {
            Some(IpAddr::V4(ip)) => {
                let mask = u32::MAX << (32 - QUORUM_PREFIX_V4);
                Self::Prefix(IpAddr::V4((u32::from(ip) & mask).into()))
            }
            Some(IpAddr::V6(ip)) => {
                let mask = u128::MAX << (128 - QUORUM_PREFIX_V6);
                Self::Prefix(IpAddr::V6((u128::from(ip) & mask).into()))
            }
            None => Self::Peer(id),
        }
    }
}

/// Headers asked of each peer per round: geth's downloader `MaxHeaderFetch` (192).
pub const HEADERS_PER_POLL: u64 = 192;
/// Bodies asked per request: geth's downloader `MaxBlockFetch` (128).
pub const BODIES_PER_REQUEST: usize = 128;
/// Blocks whose receipts are asked per request: geth's downloader `MaxReceiptFetch` (256).
pub const RECEIPTS_PER_REQUEST: usize = 256;
/// Requests one round spends on receipts at most (eth/70 pages included): a peer that
/// answers a little at a time cannot keep a round busy (ours).
pub const MAX_RECEIPT_REQUESTS: usize = 64;

/// Why a round took no blocks from a peer.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The request got no typed reply (timeout, peer gone, too many in flight).
    #[error(transparent)]
    Request(#[from] ClientError),
    /// Fewer bodies than asked for.
    #[error("{got} bodies for {asked} headers")]
    MissingBodies {
        /// Bodies received.
        got: usize,
        /// Headers asked about.
        asked: usize,
    },
    /// A header broke a rule that needs no state: a protocol violation.
    #[error("block {number}: {rule}")]
    Rule {
        /// The block.
        number: u64,
        /// The rule.
        rule: HeaderRuleError,
    },
    /// Receipts do not hash to the header's receipts root: a violation.
    #[error("block {number}: receipts do not match the header's receipts root")]
    ReceiptsMismatch {
        /// The block.
        number: u64,
    },
    /// The peer did not hand over every block's receipts within the request budget.
    #[error("receipts of {missing} blocks missing")]
    MissingReceipts {
        /// Blocks without receipts.
        missing: usize,
    },
    /// A body does not match its header's roots.
    #[error("block {number}: body does not match the header: {reason}")]
    BodyMismatch {
        /// The block.
        number: u64,
        /// Which root.
        reason: String,
    },
}

/// A peer's answer: its headers above our head, kept only as far as they link.
pub struct PeerChain {
    /// Who sent it.
    pub peer: PeerId,
    /// Whom its vote counts for.
    pub voter: Voter,
    /// The eth version it speaks (how its receipts are asked for).
    pub version: EthVersion,
    /// Where to say goodbye when it contradicts itself.
    pub disconnect: actix::Recipient<crate::peer::Disconnect>,
    /// Where to ask for bodies.
    pub client: PeerClient,
    /// Headers with their hashes, from our head + 1 upwards.
    pub headers: Vec<(B256, Header)>,
}

/// Asks `peer` for up to [`HEADERS_PER_POLL`] headers above `base` (whose hash is
/// `base_hash`) and keeps the prefix that links to it and to itself. A linked header that
/// breaks one of `rules` (at our clock `now`, UNIX seconds) is a violation: the error.
pub async fn headers_above(
    peer: &PeerClient,
    base: &Header,
    base_hash: B256,
    rules: Option<&HeaderRules>,
    now: u64,
) -> Result<Vec<(B256, Header)>, FollowError> {
    let headers = peer
        .request(GetBlockHeaders {
            start_block: base.number.saturating_add(1).into(),
            limit: HEADERS_PER_POLL,
            skip: 0,
            reverse: false,
        })
        .await?;
    let mut linked: Vec<(B256, Header)> = Vec::new();
    for header in headers {
        let (parent, parent_hash) = match linked.last() {
            Some((hash, header)) => (header, *hash),
            None => (base, base_hash),
        };
        if header.parent_hash != parent_hash || Some(header.number) != parent.number.checked_add(1)
        {
            break;
        }
        if let Some(rules) = rules {
            rules
                .check(parent, &header, now)
                .map_err(|rule| FollowError::Rule {
                    number: header.number,
                    rule,
                })?;
        }
        let hash = header.hash_slow();
        linked.push((hash, header));
    }
    Ok(linked)
}

/// The highest block at least `quorum` distinct voters (network prefixes, [`Voter`])
/// vouch for, through the headers their peers sent (`chains`: each peer's linked headers
/// above our head) or the head their Status/BlockRangeUpdate claims; as the index of a
/// chain that reaches it and how many of its headers to take. `None` when no block above
/// our head has the quorum.
pub fn agreed_chain(
    chains: &[(Voter, &[(B256, Header)])],
    claims: &[(Voter, u64, B256)],
    quorum: usize,
) -> Option<(usize, usize)> {
    let mut votes: HashMap<(u64, B256), HashSet<Voter>> = HashMap::new();
    for (peer, headers) in chains {
        for (hash, header) in *headers {
            votes
                .entry((header.number, *hash))
                .or_default()
                .insert(*peer);
        }
    }
    for (peer, number, hash) in claims {
        if let Some(voters) = votes.get_mut(&(*number, *hash)) {
            voters.insert(*peer);
        }
    }
    let (number, hash) = votes
        .iter()
        .filter(|(_, voters)| voters.len() >= quorum.max(1))
        .map(|(key, _)| *key)
        .max_by_key(|(number, _)| *number)?;
    chains.iter().enumerate().find_map(|(index, (_, headers))| {
        headers
            .iter()
            .position(|(h, header)| *h == hash && header.number == number)
            .map(|position| (index, position + 1))
    })
}

/// Fetches the bodies of `headers` from `peer` and checks each against its header's
/// transactions, withdrawals and ommers roots.
pub async fn fetch_blocks(
    peer: &PeerClient,
    headers: &[(B256, Header)],
) -> Result<Vec<(B256, EthBlock)>, FollowError> {
    let mut blocks = Vec::with_capacity(headers.len());
    for chunk in headers.chunks(BODIES_PER_REQUEST) {
        let hashes = chunk.iter().map(|(hash, _)| *hash).collect();
        let bodies = peer.request(GetBlockBodies(hashes)).await?;
        if bodies.len() != chunk.len() {
            return Err(FollowError::MissingBodies {
                got: bodies.len(),
                asked: chunk.len(),
            });
        }
        for ((hash, header), body) in chunk.iter().zip(bodies) {
            let block = EthBlock {
                header: header.clone(),
                body,
            };
            let mismatch = |reason: String| FollowError::BodyMismatch {
                number: header.number,
                reason,
            };
            verify_block(&block).map_err(|e| mismatch(e.to_string()))?;
            if calculate_ommers_root(&block.body.ommers) != header.ommers_hash {
                return Err(mismatch("ommers hash".into()));
            }
            blocks.push((*hash, block));
        }
    }
    Ok(blocks)
}

/// Fetches the receipts of `blocks` from `peer` (speaking eth/`version`: eth/70+ pages
/// with `GetReceipts70`) and checks each block's against its header's receipts root.
pub async fn fetch_receipts(
    peer: &PeerClient,
    version: EthVersion,
    blocks: &[(B256, EthBlock)],
) -> Result<Vec<Vec<ReceiptEnvelope>>, FollowError> {
    let mut done: Vec<Vec<ReceiptEnvelope>> = Vec::with_capacity(blocks.len());
    // Receipts of the block being paged (eth/70: the last block of a reply cut short).
    let mut partial: Vec<ReceiptEnvelope> = Vec::new();
    for _ in 0..MAX_RECEIPT_REQUESTS {
        if done.len() == blocks.len() {
            break;
        }
        let hashes: Vec<B256> = blocks[done.len()..]
            .iter()
            .take(RECEIPTS_PER_REQUEST)
            .map(|(hash, _)| *hash)
            .collect();
        let (lists, incomplete) = match version >= EthVersion::Eth70 {
            true => {
                let reply = peer
                    .request(GetReceipts70 {
                        request_id: 0,
                        first_block_receipt_index: partial.len() as u64,
                        block_hashes: hashes,
                    })
                    .await?;
                let lists = reply.receipts.into_iter().map(envelopes69).collect();
                (lists, reply.last_block_incomplete)
            }
            false => match peer.request(GetReceipts(hashes)).await? {
                ReceiptsReply::WithBlooms(lists) => (lists, false),
                ReceiptsReply::WithoutBlooms(lists) => {
                    (lists.into_iter().map(envelopes69).collect(), false)
                }
            },
        };
        if lists.is_empty() {
            break;
        }
        let count = lists.len();
        for (i, list) in lists.into_iter().enumerate() {
            partial.extend(list);
            if incomplete && i + 1 == count {
                break;
            }
            let (_, block) = &blocks[done.len()];
            if calculate_receipt_root(&partial) != block.header.receipts_root {
                return Err(FollowError::ReceiptsMismatch {
                    number: block.header.number,
                });
            }
            done.push(std::mem::take(&mut partial));
            if done.len() == blocks.len() {
                break;
            }
        }
    }
    match done.len() == blocks.len() {
        true => Ok(done),
        false => Err(FollowError::MissingReceipts {
            missing: blocks.len() - done.len(),
        }),
    }
}

fn envelopes69(list: Vec<Receipt69>) -> Vec<ReceiptEnvelope> {
    list.into_iter().map(Receipt69::into_envelope).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::peer_id;

    fn voter(n: u8) -> Voter {
        Voter::Peer(peer_id(n))
    }

    /// A chain of `len` headers above block 10 whose extra data is `fork` from `fork_at` on.
    fn chain(len: u64, fork_at: u64, fork: u8) -> Vec<(B256, Header)> {
        let mut parent = B256::repeat_byte(0x10);
        (11..11 + len)
            .map(|number| {
                let header = Header {
                    number,
                    parent_hash: parent,
                    extra_data: if number >= fork_at {
                        vec![fork].into()
                    } else {
                        Default::default()
                    },
                    ..Header::default()
                };
                parent = header.hash_slow();
                (parent, header)
            })
            .collect()
    }

    #[test]
    fn the_highest_block_two_peers_agree_on_is_taken() {
        let (a, b) = (chain(5, 99, 0), chain(3, 99, 0));
        let chains = [(voter(1), a.as_slice()), (voter(2), b.as_slice())];
        // Both vouch for 11..=13; only A for 14 and 15.
        assert_eq!(agreed_chain(&chains, &[], 2), Some((0, 3)));
        // B's BlockRangeUpdate claims A's block 15: now two vouch for it.
        let claim = (voter(2), 15, a[4].0);
        assert_eq!(agreed_chain(&chains, &[claim], 2), Some((0, 5)));
    }

    #[test]
    fn one_lying_peer_cannot_move_the_head() {
        let (honest, liar) = (chain(2, 99, 0), chain(50, 11, 0xee));
        let chains = [(voter(1), honest.as_slice()), (voter(2), liar.as_slice())];
        assert_eq!(agreed_chain(&chains, &[], 2), None);
        // Its claims of its own blocks count once, whatever it repeats.
        let claims = [(voter(2), 60, liar[49].0), (voter(2), 60, liar[49].0)];
        assert_eq!(agreed_chain(&chains, &claims, 2), None);
        // A claim for a block nobody sent is no vote.
        let ghost = [(voter(1), 70, B256::repeat_byte(7))];
        assert_eq!(agreed_chain(&chains, &ghost, 1), Some((1, 50)));
    }

    #[test]
    fn forks_split_the_votes() {
        let (a, b, c) = (chain(4, 13, 1), chain(4, 13, 2), chain(4, 13, 2));
        let chains = [
            (voter(1), a.as_slice()),
            (voter(2), b.as_slice()),
            (voter(3), c.as_slice()),
        ];
        // All agree up to 12; B and C agree on their fork up to 14.
        let (index, len) = agreed_chain(&chains, &[], 2).expect("agreed");
        assert_eq!(len, 4);
        assert!(index == 1 || index == 2);
        assert_eq!(agreed_chain(&chains, &[], 3), Some((0, 2)));
    }

    #[test]
    fn peers_on_one_network_are_one_voter() {
        let handle = |n: u8, remote: &str| Voter::new(peer_id(n), Some(remote.parse().unwrap()));
        let (a, b) = (handle(1, "10.1.2.3:30303"), handle(2, "10.1.2.200:40000"));
        assert_eq!(a, b, "two keys on one /24 are one voter");
        assert_ne!(a, handle(3, "10.1.3.3:30303"));
        assert_eq!(handle(4, "127.0.2.1:1"), handle(5, "127.0.2.9:2"));
        assert_ne!(handle(4, "127.0.2.1:1"), handle(6, "127.0.3.1:1"));
        assert_eq!(
            handle(7, "[2001:db8:1::1]:1"),
            handle(8, "[2001:db8:1:ffff::2]:1")
        );
        assert_ne!(
            handle(7, "[2001:db8:1::1]:1"),
            handle(9, "[2001:db8:2::1]:1")
        );
        assert_eq!(
            handle(10, "[::ffff:10.1.2.3]:1"),
            a,
            "a mapped IPv4 address is IPv4"
        );
        // Two liars on one prefix cannot make a quorum of two.
        let liar = chain(5, 11, 0xee);
        let chains = [(a, liar.as_slice()), (b, liar.as_slice())];
        assert_eq!(agreed_chain(&chains, &[], 2), None);
    }
}
