//! Tokens whose signature this process checked recently, by the SHA-256 of the whole token.
//!
//! A resource server introspects the same access token on every call it serves; checking an
//! ES256 signature costs far more than the rest of introspection. The outcome of a signature
//! check depends only on the token's bytes and the key, so a token seen before is not checked
//! again while its key is still published (the caller asks the key store each time).
//! Revocation, expiry and the user's state are not remembered here: callers check them on
//! every use.

use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many tokens are remembered (a few MiB at worst); when full, expired ones are
/// dropped, and if that frees nothing the memory starts over.
const CAPACITY: usize = 4096;

/// A token as it was verified.
pub struct Verified {
    pub payload: JwtPayload,
    pub header: JwsHeader,
    pub kid: String,
    exp: i64,
}

#[derive(Default)]
pub struct VerifiedTokens {
    map: Mutex<HashMap<[u8; 32], Arc<Verified>>>,
}

pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The token verified earlier, if it has not expired since.
    pub fn get(&self, digest: &[u8; 32], now: i64) -> Option<Arc<Verified>> {
        let found = self.map.lock().ok()?.get(digest).cloned()?;
        (now < found.exp).then_some(found)
    }

    /// Remembers a token whose signature was just checked. Tokens without an expiry, or
    /// already expired (a logout hint), are not kept.
    pub fn insert(
        &self,
        digest: [u8; 32],
        payload: &JwtPayload,
        header: &JwsHeader,
        kid: &str,
        now: i64,
    ) {
        let Some(exp) = payload.claim("exp").and_then(|e| e.as_i64()) else {
            return;
        };
        if exp <= now {
            return;
        }
        let Ok(mut map) = self.map.lock() else {
            return;
        };
        if map.len() >= CAPACITY {
            map.retain(|_, v| now < v.exp);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(
            digest,
            Arc::new(Verified {
                payload: payload.clone(),
                header: header.clone(),
                kid: kid.to_string(),
                exp,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(exp: i64) -> JwtPayload {
        let mut p = JwtPayload::new();
        p.set_claim("exp", Some(json!(exp))).unwrap();
        p
    }

    #[test]
    fn a_token_is_remembered_until_it_expires_and_memory_stays_bounded() {
        let cache = VerifiedTokens::default();
        let h = JwsHeader::new();
        cache.insert(digest("a"), &payload(100), &h, "k1", 10);
        assert_eq!(
            cache.get(&digest("a"), 99).map(|v| v.kid.clone()),
            Some("k1".into())
        );
        assert!(cache.get(&digest("a"), 100).is_none(), "expired");
        assert!(cache.get(&digest("b"), 10).is_none(), "never seen");
        cache.insert(digest("old"), &payload(5), &h, "k1", 10);
        assert!(
            cache.get(&digest("old"), 1).is_none(),
            "expired tokens are not kept"
        );
        for i in 0..CAPACITY + 10 {
            cache.insert(digest(&i.to_string()), &payload(100), &h, "k1", 10);
        }
        assert!(cache.map.lock().unwrap().len() <= CAPACITY);
    }
}
