//! Shared by the core's integration tests: a fresh `Core` on SQLite or on the PostgreSQL that
//! the test command starts, with a manual clock and an SMS file sink.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use stepgate_core::config::Config;
use stepgate_core::time::ManualClock;
use stepgate_core::users::{NewUser, Role, User};
use stepgate_core::{Core, RequestContext, Source};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Env {
    pub core: Core,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub config_text: String,
}

/// A realistic fixed start time (2027-01-15), so tests cross time boundaries deterministically.
pub const T0: i64 = 1_800_000_000;

pub fn ctx() -> RequestContext {
    RequestContext::new(Source::Oidc).with_remote_addr("127.0.0.1")
}

/// A new, empty database URL for this backend.
pub async fn fresh_db_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("stepgate.db").display()),
        Backend::Postgres => stepgate_tests::postgres::fresh_database_url().await,
    }
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
    let config = Config::parse(&text, "test.toml", Vec::new(), Some(dir.path()))
        .unwrap_or_else(|e| panic!("test config: {e}\n{text}"));
    let clock = Arc::new(ManualClock::new(T0));
    let core = Core::open_with_clock(config, clock.clone())
        .await
        .expect("open core");
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

    pub async fn user(&self, name: &str) -> User {
        self.core
            .create_user(
                &ctx(),
                NewUser {
                    username: name.into(),
                    email: format!("{name}@example.com"),
                    phone: Some("+15551231234".into()),
                    display_name: None,
                    role: Role::User,
                    password: Some("correct horse battery".into()),
                },
            )
            .await
            .expect("create user")
    }

    pub fn sms_log(&self) -> PathBuf {
        self.dir.path().join("sms.log")
    }

    /// The code in the newest SMS sent to `to`, from the development file sink.
    pub fn last_sms_code(&self, to: &str) -> String {
        let text = std::fs::read_to_string(self.sms_log()).expect("sms log exists");
        let line = text
            .lines()
            .rev()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
            .find(|v| v["to"] == to)
            .unwrap_or_else(|| panic!("no SMS to {to} in {text}"));
        stepgate_tests::digits_in(line["message"].as_str().expect("message"), 6)
    }

    /// The TOTP code for `secret_base32` at the clock's time plus `offset` seconds.
    pub fn totp(&self, secret_base32: &str, offset: i64) -> String {
        let secret = base32_decode(secret_base32);
        stepgate_core::totp::code_at(
            &secret,
            stepgate_core::totp::Algorithm::SHA1,
            6,
            (self.clock_now() + offset) as u64,
        )
    }

    pub fn clock_now(&self) -> i64 {
        use stepgate_core::time::Clock;
        self.clock.now()
    }
}

pub fn base32_decode(s: &str) -> Vec<u8> {
    totp_rs::Secret::Encoded(s.to_string())
        .to_bytes()
        .expect("valid base32")
}

/// Declares each async test body once and runs it on both backends.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($b:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let $b = $crate::support::Backend::Sqlite; $body })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let $b = $crate::support::Backend::Postgres; $body })*
        }
    };
}
