//! EIP-1459 tree entries as text: the `enrtree://KEY@domain` URL (also the link entry),
//! the signed root (`enrtree-root:v1 e=.. l=.. seq=.. sig=..`), branches
//! (`enrtree-branch:h1,h2,..`) and leaves (`enr:..`), and the hash that names each entry's
//! subdomain. Pure text and crypto: every input is a remote string, so lengths are checked
//! before anything is decoded and nothing here panics.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::keccak256;
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use secp256k1::{ecdsa::Signature, Message, PublicKey, SECP256K1};

use super::DnsError;
use crate::discovery::enr::{self, Record};

/// The longest TXT record (all its strings joined) we parse: EIP-1459 says an entry
/// "should be small enough to fit into the 512 byte limit imposed on UDP DNS packets".
/// geth's trees stay below it (an `enr:` leaf of a 300-byte record is 404 bytes, a branch
/// of 18 children 500).
pub const MAX_ENTRY_LEN: usize = 512;

/// Bytes of keccak256 a tree builder puts into a subdomain (geth `hashAbbrev`).
pub const HASH_ABBREV: usize = 16;

/// The shortest hash we accept in bytes (geth `minHashLength`): fewer would let a forger
/// find a matching entry by brute force.
pub const MIN_HASH_LEN: usize = 12;

/// The longest hash in bytes: all of keccak256.
pub const MAX_HASH_LEN: usize = 32;

/// Children of one branch at most (ours). geth writes at most 18 (`maxChildren`:
/// 300 / hashAbbrev * (13 / 8)); [`MAX_ENTRY_LEN`] alone would allow 24 of the shortest
/// hashes; this bound is stated for clarity and for builders with other habits.
pub const MAX_BRANCH_CHILDREN: usize = 32;

/// The longest domain name (RFC 1035: 255 octets on the wire, 253 as text).
pub const MAX_DOMAIN_LEN: usize = 253;

/// The root entry's prefix (EIP-1459; geth `rootPrefix`).
pub const ROOT_PREFIX: &str = "enrtree-root:v1";
/// The link entry's and URL's prefix (geth `linkPrefix`).
pub const LINK_PREFIX: &str = "enrtree://";
/// The branch entry's prefix (geth `branchPrefix`).
pub const BRANCH_PREFIX: &str = "enrtree-branch:";
/// The leaf entry's prefix, the ENR text form (geth `enrPrefix`).
pub const ENR_PREFIX: &str = "enr:";

/// A subdomain hash: base32 (RFC 4648, no padding) of a prefix of an entry's keccak256.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EntryHash {
    text: Box<str>,
    bytes: Box<[u8]>,
}

impl EntryHash {
    /// The hash of an entry's text as tree builders name it ([`HASH_ABBREV`] bytes).
    pub fn of(text: &str) -> Self {
        let digest = keccak256(text.as_bytes());
        let bytes: Box<[u8]> = digest[..HASH_ABBREV].into();
        Self {
            text: BASE32_NOPAD.encode(&bytes).into(),
            bytes,
        }
    }

    /// The subdomain label.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `text` is the entry this hash names: its keccak256 starts with the hash.
    pub fn matches(&self, text: &str) -> bool {
        keccak256(text.as_bytes()).starts_with(&self.bytes)
    }
}

impl FromStr for EntryHash {
    type Err = DnsError;

    fn from_str(text: &str) -> Result<Self, DnsError> {
        let bad = || DnsError::BadHash {
            hash: clip(text).to_string(),
        };
        // 32 bytes take 52 base32 characters; refuse longer text before decoding it.
        if text.len() > 52 {
            return Err(bad());
        }
        let bytes = BASE32_NOPAD.decode(text.as_bytes()).map_err(|_| bad())?;
        if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&bytes.len()) {
            return Err(bad());
        }
        Ok(Self {
            text: text.into(),
            bytes: bytes.into(),
        })
    }
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.text)
    }
}

/// A tree's location: `enrtree://<base32 compressed key>@<domain>`, as a URL given to the
/// node and as a link entry inside a tree.
#[derive(Clone, PartialEq, Eq)]
pub struct Link {
    /// The key that signs the tree's root.
    pub key: PublicKey,
    /// Where the root's TXT record is (as written, without a trailing dot).
    pub domain: String,
}

impl Link {
    /// The domain in lower case, the key under which a client keeps the tree.
    pub fn domain_key(&self) -> String {
        self.domain.to_ascii_lowercase()
    }
}

impl FromStr for Link {
    type Err = DnsError;

    fn from_str(text: &str) -> Result<Self, DnsError> {
        let rest = text
            .strip_prefix(LINK_PREFIX)
            .ok_or_else(|| DnsError::Syntax {
                entry: "link",
                text: clip(text).to_string(),
            })?;
        let (key, domain) = rest.split_once('@').ok_or_else(|| DnsError::Syntax {
            entry: "link",
            text: clip(text).to_string(),
        })?;
        let bad_key = || DnsError::BadPublicKey {
            key: clip(key).to_string(),
        };
        // A compressed key is 33 bytes: 53 base32 characters.
        if key.len() != 53 {
            return Err(bad_key());
        }
        let bytes = BASE32_NOPAD.decode(key.as_bytes()).map_err(|_| bad_key())?;
        let key = PublicKey::from_slice(&bytes).map_err(|_| bad_key())?;
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        check_domain(domain)?;
        Ok(Self {
            key,
            domain: domain.to_string(),
        })
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = BASE32_NOPAD.encode(&self.key.serialize());
        write!(f, "{LINK_PREFIX}{key}@{}", self.domain)
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({self})")
    }
}

/// Links order by domain (lower case first), then key: trees are kept in sets.
impl PartialOrd for Link {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Link {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Case-insensitive first (the tree's key), then exact, so that the order agrees
        // with `Eq`.
        (self.domain_key(), &self.domain, self.key.serialize()).cmp(&(
            other.domain_key(),
            &other.domain,
            other.key.serialize(),
        ))
    }
}

/// A host name we are willing to query: letters, digits, `-` and `_` in labels of 1 to 63
/// characters, at most [`MAX_DOMAIN_LEN`] in all.
fn check_domain(domain: &str) -> Result<(), DnsError> {
    let valid = !domain.is_empty()
        && domain.len() <= MAX_DOMAIN_LEN
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match valid {
        true => Ok(()),
        false => Err(DnsError::BadDomain {
            domain: clip(domain).to_string(),
        }),
    }
}

/// A tree's signed root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// The root of the subtree of node records.
    pub enr_root: EntryHash,
    /// The root of the subtree of links to other trees.
    pub link_root: EntryHash,
    /// The tree's update sequence number.
    pub seq: u64,
    /// keccak256 of the text before ` sig=`, what the signature signs.
    signed: [u8; 32],
    /// r || s || v.
    signature: [u8; 65],
}

impl Root {
    /// Parses a root entry (no signature check: see [`Root::verify`]).
    pub fn parse(text: &str) -> Result<Self, DnsError> {
        check_len(text)?;
        let syntax = || DnsError::Syntax {
            entry: "root",
            text: clip(text).to_string(),
        };
        let (content, sig) = text.split_once(" sig=").ok_or_else(syntax)?;
        let fields = content.strip_prefix(ROOT_PREFIX).ok_or_else(syntax)?;
        let mut parts = fields.split(' ');
        // The prefix is followed by one space, then e=, l= and seq= in geth's order.
        if parts.next() != Some("") {
            return Err(syntax());
        }
        let mut field = |name: &str| {
            parts
                .next()
                .and_then(|part| part.strip_prefix(name))
                .ok_or_else(syntax)
        };
        let enr_root = field("e=")?.parse()?;
        let link_root = field("l=")?.parse()?;
        let seq = field("seq=")?.parse().map_err(|_| syntax())?;
        if parts.next().is_some() {
            return Err(syntax());
        }
        let bytes = BASE64URL_NOPAD
            .decode(sig.as_bytes())
            .map_err(|_| DnsError::BadSignature {
                reason: "not base64url",
            })?;
        let signature: [u8; 65] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| DnsError::BadSignature {
                    reason: "not 65 bytes",
                })?;
        Ok(Self {
            enr_root,
            link_root,
            seq,
            signed: keccak256(content.as_bytes()).0,
            signature,
        })
    }

    /// Checks the signature against the tree's key. Like geth, the recovery id is ignored
    /// and only low-s signatures pass (libsecp256k1 and geth's `VerifySignature` agree).
    pub fn verify(&self, key: &PublicKey) -> Result<(), DnsError> {
        let bad = |reason| DnsError::BadSignature { reason };
        let signature =
            Signature::from_compact(&self.signature[..64]).map_err(|_| bad("not a signature"))?;
        let message = Message::from_digest(self.signed);
        SECP256K1
            .verify_ecdsa(message, &signature, key)
            .map_err(|_| bad("does not verify against the tree's key"))
    }
}

/// An entry below the root.
#[derive(Clone, Debug)]
pub enum Entry {
    /// An intermediate node: the hashes of its children.
    Branch(Vec<EntryHash>),
    /// A leaf: a node record (signature checked).
    Enr(Box<Record>),
    /// A leaf: another tree.
    Link(Link),
}

impl Entry {
    /// Parses a non-root entry; text of another type is [`DnsError::UnknownEntry`] (geth
    /// skips such TXT records and reads the next one).
    pub fn parse(text: &str) -> Result<Self, DnsError> {
        check_len(text)?;
        if let Some(children) = text.strip_prefix(BRANCH_PREFIX) {
            return parse_branch(children).map(Self::Branch);
        }
        if text.starts_with(ENR_PREFIX) {
            let record = enr::parse_record(text).map_err(|error| DnsError::BadRecord {
                reason: error.to_string(),
            })?;
            return Ok(Self::Enr(Box::new(record)));
        }
        if text.starts_with(LINK_PREFIX) {
            return text.parse().map(Self::Link);
        }
        Err(DnsError::UnknownEntry {
            text: clip(text).to_string(),
        })
    }

    /// The entry's type, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Branch(_) => "branch",
            Self::Enr(_) => "enr",
            Self::Link(_) => "link",
        }
    }
}

/// The children of a branch: an empty list is allowed (geth writes one for an empty tree).
fn parse_branch(children: &str) -> Result<Vec<EntryHash>, DnsError> {
    if children.is_empty() {
        return Ok(Vec::new());
    }
    let count = children.split(',').count();
    if count > MAX_BRANCH_CHILDREN {
        return Err(DnsError::TooManyChildren {
            count,
            max: MAX_BRANCH_CHILDREN,
        });
    }
    children.split(',').map(str::parse).collect()
}

fn check_len(text: &str) -> Result<(), DnsError> {
    match text.len() > MAX_ENTRY_LEN {
        true => Err(DnsError::TooLong {
            len: text.len(),
            max: MAX_ENTRY_LEN,
        }),
        false => Ok(()),
    }
}

/// At most the first 64 bytes of a remote string, for errors and logs.
pub(super) fn clip(text: &str) -> &str {
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
