//! A real core (SQLite in a temporary folder, SMS file sink, manual clock) for driving the
//! module's login flow in-process with a scripted conversation.
#![allow(dead_code)]

use pam_stepgate::run::Request;
use pam_stepgate::{Args, Outcome, Scripted};
use std::path::PathBuf;
use std::sync::Arc;
use stepgate_core::config::Config;
use stepgate_core::time::{Clock, ManualClock};
use stepgate_core::users::{NewUser, Role, User};
use stepgate_core::{Core, RequestContext, Source};

pub const T0: i64 = 1_800_000_000;
pub const PASSWORD: &str = "correct horse battery";

pub struct Env {
    pub core: Core,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub fn admin_ctx() -> RequestContext {
    RequestContext::new(Source::Admin)
}

/// A core with TOTP, SMS and backup codes offered; `twofa` adds `[twofa]` keys.
pub async fn env(twofa: &str) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\
         [password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\
         [sms]\nkind = \"file\"\npath = \"sms.log\"\n\
         [twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\nmin_verification_code_send_period = 5\n{twofa}\n",
        db = dir.path().join("stepgate.db").display()
    );
    let config = Config::parse(&text, "test.toml", Vec::new(), Some(dir.path()))
        .unwrap_or_else(|e| panic!("test config: {e}\n{text}"));
    let clock = Arc::new(ManualClock::new(T0));
    let core = Core::open_with_clock(config, clock.clone())
        .await
        .expect("open core");
    Env { core, clock, dir }
}

impl Env {
    pub async fn user(&self, name: &str) -> User {
        self.core
            .create_user(
                &admin_ctx(),
                NewUser {
                    username: name.into(),
                    email: format!("{name}@example.com"),
                    phone: None,
                    display_name: None,
                    role: Role::User,
                    password: Some(PASSWORD.into()),
                },
            )
            .await
            .expect("create user")
    }

    /// A user with TOTP; returns the user and the secret's bytes.
    pub async fn totp_user(&self, name: &str) -> (User, Vec<u8>) {
        let u = self.user(name).await;
        let e = self
            .core
            .provision_totp(&admin_ctx(), &u)
            .await
            .expect("provision TOTP");
        let secret = totp_rs::Secret::Encoded(e.secret_base32)
            .to_bytes()
            .expect("base32");
        (u, secret)
    }

    /// Enrols SMS for `user` through the real enrolment (code read from the sink), then moves
    /// the clock past the send period so a login may send at once.
    pub async fn add_sms(&self, user: &User, phone: &str) {
        self.core
            .begin_sms_enrolment(&admin_ctx(), user, phone)
            .await
            .expect("begin SMS enrolment");
        let code = self.last_sms_code(phone);
        self.core
            .finish_enrolment(&admin_ctx(), user, stepgate_core::ProviderType::Sms, &code)
            .await
            .expect("finish SMS enrolment");
        self.clock.advance(60);
    }

    pub fn totp_now(&self, secret: &[u8]) -> String {
        stepgate_core::totp::code_at(
            secret,
            stepgate_core::totp::Algorithm::SHA1,
            6,
            self.clock.now() as u64,
        )
    }

    pub fn sms_log(&self) -> PathBuf {
        self.dir.path().join("sms.log")
    }

    pub fn sms_count(&self) -> usize {
        std::fs::read_to_string(self.sms_log())
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// The code in the newest SMS to `to`.
    pub fn last_sms_code(&self, to: &str) -> String {
        let text = std::fs::read_to_string(self.sms_log()).expect("sms log exists");
        let line = text
            .lines()
            .rev()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
            .find(|v| v["to"] == to)
            .unwrap_or_else(|| panic!("no SMS to {to} in {text}"));
        let msg = line["message"].as_str().expect("message").to_string();
        msg.split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .unwrap_or_else(|| panic!("no code in {msg:?}"))
            .to_string()
    }

    pub async fn reload(&self, name: &str) -> User {
        self.core.require_user(name).await.expect("user")
    }

    pub async fn events(&self, user: &User) -> Vec<stepgate_core::audit::AuditRecord> {
        let f = stepgate_core::audit::AuditFilter {
            user_id: Some(user.id.clone()),
            limit: 1000,
            ..Default::default()
        };
        let mut v = stepgate_core::audit::list(self.core.db().pool(), &f)
            .await
            .expect("audit");
        v.reverse();
        v
    }
}

pub fn request(user: &str) -> Request {
    Request {
        username: user.into(),
        service: Some("sshd".into()),
        rhost: Some("192.0.2.7".into()),
        tty: None,
    }
}

/// Runs account management on `env`'s core with no module arguments.
pub async fn account(env: &Env, user: &str, conv: &mut Scripted) -> Outcome {
    let args = Args::default();
    let req = request(user);
    pam_stepgate::flow::account(&env.core, &req.context(&args), &args, user, conv).await
}

pub fn args(list: &[&str]) -> Args {
    Args::parse(list).expect("module arguments")
}

/// Runs the authentication flow on `env`'s core, as `run` does after opening it.
pub async fn authenticate(env: &Env, args: &Args, user: &str, conv: &mut Scripted) -> Outcome {
    let req = request(user);
    pam_stepgate::flow::authenticate(&env.core, &req.context(args), args, user, conv).await
}
