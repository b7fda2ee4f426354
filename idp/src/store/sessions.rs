//! Browser sessions (single sign-on). A session exists only after a completed login: after the
//! core verified the second factor, or after the password when the user has no second factor
//! and nothing requires one. The cookie carries a 256-bit token; the table keeps its hash, and
//! a separate public `sid` goes into ID tokens.

use super::{from_json_list, to_json_list};
use crate::crypto;
use sqlx::Row;
use stepgate_core::db::{Batch, Db};
use stepgate_core::{Error, ProviderType};

#[derive(Clone, Debug)]
pub struct Session {
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: String,
    pub expires_at: i64,
    /// The provider of the sign-in's second factor (none for a password-only sign-in, and for
    /// sessions older than the column): what an approval made from this session counts as.
    pub second_factor: Option<ProviderType>,
}

/// A new session, not yet written: the cookie value (shown to the browser only) and the
/// session; [`push_insert`] writes it with the rest of the finished login.
pub fn new_session(
    user_id: &str,
    amr: &[String],
    acr: &str,
    second_factor: Option<ProviderType>,
    now: i64,
    lifetime: i64,
) -> (String, Session) {
    let token = crypto::random_token();
    let session = Session {
        sid: crypto::random_id(),
        user_id: user_id.to_string(),
        auth_time: now,
        amr: amr.to_vec(),
        acr: acr.to_string(),
        expires_at: now + lifetime,
        second_factor,
    };
    (token, session)
}

/// Adds the writing of `session`, whose cookie carries `token`, to `batch`.
pub fn push_insert(batch: &mut Batch<'_>, token: &str, session: &Session) {
    batch.push(
        "INSERT INTO oidc_sessions (token_hash, sid, user_id, auth_time, amr, acr, created_at, \
         expires_at, second_factor) VALUES ($1, $2, $3, $4, $5, $6, $4, $7, $8)",
        |b| {
            b.bind(crypto::hash_token(token))
                .bind(session.sid.clone())
                .bind(session.user_id.clone())
                .bind(session.auth_time)
                .bind(to_json_list(&session.amr))
                .bind(session.acr.clone())
                .bind(session.expires_at)
                .bind(session.second_factor.map(|p| p.as_str()));
        },
    );
}

/// The live session a cookie names, if any.
pub async fn find(db: &Db, token: &str, now: i64) -> Result<Option<Session>, Error> {
    let row = sqlx::query(
        "SELECT sid, user_id, auth_time, amr, acr, expires_at, second_factor FROM oidc_sessions \
         WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(crypto::hash_token(token))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        sid: r.try_get("sid")?,
        user_id: r.try_get("user_id")?,
        auth_time: r.try_get("auth_time")?,
        amr: from_json_list(&r.try_get::<String, _>("amr")?)?,
        acr: r.try_get("acr")?,
        expires_at: r.try_get("expires_at")?,
        second_factor: r
            .try_get::<Option<String>, _>("second_factor")?
            .and_then(|p| p.parse::<ProviderType>().ok()),
    }))
}

/// Adds the removal of the session whose cookie carries `token` to `batch` (a new login
/// replaces the browser's old session).
pub fn push_delete(batch: &mut Batch<'_>, token: &str) {
    batch.push("DELETE FROM oidc_sessions WHERE token_hash = $1", |b| {
        b.bind(crypto::hash_token(token));
    });
}

/// Ends the session a cookie names (logout). Unknown tokens are ignored.
pub async fn delete(db: &Db, token: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM oidc_sessions WHERE token_hash = $1")
        .bind(crypto::hash_token(token))
        .execute(db.pool())
        .await?;
    Ok(())
}
