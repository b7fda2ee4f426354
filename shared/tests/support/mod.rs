//! Shared by the core's integration tests: a fresh `Core` on SQLite or on the PostgreSQL that
//! the test command starts, with a manual clock and an SMS file sink. The fixtures (users,
//! TOTP, SMS codes) and the both-backends macro are the workspace's test kit's
//! (tests/src/fixtures.rs, `stepgate_tests::both_backends!`).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use stepgate_core::config::Config;
use stepgate_core::time::ManualClock;
use stepgate_core::users::{NewUser, User};
use stepgate_core::{Core, RequestContext, Source};
pub use stepgate_tests::both_backends;
pub use stepgate_tests::fixtures::{Fixtures, PHONE, T0};
pub use stepgate_tests::{fresh_db_url, Backend};

pub struct Env {
    pub core: Core,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub config_text: String,
}

pub fn ctx() -> RequestContext {
    RequestContext::new(Source::Oidc).with_remote_addr("127.0.0.1")
}

/// Builds a core from TOML config `extra` (appended to a base with SMS file sink and all
/// providers but EMAIL) on `backend`.
pub async fn env_with(backend: Backend, extra: &str) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = fresh_db_url(backend, dir.path()).await;
    let text = base_config(&db_url, extra);
    open(dir, db_url, text).await
}

pub fn base_config(db_url: &str, extra: &str) -> String {
    let mut text = format!(
        "[database]\nurl = \"{db_url}\"\nmax_connections = 8\n\
         [password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\
         [sms]\nkind = \"file\"\npath = \"sms.log\"\n"
    );
    if !extra.contains("[twofa]") {
        text.push_str(
            "[twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n",
        );
    }
    text.push_str(extra);
    text
}

pub async fn open(dir: tempfile::TempDir, db_url: String, text: String) -> Env {
    let clock = Arc::new(ManualClock::new(T0));
    let core = stepgate_tests::fixtures::open_core(&text, dir.path(), clock.clone()).await;
    Env {
        core,
        clock,
        dir,
        db_url,
        config_text: text,
    }
}

impl Env {
    /// A second core on the same database and key: another process as far as the policy can
    /// tell (its own pool, nothing shared in memory).
    pub async fn second_core(&self) -> Core {
        let config = Config::parse(
            &self.config_text,
            "test.toml",
            Vec::new(),
            Some(self.dir.path()),
        )
        .expect("config");
        Core::open_with_clock(config, self.clock.clone())
            .await
            .expect("open second core")
    }

    /// The TOTP code for `secret_base32` at the clock's time plus `offset` seconds.
    pub fn totp(&self, secret_base32: &str, offset: i64) -> String {
        stepgate_tests::fixtures::totp_at(&base32_decode(secret_base32), self.clock_now() + offset)
    }

    pub fn clock_now(&self) -> i64 {
        use stepgate_core::time::Clock;
        self.clock.now()
    }
}

pub use stepgate_tests::fixtures::secret_bytes as base32_decode;

/// Signs `user` in with the fixtures' password and opens a second-factor challenge; returns
/// its id.
pub async fn login(env: &Env, user: &User) -> String {
    let u = env
        .core
        .first_factor(&ctx(), &user.username, stepgate_tests::fixtures::PASSWORD)
        .await
        .unwrap();
    env.core.open_challenge(&ctx(), &u).await.unwrap().id
}

/// Users with [`PHONE`], created in [`ctx`] (an OpenID Connect request from loopback).
impl Fixtures for Env {
    fn core(&self) -> &Core {
        &self.core
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn setup_ctx(&self) -> RequestContext {
        ctx()
    }

    fn new_user(&self, name: &str) -> NewUser {
        NewUser {
            phone: Some(PHONE.into()),
            ..stepgate_tests::fixtures::new_user(name)
        }
    }
}
