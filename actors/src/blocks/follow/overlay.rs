//! [`FollowedOverlay`]: the chain store with the followed blocks on top, as peers see us.
//! Our Status (head, fork id) and the blocks we serve (headers, bodies) come from it, so a
//! node without a consensus client advertises the head it follows and serves the blocks of
//! its history window. Writes go to the store underneath; nothing followed is ever
//! written there.

use std::sync::Arc;

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Bytes, B256, U256};

use super::FollowedChain;
use crate::chain::{ChainStore, StoreError};
use crate::eth::{EthBlock, EthBlockBody};

/// The store, with the followed blocks above its head (see the module doc).
pub struct FollowedOverlay {
    store: Arc<dyn ChainStore>,
    followed: Arc<FollowedChain>,
}

impl FollowedOverlay {
    /// `followed` on top of `store`.
    pub fn new(store: Arc<dyn ChainStore>, followed: Arc<FollowedChain>) -> Self {
        Self { store, followed }
    }

    /// The followed block at `number` when it is above the store's head.
    fn followed_at(&self, number: u64) -> Option<Arc<super::FollowedBlock>> {
        match number > self.store.head().number {
            true => self.followed.by_number(number),
            false => None,
        }
    }
}

impl ChainStore for FollowedOverlay {
    fn header_by_number(&self, number: u64) -> Option<Header> {
        match self.followed_at(number) {
            Some(block) => Some(block.header.clone()),
            None => self.store.header_by_number(number),
        }
    }

    fn header_by_hash(&self, hash: &B256) -> Option<Header> {
        self.store
            .header_by_hash(hash)
            .or_else(|| self.followed.by_hash(hash).map(|b| b.header.clone()))
    }

    fn canonical_hash(&self, number: u64) -> Option<B256> {
        match self.followed_at(number) {
            Some(block) => Some(block.hash),
            None => self.store.canonical_hash(number),
        }
    }

    fn body(&self, hash: &B256) -> Option<EthBlockBody> {
        self.store
            .body(hash)
            .or_else(|| self.followed.by_hash(hash).map(|b| b.body.clone()))
    }

    fn receipts(&self, hash: &B256) -> Option<Vec<ReceiptEnvelope>> {
        self.store
            .receipts(hash)
            .or_else(|| self.followed.by_hash(hash).and_then(|b| b.receipts.clone()))
    }

    fn total_difficulty(&self, hash: &B256) -> Option<U256> {
        // Post-merge blocks add no difficulty: a followed block has its parent's total,
        // the store head's.
        self.store.total_difficulty(hash).or_else(|| {
            self.followed
                .by_hash(hash)
                .and_then(|_| self.store.total_difficulty(&self.store.head().hash_slow()))
        })
    }

    fn head(&self) -> Header {
        let stored = self.store.head();
        match self.followed.head() {
            Some(head) if head.header.number > stored.number => head.header.clone(),
            _ => stored,
        }
    }

    /// The oldest block servable without a gap: 0 (the store keeps every block from
    /// genesis) while the followed window reaches down to the store's head, else the
    /// window's oldest block.
    fn earliest(&self) -> u64 {
        let stored = self.store.head().number;
        self.followed
            .earliest_above(stored)
            .max(self.store.earliest())
    }

    fn insert_block(
        &self,
        block: EthBlock,
        receipts: Option<Vec<ReceiptEnvelope>>,
    ) -> Result<B256, StoreError> {
        self.store.insert_block(block, receipts)
    }

    fn block_access_list(&self, hash: &B256) -> Option<Bytes> {
        self.store.block_access_list(hash)
    }

    fn insert_block_access_list(&self, hash: &B256, encoded: Bytes) -> Result<(), StoreError> {
        self.store.insert_block_access_list(hash, encoded)
    }
}
