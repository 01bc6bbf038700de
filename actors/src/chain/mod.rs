//! Chain data outside the wire protocol: reading RLP chain files (geth `export` format) and
//! checking what can be checked without executing blocks.

mod rlp_file;

pub use rlp_file::{read_chain_file, verify_block, verify_chain, ChainFileError};
