//! Signing keys: one active key per algorithm (ES256, the default, and RS256, the OIDC
//! default that some clients require), older ones kept in the JWKS until they expire.
//!
//! The public JWK is stored in clear; the private JWK is encrypted with the core's secrets key,
//! bound to its `kid`. Decrypted keys are cached in memory by `kid`.
//!
//! Every instance serves the JWKS from memory for at most [`JWKS_RECHECK`], and a new key
//! starts signing only [`PUBLISH_DELAY`] after it was created: by then every instance's JWKS
//! (and so every relying party that fetches it) already has it, whichever instance or process
//! (`stepgate keys rotate`) created it. This is the usual pre-publication rule of key rollover.

use super::clients::SigningAlg;
use crate::crypto;
use axum::body::Bytes;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jwk::Jwk;
use josekit::jws::{JwsSigner, JwsVerifier, ES256, RS256};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepgate_core::{Core, Error};

const RSA_BITS: u32 = 2048;

/// A key ready to sign and verify.
pub struct LoadedKey {
    pub kid: String,
    pub alg: SigningAlg,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl LoadedKey {
    pub fn signer(&self) -> &dyn JwsSigner {
        self.signer.as_ref()
    }
    pub fn verifier(&self) -> &dyn JwsVerifier {
        self.verifier.as_ref()
    }
}

/// Information about a key for `stepgate keys list`.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub expires_at: Option<i64>,
}

fn aad(kid: &str) -> Vec<u8> {
    format!("stepgate signing key {kid}").into_bytes()
}

fn jose(e: josekit::JoseError) -> Error {
    Error::Internal(format!("signing key: {e}"))
}

fn generate(alg: SigningAlg, kid: &str) -> Result<(Jwk, Jwk), Error> {
    let mut private = match alg {
        SigningAlg::Es256 => Jwk::generate_ec_key(EcCurve::P256).map_err(jose)?,
        SigningAlg::Rs256 => Jwk::generate_rsa_key(RSA_BITS).map_err(jose)?,
    };
    private.set_key_id(kid);
    private.set_algorithm(alg.as_str());
    private.set_key_use("sig");
    // josekit keeps only the key material when deriving the public key.
    let mut public = private.to_public_key().map_err(jose)?;
    public.set_key_id(kid);
    public.set_algorithm(alg.as_str());
    public.set_key_use("sig");
    Ok((private, public))
}

type SignerPair = (Box<dyn JwsSigner>, Box<dyn JwsVerifier>);

fn load(alg: SigningAlg, private: &Jwk) -> Result<SignerPair, Error> {
    let public = private.to_public_key().map_err(jose)?;
    Ok(match alg {
        SigningAlg::Es256 => (
            Box::new(ES256.signer_from_jwk(private).map_err(jose)?),
            Box::new(ES256.verifier_from_jwk(&public).map_err(jose)?),
        ),
        SigningAlg::Rs256 => (
            Box::new(RS256.signer_from_jwk(private).map_err(jose)?),
            Box::new(RS256.verifier_from_jwk(&public).map_err(jose)?),
        ),
    })
}

/// How long the server signs with the key it last found active before asking the database
/// again. Every token would otherwise cost a query; a rotation made by another process
/// (`stepgate keys rotate`) is picked up within this time, and tokens signed meanwhile by the
/// previous key stay valid, since a retired key stays published for `retired_key_lifetime`.
const ACTIVE_KEY_RECHECK: Duration = Duration::from_secs(5);

/// How long the JWKS document is served from memory before the table is read again. Under
/// load every request would otherwise cost a query, for a document that changes at a rotation.
const JWKS_RECHECK: Duration = Duration::from_secs(1);

/// Seconds a new key waits before it signs: [`JWKS_RECHECK`] plus one, since `created_at` is in
/// whole seconds. Until then the newest older key that has not expired keeps signing.
const PUBLISH_DELAY: i64 = 2;

/// The JWKS as served, and until when it may be served without reading the table again.
struct Published {
    body: Bytes,
    kids: Vec<String>,
    read_at: Instant,
    /// The earliest `expires_at` among its keys: at that second the document changes.
    first_expiry: Option<i64>,
}

/// The signing keys of this deployment, with a cache of decrypted keys.
#[derive(Clone)]
pub struct Keys {
    core: Core,
    cache: Arc<Mutex<HashMap<String, Arc<LoadedKey>>>>,
    /// The active key id per algorithm, and when it was read.
    active: Arc<Mutex<HashMap<&'static str, (String, Instant)>>>,
    published: Arc<Mutex<Option<Arc<Published>>>>,
}

impl Keys {
    pub fn new(core: Core) -> Keys {
        Keys {
            core,
            cache: Arc::default(),
            active: Arc::default(),
            published: Arc::default(),
        }
    }

    /// Creates a key for every algorithm that has no active one (first start).
    pub async fn ensure(&self) -> Result<(), Error> {
        for alg in SigningAlg::ALL {
            if self.active_kid(alg).await?.is_none() {
                self.add(alg).await?;
            }
        }
        Ok(())
    }

    /// `stepgate keys rotate`: a new key per algorithm, published at once; it takes over the
    /// signing after [`PUBLISH_DELAY`], and the previous ones leave the JWKS after
    /// `retired_key_lifetime` seconds.
    pub async fn rotate(
        &self,
        retired_key_lifetime: i64,
    ) -> Result<Vec<(SigningAlg, String)>, Error> {
        let now = self.core.now();
        let mut fresh = Vec::new();
        for alg in SigningAlg::ALL {
            let kid = crypto::random_id();
            let (private, public) = generate(alg, &kid)?;
            let mut tx = self.core.db().begin().await?;
            sqlx::query(
                "UPDATE oidc_signing_keys SET retired_at = $1, expires_at = $2 \
                 WHERE alg = $3 AND retired_at IS NULL",
            )
            .bind(now)
            .bind(now + retired_key_lifetime)
            .bind(alg.as_str())
            .execute(&mut *tx)
            .await?;
            self.insert(&mut tx, alg, &kid, &private, &public, now)
                .await?;
            tx.commit().await?;
            fresh.push((alg, kid));
        }
        self.forget_remembered();
        Ok(fresh)
    }

    /// After keys were written (and committed): this process publishes them at once and signs
    /// with them after [`PUBLISH_DELAY`]; other processes publish them within [`JWKS_RECHECK`].
    fn forget_remembered(&self) {
        if let Ok(mut m) = self.active.lock() {
            m.clear();
        }
        if let Ok(mut p) = self.published.lock() {
            *p = None;
        }
    }

    async fn add(&self, alg: SigningAlg) -> Result<String, Error> {
        let kid = crypto::random_id();
        let (private, public) = generate(alg, &kid)?;
        let mut tx = self.core.db().begin().await?;
        self.insert(&mut tx, alg, &kid, &private, &public, self.core.now())
            .await?;
        tx.commit().await?;
        self.forget_remembered();
        Ok(kid)
    }

    async fn insert(
        &self,
        tx: &mut stepgate_core::db::Tx,
        alg: SigningAlg,
        kid: &str,
        private: &Jwk,
        public: &Jwk,
        now: i64,
    ) -> Result<(), Error> {
        let sealed = self
            .core
            .secrets()
            .encrypt_to_string(private.to_string().as_bytes(), &aad(kid));
        sqlx::query(
            "INSERT INTO oidc_signing_keys (kid, alg, public_jwk, private_enc, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kid)
        .bind(alg.as_str())
        .bind(public.to_string())
        .bind(sealed)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The key that signs: the newest published long enough ([`PUBLISH_DELAY`]), else the
    /// oldest (the one most likely published everywhere; on first start, the only one); never
    /// an expired one. The flag says a newer key is waiting for its turn, so the choice must
    /// not be remembered. Within one second, a retired key is older than the one that
    /// replaced it.
    async fn active_kid(&self, alg: SigningAlg) -> Result<Option<(String, bool)>, Error> {
        let now = self.core.now();
        let keys: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kid, created_at FROM oidc_signing_keys WHERE alg = $1 \
             AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY created_at DESC, CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, kid DESC",
        )
        .bind(alg.as_str())
        .bind(now)
        .fetch_all(self.core.db().pool())
        .await?;
        let (Some(newest), Some(oldest)) = (keys.first(), keys.last()) else {
            return Ok(None);
        };
        let chosen = keys
            .iter()
            .find(|(_, created)| *created <= now - PUBLISH_DELAY)
            .unwrap_or(oldest);
        Ok(Some((chosen.0.clone(), chosen.0 != newest.0)))
    }

    /// The key that signs with `alg` now (as of at most [`ACTIVE_KEY_RECHECK`] ago).
    pub async fn active(&self, alg: SigningAlg) -> Result<Arc<LoadedKey>, Error> {
        let remembered = self.active.lock().ok().and_then(|m| {
            m.get(alg.as_str())
                .filter(|(_, at)| at.elapsed() < ACTIVE_KEY_RECHECK)
                .map(|(kid, _)| kid.clone())
        });
        let kid = match remembered {
            Some(kid) => kid,
            None => {
                let (kid, newer_waiting) = self.active_kid(alg).await?.ok_or_else(|| {
                    Error::Internal(format!("no active {} signing key", alg.as_str()))
                })?;
                if !newer_waiting {
                    if let Ok(mut m) = self.active.lock() {
                        m.insert(alg.as_str(), (kid.clone(), Instant::now()));
                    }
                }
                kid
            }
        };
        self.by_kid(&kid)
            .await?
            .ok_or_else(|| Error::Internal(format!("signing key {kid} vanished")))
    }

    /// A key that is still published (not expired), for verifying our own tokens. What is
    /// published decides, so a key retired and expired by another process stops verifying
    /// here too, though its decrypted copy is still in memory.
    pub async fn by_kid(&self, kid: &str) -> Result<Option<Arc<LoadedKey>>, Error> {
        let has = |p: &Published| p.kids.iter().any(|k| k == kid);
        if !has(&*self.published(false).await?) && !has(&*self.published(true).await?) {
            return Ok(None);
        }
        if let Some(k) = self.cache_get(kid) {
            return Ok(Some(k));
        }
        let row = sqlx::query(
            "SELECT alg, private_enc FROM oidc_signing_keys WHERE kid = $1 \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(kid)
        .bind(self.core.now())
        .fetch_optional(self.core.db().pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let alg_name: String = row.try_get("alg")?;
        let alg = SigningAlg::parse(&alg_name)
            .ok_or_else(|| Error::Internal(format!("unknown key algorithm {alg_name}")))?;
        let sealed: String = row.try_get("private_enc")?;
        let json = self
            .core
            .secrets()
            .decrypt_from_string(&sealed, &aad(kid))?;
        let private = Jwk::from_bytes(&json).map_err(jose)?;
        let (signer, verifier) = load(alg, &private)?;
        let key = Arc::new(LoadedKey {
            kid: kid.to_string(),
            alg,
            signer,
            verifier,
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(kid.to_string(), key.clone());
        }
        Ok(Some(key))
    }

    fn cache_get(&self, kid: &str) -> Option<Arc<LoadedKey>> {
        self.cache.lock().ok()?.get(kid).cloned()
    }

    /// The JWKS document (JSON): every key not yet expired, newest first, as of at most
    /// [`JWKS_RECHECK`] ago.
    pub async fn jwks(&self) -> Result<Bytes, Error> {
        Ok(self.published(false).await?.body.clone())
    }

    /// What is published now; `reread` skips the memory (a `kid` not found in it may be newer).
    async fn published(&self, reread: bool) -> Result<Arc<Published>, Error> {
        let now = self.core.now();
        if !reread {
            if let Some(p) = self.published.lock().ok().and_then(|p| p.clone()) {
                if p.read_at.elapsed() < JWKS_RECHECK && p.first_expiry.is_none_or(|e| now < e) {
                    return Ok(p);
                }
            }
        }
        let read_at = Instant::now();
        let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT kid, public_jwk, expires_at FROM oidc_signing_keys \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, kid DESC",
        )
        .bind(now)
        .fetch_all(self.core.db().pool())
        .await?;
        let keys = rows
            .iter()
            .map(|(_, j, _)| serde_json::from_str::<serde_json::Value>(j))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(format!("stored public key unreadable: {e}")))?;
        let body = serde_json::to_vec(&serde_json::json!({ "keys": keys }))
            .map_err(|e| Error::Internal(format!("JWKS: {e}")))?;
        let published = Arc::new(Published {
            body: Bytes::from(body),
            kids: rows.iter().map(|(kid, _, _)| kid.clone()).collect(),
            read_at,
            first_expiry: rows.iter().filter_map(|(_, _, e)| *e).min(),
        });
        if let Ok(mut p) = self.published.lock() {
            *p = Some(published.clone());
        }
        Ok(published)
    }

    pub async fn list(&self) -> Result<Vec<KeyInfo>, Error> {
        let rows = sqlx::query(
            "SELECT kid, alg, created_at, retired_at, expires_at FROM oidc_signing_keys \
             ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(self.core.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyInfo {
                    kid: r.try_get("kid")?,
                    alg: r.try_get("alg")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }
}
