//! The counters of the 2FA policy: send period, check rate limit, failures and lockout, and
//! the one outstanding sent code per user and provider. Login challenges and enrolment both
//! call these, always inside a transaction that holds the user's lock (see [`crate::db`]).

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::{Batch, Tx};
use crate::error::{Error, Result};
use crate::providers::ProviderType;
use crate::settings::TwoFaSettings;
use crate::store::policy as store;
use crate::time::Seconds;
use crate::users::User;

/// The rules themselves, over values and a clock reading: the functions below read and
/// write the counters, these decide. No database, so each is unit-tested on its own.
pub mod rules {
    use crate::settings::{LockoutLimit, RateLimit};
    use crate::time::Seconds;

    /// `minVerificationCodeSendPeriod`: `Err(retry_after)` while the previous send to this
    /// user (`last`) is less than `period` seconds old.
    pub fn send_allowed(last: Option<i64>, period: Seconds, now: i64) -> Result<(), i64> {
        match last {
            Some(last) if now < period.after(last) => Err(period.after(last) - now),
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
        Err((limit.per_seconds.after(oldest) - now).max(1))
    }

    /// The first moment still inside the rate-limit window.
    pub fn window_start(limit: RateLimit, now: i64) -> i64 {
        limit.per_seconds.before(now)
    }

    /// What a failed check does, given the user's failure count after it
    /// (`maxVerificationFailuresBeforeUserLockout`).
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
    pub fn after_failure(failures: i64, max: LockoutLimit, already_locked: bool) -> AfterFailure {
        if let LockoutLimit::After(max) = max {
            if failures >= i64::from(max.get()) && !already_locked {
                return AfterFailure::Lock;
            }
        }
        AfterFailure::Continue {
            attempts_left: attempts_left(failures, max),
        }
    }

    /// Wrong codes the user may still give before lockout, after `failures`; `None` when
    /// lockout is off.
    pub fn attempts_left(failures: i64, max: LockoutLimit) -> Option<u32> {
        match max {
            LockoutLimit::Never => None,
            LockoutLimit::After(max) => {
                Some(u32::try_from((i64::from(max.get()) - failures).max(0)).unwrap_or(0))
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_send_waits_for_the_period_after_the_last_one() {
            assert_eq!(send_allowed(None, Seconds(30), 1000), Ok(()));
            assert_eq!(send_allowed(Some(1000), Seconds(30), 1000), Err(30));
            assert_eq!(send_allowed(Some(1000), Seconds(30), 1029), Err(1));
            assert_eq!(send_allowed(Some(1000), Seconds(30), 1030), Ok(()));
            assert_eq!(send_allowed(Some(1000), Seconds(0), 1000), Ok(()));
        }

        #[test]
        fn the_check_after_the_limit_waits_until_the_oldest_leaves_the_window() {
            let limit = RateLimit {
                max_checks: 3,
                per_seconds: Seconds(900),
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
                after_failure(4, LockoutLimit::after(5), false),
                AfterFailure::Continue {
                    attempts_left: Some(1)
                }
            );
            assert_eq!(
                after_failure(5, LockoutLimit::after(5), false),
                AfterFailure::Lock
            );
            // Already locked by another process: not locked (or audited) again.
            assert_eq!(
                after_failure(6, LockoutLimit::after(5), true),
                AfterFailure::Continue {
                    attempts_left: Some(0)
                }
            );
            // Lockout off: never locks, and no count is shown.
            assert_eq!(
                after_failure(1000, LockoutLimit::after(0), false),
                AfterFailure::Continue {
                    attempts_left: None
                }
            );
            assert_eq!(attempts_left(0, LockoutLimit::after(5)), Some(5));
            assert_eq!(attempts_left(7, LockoutLimit::after(5)), Some(0));
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
    let last = store::last_code_sent_at(tx, user_id).await?;
    rules::send_allowed(last, settings.min_verification_code_send_period, now)
        .map_err(|retry_after| Error::SendTooSoon { retry_after })?;
    store::set_code_sent_at(tx, user_id, now).await?;
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
    store::restore_code_sent_at(&mut tx, user_id, reserved_at, previous).await?;
    store::delete_code_created_at(&mut tx, user_id, provider, purpose.as_str(), reserved_at)
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
    if settings.rate_limit().is_none() {
        return Ok(());
    }
    let in_window = store::checks_in_window(tx, user_id, check_window_start(settings, now)).await?;
    let mut writes = Batch::new(tx.backend());
    let admitted = admit_counted(&mut writes, user_id, settings, in_window, now);
    writes.run(tx).await?;
    admitted
}

/// [`admit_check`] for a check that read the user's counted checks with its other reads
/// (`in_window`: [`store::window_checks_of`] after [`check_window_start`]) and writes in
/// `batch`: refuses beyond the limit, and otherwise adds this check's count to it.
pub(crate) fn admit_counted<'q>(
    batch: &mut Batch<'q>,
    user_id: &'q str,
    settings: &TwoFaSettings,
    (in_window, oldest): (i64, Option<i64>),
    now: i64,
) -> Result<()> {
    let Some(limit) = settings.rate_limit() else {
        return Ok(());
    };
    let start = rules::window_start(limit, now);
    let admitted = rules::check_admitted(limit, in_window, oldest, now);
    store::push_count_check(batch, user_id, start, admitted.is_ok(), now);
    admitted.map_err(|retry_after| Error::RateLimited { retry_after })
}

/// Where the rate limit's window starts for a check at `now` (`now` itself without a limit:
/// nothing is counted then).
pub(crate) fn check_window_start(settings: &TwoFaSettings, now: i64) -> i64 {
    settings
        .rate_limit()
        .map_or(now, |limit| rules::window_start(limit, now))
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
    let failures = store::add_failure(tx, &user.id).await?;
    let after = rules::after_failure(
        failures,
        settings.max_verification_failures_before_user_lockout,
        user.locked,
    );
    if after == rules::AfterFailure::Lock {
        store::lock(tx, &user.id, now).await?;
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
    store::clear_failures(tx, user_id).await
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
    lifetime: Seconds,
) -> Result<()> {
    let hash = core.secrets.code_hash(&code_scope(slot), code);
    let CodeSlot {
        user_id,
        provider,
        purpose,
    } = slot;
    store::put_code(
        tx,
        user_id,
        provider,
        purpose.as_str(),
        &hash,
        lifetime.after(now),
        now,
    )
    .await
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
    let Some((stored, expires_at)) = store::code(tx, user_id, provider, purpose.as_str()).await?
    else {
        return Ok(false);
    };
    let given = core.secrets.code_hash(&code_scope(slot), code);
    if now >= expires_at || !crate::secrets::hashes_equal(&stored, &given) {
        return Ok(false);
    }
    store::take_code(tx, user_id, provider, purpose.as_str(), &stored).await
}
