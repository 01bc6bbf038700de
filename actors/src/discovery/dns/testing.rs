//! Test helpers: an in-process resolver over a map of TXT records, and a tree builder that
//! lays out and signs trees as geth's `MakeTree` does (so tests can make valid, forged,
//! deep or looping trees at will).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use alloy_primitives::keccak256;
use data_encoding::BASE64URL_NOPAD;
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

use super::entry::{EntryHash, Link, BRANCH_PREFIX, ROOT_PREFIX};
use super::resolver::{LookupError, Resolver};
use crate::discovery::enr::{LocalRecord, Record, RecordContent};

/// geth's test signing key of the EIP-1459 example tree (`client_test.go`,
/// `TestClientSyncTree`: the example root verifies against this URL's key).
pub const EXAMPLE_URL: &str = "enrtree://AKPYQIUQIL7PSIACI32J7FGZW56E5FKHEFCCOFHILBIMW3M6LWXS2@n";

/// The example tree's TXT records (EIP-1459 "Example in zone file format", under `n` as
/// geth's test puts them).
pub const EXAMPLE_RECORDS: [(&str, &str); 6] = [
    ("n", "enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig=o908WmNp7LibOfPsr4btQwatZJ5URBr2ZAuxvK4UWHlsB9sUOTJQaGAlLPVAhM__XJesCHxLISo94z5Z2a463gA"),
    ("C7HRFPF3BLGF3YR4DY5KX3SMBE.n", "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@morenodes.example.org"),
    ("JWXYDBPXYWG6FX3GMDIBFA6CJ4.n", "enrtree-branch:2XS2367YHAXJFGLZHVAWLQD4ZY,H4FHT4B454P6UXFD7JCYQ5PWDY,MHTDO6TMUBRIA2XWG5LUDACK24"),
    ("2XS2367YHAXJFGLZHVAWLQD4ZY.n", "enr:-HW4QOFzoVLaFJnNhbgMoDXPnOvcdVuj7pDpqRvh6BRDO68aVi5ZcjB3vzQRZH2IcLBGHzo8uUN3snqmgTiE56CH3AMBgmlkgnY0iXNlY3AyNTZrMaECC2_24YYkYHEgdzxlSNKQEnHhuNAbNlMlWJxrJxbAFvA"),
    ("H4FHT4B454P6UXFD7JCYQ5PWDY.n", "enr:-HW4QAggRauloj2SDLtIHN1XBkvhFZ1vtf1raYQp9TBW2RD5EEawDzbtSmlXUfnaHcvwOizhVYLtr7e6vw7NAf6mTuoCgmlkgnY0iXNlY3AyNTZrMaECjrXI8TLNXU0f8cthpAMxEshUyQlK-AM0PW2wfrnacNI"),
    ("MHTDO6TMUBRIA2XWG5LUDACK24.n", "enr:-HW4QLAYqmrwllBEnzWWs7I5Ev2IAs7x_dZlbYdRdMUx5EyKHDXp7AV5CkuPGUPdvbv1_Ms1CPfhcGCvSElSosZmyoqAgmlkgnY0iXNlY3AyNTZrMaECriawHKWdDRk2xeZkrOXBQ0dfMFLHY4eENZwdufn1S1o"),
];

/// A resolver answering from a shared map (tests change it while a client runs).
#[derive(Clone, Default)]
pub struct MapResolver {
    /// name -> TXT records.
    pub records: Rc<RefCell<HashMap<String, Vec<String>>>>,
    /// Names queried, in order.
    pub queries: Rc<RefCell<Vec<String>>>,
}

impl MapResolver {
    /// A resolver holding `records`.
    pub fn new<'a>(records: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let resolver = Self::default();
        resolver.add(records);
        resolver
    }

    /// Adds or replaces records.
    pub fn add<'a>(&self, records: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut map = self.records.borrow_mut();
        for (name, text) in records {
            map.insert(name.to_string(), vec![text.to_string()]);
        }
    }

    /// Adds or replaces the records of a built tree.
    pub fn add_tree(&self, tree: &HashMap<String, String>) {
        self.add(tree.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
}

impl Resolver for MapResolver {
    async fn lookup_txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        self.queries.borrow_mut().push(name.to_string());
        let answer = self.records.borrow().get(name).cloned();
        answer.ok_or(LookupError::NotFound)
    }
}

/// The secret key of test seed `seed`.
pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_byte_array([seed.max(1); 32]).unwrap_or_else(|_| unreachable!())
}

/// A node record at 10.0.x.y:30303 signed by a key derived from `i`.
pub fn record(i: u16) -> Record {
    let mut bytes = [0x42; 32];
    bytes[..2].copy_from_slice(&i.to_be_bytes());
    let key = SecretKey::from_byte_array(bytes).unwrap_or_else(|_| unreachable!());
    let [a, b] = i.to_be_bytes();
    let content = RecordContent {
        ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, a, b))),
        tcp: 30303,
        udp: Some(30303),
        fork_id: None,
    };
    LocalRecord::load_or_create(&key, content, None)
        .map(|local| local.record().clone())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The URL of the tree at `domain` signed by `key`.
pub fn url(key: &SecretKey, domain: &str) -> Link {
    Link {
        key: PublicKey::from_secret_key(SECP256K1, key),
        domain: domain.to_string(),
    }
}

/// Children per branch of built trees (geth `maxChildren`).
pub const CHILDREN: usize = 18;

/// A tree's TXT records (name -> text), laid out as geth's `MakeTree`: leaves under
/// branches of at most [`CHILDREN`], the root signed by `key`.
pub fn build_tree(
    key: &SecretKey,
    domain: &str,
    seq: u64,
    records: &[Record],
    links: &[Link],
) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let leaves: Vec<String> = records.iter().map(Record::to_base64).collect();
    let eroot = build_subtree(&mut out, domain, leaves);
    let lroot = build_subtree(
        &mut out,
        domain,
        links.iter().map(|l| l.to_string()).collect(),
    );
    out.insert(domain.to_string(), sign_root(key, &eroot, &lroot, seq));
    out
}

/// A signed root text.
pub fn sign_root(key: &SecretKey, eroot: &str, lroot: &str, seq: u64) -> String {
    let content = format!("{ROOT_PREFIX} e={eroot} l={lroot} seq={seq}");
    let message = Message::from_digest(keccak256(content.as_bytes()).0);
    let (id, compact) = SECP256K1
        .sign_ecdsa_recoverable(message, key)
        .serialize_compact();
    let mut sig = compact.to_vec();
    sig.push(u8::try_from(i32::from(id)).unwrap_or(0));
    format!("{content} sig={}", BASE64URL_NOPAD.encode(&sig))
}

/// Puts `text` under its hash; returns the hash.
pub fn put(out: &mut HashMap<String, String>, domain: &str, text: String) -> String {
    let hash = EntryHash::of(&text).to_string();
    out.insert(format!("{hash}.{domain}"), text);
    hash
}

fn build_subtree(out: &mut HashMap<String, String>, domain: &str, texts: Vec<String>) -> String {
    if texts.len() == 1 {
        return texts
            .into_iter()
            .next()
            .map(|t| put(out, domain, t))
            .unwrap_or_default();
    }
    if texts.len() <= CHILDREN {
        let hashes: Vec<String> = texts.into_iter().map(|t| put(out, domain, t)).collect();
        return put(out, domain, format!("{BRANCH_PREFIX}{}", hashes.join(",")));
    }
    let groups: Vec<String> = texts
        .chunks(CHILDREN)
        .map(|chunk| build_subtree(out, domain, chunk.to_vec()))
        .collect();
    let branches: Vec<String> = groups
        .iter()
        .map(|h| out[&format!("{h}.{domain}")].clone())
        .collect();
    build_subtree(out, domain, branches)
}
