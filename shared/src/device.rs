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
use crate::store::device as store;
use crate::users::User;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

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

    pub(crate) fn parse(s: &str) -> Result<DeviceState> {
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

/// `auth` as of `now`: a pending or approved one past `expires_at` is `Expired`.
fn as_of(mut auth: DeviceAuthorization, now: i64) -> DeviceAuthorization {
    if matches!(auth.state, DeviceState::Pending | DeviceState::Approved) && now >= auth.expires_at
    {
        auth.state = DeviceState::Expired;
    }
    auth
}

/// Whether a bucket whose `full_at` is this admits one more wrong code now: the rule the
/// upsert of `store::device::charge_bucket` applies in SQL, stated here for its unit test.
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
            let inserted = store::insert(
                &mut *conn,
                &store::NewAuthorization {
                    id: &id,
                    device_code_hash: &device_code_hash(&device_code),
                    user_code_hash: &self.user_code_hash(&user_code),
                    client_id,
                    scope: &scope,
                    interval,
                    created_at: now,
                    expires_at,
                    login,
                },
            )
            .await?;
            if inserted {
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
        let auth = store::by_id(self.db.pool(), id).await?;
        let now = self.now();
        Ok(auth.map(|a| as_of(a, now)))
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
            let charged =
                store::charge_bucket(&mut tx, bucket, now, refill, burst * refill).await?;
            if charged {
                continue;
            }
            let full_at = store::bucket_full_at(&mut tx, bucket).await?;
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
            let found = store::by_user_code_hash(&mut tx, &self.user_code_hash(&code)).await?;
            if let Some(auth) = found {
                // The right code: undo its charge.
                tx.rollback().await?;
                return Ok(as_of(auth, now));
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
                DeviceState::Approved,
                Some(serde_json::to_string(amr).unwrap_or_else(|_| "[]".into())),
                Some(acr.as_str()),
                Some(*auth_time),
                EventKind::DeviceApproved,
            ),
            Decision::Deny => (
                DeviceState::Denied,
                None,
                None,
                None,
                EventKind::DeviceDenied,
            ),
        };
        let decided = store::decide(
            &mut tx,
            id,
            store::DecisionRow {
                state,
                user_id: &user.id,
                amr,
                acr,
                auth_time,
                decided_at: now,
            },
        )
        .await?;
        if !decided {
            return Err(Error::refused(crate::words::DEVICE_ANSWERED));
        }
        let auth = as_of(store::by_id_tx(&mut tx, id).await?, now);
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
        let Some(auth) = store::by_device_code_hash(&mut tx, &hash).await? else {
            return Ok(Poll::Unknown);
        };
        let auth = as_of(auth, now);
        if auth.client_id.as_deref() != Some(client_id) {
            return Ok(Poll::OtherClient);
        }
        let answer = match auth.state {
            DeviceState::Consumed => Poll::AlreadyUsed,
            DeviceState::Denied => Poll::Denied,
            DeviceState::Expired => {
                store::expire(&mut tx, &auth.id, now).await?;
                Poll::Expired
            }
            DeviceState::Approved => {
                let spent = store::consume(&mut tx, &auth.id, now).await?;
                if spent {
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
                store::record_poll(&mut tx, &auth.id, now, interval).await?;
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
        store::purge(self.db.writer(), now - 86_400, now).await?;
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
