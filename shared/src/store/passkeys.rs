//! The tables of passkeys: `webauthn_credentials` (a user's registered passkeys, each
//! webauthn-rs's credential as JSON) and `webauthn_states` (the server half of a ceremony
//! between the browser's two requests), and the `user_providers` read a registration needs.

use crate::db::Tx;
use crate::error::Result;
use crate::passkeys::PasskeyInfo;
use sqlx::Row;

/// Reads the user's passkeys as people see them, oldest first.
pub(crate) async fn list(pool: &sqlx::AnyPool, user_id: &str) -> Result<Vec<PasskeyInfo>> {
    let rows = sqlx::query(
        "SELECT id, name, discoverable, created_at, last_used_at FROM webauthn_credentials \
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PasskeyInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                discoverable: r.try_get::<i64, _>("discoverable")? != 0,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
            })
        })
        .collect()
}

/// Reads the id and credential (JSON) of each of the user's passkeys.
pub(crate) async fn credentials(tx: &mut Tx, user_id: &str) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, credential FROM webauthn_credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// Reads the id and credential (JSON) of the user's passkey with credential id `credential_id`.
pub(crate) async fn credential_of_user(
    tx: &mut Tx,
    credential_id: &str,
    user_id: &str,
) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, credential FROM webauthn_credentials WHERE credential_id = $1 AND user_id = $2",
    )
    .bind(credential_id)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Writes passkey `id`'s credential (JSON) after a sign-in, and when it was used.
pub(crate) async fn update_credential(
    tx: &mut Tx,
    id: &str,
    credential: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE webauthn_credentials SET credential = $1, last_used_at = $2 WHERE id = $3")
        .bind(credential)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether any user's passkey has credential id `credential_id`.
pub(crate) async fn credential_id_taken(tx: &mut Tx, credential_id: &str) -> Result<bool> {
    let taken: Option<(String,)> =
        sqlx::query_as("SELECT id FROM webauthn_credentials WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(taken.is_some())
}

/// A newly registered passkey's row.
pub(crate) struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub discoverable: bool,
    pub created_at: i64,
}

/// Inserts a newly registered passkey.
pub(crate) async fn insert(tx: &mut Tx, p: &NewPasskey<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO webauthn_credentials (id, user_id, credential_id, name, credential, \
         discoverable, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(p.id)
    .bind(p.user_id)
    .bind(p.credential_id)
    .bind(p.name)
    .bind(p.credential)
    .bind(i64::from(p.discoverable))
    .bind(p.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts the user's WEBAUTHN rows in `user_providers` (0 or 1): whether the provider is on.
pub(crate) async fn webauthn_enrolments(tx: &mut Tx, user_id: &str) -> Result<i64> {
    let (had,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM user_providers WHERE user_id = $1 AND provider = 'WEBAUTHN'",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(had)
}

/// Writes the user's passkey `id`'s new name; `false` if the user has no such passkey.
pub(crate) async fn rename(tx: &mut Tx, id: &str, user_id: &str, name: &str) -> Result<bool> {
    let done =
        sqlx::query("UPDATE webauthn_credentials SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Reads the name of the user's passkey `id`, if the user has it.
pub(crate) async fn name_of(tx: &mut Tx, id: &str, user_id: &str) -> Result<Option<String>> {
    let named: Option<(String,)> =
        sqlx::query_as("SELECT name FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(named.map(|(name,)| name))
}

/// Counts the user's passkeys.
pub(crate) async fn count(tx: &mut Tx, user_id: &str) -> Result<i64> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webauthn_credentials WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(count)
}

/// Deletes the user's passkey `id`.
pub(crate) async fn delete(tx: &mut Tx, id: &str, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes every passkey and every waiting ceremony of the user.
pub(crate) async fn delete_all_of_user(tx: &mut Tx, user_id: &str) -> Result<()> {
    for table in ["webauthn_credentials", "webauthn_states"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes every ceremony that expired by `now`.
pub(crate) async fn delete_expired_states(tx: &mut Tx, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM webauthn_states WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A waiting ceremony's new row.
pub(crate) struct NewState<'a> {
    pub id: &'a str,
    pub purpose: &'a str,
    pub user_id: Option<&'a str>,
    pub challenge_id: Option<&'a str>,
    pub state: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Inserts a waiting ceremony (its server half as JSON).
pub(crate) async fn insert_state(tx: &mut Tx, s: &NewState<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO webauthn_states (id, purpose, user_id, challenge_id, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.id)
    .bind(s.purpose)
    .bind(s.user_id)
    .bind(s.challenge_id)
    .bind(s.state)
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which waiting ceremony a response names, and by what.
#[derive(Clone, Copy)]
pub(crate) enum StateOf {
    /// A login's second-factor check, by its challenge's id.
    LoginChallenge,
    /// A registration, by the ceremony's id.
    Registration,
    /// A passwordless sign-in, by the ceremony's id.
    Passwordless,
}

/// A waiting ceremony as stored.
pub(crate) struct StateRow {
    pub id: String,
    pub state: String,
    pub user_id: Option<String>,
    pub expires_at: i64,
}

/// Reads the waiting ceremony of kind `of` named by `key`, if any (expired ones too).
pub(crate) async fn state(tx: &mut Tx, of: StateOf, key: &str) -> Result<Option<StateRow>> {
    let query = match of {
        StateOf::LoginChallenge => "SELECT id, state, user_id, expires_at FROM webauthn_states WHERE challenge_id = $1 AND purpose = 'login'",
        StateOf::Registration => "SELECT id, state, user_id, expires_at FROM webauthn_states WHERE id = $1 AND purpose = 'register'",
        StateOf::Passwordless => "SELECT id, state, user_id, expires_at FROM webauthn_states WHERE id = $1 AND purpose = 'passwordless'",
    };
    let row: Option<(String, String, Option<String>, i64)> = sqlx::query_as(query)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(id, state, user_id, expires_at)| StateRow {
        id,
        state,
        user_id,
        expires_at,
    }))
}

/// Deletes the waiting ceremony `id`.
pub(crate) async fn delete_state(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM webauthn_states WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes every waiting ceremony of challenge `challenge_id`.
pub(crate) async fn delete_states_of_challenge(tx: &mut Tx, challenge_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM webauthn_states WHERE challenge_id = $1")
        .bind(challenge_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
