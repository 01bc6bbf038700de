//! Node discovery via DNS (EIP-1459): signed merkle trees of node records published as TXT
//! records, as go-ethereum's `p2p/dnsdisc` client reads them.
//!
//! - [`entry`]: the text of URLs, roots, branches, leaves and links, and their checks
//!   (root signature against the URL's key, each entry's hash against its subdomain).
//! - [`tree`]: the sync state of one tree (which hash to fetch next, link and node
//!   subtrees, root rechecks), without I/O.
//! - [`client`]: the [`Client`] that walks a set of trees through a [`Resolver`] at a
//!   limited rate, with a bounded cache, timeouts and link following; it yields node
//!   records one at a time, as geth's random iterator does.
//! - [`resolver`]: the real resolver (hickory-resolver, the system's DNS servers).
//!
//! - [`service`]: the task that walks the configured trees and emits each record as a
//!   [`NodeDiscovered`](super::NodeDiscovered) (the only file here that uses actix).
//!
//! Every string here comes from the network: sizes are bounded before anything is
//! decoded, errors are typed, nothing panics.

pub mod client;
pub mod entry;
pub mod metrics;
pub mod resolver;
pub mod service;
pub mod tree;

pub use client::{Client, ClientConfig};
pub use entry::{Entry, EntryHash, Link, Root};
pub use metrics::DnsMetrics;
pub use resolver::{HickoryResolver, LookupError, Resolver};

/// Why a tree, or one of its entries, could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// A TXT record longer than [`entry::MAX_ENTRY_LEN`].
    #[error("entry of {len} bytes, over the limit of {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Text that is none of the entry types (geth skips such records).
    #[error("unknown entry type: {text:?}")]
    UnknownEntry {
        /// The start of the text.
        text: String,
    },
    /// An entry of a known type that does not parse.
    #[error("malformed {entry} entry: {text:?}")]
    Syntax {
        /// The entry type.
        entry: &'static str,
        /// The start of the text.
        text: String,
    },
    /// A hash that is not base32 of 12 to 32 bytes.
    #[error("invalid entry hash {hash:?}")]
    BadHash {
        /// The start of the text.
        hash: String,
    },
    /// A key that is not base32 of a compressed secp256k1 public key.
    #[error("invalid tree public key {key:?}")]
    BadPublicKey {
        /// The start of the text.
        key: String,
    },
    /// A domain name we will not query.
    #[error("invalid domain name {domain:?}")]
    BadDomain {
        /// The start of the name.
        domain: String,
    },
    /// The root's signature is malformed or not the tree key's.
    #[error("root signature {reason}")]
    BadSignature {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `enr:` leaf whose record does not decode or verify.
    #[error("invalid node record: {reason}")]
    BadRecord {
        /// Why.
        reason: String,
    },
    /// A branch with more than [`entry::MAX_BRANCH_CHILDREN`] children.
    #[error("branch of {count} children, over the limit of {max}")]
    TooManyChildren {
        /// How many it lists.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The entry's keccak256 does not start with its subdomain's hash.
    #[error("{name}: content does not match its hash")]
    HashMismatch {
        /// The queried name.
        name: String,
    },
    /// The domain has no `enrtree-root:v1` record.
    #[error("{domain}: no tree root")]
    NoRoot {
        /// The tree's domain.
        domain: String,
    },
    /// The name has no TXT record of a known entry type.
    #[error("{name}: no tree entry")]
    NoEntry {
        /// The queried name.
        name: String,
    },
    /// A root whose sequence number went down (EIP-1459 step 2 wants it at least the
    /// last one seen).
    #[error("{domain}: root seq {seq} below the {previous} seen before")]
    SeqRegressed {
        /// The tree's domain.
        domain: String,
        /// The new root's.
        seq: u64,
        /// The last verified one.
        previous: u64,
    },
    /// A node record in the link subtree or a link in the node subtree.
    #[error("{name}: {found} entry in the {subtree} subtree")]
    WrongSubtree {
        /// The queried name.
        name: String,
        /// What was found.
        found: &'static str,
        /// Where.
        subtree: &'static str,
    },
    /// A branch deeper than [`tree::MAX_TREE_DEPTH`].
    #[error("{name}: branch at depth {depth}, over the limit of {max}")]
    TooDeep {
        /// The queried name.
        name: String,
        /// Its depth.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A subtree with more entries than [`tree::MAX_TREE_ENTRIES`] or more pending hashes
    /// than [`tree::MAX_PENDING`].
    #[error("{domain}: tree over the limit of {max} {what}")]
    TreeTooLarge {
        /// The tree's domain.
        domain: String,
        /// Which limit.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A link to a domain we already follow under another key.
    #[error("{domain}: linked with a different key than before")]
    ConflictingKey {
        /// The domain.
        domain: String,
    },
    /// The resolver failed.
    #[error("{name}: lookup failed: {reason}")]
    Lookup {
        /// The queried name.
        name: String,
        /// The resolver's reason.
        reason: String,
    },
    /// The resolver did not answer within [`client::LOOKUP_TIMEOUT`].
    #[error("{name}: lookup timed out")]
    Timeout {
        /// The queried name.
        name: String,
    },
}

impl DnsError {
    /// Every [`DnsError::kind`] label, in metrics order.
    pub const KINDS: [&'static str; 6] = [
        "lookup",
        "timeout",
        "malformed",
        "signature",
        "hash_mismatch",
        "invalid_tree",
    ];

    /// The metrics label: what went wrong, coarsely.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Lookup { .. } | Self::NoRoot { .. } | Self::NoEntry { .. } => "lookup",
            Self::Timeout { .. } => "timeout",
            Self::TooLong { .. }
            | Self::UnknownEntry { .. }
            | Self::Syntax { .. }
            | Self::BadHash { .. }
            | Self::BadPublicKey { .. }
            | Self::BadDomain { .. }
            | Self::BadRecord { .. }
            | Self::TooManyChildren { .. } => "malformed",
            Self::BadSignature { .. } => "signature",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::SeqRegressed { .. }
            | Self::WrongSubtree { .. }
            | Self::TooDeep { .. }
            | Self::TreeTooLarge { .. }
            | Self::ConflictingKey { .. } => "invalid_tree",
        }
    }

    /// The index of [`DnsError::kind`] in [`DnsError::KINDS`].
    pub fn kind_index(&self) -> usize {
        let kind = self.kind();
        Self::KINDS.iter().position(|k| *k == kind).unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod testing;
