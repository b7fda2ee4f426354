//! The table of a user's enrolled second factors, `user_providers` (one row per provider,
//! its configuration sealed), and `backup_codes` as a factor's check and removal use it.

use crate::db::{Batch, Tx};
use crate::error::Result;
use crate::providers::ProviderType;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A factor's row as stored: its configuration still sealed.
pub(crate) struct FactorRow {
    pub provider: ProviderType,
    pub is_default: bool,
    pub config_enc: String,
    pub last_used_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A factor's columns in table alias `p`, as [`factors_of_rows`] reads them beside other rows.
pub(crate) fn factor_columns_of(p: &str) -> String {
    format!(
        "{p}.provider AS factor_provider, {p}.is_default AS factor_is_default, \
         {p}.config_enc AS factor_config_enc, {p}.last_used_step AS factor_last_used_step, \
         {p}.created_at AS factor_created_at, {p}.updated_at AS factor_updated_at"
    )
}

/// Reads the factors in `rows` by [`factor_columns_of`] (NULL ones and unknown names left out).
pub(crate) fn factors_of_rows(rows: &[AnyRow]) -> Result<Vec<FactorRow>> {
    let mut out = Vec::new();
    for r in rows {
        let Some(name) = r.try_get::<Option<String>, _>("factor_provider")? else {
            continue;
        };
        let Ok(provider) = name.parse::<ProviderType>() else {
            continue;
        };
        out.push(FactorRow {
            provider,
            config_enc: r.try_get("factor_config_enc")?,
            is_default: r.try_get::<i64, _>("factor_is_default")? != 0,
            created_at: r.try_get("factor_created_at")?,
            updated_at: r.try_get("factor_updated_at")?,
            last_used_step: r.try_get("factor_last_used_step")?,
        });
    }
    Ok(out)
}

/// Reads every factor row of the user (in no particular order).
pub(crate) async fn factors(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
) -> Result<Vec<FactorRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM user_providers p WHERE p.user_id = $1",
        factor_columns_of("p")
    ))
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    factors_of_rows(&rows)
}

/// Counts the user's factors other than `provider`.
pub(crate) async fn count_others(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
) -> Result<i64> {
    let (others,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM user_providers WHERE user_id = $1 AND provider <> $2")
            .bind(user_id)
            .bind(provider.as_str())
            .fetch_one(&mut **tx)
            .await?;
    Ok(others)
}

/// Reads whether the user's `provider` is the default (0 or 1) and when it was enrolled, if it is.
pub(crate) async fn default_and_created(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT is_default, created_at FROM user_providers WHERE user_id = $1 AND provider = $2",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}

/// Deletes the user's row of `provider`, if any.
pub(crate) async fn delete(tx: &mut Tx, user_id: &str, provider: ProviderType) -> Result<()> {
    sqlx::query("DELETE FROM user_providers WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A factor's new row.
pub(crate) struct NewFactor<'a> {
    pub user_id: &'a str,
    pub provider: ProviderType,
    pub is_default: i64,
    pub config_enc: &'a str,
    pub last_used_step: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts a factor's row (there must be none of its provider).
pub(crate) async fn insert(tx: &mut Tx, f: &NewFactor<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_providers (user_id, provider, is_default, config_enc, last_used_step, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(f.user_id)
    .bind(f.provider.as_str())
    .bind(f.is_default)
    .bind(f.config_enc)
    .bind(f.last_used_step)
    .bind(f.created_at)
    .bind(f.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes every backup code of the user.
pub(crate) async fn delete_backup_codes(tx: &mut Tx, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads each of the user's providers by stored name, with its `is_default` (0 or 1).
pub(crate) async fn defaults(tx: &mut Tx, user_id: &str) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT provider, is_default FROM user_providers WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// Marks the user's `provider` the default (leaving the others as they are).
pub(crate) async fn set_default(tx: &mut Tx, user_id: &str, provider: ProviderType) -> Result<()> {
    sqlx::query("UPDATE user_providers SET is_default = 1 WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds to `batch` the use of TOTP step `step` by the user, decided from the step read under
/// the user's lock; conditional on that step still being newer than the last used one (a
/// concurrent check of the same code, in another process, would have changed it), and
/// expected to change its one row, or the batch fails.
pub(crate) fn push_use_totp_step<'q>(batch: &mut Batch<'q>, user_id: &'q str, step: i64) {
    batch.push_expecting(
        "UPDATE user_providers SET last_used_step = $1 WHERE user_id = $2 AND provider = 'TOTP' \
         AND (last_used_step IS NULL OR last_used_step < $1)",
        1,
        |b| {
            b.bind(step).bind(user_id);
        },
    );
}

/// Marks the user's unused backup code with hash `hash` used at `now`; `false` if there is none.
pub(crate) async fn use_backup_code(
    tx: &mut Tx,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<bool> {
    let used = sqlx::query(
        "UPDATE backup_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 \
         AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(hash)
    .execute(&mut **tx)
    .await?;
    Ok(used.rows_affected() == 1)
}
