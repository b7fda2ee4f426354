//! The `users` table (and the `code_checks` rows an unlock clears): the columns a [`User`] is
//! read from, its reads and the writes of a password, a switch-off, a role and an unlock.

use crate::db::{Batch, Tx};
use crate::error::Result;
use crate::users::{NewUser, Role, User};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The columns a [`User`] is read from (by [`user_from_row`]).
pub(crate) const USER_COLUMNS: &str =
    "id, username, email, phone, display_name, role, disabled, locked, \
                            locked_at, twofa_failures, created_at, updated_at";

/// [`USER_COLUMNS`] of the users table under alias `alias`, for a join that reads a user with
/// another row in one round trip (the names stay unprefixed, so [`user_from_row`] reads them).
pub(crate) fn user_columns_of(alias: &str) -> String {
    USER_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user in a row that holds [`USER_COLUMNS`].
pub(crate) fn user_from_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&r.try_get::<String, _>("role")?),
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        locked: r.try_get::<i64, _>("locked")? != 0,
        locked_at: r.try_get("locked_at")?,
        twofa_failures: r.try_get("twofa_failures")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Reads the id of the user named `username`, if any.
pub(crate) async fn id_by_username(tx: &mut Tx, username: &str) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Inserts the user `new` under `id` with the password hash `hash` (none: cannot sign in).
pub(crate) async fn insert(
    tx: &mut Tx,
    id: &str,
    new: &NewUser,
    hash: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, username, email, phone, display_name, role, password_hash, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(&new.username)
    .bind(&new.email)
    .bind(new.phone.as_deref())
    .bind(new.display_name.as_deref().unwrap_or(""))
    .bind(new.role.as_str())
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reads the user with this id, if any.
pub(crate) async fn by_id(pool: &sqlx::AnyPool, id: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Reads the user with this login name, if any.
pub(crate) async fn by_username(pool: &sqlx::AnyPool, username: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Reads the user with this id inside the transaction, if any.
pub(crate) async fn by_id_in(tx: &mut Tx, id: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Reads up to `limit` users from `offset` whose username, email or name contains `query`.
pub(crate) async fn search(
    pool: &sqlx::AnyPool,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<User>> {
    let pattern = format!("%{}%", like_literal(&query.to_lowercase()));
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE LOWER(username) LIKE $1 ESCAPE '\\' \
         OR LOWER(email) LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\' \
         ORDER BY username LIMIT $2 OFFSET $3"
    ))
    .bind(pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.iter().map(user_from_row).collect()
}

/// `text` as a LIKE pattern (escape character `\`) that matches itself only: an `_` in a search for
/// "a_b" is an underscore, not any character, and `%` is a percent sign.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether the users table has a row (reads one row, not the whole index).
pub(crate) async fn any(pool: &sqlx::AnyPool) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM users LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

/// Counts every user (a full count).
pub(crate) async fn count(pool: &sqlx::AnyPool) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// The user's count of failed second-factor checks, if the user exists.
pub(crate) async fn twofa_failures(pool: &sqlx::AnyPool, id: &str) -> Result<Option<i64>> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT twofa_failures FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(n,)| n))
}

/// Reads the id and password hash (none if unset) of the user named `username`, if any.
pub(crate) async fn password_hash(
    pool: &sqlx::AnyPool,
    username: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?,
    )
}

/// Adds one to the user's count of wrong passwords (or, `correct`, clears it): a first
/// factor's write, batched with its event.
pub(crate) fn push_password_outcome<'q>(batch: &mut Batch<'q>, id: &'q str, correct: bool) {
    let sql = if correct {
        "UPDATE users SET password_failures = 0 WHERE id = $1"
    } else {
        "UPDATE users SET password_failures = password_failures + 1 WHERE id = $1"
    };
    batch.push(sql, |b| {
        b.bind(id);
    });
}

/// Replaces the user's password hash.
pub(crate) async fn set_password_hash(tx: &mut Tx, id: &str, hash: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes whether the user is switched off.
pub(crate) async fn set_disabled(tx: &mut Tx, id: &str, disabled: bool, now: i64) -> Result<()> {
    sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(disabled))
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes the user's role.
pub(crate) async fn set_role(tx: &mut Tx, id: &str, role: Role, now: i64) -> Result<()> {
    sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Clears the user's lockout and second-factor failure counter.
pub(crate) async fn clear_lockout(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE users SET locked = 0, locked_at = NULL, twofa_failures = 0, updated_at = $1 \
         WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the user's rate-limit entries (`code_checks`).
pub(crate) async fn delete_code_checks(tx: &mut Tx, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM code_checks WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
