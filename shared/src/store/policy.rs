//! The tables of the 2FA policy's counters: the send time, failure count and lock of `users`,
//! the rate limit's `code_checks`, and the sent codes of `verification_codes` (keyed hashes).

use crate::db::{Batch, Tx};
use crate::error::Result;
use crate::providers::ProviderType;

/// When the last code was sent to the user, if ever.
pub(crate) async fn last_code_sent_at(tx: &mut Tx, user_id: &str) -> Result<Option<i64>> {
    let (last,): (Option<i64>,) =
        sqlx::query_as("SELECT last_code_sent_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(last)
}

/// Records a send to the user at `now`.
pub(crate) async fn set_code_sent_at(tx: &mut Tx, user_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE users SET last_code_sent_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Puts the send time back to `previous`, only if it is still `reserved_at` (no send since).
pub(crate) async fn restore_code_sent_at(
    tx: &mut Tx,
    user_id: &str,
    reserved_at: i64,
    previous: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE users SET last_code_sent_at = $1 WHERE id = $2 AND last_code_sent_at = $3")
        .bind(previous)
        .bind(user_id)
        .bind(reserved_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Drops the code of this slot stored at `created_at` (one that was never delivered).
pub(crate) async fn delete_code_created_at(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
    purpose: &str,
    created_at: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3 \
         AND created_at = $4",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose)
    .bind(created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The user's counted checks after `window_start` and the oldest of them (a check reads them
/// with its other reads instead, by [`window_checks_of`]).
pub(crate) async fn checks_in_window(
    tx: &mut Tx,
    user_id: &str,
    window_start: i64,
) -> Result<(i64, Option<i64>)> {
    Ok(
        sqlx::query_as(&format!("SELECT {}", window_checks_of("$1", "$2")))
            .bind(user_id)
            .bind(window_start)
            .fetch_one(&mut **tx)
            .await?,
    )
}

/// The columns, for a statement over the user whose id is `user_id` (a column), that count
/// the user's checks after the window start `start` (a placeholder) and give the oldest of
/// them.
pub(crate) fn window_checks_of(user_id: &str, start: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM code_checks k WHERE k.user_id = {user_id} AND k.at > {start}) \
         AS window_checks, \
         (SELECT MIN(k.at) FROM code_checks k WHERE k.user_id = {user_id} AND k.at > {start}) \
         AS window_oldest"
    )
}

/// Adds to `batch` the rate limit's writes: the user's checks at or before `window_start`
/// forgotten, and (`count`) one more at `now`.
pub(crate) fn push_count_check<'q>(
    batch: &mut Batch<'q>,
    user_id: &'q str,
    window_start: i64,
    count: bool,
    now: i64,
) {
    batch.push(
        "DELETE FROM code_checks WHERE user_id = $1 AND at <= $2",
        |b| {
            b.bind(user_id).bind(window_start);
        },
    );
    if count {
        batch.push(
            "INSERT INTO code_checks (user_id, at) VALUES ($1, $2)",
            |b| {
                b.bind(user_id).bind(now);
            },
        );
    }
}

/// Adds one to the user's failed checks and returns the new count.
pub(crate) async fn add_failure(tx: &mut Tx, user_id: &str) -> Result<i64> {
    let (failures,): (i64,) = sqlx::query_as(
        "UPDATE users SET twofa_failures = twofa_failures + 1 WHERE id = $1 RETURNING twofa_failures",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(failures)
}

/// Locks the user as of `now`.
pub(crate) async fn lock(tx: &mut Tx, user_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE users SET locked = 1, locked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Sets the user's failed checks back to zero.
pub(crate) async fn clear_failures(tx: &mut Tx, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET twofa_failures = 0 WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces the slot's code with `hash`, valid until `expires_at`.
pub(crate) async fn put_code(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
    purpose: &str,
    hash: &str,
    expires_at: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO verification_codes (user_id, provider, purpose, code_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose)
    .bind(hash)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The slot's stored code hash and when it expires.
pub(crate) async fn code(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
    purpose: &str,
) -> Result<Option<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT code_hash, expires_at FROM verification_codes \
         WHERE user_id = $1 AND provider = $2 AND purpose = $3",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Deletes the slot's code if it is still `hash`; whether this call deleted it (single use
/// when two checks race).
pub(crate) async fn take_code(
    tx: &mut Tx,
    user_id: &str,
    provider: ProviderType,
    purpose: &str,
    hash: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3 \
         AND code_hash = $4",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose)
    .bind(hash)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
