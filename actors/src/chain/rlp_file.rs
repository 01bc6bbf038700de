//! RLP chain files (what `geth export` writes and `geth import` reads): blocks concatenated
//! as RLP `[header, txs, ommers(, withdrawals)]`, checked for linkage and body roots.

use alloy_consensus::proofs::{calculate_transaction_root, calculate_withdrawals_root};
use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rlp::Decodable;

use crate::eth::EthBlock;

/// A chain file that cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ChainFileError {
    /// A block is not valid RLP.
    #[error("block at byte offset {offset} does not decode: {source}")]
    Decode {
        /// Where the block starts in the file.
        offset: usize,
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
    /// A block's parent hash is not the hash of the block before it.
    #[error("block {number} has parent hash {parent_hash}, expected {expected}")]
    BrokenLink {
        /// The block's number.
        number: u64,
        /// The parent hash it names.
        parent_hash: B256,
        /// The hash of the previous block.
        expected: B256,
    },
    /// A block's number is not its parent's plus one.
    #[error("block number {number} follows block {parent}")]
    BadNumber {
        /// The block's number.
        number: u64,
        /// The parent's number.
        parent: u64,
    },
    /// The transactions root in the header does not match the body.
    #[error("block {number}: transactions root {computed} does not match header {header}")]
    TransactionsRoot {
        /// The block's number.
        number: u64,
        /// Root computed from the body.
        computed: B256,
        /// Root in the header.
        header: B256,
    },
    /// The withdrawals root in the header does not match the body.
    #[error("block {number}: withdrawals root does not match the body")]
    WithdrawalsRoot {
        /// The block's number.
        number: u64,
    },
}

/// Decodes every block of an RLP chain file.
pub fn read_chain_file(mut bytes: &[u8]) -> Result<Vec<EthBlock>, ChainFileError> {
    let total = bytes.len();
    let mut blocks = Vec::new();
    while !bytes.is_empty() {
        let offset = total - bytes.len();
        let block = EthBlock::decode(&mut bytes)
            .map_err(|source| ChainFileError::Decode { offset, source })?;
        blocks.push(block);
    }
    Ok(blocks)
}

/// Checks a block's body against its header: transactions root and withdrawals root.
pub fn verify_block(block: &EthBlock) -> Result<(), ChainFileError> {
    let number = block.header.number;
    let computed = calculate_transaction_root(&block.body.transactions);
    if computed != block.header.transactions_root {
        return Err(ChainFileError::TransactionsRoot {
            number,
            computed,
            header: block.header.transactions_root,
        });
    }
    let withdrawals_root = block
        .body
        .withdrawals
        .as_ref()
        .map(|w| calculate_withdrawals_root(w));
    if withdrawals_root != block.header.withdrawals_root {
        return Err(ChainFileError::WithdrawalsRoot { number });
    }
    Ok(())
}

/// Checks that `blocks` extend `parent` one by one (hash links and numbers) and that each
/// body matches its header.
pub fn verify_chain(parent: &Header, blocks: &[EthBlock]) -> Result<(), ChainFileError> {
    let mut expected = parent.hash_slow();
    let mut parent_number = parent.number;
    for block in blocks {
        let header = &block.header;
        if header.parent_hash != expected {
            return Err(ChainFileError::BrokenLink {
                number: header.number,
                parent_hash: header.parent_hash,
                expected,
            });
        }
        if header.number != parent_number + 1 {
            return Err(ChainFileError::BadNumber {
                number: header.number,
                parent: parent_number,
            });
        }
        verify_block(block)?;
        expected = header.hash_slow();
        parent_number = header.number;
    }
    Ok(())
}
