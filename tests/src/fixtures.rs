//! Fixtures over a real core, shared by every crate's tests (the core's, the PAM module's and
//! the end-to-end suite): users created the ordinary way, TOTP provisioned through the core, SMS
//! enrolled through the development file sink, and the audit log read back.
//!
//! Each test environment (`Env` in shared/tests and pam-module/tests, `Server` and `Site` in
//! the e2e suite) implements [`Fixtures`] with the three things the fixtures need from it (its
//! core, the context its set-up calls are made in, its folder); the rest comes from here.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use stepgate_core::audit::{AuditFilter, AuditRecord};
use stepgate_core::config::Config;
use stepgate_core::time::ManualClock;
use stepgate_core::users::{NewUser, Role, User};
use stepgate_core::{Core, ProviderType, RequestContext, Source};

/// Every fixture user's password.
pub const PASSWORD: &str = "correct horse battery";
/// The phone of users whose environment gives them one ([`Fixtures::new_user`]).
pub const PHONE: &str = "+15551231234";

/// A realistic fixed start time for a manual clock (2027-01-15), so tests cross time
/// boundaries deterministically.
pub const T0: i64 = 1_800_000_000;

/// Opens a core on the config `text` (paths in it relative to `dir`) with `clock`; a bad config
/// fails the test and shows it.
pub async fn open_core(text: &str, dir: &Path, clock: Arc<ManualClock>) -> Core {
    let config = Config::parse(text, "test.toml", Vec::new(), Some(dir))
        .unwrap_or_else(|e| panic!("test config: {e}\n{text}"));
    Core::open_with_clock(config, clock)
        .await
        .expect("open core")
}

/// A user NAME with password [`PASSWORD`], email NAME@example.com, role user, and no phone or
/// display name (an environment's [`Fixtures::new_user`] may add them).
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.com"),
        phone: None,
        display_name: None,
        role: Role::User,
        password: Some(PASSWORD.into()),
    }
}

/// Creates `new` on `core`; a failure fails the test.
pub async fn create_user(core: &Core, ctx: &RequestContext, new: NewUser) -> User {
    core.create_user(ctx, new).await.expect("create user")
}

/// The bytes of a base32 TOTP secret.
pub fn secret_bytes(base32: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(base32.to_string())
        .to_bytes()
        .expect("valid base32")
}

/// The six-digit TOTP code (SHA-1, 30 s) for `secret` at Unix time `at`.
pub fn totp_at(secret: &[u8], at: i64) -> String {
    stepgate_core::totp::code_at(secret, stepgate_core::totp::Algorithm::SHA1, 6, at as u64)
}

/// The code in the newest message to `to` in a development SMS file sink (one JSON object a
/// line, `to` and `message`).
pub fn last_sms_code_in(log: &Path, to: &str) -> String {
    let text = std::fs::read_to_string(log).expect("the SMS file sink exists");
    let line = text
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .find(|v| v["to"] == to)
        .unwrap_or_else(|| panic!("no SMS to {to} in {text}"));
    crate::digits_in(line["message"].as_str().expect("message"), 6)
}

/// How many messages a development SMS file sink holds (0 before the first).
pub fn sms_count_in(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// `user`'s audit events, oldest first (at most 1000).
pub async fn events_of(core: &Core, user: &User) -> Vec<AuditRecord> {
    let f = AuditFilter {
        user_id: Some(user.id.clone()),
        limit: 1000,
        ..Default::default()
    };
    let mut v = stepgate_core::audit::list(core.db().pool(), &f)
        .await
        .expect("read the audit log");
    v.reverse();
    v
}

/// A test environment with a core whose config has `[sms] kind = "file"`, `path = "sms.log"`
/// (relative to [`Fixtures::dir`]). The provided methods are the shared fixtures; an
/// environment implements the first two (and [`Fixtures::setup_ctx`] or [`Fixtures::new_user`]
/// when its set-up differs).
///
/// An inherent method of the same name wins over a provided one (`Server::totp_user` provisions
/// through the CLI, as an administrator of SSH-only users does).
pub trait Fixtures: Sync {
    /// The core the fixtures act on.
    fn core(&self) -> &Core;
    /// The folder the config lives in; the SMS file sink writes `sms.log` there.
    fn dir(&self) -> &Path;

    /// The context the set-up calls are made in (it is what their audit events record): an
    /// administrator's unless overridden.
    fn setup_ctx(&self) -> RequestContext {
        RequestContext::new(Source::Admin)
    }

    /// The user [`Fixtures::user`] creates for NAME: [`new_user`] unless overridden.
    fn new_user(&self, name: &str) -> NewUser {
        new_user(name)
    }

    /// A user NAME ([`Fixtures::new_user`]) with no second factor yet.
    fn user(&self, name: &str) -> impl Future<Output = User> + Send {
        let (new, ctx) = (self.new_user(name), self.setup_ctx());
        async move { create_user(self.core(), &ctx, new).await }
    }

    /// Provisions TOTP for `user` through the core; returns the base32 secret.
    fn totp_secret(&self, user: &User) -> impl Future<Output = String> + Send {
        let ctx = self.setup_ctx();
        async move {
            self.core()
                .provision_totp(&ctx, user)
                .await
                .expect("provision TOTP")
                .secret_base32
        }
    }

    /// A user NAME with TOTP; returns the user and the secret's bytes.
    fn totp_user(&self, name: &str) -> impl Future<Output = (User, Vec<u8>)> + Send {
        async move {
            let u = self.user(name).await;
            let secret = secret_bytes(&self.totp_secret(&u).await);
            (u, secret)
        }
    }

    /// Enrols SMS for `user` the real way: a code sent to the file sink, read back and
    /// verified.
    fn add_sms(&self, user: &User, phone: &str) -> impl Future<Output = ()> + Send {
        let ctx = self.setup_ctx();
        async move {
            let core = self.core();
            core.begin_sms_enrolment(&ctx, user, phone)
                .await
                .expect("begin SMS enrolment");
            let code = self.last_sms_code(phone);
            core.finish_enrolment(&ctx, user, ProviderType::Sms, &code)
                .await
                .expect("finish SMS enrolment");
        }
    }

    /// The development SMS file sink's output.
    fn sms_log(&self) -> PathBuf {
        self.dir().join("sms.log")
    }

    /// The code in the newest SMS sent to `to`.
    fn last_sms_code(&self, to: &str) -> String {
        last_sms_code_in(&self.sms_log(), to)
    }

    /// How many SMS were sent so far.
    fn sms_count(&self) -> usize {
        sms_count_in(&self.sms_log())
    }

    /// `user`'s audit events, oldest first.
    fn events(&self, user: &User) -> impl Future<Output = Vec<AuditRecord>> + Send {
        async move { events_of(self.core(), user).await }
    }
}
