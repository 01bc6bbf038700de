//! The RLPx frame MAC (`rlpx.md` "Framing", geth `hashMAC`): a running keccak256 state whose
//! updates are whitened through AES-256 (one block, ECB) keyed with the mac secret.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes256;
use alloy_primitives::{Keccak256, B256};

/// One direction's MAC state.
#[derive(Clone)]
pub struct MacState {
    hash: Keccak256,
    cipher: Aes256,
}

impl MacState {
    /// A MAC state continuing `hash` (seeded by the handshake) with `mac_secret`.
    pub fn new(hash: Keccak256, mac_secret: B256) -> Self {
        Self {
            hash,
            cipher: Aes256::new(&mac_secret.0.into()),
        }
    }

    /// The first 16 bytes of the current digest.
    fn digest16(&self) -> [u8; 16] {
        let digest = self.hash.clone().finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }

    fn aes(&self, block: [u8; 16]) -> [u8; 16] {
        let mut block = block.into();
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// Header MAC: `seed = AES(digest[:16]) ^ header_ct; update(seed); digest[:16]`.
    pub fn header_mac(&mut self, header_ciphertext: &[u8; 16]) -> [u8; 16] {
        let mut seed = self.aes(self.digest16());
        seed.iter_mut()
            .zip(header_ciphertext)
            .for_each(|(s, c)| *s ^= c);
        self.hash.update(seed);
        self.digest16()
    }

    /// Frame MAC: `update(frame_ct); fs = digest[:16]; update(AES(fs) ^ fs); digest[:16]`.
    pub fn frame_mac(&mut self, frame_ciphertext: &[u8]) -> [u8; 16] {
        self.hash.update(frame_ciphertext);
        let seed = self.digest16();
        let mut whitened = self.aes(seed);
        whitened.iter_mut().zip(seed).for_each(|(w, s)| *w ^= s);
        self.hash.update(whitened);
        self.digest16()
    }
}
