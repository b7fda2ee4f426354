//! Pending authorization requests: a validated `/authorize` request waiting for the user to
//! sign in. Kept in the database (not in a cookie or one process's memory) so the login can
//! finish on any instance; used once.

use serde::{Deserialize, Serialize};
use stepgate_core::db::Db;
use stepgate_core::Error;

/// An authorization request that passed validation (see `oidc::authorize`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Granted scopes (the known ones among those asked for), `openid` first.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// `prompt=login`: a new login even with a live session.
    pub prompt_login: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The client or `acr_values` demand a second factor.
    pub require_2fa: bool,
}

impl AuthRequest {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

/// Stores a request; returns its id (256 random bits).
pub async fn save(db: &Db, req: &AuthRequest, now: i64, lifetime: i64) -> Result<String, Error> {
    let id = crate::crypto::random_token();
    let json = serde_json::to_string(req).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO oidc_auth_requests (id, client_id, params, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&req.client_id)
    .bind(json)
    .bind(now)
    .bind(now + lifetime)
    .execute(db.pool())
    .await?;
    Ok(id)
}

pub async fn load(db: &Db, id: &str, now: i64) -> Result<Option<AuthRequest>, Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT params FROM oidc_auth_requests WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    row.map(|(json,)| {
        serde_json::from_str(&json)
            .map_err(|e| Error::Internal(format!("stored authorization request unreadable: {e}")))
    })
    .transpose()
}

/// Takes a request for completion: deletes it and says whether this caller was the one that
/// did, so a request is answered with a code at most once.
pub async fn take(db: &Db, id: &str) -> Result<bool, Error> {
    let done = sqlx::query("DELETE FROM oidc_auth_requests WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}
