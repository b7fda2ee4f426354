//! The table of login challenges, `challenges`, and the joined read a check starts with.

use crate::challenge::{Challenge, ChallengeState};
use crate::db::{Batch, Tx};
use crate::error::{Error, Result};
use crate::providers::ProviderType;
use crate::store::users::user_from_row;
use crate::users::User;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Adds a new pending challenge to `batch`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn push_open<'q>(
    batch: &mut Batch<'q>,
    id: &'q str,
    user_id: &'q str,
    source: &'q str,
    now: i64,
    expires_at: i64,
    host: Option<&'q str>,
) {
    batch.push(
        "INSERT INTO challenges (id, user_id, source, state, created_at, expires_at, host) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $6)",
        |b| {
            b.bind(id)
                .bind(user_id)
                .bind(source)
                .bind(now)
                .bind(expires_at)
                .bind(host);
        },
    );
}

/// Adds the ending (or another state) of a challenge to `batch`.
pub(crate) fn push_state<'q>(
    batch: &mut Batch<'q>,
    id: &'q str,
    state: ChallengeState,
    provider: Option<ProviderType>,
    now: i64,
) {
    batch.push(
        "UPDATE challenges SET state = $1, verified_provider = $2, completed_at = $3 WHERE id = $4",
        |b| {
            b.bind(state.as_str())
                .bind(provider.map(|p| p.as_str()))
                .bind(now)
                .bind(id);
        },
    );
}

/// Deletes up to `limit` challenges that finished (or expired) before `before`; how many went.
pub(crate) async fn delete_finished_before(
    writer: &sqlx::AnyPool,
    before: i64,
    limit: i64,
) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM challenges WHERE id IN (SELECT id FROM challenges \
         WHERE COALESCE(completed_at, expires_at) < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(writer)
    .await?
    .rows_affected())
}

/// The challenge `id` as stored (a pending one may be past its time: the caller decides).
pub(crate) async fn by_id(pool: &sqlx::AnyPool, id: &str) -> Result<Option<Challenge>> {
    let Some(row) = sqlx::query(
        "SELECT id, user_id, state, verified_provider, created_at, expires_at FROM challenges WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Challenge {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        state: ChallengeState::parse(&row.try_get::<String, _>("state")?),
        verified_provider: row
            .try_get::<Option<String>, _>("verified_provider")?
            .and_then(|p| p.parse().ok()),
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// The user of challenge `id`, if it exists and (for a host, `host` not empty) was begun by
/// that host.
pub(crate) async fn user_id_at_host(tx: &mut Tx, id: &str, host: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM challenges WHERE id = $1 AND ($2 = '' OR host = $2)")
            .bind(id)
            .bind(host)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(user_id,)| user_id))
}

/// What a check reads before it decides: the challenge, its user, and for a host whether it
/// still admits the user. The user's factors are in `rows` (see
/// [`crate::Core::stored_factors_of_rows`]).
pub(crate) struct CheckRead {
    pub state: ChallengeState,
    pub expires_at: i64,
    /// The name of the host that began the challenge, if one did.
    pub host: Option<String>,
    /// How many of the host's allowed groups the user is in (0 without a host).
    pub admitting_groups: i64,
    /// The user's counted checks after the rate limit's window start, and the oldest of them.
    pub checks_in_window: (i64, Option<i64>),
    pub user: User,
    pub rows: Vec<AnyRow>,
}

/// [`CheckRead`] for challenge `id` at the host with id `host_id` (empty for no host), with
/// the checks counted after `window_start`, in one round trip; `NotFound` for an unknown
/// challenge.
pub(crate) async fn check_read(
    tx: &mut Tx,
    id: &str,
    host_id: &str,
    window_start: i64,
) -> Result<CheckRead> {
    let rows = sqlx::query(&CHECK_READ)
        .bind(id)
        .bind(host_id)
        .bind(window_start)
        .fetch_all(&mut **tx)
        .await?;
    let row = rows.first().ok_or(Error::NotFound("challenge"))?;
    Ok(CheckRead {
        state: ChallengeState::parse(&row.try_get::<String, _>("challenge_state")?),
        expires_at: row.try_get("challenge_expires_at")?,
        host: row.try_get("challenge_host")?,
        admitting_groups: row.try_get("admitting_groups")?,
        checks_in_window: (row.try_get("window_checks")?, row.try_get("window_oldest")?),
        user: user_from_row(row)?,
        rows,
    })
}

/// The statement of [`check_read`]: the challenge `$1`, its user, the user's admission at the
/// host `$2` (its id, or empty for no host), the user's checks after `$3` and the user's
/// factors, a row each. Made once: every check sends it.
static CHECK_READ: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT c.state AS challenge_state, c.expires_at AS challenge_expires_at, \
         c.host AS challenge_host, {} AS admitting_groups, {}, {}, {} \
         FROM challenges c JOIN users u ON u.id = c.user_id \
         LEFT JOIN user_providers p ON p.user_id = c.user_id WHERE c.id = $1",
        crate::store::hosts::admitting_groups("c.user_id"),
        crate::store::policy::window_checks_of("c.user_id", "$3"),
        crate::store::users::user_columns_of("u"),
        crate::store::factors::factor_columns_of("p")
    )
});
