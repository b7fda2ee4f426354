//! The audit log: who did what, through which door, from where — never with a secret in it.
//!
//! Events are written in the same transaction as the change they describe, so the log cannot
//! claim a lockout that was rolled back or miss one that happened. One exception: in the
//! server on SQLite, the opening of a challenge is its event and then the challenge, each
//! committing alone (`Db::write`), so the log may hold an opening that failed, never miss
//! one that happened.

use crate::core::{RequestContext, Source};
use crate::db::{Batch, Tx};
use crate::error::Result;
use crate::providers::ProviderType;
use serde::Serialize;
use sqlx::Row;

/// Defines [`EventKind`] from one table: each variant with the name the database, the API,
/// the console's filter and serde use, so the names exist once.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// What happened, from a fixed list so the log can be filtered and counted.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)+
        }

        impl EventKind {
            /// Every kind, in the order the console offers them.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)+];

            /// The stored name; stable, since old events keep it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)+
                }
            }
        }
    };
}

event_kinds! {
    /// The password was right (the login goes on to the second factor).
    FirstFactorOk => "first_factor_ok",
    /// A wrong password or an unknown user; counted apart, never locks.
    FirstFactorFailed => "first_factor_failed",
    /// A second-factor challenge began for a login.
    ChallengeOpened => "challenge_opened",
    /// An SMS or email code went out (to the masked destination in `detail`).
    CodeSent => "code_sent",
    /// The notifier failed; no send counter was spent.
    CodeSendFailed => "code_send_failed",
    /// A second factor passed.
    CodeCheckOk => "code_check_ok",
    /// A wrong second-factor answer; counts toward the lockout.
    CodeCheckBad => "code_check_bad",
    /// A check refused unchecked because the rate limit was reached.
    CodeCheckRateLimited => "code_check_rate_limited",
    /// Failures reached the limit: the account is locked.
    Lockout => "lockout",
    /// An administrator lifted a lockout.
    Unlock => "unlock",
    /// A second factor was set up.
    EnrolmentAdded => "enrolment_added",
    /// A second factor was turned off.
    EnrolmentRemoved => "enrolment_removed",
    /// The user's default second factor changed.
    DefaultProviderChanged => "default_provider_changed",
    /// A new set of backup codes replaced the old one.
    BackupCodesGenerated => "backup_codes_generated",
    /// A passkey was registered.
    PasskeyAdded => "passkey_added",
    /// A passkey's name changed.
    PasskeyRenamed => "passkey_renamed",
    /// A passkey was removed.
    PasskeyRemoved => "passkey_removed",
    /// A passkey's signature counter did not increase: possibly a cloned authenticator.
    PasskeyCounterRegressed => "passkey_counter_regressed",
    /// An administrator removed all of a user's second factors.
    TwoFaReset => "twofa_reset",
    /// A user was created.
    UserCreated => "user_created",
    /// A user's details or role changed.
    UserUpdated => "user_updated",
    /// An account was switched off.
    UserDisabled => "user_disabled",
    /// An account was switched on again.
    UserEnabled => "user_enabled",
    /// A password was set or changed.
    PasswordChanged => "password_changed",
    /// The platform 2FA settings changed.
    SettingsChanged => "settings_changed",
    /// A login finished: the front door created a session (OIDC) or returned success (PAM).
    LoginCompleted => "login_completed",
    /// A browser session ended (sign-out or logout from a client).
    SessionEnded => "session_ended",
    /// An authorization code or refresh token was presented twice; what it issued is revoked.
    TokenReuseDetected => "token_reuse_detected",
    /// An OIDC client was registered.
    ClientCreated => "client_created",
    /// An OIDC client's settings changed.
    ClientUpdated => "client_updated",
    /// An OIDC client was removed.
    ClientRemoved => "client_removed",
    /// An OIDC client got a new secret; the old one stops working.
    ClientSecretRotated => "client_secret_rotated",
    /// A new token signing key took over.
    SigningKeyRotated => "signing_key_rotated",
    /// A group was created.
    GroupCreated => "group_created",
    /// A group was removed.
    GroupRemoved => "group_removed",
    /// A user joined a group.
    GroupMemberAdded => "group_member_added",
    /// A user left a group.
    GroupMemberRemoved => "group_member_removed",
    /// A signed-in user was turned away by a client that admits only the members of its
    /// allowed groups (the client heard `access_denied`).
    ClientLoginRefused => "client_login_refused",
    /// A host was registered for fleet logins.
    HostAdded => "host_added",
    /// A host was removed; its credential stops working.
    HostRemoved => "host_removed",
    /// A host got a new credential; the old one stops working.
    HostCredentialRotated => "host_credential_rotated",
    /// A group's members may now log in at a host.
    HostGroupAllowed => "host_group_allowed",
    /// A group no longer admits its members at a host.
    HostGroupDenied => "host_group_denied",
    /// A login at a host was refused because the user is in none of its allowed groups.
    HostLoginRefused => "host_login_refused",
    /// A wrong user code was entered on the device approval page (or one was refused unchecked
    /// because too many wrong ones came before it).
    DeviceUserCodeRefused => "device_user_code_refused",
    /// A signed-in user approved a device authorization (with the factors they signed in with).
    DeviceApproved => "device_approved",
    /// A signed-in user denied a device authorization.
    DeviceDenied => "device_denied",
    /// A host asked for a PAM login to be approved in the browser (a user code was made).
    LoginApprovalRequested => "login_approval_requested",
    /// Someone signed in as another user tried to answer a login's approval.
    LoginApprovalRefused => "login_approval_refused",
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One event to write; `detail` is free text for people and must never hold a secret.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Whom it concerns, by id (stays right after a rename or removal).
    pub user_id: Option<&'a str>,
    /// Whom it concerns, by name as it was then (for an unknown user, none).
    pub username: Option<&'a str>,
    /// The second factor involved, if any.
    pub provider: Option<ProviderType>,
    /// Free text for people; never a secret, code or password.
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    /// An event of this kind about no one yet; the builders add the rest.
    pub fn new(kind: EventKind) -> Self {
        Event {
            kind,
            user_id: None,
            username: None,
            provider: None,
            detail: None,
        }
    }
    /// The user it concerns (id and name together, so both are always filled).
    pub fn user(mut self, id: &'a str, username: &'a str) -> Self {
        self.user_id = Some(id);
        self.username = Some(username);
        self
    }
    /// The second factor involved.
    pub fn provider(mut self, p: ProviderType) -> Self {
        self.provider = Some(p);
        self
    }
    /// Free text for people (never a secret).
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

/// Writes one event on its own, for front-door events that change nothing else in the core
/// (a completed login, a revoked token family, a client change).
pub async fn record_alone(core: &crate::Core, ctx: &RequestContext, e: Event<'_>) -> Result<()> {
    let mut tx = core.db().begin().await?;
    record(&mut tx, ctx, core.now(), e).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes one event inside the transaction of the change it describes, so both commit or
/// neither does.
pub async fn record(tx: &mut Tx, ctx: &RequestContext, at: i64, e: Event<'_>) -> Result<()> {
    let mut batch = Batch::new(tx.backend());
    push(&mut batch, ctx, at, e);
    batch.run(tx).await
}

/// Adds the writing of one event to `batch`, to go to the database with the change it
/// describes.
pub fn push<'q>(batch: &mut Batch<'q>, ctx: &'q RequestContext, at: i64, e: Event<'q>) {
    batch.push(
        "INSERT INTO audit_events (at, user_id, username, event, provider, source, remote_addr, detail, service, host, tty) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        |b| {
            b.bind(at)
                .bind(e.user_id)
                .bind(e.username)
                .bind(e.kind.as_str())
                .bind(e.provider.map(|p| p.as_str()))
                .bind(ctx.source.as_str())
                .bind(ctx.remote_addr.as_deref())
                .bind(e.detail)
                .bind(ctx.service.as_deref())
                .bind(ctx.host.as_deref())
                .bind(ctx.tty.as_deref());
        },
    );
}

/// Events deleted per statement by [`prune`]. Small, so that each delete holds SQLite's write
/// lock (or PostgreSQL's row locks) for a moment only and logins in between are not held up.
pub const PRUNE_BATCH: u32 = 500;

/// Deletes the events older than the configured `[audit] retain_days`, in batches of
/// [`PRUNE_BATCH`] with a pause between them; returns how many were deleted.
pub async fn prune(core: &crate::Core) -> Result<u64> {
    let days = i64::from(core.config().audit.retain_days);
    let before = core.now() - days * 86_400;
    let mut total = 0;
    loop {
        // No ORDER BY: any batch of old events will do, and the `at` index then stops at
        // the limit instead of sorting the whole backlog for every batch.
        let deleted = sqlx::query(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(PRUNE_BATCH))
        .execute(core.db().pool())
        .await?
        .rows_affected();
        total += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An event as read back for people (admin console, account page, API).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing; pages of a listing continue from it.
    pub id: i64,
    /// When it happened (Unix seconds).
    pub at: i64,
    /// Whom it concerns, by id.
    pub user_id: Option<String>,
    /// Whom it concerns, by name as it was then.
    pub username: Option<String>,
    /// The [`EventKind`]'s stored name (kept as text: an older or newer kind still reads).
    pub event: String,
    /// The second factor involved, by its stored name.
    pub provider: Option<String>,
    /// The door it came through ([`Source`]'s name).
    pub source: String,
    /// The client's address, when the door knew it.
    pub remote_addr: Option<String>,
    /// Free text for people.
    pub detail: Option<String>,
    /// The PAM service or `service_id=` for events from the PAM door.
    pub service: Option<String>,
    /// The registered host of a PAM event.
    pub host: Option<String>,
    /// The terminal of a PAM event (`PAM_TTY`).
    pub tty: Option<String>,
}

/// What to list; every field narrows the result.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only events about this user.
    pub user_id: Option<String>,
    /// Only events of this kind (its stored name).
    pub event: Option<String>,
    /// Only events through this door.
    pub source: Option<Source>,
    /// Only events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only events at or before this time (Unix seconds).
    pub until: Option<i64>,
    /// Only events with an id below this (the next page of a newest-first listing).
    pub before_id: Option<i64>,
    /// Only events at this registered host.
    pub host: Option<String>,
    /// At most this many, newest first (clamped to 1–1000 so a listing stays cheap).
    pub limit: u32,
}

/// The events the filter selects, newest first.
pub async fn list(pool: &sqlx::AnyPool, f: &AuditFilter) -> Result<Vec<AuditRecord>> {
    let limit = i64::from(f.limit.clamp(1, 1000));
    // Each optional filter is `($n IS NULL OR col = $n)` so the statement text stays fixed.
    let rows = sqlx::query(
        "SELECT id, at, user_id, username, event, provider, source, remote_addr, detail, service, host, tty \
         FROM audit_events \
         WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2) \
           AND ($3 IS NULL OR source = $3) AND ($4 IS NULL OR at >= $4) \
           AND ($5 IS NULL OR at <= $5) AND ($6 IS NULL OR id < $6) \
           AND ($8 IS NULL OR host = $8) \
         ORDER BY id DESC LIMIT $7",
    )
    .bind(f.user_id.as_deref())
    .bind(f.event.as_deref())
    .bind(f.source.map(|s| s.as_str()))
    .bind(f.since)
    .bind(f.until)
    .bind(f.before_id)
    .bind(limit)
    .bind(f.host.as_deref())
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(AuditRecord {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                user_id: r.try_get("user_id")?,
                username: r.try_get("username")?,
                event: r.try_get("event")?,
                provider: r.try_get("provider")?,
                source: r.try_get("source")?,
                remote_addr: r.try_get("remote_addr")?,
                detail: r.try_get("detail")?,
                service: r.try_get("service")?,
                host: r.try_get("host")?,
                tty: r.try_get("tty")?,
            })
        })
        .collect()
}
