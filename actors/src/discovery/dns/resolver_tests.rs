//! The real resolver against a small DNS server on 127.0.0.1 (a UDP responder written
//! here, using hickory's message codec), so hickory's whole path runs without internet.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record as DnsRecord, RecordType};
use tokio::net::UdpSocket;

use super::*;
use crate::discovery::dns::testing::{EXAMPLE_RECORDS, EXAMPLE_URL};
use crate::discovery::dns::{Client, ClientConfig};

/// name (lower case, no trailing dot) -> TXT records, each a list of character-strings.
type Zone = HashMap<String, Vec<Vec<String>>>;

/// Serves `zone` over UDP on 127.0.0.1 until the test ends; answers NXDOMAIN for other
/// names. Returns its address.
async fn serve(zone: Zone) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let zone = Arc::new(zone);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let reply = answer(&zone, &query);
            let _ = socket.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    addr
}

fn answer(zone: &Zone, query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authoritative = true;
    let Some(question) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(question.clone());
    let name = question.name().to_string();
    let key = name.trim_end_matches('.').to_ascii_lowercase();
    match zone.get(&key) {
        Some(records) if question.query_type() == RecordType::TXT => {
            for strings in records {
                let txt = TXT::new(strings.clone());
                reply.add_answer(DnsRecord::from_rdata(
                    question.name().clone(),
                    60,
                    RData::TXT(txt),
                ));
            }
        }
        Some(_) => {}
        None => reply.metadata.response_code = ResponseCode::NXDomain,
    }
    reply
}

fn example_zone() -> Zone {
    EXAMPLE_RECORDS
        .iter()
        .map(|(name, text)| (name.to_ascii_lowercase(), vec![vec![text.to_string()]]))
        .collect()
}

#[tokio::test]
async fn txt_records_come_back_joined_and_missing_names_as_not_found() {
    let mut zone = example_zone();
    // A record split into character-strings of at most 255 bytes, as DNS stores them.
    let leaf = EXAMPLE_RECORDS[3].1;
    let (a, b) = leaf.split_at(100);
    zone.insert("split.test".into(), vec![vec![a.into(), b.into()]]);
    let server = serve(zone).await;
    let resolver = HickoryResolver::with_server(server).unwrap();
    assert_eq!(
        resolver.lookup_txt("split.test").await.unwrap(),
        vec![leaf.to_string()]
    );
    assert_eq!(
        resolver.lookup_txt("n").await.unwrap(),
        vec![EXAMPLE_RECORDS[0].1.to_string()]
    );
    assert_eq!(
        resolver.lookup_txt("absent.test").await,
        Err(LookupError::NotFound)
    );
}

#[tokio::test]
async fn the_client_walks_the_eip_example_tree_through_the_real_resolver() {
    let server = serve(example_zone()).await;
    let resolver = HickoryResolver::with_server(server).unwrap();
    let config = ClientConfig {
        rate_limit: 100,
        ..ClientConfig::default()
    };
    let mut client = Client::new(resolver, vec![EXAMPLE_URL.parse().unwrap()], config);
    let mut found = std::collections::HashSet::new();
    for _ in 0..9 {
        let record = tokio::time::timeout(Duration::from_secs(10), client.next_node())
            .await
            .unwrap()
            .unwrap();
        found.insert(record.to_base64());
        if found.len() == 3 {
            break;
        }
    }
    let want: std::collections::HashSet<String> = EXAMPLE_RECORDS[3..]
        .iter()
        .map(|(_, t)| t.to_string())
        .collect();
    assert_eq!(found, want);
    // The linked tree's root is not served: one "lookup" error, nothing forged.
    let metrics = client.metrics();
    assert!(metrics.error_count("lookup") >= 1);
    assert_eq!(
        metrics.error_count("signature") + metrics.error_count("hash_mismatch"),
        0
    );
}

#[test]
fn character_strings_are_joined_up_to_the_bound() {
    let parts: Vec<Box<[u8]>> = vec![b"enr:".to_vec().into(), vec![b'a'; 600].into()];
    let joined = join(&parts).unwrap();
    assert_eq!(joined.len(), KEEP_LEN);
    let bad: Vec<Box<[u8]>> = vec![vec![0xff, 0xfe].into()];
    assert_eq!(join(&bad), None);
}
