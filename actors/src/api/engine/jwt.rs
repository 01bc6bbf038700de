//! The engine API's authentication (`engine/authentication.md` in ethereum/execution-apis,
//! as geth applies it): an HS256 JWT signed with the 32-byte shared secret, whose `iat`
//! claim is within [`MAX_CLOCK_SKEW`] of our clock. Everything from the caller is checked
//! before use; nothing here panics.

use hmac::{Hmac, Mac};
use serde_json::Value;

/// Largest difference between a token's `iat` and our clock (the spec's and geth's 60 s).
pub const MAX_CLOCK_SKEW: u64 = 60;

/// Longest token accepted (ours: a header, `iat` and perhaps `id`/`clv` claims fit in a
/// few hundred bytes).
pub const MAX_TOKEN_LENGTH: usize = 4096;

/// Why a request was not authenticated (answered with HTTP 401 and this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// No `Authorization: Bearer` header.
    #[error("missing token")]
    Missing,
    /// Not three base64url parts, or not JSON, or too long.
    #[error("token is malformed")]
    Malformed,
    /// Another algorithm than HS256.
    #[error("unexpected signing method")]
    Algorithm,
    /// The signature does not match the secret.
    #[error("signature is invalid")]
    Signature,
    /// No `iat` claim.
    #[error("missing issued-at")]
    NoIssuedAt,
    /// `iat` too far from our clock.
    #[error("stale token")]
    Stale,
}

/// A shared secret: 32 bytes, read from a file of 64 hex characters (geth's format).
#[derive(Clone)]
pub struct JwtSecret([u8; 32]);

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

impl JwtSecret {
    /// The secret written as 64 hex characters (a `0x` prefix and whitespace allowed).
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        let bytes = alloy_primitives::hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// A new random secret.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        secp256k1::rand::RngCore::fill_bytes(&mut secp256k1::rand::rng(), &mut bytes);
        Self(bytes)
    }

    /// As 64 hex characters (for the secret file).
    pub fn to_hex(&self) -> String {
        alloy_primitives::hex::encode(self.0)
    }

    /// Checks an `Authorization` header value (`Bearer <token>`) at our clock `now`.
    pub fn check(&self, authorization: Option<&str>, now: u64) -> Result<(), JwtError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(JwtError::Missing)?
            .trim();
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        // The signed input is the first two parts and the dot between them.
        let signed = &token[..header.len() + 1 + claims.len()];
        let header: Value = decode_json(header)?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(JwtError::Algorithm);
        }
        let signature = base64url(signature).ok_or(JwtError::Malformed)?;
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.0).map_err(|_| JwtError::Signature)?;
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| JwtError::Signature)?;
        let claims: Value = decode_json(claims)?;
        let iat = claims
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or(JwtError::NoIssuedAt)?;
        if iat.abs_diff(now) > MAX_CLOCK_SKEW {
            return Err(JwtError::Stale);
        }
        Ok(())
    }
}

fn decode_json(part: &str) -> Result<Value, JwtError> {
    let bytes = base64url(part).ok_or(JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

/// Unpadded base64url (RFC 4648 section 5), as JWTs use.
fn base64url(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token as any client makes one: header, claims, HMAC-SHA256 over the first two.
    fn token(secret: &[u8; 32], header: &str, claims: &str) -> String {
        let encode = |b: &[u8]| data_encoding::BASE64URL_NOPAD.encode(b);
        let input = format!(
            "{}.{}",
            encode(header.as_bytes()),
            encode(claims.as_bytes())
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(input.as_bytes());
        format!("Bearer {input}.{}", encode(&mac.finalize().into_bytes()))
    }

    #[test]
    fn tokens_are_checked_as_the_spec_says() {
        let secret = JwtSecret([7; 32]);
        let now = 1_800_000_000;
        let good = token(
            &[7; 32],
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &format!(r#"{{"iat":{now}}}"#),
        );
        assert_eq!(secret.check(Some(&good), now), Ok(()));
        assert_eq!(secret.check(Some(&good), now + 60), Ok(()));
        assert_eq!(secret.check(Some(&good), now + 61), Err(JwtError::Stale));
        assert_eq!(secret.check(Some(&good), now - 61), Err(JwtError::Stale));
        let other = token(
            &[8; 32],
            r#"{"alg":"HS256"}"#,
            &format!(r#"{{"iat":{now}}}"#),
        );
        assert_eq!(secret.check(Some(&other), now), Err(JwtError::Signature));
        let none = token(
            &[7; 32],
            r#"{"alg":"none"}"#,
            &format!(r#"{{"iat":{now}}}"#),
        );
        assert_eq!(secret.check(Some(&none), now), Err(JwtError::Algorithm));
        let no_iat = token(&[7; 32], r#"{"alg":"HS256"}"#, r#"{"id":"x"}"#);
        assert_eq!(secret.check(Some(&no_iat), now), Err(JwtError::NoIssuedAt));
        assert_eq!(secret.check(None, now), Err(JwtError::Missing));
        for bad in [
            "Bearer",
            "Bearer a.b",
            "Bearer a.b.c.d",
            "Bearer !!.??.--",
            "Basic abc",
        ] {
            assert!(secret.check(Some(bad), now).is_err(), "{bad}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LENGTH + 1));
        assert_eq!(secret.check(Some(&long), now), Err(JwtError::Malformed));
        // A tampered claim breaks the signature.
        let tampered = good.replacen('.', ".e30", 1);
        assert!(secret.check(Some(&tampered), now).is_err());
        assert!(JwtSecret::from_hex(&"ab".repeat(32)).is_some());
        assert!(JwtSecret::from_hex(&"ab".repeat(31)).is_none());
        assert_eq!(
            JwtSecret::from_hex(&format!("0x{}\n", "cd".repeat(32)))
                .unwrap()
                .to_hex(),
            "cd".repeat(32)
        );
    }
}
