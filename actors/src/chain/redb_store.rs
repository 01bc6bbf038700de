//! [`RedbChainStore`]: the persistent [`ChainStore`] in the data directory, one redb file
//! (`chain.redb`). Headers, bodies and receipts are stored as their RLP; canonical hashes
//! by number; total difficulty by hash. Every write is one ACID transaction.

use std::path::Path;

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{Bytes, B256, U256};
use alloy_rlp::{Decodable, Encodable};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::store::check_block_access_list;
use super::{ChainStore, StoreError};
use crate::eth::{EthBlock, EthBlockBody};

const HEADERS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("headers");
const BODIES: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("bodies");
const RECEIPTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("receipts");
const TOTAL_DIFFICULTY: TableDefinition<&[u8; 32], &[u8; 32]> = TableDefinition::new("td");
const CANONICAL: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("canonical");
/// Block access lists (EIP-7928) by block hash, as their RLP, checked against the header.
const ACCESS_LISTS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("access_lists");

/// The file name of the chain database inside the data directory.
pub const CHAIN_DB_FILE: &str = "chain.redb";

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        reason: error.to_string(),
    }
}

/// A chain store in a redb file.
pub struct RedbChainStore {
    db: Database,
}

impl RedbChainStore {
    /// Opens (or creates) the store at `path` for the chain starting at `genesis`. A store
    /// made for another genesis is refused.
    pub fn open(path: &Path, genesis: &Header) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let store = Self { db };
        let genesis_hash = genesis.hash_slow();
        match store.canonical_hash(0) {
            Some(existing) if existing == genesis_hash => Ok(store),
            Some(existing) => Err(StoreError::GenesisMismatch {
                stored: existing,
                expected: genesis_hash,
            }),
            None => {
                store.write(|tx| {
                    put_block(
                        tx,
                        genesis_hash,
                        genesis,
                        &EthBlockBody::default(),
                        None,
                        genesis.difficulty,
                    )?;
                    tx.open_table(CANONICAL)
                        .map_err(backend)?
                        .insert(0, &genesis_hash.0)
                        .map_err(backend)?;
                    Ok(())
                })?;
                Ok(store)
            }
        }
    }

    /// Imports blocks in one transaction, each with its receipts when they are known (from
    /// executing it): each must extend a known block; those already stored are skipped,
    /// except that receipts a stored block lacks are added. Returns how many were new.
    pub fn import(
        &self,
        blocks: &[(EthBlock, Option<Vec<ReceiptEnvelope>>)],
    ) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut new = 0;
            for (block, receipts) in blocks {
                if insert(tx, block, receipts.as_ref())? {
                    new += 1;
                } else if let Some(receipts) = receipts {
                    add_missing_receipts(tx, &block.header.hash_slow(), receipts)?;
                }
            }
            Ok(new)
        })
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_write().map_err(backend)?;
        let value = f(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }

    /// Reads `key` from `table` and decodes it; a read or decode failure is logged and
    /// treated as absent (the store is ours, so it means corruption, not bad input).
    fn get<T: Decodable>(&self, table: TableDefinition<&[u8; 32], &[u8]>, key: &B256) -> Option<T> {
        let read = || -> Result<Option<T>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = match tx.open_table(table) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let Some(value) = table.get(&key.0).map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            T::decode(&mut value.value())
                .map(Some)
                .map_err(|e| e.to_string())
        };
        read().unwrap_or_else(|error| {
            log::error!("chain store read of {key} failed: {error}");
            None
        })
    }
}

fn put_block(
    tx: &redb::WriteTransaction,
    hash: B256,
    header: &Header,
    body: &EthBlockBody,
    receipts: Option<&Vec<ReceiptEnvelope>>,
    td: U256,
) -> Result<(), StoreError> {
    tx.open_table(HEADERS)
        .map_err(backend)?
        .insert(&hash.0, alloy_rlp::encode(header).as_slice())
        .map_err(backend)?;
    tx.open_table(BODIES)
        .map_err(backend)?
        .insert(&hash.0, alloy_rlp::encode(body).as_slice())
        .map_err(backend)?;
    if let Some(receipts) = receipts {
        let mut out = Vec::new();
        receipts.encode(&mut out);
        tx.open_table(RECEIPTS)
            .map_err(backend)?
            .insert(&hash.0, out.as_slice())
            .map_err(backend)?;
    }
    tx.open_table(TOTAL_DIFFICULTY)
        .map_err(backend)?
        .insert(&hash.0, &td.to_be_bytes::<32>())
        .map_err(backend)?;
    Ok(())
}

/// Stores `receipts` for the stored block `hash` unless it has some already.
fn add_missing_receipts(
    tx: &redb::WriteTransaction,
    hash: &B256,
    receipts: &Vec<ReceiptEnvelope>,
) -> Result<(), StoreError> {
    let mut table = tx.open_table(RECEIPTS).map_err(backend)?;
    if table.get(&hash.0).map_err(backend)?.is_none() {
        let mut out = Vec::new();
        receipts.encode(&mut out);
        table.insert(&hash.0, out.as_slice()).map_err(backend)?;
    }
    Ok(())
}

/// Inserts one block in `tx`; `false` if it was already stored.
fn insert(
    tx: &redb::WriteTransaction,
    block: &EthBlock,
    receipts: Option<&Vec<ReceiptEnvelope>>,
) -> Result<bool, StoreError> {
    let hash = block.header.hash_slow();
    let parent = block.header.parent_hash;
    let parent_td = {
        let td = tx.open_table(TOTAL_DIFFICULTY).map_err(backend)?;
        if td.get(&hash.0).map_err(backend)?.is_some() {
            return Ok(false);
        }
        let value = td.get(&parent.0).map_err(backend)?;
        match value {
            Some(bytes) => U256::from_be_bytes(*bytes.value()),
            None => {
                return Err(StoreError::UnknownParent {
                    number: block.header.number,
                    parent,
                })
            }
        }
    };
    put_block(
        tx,
        hash,
        &block.header,
        &block.body,
        receipts,
        parent_td + block.header.difficulty,
    )?;
    let mut canonical = tx.open_table(CANONICAL).map_err(backend)?;
    let head = canonical
        .last()
        .map_err(backend)?
        .map(|(_, h)| B256::from(*h.value()));
    if head == Some(parent) {
        canonical
            .insert(block.header.number, &hash.0)
            .map_err(backend)?;
    }
    Ok(true)
}

impl ChainStore for RedbChainStore {
    fn header_by_number(&self, number: u64) -> Option<Header> {
        self.header_by_hash(&self.canonical_hash(number)?)
    }

    fn header_by_hash(&self, hash: &B256) -> Option<Header> {
        self.get(HEADERS, hash)
    }

    fn canonical_hash(&self, number: u64) -> Option<B256> {
        let tx = self.db.begin_read().ok()?;
        let table = tx.open_table(CANONICAL).ok()?;
        let value = table.get(number).ok()??;
        Some(B256::from(*value.value()))
    }

    fn body(&self, hash: &B256) -> Option<EthBlockBody> {
        self.get(BODIES, hash)
    }

    fn receipts(&self, hash: &B256) -> Option<Vec<ReceiptEnvelope>> {
        self.get(RECEIPTS, hash)
    }

    fn total_difficulty(&self, hash: &B256) -> Option<U256> {
        let tx = self.db.begin_read().ok()?;
        let table = tx.open_table(TOTAL_DIFFICULTY).ok()?;
        let value = table.get(&hash.0).ok()??;
        Some(U256::from_be_bytes(*value.value()))
    }

    fn head(&self) -> Header {
        let last = || -> Option<B256> {
            let tx = self.db.begin_read().ok()?;
            let table = tx.open_table(CANONICAL).ok()?;
            let (_, hash) = table.last().ok()??;
            Some(B256::from(*hash.value()))
        };
        // The genesis is written on open, so there is always a head.
        last()
            .and_then(|hash| self.header_by_hash(&hash))
            .unwrap_or_default()
    }

    fn insert_block(
        &self,
        block: EthBlock,
        receipts: Option<Vec<ReceiptEnvelope>>,
    ) -> Result<B256, StoreError> {
        let hash = block.header.hash_slow();
        self.write(|tx| insert(tx, &block, receipts.as_ref()))?;
        Ok(hash)
    }

    fn block_access_list(&self, hash: &B256) -> Option<Bytes> {
        let tx = self.db.begin_read().ok()?;
        let table = tx.open_table(ACCESS_LISTS).ok()?;
        let value = table.get(&hash.0).ok()??;
        Some(Bytes::copy_from_slice(value.value()))
    }

    fn insert_block_access_list(&self, hash: &B256, encoded: Bytes) -> Result<(), StoreError> {
        check_block_access_list(hash, self.header_by_hash(hash).as_ref(), &encoded)?;
        self.write(|tx| {
            tx.open_table(ACCESS_LISTS)
                .map_err(backend)?
                .insert(&hash.0, encoded.as_ref())
                .map_err(backend)?;
            Ok(())
        })
    }
}
