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
    /// OpenID Connect `ui_locales`: the languages the login pages should use, in order
    /// (absent from requests stored before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
}

impl AuthRequest {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

/// At most this many live pending requests per client from one remote address. Anyone may
/// create them (no login yet), and each lives an hour; a person has a few at a time (tabs,
/// reloads) and a finished login removes its own, so what accumulates is abandoned requests.
/// The number leaves room for many people behind one NAT or proxy, while one address can no
/// longer fill the table (an unbounded client reached ~800 rows a second).
pub const PENDING_PER_ADDRESS: i64 = 300;

/// At most this many live pending requests per client from all addresses together: bounds the
/// table when the requests come from many addresses, and bounds each count (it stops there).
pub const PENDING_PER_CLIENT: i64 = 10_000;

/// Stores a request from `remote_addr`; returns its id (256 random bits), or `None` when the
/// client already has as many live pending requests as [`PENDING_PER_ADDRESS`] (from this
/// address) or [`PENDING_PER_CLIENT`] allow. Counting and storing are two statements, so
/// concurrent requests may pass the bound by a few: it protects the table, not an exact quota.
/// An unknown address counts only against the client's bound.
pub async fn save(
    db: &Db,
    req: &AuthRequest,
    remote_addr: Option<&str>,
    now: i64,
    lifetime: i64,
) -> Result<Option<String>, Error> {
    let (from_addr, all): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM oidc_auth_requests WHERE client_id = $1 \
         AND remote_addr = $2 AND expires_at > $3 LIMIT $4) a), \
         (SELECT COUNT(*) FROM (SELECT 1 FROM oidc_auth_requests WHERE client_id = $1 \
         AND expires_at > $3 LIMIT $5) c)",
    )
    .bind(&req.client_id)
    .bind(remote_addr)
    .bind(now)
    .bind(PENDING_PER_ADDRESS)
    .bind(PENDING_PER_CLIENT)
    .fetch_one(db.pool())
    .await?;
    if from_addr >= PENDING_PER_ADDRESS || all >= PENDING_PER_CLIENT {
        return Ok(None);
    }
    let id = crate::crypto::random_token();
    let json = serde_json::to_string(req).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO oidc_auth_requests (id, client_id, params, created_at, expires_at, \
         remote_addr) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&req.client_id)
    .bind(json)
    .bind(now)
    .bind(now + lifetime)
    .bind(remote_addr)
    .execute(db.pool())
    .await?;
    Ok(Some(id))
}

pub async fn load(db: &Db, id: &str, now: i64) -> Result<Option<AuthRequest>, Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT params FROM oidc_auth_requests WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    row.map(|(json,)| parse(&json)).transpose()
}

/// The stored `params` column back into a request; unreadable means a bug or tampering.
fn parse(json: &str) -> Result<AuthRequest, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("stored authorization request unreadable: {e}")))
}

/// Expired requests are deleted this many at a time.
const PURGE_BATCH: i64 = 1_000;

/// Deletes expired requests in batches: anyone can create them, so there may be many, and one
/// long DELETE would hold SQLite's write lock (every login's writes) until it ended.
pub async fn purge_expired(db: &Db, now: i64) -> Result<(), Error> {
    loop {
        let done = sqlx::query(
            "DELETE FROM oidc_auth_requests WHERE id IN (SELECT id FROM oidc_auth_requests \
             WHERE expires_at <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(PURGE_BATCH)
        .execute(db.pool())
        .await?;
        if done.rows_affected() < PURGE_BATCH as u64 {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

/// What [`take`] found.
#[derive(Debug)]
pub enum Taken {
    /// This caller removed the live request and answers it (boxed: the other answers carry
    /// nothing, and this one is passed around by value).
    Live(Box<AuthRequest>),
    /// The request had expired (it is removed now).
    Expired,
    /// No such request: already answered (the same login submitted twice) or never made.
    Gone,
}

/// Takes a request for completion: deletes it and returns it if it was still live, so a
/// request is answered with a code at most once (only the caller whose DELETE removed the row
/// gets it). One statement: the login's last step reads and removes together.
pub async fn take(db: &Db, id: &str, now: i64) -> Result<Taken, Error> {
    let row: Option<(String, i64)> =
        sqlx::query_as("DELETE FROM oidc_auth_requests WHERE id = $1 RETURNING params, expires_at")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    match row {
        None => Ok(Taken::Gone),
        Some((_, expires_at)) if expires_at <= now => Ok(Taken::Expired),
        Some((json, _)) => parse(&json).map(|r| Taken::Live(Box::new(r))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request() -> AuthRequest {
        AuthRequest {
            client_id: "web".into(),
            redirect_uri: "https://app.example.com/cb".into(),
            scopes: vec!["openid".into()],
            state: Some("s".into()),
            nonce: None,
            code_challenge: None,
            prompt_login: false,
            max_age: None,
            login_hint: None,
            require_2fa: false,
            ui_locales: None,
        }
    }

    #[tokio::test]
    async fn a_request_is_taken_once_and_an_expired_one_is_not_answered() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2, Duration::from_secs(5)).await.unwrap();
        let (now, lifetime) = (1_000, 600);
        let client = crate::store::clients::NewClient {
            client_id: "web".into(),
            name: "Web".into(),
            public: false,
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![crate::store::clients::GrantType::AuthorizationCode],
            scopes: vec![],
            api_scopes: vec![],
            allowed_groups: vec![],
            require_2fa: false,
            id_token_alg: crate::store::clients::SigningAlg::Es256,
        };
        crate::store::clients::create(&db, client, now)
            .await
            .unwrap();

        let id = save(&db, &request(), None, now, lifetime)
            .await
            .unwrap()
            .expect("under the bound");
        assert!(
            matches!(take(&db, &id, now + 10).await.unwrap(), Taken::Live(r) if *r == request())
        );
        // The same login submitted twice: only the first take answers.
        assert!(matches!(
            take(&db, &id, now + 11).await.unwrap(),
            Taken::Gone
        ));
        assert!(load(&db, &id, now + 11).await.unwrap().is_none());

        let late = save(&db, &request(), None, now, lifetime)
            .await
            .unwrap()
            .expect("under the bound");
        assert!(matches!(
            take(&db, &late, now + lifetime).await.unwrap(),
            Taken::Expired
        ));
        assert!(matches!(
            take(&db, &late, now + lifetime).await.unwrap(),
            Taken::Gone
        ));
        assert!(matches!(
            take(&db, "no-such-request", now).await.unwrap(),
            Taken::Gone
        ));
        db.close().await;
    }
}
