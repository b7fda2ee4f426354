//! The audit log: who did what, through which door, from where — never with a secret in it.
//!
//! Events are written in the same transaction as the change they describe, so the log cannot
//! claim a lockout that was rolled back or miss one that happened.

use crate::core::{RequestContext, Source};
use crate::db::Tx;
use crate::error::Result;
use crate::providers::ProviderType;
use serde::Serialize;
use sqlx::Row;

/// Defines [`EventKind`] from one table: each variant with the name the database, the API,
/// the console's filter and serde use, so the names exist once.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)+
        }

        impl EventKind {
            /// Every kind, in the order the console offers them.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)+
                }
            }
        }
    };
}

event_kinds! {
    FirstFactorOk => "first_factor_ok",
    FirstFactorFailed => "first_factor_failed",
    ChallengeOpened => "challenge_opened",
    CodeSent => "code_sent",
    CodeSendFailed => "code_send_failed",
    CodeCheckOk => "code_check_ok",
    CodeCheckBad => "code_check_bad",
    CodeCheckRateLimited => "code_check_rate_limited",
    Lockout => "lockout",
    Unlock => "unlock",
    EnrolmentAdded => "enrolment_added",
    EnrolmentRemoved => "enrolment_removed",
    DefaultProviderChanged => "default_provider_changed",
    BackupCodesGenerated => "backup_codes_generated",
    PasskeyAdded => "passkey_added",
    PasskeyRenamed => "passkey_renamed",
    PasskeyRemoved => "passkey_removed",
    /// A passkey's signature counter did not increase: possibly a cloned authenticator.
    PasskeyCounterRegressed => "passkey_counter_regressed",
    TwoFaReset => "twofa_reset",
    UserCreated => "user_created",
    UserUpdated => "user_updated",
    UserDisabled => "user_disabled",
    UserEnabled => "user_enabled",
    PasswordChanged => "password_changed",
    SettingsChanged => "settings_changed",
    /// A login finished: the front door created a session (OIDC) or returned success (PAM).
    LoginCompleted => "login_completed",
    SessionEnded => "session_ended",
    /// An authorization code or refresh token was presented twice; what it issued is revoked.
    TokenReuseDetected => "token_reuse_detected",
    ClientCreated => "client_created",
    ClientUpdated => "client_updated",
    ClientRemoved => "client_removed",
    ClientSecretRotated => "client_secret_rotated",
    SigningKeyRotated => "signing_key_rotated",
    GroupCreated => "group_created",
    GroupRemoved => "group_removed",
    GroupMemberAdded => "group_member_added",
    GroupMemberRemoved => "group_member_removed",
    /// A signed-in user was turned away by a client that admits only the members of its
    /// allowed groups (the client heard `access_denied`).
    ClientLoginRefused => "client_login_refused",
    HostAdded => "host_added",
    HostRemoved => "host_removed",
    HostCredentialRotated => "host_credential_rotated",
    HostGroupAllowed => "host_group_allowed",
    HostGroupDenied => "host_group_denied",
    /// A login at a host was refused because the user is in none of its allowed groups.
    HostLoginRefused => "host_login_refused",
    /// A wrong user code was entered on the device approval page (or one was refused unchecked
    /// because too many wrong ones came before it).
    DeviceUserCodeRefused => "device_user_code_refused",
    /// A signed-in user approved a device authorization (with the factors they signed in with).
    DeviceApproved => "device_approved",
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
    pub kind: EventKind,
    pub user_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub provider: Option<ProviderType>,
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    pub fn new(kind: EventKind) -> Self {
        Event {
            kind,
            user_id: None,
            username: None,
            provider: None,
            detail: None,
        }
    }
    pub fn user(mut self, id: &'a str, username: &'a str) -> Self {
        self.user_id = Some(id);
        self.username = Some(username);
        self
    }
    pub fn provider(mut self, p: ProviderType) -> Self {
        self.provider = Some(p);
        self
    }
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

pub async fn record(tx: &mut Tx, ctx: &RequestContext, at: i64, e: Event<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, user_id, username, event, provider, source, remote_addr, detail, service, host, tty) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(at)
    .bind(e.user_id)
    .bind(e.username)
    .bind(e.kind.as_str())
    .bind(e.provider.map(|p| p.as_str()))
    .bind(ctx.source.as_str())
    .bind(ctx.remote_addr.as_deref())
    .bind(e.detail)
    .bind(ctx.service.as_deref())
    .bind(ctx.host.as_deref())
    .bind(ctx.tty.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
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
    pub id: i64,
    pub at: i64,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub event: String,
    pub provider: Option<String>,
    pub source: String,
    pub remote_addr: Option<String>,
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
    pub user_id: Option<String>,
    pub event: Option<String>,
    pub source: Option<Source>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events with an id below this (the next page of a newest-first listing).
    pub before_id: Option<i64>,
    /// Only events at this registered host.
    pub host: Option<String>,
    pub limit: u32,
}

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
