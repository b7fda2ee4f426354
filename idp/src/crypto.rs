//! The few primitives the provider needs around bearer secrets: generating them, hashing them
//! for storage, comparing in constant time, and PKCE's S256 transform. Everything here is a
//! thin use of `rand`, `sha2`, `subtle` and `base64`; nothing is implemented by hand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh 256-bit random value, base64url without padding (43 characters). Used for client
/// secrets, codes, refresh tokens, session cookies and request ids: at this entropy a plain
/// SHA-256 is a sufficient storage hash (nobody can brute-force a 256-bit preimage).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The form in which a bearer secret is stored: base64url(SHA-256(secret)).
pub fn hash_token(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two strings without leaking, through timing, where they first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks a presented secret against its stored hash in constant time.
pub fn verify_token(secret: &str, stored_hash: &str) -> bool {
    constant_time_eq(&hash_token(secret), stored_hash)
}

/// PKCE (RFC 7636): BASE64URL(SHA256(ASCII(code_verifier))).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: a verifier (and an S256 challenge) is 43–128 unreserved characters.
pub fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A shorter random identifier for things that are public anyway (`sid`, `jti`, `kid`).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_are_random_and_hash_verifies() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        let h = hash_token(&a);
        assert!(verify_token(&a, &h));
        assert!(!verify_token(&random_token(), &h));
    }

    #[test]
    fn pkce_values_are_checked() {
        assert!(is_pkce_value(&random_token()));
        assert!(!is_pkce_value("short"));
        assert!(!is_pkce_value(&"a b".repeat(20)));
    }
}
