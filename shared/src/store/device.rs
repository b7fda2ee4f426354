//! The tables of device authorizations (RFC 8628): `device_authorizations` (one row per
//! authorization, with the hashes of its two codes) and `device_code_buckets` (the guess
//! limits' token buckets).

use crate::db::Tx;
use crate::device::{DeviceAuthorization, DeviceState, LoginOrigin};
use crate::error::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "id, client_id, scope, state, poll_interval, created_at, expires_at, \
                       last_poll_at, user_id, amr, acr, auth_time, decided_at, challenge_id, \
                       host, service, remote_addr, tty";

/// An authorization as stored: its state as written, even past `expires_at`.
fn from_row(r: &AnyRow) -> Result<DeviceAuthorization> {
    let scope: String = r.try_get("scope")?;
    let amr: Option<String> = r.try_get("amr")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    let state = DeviceState::parse(&r.try_get::<String, _>("state")?)?;
    Ok(DeviceAuthorization {
        id: r.try_get("id")?,
        client_id: r.try_get("client_id")?,
        scopes: scope.split_whitespace().map(str::to_string).collect(),
        state,
        interval: r.try_get("poll_interval")?,
        created_at: r.try_get("created_at")?,
        expires_at,
        last_poll_at: r.try_get("last_poll_at")?,
        user_id: r.try_get("user_id")?,
        amr: match amr {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("stored amr unreadable: {e}")))?,
            None => Vec::new(),
        },
        acr: r.try_get("acr")?,
        auth_time: r.try_get("auth_time")?,
        decided_at: r.try_get("decided_at")?,
        login: match r.try_get::<Option<String>, _>("challenge_id")? {
            Some(challenge_id) => Some(LoginOrigin {
                challenge_id,
                host: r.try_get("host")?,
                service: r.try_get("service")?,
                remote_addr: r.try_get("remote_addr")?,
                tty: r.try_get("tty")?,
            }),
            None => None,
        },
    })
}

/// A new pending authorization's row.
pub(crate) struct NewAuthorization<'a> {
    pub id: &'a str,
    pub device_code_hash: &'a str,
    pub user_code_hash: &'a str,
    pub client_id: Option<&'a str>,
    pub scope: &'a str,
    pub interval: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub login: Option<&'a LoginOrigin>,
}

/// Inserts a pending authorization; `false` (nothing written) when its user code is taken.
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    a: &NewAuthorization<'_>,
) -> Result<bool> {
    let login = a.login;
    let inserted = sqlx::query(
        "INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, \
         client_id, scope, state, poll_interval, created_at, expires_at, challenge_id, \
         host, service, remote_addr, tty) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (user_code_hash) DO NOTHING",
    )
    .bind(a.id)
    .bind(a.device_code_hash)
    .bind(a.user_code_hash)
    .bind(a.client_id)
    .bind(a.scope)
    .bind(a.interval)
    .bind(a.created_at)
    .bind(a.expires_at)
    .bind(login.map(|l| l.challenge_id.as_str()))
    .bind(login.and_then(|l| l.host.as_deref()))
    .bind(login.and_then(|l| l.service.as_deref()))
    .bind(login.and_then(|l| l.remote_addr.as_deref()))
    .bind(login.and_then(|l| l.tty.as_deref()))
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Reads the authorization with public id `id`, if any (state as stored).
pub(crate) async fn by_id(pool: &sqlx::AnyPool, id: &str) -> Result<Option<DeviceAuthorization>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM device_authorizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Reads the authorization with public id `id`, which must exist (state as stored).
pub(crate) async fn by_id_tx(tx: &mut Tx, id: &str) -> Result<DeviceAuthorization> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM device_authorizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// Reads the authorization whose user code has HMAC `hash`, if any (state as stored).
pub(crate) async fn by_user_code_hash(
    tx: &mut Tx,
    hash: &str,
) -> Result<Option<DeviceAuthorization>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM device_authorizations WHERE user_code_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Reads the authorization whose device code has SHA-256 `hash`, if any (state as stored).
pub(crate) async fn by_device_code_hash(
    tx: &mut Tx,
    hash: &str,
) -> Result<Option<DeviceAuthorization>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM device_authorizations WHERE device_code_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds `refill` to `bucket`'s `full_at` unless it would pass `now + capacity`; `false` if not.
pub(crate) async fn charge_bucket(
    tx: &mut Tx,
    bucket: &str,
    now: i64,
    refill: i64,
    capacity: i64,
) -> Result<bool> {
    let charged = sqlx::query(
        "INSERT INTO device_code_buckets (bucket, full_at) VALUES ($1, $2 + $3) \
         ON CONFLICT (bucket) DO UPDATE SET full_at = \
         (CASE WHEN device_code_buckets.full_at > $2 THEN device_code_buckets.full_at \
         ELSE $2 END) + $3 \
         WHERE (CASE WHEN device_code_buckets.full_at > $2 \
         THEN device_code_buckets.full_at ELSE $2 END) + $3 - $2 <= $4",
    )
    .bind(bucket)
    .bind(now)
    .bind(refill)
    .bind(capacity)
    .execute(&mut **tx)
    .await?;
    Ok(charged.rows_affected() == 1)
}

/// Reads when `bucket` is full again (Unix seconds); the bucket must exist.
pub(crate) async fn bucket_full_at(tx: &mut Tx, bucket: &str) -> Result<i64> {
    let (full_at,): (i64,) =
        sqlx::query_as("SELECT full_at FROM device_code_buckets WHERE bucket = $1")
            .bind(bucket)
            .fetch_one(&mut **tx)
            .await?;
    Ok(full_at)
}

/// The decision on an authorization: its new state and, for an approval, how the user signed in.
pub(crate) struct DecisionRow<'a> {
    pub state: DeviceState,
    pub user_id: &'a str,
    pub amr: Option<String>,
    pub acr: Option<&'a str>,
    pub auth_time: Option<i64>,
    pub decided_at: i64,
}

/// Writes a decision on a pending, unexpired client's authorization `id`; `false` if none.
pub(crate) async fn decide(tx: &mut Tx, id: &str, d: DecisionRow<'_>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE device_authorizations SET state = $1, user_id = $2, amr = $3, acr = $4, \
         auth_time = $5, decided_at = $6 \
         WHERE id = $7 AND state = 'pending' AND expires_at > $6 AND challenge_id IS NULL",
    )
    .bind(d.state.as_str())
    .bind(d.user_id)
    .bind(d.amr)
    .bind(d.acr)
    .bind(d.auth_time)
    .bind(d.decided_at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes authorization `id` expired (if still pending or approved) and its poll at `now`.
pub(crate) async fn expire(tx: &mut Tx, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE device_authorizations SET state = 'expired', last_poll_at = $1 \
         WHERE id = $2 AND state IN ('pending', 'approved')",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes approved authorization `id` consumed, polled at `now`; `false` if it was not approved.
pub(crate) async fn consume(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let spent = sqlx::query(
        "UPDATE device_authorizations SET state = 'consumed', last_poll_at = $1 \
         WHERE id = $2 AND state = 'approved'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(spent.rows_affected() == 1)
}

/// Writes authorization `id`'s last poll (`now`) and its poll interval.
pub(crate) async fn record_poll(tx: &mut Tx, id: &str, now: i64, interval: i64) -> Result<()> {
    sqlx::query(
        "UPDATE device_authorizations SET last_poll_at = $1, poll_interval = $2 \
         WHERE id = $3",
    )
    .bind(now)
    .bind(interval)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes authorizations that ended before `ended_before`, then buckets full before `full_before`.
pub(crate) async fn purge(
    writer: &sqlx::AnyPool,
    ended_before: i64,
    full_before: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM device_authorizations WHERE expires_at < $1")
        .bind(ended_before)
        .execute(writer)
        .await?;
    sqlx::query("DELETE FROM device_code_buckets WHERE full_at < $1")
        .bind(full_before)
        .execute(writer)
        .await?;
    Ok(())
}
