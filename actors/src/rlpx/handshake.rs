//! The RLPx handshake (`rlpx.md` "Initial Handshake", EIP-8): auth and ack packets in the
//! EIP-8 format (and, when receiving, the legacy pre-EIP-8 format), and the secrets both
//! sides derive from them.

use alloy_primitives::{keccak256, Keccak256, B256, B512};
use alloy_rlp::{Decodable, Encodable, Header};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

use super::ecies::{self, ecdh_x, ECIES_OVERHEAD};
use super::{RlpxError, MAX_HANDSHAKE_PACKET_SIZE};

/// Size of a legacy (pre-EIP-8) auth packet: 194 bytes of plaintext plus ECIES overhead.
pub const LEGACY_AUTH_SIZE: usize = 194 + ECIES_OVERHEAD;
/// Size of a legacy ack packet: 97 bytes of plaintext plus ECIES overhead.
pub const LEGACY_ACK_SIZE: usize = 97 + ECIES_OVERHEAD;
/// The handshake version we send (`auth-vsn`, `ack-vsn`).
pub const HANDSHAKE_VERSION: u64 = 4;

/// A node's public key as its 64-byte id (uncompressed point without the 0x04 prefix).
pub fn node_id(public: &PublicKey) -> B512 {
    B512::from_slice(&public.serialize_uncompressed()[1..])
}

/// The public key of a 64-byte node id.
pub fn public_key(id: &B512) -> Result<PublicKey, RlpxError> {
    let mut bytes = [4u8; 65];
    bytes[1..].copy_from_slice(id.as_slice());
    Ok(PublicKey::from_slice(&bytes)?)
}

/// Which packet format the remote used (a recipient answers in the same one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketFormat {
    /// Pre-EIP-8: fixed-size binary bodies, no size prefix.
    Legacy,
    /// EIP-8: size-prefixed RLP bodies with padding.
    Eip8,
}

/// The contents of an auth packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The initiator's static public key (its node id).
    pub initiator_id: B512,
    /// The initiator's ephemeral public key, recovered from the signature.
    pub initiator_ephemeral: PublicKey,
    /// The initiator's nonce.
    pub initiator_nonce: B256,
    /// `auth-vsn` (ignored beyond logging, as `rlpx.md` requires).
    pub version: u64,
    /// The packet format used.
    pub format: PacketFormat,
}

/// The contents of an ack packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    /// The recipient's ephemeral public key.
    pub recipient_ephemeral: PublicKey,
    /// The recipient's nonce.
    pub recipient_nonce: B256,
    /// `ack-vsn`.
    pub version: u64,
}

/// What both sides share after the handshake: the frame cipher and MAC secrets and the two
/// MAC states, seeded with the exact auth/ack wire bytes.
#[derive(Clone)]
pub struct Secrets {
    /// The AES-256 key of the frame cipher.
    pub aes_secret: B256,
    /// The AES-256 key of the MAC updates.
    pub mac_secret: B256,
    /// Our egress MAC state.
    pub egress_mac: Keccak256,
    /// Our ingress MAC state.
    pub ingress_mac: Keccak256,
    /// The remote's node id.
    pub remote_id: B512,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Secrets")
            .field("remote_id", &self.remote_id)
            .finish_non_exhaustive()
    }
}

/// The per-connection random values of one side.
#[derive(Clone, Debug)]
pub struct HandshakeRandomness {
    /// The ephemeral key.
    pub ephemeral: SecretKey,
    /// The nonce.
    pub nonce: B256,
    /// EIP-8 padding length (100-300 bytes recommended).
    pub padding: usize,
}

impl HandshakeRandomness {
    /// Fresh values from the OS-seeded CSPRNG: random ephemeral key and nonce, random
    /// padding of 100 to 300 bytes (EIP-8).
    pub fn random() -> Self {
        use secp256k1::rand::Rng;
        let mut rng = secp256k1::rand::rng();
        Self {
            ephemeral: SecretKey::new(&mut rng),
            nonce: B256::from(rng.random::<[u8; 32]>()),
            padding: rng.random_range(100..=300),
        }
    }
}

/// A node's static key with its public key and id computed once (they are needed in every
/// handshake, and deriving them costs an elliptic-curve multiplication).
#[derive(Clone)]
pub struct NodeKey {
    secret: SecretKey,
    public: PublicKey,
    id: B512,
}

impl NodeKey {
    /// Wraps a secret key.
    pub fn new(secret: SecretKey) -> Self {
        let public = PublicKey::from_secret_key(SECP256K1, &secret);
        Self {
            secret,
            public,
            id: node_id(&public),
        }
    }

    /// The secret key.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The node id (public key without the 0x04 prefix).
    pub fn id(&self) -> B512 {
        self.id
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("NodeKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Builds an EIP-8 auth packet (size prefix included) from `key` to `remote`.
pub fn auth_packet(key: &NodeKey, remote: &PublicKey, random: &HandshakeRandomness) -> Vec<u8> {
    let shared = B256::from(ecdh_x(remote, &key.secret));
    let message = Message::from_digest((shared ^ random.nonce).0);
    let (recovery_id, compact) = SECP256K1
        .sign_ecdsa_recoverable(message, &random.ephemeral)
        .serialize_compact();
    let mut signature = [0u8; 65];
    signature[..64].copy_from_slice(&compact);
    signature[64] = i32::from(recovery_id) as u8;
    let fields: [&dyn Encodable; 4] = [&&signature[..], &key.id, &random.nonce, &HANDSHAKE_VERSION];
    seal_eip8(remote, &encode_list(&fields), random.padding)
}

/// Builds an ack packet answering an auth in `format`.
pub fn ack_packet(
    remote: &PublicKey,
    random: &HandshakeRandomness,
    format: PacketFormat,
) -> Vec<u8> {
    let ephemeral_id = node_id(&PublicKey::from_secret_key(SECP256K1, &random.ephemeral));
    match format {
        PacketFormat::Eip8 => {
            let fields: [&dyn Encodable; 3] = [&ephemeral_id, &random.nonce, &HANDSHAKE_VERSION];
            seal_eip8(remote, &encode_list(&fields), random.padding)
        }
        PacketFormat::Legacy => {
            let mut plain = Vec::with_capacity(97);
            plain.extend_from_slice(ephemeral_id.as_slice());
            plain.extend_from_slice(random.nonce.as_slice());
            plain.push(0);
            ecies::encrypt(remote, &plain, &[])
        }
    }
}

/// Reads an auth packet (legacy: exactly [`LEGACY_AUTH_SIZE`] bytes; EIP-8: size prefix +
/// body) with our static key, checks its MAC and recovers the initiator's ephemeral key.
pub fn read_auth(static_key: &SecretKey, packet: &[u8]) -> Result<Auth, RlpxError> {
    if packet.len() == LEGACY_AUTH_SIZE {
        if let Ok(plain) = ecies::decrypt(static_key, packet, &[]) {
            // sig(65) || keccak(ephemeral)(32) || static id(64) || nonce(32) || 0x00
            let signature: [u8; 65] = plain[..65]
                .try_into()
                .map_err(|_| RlpxError::EciesTooShort { len: plain.len() })?;
            let initiator_id = B512::from_slice(&plain[97..161]);
            let nonce = B256::from_slice(&plain[161..193]);
            return auth_from_parts(
                static_key,
                signature,
                initiator_id,
                nonce,
                4,
                PacketFormat::Legacy,
            );
        }
    }
    let plain = open_eip8(static_key, packet)?;
    let rlp = |source| RlpxError::HandshakeRlp { source };
    let mut body = list_payload(&plain).map_err(rlp)?;
    let signature_bytes = alloy_rlp::Bytes::decode(&mut body).map_err(rlp)?;
    let signature: [u8; 65] = signature_bytes
        .as_ref()
        .try_into()
        .map_err(|_| rlp(alloy_rlp::Error::UnexpectedLength))?;
    let initiator_id = B512::decode(&mut body).map_err(rlp)?;
    let nonce = B256::decode(&mut body).map_err(rlp)?;
    let version = u64::decode(&mut body).map_err(rlp)?;
    // Anything after the version is ignored (EIP-8 forward compatibility).
    auth_from_parts(
        static_key,
        signature,
        initiator_id,
        nonce,
        version,
        PacketFormat::Eip8,
    )
}

/// Reads an ack packet (legacy or EIP-8) with our static key.
pub fn read_ack(static_key: &SecretKey, packet: &[u8]) -> Result<Ack, RlpxError> {
    if packet.len() == LEGACY_ACK_SIZE {
        if let Ok(plain) = ecies::decrypt(static_key, packet, &[]) {
            return Ok(Ack {
                recipient_ephemeral: public_key(&B512::from_slice(&plain[..64]))?,
                recipient_nonce: B256::from_slice(&plain[64..96]),
                version: 4,
            });
        }
    }
    let plain = open_eip8(static_key, packet)?;
    let rlp = |source| RlpxError::HandshakeRlp { source };
    let mut body = list_payload(&plain).map_err(rlp)?;
    let ephemeral = B512::decode(&mut body).map_err(rlp)?;
    let nonce = B256::decode(&mut body).map_err(rlp)?;
    let version = u64::decode(&mut body).map_err(rlp)?;
    Ok(Ack {
        recipient_ephemeral: public_key(&ephemeral)?,
        recipient_nonce: nonce,
        version,
    })
}

/// One side's view of a completed auth/ack exchange: everything the secrets derive from.
#[derive(Clone, Debug)]
pub struct Exchange<'a> {
    /// Whether we sent the auth.
    pub initiator: bool,
    /// Our ephemeral key.
    pub our_ephemeral: &'a SecretKey,
    /// The remote's ephemeral public key.
    pub remote_ephemeral: &'a PublicKey,
    /// The initiator's nonce.
    pub initiator_nonce: B256,
    /// The recipient's nonce.
    pub recipient_nonce: B256,
    /// The auth packet exactly as on the wire (size prefix included).
    pub auth: &'a [u8],
    /// The ack packet exactly as on the wire.
    pub ack: &'a [u8],
    /// The remote's node id.
    pub remote_id: B512,
}

impl Exchange<'_> {
    /// Derives the session secrets (`rlpx.md`, "Secrets").
    pub fn secrets(&self) -> Secrets {
        let ephemeral_key = ecdh_x(self.remote_ephemeral, self.our_ephemeral);
        let nonce_hash = keccak256(
            [
                self.recipient_nonce.as_slice(),
                self.initiator_nonce.as_slice(),
            ]
            .concat(),
        );
        let shared_secret = keccak256([&ephemeral_key[..], nonce_hash.as_slice()].concat());
        let aes_secret = keccak256([&ephemeral_key[..], shared_secret.as_slice()].concat());
        let mac_secret = keccak256([&ephemeral_key[..], aes_secret.as_slice()].concat());
        let mac_state = |nonce: B256, packet: &[u8]| {
            let mut hasher = Keccak256::new();
            hasher.update((mac_secret ^ nonce).as_slice());
            hasher.update(packet);
            hasher
        };
        let (egress_mac, ingress_mac) = if self.initiator {
            (
                mac_state(self.recipient_nonce, self.auth),
                mac_state(self.initiator_nonce, self.ack),
            )
        } else {
            (
                mac_state(self.initiator_nonce, self.ack),
                mac_state(self.recipient_nonce, self.auth),
            )
        };
        Secrets {
            aes_secret,
            mac_secret,
            egress_mac,
            ingress_mac,
            remote_id: self.remote_id,
        }
    }
}

fn auth_from_parts(
    static_key: &SecretKey,
    signature: [u8; 65],
    initiator_id: B512,
    nonce: B256,
    version: u64,
    format: PacketFormat,
) -> Result<Auth, RlpxError> {
    let initiator = public_key(&initiator_id)?;
    let shared = B256::from(ecdh_x(&initiator, static_key));
    let message = Message::from_digest((shared ^ nonce).0);
    let recovery_id = RecoveryId::try_from(i32::from(signature[64]))?;
    let signature = RecoverableSignature::from_compact(&signature[..64], recovery_id)?;
    let initiator_ephemeral = SECP256K1.recover_ecdsa(message, &signature)?;
    Ok(Auth {
        initiator_id,
        initiator_ephemeral,
        initiator_nonce: nonce,
        version,
        format,
    })
}

fn encode_list(fields: &[&dyn Encodable]) -> Vec<u8> {
    let payload_length = fields.iter().map(|f| f.length()).sum();
    let mut out = Vec::new();
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for field in fields {
        field.encode(&mut out);
    }
    out
}

/// The payload of the RLP list at the start of `plain`; trailing padding is ignored.
fn list_payload(plain: &[u8]) -> alloy_rlp::Result<&[u8]> {
    let mut buf = plain;
    let header = Header::decode(&mut buf)?;
    if !header.list {
        return Err(alloy_rlp::Error::UnexpectedString);
    }
    buf.get(..header.payload_length)
        .ok_or(alloy_rlp::Error::InputTooShort)
}

/// `size(u16 BE) || ecies(body || padding)` with the size as authenticated data.
fn seal_eip8(remote: &PublicKey, body: &[u8], padding: usize) -> Vec<u8> {
    let mut plain = body.to_vec();
    plain.resize(body.len() + padding, 0);
    let size = (plain.len() + ECIES_OVERHEAD) as u16;
    let prefix = size.to_be_bytes();
    let mut packet = prefix.to_vec();
    packet.extend(ecies::encrypt(remote, &plain, &prefix));
    packet
}

fn open_eip8(static_key: &SecretKey, packet: &[u8]) -> Result<Vec<u8>, RlpxError> {
    if packet.len() > MAX_HANDSHAKE_PACKET_SIZE {
        return Err(RlpxError::HandshakeTooLarge {
            size: packet.len(),
            limit: MAX_HANDSHAKE_PACKET_SIZE,
        });
    }
    let (prefix, sealed) = packet
        .split_at_checked(2)
        .ok_or(RlpxError::EciesTooShort { len: packet.len() })?;
    let size = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if sealed.len() != size {
        return Err(RlpxError::EciesTooShort { len: sealed.len() });
    }
    ecies::decrypt(static_key, sealed, prefix)
}

#[cfg(test)]
mod tests;
