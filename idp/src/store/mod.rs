//! The provider's own state, all of it in the core's database (tables from
//! `0002_oidc.sql`), so that any number of `stepgate serve` processes on one PostgreSQL serve
//! one login: a request started on one instance can finish on another.
//!
//! Queries go through the core's [`stepgate_core::db::Db`] pool (sqlx `Any`, `$N`
//! placeholders, TEXT/BIGINT only). Bearer secrets are stored as hashes
//! ([`crate::crypto::hash_token`]); the private signing keys are encrypted with the core's
//! secrets key. Second-factor state is never touched here: it belongs to the core.

pub mod clients;
pub mod grants;
pub mod keys;
pub mod requests;
pub mod sessions;

use stepgate_core::Error;

/// Lists are kept as JSON arrays in TEXT columns.
pub(crate) fn to_json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn from_json_list(text: &str) -> Result<Vec<String>, Error> {
    serde_json::from_str(text).map_err(|e| Error::Internal(format!("stored list unreadable: {e}")))
}

/// Deletes what has expired. Every instance may run it; the deletes are idempotent.
pub async fn purge_expired(db: &stepgate_core::db::Db, now: i64) -> Result<(), Error> {
    let pool = db.pool();
    requests::purge_expired(db, now).await?;
    sqlx::query("DELETE FROM oidc_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    // Codes and refresh tokens go with their grant (ON DELETE CASCADE). A grant is
    // kept a day past its end so a late reuse of its tokens is still recognised as reuse.
    sqlx::query("DELETE FROM oidc_grants WHERE expires_at < $1")
        .bind(now - 86_400)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM oidc_revoked_access_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM oidc_signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
