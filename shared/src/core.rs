//! [`Core`]: the one object both front doors hold. It owns the database, the secrets, the
//! notifiers and the clock, and exposes the login, enrolment and administration operations
//! implemented in the sibling modules.

use crate::config::{check_senders, Config};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::notify::{build_sms_sender, Mailer, SmsSender};
use crate::password::{PasswordHasher, Scratch};
use crate::secrets::Secrets;
use crate::settings::TwoFaSettings;
use crate::time::{Clock, SystemClock};
use std::sync::Arc;

/// Which front door a request came through; recorded in audit events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The web: sign-in pages, the OpenID Connect endpoints and the account pages.
    Oidc,
    /// The PAM module, on the server's own machine or a fleet host.
    Pam,
    /// An administrator acting through the admin pages or the CLI.
    Admin,
}

impl Source {
    /// The name stored in the audit log and shown in its filters; stable across releases.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Oidc => "oidc",
            Source::Pam => "pam",
            Source::Admin => "admin",
        }
    }
}

/// Where a request came from, for the audit log.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The front door, so an audit reader can tell a web login from an SSH one.
    pub source: Source,
    /// The client's address as the door trusts it (after `trusted_proxies`), or the PAM
    /// remote host.
    pub remote_addr: Option<String>,
    /// For PAM: the service (`sshd`, `login`, `service_id=`); for the web: unused.
    pub service: Option<String>,
    /// For PAM: the registered host the login is at (fleet mode, or `host=` in direct mode).
    pub host: Option<String>,
    /// For PAM: the terminal (`PAM_TTY`), for the audit log.
    pub tty: Option<String>,
}

impl RequestContext {
    /// A context with only its door known; the `with_*` builders add what the door has.
    pub fn new(source: Source) -> Self {
        RequestContext {
            source,
            remote_addr: None,
            service: None,
            host: None,
            tty: None,
        }
    }
    /// Records the client's address (see [`RequestContext::remote_addr`]).
    pub fn with_remote_addr(mut self, addr: impl Into<String>) -> Self {
        self.remote_addr = Some(addr.into());
        self
    }
    /// Records the PAM service (see [`RequestContext::service`]).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }
    /// Records the host the login is at (see [`RequestContext::host`]).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// Records the terminal (see [`RequestContext::tty`]).
    pub fn with_tty(mut self, tty: impl Into<String>) -> Self {
        self.tty = Some(tty.into());
        self
    }
}

const SETTINGS_NAME: &str = "twofa";

/// The platform settings as read from the database, or why they could not be.
type SettingsRead = std::result::Result<TwoFaSettings, String>;

/// How long a core trusts the platform settings it last read. A login reads them several times
/// (each page, each check), and they change rarely: a change saved through this core applies
/// at once (the cache is dropped), one saved by another process sharing the database within
/// this time. The PAM module opens a core per login, so it always reads them fresh.
const SETTINGS_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The verification core. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct Core {
    pub(crate) db: Db,
    pub(crate) secrets: Arc<Secrets>,
    pub(crate) config: Arc<Config>,
    pub(crate) mailer: Option<Arc<Mailer>>,
    pub(crate) sms: Option<Arc<dyn SmsSender>>,
    pub(crate) hasher: Arc<PasswordHasher>,
    /// One permit per core: argon2 is CPU- and memory-bound, so hashes beyond the core count
    /// only queue inside the kernel while each holds its memory (19 MiB by default) and they
    /// evict each other from the cache. Waiting here instead keeps every core hashing at full
    /// speed and bounds the memory a burst of logins takes.
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
    /// Argon2's working memory, one per permit in use, handed back after each hash (see
    /// [`Scratch`]): at most one per core ever exists, whatever thread runs the hash.
    pub(crate) scratch: Arc<std::sync::Mutex<Vec<Scratch>>>,
    /// The platform settings as last read, and when (see [`SETTINGS_RECHECK`]). An unreadable
    /// stored value is remembered too, so that it is logged once per reread rather than once
    /// per request, and every check in between is refused.
    pub(crate) settings_cache: Arc<std::sync::Mutex<Option<(SettingsRead, std::time::Instant)>>>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("backend", &self.db.backend())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens the database (migrating it), loads or creates the secrets key, builds notifiers.
    pub async fn open(config: Config) -> Result<Core> {
        Self::open_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Core::open`] with the time taken from `clock`, so tests cross time limits
    /// without sleeping.
    pub async fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> Result<Core> {
        Self::build(config, clock, true).await
    }

    /// Opens a database that `stepgate serve` already migrated, without touching its schema
    /// (for the PAM module, which runs inside other programs).
    pub async fn open_existing(config: Config) -> Result<Core> {
        Self::build(config, Arc::new(SystemClock), false).await
    }

    async fn build(config: Config, clock: Arc<dyn Clock>, migrate: bool) -> Result<Core> {
        let secrets = Secrets::load_or_create(&config.secrets.key_file)?;
        let (url, max) = (&config.database.url, config.database.max_connections);
        let timeout = std::time::Duration::from_secs(config.database.connect_timeout_seconds);
        let db = if migrate {
            Db::connect(url, max, timeout).await?
        } else {
            Db::connect_existing(url, max, timeout).await?
        };
        let mailer = match &config.smtp {
            Some(smtp) => Some(Arc::new(
                Mailer::new(smtp).map_err(|e| Error::invalid("smtp", e.to_string()))?,
            )),
            None => None,
        };
        let sms = match &config.sms {
            Some(sms) => {
                Some(build_sms_sender(sms).map_err(|e| Error::invalid("sms", e.to_string()))?)
            }
            None => None,
        };
        let hasher = PasswordHasher::new(&config.password)?;
        Ok(Core {
            db,
            secrets: Arc::new(secrets),
            config: Arc::new(config),
            mailer,
            sms,
            hasher: Arc::new(hasher),
            settings_cache: Arc::default(),
            scratch: Arc::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, |n| n.get()),
            )),
            clock,
        })
    }

    /// The storage, for the front doors' own tables (OIDC clients, sessions); rules stay in
    /// the core.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The configuration the core was opened with (fixed for its life).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sealing key, for front doors that keep secrets of their own (signing keys).
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The current time in Unix seconds from the core's clock: the only time a rule may
    /// read, so a test's clock governs every door alike.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The SMTP sender, if `[email]` is configured; `None` means email codes and notices are
    /// off.
    pub fn mailer(&self) -> Option<&Mailer> {
        self.mailer.as_deref()
    }

    /// The SMS sender, if `[sms]` is configured; `None` means SMS codes are off.
    pub fn sms_sender(&self) -> Option<&dyn SmsSender> {
        self.sms.as_deref()
    }

    /// Closes the database pool; the PAM module calls it before returning to its host.
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The platform settings in force: the administrator's saved ones, else the config's.
    pub async fn twofa_settings(&self) -> Result<TwoFaSettings> {
        if let Some(s) = self.remembered_settings() {
            return s.map_err(Error::Internal);
        }
        let mut conn = self.db.pool().acquire().await?;
        self.twofa_settings_on(&mut conn).await
    }

    /// As [`Core::twofa_settings`], on the connection of a policy transaction.
    pub(crate) async fn twofa_settings_on(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<TwoFaSettings> {
        if let Some(s) = self.remembered_settings() {
            return s.map_err(Error::Internal);
        }
        let read = match crate::store::settings::value(conn, SETTINGS_NAME).await? {
            // Through serde_path_to_error so the message names the field to repair.
            Some(json) => serde_path_to_error::deserialize::<_, TwoFaSettings>(
                &mut serde_json::Deserializer::from_str(&json),
            )
            .map_err(|e| {
                let reason = format!("stored 2FA settings are unreadable: {e}");
                tracing::error!(%reason, "refusing second-factor checks until they are saved again");
                reason
            }),
            None => Ok(self.config.default_settings()),
        };
        self.remember_read(read.clone());
        read.map_err(Error::Internal)
    }

    fn remembered_settings(&self) -> Option<SettingsRead> {
        let cache = self.settings_cache.lock().ok()?;
        cache
            .as_ref()
            .filter(|(_, at)| at.elapsed() < SETTINGS_RECHECK)
            .map(|(s, _)| s.clone())
    }

    fn remember_settings(&self, settings: Option<TwoFaSettings>) {
        if let Ok(mut cache) = self.settings_cache.lock() {
            *cache = settings.map(|s| (Ok(s), std::time::Instant::now()));
        }
    }

    fn remember_read(&self, read: SettingsRead) {
        if let Ok(mut cache) = self.settings_cache.lock() {
            *cache = Some((read, std::time::Instant::now()));
        }
    }

    /// Saves new platform settings after validating every field; a rejected update changes
    /// nothing.
    pub async fn update_twofa_settings(
        &self,
        ctx: &RequestContext,
        actor: Option<&crate::users::User>,
        settings: &TwoFaSettings,
    ) -> Result<()> {
        settings.validate()?;
        check_senders(settings, self.mailer.is_some(), self.sms.is_some())
            .map_err(|m| Error::refused_as("providers", m))?;
        if let Some(w) = settings.webauthn() {
            // The rp id against the issuer, now: a wrong one fails every passkey later.
            crate::passkeys::relying_party(&self.config.server.issuer, w)?;
        }
        let json = serde_json::to_string(settings)
            .map_err(|e| Error::Internal(format!("cannot encode settings: {e}")))?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        crate::store::settings::put(&mut tx, SETTINGS_NAME, &json, now).await?;
        let mut ev = crate::audit::Event::new(crate::audit::EventKind::SettingsChanged);
        if let Some(a) = actor {
            ev = ev.user(&a.id, &a.username);
        }
        crate::audit::record(&mut tx, ctx, now, ev).await?;
        tx.commit().await?;
        self.remember_settings(Some(settings.clone()));
        Ok(())
    }

    /// Sends an email through the configured SMTP server.
    pub(crate) async fn send_email(&self, to: &str, subject: &str, body: &str) -> Result<()> {
        let mailer = self
            .mailer
            .as_ref()
            .ok_or(Error::SendFailed(crate::notify::NotifyError::NotConfigured))?;
        mailer
            .send(to, subject, body)
            .await
            .map_err(Error::SendFailed)
    }

    /// Runs argon2 off the async executor (it is deliberately slow), with a permit and a
    /// kept working memory.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&PasswordHasher, &mut Scratch) -> T + Send + 'static,
    ) -> Result<T> {
        let permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(format!("password hashing closed: {e}")))?;
        let hasher = self.hasher.clone();
        let pool = self.scratch.clone();
        tokio::task::spawn_blocking(move || {
            let mut scratch = take(&pool).unwrap_or_default();
            let result = f(&hasher, &mut scratch);
            put_back(&pool, scratch);
            drop(permit);
            result
        })
        .await
        .map_err(|e| Error::Internal(format!("password task failed: {e}")))
    }
}

/// A kept scratch, if one is free. A poisoned lock only means another hash panicked while
/// handing its memory back; the list itself is still valid.
fn take(pool: &std::sync::Mutex<Vec<Scratch>>) -> Option<Scratch> {
    pool.lock().unwrap_or_else(|e| e.into_inner()).pop()
}

fn put_back(pool: &std::sync::Mutex<Vec<Scratch>>, scratch: Scratch) {
    pool.lock().unwrap_or_else(|e| e.into_inner()).push(scratch);
}
