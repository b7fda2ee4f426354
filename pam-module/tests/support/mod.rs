//! A real core (SQLite in a temporary folder, SMS file sink, manual clock) for driving the
//! module's login flow in-process with a scripted conversation. The fixtures (users, TOTP, SMS
//! enrolment, the audit log) are the workspace's test kit's (tests/src/fixtures.rs).
#![allow(dead_code)]

use pam_stepgate::run::Request;
use pam_stepgate::{Args, Outcome, Scripted};
use std::path::Path;
use std::sync::Arc;
use stepgate_core::time::{Clock, ManualClock};
use stepgate_core::users::User;
use stepgate_core::{Core, RequestContext, Source};
pub use stepgate_tests::fixtures::{Fixtures, PASSWORD, T0};

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
    let clock = Arc::new(ManualClock::new(T0));
    let core = stepgate_tests::fixtures::open_core(&text, dir.path(), clock.clone()).await;
    Env { core, clock, dir }
}

/// Users without a phone, created by an administrator.
impl Fixtures for Env {
    fn core(&self) -> &Core {
        &self.core
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Env {
    /// [`Fixtures::add_sms`], then the clock moved past the send period so a login may send
    /// at once.
    pub async fn add_sms_and_wait(&self, user: &User, phone: &str) {
        self.add_sms(user, phone).await;
        self.clock.advance(60);
    }

    pub fn totp_now(&self, secret: &[u8]) -> String {
        stepgate_tests::fixtures::totp_at(secret, self.clock.now())
    }

    pub async fn reload(&self, name: &str) -> User {
        self.core.require_user(name).await.expect("user")
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
