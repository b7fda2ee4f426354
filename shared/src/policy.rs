//! The counters of the 2FA policy: send period, check rate limit, failures and lockout, and
//! the one outstanding sent code per user and provider. Login challenges and enrolment both
//! call these, always inside a transaction that holds the user's lock (see [`crate::db`]).

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::Tx;
use crate::error::{Error, Result};
use crate::providers::ProviderType;
use crate::settings::TwoFaSettings;
use crate::users::User;

/// The rules themselves, over values and a clock reading: the functions below read and
/// write the counters, these decide. No database, so each is unit-tested on its own.
pub mod rules {
    use crate::settings::RateLimit;

    /// `minVerificationCodeSendPeriod`: `Err(retry_after)` while the previous send to this
    /// user (`last`) is less than `period` seconds old.
    pub fn send_allowed(last: Option<i64>, period: u32, now: i64) -> Result<(), i64> {
        match last {
            Some(last) if now < last + i64::from(period) => Err(last + i64::from(period) - now),
            _ => Ok(()),
        }
    }

    /// `verificationCodeCheckRateLimit`: given the checks already counted inside the window
    /// (`in_window`, the oldest at `oldest`), `Err(retry_after)` when this one would be one too
    /// many. A refused check counts nothing, so the wait is until the oldest leaves the window.
    pub fn check_admitted(
        limit: RateLimit,
        in_window: i64,
        oldest: Option<i64>,
        now: i64,
    ) -> Result<(), i64> {
        if in_window < i64::from(limit.max_checks) {
            return Ok(());
        }
        let oldest = oldest.unwrap_or(now);
        Err((oldest + i64::from(limit.per_seconds) - now).max(1))
    }

    /// The first moment still inside the rate-limit window.
    pub fn window_start(limit: RateLimit, now: i64) -> i64 {
        now - i64::from(limit.per_seconds)
    }

    /// What a failed check does, given the user's failure count after it
    /// (`maxVerificationFailuresBeforeUserLockout`, 0 = never lock).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum AfterFailure {
        /// This failure reached the limit: lock the user.
        Lock,
        /// Not locked (again): how many attempts are left, when lockout is on.
        Continue {
            /// Wrong answers left before the lockout; `None` when lockout is off.
            attempts_left: Option<u32>,
        },
    }

    /// Decides [`AfterFailure`]; an already locked user is not locked again (one lockout
    /// event, one notice).
    pub fn after_failure(failures: i64, max: u32, already_locked: bool) -> AfterFailure {
        if max > 0 && failures >= i64::from(max) && !already_locked {
            return AfterFailure::Lock;
        }
        AfterFailure::Continue {
            attempts_left: attempts_left(failures, max),
        }
    }

    /// Wrong codes the user may still give before lockout, after `failures`; `None` when
    /// lockout is off (`max` = 0).
    pub fn attempts_left(failures: i64, max: u32) -> Option<u32> {
        let max = i64::from(max);
        (max > 0).then(|| u32::try_from((max - failures).max(0)).unwrap_or(0))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_send_waits_for_the_period_after_the_last_one() {
            assert_eq!(send_allowed(None, 30, 1000), Ok(()));
            assert_eq!(send_allowed(Some(1000), 30, 1000), Err(30));
            assert_eq!(send_allowed(Some(1000), 30, 1029), Err(1));
            assert_eq!(send_allowed(Some(1000), 30, 1030), Ok(()));
            assert_eq!(send_allowed(Some(1000), 0, 1000), Ok(()));
        }

        #[test]
        fn the_check_after_the_limit_waits_until_the_oldest_leaves_the_window() {
            let limit = RateLimit {
                max_checks: 3,
                per_seconds: 900,
            };
            assert_eq!(check_admitted(limit, 2, Some(100), 200), Ok(()));
            assert_eq!(check_admitted(limit, 3, Some(100), 200), Err(800));
            // At the window's edge the wait is never zero.
            assert_eq!(check_admitted(limit, 3, Some(100), 1000), Err(1));
            assert_eq!(window_start(limit, 1000), 100);
        }

        #[test]
        fn the_failure_that_reaches_the_limit_locks_once() {
            assert_eq!(
                after_failure(4, 5, false),
                AfterFailure::Continue {
                    attempts_left: Some(1)
                }
            );
            assert_eq!(after_failure(5, 5, false), AfterFailure::Lock);
            // Already locked by another process: not locked (or audited) again.
            assert_eq!(
                after_failure(6, 5, true),
                AfterFailure::Continue {
                    attempts_left: Some(0)
                }
            );
            // Lockout off: never locks, and no count is shown.
            assert_eq!(
                after_failure(1000, 0, false),
                AfterFailure::Continue {
                    attempts_left: None
                }
            );
            assert_eq!(attempts_left(0, 5), Some(5));
            assert_eq!(attempts_left(7, 5), Some(0));
        }
    }
}

/// Why a code was sent: login codes and enrolment codes are separate, one outstanding each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Login,
    Enrol,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Enrol => "enrol",
        }
    }
}

/// Where a sent code lives: one outstanding code per user, provider and purpose.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CodeSlot<'a> {
    pub user_id: &'a str,
    pub provider: ProviderType,
    pub purpose: Purpose,
}

/// Refuses a send inside `minVerificationCodeSendPeriod` of the previous one to this user, else
/// records this send. Returns the previous send time so a failed delivery can be undone.
pub(crate) async fn reserve_send(
    tx: &mut Tx,
    user_id: &str,
    settings: &TwoFaSettings,
    now: i64,
) -> Result<Option<i64>> {
    let (last,): (Option<i64>,) =
        sqlx::query_as("SELECT last_code_sent_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    rules::send_allowed(last, settings.min_verification_code_send_period, now)
        .map_err(|retry_after| Error::SendTooSoon { retry_after })?;
    sqlx::query("UPDATE users SET last_code_sent_at = $1 WHERE id = $2")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(last)
}

/// Undoes [`reserve_send`] and drops the unsent code after a delivery failure, so a failed
/// send burns no counter. Only undoes it if no other send happened since.
pub(crate) async fn release_send(
    core: &Core,
    slot: CodeSlot<'_>,
    reserved_at: i64,
    previous: Option<i64>,
) -> Result<()> {
    let CodeSlot {
        user_id,
        provider,
        purpose,
    } = slot;
    let mut tx = core.db.begin_locked(user_id).await?;
    sqlx::query("UPDATE users SET last_code_sent_at = $1 WHERE id = $2 AND last_code_sent_at = $3")
        .bind(previous)
        .bind(user_id)
        .bind(reserved_at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3 \
         AND created_at = $4",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose.as_str())
    .bind(reserved_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Applies `verificationCodeCheckRateLimit` ("N:S"): refuses the (N+1)th check within S seconds
/// and otherwise counts this one. A refused check is not a failure and counts nothing.
pub(crate) async fn admit_check(
    tx: &mut Tx,
    user_id: &str,
    settings: &TwoFaSettings,
    now: i64,
) -> Result<()> {
    let Some(limit) = settings.rate_limit() else {
        return Ok(());
    };
    sqlx::query("DELETE FROM code_checks WHERE user_id = $1 AND at <= $2")
        .bind(user_id)
        .bind(rules::window_start(limit, now))
        .execute(&mut **tx)
        .await?;
    let (count, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM code_checks WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut **tx)
            .await?;
    rules::check_admitted(limit, count, oldest, now)
        .map_err(|retry_after| Error::RateLimited { retry_after })?;
    sqlx::query("INSERT INTO code_checks (user_id, at) VALUES ($1, $2)")
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Counts a failed second-factor check; locks the user when the count reaches
/// `maxVerificationFailuresBeforeUserLockout`. Returns what the failure did.
pub(crate) async fn record_failure(
    tx: &mut Tx,
    ctx: &RequestContext,
    user: &User,
    settings: &TwoFaSettings,
    now: i64,
) -> Result<rules::AfterFailure> {
    let (failures,): (i64,) = sqlx::query_as(
        "UPDATE users SET twofa_failures = twofa_failures + 1 WHERE id = $1 RETURNING twofa_failures",
    )
    .bind(&user.id)
    .fetch_one(&mut **tx)
    .await?;
    let after = rules::after_failure(
        failures,
        settings.max_verification_failures_before_user_lockout,
        user.locked,
    );
    if after == rules::AfterFailure::Lock {
        sqlx::query("UPDATE users SET locked = 1, locked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&user.id)
            .execute(&mut **tx)
            .await?;
        audit::record(
            tx,
            ctx,
            now,
            Event::new(EventKind::Lockout)
                .user(&user.id, &user.username)
                .detail(format!("{failures} failed second-factor checks")),
        )
        .await?;
    }
    Ok(after)
}

/// A verified second factor is the only thing (besides an admin unlock) that clears failures.
pub(crate) async fn record_success(tx: &mut Tx, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET twofa_failures = 0 WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn code_scope(slot: CodeSlot<'_>) -> String {
    format!(
        "sent:{}:{}:{}",
        slot.user_id,
        slot.provider.as_str(),
        slot.purpose.as_str()
    )
}

/// Stores a freshly sent code as a keyed hash, replacing (invalidating) any earlier one.
pub(crate) async fn store_code(
    core: &Core,
    tx: &mut Tx,
    slot: CodeSlot<'_>,
    code: &str,
    now: i64,
    lifetime: i64,
) -> Result<()> {
    let hash = core.secrets.code_hash(&code_scope(slot), code);
    let CodeSlot {
        user_id,
        provider,
        purpose,
    } = slot;
    sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO verification_codes (user_id, provider, purpose, code_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose.as_str())
    .bind(hash)
    .bind(now + lifetime)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Checks a sent code; a match that has not expired is consumed (single use).
pub(crate) async fn consume_code(
    core: &Core,
    tx: &mut Tx,
    slot: CodeSlot<'_>,
    code: &str,
    now: i64,
) -> Result<bool> {
    let CodeSlot {
        user_id,
        provider,
        purpose,
    } = slot;
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT code_hash, expires_at FROM verification_codes \
         WHERE user_id = $1 AND provider = $2 AND purpose = $3",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((stored, expires_at)) = row else {
        return Ok(false);
    };
    let given = core.secrets.code_hash(&code_scope(slot), code);
    if now >= expires_at || !crate::secrets::hashes_equal(&stored, &given) {
        return Ok(false);
    }
    let done = sqlx::query(
        "DELETE FROM verification_codes WHERE user_id = $1 AND provider = $2 AND purpose = $3 \
         AND code_hash = $4",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(purpose.as_str())
    .bind(&stored)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
