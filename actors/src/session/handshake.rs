//! The session handshakes as plain async functions over any `AsyncRead + AsyncWrite`:
//! RLPx auth/ack, then Hello, then eth Status, each step under its own deadline; the result
//! is the split, keyed transport ready for a peer actor.

use std::time::Duration;

use alloy_primitives::B512;
use bytes::{Bytes, BytesMut};
use secp256k1::SecretKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

use super::{SessionError, Stage, StatusExchange};
use crate::eth::PeerHead;
use crate::eth::{EthMessage, EthVersion};
use crate::p2p::{self, Capability, Hello, P2pMessage, MAX_HELLO_SIZE, P2P_VERSION};
use crate::rlpx::handshake::{
    self as rlpx_handshake, Exchange, HandshakeRandomness, NodeKey, LEGACY_AUTH_SIZE,
};
use crate::rlpx::{
    codecs, RlpxDecoder, RlpxEncoder, RlpxError, RlpxMessage, MAX_HANDSHAKE_PACKET_SIZE,
    MAX_UNCOMPRESSED_SIZE,
};

/// Deadline of each handshake step (geth: 5 s for RLPx + Hello and 5 s for Status).
pub const HANDSHAKE_STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// Who we are in handshakes.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Our static node key.
    pub key: NodeKey,
    /// Client id sent in Hello.
    pub client_id: String,
    /// Listen port sent in Hello (legacy field).
    pub listen_port: u16,
    /// eth versions we offer.
    pub eth_versions: Vec<EthVersion>,
    /// Deadline of each step.
    pub step_timeout: Duration,
}

impl SessionConfig {
    /// A configuration offering every eth version (66-72) with the default deadline.
    pub fn new(secret_key: SecretKey, client_id: impl Into<String>) -> Self {
        Self {
            key: NodeKey::new(secret_key),
            client_id: client_id.into(),
            listen_port: 0,
            eth_versions: EthVersion::ALL.to_vec(),
            step_timeout: HANDSHAKE_STEP_TIMEOUT,
        }
    }

    /// Our node id.
    pub fn node_id(&self) -> B512 {
        self.key.id()
    }

    fn hello(&self) -> Hello {
        Hello {
            protocol_version: P2P_VERSION,
            client_id: self.client_id.clone(),
            capabilities: self
                .eth_versions
                .iter()
                .map(|v| Capability::new("eth", v.as_u8()))
                .collect(),
            port: self.listen_port,
            id: self.node_id(),
        }
    }
}

/// A connection that completed all three steps.
pub struct Established<S> {
    /// The remote's node id.
    pub remote_id: B512,
    /// The remote's Hello.
    pub remote_hello: Hello,
    /// The negotiated eth version.
    pub eth_version: EthVersion,
    /// First message id of eth on this connection.
    pub eth_offset: u64,
    /// The remote's Status.
    pub remote_status: EthMessage,
    /// The head its Status announced.
    pub head: PeerHead,
    /// The inbound half.
    pub reader: FramedRead<SessionRead<S>, RlpxDecoder>,
    /// The outbound half.
    pub writer: FramedWrite<WriteHalf<S>, RlpxEncoder>,
}

/// The inbound byte stream of an established session: the bytes already read past the
/// Status (a frame the remote sent right behind it), then the socket. `FramedRead` only
/// decodes what is in its buffer after its reader has produced data, so bytes put into
/// that buffer by hand would wait there until the remote sends more; served by the
/// reader instead, they are decoded at once.
pub type SessionRead<S> = tokio::io::Chain<std::io::Cursor<BytesMut>, ReadHalf<S>>;

/// The framed inbound half over `leftover` then `read`.
pub(super) fn session_reader<S: AsyncRead>(
    read: ReadHalf<S>,
    decoder: RlpxDecoder,
    leftover: BytesMut,
) -> FramedRead<SessionRead<S>, RlpxDecoder> {
    FramedRead::new(std::io::Cursor::new(leftover).chain(read), decoder)
}

impl<S: AsyncRead + AsyncWrite> Established<S> {
    /// Refuses the session after the handshakes: writes Disconnect(`reason`) and closes,
    /// for a peer that may not become a peer (limits, duplicates).
    pub async fn disconnect(mut self, reason: crate::p2p::DisconnectReason) {
        use futures::SinkExt;
        let message = crate::rlpx::RlpxMessage {
            id: crate::p2p::ids::DISCONNECT,
            payload: crate::p2p::P2pMessage::Disconnect(Some(reason))
                .encoded()
                .into(),
        };
        // Best effort: the remote may already be gone.
        let _ = self.writer.send(message).await;
        let _ = self.writer.close().await;
    }
}

/// An established TCP session taken off its runtime, so that it can go on on another
/// thread (actix arbiters each run their own runtime, and a socket belongs to the runtime
/// that registered it). The codecs keep their cipher and MAC states; bytes read past the
/// Status and not yet decoded travel with them.
pub struct DetachedSession {
    stream: std::net::TcpStream,
    read_buf: BytesMut,
    write_buf: BytesMut,
    decoder: RlpxDecoder,
    encoder: RlpxEncoder,
    remote_id: B512,
    remote_hello: Hello,
    eth_version: EthVersion,
    eth_offset: u64,
    remote_status: EthMessage,
    head: PeerHead,
}

impl Established<tokio::net::TcpStream> {
    /// Takes the session off the current runtime (see [`DetachedSession`]).
    pub fn detach(self) -> std::io::Result<DetachedSession> {
        let read = self.reader.into_parts();
        let write = self.writer.into_parts();
        let (unread, half) = read.io.into_inner();
        // Undecoded bytes: those in the frame buffer, then those not yet taken from the
        // leftover.
        let mut read_buf = read.read_buf;
        let position = usize::try_from(unread.position()).unwrap_or(usize::MAX);
        read_buf.extend_from_slice(unread.get_ref().get(position..).unwrap_or_default());
        let stream = half.unsplit(write.io).into_std()?;
        Ok(DetachedSession {
            stream,
            read_buf,
            write_buf: write.write_buf,
            decoder: read.codec,
            encoder: write.codec,
            remote_id: self.remote_id,
            remote_hello: self.remote_hello,
            eth_version: self.eth_version,
            eth_offset: self.eth_offset,
            remote_status: self.remote_status,
            head: self.head,
        })
    }
}

impl DetachedSession {
    /// The remote's node id.
    pub fn remote_id(&self) -> B512 {
        self.remote_id
    }

    /// Resumes the session on the current runtime.
    pub fn attach(self) -> std::io::Result<Established<tokio::net::TcpStream>> {
        let stream = tokio::net::TcpStream::from_std(self.stream)?;
        let (read, write) = tokio::io::split(stream);
        let reader = session_reader(read, self.decoder, self.read_buf);
        let mut writer = FramedWrite::new(write, self.encoder);
        writer.write_buffer_mut().extend_from_slice(&self.write_buf);
        Ok(Established {
            remote_id: self.remote_id,
            remote_hello: self.remote_hello,
            eth_version: self.eth_version,
            eth_offset: self.eth_offset,
            remote_status: self.remote_status,
            head: self.head,
            reader,
            writer,
        })
    }
}

/// Dials: we know the remote's node id and send the auth.
pub async fn dial<S>(
    stream: S,
    config: &SessionConfig,
    remote_id: B512,
    status: &dyn StatusExchange,
) -> Result<Established<S>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if remote_id == config.node_id() {
        return Err(SessionError::ConnectedToSelf);
    }
    let conn = step(config, Stage::Rlpx, initiate(stream, config, remote_id)).await?;
    finish(conn, config, Some(remote_id), status).await
}

/// Accepts: the remote sends the auth.
pub async fn accept<S>(
    stream: S,
    config: &SessionConfig,
    status: &dyn StatusExchange,
) -> Result<Established<S>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = step(config, Stage::Rlpx, respond(stream, config)).await?;
    finish(conn, config, None, status).await
}

/// Runs `fut` under the step deadline.
async fn step<T>(
    config: &SessionConfig,
    stage: Stage,
    fut: impl std::future::Future<Output = Result<T, SessionError>>,
) -> Result<T, SessionError> {
    tokio::time::timeout(config.step_timeout, fut)
        .await
        .map_err(|_| SessionError::Timeout { stage })?
}

/// The framed connection during the Hello and Status steps.
pub(super) struct Conn<S> {
    stream: S,
    read_buf: BytesMut,
    pub(super) encoder: RlpxEncoder,
    pub(super) decoder: RlpxDecoder,
    remote_id: B512,
}

pub(super) async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &SessionConfig,
    remote_id: B512,
) -> Result<Conn<S>, SessionError> {
    let remote = rlpx_handshake::public_key(&remote_id)?;
    let random = HandshakeRandomness::random();
    let auth = rlpx_handshake::auth_packet(&config.key, &remote, &random);
    stream.write_all(&auth).await.map_err(RlpxError::from)?;
    stream.flush().await.map_err(RlpxError::from)?;
    // EIP-8 ack: a two-byte size, then that many bytes.
    let mut prefix = [0u8; 2];
    stream
        .read_exact(&mut prefix)
        .await
        .map_err(RlpxError::from)?;
    let size = usize::from(u16::from_be_bytes(prefix));
    if size + 2 > MAX_HANDSHAKE_PACKET_SIZE {
        return Err(RlpxError::HandshakeTooLarge {
            size: size + 2,
            limit: MAX_HANDSHAKE_PACKET_SIZE,
        }
        .into());
    }
    let mut ack = prefix.to_vec();
    ack.resize(size + 2, 0);
    stream
        .read_exact(&mut ack[2..])
        .await
        .map_err(RlpxError::from)?;
    let parsed = rlpx_handshake::read_ack(config.key.secret(), &ack)?;
    let secrets = Exchange {
        initiator: true,
        our_ephemeral: &random.ephemeral,
        remote_ephemeral: &parsed.recipient_ephemeral,
        initiator_nonce: random.nonce,
        recipient_nonce: parsed.recipient_nonce,
        auth: &auth,
        ack: &ack,
        remote_id,
    }
    .secrets();
    let (encoder, decoder) = codecs(secrets);
    Ok(Conn {
        stream,
        read_buf: BytesMut::new(),
        encoder,
        decoder,
        remote_id,
    })
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    config: &SessionConfig,
) -> Result<Conn<S>, SessionError> {
    // EIP-8: read the size of a legacy auth first (every EIP-8 auth with the minimum 100
    // bytes of padding is longer), try it as legacy, else take the size prefix.
    let mut auth = vec![0u8; LEGACY_AUTH_SIZE];
    stream
        .read_exact(&mut auth)
        .await
        .map_err(RlpxError::from)?;
    let parsed = match rlpx_handshake::read_auth(config.key.secret(), &auth) {
        Ok(parsed) => parsed,
        Err(_) => {
            let size = usize::from(u16::from_be_bytes([auth[0], auth[1]])) + 2;
            if size > MAX_HANDSHAKE_PACKET_SIZE {
                let limit = MAX_HANDSHAKE_PACKET_SIZE;
                return Err(RlpxError::HandshakeTooLarge { size, limit }.into());
            }
            if size < LEGACY_AUTH_SIZE {
                // Neither a legacy auth nor an EIP-8 one with the minimum padding.
                return Err(RlpxError::EciesTooShort { len: size }.into());
            }
            auth.resize(size, 0);
            stream
                .read_exact(&mut auth[LEGACY_AUTH_SIZE..])
                .await
                .map_err(RlpxError::from)?;
            rlpx_handshake::read_auth(config.key.secret(), &auth)?
        }
    };
    let remote = rlpx_handshake::public_key(&parsed.initiator_id)?;
    let random = HandshakeRandomness::random();
    let ack = rlpx_handshake::ack_packet(&remote, &random, parsed.format);
    stream.write_all(&ack).await.map_err(RlpxError::from)?;
    stream.flush().await.map_err(RlpxError::from)?;
    let secrets = Exchange {
        initiator: false,
        our_ephemeral: &random.ephemeral,
        remote_ephemeral: &parsed.initiator_ephemeral,
        initiator_nonce: parsed.initiator_nonce,
        recipient_nonce: random.nonce,
        auth: &auth,
        ack: &ack,
        remote_id: parsed.initiator_id,
    }
    .secrets();
    let (encoder, decoder) = codecs(secrets);
    Ok(Conn {
        stream,
        read_buf: BytesMut::new(),
        encoder,
        decoder,
        remote_id: parsed.initiator_id,
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(super) async fn send(&mut self, id: u64, payload: Vec<u8>) -> Result<(), SessionError> {
        let mut out = BytesMut::new();
        self.encoder.encode(
            RlpxMessage {
                id,
                payload: Bytes::from(payload),
            },
            &mut out,
        )?;
        self.stream.write_all(&out).await.map_err(RlpxError::from)?;
        self.stream.flush().await.map_err(RlpxError::from)?;
        Ok(())
    }

    pub(super) async fn recv(&mut self, stage: Stage) -> Result<RlpxMessage, SessionError> {
        loop {
            if let Some(message) = self.decoder.decode(&mut self.read_buf)? {
                return Ok(message);
            }
            let n = self
                .stream
                .read_buf(&mut self.read_buf)
                .await
                .map_err(RlpxError::from)?;
            if n == 0 {
                return Err(SessionError::Closed { stage });
            }
        }
    }

    /// Best effort: tell the remote why, then give up on the connection.
    async fn disconnect(&mut self, error: &SessionError) {
        let payload = P2pMessage::Disconnect(Some(error.disconnect_reason())).encoded();
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.send(p2p::ids::DISCONNECT, payload),
        )
        .await;
    }
}

async fn finish<S>(
    mut conn: Conn<S>,
    config: &SessionConfig,
    expected: Option<B512>,
    status: &dyn StatusExchange,
) -> Result<Established<S>, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match step(config, Stage::Hello, hello(&mut conn, config, expected)).await {
        Ok((remote_hello, version, offset)) => match step(
            config,
            Stage::Status,
            exchange_status(&mut conn, version, offset, status),
        )
        .await
        {
            Ok((remote_status, head)) => {
                let Conn {
                    stream,
                    read_buf,
                    encoder,
                    mut decoder,
                    remote_id,
                } = conn;
                // Established: the RLPx limit; the eth layer refuses messages over 10 MiB
                // itself, with its own error and reason.
                decoder.set_max_payload(MAX_UNCOMPRESSED_SIZE);
                let (read, write) = tokio::io::split(stream);
                // Bytes already read past the Status belong to the peer's stream.
                let reader = session_reader(read, decoder, read_buf);
                let writer = FramedWrite::new(write, encoder);
                Ok(Established {
                    remote_id,
                    remote_hello,
                    eth_version: version,
                    eth_offset: offset,
                    remote_status,
                    head,
                    reader,
                    writer,
                })
            }
            Err(error) => {
                conn.disconnect(&error).await;
                Err(error)
            }
        },
        Err(error) => {
            conn.disconnect(&error).await;
            Err(error)
        }
    }
}

/// Sends our Hello, reads theirs, negotiates eth and switches on snappy.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    config: &SessionConfig,
    expected: Option<B512>,
) -> Result<(Hello, EthVersion, u64), SessionError> {
    conn.decoder.set_max_payload(MAX_HELLO_SIZE);
    conn.send(p2p::ids::HELLO, config.hello().encoded()).await?;
    let message = conn.recv(Stage::Hello).await?;
    let remote = match P2pMessage::decode(message.id, &message.payload) {
        Ok(P2pMessage::Hello(hello)) => hello,
        Ok(P2pMessage::Disconnect(reason)) => {
            return Err(SessionError::RemoteDisconnected {
                stage: Stage::Hello,
                reason,
            })
        }
        Ok(_) => {
            return Err(SessionError::UnexpectedMessage {
                stage: Stage::Hello,
                id: message.id,
            })
        }
        Err(error) if message.id < p2p::BASE_PROTOCOL_LENGTH => return Err(error.into()),
        Err(_) => {
            return Err(SessionError::UnexpectedMessage {
                stage: Stage::Hello,
                id: message.id,
            })
        }
    };
    // EIP-706: snappy from here on, if the remote speaks p2p v5. It is switched on before
    // any check of the Hello, as geth does (`doProtoHandshake`), so that the Disconnect a
    // failed check sends is compressed as the remote expects.
    let snappy = remote.protocol_version >= 5;
    conn.encoder.set_snappy(snappy);
    conn.decoder.set_snappy(snappy);
    if remote.id != conn.remote_id || expected.is_some_and(|id| id != remote.id) {
        return Err(SessionError::UnexpectedIdentity);
    }
    if remote.id == config.node_id() {
        return Err(SessionError::ConnectedToSelf);
    }
    if remote.protocol_version < 4 {
        return Err(SessionError::IncompatibleP2pVersion {
            version: remote.protocol_version,
        });
    }
    let ours = config.hello().capabilities;
    let length_of = |cap: &Capability| {
        let version = EthVersion::try_from(u64::from(cap.version)).ok()?;
        (cap.name == "eth").then(|| u64::from(version.message_count()))
    };
    let shared = p2p::negotiate(&ours, &remote.capabilities, length_of);
    let eth = shared
        .iter()
        .find(|c| c.capability.name == "eth")
        .ok_or(SessionError::NoSharedCapability)?;
    let version = EthVersion::try_from(u64::from(eth.capability.version))
        .map_err(|_| SessionError::NoSharedCapability)?;
    // Until the session is established only a Status may come, and no eth message is
    // larger than 10 MiB (geth `maxMessageSize`): refuse bigger frames before inflating.
    conn.decoder.set_max_payload(crate::eth::MAX_MESSAGE_SIZE);
    Ok((remote, version, eth.offset))
}

/// Sends our Status and reads theirs; Pings are answered, nothing else is allowed first.
async fn exchange_status<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    version: EthVersion,
    offset: u64,
    status: &dyn StatusExchange,
) -> Result<(EthMessage, PeerHead), SessionError> {
    conn.send(offset, status.local_status(version).encoded())
        .await?;
    loop {
        let message = conn.recv(Stage::Status).await?;
        if message.id < p2p::BASE_PROTOCOL_LENGTH {
            match P2pMessage::decode(message.id, &message.payload)? {
                P2pMessage::Ping => {
                    conn.send(p2p::ids::PONG, P2pMessage::Pong.encoded())
                        .await?
                }
                P2pMessage::Pong => {}
                P2pMessage::Disconnect(reason) => {
                    return Err(SessionError::RemoteDisconnected {
                        stage: Stage::Status,
                        reason,
                    })
                }
                P2pMessage::Hello(_) => {
                    return Err(SessionError::UnexpectedMessage {
                        stage: Stage::Status,
                        id: message.id,
                    })
                }
            }
            continue;
        }
        let id = message.id - offset;
        if id != 0 {
            return Err(SessionError::UnexpectedMessage {
                stage: Stage::Status,
                id: message.id,
            });
        }
        let remote = EthMessage::decode(version, 0, &message.payload)?;
        let head =
            status
                .check_remote(version, &remote)
                .map_err(|r| SessionError::StatusRejected {
                    reason: r.reason,
                    disconnect: r.disconnect,
                })?;
        return Ok((remote, head));
    }
}
