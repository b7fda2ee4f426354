//! Approvals in the browser (OAuth 2.0 Device Authorization Grant, RFC 8628): a device that
//! cannot show a login page waits while its user approves or denies it on `/device`.
//!
//! Each authorization has two secrets. The device keeps a 256-bit **device code** and polls
//! with it; only its SHA-256 is stored. The person types a short **user code** (`WDJB-MJHT`:
//! 8 letters from an alphabet without vowels or look-alikes, 20^8 ≈ 2.6·10^10 values); only
//! its HMAC under the secrets key is stored. A user code is short enough to guess, so every
//! wrong one entered counts against token buckets of the browser, of the address and of
//! everyone together ([`GuessLimits`]), and each is audited.
//!
//! The life of one: `pending` → `approved` or `denied` (by a signed-in user, once) →
//! `consumed` when the device picks its tokens up (once: the database's
//! `UPDATE … WHERE state = 'approved'` lets one poll through). Past `expires_at` a pending or
//! approved one is `expired`. A device polling faster than its interval hears `slow_down`
//! and its interval grows by 5 seconds (RFC 8628 §3.5).
//!
//! The records name what asked (an OpenID Connect client today); who approved, when, and
//! with which factors (amr, acr, auth_time) is what the tokens, or another door, report.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::error::{Error, Result};
use crate::users::User;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The letters of user codes: consonants only (no words, no O/0, no I/1), upper case.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code (shown as two groups of four).
pub const USER_CODE_LEN: usize = 8;
/// RFC 8628 §3.5: each `slow_down` adds this to the interval.
pub const SLOW_DOWN_STEP: i64 = 5;
/// The interval stops growing here (a broken client is slowed, not stopped).
pub const MAX_INTERVAL: i64 = 60;
/// HMAC scope of stored user codes.
const USER_CODE_SCOPE: &str = "stepgate device user code";

/// How many wrong user codes are allowed: a bucket of `burst` that refills one every
/// `refill_seconds`. One bucket per browser and per address, and one for everyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuessLimits {
    /// Wrong codes one browser or address may give at once.
    pub per_source_burst: i64,
    /// Seconds for one more wrong code to be allowed to that source.
    pub per_source_refill_seconds: i64,
    /// Wrong codes everyone together may give at once: bounds a guesser with many
    /// addresses.
    pub global_burst: i64,
    /// Seconds for one more wrong code to be allowed to everyone.
    pub global_refill_seconds: i64,
}

impl Default for GuessLimits {
    /// Five wrong codes per browser or address, then one a minute; everyone together 100,
    /// then one a second. With a hundred live codes, a day of guessing at the global rate
    /// finds one with a chance of about 3·10^-4.
    fn default() -> Self {
        GuessLimits {
            per_source_burst: 5,
            per_source_refill_seconds: 60,
            global_burst: 100,
            global_refill_seconds: 1,
        }
    }
}

const GLOBAL_BUCKET: &str = "global";

/// Where a user code was typed, for the guess buckets: the browser (a value of its own cookie,
/// hashed before it is stored) and the address. Either may be unknown.
#[derive(Clone, Debug, Default)]
pub struct GuessSource {
    /// The browser's own cookie value (hashed before it is stored).
    pub browser: Option<String>,
    /// The client's address as the web door trusts it.
    pub address: Option<String>,
}

impl GuessSource {
    fn buckets(&self) -> Vec<(String, bool)> {
        let mut b = Vec::new();
        if let Some(v) = &self.browser {
            b.push((format!("browser:{}", sha256_hex(v)), false));
        }
        if let Some(a) = &self.address {
            b.push((format!("addr:{a}"), false));
        }
        b.push((GLOBAL_BUCKET.to_string(), true));
        b
    }
}

/// Where a device authorization stands; each poll and decision moves it forward only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceState {
    /// Waiting for the user on the approval page.
    Pending,
    /// Approved; the next poll takes the tokens.
    Approved,
    /// Refused by the user; the device hears `access_denied`.
    Denied,
    /// Its lifetime ran out before it was used.
    Expired,
    /// Its tokens were issued: a second poll is refused, so a stolen device code is worth
    /// nothing afterwards.
    Consumed,
}

impl DeviceState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Approved => "approved",
            DeviceState::Denied => "denied",
            DeviceState::Expired => "expired",
            DeviceState::Consumed => "consumed",
        }
    }

    fn parse(s: &str) -> Result<DeviceState> {
        Ok(match s {
            "pending" => DeviceState::Pending,
            "approved" => DeviceState::Approved,
            "denied" => DeviceState::Denied,
            "expired" => DeviceState::Expired,
            "consumed" => DeviceState::Consumed,
            other => {
                return Err(Error::Internal(format!(
                    "stored device authorization state {other:?}"
                )))
            }
        })
    }
}

/// One device authorization as stored (never with its codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// Public id (random): names it in audit events and between the approval pages.
    pub id: String,
    /// The OIDC client that asked (none for a PAM login's approval).
    pub client_id: Option<String>,
    /// The scopes the tokens will carry.
    pub scopes: Vec<String>,
    /// `Expired` when read past `expires_at` while pending or approved.
    pub state: DeviceState,
    /// Seconds the device must wait between polls (grows with each `slow_down`).
    pub interval: i64,
    /// When the device asked (Unix seconds).
    pub created_at: i64,
    /// When it stops being usable (Unix seconds).
    pub expires_at: i64,
    /// The last poll, to tell a too-early one (`slow_down`).
    pub last_poll_at: Option<i64>,
    /// Who approved or denied it, once decided.
    pub user_id: Option<String>,
    /// How the approver signed in (the tokens' `amr`).
    pub amr: Vec<String>,
    /// The approver's sign-in level (the tokens' `acr`).
    pub acr: Option<String>,
    /// When the approver signed in (the ID token's `auth_time`).
    pub auth_time: Option<i64>,
    /// When the user decided.
    pub decided_at: Option<i64>,
    /// A PAM login's approval (instead of a client's): the login, and where it comes from.
    pub login: Option<LoginOrigin>,
}

/// The login a PAM approval is for (its challenge) and where it comes from, for the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginOrigin {
    /// The PAM login's challenge, which the approval verifies.
    pub challenge_id: String,
    /// The registered host the login is at, so the user knows what they approve.
    pub host: Option<String>,
    /// The PAM service (`sshd`, `sudo`).
    pub service: Option<String>,
    /// Where the login comes from (PAM's remote host).
    pub remote_addr: Option<String>,
    /// The terminal of the login.
    pub tty: Option<String>,
}

impl DeviceAuthorization {
    /// Whether the authorization asked for scope `s`.
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

/// Whom a new authorization is for.
pub(crate) enum Owner<'a> {
    Client {
        client_id: &'a str,
        scopes: &'a [String],
    },
    Login(&'a LoginOrigin),
}

/// What the device is given: its device code, and the user code to show (formatted).
#[derive(Clone)]
pub struct DeviceStart {
    /// The authorization's public id.
    pub id: String,
    /// The device's secret for polling; only its hash is stored.
    pub device_code: String,
    /// What the user types on the approval page, formatted (`WDJB-MJHT`).
    pub user_code: String,
    /// When both codes stop working (Unix seconds).
    pub expires_at: i64,
    /// Seconds between polls.
    pub interval: i64,
}

impl std::fmt::Debug for DeviceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStart")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a poll with a device code found (RFC 8628 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: too soon after the last poll; the interval is now `interval`.
    SlowDown {
        /// The new, longer interval in seconds.
        interval: i64,
    },
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// Approved, and now consumed by this poll: issue the tokens.
    Approved(Box<DeviceAuthorization>),
    /// Picked up before (`invalid_grant`).
    AlreadyUsed,
    /// Issued to another client: nothing changed (`invalid_grant`).
    OtherClient,
    /// No such device code (`invalid_grant`).
    Unknown,
}

/// A user's decision on the approval page, with how they signed in for it.
#[derive(Clone, Debug)]
pub enum Decision {
    /// The device gets tokens as if the user had signed in there with these factors.
    Approve {
        /// How the user signed in (the tokens' `amr`).
        amr: Vec<String>,
        /// Their sign-in level (the tokens' `acr`).
        acr: String,
        /// When they signed in.
        auth_time: i64,
    },
    /// The device hears `access_denied`.
    Deny,
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new user code, without the dash.
fn new_user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// `WDJBMJHT` → `WDJB-MJHT`.
pub fn format_user_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(USER_CODE_LEN / 2));
    format!("{a}-{b}")
}

/// What a person typed, as stored codes are made: upper case, without dashes or white space.
/// `None` when it cannot be a user code (wrong length or letters); it then counts as wrong.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

fn device_code_hash(code: &str) -> String {
    sha256_hex(code)
}

const COLUMNS: &str = "id, client_id, scope, state, poll_interval, created_at, expires_at, \
                       last_poll_at, user_id, amr, acr, auth_time, decided_at, challenge_id, \
                       host, service, remote_addr, tty";

fn from_row(r: &AnyRow, now: i64) -> Result<DeviceAuthorization> {
    let scope: String = r.try_get("scope")?;
    let amr: Option<String> = r.try_get("amr")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    let mut state = DeviceState::parse(&r.try_get::<String, _>("state")?)?;
    if matches!(state, DeviceState::Pending | DeviceState::Approved) && now >= expires_at {
        state = DeviceState::Expired;
    }
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

/// Whether a bucket whose `full_at` is this admits one more wrong code now: the rule the
/// upsert of [`Core::device_by_user_code`] applies in SQL, stated here for its unit test.
#[cfg(test)]
fn bucket_admits(full_at: Option<i64>, now: i64, burst: i64, refill: i64) -> bool {
    let full_at = full_at.unwrap_or(now).max(now);
    full_at + refill - now <= burst * refill
}

impl Core {
    fn user_code_hash(&self, normalized: &str) -> String {
        self.secrets.code_hash(USER_CODE_SCOPE, normalized)
    }

    /// Starts a device authorization for `client_id` asking for `scopes`, live for
    /// `lifetime` seconds, polled every `interval` seconds.
    pub async fn start_device_authorization(
        &self,
        client_id: &str,
        scopes: &[String],
        lifetime: i64,
        interval: i64,
    ) -> Result<DeviceStart> {
        // One INSERT (repeated only on a user-code collision): no transaction needed.
        let mut conn = self.db.pool().acquire().await?;
        let now = self.now();
        self.insert_authorization(
            &mut conn,
            Owner::Client { client_id, scopes },
            now + lifetime,
            interval,
        )
        .await
    }

    /// Writes a new pending authorization for `owner`, ending at `expires_at`, with a fresh
    /// device code and user code (on `conn`: a pooled connection, or a transaction's).
    pub(crate) async fn insert_authorization(
        &self,
        conn: &mut sqlx::AnyConnection,
        owner: Owner<'_>,
        expires_at: i64,
        interval: i64,
    ) -> Result<DeviceStart> {
        let now = self.now();
        let id = random_b64(16);
        let device_code = random_b64(32);
        let (client_id, scope, login) = match owner {
            Owner::Client { client_id, scopes } => (Some(client_id), scopes.join(" "), None),
            Owner::Login(origin) => (None, String::new(), Some(origin)),
        };
        // A collision of user codes is refused by the UNIQUE index; another draw then.
        for _ in 0..5 {
            let user_code = new_user_code();
            let inserted = sqlx::query(
                "INSERT INTO device_authorizations (id, device_code_hash, user_code_hash, \
                 client_id, scope, state, poll_interval, created_at, expires_at, challenge_id, \
                 host, service, remote_addr, tty) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (user_code_hash) DO NOTHING",
            )
            .bind(&id)
            .bind(device_code_hash(&device_code))
            .bind(self.user_code_hash(&user_code))
            .bind(client_id)
            .bind(&scope)
            .bind(interval)
            .bind(now)
            .bind(expires_at)
            .bind(login.map(|l| l.challenge_id.as_str()))
            .bind(login.and_then(|l| l.host.as_deref()))
            .bind(login.and_then(|l| l.service.as_deref()))
            .bind(login.and_then(|l| l.remote_addr.as_deref()))
            .bind(login.and_then(|l| l.tty.as_deref()))
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(DeviceStart {
                    id,
                    device_code,
                    user_code: format_user_code(&user_code),
                    expires_at,
                    interval,
                });
            }
        }
        Err(Error::Internal(
            "no free user code after 5 draws: too many live device authorizations".into(),
        ))
    }

    /// A device authorization by its public id.
    pub async fn device_authorization(&self, id: &str) -> Result<Option<DeviceAuthorization>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_authorizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        let now = self.now();
        row.as_ref().map(|r| from_row(r, now)).transpose()
    }

    /// The device authorization a person typed the user code of. A wrong code (unknown, or
    /// not a code at all) is `NotFound`, is audited and counts against the browser's, the
    /// address's and everyone's bucket; with any bucket empty the code is not even looked up
    /// (`RateLimited`). A right code costs nothing, whatever state its authorization is in.
    ///
    /// Every code is charged to the buckets first and the charge is rolled back for a right
    /// one: the charge locks each bucket's row until the transaction ends, so concurrent
    /// guesses are counted one after the other and cannot all pass a check made before any of
    /// them was counted.
    pub async fn device_by_user_code(
        &self,
        ctx: &RequestContext,
        typed: &str,
        source: &GuessSource,
        limits: &GuessLimits,
    ) -> Result<DeviceAuthorization> {
        let now = self.now();
        let buckets = source.buckets();
        let limit = |global: bool| {
            if global {
                (limits.global_burst, limits.global_refill_seconds)
            } else {
                (limits.per_source_burst, limits.per_source_refill_seconds)
            }
        };
        let mut tx = self.db.begin().await?;
        for (bucket, global) in &buckets {
            let (burst, refill) = limit(*global);
            // One more wrong code, unless the bucket would overflow (`bucket_admits`).
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
            .bind(burst * refill)
            .execute(&mut *tx)
            .await?;
            if charged.rows_affected() == 1 {
                continue;
            }
            let (full_at,): (i64,) =
                sqlx::query_as("SELECT full_at FROM device_code_buckets WHERE bucket = $1")
                    .bind(bucket)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.rollback().await?;
            let mut tx = self.db.begin().await?;
            audit::record(
                &mut tx,
                ctx,
                now,
                Event::new(EventKind::DeviceUserCodeRefused).detail(format!(
                    "too many wrong user codes ({}); not checked",
                    if *global {
                        "from everyone"
                    } else {
                        "from this browser or address"
                    }
                )),
            )
            .await?;
            tx.commit().await?;
            return Err(Error::RateLimited {
                retry_after: (full_at + refill - now - burst * refill).max(1),
            });
        }
        if let Some(code) = normalize_user_code(typed) {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM device_authorizations WHERE user_code_hash = $1"
            ))
            .bind(self.user_code_hash(&code))
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                // The right code: undo its charge.
                tx.rollback().await?;
                return from_row(&r, now);
            }
        }
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::DeviceUserCodeRefused)
                .detail("a wrong user code was entered on the approval page"),
        )
        .await?;
        tx.commit().await?;
        Err(Error::NotFound("device authorization"))
    }

    /// Records `user`'s decision on a pending, unexpired authorization, once; `Refused` when
    /// it was decided already or has expired.
    pub async fn decide_device(
        &self,
        ctx: &RequestContext,
        id: &str,
        user: &User,
        decision: &Decision,
    ) -> Result<DeviceAuthorization> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (state, amr, acr, auth_time, kind) = match decision {
            Decision::Approve {
                amr,
                acr,
                auth_time,
            } => (
                "approved",
                Some(serde_json::to_string(amr).unwrap_or_else(|_| "[]".into())),
                Some(acr.as_str()),
                Some(*auth_time),
                EventKind::DeviceApproved,
            ),
            Decision::Deny => ("denied", None, None, None, EventKind::DeviceDenied),
        };
        let done = sqlx::query(
            "UPDATE device_authorizations SET state = $1, user_id = $2, amr = $3, acr = $4, \
             auth_time = $5, decided_at = $6 \
             WHERE id = $7 AND state = 'pending' AND expires_at > $6 AND challenge_id IS NULL",
        )
        .bind(state)
        .bind(&user.id)
        .bind(amr)
        .bind(acr)
        .bind(auth_time)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(Error::refused(crate::words::DEVICE_ANSWERED));
        }
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_authorizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let auth = from_row(&row, now)?;
        let mut detail = format!("device_authorization={id}");
        if let Some(c) = &auth.client_id {
            detail.push_str(&format!(" client={c}"));
        }
        if let Decision::Approve { amr, acr, .. } = decision {
            detail.push_str(&format!(" acr={acr} amr={}", amr.join(",")));
        }
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(kind)
                .user(&user.id, &user.username)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        Ok(auth)
    }

    /// A poll by `client_id` with `device_code` (RFC 8628 §3.4, §3.5): one transaction that
    /// reads the row, records the poll and, for an approved authorization, consumes it.
    pub async fn poll_device(&self, device_code: &str, client_id: &str) -> Result<Poll> {
        let now = self.now();
        let hash = device_code_hash(device_code);
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_authorizations WHERE device_code_hash = $1"
        ))
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Poll::Unknown);
        };
        let auth = from_row(&row, now)?;
        if auth.client_id.as_deref() != Some(client_id) {
            return Ok(Poll::OtherClient);
        }
        let answer = match auth.state {
            DeviceState::Consumed => Poll::AlreadyUsed,
            DeviceState::Denied => Poll::Denied,
            DeviceState::Expired => {
                sqlx::query(
                    "UPDATE device_authorizations SET state = 'expired', last_poll_at = $1 \
                     WHERE id = $2 AND state IN ('pending', 'approved')",
                )
                .bind(now)
                .bind(&auth.id)
                .execute(&mut *tx)
                .await?;
                Poll::Expired
            }
            DeviceState::Approved => {
                let spent = sqlx::query(
                    "UPDATE device_authorizations SET state = 'consumed', last_poll_at = $1 \
                     WHERE id = $2 AND state = 'approved'",
                )
                .bind(now)
                .bind(&auth.id)
                .execute(&mut *tx)
                .await?;
                if spent.rows_affected() == 1 {
                    Poll::Approved(Box::new(DeviceAuthorization {
                        state: DeviceState::Consumed,
                        last_poll_at: Some(now),
                        ..auth
                    }))
                } else {
                    Poll::AlreadyUsed
                }
            }
            DeviceState::Pending => {
                let too_soon = auth.last_poll_at.is_some_and(|t| now - t < auth.interval);
                let interval = if too_soon {
                    (auth.interval + SLOW_DOWN_STEP).min(MAX_INTERVAL)
                } else {
                    auth.interval
                };
                sqlx::query(
                    "UPDATE device_authorizations SET last_poll_at = $1, poll_interval = $2 \
                     WHERE id = $3",
                )
                .bind(now)
                .bind(interval)
                .bind(&auth.id)
                .execute(&mut *tx)
                .await?;
                if too_soon {
                    Poll::SlowDown { interval }
                } else {
                    Poll::Pending
                }
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    /// Deletes device authorizations a day past their end (kept that long so a late poll
    /// still hears `expired_token` rather than `invalid_grant`), and full guess buckets.
    pub async fn purge_device_authorizations(&self) -> Result<()> {
        let now = self.now();
        sqlx::query("DELETE FROM device_authorizations WHERE expires_at < $1")
            .bind(now - 86_400)
            .execute(self.db.writer())
            .await?;
        sqlx::query("DELETE FROM device_code_buckets WHERE full_at < $1")
            .bind(now)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_normalized() {
        assert_eq!(
            normalize_user_code("wdjb-mjht").as_deref(),
            Some("WDJBMJHT")
        );
        assert_eq!(
            normalize_user_code(" WDJB MJHT\n").as_deref(),
            Some("WDJBMJHT")
        );
        assert_eq!(normalize_user_code("WDJBMJH"), None);
        assert_eq!(normalize_user_code("WDJB-MJHA"), None, "no vowels");
        assert_eq!(normalize_user_code("WDJB-MJH0"), None, "no digits");
        assert_eq!(format_user_code("WDJBMJHT"), "WDJB-MJHT");
        for _ in 0..100 {
            let c = new_user_code();
            assert_eq!(normalize_user_code(&format_user_code(&c)), Some(c));
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_one_per_refill() {
        let (burst, refill, now) = (5, 60, 1_000);
        let mut full_at = None;
        for _ in 0..5 {
            assert!(bucket_admits(full_at, now, burst, refill));
            full_at = Some(full_at.unwrap_or(now).max(now) + refill);
        }
        assert!(!bucket_admits(full_at, now, burst, refill));
        assert!(!bucket_admits(full_at, now + 59, burst, refill));
        assert!(bucket_admits(full_at, now + 60, burst, refill));
    }
}
