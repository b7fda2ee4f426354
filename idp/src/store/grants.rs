//! Grants and what is issued under them.
//!
//! A grant is one authorization: a login's consent for one client (authorization code), or a
//! client acting for itself (client credentials). Its code, its refresh tokens (one family,
//! rotated on every use) and its access tokens all point at it, so revoking the grant revokes
//! everything at once — which is what a reused code or a reused refresh token does.
//!
//! Single use is enforced by the database: `UPDATE … SET used_at = now WHERE used_at IS NULL`
//! succeeds for exactly one of two concurrent requests, on SQLite and PostgreSQL alike. The same
//! statement also requires the grant to be the presenting client's, so another client's code is
//! refused before anything is spent.

use super::{from_json_list, to_json_list};
use crate::crypto;
use sqlx::any::AnyRow;
use sqlx::Row;
use stepgate_core::db::{Batch, Db};
use stepgate_core::Error;

#[derive(Clone, Debug)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    /// `None` for client credentials.
    pub user_id: Option<String>,
    /// The browser session the login created.
    pub sid: Option<String>,
    pub scopes: Vec<String>,
    pub auth_time: Option<i64>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Grant {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }

    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

const GRANT_COLUMNS: &str = "id, client_id, user_id, sid, scope, auth_time, amr, acr, created_at, \
                             expires_at, revoked_at";

fn grant_from_row(r: &AnyRow) -> Result<Grant, Error> {
    let scope: String = r.try_get("scope")?;
    Ok(Grant {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        user_id: r.try_get("user_id")?,
        sid: r.try_get("sid")?,
        scopes: scope.split_whitespace().map(str::to_string).collect(),
        auth_time: r.try_get("auth_time")?,
        amr: from_json_list(&r.try_get::<String, _>("amr")?)?,
        acr: r.try_get("acr")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn create(db: &Db, g: &Grant) -> Result<(), Error> {
    let mut batch = Batch::new(db.backend());
    push_grant(&mut batch, g);
    db.write(batch).await
}

/// Adds the writing of `g` to `batch`.
pub fn push_grant(batch: &mut Batch<'_>, g: &Grant) {
    batch.push(
        "INSERT INTO oidc_grants (id, client_id, user_id, sid, scope, auth_time, amr, acr, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        |b| {
            b.bind(g.id.clone())
                .bind(g.client_id.clone())
                .bind(g.user_id.clone())
                .bind(g.sid.clone())
                .bind(g.scopes.join(" "))
                .bind(g.auth_time)
                .bind(to_json_list(&g.amr))
                .bind(g.acr.clone())
                .bind(g.created_at)
                .bind(g.expires_at);
        },
    );
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Grant>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} FROM oidc_grants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(grant_from_row).transpose()
}

/// Revokes a grant and with it every refresh and access token issued under it.
pub async fn revoke(db: &Db, id: &str, now: i64) -> Result<(), Error> {
    sqlx::query("UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// An authorization code as stored.
#[derive(Clone, Debug)]
pub struct Code {
    pub grant_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub expires_at: i64,
}

/// Adds the writing of `code` (stored as its hash) to `batch`, after its grant's.
pub fn push_code(batch: &mut Batch<'_>, code: &str, c: &Code, now: i64) {
    batch.push(
        "INSERT INTO oidc_codes (code_hash, grant_id, redirect_uri, nonce, code_challenge, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        |b| {
            b.bind(crypto::hash_token(code))
                .bind(c.grant_id.clone())
                .bind(c.redirect_uri.clone())
                .bind(c.nonce.clone())
                .bind(c.code_challenge.clone())
                .bind(now)
                .bind(c.expires_at);
        },
    );
}

/// What presenting a code (or a refresh token) found.
#[derive(Clone, Debug)]
pub enum Use<T> {
    /// First use: it is now spent.
    First(T),
    /// It was spent before by the client presenting it: the caller revokes its grant.
    Again {
        grant_id: String,
    },
    /// It was issued to another client. Nothing was spent: whoever presents someone else's
    /// code must not be able to burn it or revoke that client's tokens.
    OtherClient,
    Unknown,
}

/// Why nothing was spent: the row (if any) and its grant's client decide between a reuse by
/// its own client and someone else's code.
fn not_spent<T>(found: Option<(String, String)>, client_id: &str) -> Use<T> {
    match found {
        None => Use::Unknown,
        Some((_, owner)) if owner != client_id => Use::OtherClient,
        Some((grant_id, _)) => Use::Again { grant_id },
    }
}

/// The first use of a code `$2` by the client `$3` at `$1`. The grant's owner is checked by
/// its primary key (`EXISTS … WHERE g.id = grant_id`): written `grant_id IN (SELECT id FROM
/// oidc_grants WHERE client_id = $3)`, SQLite listed every grant of the client on each use,
/// holding the write lock while it did (refresh fell to ~130/s once a client had thousands
/// of grants; docs/benchmarks.md).
const SPEND_CODE: &str = "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 \
     AND used_at IS NULL AND EXISTS (SELECT 1 FROM oidc_grants g \
     WHERE g.id = oidc_codes.grant_id AND g.client_id = $3) \
     RETURNING grant_id, redirect_uri, nonce, code_challenge, expires_at";

/// The first use of a refresh token `$2` by the client `$3` at `$1` (see [`SPEND_CODE`]).
const SPEND_REFRESH: &str = "UPDATE oidc_refresh_tokens SET used_at = $1 WHERE token_hash = $2 \
     AND used_at IS NULL AND EXISTS (SELECT 1 FROM oidc_grants g \
     WHERE g.id = oidc_refresh_tokens.grant_id AND g.client_id = $3) \
     RETURNING grant_id, created_at, expires_at";

/// Spends a code presented by `client_id`, only if its grant is that client's. Expiry and the
/// other checks are the caller's (it needs the row for them). The first use is one statement
/// (`UPDATE … RETURNING`); only a failed one looks further.
pub async fn use_code(db: &Db, code: &str, client_id: &str, now: i64) -> Result<Use<Code>, Error> {
    let hash = crypto::hash_token(code);
    let spent = sqlx::query(SPEND_CODE)
        .bind(now)
        .bind(&hash)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    if let Some(r) = spent {
        return Ok(Use::First(Code {
            grant_id: r.try_get("grant_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            nonce: r.try_get("nonce")?,
            code_challenge: r.try_get("code_challenge")?,
            expires_at: r.try_get("expires_at")?,
        }));
    }
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT c.grant_id, g.client_id FROM oidc_codes c \
         JOIN oidc_grants g ON g.id = c.grant_id WHERE c.code_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(not_spent(found, client_id))
}

pub async fn insert_refresh(
    db: &Db,
    token: &str,
    grant_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(crypto::hash_token(token))
    .bind(grant_id)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A refresh token as found, without spending it (introspection, revocation).
#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

pub async fn find_refresh(db: &Db, token: &str) -> Result<Option<RefreshToken>, Error> {
    let row = sqlx::query(
        "SELECT grant_id, created_at, expires_at, used_at FROM oidc_refresh_tokens \
         WHERE token_hash = $1",
    )
    .bind(crypto::hash_token(token))
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(RefreshToken {
            grant_id: r.try_get("grant_id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used: r.try_get::<Option<i64>, _>("used_at")?.is_some(),
        })
    })
    .transpose()
}

/// Spends a refresh token presented by `client_id` (rotation), only if its grant is that
/// client's; one statement when it is the first use.
pub async fn use_refresh(
    db: &Db,
    token: &str,
    client_id: &str,
    now: i64,
) -> Result<Use<RefreshToken>, Error> {
    let hash = crypto::hash_token(token);
    let spent = sqlx::query(SPEND_REFRESH)
        .bind(now)
        .bind(&hash)
        .bind(client_id)
        .fetch_optional(db.pool())
        .await?;
    if let Some(r) = spent {
        return Ok(Use::First(RefreshToken {
            grant_id: r.try_get("grant_id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used: false,
        }));
    }
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT r.grant_id, g.client_id FROM oidc_refresh_tokens r \
         JOIN oidc_grants g ON g.id = r.grant_id WHERE r.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(not_spent(found, client_id))
}

/// The grant of a live access token: the grant named in the token (`gid`), not revoked, and
/// the token itself not revoked on its own. One query: issuing a token writes nothing, only
/// revoking one does.
pub async fn live_access_grant(db: &Db, grant_id: &str, jti: &str) -> Result<Option<Grant>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS}, (SELECT COUNT(*) FROM oidc_revoked_access_tokens \
         WHERE jti = $2) AS token_revoked FROM oidc_grants WHERE id = $1"
    ))
    .bind(grant_id)
    .bind(jti)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let token_revoked: i64 = row.try_get("token_revoked")?;
    let grant = grant_from_row(&row)?;
    Ok((token_revoked == 0 && grant.revoked_at.is_none()).then_some(grant))
}

/// Whether a client's own (client_credentials) access token is live: its client still
/// exists (removing a client ends its tokens) and the token was not revoked. One query.
pub async fn client_token_live(db: &Db, client_id: &str, jti: &str) -> Result<bool, Error> {
    let (clients, revoked): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM oidc_clients WHERE client_id = $1), \
         (SELECT COUNT(*) FROM oidc_revoked_access_tokens WHERE jti = $2)",
    )
    .bind(client_id)
    .bind(jti)
    .fetch_one(db.pool())
    .await?;
    Ok(clients == 1 && revoked == 0)
}

/// Revokes one access token (RFC 7009): its `jti` is recorded until the token expires.
pub async fn revoke_access(db: &Db, jti: &str, expires_at: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO oidc_revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spending a code or a refresh token looks up one grant, whatever the number of grants
    /// the client has: no statement of the token endpoint's write path scans `oidc_grants`.
    #[tokio::test]
    async fn spending_a_token_finds_its_grant_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2, std::time::Duration::from_secs(5))
            .await
            .unwrap();
        for sql in [SPEND_CODE, SPEND_REFRESH] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind(0_i64)
                    .bind("hash")
                    .bind("client")
                    .fetch_all(db.pool())
                    .await
                    .unwrap();
            let steps: Vec<&str> = plan.iter().map(|(_, _, _, s)| s.as_str()).collect();
            assert!(
                steps.iter().all(|s| !s.starts_with("SCAN")),
                "{sql}: {steps:?}"
            );
            assert!(
                steps.iter().any(|s| s.contains("SEARCH g USING")),
                "{steps:?}"
            );
        }
    }
}
