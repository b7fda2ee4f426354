//! Grants and what is issued under them.
//!
//! A grant is one authorization: a login's consent for one client (authorization code), or a
//! client acting for itself (client credentials). Its code, its refresh tokens (one family,
//! rotated on every use) and its access tokens all point at it, so revoking the grant revokes
//! everything at once — which is what a reused code or a reused refresh token does.
//!
//! Single use is enforced by the database: `UPDATE … SET used_at = now WHERE used_at IS NULL`
//! succeeds for exactly one of two concurrent requests, on SQLite and PostgreSQL alike.

use super::{from_json_list, to_json_list};
use crate::crypto;
use sqlx::any::AnyRow;
use sqlx::Row;
use stepgate_core::db::Db;
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
    sqlx::query(
        "INSERT INTO oidc_grants (id, client_id, user_id, sid, scope, auth_time, amr, acr, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&g.id)
    .bind(&g.client_id)
    .bind(g.user_id.as_deref())
    .bind(g.sid.as_deref())
    .bind(g.scopes.join(" "))
    .bind(g.auth_time)
    .bind(to_json_list(&g.amr))
    .bind(g.acr.as_deref())
    .bind(g.created_at)
    .bind(g.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
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

pub async fn insert_code(db: &Db, code: &str, c: &Code, now: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, grant_id, redirect_uri, nonce, code_challenge, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crypto::hash_token(code))
    .bind(&c.grant_id)
    .bind(&c.redirect_uri)
    .bind(c.nonce.as_deref())
    .bind(c.code_challenge.as_deref())
    .bind(now)
    .bind(c.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What presenting a code (or a refresh token) found.
#[derive(Clone, Debug)]
pub enum Use<T> {
    /// First use: it is now spent.
    First(T),
    /// It was spent before: the caller revokes its grant.
    Again {
        grant_id: String,
    },
    Unknown,
}

/// Spends a code. Expiry and the other checks are the caller's (it needs the row for them).
pub async fn use_code(db: &Db, code: &str, now: i64) -> Result<Use<Code>, Error> {
    let hash = crypto::hash_token(code);
    let row = sqlx::query(
        "SELECT grant_id, redirect_uri, nonce, code_challenge, expires_at FROM oidc_codes \
         WHERE code_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else {
        return Ok(Use::Unknown);
    };
    let code = Code {
        grant_id: r.try_get("grant_id")?,
        redirect_uri: r.try_get("redirect_uri")?,
        nonce: r.try_get("nonce")?,
        code_challenge: r.try_get("code_challenge")?,
        expires_at: r.try_get("expires_at")?,
    };
    let spent =
        sqlx::query("UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now)
            .bind(&hash)
            .execute(db.pool())
            .await?;
    Ok(if spent.rows_affected() == 1 {
        Use::First(code)
    } else {
        Use::Again {
            grant_id: code.grant_id,
        }
    })
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

/// Spends a refresh token (rotation).
pub async fn use_refresh(db: &Db, token: &str, now: i64) -> Result<Use<RefreshToken>, Error> {
    let Some(found) = find_refresh(db, token).await? else {
        return Ok(Use::Unknown);
    };
    let spent = sqlx::query(
        "UPDATE oidc_refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(crypto::hash_token(token))
    .execute(db.pool())
    .await?;
    Ok(if spent.rows_affected() == 1 {
        Use::First(found)
    } else {
        Use::Again {
            grant_id: found.grant_id,
        }
    })
}

pub async fn insert_access(
    db: &Db,
    jti: &str,
    grant_id: &str,
    expires_at: i64,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO oidc_access_tokens (jti, grant_id, expires_at) VALUES ($1, $2, $3)")
        .bind(jti)
        .bind(grant_id)
        .bind(expires_at)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The grant of a live access token: known, not revoked itself, grant not revoked.
pub async fn live_access_grant(db: &Db, jti: &str, now: i64) -> Result<Option<Grant>, Error> {
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT grant_id, expires_at, revoked_at FROM oidc_access_tokens WHERE jti = $1",
    )
    .bind(jti)
    .fetch_optional(db.pool())
    .await?;
    let Some((grant_id, expires_at, revoked_at)) = row else {
        return Ok(None);
    };
    if revoked_at.is_some() || now >= expires_at {
        return Ok(None);
    }
    Ok(get(db, &grant_id).await?.filter(|g| g.revoked_at.is_none()))
}

pub async fn revoke_access(db: &Db, jti: &str, now: i64) -> Result<(), Error> {
    sqlx::query(
        "UPDATE oidc_access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(jti)
    .execute(db.pool())
    .await?;
    Ok(())
}
