//! Answering eth requests from a [`ChainStore`]: which headers, bodies and receipts a
//! request gets, within geth's limits. Pure functions; the request handler actor calls them.

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_eips::BlockHashOrNumber;
use alloy_primitives::B256;
use alloy_rlp::Encodable;

use super::ChainStore;
use crate::eth::{BlockAccessListEntry, EthBlockBody, GetBlockHeaders, Receipt69};

/// Most headers served per request (geth `maxHeadersServe`, 1024).
pub const MAX_HEADERS_SERVE: usize = 1024;
/// Most bodies served per request (geth `maxBodiesServe`, 1024).
pub const MAX_BODIES_SERVE: usize = 1024;
/// Most blocks' receipts served per request (geth `maxReceiptsServe`, 1024).
pub const MAX_RECEIPTS_SERVE: usize = 1024;
/// Most block access lists served per request (geth `maxBALsServe`, 1024; EIP-8159 leaves
/// the number to implementations).
pub const MAX_BLOCK_ACCESS_LISTS_SERVE: usize = 1024;
/// Size after which a reply stops growing (geth `softResponseLimit`, 2 MiB).
pub const SOFT_RESPONSE_LIMIT: usize = 2 * 1024 * 1024;
/// Largest eth/70 Receipts reply before it is cut with `lastBlockIncomplete` (geth
/// `maxPacketSize`, 10 MiB).
pub const MAX_RECEIPTS_PACKET: usize = 10 * 1024 * 1024;

/// The headers a GetBlockHeaders asks for: from the origin (by number or hash), `skip`
/// blocks apart, towards the head or (reverse) towards genesis, at most `limit`,
/// [`MAX_HEADERS_SERVE`] and about [`SOFT_RESPONSE_LIMIT`] bytes. An unknown origin or a
/// walk past either end gives what was found so far (possibly nothing), never an error.
pub fn headers(store: &dyn ChainStore, request: &GetBlockHeaders) -> Vec<Header> {
    let limit = usize::try_from(request.limit)
        .unwrap_or(usize::MAX)
        .min(MAX_HEADERS_SERVE);
    // skip + 1 may overflow (skip = 2^64-1): then only the origin is served.
    let step = request.skip.checked_add(1);
    let mut next = match request.start_block {
        BlockHashOrNumber::Number(number) => store.header_by_number(number),
        BlockHashOrNumber::Hash(hash) => store.header_by_hash(&hash),
    };
    let mut out = Vec::new();
    let mut bytes = 0;
    while let Some(header) = next.take() {
        if out.len() >= limit || bytes >= SOFT_RESPONSE_LIMIT {
            break;
        }
        let number = header.number;
        bytes += header.length();
        out.push(header);
        if out.len() >= limit {
            break;
        }
        let following = step.and_then(|step| {
            if request.reverse {
                number.checked_sub(step)
            } else {
                number.checked_add(step)
            }
        });
        next = following.and_then(|n| store.header_by_number(n));
    }
    out
}

/// The bodies of the requested blocks, in order, skipping unknown hashes, at most
/// [`MAX_BODIES_SERVE`] and about [`SOFT_RESPONSE_LIMIT`] bytes.
pub fn bodies(store: &dyn ChainStore, hashes: &[B256]) -> Vec<EthBlockBody> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for hash in hashes.iter().take(MAX_BODIES_SERVE) {
        if bytes >= SOFT_RESPONSE_LIMIT {
            break;
        }
        if let Some(body) = store.body(hash) {
            bytes += body.length();
            out.push(body);
        }
    }
    out
}

/// The eth/71 BlockAccessLists entries for `hashes`: one per hash in request order, the
/// stored BAL or [`BlockAccessListEntry::Unavailable`] (unknown and pre-Amsterdam blocks,
/// and every block whose BAL we were never given). The list is cut from the tail once
/// the BALs in it reach [`SOFT_RESPONSE_LIMIT`] or it has
/// [`MAX_BLOCK_ACCESS_LISTS_SERVE`] entries, as geth's `serviceGetBlockAccessListsQuery`.
pub fn block_access_lists(store: &dyn ChainStore, hashes: &[B256]) -> Vec<BlockAccessListEntry> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for hash in hashes.iter().take(MAX_BLOCK_ACCESS_LISTS_SERVE) {
        if bytes >= SOFT_RESPONSE_LIMIT {
            break;
        }
        match store.block_access_list(hash) {
            Some(encoded) => {
                bytes += encoded.len();
                out.push(BlockAccessListEntry::Available(encoded));
            }
            None => out.push(BlockAccessListEntry::Unavailable),
        }
    }
    out
}

/// Receipts in the eth/66-68 shape (with bloom) for the requested blocks the store has
/// receipts for, within the serving limits.
pub fn receipts(store: &dyn ChainStore, hashes: &[B256]) -> Vec<Vec<ReceiptEnvelope>> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for hash in hashes.iter().take(MAX_RECEIPTS_SERVE) {
        if bytes >= SOFT_RESPONSE_LIMIT {
            break;
        }
        if let Some(receipts) = store.receipts(hash) {
            bytes += receipts.length();
            out.push(receipts);
        }
    }
    out
}

/// Receipts in the eth/69+ shape (without bloom).
pub fn receipts69(store: &dyn ChainStore, hashes: &[B256]) -> Vec<Vec<Receipt69>> {
    receipts(store, hashes)
        .iter()
        .map(|block| block.iter().map(Receipt69::from_envelope).collect())
        .collect()
}

/// An eth/70 page of receipts: starting at receipt `first_index` of the first block, as
/// many as fit in [`MAX_RECEIPTS_PACKET`]; `true` when the last block was cut short.
pub fn receipts70(
    store: &dyn ChainStore,
    hashes: &[B256],
    first_index: u64,
) -> (Vec<Vec<Receipt69>>, bool) {
    let mut out = Vec::new();
    let mut bytes = 0;
    for (i, hash) in hashes.iter().take(MAX_RECEIPTS_SERVE).enumerate() {
        let Some(block) = store.receipts(hash) else {
            continue;
        };
        let skip = if i == 0 {
            usize::try_from(first_index).unwrap_or(usize::MAX)
        } else {
            0
        };
        let mut page = Vec::new();
        for receipt in block.iter().skip(skip) {
            let receipt = Receipt69::from_envelope(receipt);
            let size = receipt.length();
            if bytes + size > MAX_RECEIPTS_PACKET {
                out.push(page);
                return (out, true);
            }
            bytes += size;
            page.push(receipt);
        }
        out.push(page);
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom};
    use alloy_primitives::{Address, Bytes, Log, LogData};

    use super::*;
    use crate::chain::MemoryChainStore;
    use crate::eth::EthBlock;

    /// A receipt whose one log carries `data` bytes.
    fn receipt(data: usize, cumulative: u64) -> ReceiptEnvelope {
        let log = Log {
            address: Address::ZERO,
            data: LogData::new_unchecked(vec![], Bytes::from(vec![7u8; data])),
        };
        let receipt = Receipt {
            status: Eip658Value::Eip658(true),
            cumulative_gas_used: cumulative,
            logs: vec![log],
        };
        ReceiptEnvelope::Eip1559(ReceiptWithBloom::from(receipt))
    }

    /// Blocks 1-3, each with `per_block` receipts of `size` bytes.
    fn store(per_block: usize, size: usize) -> (MemoryChainStore, Vec<B256>) {
        let store = MemoryChainStore::new(Header::default());
        let mut hashes = Vec::new();
        for number in 1..=3 {
            let header = Header {
                parent_hash: store.head().hash_slow(),
                number,
                ..Default::default()
            };
            let receipts = (0..per_block).map(|i| receipt(size, i as u64)).collect();
            hashes.push(
                store
                    .insert_block(
                        EthBlock {
                            header,
                            body: Default::default(),
                        },
                        Some(receipts),
                    )
                    .expect("links"),
            );
        }
        (store, hashes)
    }

    #[test]
    fn receipts_come_in_each_versions_shape_and_unknown_blocks_are_skipped() {
        let (store, hashes) = store(2, 10);
        let request = [hashes[0], B256::repeat_byte(9), hashes[2]];
        let with_bloom = receipts(&store, &request);
        assert_eq!(with_bloom.len(), 2);
        assert_eq!(with_bloom[0], store.receipts(&hashes[0]).expect("stored"));
        let without_bloom = receipts69(&store, &request);
        assert_eq!(
            without_bloom[1][1],
            Receipt69::from_envelope(&with_bloom[1][1])
        );
        // eth/70: continue the first block at its second receipt.
        let (page, incomplete) = receipts70(&store, &request, 1);
        assert!(!incomplete);
        assert_eq!(page.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(page[0][0].cumulative_gas_used, 1);
    }

    #[test]
    fn eth70_receipts_are_cut_at_10_mib_with_last_block_incomplete() {
        // 3 blocks x 2 receipts x ~2 MiB: the 10 MiB page ends inside block 3.
        let (store, hashes) = store(2, 2 * 1024 * 1024);
        let (page, incomplete) = receipts70(&store, &hashes, 0);
        assert!(incomplete);
        assert_eq!(page.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 0]);
        // The requester continues with block 3 from receipt 0.
        let (rest, incomplete) = receipts70(&store, &hashes[2..], 0);
        assert!(!incomplete);
        assert_eq!(rest[0].len(), 2);
    }

    /// An RLP list of `size` payload bytes (a stand-in BAL: serving never decodes it).
    fn encoded_list(size: usize, fill: u8) -> alloy_primitives::Bytes {
        let mut out = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: size,
        }
        .encode(&mut out);
        out.resize(out.len() + size, fill);
        out.into()
    }

    /// Blocks 1-3 whose headers commit to BALs of `size` bytes; the BALs are stored.
    fn store_with_access_lists(size: usize) -> (MemoryChainStore, Vec<B256>) {
        let store = MemoryChainStore::new(Header::default());
        let mut hashes = Vec::new();
        for number in 1..=3u8 {
            let bal = encoded_list(size, number);
            let header = Header {
                parent_hash: store.head().hash_slow(),
                number: number.into(),
                block_access_list_hash: Some(alloy_primitives::keccak256(&bal)),
                ..Default::default()
            };
            let block = EthBlock {
                header,
                body: Default::default(),
            };
            let hash = store.insert_block(block, None).expect("links");
            store.insert_block_access_list(&hash, bal).expect("matches");
            hashes.push(hash);
        }
        (store, hashes)
    }

    #[test]
    fn access_lists_come_in_request_order_with_empty_strings_for_the_missing() {
        let (store, hashes) = store_with_access_lists(100);
        let unknown = B256::repeat_byte(0xde);
        let genesis = store.canonical_hash(0).expect("genesis");
        let served =
            block_access_lists(&store, &[hashes[2], unknown, genesis, hashes[0], hashes[2]]);
        assert_eq!(served.len(), 5);
        assert_eq!(served[1], BlockAccessListEntry::Unavailable);
        assert_eq!(served[2], BlockAccessListEntry::Unavailable);
        assert_eq!(served[0], served[4]);
        let header = store.header_by_hash(&hashes[0]).expect("stored");
        assert_eq!(served[3].hash(), header.block_access_list_hash);
        assert!(block_access_lists(&store, &[]).is_empty());
    }

    #[test]
    fn access_lists_are_cut_from_the_tail_at_the_soft_limit() {
        // Three 1.5 MiB BALs: the second one takes the reply past 2 MiB, the third is cut.
        let (store, hashes) = store_with_access_lists(1536 * 1024);
        let served = block_access_lists(&store, &hashes);
        assert_eq!(served.len(), 2);
        assert_eq!(
            served[1].hash(),
            store
                .header_by_hash(&hashes[1])
                .expect("h")
                .block_access_list_hash
        );
        // Unavailable entries cost nothing, so the count limit applies to them.
        let many = vec![B256::ZERO; MAX_BLOCK_ACCESS_LISTS_SERVE + 5];
        assert_eq!(
            block_access_lists(&store, &many).len(),
            MAX_BLOCK_ACCESS_LISTS_SERVE
        );
    }

    #[test]
    fn an_access_list_not_matching_the_header_is_refused() {
        let (store, hashes) = store_with_access_lists(10);
        let wrong = encoded_list(10, 0xff);
        assert!(matches!(
            store.insert_block_access_list(&hashes[0], wrong.clone()),
            Err(crate::chain::StoreError::BlockAccessListMismatch { .. })
        ));
        // Pre-Amsterdam (the genesis commits to none) and unknown blocks refuse any BAL.
        let genesis = store.canonical_hash(0).expect("genesis");
        assert!(matches!(
            store.insert_block_access_list(&genesis, wrong.clone()),
            Err(crate::chain::StoreError::BlockAccessListMismatch { expected: None, .. })
        ));
        assert!(matches!(
            store.insert_block_access_list(&B256::ZERO, wrong),
            Err(crate::chain::StoreError::UnknownBlock { .. })
        ));
        assert_eq!(store.block_access_list(&genesis), None);
    }
}
