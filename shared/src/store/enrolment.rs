//! The tables of enrolment: `pending_enrolments` (a sealed secret or destination waiting for
//! its first code), `backup_codes` (hashes), and the `user_providers` reads enrolment needs.

use crate::db::Tx;
use crate::error::Result;
use crate::providers::ProviderType;

/// Replaces the user's pending enrolment of `provider` with `sealed`, valid until `expires_at`.
pub(crate) async fn put_pending(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
    sealed: &str,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    delete_pending(tx, user_id, provider).await?;
    sqlx::query(
        "INSERT INTO pending_enrolments (user_id, provider, config_enc, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(sealed)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The pending enrolment of `provider`: its sealed configuration and when it expires.
pub(crate) async fn pending(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
) -> Result<Option<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT config_enc, expires_at FROM pending_enrolments WHERE user_id = $1 AND provider = $2",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Forgets the pending enrolment of `provider`, if any.
pub(crate) async fn delete_pending(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
) -> Result<()> {
    sqlx::query("DELETE FROM pending_enrolments WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Forgets every pending enrolment and every sent code of the user (an admin's reset).
pub(crate) async fn delete_pending_and_sent_codes(tx: &mut Tx, user_id: &str) -> Result<()> {
    for table in ["pending_enrolments", "verification_codes"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Replaces the user's backup codes with `hashes`.
pub(crate) async fn replace_backup_codes(
    tx: &mut Tx,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO backup_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// How many of the user's backup codes are still unused.
pub(crate) async fn unused_backup_codes(pool: &sqlx::AnyPool, user_id: &str) -> Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(pool)
            .await?;
    Ok(n)
}

/// The sealed configuration of the user's `provider`, if enrolled.
pub(crate) async fn sealed_config(
    pool: &sqlx::AnyPool,
    user_id: &str,
    provider: ProviderType,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT config_enc FROM user_providers WHERE user_id = $1 AND provider = $2",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(blob,)| blob))
}

/// The providers the user has enrolled (names this program does not know are left out).
pub(crate) async fn enrolled(tx: &mut Tx, user_id: &str) -> Result<Vec<ProviderType>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT provider FROM user_providers WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.iter().filter_map(|(p,)| p.parse().ok()).collect())
}

/// Makes `provider` the user's one default; `false` (and nothing changed) if it is not
/// enrolled.
pub(crate) async fn make_default(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE user_providers SET is_default = CASE WHEN provider = $2 THEN 1 ELSE 0 END \
         WHERE user_id = $1 AND EXISTS (SELECT 1 FROM user_providers \
         WHERE user_id = $1 AND provider = $2)",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(updated.rows_affected() > 0)
}
