//! Ethereum Node Records (EIP-778, `enr.md`) as discovery uses them: our own record (ip,
//! tcp, udp, secp256k1 and the `eth` entry with our fork id, `enr-entries/eth.md`), its
//! sequence number kept in the data directory and raised whenever the content changes,
//! and the checks a remote record passes (signature, size, the `eth` entry's shape).
//!
//! Records are sigp's `enr` crate's; this module owns what goes into ours and what we
//! read out of others'. Pure data and files: no sockets, no actors.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use alloy_primitives::B512;
use alloy_rlp::{Decodable, Encodable, Header};

pub use enr::secp256k1 as enr_secp256k1;

use crate::eth::forkid::ForkId;

/// A node record signed with the v4 identity scheme (secp256k1).
pub type Record = enr::Enr<enr_secp256k1::SecretKey>;

/// The record key of the `eth` entry (`enr-entries/eth.md`).
pub const ETH_KEY: &str = "eth";

/// The file in the data directory that keeps our last record, so that its sequence number
/// only goes up across restarts (geth keeps it in its node database).
pub const RECORD_FILE: &str = "enr";

/// Why a record could not be made, kept or read.
#[derive(Debug, thiserror::Error)]
pub enum EnrError {
    /// The node key is not usable by the record's secp256k1 library.
    #[error("node key rejected by the record signer")]
    Key,
    /// Building or signing the record failed (for example, over 300 bytes).
    #[error("cannot build the node record: {0}")]
    Build(String),
    /// Reading or writing the record file failed.
    #[error("node record file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A remote record does not decode or its signature does not verify.
    #[error("invalid node record: {0}")]
    Decode(alloy_rlp::Error),
    /// The text form is not `enr:` + base64url of a valid record.
    #[error("invalid node record text: {0}")]
    Text(String),
}

/// What our record says; a change of any field raises the sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordContent {
    /// The address others reach us at (`ip` or `ip6`); none while we do not know it.
    pub ip: Option<IpAddr>,
    /// RLPx port.
    pub tcp: u16,
    /// Discovery port; none when discovery is off.
    pub udp: Option<u16>,
    /// Our fork id for the `eth` entry.
    pub fork_id: Option<ForkId>,
}

/// The `eth` entry's value: `[[fork-hash, fork-next], ...]`; later elements are ignored on
/// receipt, as in geth's `enrEntry` (`rlp:"tail"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthEntry {
    /// The node's fork id.
    pub fork_id: ForkId,
}

impl Encodable for EthEntry {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        Header {
            list: true,
            payload_length: self.fork_id.length(),
        }
        .encode(out);
        self.fork_id.encode(out);
    }
    fn length(&self) -> usize {
        let payload = self.fork_id.length();
        alloy_rlp::length_of_length(payload) + payload
    }
}

impl Decodable for EthEntry {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = Header::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let mut payload = buf
            .get(..header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        *buf = &buf[header.payload_length..];
        let fork_id = ForkId::decode(&mut payload)?;
        Ok(Self { fork_id })
    }
}

/// Our record and the key that signs it, with the file that remembers its sequence number.
pub struct LocalRecord {
    key: enr_secp256k1::SecretKey,
    record: Record,
    content: RecordContent,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for LocalRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRecord")
            .field("record", &self.record.to_base64())
            .field("content", &self.content)
            .finish()
    }
}

impl LocalRecord {
    /// Our record with `content`. With a `path`, the last record saved there (by the same
    /// key) gives the sequence number: kept if the content is unchanged, one higher
    /// otherwise; the new record is saved back. Without a path it starts at 1.
    pub fn load_or_create(
        key: &secp256k1::SecretKey,
        content: RecordContent,
        path: Option<&Path>,
    ) -> Result<Self, EnrError> {
        let key =
            enr_secp256k1::SecretKey::from_slice(&key.secret_bytes()).map_err(|_| EnrError::Key)?;
        let previous = path.and_then(|p| read_record_file(p, &key));
        let seq = match &previous {
            Some(old) if content_of(old) == content => old.seq(),
            Some(old) => old.seq().saturating_add(1),
            None => 1,
        };
        let record = build(&key, content, seq)?;
        let local = Self {
            key,
            record,
            content,
            path: path.map(Path::to_path_buf),
        };
        local.save()?;
        Ok(local)
    }

    /// Changes the content; raises the sequence number and saves only if it differs.
    /// Answers whether the record changed.
    pub fn update(&mut self, content: RecordContent) -> Result<bool, EnrError> {
        if content == self.content {
            return Ok(false);
        }
        self.record = build(&self.key, content, self.record.seq().saturating_add(1))?;
        self.content = content;
        self.save()?;
        Ok(true)
    }

    /// The signed record.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Its sequence number.
    pub fn seq(&self) -> u64 {
        self.record.seq()
    }

    /// Its content.
    pub fn content(&self) -> RecordContent {
        self.content
    }

    fn save(&self) -> Result<(), EnrError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        std::fs::write(path, self.record.to_base64()).map_err(|source| EnrError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// The record at `path` if it exists, is valid and was signed by `key`; anything else
/// (absent, damaged, another key's) starts the sequence afresh.
fn read_record_file(path: &Path, key: &enr_secp256k1::SecretKey) -> Option<Record> {
    let text = std::fs::read_to_string(path).ok()?;
    let record: Record = text.trim().parse().ok()?;
    let ours = enr_secp256k1::PublicKey::from_secret_key_global(key);
    (record.public_key() == ours).then_some(record)
}

fn build(
    key: &enr_secp256k1::SecretKey,
    content: RecordContent,
    seq: u64,
) -> Result<Record, EnrError> {
    let mut builder = Record::builder();
    builder.seq(seq);
    if let Some(ip) = content.ip {
        builder.ip(ip.to_canonical());
    }
    let v6 = content.ip.is_some_and(|ip| ip.to_canonical().is_ipv6());
    match v6 {
        true => builder.tcp6(content.tcp),
        false => builder.tcp4(content.tcp),
    };
    if let Some(udp) = content.udp {
        match v6 {
            true => builder.udp6(udp),
            false => builder.udp4(udp),
        };
    }
    if let Some(fork_id) = content.fork_id {
        builder.add_value(ETH_KEY, &EthEntry { fork_id });
    }
    builder
        .build(key)
        .map_err(|error| EnrError::Build(format!("{error:?}")))
}

/// What a record says, in our terms.
pub fn content_of(record: &Record) -> RecordContent {
    let ip = record
        .ip4()
        .map(IpAddr::V4)
        .or_else(|| record.ip6().map(IpAddr::V6));
    RecordContent {
        ip,
        tcp: record.tcp4().or_else(|| record.tcp6()).unwrap_or(0),
        udp: record.udp4().or_else(|| record.udp6()),
        fork_id: eth_fork_id(record).and_then(Result::ok),
    }
}

/// Decodes a remote record (at most 300 bytes, signature checked by the `enr` crate).
pub fn decode_record(rlp: &[u8]) -> Result<Record, EnrError> {
    let mut buf = rlp;
    let record = Record::decode(&mut buf).map_err(EnrError::Decode)?;
    // `Enr::decode` verifies the content against the key; check once more so that a
    // change in the crate cannot silently let a forged record through.
    if !record.verify() {
        return Err(EnrError::Decode(alloy_rlp::Error::Custom("bad signature")));
    }
    Ok(record)
}

/// Parses the text form `enr:<base64url>`.
pub fn parse_record(text: &str) -> Result<Record, EnrError> {
    text.trim().parse().map_err(EnrError::Text)
}

/// The record's node id as discv4 and RLPx name nodes: the uncompressed public key.
pub fn node_id(record: &Record) -> B512 {
    let uncompressed = record.public_key().serialize_uncompressed();
    B512::from_slice(&uncompressed[1..])
}

/// The `eth` entry's fork id: `None` without the entry, `Some(Err)` when it is malformed.
pub fn eth_fork_id(record: &Record) -> Option<Result<ForkId, alloy_rlp::Error>> {
    let raw = record.get_raw_rlp(ETH_KEY)?;
    let mut buf = raw;
    Some(EthEntry::decode(&mut buf).map(|entry| entry.fork_id))
}

/// The record's TCP endpoint (IPv4 preferred), if it names one.
pub fn tcp_addr(record: &Record) -> Option<SocketAddr> {
    record
        .tcp4_socket()
        .map(SocketAddr::V4)
        .or_else(|| record.tcp6_socket().map(SocketAddr::V6))
}

#[cfg(test)]
#[path = "enr_tests.rs"]
mod tests;
