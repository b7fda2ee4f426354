//! The statements of a PAM login's approval in the browser: the rows of
//! `device_authorizations` tied to a login's challenge (`challenge_id`).

use crate::db::Tx;
use crate::device::DeviceState;
use crate::error::Result;

/// Writes `user_id`'s decision on a pending, unexpired approval of the challenge; `false` if none.
pub(crate) async fn decide(
    tx: &mut Tx,
    authorization: &str,
    challenge_id: &str,
    user_id: &str,
    state: DeviceState,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE device_authorizations SET state = $1, user_id = $2, decided_at = $3 \
         WHERE id = $4 AND state = 'pending' AND expires_at > $3 AND challenge_id = $5",
    )
    .bind(state.as_str())
    .bind(user_id)
    .bind(now)
    .bind(authorization)
    .bind(challenge_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks every still pending approval of the challenge expired.
pub(crate) async fn expire_pending(tx: &mut Tx, challenge_id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE device_authorizations SET state = 'expired' \
         WHERE challenge_id = $1 AND state = 'pending'",
    )
    .bind(challenge_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The state (`approved` or `denied`) of the challenge's latest decided approval, if any.
pub(crate) async fn latest_decision(
    pool: &sqlx::AnyPool,
    challenge_id: &str,
) -> Result<Option<String>> {
    let decided: Option<(String,)> = sqlx::query_as(
        "SELECT state FROM device_authorizations WHERE challenge_id = $1 \
         AND state IN ('approved', 'denied') ORDER BY decided_at DESC LIMIT 1",
    )
    .bind(challenge_id)
    .fetch_optional(pool)
    .await?;
    Ok(decided.map(|(s,)| s))
}
