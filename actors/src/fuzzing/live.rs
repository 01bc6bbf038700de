//! Fuzz target bodies that drive live actors: the JSON-RPC endpoint of a running dev node,
//! and the node's inbound transaction path (fetcher, ingest queues, verifier threads,
//! validating pool) fed arbitrary announcements, broadcasts and replies. Both run on one
//! actix system kept on a background thread for the whole fuzzing process, so state
//! carries over from input to input as it does in a node that has been up for a while.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, OnceLock};

use std::time::Duration;

use actix::prelude::*;
use alloy_primitives::{keccak256, B256};
use futures::channel::oneshot;
use serde_json::Value;

use crate::eth::{
    CustodyBitmap, EthMessage, EthMessageId, EthVersion, NewPooledTransactionHashes68,
    NewPooledTransactionHashes72, PooledTransactions, RequestPair, Transactions,
};
use crate::node::{Node, NodeBuilder};
use crate::p2p::DisconnectReason;
use crate::peer::prefetch::{prefetchable, PrefetchClaims};
use crate::peer::{Disconnect, InboundEth, ReadGate, RequestError, SendEth, SendRequest};
use crate::peer_set::PeerSetActor;
use crate::txs::inbox::{BlobFetchPolicy, TxInbox, TxInboxLinks, MIN_FULL_FETCH_PERCENT};
use crate::txs::ingest::{start_verifiers, TxIngest};
use crate::txs::pool::validate::ValidationRules;
use crate::txs::pool::{NoState, TxPool, ValidatingTxPool};

/// A job for the fuzzing system's thread; it sends on its channel when it has finished.
type Job = Box<dyn FnOnce(std_mpsc::Sender<()>) + Send>;

/// Runs `job` on the shared actix system (started on first use) and waits for it.
fn on_system(job: Job) {
    static ARBITER: OnceLock<actix_rt::ArbiterHandle> = OnceLock::new();
    let arbiter = ARBITER.get_or_init(|| {
        let (arbiter_tx, arbiter_rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let system = actix_rt::System::new();
            let _ = arbiter_tx.send(actix_rt::Arbiter::current());
            system.run().unwrap_or_else(|e| panic!("fuzz system: {e}"));
        });
        arbiter_rx
            .recv()
            .unwrap_or_else(|e| panic!("fuzz system: {e}"))
    });
    let (done_tx, done_rx) = std_mpsc::channel();
    // A panic on the system thread aborts the fuzzer (libFuzzer's panic hook); here we only
    // wait for the job to report.
    assert!(
        arbiter.spawn_fn(move || job(done_tx)),
        "the fuzz system stopped"
    );
    // Dropped unsent: the job panicked on the system's thread (tokio caught it there).
    done_rx
        .recv()
        .unwrap_or_else(|_| panic!("the fuzz target panicked on the actor system's thread"));
}

thread_local! {
    /// The dev node the JSON-RPC target talks to (lives on the system thread).
    static NODE: RefCell<Option<Node>> = const { RefCell::new(None) };
    /// The inbound tx path the fetcher target feeds.
    static TX_PATH: RefCell<Option<TxPath>> = const { RefCell::new(None) };
}

/// Arbitrary bytes as a JSON-RPC HTTP body to a running dev node (every namespace): no
/// panic, and every answer is a JSON-RPC 2.0 response object (or a batch of them) that
/// carries either a result or an error.
pub fn json_rpc(data: &[u8]) {
    let body = data.to_vec();
    on_system(Box::new(move |done| {
        actix_rt::spawn(async move {
            let node = match NODE.with(|n| n.borrow().clone()) {
                Some(node) => node,
                None => {
                    let node = NodeBuilder::dev()
                        .listen("127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()))
                        .start()
                        .await
                        .unwrap_or_else(|e| panic!("dev node: {e}"));
                    NODE.with(|n| *n.borrow_mut() = Some(node.clone()));
                    node
                }
            };
            match crate::api::rpc::handle_body(&node, &body).await {
                Some(Value::Array(answers)) => answers.iter().for_each(check_response),
                Some(answer) => check_response(&answer),
                None => {}
            }
            // An actor that panicked while answering has stopped: that is a finding too.
            assert!(
                node.manager.connected()
                    && node.peer_set.connected()
                    && node.broadcaster.connected(),
                "a node actor stopped"
            );
            let _ = done.send(());
        });
    }));
}

fn check_response(answer: &Value) {
    assert_eq!(answer.get("jsonrpc"), Some(&Value::from("2.0")), "{answer}");
    assert!(answer.get("id").is_some(), "no id: {answer}");
    let result = answer.get("result").is_some();
    let error = answer.get("error").is_some_and(|e| e["code"].is_i64());
    assert!(result != error, "one of result or error: {answer}");
}

/// Remote peers the fetcher target plays.
const FUZZ_PEERS: usize = 4;

/// The node's inbound tx path, without sockets: fetcher -> ingest -> verifiers -> pool.
struct TxPath {
    fetcher: Addr<TxInbox>,
    peers: Vec<FuzzPeer>,
    next_id: u8,
    /// Hashes of txs seen in earlier inputs, so announcements can name real txs.
    recent: VecDeque<B256>,
    /// The claims the peers' prefetches share, as in a node fetching at once.
    claims: PrefetchClaims,
    /// The pool, which a prefetch consults.
    pool: Arc<dyn TxPool>,
}

struct FuzzPeer {
    id: crate::peer::PeerId,
    addr: Addr<Remote>,
    gate: ReadGate,
    /// The hashes this peer's actor asked for itself, until the script answers (or the
    /// peer leaves, which answers empty, as a stopping actor does).
    prefetch: Option<Vec<B256>>,
}

/// A remote peer whose replies to the fetcher's requests come from the fuzz input.
#[derive(Default)]
struct Remote {
    pending: VecDeque<oneshot::Sender<Result<EthMessage, RequestError>>>,
}

impl Actor for Remote {
    type Context = Context<Self>;
}

impl Handler<SendRequest> for Remote {
    type Result = ResponseFuture<Result<EthMessage, RequestError>>;
    fn handle(&mut self, _: SendRequest, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.pending.push_back(tx);
        Box::pin(async move { rx.await.unwrap_or(Err(RequestError::PeerGone)) })
    }
}

/// Command (fuzz only): answer the oldest request with this.
#[derive(Message)]
#[rtype(result = "()")]
struct Answer(Result<EthMessage, RequestError>);

impl Handler<Answer> for Remote {
    type Result = ();
    fn handle(&mut self, msg: Answer, _: &mut Context<Self>) {
        if let Some(reply) = self.pending.pop_front() {
            let _ = reply.send(msg.0);
        }
    }
}

impl Handler<Disconnect> for Remote {
    type Result = ();
    fn handle(&mut self, _: Disconnect, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<SendEth> for Remote {
    type Result = ();
    fn handle(&mut self, _: SendEth, _: &mut Context<Self>) {}
}

impl TxPath {
    fn start() -> Self {
        let rules = ValidationRules {
            chain_id: 1,
            block_gas_limit: 30_000_000,
            max_blobs_per_tx: 9,
            calldata_floor: true,
        };
        let pool =
            Arc::new(ValidatingTxPool::new(rules, Arc::new(NoState)).with_capacity(512, 1 << 24));
        let verifiers = start_verifiers(pool.clone(), 2);
        let ingest = TxIngest::new(pool.clone(), verifiers.recipient(), 2).start();
        let links = TxInboxLinks {
            mark: PeerSetActor::new().start().recipient(),
            ingest: ingest.recipient(),
        };
        let shared: Arc<dyn TxPool> = pool;
        let claims = PrefetchClaims::default();
        // A sampler (columns 1-4), so that eth/72 blob txs take both the whole and the
        // sampled path (the fixed salt picks per hash).
        let custody = CustodyBitmap::from_indices([1, 2, 3, 4]).unwrap_or_default();
        let policy =
            BlobFetchPolicy::new(custody, MIN_FULL_FETCH_PERCENT).salted(B256::repeat_byte(0x5a));
        let fetcher = TxInbox::new(shared.clone(), links, Duration::ZERO)
            .with_blob_policy(policy)
            .start();
        let mut path = Self {
            fetcher,
            peers: Vec::new(),
            next_id: 0,
            recent: VecDeque::new(),
            claims,
            pool: shared,
        };
        for _ in 0..FUZZ_PEERS {
            let peer = path.new_peer();
            path.peers.push(peer);
        }
        path
    }

    fn new_peer(&mut self) -> FuzzPeer {
        self.next_id = self.next_id.wrapping_add(1);
        FuzzPeer {
            id: crate::peer::PeerId::repeat_byte(self.next_id),
            addr: Remote::default().start(),
            gate: ReadGate::default(),
            prefetch: None,
        }
    }

    fn says(&self, peer: usize, message: EthMessage) -> InboundEth {
        let p = &self.peers[peer];
        InboundEth {
            peer: crate::peer::remote_handle(p.id, EthVersion::Eth68, &p.addr),
            message,
            ticket: p.gate.ticket(),
            gate: p.gate.clone(),
            prefetched: Vec::new(),
        }
    }

    fn remember(&mut self, hash: B256) {
        if self.recent.len() == 64 {
            self.recent.pop_front();
        }
        self.recent.push_back(hash);
    }

    /// Plays one operation from the front of `data`; `None` when the input is used up.
    fn step(&mut self, data: &mut &[u8]) -> Option<()> {
        let input: &[u8] = data;
        let [op, who, rest @ ..] = input else {
            return None;
        };
        let (op, who) = (*op, *who);
        *data = rest;
        let peer = usize::from(who) % FUZZ_PEERS;
        // The top bit: the peer's actor prefetches (an announcement), or the script
        // answers its prefetch (a reply), as with `--txpool.arrivalwait 0`.
        let prefetching = op & 0x80 != 0;
        match op % 6 {
            0 => {
                let announcement = self.announcement(data)?;
                let message = EthMessage::NewPooledTransactionHashes68(announcement);
                self.announce(peer, message, prefetching);
            }
            4 => {
                // eth/72: a 16-byte column mask, then the eth/68 part.
                let (mask, rest) = data.split_first_chunk::<16>()?;
                let mask = CustodyBitmap(alloy_primitives::FixedBytes(*mask));
                *data = rest;
                let ann = self.announcement(data)?;
                let message =
                    EthMessage::NewPooledTransactionHashes72(NewPooledTransactionHashes72 {
                        types: ann.types,
                        sizes: ann.sizes,
                        hashes: ann.hashes,
                        mask,
                    });
                self.announce(peer, message, prefetching);
            }
            5 => {
                // A reply to a GetCells: any Cells message, or none.
                let chunk = take_chunk(data)?;
                let id = EthMessageId::Cells as u8;
                let answer = EthMessage::decode(EthVersion::Eth72, id, chunk).map_err(|_| {
                    RequestError::Timeout {
                        after: Duration::from_secs(5),
                    }
                });
                self.peers[peer].addr.do_send(Answer(answer));
            }
            1 => {
                let chunk = take_chunk(data)?;
                let id = EthMessageId::Transactions as u8;
                if let Ok(message) = EthMessage::decode(EthVersion::Eth68, id, chunk) {
                    if let EthMessage::Transactions(txs) = &message {
                        txs.0.iter().for_each(|tx| self.remember(*tx.hash()));
                    }
                    self.fetcher.do_send(self.says(peer, message));
                }
            }
            2 => {
                let chunk = take_chunk(data)?;
                self.reply(peer, chunk, prefetching);
            }
            _ => {
                // The peer leaves: its requests fail (a prefetch's answer comes empty),
                // and a new one takes its place.
                self.answer_prefetch(peer, Vec::new());
                self.peers[peer].addr.do_send(Disconnect {
                    reason: DisconnectReason::DisconnectRequested,
                });
                self.peers[peer] = self.new_peer();
            }
        }
        Some(())
    }

    /// `chunk` as `peer`'s PooledTransactions (none when it does not decode): the answer to
    /// its prefetch when `prefetching` and one is in flight, else to the fetcher's oldest
    /// request.
    fn reply(&mut self, peer: usize, chunk: &[u8], prefetching: bool) {
        let id = EthMessageId::PooledTransactions as u8;
        let answer =
            EthMessage::decode(EthVersion::Eth68, id, chunk).map_err(|_| RequestError::Timeout {
                after: Duration::from_secs(5),
            });
        if let Ok(EthMessage::PooledTransactions(txs)) = &answer {
            txs.message
                .0
                .iter()
                .for_each(|tx| self.remember(*tx.hash()));
        }
        if prefetching && self.peers[peer].prefetch.is_some() {
            let txs = match answer {
                Ok(EthMessage::PooledTransactions(reply)) => reply.message.0,
                _ => Vec::new(),
            };
            self.answer_prefetch(peer, txs);
        } else {
            self.peers[peer].addr.do_send(Answer(answer));
        }
    }

    /// Hands `message` (an announcement) to the fetcher from `peer`, whose actor first
    /// prefetches what it may when `prefetching` and no prefetch of its is in flight.
    fn announce(&mut self, peer: usize, message: EthMessage, prefetching: bool) {
        let mut says = self.says(peer, message);
        if prefetching && self.peers[peer].prefetch.is_none() {
            says.prefetched = prefetchable(&says.message, self.pool.as_ref(), &self.claims);
            if !says.prefetched.is_empty() {
                self.peers[peer].prefetch = Some(says.prefetched.clone());
            }
        }
        self.fetcher.do_send(says);
    }

    /// Forwards `txs` as the answer to `peer`'s prefetch, if one is in flight, as its actor
    /// does.
    fn answer_prefetch(&mut self, peer: usize, txs: Vec<crate::eth::PooledTx>) {
        let Some(asked) = self.peers[peer].prefetch.take() else {
            return;
        };
        let reply = RequestPair::new(0, PooledTransactions(txs));
        let mut says = self.says(peer, EthMessage::PooledTransactions(reply));
        says.prefetched = asked;
        self.fetcher.do_send(says);
    }

    /// An eth/68 announcement: a count, then per entry a type, a 4-byte size (0xffffffff
    /// stands for u64::MAX) and either a recent tx's hash or a hash of two input bytes.
    fn announcement(&self, data: &mut &[u8]) -> Option<NewPooledTransactionHashes68> {
        let (&count, rest) = data.split_first()?;
        *data = rest;
        let mut ann = NewPooledTransactionHashes68::default();
        let mut types = Vec::new();
        for _ in 0..count % 64 {
            let input: &[u8] = data;
            let [kind, s0, s1, s2, s3, h0, h1, rest @ ..] = input else {
                break;
            };
            let [kind, s0, s1, s2, s3, h0, h1] = [*kind, *s0, *s1, *s2, *s3, *h0, *h1];
            *data = rest;
            let size = u32::from_be_bytes([s0, s1, s2, s3]);
            let size = if size == u32::MAX {
                u64::MAX
            } else {
                u64::from(size)
            };
            let hash = match self.recent.get(usize::from(h0)) {
                Some(hash) if h1 & 1 == 1 => *hash,
                _ => keccak256([h0, h1]),
            };
            types.push(kind);
            ann.sizes.push(size);
            ann.hashes.push(hash);
        }
        ann.types = types.into();
        Some(ann)
    }
}

/// A 2-byte big-endian length, then that many bytes (or what is left).
fn take_chunk<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let input: &'a [u8] = data;
    let [l0, l1, rest @ ..] = input else {
        return None;
    };
    let (l0, l1) = (*l0, *l1);
    let len = usize::from(u16::from_be_bytes([l0, l1])).min(rest.len());
    let (chunk, rest) = rest.split_at(len);
    *data = rest;
    Some(chunk)
}

/// Arbitrary bytes as a script of remote behaviour against the node's inbound tx path:
/// eth/68 and eth/72 announcements (real or made-up hashes, any types and sizes up to
/// u64::MAX, any column mask), Transactions broadcasts, replies to the fetcher's requests
/// (any PooledTransactions or Cells, or none), prefetches by the announcing peer and their
/// answers, and peers leaving, from four peers, against a fetcher that samples some blob
/// txs and fetches others whole. Nothing may panic on any thread.
pub fn tx_fetcher(data: &[u8]) {
    let script = data.to_vec();
    on_system(Box::new(move |done| {
        actix_rt::spawn(async move {
            let fetcher = TX_PATH.with(|path| {
                let mut path = path.borrow_mut();
                let path = path.get_or_insert_with(TxPath::start);
                let mut rest = script.as_slice();
                while path.step(&mut rest).is_some() {}
                path.fetcher.clone()
            });
            // The fetcher handles its mailbox in order: once this empty message is handled,
            // every message of this input has been.
            let sync = TX_PATH.with(|path| {
                path.borrow()
                    .as_ref()
                    .map(|p| p.says(0, EthMessage::Transactions(Transactions::default())))
            });
            if let Some(sync) = sync {
                // Closed: the fetcher panicked on this input.
                assert!(fetcher.send(sync).await.is_ok(), "the fetcher stopped");
            }
            let _ = done.send(());
        });
    }));
}
