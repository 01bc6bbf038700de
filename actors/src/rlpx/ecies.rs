//! ECIES as RLPx uses it (`rlpx.md`, "ECIES Encryption"): secp256k1 ECDH, NIST SP 800-56
//! concatenation KDF with SHA-256, AES-128-CTR, and HMAC-SHA256 over
//! `iv || ciphertext || shared-mac-data` (the 2-byte size prefix of the packet).

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use secp256k1::{ecdh, PublicKey, SecretKey, SECP256K1};
use sha2::{Digest, Sha256};

use super::RlpxError;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;
type HmacSha256 = Hmac<Sha256>;

/// Bytes ECIES adds to a plaintext: the ephemeral public key (65), the IV (16) and the
/// HMAC (32).
pub const ECIES_OVERHEAD: usize = 65 + 16 + 32;

/// The x coordinate of `secret · public`: the ECDH value every RLPx derivation starts from.
pub fn ecdh_x(public: &PublicKey, secret: &SecretKey) -> [u8; 32] {
    let point = ecdh::shared_secret_point(public, secret);
    let mut x = [0u8; 32];
    x.copy_from_slice(&point[..32]);
    x
}

/// NIST concatenation KDF with SHA-256 for 32 bytes of output: one round,
/// `sha256(u32_be(1) || z)` (the shared info `s1` is empty in RLPx).
fn kdf(z: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(1u32.to_be_bytes());
    hasher.update(z);
    hasher.finalize().into()
}

/// The encryption key (AES-128) and MAC key derived from a shared x coordinate.
fn keys(shared: &[u8; 32]) -> ([u8; 16], [u8; 32]) {
    let k = kdf(shared);
    let mut enc = [0u8; 16];
    enc.copy_from_slice(&k[..16]);
    let mac = Sha256::digest(&k[16..32]).into();
    (enc, mac)
}

fn tag(mac_key: &[u8; 32], iv: &[u8], ciphertext: &[u8], shared_mac_data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; 32 bytes cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(mac_key).unwrap_or_else(|_| unreachable!());
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(shared_mac_data);
    mac.finalize().into_bytes().into()
}

/// Encrypts `plaintext` to `remote`, authenticating `shared_mac_data` too, with the given
/// ephemeral key and IV (the caller draws them from a CSPRNG; tests fix them).
pub fn encrypt_with(
    remote: &PublicKey,
    plaintext: &[u8],
    shared_mac_data: &[u8],
    ephemeral: &SecretKey,
    iv: [u8; 16],
) -> Vec<u8> {
    let (enc_key, mac_key) = keys(&ecdh_x(remote, ephemeral));
    let mut out = Vec::with_capacity(ECIES_OVERHEAD + plaintext.len());
    out.extend_from_slice(
        &PublicKey::from_secret_key(SECP256K1, ephemeral).serialize_uncompressed(),
    );
    out.extend_from_slice(&iv);
    let start = out.len();
    out.extend_from_slice(plaintext);
    Aes128Ctr::new(&enc_key.into(), &iv.into()).apply_keystream(&mut out[start..]);
    let d = tag(&mac_key, &iv, &out[start..], shared_mac_data);
    out.extend_from_slice(&d);
    out
}

/// Encrypts `plaintext` to `remote` with a fresh random ephemeral key and IV.
pub fn encrypt(remote: &PublicKey, plaintext: &[u8], shared_mac_data: &[u8]) -> Vec<u8> {
    let ephemeral = SecretKey::new(&mut secp256k1::rand::rng());
    let iv: [u8; 16] = secp256k1::rand::random();
    encrypt_with(remote, plaintext, shared_mac_data, &ephemeral, iv)
}

/// Checks the HMAC, then decrypts. Fails on anything shorter than the overhead, an invalid
/// ephemeral key, or a MAC mismatch (checked before any decryption).
pub fn decrypt(
    secret: &SecretKey,
    data: &[u8],
    shared_mac_data: &[u8],
) -> Result<Vec<u8>, RlpxError> {
    if data.len() < ECIES_OVERHEAD {
        return Err(RlpxError::EciesTooShort { len: data.len() });
    }
    let (public, rest) = data.split_at(65);
    let (iv, rest) = rest.split_at(16);
    let (ciphertext, d) = rest.split_at(rest.len() - 32);
    let public = PublicKey::from_slice(public)?;
    let (enc_key, mac_key) = keys(&ecdh_x(&public, secret));
    let expected = tag(&mac_key, iv, ciphertext, shared_mac_data);
    // Constant-time comparison: the MAC is the only secret-dependent check here.
    let mut diff = 0u8;
    for (a, b) in expected.iter().zip(d) {
        diff |= a ^ b;
    }
    if diff != 0 {
        return Err(RlpxError::EciesMac);
    }
    let mut plaintext = ciphertext.to_vec();
    let iv: [u8; 16] = iv
        .try_into()
        .map_err(|_| RlpxError::EciesTooShort { len: data.len() })?;
    Aes128Ctr::new(&enc_key.into(), &iv.into()).apply_keystream(&mut plaintext);
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let secret = SecretKey::from_byte_array([7; 32]).expect("valid key");
        let public = PublicKey::from_secret_key(SECP256K1, &secret);
        let sealed = encrypt(&public, b"hello rlpx", b"\x00\x10");
        assert_eq!(sealed.len(), ECIES_OVERHEAD + 10);
        assert_eq!(
            decrypt(&secret, &sealed, b"\x00\x10").expect("decrypts"),
            b"hello rlpx"
        );
        assert!(matches!(
            decrypt(&secret, &sealed, b"\x00\x11"),
            Err(RlpxError::EciesMac)
        ));
        let mut flipped = sealed.clone();
        flipped[70] ^= 1;
        assert!(matches!(
            decrypt(&secret, &flipped, b"\x00\x10"),
            Err(RlpxError::EciesMac)
        ));
        assert!(matches!(
            decrypt(&secret, &sealed[..50], b""),
            Err(RlpxError::EciesTooShort { len: 50 })
        ));
    }
}
