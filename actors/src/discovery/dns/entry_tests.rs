//! EIP-1459 entry parsing: the EIP's example records, root signatures, and malformed,
//! oversized and odd (base32, base64, UTF-8) text.

use super::*;
use crate::discovery::dns::testing::{self, EXAMPLE_RECORDS, EXAMPLE_URL};

fn example(name: &str) -> &'static str {
    EXAMPLE_RECORDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap()
}

#[test]
fn the_eip_url_decodes_to_its_compressed_public_key() {
    // EIP-1459 says this URL "is signed by the public key 0x049f8822...", but the URL's
    // base32 (RFC 4648) decodes to the key 0x033a5141... (the EIP's two examples
    // disagree; geth decodes it as we do, and its link entry in the example tree is
    // this same text).
    let link: Link =
        "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@nodes.example.org"
            .parse()
            .unwrap();
    assert_eq!(link.domain, "nodes.example.org");
    assert_eq!(
        alloy_primitives::hex::encode(link.key.serialize_uncompressed()),
        "043a514176466fa815ed481ffad09110a2d344f6c9b78c1d14afc351c3a51be33d8072e77939dc03ba44790779b7a1025baf3003f6732430e20cd9b76d953391b3"
    );
    assert_eq!(
        link.to_string(),
        "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@nodes.example.org"
    );
}

#[test]
fn the_eip_example_root_verifies_and_names_its_subtrees() {
    let link: Link = EXAMPLE_URL.parse().unwrap();
    let root = Root::parse(example("n")).unwrap();
    assert_eq!(root.enr_root.as_str(), "JWXYDBPXYWG6FX3GMDIBFA6CJ4");
    assert_eq!(root.link_root.as_str(), "C7HRFPF3BLGF3YR4DY5KX3SMBE");
    assert_eq!(root.seq, 1);
    root.verify(&link.key).unwrap();
    // Another key: refused.
    let other: Link = "enrtree://AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2@n"
        .parse()
        .unwrap();
    assert!(matches!(
        root.verify(&other.key),
        Err(DnsError::BadSignature { .. })
    ));
}

#[test]
fn every_eip_example_entry_matches_its_subdomain_hash() {
    for (name, text) in &EXAMPLE_RECORDS[1..] {
        let label = name.split('.').next().unwrap();
        let hash: EntryHash = label.parse().unwrap();
        assert!(hash.matches(text), "{name}");
        assert_eq!(EntryHash::of(text), hash, "{name}");
        let entry = Entry::parse(text).unwrap();
        match (label, &entry) {
            ("C7HRFPF3BLGF3YR4DY5KX3SMBE", Entry::Link(link)) => {
                assert_eq!(link.domain, "morenodes.example.org")
            }
            ("JWXYDBPXYWG6FX3GMDIBFA6CJ4", Entry::Branch(children)) => {
                assert_eq!(children.len(), 3)
            }
            (_, Entry::Enr(record)) => assert!(record.verify()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let hash: EntryHash = "2XS2367YHAXJFGLZHVAWLQD4ZY".parse().unwrap();
    assert!(!hash.matches(example("H4FHT4B454P6UXFD7JCYQ5PWDY.n")));
}

#[test]
fn a_tampered_root_fails_its_signature() {
    let link: Link = EXAMPLE_URL.parse().unwrap();
    let text = example("n").replace("seq=1", "seq=2");
    let root = Root::parse(&text).unwrap();
    assert!(matches!(
        root.verify(&link.key),
        Err(DnsError::BadSignature { .. })
    ));
    let text = example("n").replace(
        "e=JWXYDBPXYWG6FX3GMDIBFA6CJ4",
        "e=2XS2367YHAXJFGLZHVAWLQD4ZY",
    );
    assert!(Root::parse(&text).unwrap().verify(&link.key).is_err());
    // A signature of the wrong length or alphabet.
    let short = example("n").rsplit_once("sig=").unwrap().0.to_string() + "sig=AAAA";
    assert!(matches!(
        Root::parse(&short),
        Err(DnsError::BadSignature { .. })
    ));
    let bad = example("n").replace("sig=o9", "sig=+/");
    assert!(matches!(
        Root::parse(&bad),
        Err(DnsError::BadSignature { .. })
    ));
}

#[test]
fn our_signed_roots_verify_with_the_recovery_byte_ignored() {
    let key = testing::key(7);
    let url = testing::url(&key, "nodes.test");
    let text = testing::sign_root(
        &key,
        "JWXYDBPXYWG6FX3GMDIBFA6CJ4",
        "C7HRFPF3BLGF3YR4DY5KX3SMBE",
        9,
    );
    let root = Root::parse(&text).unwrap();
    root.verify(&url.key).unwrap();
    assert_eq!(root.seq, 9);
}

#[test]
fn malformed_roots_are_refused_with_typed_errors() {
    let sig = example("n").rsplit_once(" sig=").unwrap().1;
    for text in [
        String::new(),
        "enrtree-root:v1".to_string(),
        format!("enrtree-root:v2 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig={sig}"),
        format!("enrtree-root:v1 l=C7HRFPF3BLGF3YR4DY5KX3SMBE e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 seq=1 sig={sig}"),
        format!("enrtree-root:v1  e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig={sig}"),
        format!("enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=-1 sig={sig}"),
        format!("enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=99999999999999999999999 sig={sig}"),
        format!("enrtree-root:v1 e=JWXYDBPXYWG6FX3GMDIBFA6CJ4 l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 x=y sig={sig}"),
    ] {
        assert!(matches!(Root::parse(&text), Err(DnsError::Syntax { entry: "root", .. })), "{text}");
    }
    // Hashes that are too short, not base32 or too long.
    for hash in [
        "AAAA",
        "jwxydbpxywg6fx3gmdibfa6cj4",
        "JWXYDBPXYWG6FX3GMDIBFA6CJ4JWXYDBPXYWG6FX3GMDIBFA6CJ4JWXYDBPXYWG6",
    ] {
        let text = format!("enrtree-root:v1 e={hash} l=C7HRFPF3BLGF3YR4DY5KX3SMBE seq=1 sig={sig}");
        assert!(
            matches!(Root::parse(&text), Err(DnsError::BadHash { .. })),
            "{hash}"
        );
    }
    let long = format!("{} sig={sig}", "enrtree-root:v1 ".repeat(40));
    assert!(matches!(
        Root::parse(&long),
        Err(DnsError::TooLong {
            max: MAX_ENTRY_LEN,
            ..
        })
    ));
}

#[test]
fn unknown_malformed_and_oversized_entries_are_refused() {
    assert!(matches!(
        Entry::parse("v=spf1 -all"),
        Err(DnsError::UnknownEntry { .. })
    ));
    assert!(matches!(
        Entry::parse(""),
        Err(DnsError::UnknownEntry { .. })
    ));
    assert!(matches!(
        Entry::parse("enr:-----"),
        Err(DnsError::BadRecord { .. })
    ));
    assert!(matches!(
        Entry::parse("enrtree-branch:A,B"),
        Err(DnsError::BadHash { .. })
    ));
    assert!(matches!(
        Entry::parse("enrtree-branch:,"),
        Err(DnsError::BadHash { .. })
    ));
    assert!(matches!(Entry::parse("enrtree-branch:"), Ok(Entry::Branch(c)) if c.is_empty()));
    // geth's widest branch (18 children of 26 characters) fits in 500 bytes.
    let many = vec!["2XS2367YHAXJFGLZHVAWLQD4ZY"; 18].join(",");
    assert!(
        matches!(Entry::parse(&format!("enrtree-branch:{many}")), Ok(Entry::Branch(c)) if c.len() == 18)
    );
    // Within MAX_ENTRY_LEN at most 24 of the shortest hashes fit; the child bound is
    // checked on its own all the same.
    let short_hash = vec!["2XS2367YHAXJFGLZHVAW"; MAX_BRANCH_CHILDREN + 1].join(",");
    assert!(matches!(
        parse_branch(&short_hash),
        Err(DnsError::TooManyChildren { count: 33, .. })
    ));
    let huge = format!(
        "enrtree-branch:{}",
        vec!["2XS2367YHAXJFGLZHVAWLQD4ZY"; 1000].join(",")
    );
    assert!(matches!(Entry::parse(&huge), Err(DnsError::TooLong { .. })));
    let key = "AM5FCQLWIZX2QFPNJAP7VUERCCRNGRHWZG3YYHIUV7BVDQ5FDPRT2";
    for bad in [
        "enrtree://".to_string(),
        format!("enrtree://{key}"),
        format!("enrtree://{key}@"),
        format!("enrtree://{key}@a..b"),
        format!("enrtree://{key}@a b.org"),
        format!("enrtree://{key}@{}.org", "a".repeat(64)),
        "enrtree://AAAA@nodes.example.org".to_string(),
        format!("enrtree://{}@nodes.example.org", "A".repeat(53)),
        format!("enrtree://{key}@ünïcode.org"),
    ] {
        assert!(Entry::parse(&bad).is_err(), "{bad}");
        assert!(bad.parse::<Link>().is_err(), "{bad}");
    }
    // A trailing dot is allowed and dropped; the domain key is lower case.
    let link: Link = format!("enrtree://{key}@Nodes.Example.org.")
        .parse()
        .unwrap();
    assert_eq!(
        (link.domain.as_str(), link.domain_key().as_str()),
        ("Nodes.Example.org", "nodes.example.org")
    );
}

#[test]
fn clip_never_splits_a_character() {
    let text = "é".repeat(100);
    assert_eq!(clip(&text).len(), 64);
    assert_eq!(clip("abc"), "abc");
    let odd = format!("a{}", "é".repeat(40));
    assert_eq!(clip(&odd).len(), 63);
}
