//! Two ethpeer endpoints handshaking over `tokio::io::duplex` and over loopback TCP.

use std::time::Duration;

use alloy_primitives::{B256, U256};
use futures::{SinkExt, StreamExt};
use secp256k1::SecretKey;
use tokio::io::{AsyncRead, AsyncWrite};

use super::*;
use crate::eth::forkid::ForkSchedule;
use crate::eth::{EthMessage, EthVersion};
use crate::p2p::DisconnectReason;
use crate::rlpx::RlpxMessage;

fn config(byte: u8, versions: &[EthVersion]) -> SessionConfig {
    let mut config = SessionConfig::new(
        SecretKey::from_byte_array([byte; 32]).expect("key"),
        format!("ethpeer-test/{byte}"),
    );
    config.eth_versions = versions.to_vec();
    config.step_timeout = Duration::from_secs(2);
    config
}

fn chain(genesis: u8, network_id: u64) -> ChainStatus {
    let genesis = B256::repeat_byte(genesis);
    ChainStatus {
        network_id,
        genesis,
        forks: ForkSchedule {
            genesis_hash: genesis,
            genesis_timestamp: 0,
            block_forks: vec![],
            time_forks: vec![60, 120],
        },
        head_number: 600,
        head_timestamp: 6000,
        head_hash: B256::repeat_byte(0xaa),
        total_difficulty: U256::from(0x20000),
        earliest: 0,
    }
}

type Pair<S> = (
    Result<Established<S>, SessionError>,
    Result<Established<S>, SessionError>,
);

async fn handshake<S>(
    a: S,
    b: S,
    ca: &SessionConfig,
    cb: &SessionConfig,
    sa: &ChainStatus,
    sb: &ChainStatus,
) -> Pair<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::join!(dial(a, ca, cb.node_id(), sa), accept(b, cb, sb))
}

#[tokio::test]
async fn duplex_endpoints_handshake_and_exchange_messages_both_ways() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (config(1, &EthVersion::ALL), config(2, &EthVersion::ALL));
    let (da, db) = handshake(a, b, &ca, &cb, &chain(1, 7), &chain(1, 7)).await;
    let (mut da, mut db) = (
        da.expect("dialer established"),
        db.expect("acceptor established"),
    );
    assert_eq!(
        (da.eth_version, db.eth_version),
        (EthVersion::LATEST, EthVersion::LATEST)
    );
    assert_eq!((da.remote_id, db.remote_id), (cb.node_id(), ca.node_id()));
    assert_eq!(da.eth_offset, 0x10);
    assert!(matches!(da.remote_status, EthMessage::Status69(_)));

    // Both directions, small and 10 MiB, concurrently (the duplex buffer is 64 KiB).
    let big = RlpxMessage {
        id: 0x12,
        payload: vec![7u8; 10 * 1024 * 1024].into(),
    };
    let small = RlpxMessage {
        id: 0x13,
        payload: vec![0xc0].into(),
    };
    let (sent_a, sent_b, got_b, got_a) = tokio::join!(
        async {
            da.writer
                .send(big.clone())
                .await
                .and(da.writer.send(small.clone()).await)
        },
        async {
            db.writer
                .send(small.clone())
                .await
                .and(db.writer.send(big.clone()).await)
        },
        async { (db.reader.next().await, db.reader.next().await) },
        async { (da.reader.next().await, da.reader.next().await) },
    );
    sent_a.expect("a sent");
    sent_b.expect("b sent");
    assert_eq!(got_b.0.expect("frame").expect("valid"), big);
    assert_eq!(got_b.1.expect("frame").expect("valid"), small);
    assert_eq!(got_a.0.expect("frame").expect("valid"), small);
    assert_eq!(got_a.1.expect("frame").expect("valid"), big);
}

/// A frame whose bytes were already read off the socket (it came right behind the remote's
/// Status, as the go-ethereum suite sends its first request) is decoded at once, without
/// waiting for the remote to send more. It once waited until the remote hung up.
#[tokio::test]
async fn a_frame_read_with_the_status_is_decoded_without_more_bytes() {
    use tokio::io::AsyncReadExt;
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (config(1, &EthVersion::ALL), config(2, &EthVersion::ALL));
    let (da, db) = handshake(a, b, &ca, &cb, &chain(1, 7), &chain(1, 7)).await;
    let (da, mut db) = (da.expect("dialer"), db.expect("acceptor"));
    let frame = RlpxMessage {
        id: 0x22,
        payload: vec![0xc0].into(),
    };
    db.writer.send(frame.clone()).await.expect("sent");
    // Take the frame's bytes off the stream by hand, as the Status exchange's reads do.
    let parts = da.reader.into_parts();
    let (unread, mut half) = parts.io.into_inner();
    assert!(unread.get_ref().is_empty());
    let mut leftover = bytes::BytesMut::zeroed(64 * 1024);
    let n = half.read(&mut leftover).await.expect("read");
    leftover.truncate(n);
    let mut reader = handshake::session_reader(half, parts.codec, leftover);
    let got = tokio::time::timeout(Duration::from_secs(2), reader.next())
        .await
        .expect("decoded from the leftover alone");
    assert_eq!(got.expect("frame").expect("valid"), frame);
}

#[tokio::test]
async fn loopback_tcp_endpoints_handshake_at_the_highest_shared_version() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (ca, cb) = (
        config(3, &[EthVersion::Eth68, EthVersion::Eth69]),
        config(
            4,
            &[EthVersion::Eth66, EthVersion::Eth67, EthVersion::Eth68],
        ),
    );
    let (sa, sb) = (chain(1, 7), chain(1, 7));
    let (da, db) = tokio::join!(
        async {
            dial(
                tokio::net::TcpStream::connect(addr).await.expect("connect"),
                &ca,
                cb.node_id(),
                &sa,
            )
            .await
        },
        async { accept(listener.accept().await.expect("accept").0, &cb, &sb).await },
    );
    let (mut da, mut db) = (da.expect("dialer"), db.expect("acceptor"));
    assert_eq!(da.eth_version, EthVersion::Eth68);
    assert!(matches!(db.remote_status, EthMessage::Status(_)));
    // A 10 MiB message each way, concurrently, over the real socket.
    let big = RlpxMessage {
        id: 0x12,
        payload: vec![9u8; 10 * 1024 * 1024].into(),
    };
    let small = RlpxMessage {
        id: 0x02,
        payload: vec![0xc0].into(),
    };
    let (sent_a, sent_b, got_b, got_a) = tokio::join!(
        async {
            da.writer
                .send(big.clone())
                .await
                .and(da.writer.send(small.clone()).await)
        },
        async {
            db.writer
                .send(small.clone())
                .await
                .and(db.writer.send(big.clone()).await)
        },
        async { (db.reader.next().await, db.reader.next().await) },
        async { (da.reader.next().await, da.reader.next().await) },
    );
    sent_a.expect("a sent");
    sent_b.expect("b sent");
    assert_eq!(got_b.0.expect("frame").expect("valid"), big);
    assert_eq!(got_b.1.expect("frame").expect("valid"), small);
    assert_eq!(got_a.0.expect("frame").expect("valid"), small);
    assert_eq!(got_a.1.expect("frame").expect("valid"), big);
}

#[tokio::test]
async fn status_mismatches_end_in_subprotocol_error() {
    for (remote, what) in [(chain(9, 7), "genesis"), (chain(1, 8), "network id")] {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ca, cb) = (
            config(5, &[EthVersion::Eth68]),
            config(6, &[EthVersion::Eth68]),
        );
        let (da, db) = handshake(a, b, &ca, &cb, &remote, &chain(1, 7)).await;
        let error = db
            .err()
            .unwrap_or_else(|| panic!("{what}: acceptor accepted"));
        assert!(
            matches!(error, SessionError::StatusRejected { .. }),
            "{what}: {error}"
        );
        assert_eq!(
            error.disconnect_reason(),
            DisconnectReason::SubprotocolSpecific,
            "{what}"
        );
        assert!(da.is_err(), "{what}: dialer accepted");
    }
}

#[tokio::test]
async fn an_incompatible_fork_id_is_rejected() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (
        config(5, &[EthVersion::Eth69]),
        config(6, &[EthVersion::Eth69]),
    );
    let mut other = chain(1, 7);
    other.forks.time_forks = vec![60, 100];
    let (_, db) = handshake(a, b, &ca, &cb, &other, &chain(1, 7)).await;
    assert!(matches!(db, Err(SessionError::StatusRejected { .. })));
}

#[tokio::test]
async fn no_shared_eth_version_is_useless_peer() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (
        config(5, &[EthVersion::Eth66]),
        config(6, &[EthVersion::Eth69, EthVersion::Eth70]),
    );
    let (da, db) = handshake(a, b, &ca, &cb, &chain(1, 7), &chain(1, 7)).await;
    let error = da.err().expect("no shared version");
    assert_eq!(
        error.disconnect_reason(),
        DisconnectReason::UselessPeer,
        "{error}"
    );
    assert!(db.is_err());
}

/// A hand-driven remote: the RLPx handshake with `ours`, then a Hello offering eth/`eth`
/// (p2p v5) and ours read back; snappy on from there, as after any v5 Hello.
async fn raw_remote_after_hello(
    stream: tokio::io::DuplexStream,
    remote: &SessionConfig,
    ours: &SessionConfig,
    eth: u8,
) -> handshake::Conn<tokio::io::DuplexStream> {
    let mut conn = handshake::initiate(stream, remote, ours.node_id())
        .await
        .expect("rlpx");
    let hello = crate::p2p::Hello {
        protocol_version: 5,
        client_id: "raw".into(),
        capabilities: vec![crate::p2p::Capability::new("eth", eth)],
        port: 0,
        id: remote.node_id(),
    };
    conn.send(crate::p2p::ids::HELLO, hello.encoded())
        .await
        .expect("hello");
    let theirs = conn.recv(Stage::Hello).await.expect("their hello");
    assert_eq!(theirs.id, crate::p2p::ids::HELLO);
    conn.encoder.set_snappy(true);
    conn.decoder.set_snappy(true);
    conn
}

/// A remote whose Hello offers only an eth version we lack (eth/71, as go-ethereum's suite
/// sends in its eth/71 tests) gets Disconnect(useless peer) snappy-compressed, as a p2p v5
/// peer reads every frame after Hello (EIP-706). Before the fix it went out uncompressed and
/// geth's reader failed with "snappy: corrupt input".
#[tokio::test]
async fn the_disconnect_for_no_shared_version_is_compressed_after_hello() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ours, remote) = (
        config(6, &[EthVersion::Eth69, EthVersion::Eth70]),
        config(5, &[]),
    );
    let status = chain(1, 7);
    let accepting = accept(b, &ours, &status);
    let remote_side = async {
        let mut conn = raw_remote_after_hello(a, &remote, &ours, 71).await;
        conn.recv(Stage::Hello).await
    };
    let (accepted, disconnect) = tokio::join!(accepting, remote_side);
    assert!(matches!(accepted, Err(SessionError::NoSharedCapability)));
    let disconnect = disconnect.expect("a frame that inflates");
    assert_eq!(
        crate::p2p::P2pMessage::decode(disconnect.id, &disconnect.payload),
        Ok(crate::p2p::P2pMessage::Disconnect(Some(
            DisconnectReason::UselessPeer
        )))
    );
}

/// Before the session is established only a Status may come, and no eth message exceeds
/// 10 MiB: a bigger frame is refused when its size is read, before the message is decoded
/// (it used to be inflated up to the 16 MiB RLPx limit first).
#[tokio::test]
async fn a_status_frame_over_10_mib_is_refused_before_decoding() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ours, remote) = (config(6, &[EthVersion::Eth68]), config(5, &[]));
    let status = chain(1, 7);
    let accepting = accept(b, &ours, &status);
    let remote_side = async {
        let mut conn = raw_remote_after_hello(a, &remote, &ours, 68).await;
        // The remote may hang up mid-write; what matters is our side's error.
        let _ = conn
            .send(0x10, vec![0u8; crate::eth::MAX_MESSAGE_SIZE + 1])
            .await;
    };
    let (accepted, ()) = tokio::join!(accepting, remote_side);
    assert!(
        matches!(
            accepted,
            Err(SessionError::Rlpx {
                source: crate::rlpx::RlpxError::UncompressedTooLarge { .. }
            })
        ),
        "{:?}",
        accepted.err()
    );
}

#[tokio::test]
async fn dialing_the_wrong_identity_fails_the_rlpx_step() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (
        config(5, &[EthVersion::Eth68]),
        config(6, &[EthVersion::Eth68]),
    );
    let wrong = config(7, &[]).node_id();
    let status = chain(1, 7);
    let (da, db) = tokio::join!(dial(a, &ca, wrong, &status), accept(b, &cb, &status));
    assert!(
        matches!(db, Err(SessionError::Rlpx { .. })),
        "acceptor: {:?}",
        db.err()
    );
    assert!(da.is_err());
}

#[tokio::test]
async fn a_silent_remote_times_out() {
    let (_a, b) = tokio::io::duplex(64 * 1024);
    let mut cb = config(6, &[EthVersion::Eth68]);
    cb.step_timeout = Duration::from_millis(50);
    let error = accept(b, &cb, &chain(1, 7)).await.err().expect("timed out");
    assert!(
        matches!(error, SessionError::Timeout { stage: Stage::Rlpx }),
        "{error}"
    );
    assert_eq!(error.disconnect_reason(), DisconnectReason::PingTimeout);
}

#[tokio::test]
async fn dialing_ourselves_is_refused() {
    let (a, _b) = tokio::io::duplex(1024);
    let ca = config(5, &[EthVersion::Eth68]);
    assert!(matches!(
        dial(a, &ca, ca.node_id(), &chain(1, 7)).await,
        Err(SessionError::ConnectedToSelf)
    ));
}

#[tokio::test]
async fn the_accept_loop_bounds_pending_handshakes_and_frees_slots_on_timeout() {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    // The handshake timeout runs on a paused clock that only the test moves: a task that
    // always yields keeps the runtime from idling, so the clock never jumps ahead on its
    // own while loopback I/O is pending (sockets are still polled between yields).
    tokio::time::pause();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let busy = tokio::task::spawn_local(async {
                loop {
                    tokio::task::yield_now().await;
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let mut cb = config(6, &[EthVersion::Eth68]);
            cb.step_timeout = Duration::from_secs(10);
            let metrics = Arc::new(ListenerMetrics::default());
            let (tx, mut established) = futures::channel::mpsc::unbounded();
            let on_session = move |session: Established<tokio::net::TcpStream>, _| {
                let tx = tx.clone();
                async move {
                    let _ = tx.unbounded_send(session.remote_id);
                }
            };
            tokio::task::spawn_local(accept_loop(
                listener,
                Arc::new(cb.clone()),
                Arc::new(chain(1, 7)),
                2,
                metrics.clone(),
                |_| true,
                on_session,
            ));

            // Two silent connections take both slots; the third is closed at once.
            let _silent1 = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _silent2 = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut third = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut buf = [0u8; 1];
            assert_eq!(
                third.read(&mut buf).await.expect("closed, not reset"),
                0,
                "third connection closed"
            );
            assert_eq!(metrics.refused_busy.load(Ordering::Relaxed), 1);

            // A real peer is turned away too while the silent ones hold their slots...
            let ca = config(5, &[EthVersion::Eth68]);
            let status = chain(1, 7);
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            assert!(dial(stream, &ca, cb.node_id(), &status).await.is_err());
            assert_eq!(metrics.refused_busy.load(Ordering::Relaxed), 2);
            assert_eq!(metrics.failed.load(Ordering::Relaxed), 0);

            // ...and gets through once their handshake step has timed out.
            // One millisecond more: the timer wheel rounds deadlines up to the next one.
            tokio::time::advance(cb.step_timeout + Duration::from_millis(1)).await;
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while metrics.failed.load(Ordering::Relaxed) < 2 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the silent handshakes never timed out"
                );
                tokio::task::yield_now().await;
            }
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let session = dial(stream, &ca, cb.node_id(), &status)
                .await
                .expect("admitted");
            assert_eq!(session.eth_version, EthVersion::Eth68);
            assert_eq!(established.next().await, Some(ca.node_id()));
            assert_eq!(
                metrics.failed.load(Ordering::Relaxed),
                2,
                "the two silent handshakes timed out"
            );
            assert_eq!(metrics.refused_busy.load(Ordering::Relaxed), 2);
            busy.abort();
        })
        .await;
}

#[tokio::test]
async fn status_succeeds_at_eth68_69_and_70() {
    for version in [
        EthVersion::Eth68,
        EthVersion::Eth69,
        EthVersion::Eth70,
        EthVersion::Eth71,
    ] {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (ca, cb) = (config(5, &[version]), config(6, &EthVersion::ALL));
        let (da, db) = handshake(a, b, &ca, &cb, &chain(1, 7), &chain(1, 7)).await;
        let (da, db) = (da.expect("dialer"), db.expect("acceptor"));
        assert_eq!((da.eth_version, db.eth_version), (version, version));
        let shape_ok = match (&da.remote_status, version >= EthVersion::Eth69) {
            (EthMessage::Status69(s), true) => s.version == version.as_u8(),
            (EthMessage::Status(s), false) => s.version == version.as_u8(),
            _ => false,
        };
        assert!(shape_ok, "{version}: {:?}", da.remote_status);
    }
}

#[tokio::test]
async fn a_block_range_with_earliest_above_latest_is_rejected() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (ca, cb) = (
        config(5, &[EthVersion::Eth69]),
        config(6, &[EthVersion::Eth69]),
    );
    let mut broken = chain(1, 7);
    broken.earliest = broken.head_number + 1;
    let (_, db) = handshake(a, b, &ca, &cb, &broken, &chain(1, 7)).await;
    match db {
        Err(SessionError::StatusRejected { reason, disconnect }) => {
            assert!(
                matches!(reason, StatusMismatch::BlockRange { .. }),
                "{reason}"
            );
            assert_eq!(disconnect, DisconnectReason::SubprotocolSpecific);
        }
        other => panic!("expected a rejection, got {:?}", other.err()),
    }
}

#[tokio::test]
async fn the_accept_loop_closes_connections_its_gate_refuses_before_any_handshake() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let cb = config(6, &[EthVersion::Eth68]);
            let metrics = Arc::new(ListenerMetrics::default());
            // The gate lets every other connection through (as a throttle would a new IP).
            let calls = Arc::new(AtomicUsize::new(0));
            let gate_calls = calls.clone();
            let gate = move |_| gate_calls.fetch_add(1, Ordering::Relaxed).is_multiple_of(2);
            let (tx, mut established) = futures::channel::mpsc::unbounded();
            let on_session = move |session: Established<tokio::net::TcpStream>, _| {
                let tx = tx.clone();
                async move {
                    let _ = tx.unbounded_send(session.remote_id);
                }
            };
            tokio::task::spawn_local(accept_loop(
                listener,
                Arc::new(cb.clone()),
                Arc::new(chain(1, 7)),
                2,
                metrics.clone(),
                gate,
                on_session,
            ));
            let ca = config(5, &[EthVersion::Eth68]);
            let status = chain(1, 7);
            let first = tokio::net::TcpStream::connect(addr).await.expect("connect");
            dial(first, &ca, cb.node_id(), &status)
                .await
                .expect("the first connection is let through");
            assert_eq!(established.next().await, Some(ca.node_id()));
            // The second is closed without a byte: not even the ack of our auth.
            let mut second = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut buf = [0u8; 1];
            assert_eq!(second.read(&mut buf).await.expect("closed"), 0);
            assert_eq!(metrics.refused_gate.load(Ordering::Relaxed), 1);
            assert_eq!(metrics.established.load(Ordering::Relaxed), 1);
        })
        .await;
}
