//! Signing keys: one active key per algorithm (ES256, the default, and RS256, the OIDC
//! default that some clients require), older ones kept in the JWKS until they expire.
//!
//! The public JWK is stored in clear (the JWKS is served straight from the table, so every
//! instance publishes a new key the moment it exists); the private JWK is encrypted with the
//! core's secrets key, bound to its `kid`. Decrypted keys are cached in memory by `kid`; which
//! key is active is read from the database on every signature, so a `stepgate keys rotate`
//! run by another process takes effect at once everywhere.

use super::clients::SigningAlg;
use crate::crypto;
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

/// The signing keys of this deployment, with a cache of decrypted keys.
#[derive(Clone)]
pub struct Keys {
    core: Core,
    cache: Arc<Mutex<HashMap<String, Arc<LoadedKey>>>>,
    /// The active key id per algorithm, and when it was read.
    active: Arc<Mutex<HashMap<&'static str, (String, Instant)>>>,
}

impl Keys {
    pub fn new(core: Core) -> Keys {
        Keys {
            core,
            cache: Arc::default(),
            active: Arc::default(),
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

    /// `stepgate keys rotate`: a new active key per algorithm; the previous ones stop signing
    /// and leave the JWKS after `retired_key_lifetime` seconds.
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
        // This process signs with the new keys at once; others within ACTIVE_KEY_RECHECK.
        if let Ok(mut m) = self.active.lock() {
            m.clear();
        }
        Ok(fresh)
    }

    async fn add(&self, alg: SigningAlg) -> Result<String, Error> {
        let kid = crypto::random_id();
        let (private, public) = generate(alg, &kid)?;
        let mut tx = self.core.db().begin().await?;
        self.insert(&mut tx, alg, &kid, &private, &public, self.core.now())
            .await?;
        tx.commit().await?;
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

    async fn active_kid(&self, alg: SigningAlg) -> Result<Option<String>, Error> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT kid FROM oidc_signing_keys WHERE alg = $1 AND retired_at IS NULL \
             ORDER BY created_at DESC, kid DESC LIMIT 1",
        )
        .bind(alg.as_str())
        .fetch_optional(self.core.db().pool())
        .await?;
        Ok(row.map(|(k,)| k))
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
                let kid = self.active_kid(alg).await?.ok_or_else(|| {
                    Error::Internal(format!("no active {} signing key", alg.as_str()))
                })?;
                if let Ok(mut m) = self.active.lock() {
                    m.insert(alg.as_str(), (kid.clone(), Instant::now()));
                }
                kid
            }
        };
        self.by_kid(&kid)
            .await?
            .ok_or_else(|| Error::Internal(format!("signing key {kid} vanished")))
    }

    /// A key that is still published (not expired), for verifying our own tokens.
    pub async fn by_kid(&self, kid: &str) -> Result<Option<Arc<LoadedKey>>, Error> {
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

    /// The JWKS document: every key not yet expired, newest first.
    pub async fn jwks(&self) -> Result<serde_json::Value, Error> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT public_jwk FROM oidc_signing_keys WHERE expires_at IS NULL OR expires_at > $1 \
             ORDER BY created_at DESC, kid DESC",
        )
        .bind(self.core.now())
        .fetch_all(self.core.db().pool())
        .await?;
        let keys = rows
            .iter()
            .map(|(j,)| serde_json::from_str::<serde_json::Value>(j))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Internal(format!("stored public key unreadable: {e}")))?;
        Ok(serde_json::json!({ "keys": keys }))
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
