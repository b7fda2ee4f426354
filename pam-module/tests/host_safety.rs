//! What the host process (sshd, login, sudo) is left with after a module call: no thread, no
//! open file or socket. Alone in its own test binary so no other test's threads blur the count.
//! Needs root, like the module: the configuration and key must be root's (scripts/test.sh runs
//! the suite as root).

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pam_stepgate::run::{run, Operation, Request};
use pam_stepgate::{Args, Scripted, Verdict};
use std::time::{Duration, Instant};
use stepgate_core::config::Config;
use stepgate_core::{Core, RequestContext, Source};
use stepgate_tests::fixtures;

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Waits briefly for the count to settle back (a closed SQLite connection's thread exits just
/// after it acknowledges the close).
fn settles_to(dir: &str, want: usize) -> usize {
    let start = Instant::now();
    loop {
        let n = count(dir);
        if n <= want || start.elapsed() > Duration::from_secs(3) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The count once it stopped changing for a moment (the set-up's threads are winding down).
fn stable_count(dir: &str) -> usize {
    let mut last = count(dir);
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(30));
        let n = count(dir);
        if n == last {
            return n;
        }
        last = n;
    }
    last
}

/// Notes how many threads the process has while the module waits for an answer, to show the
/// count does see the module's threads (SQLite runs one per connection).
struct Counting {
    inner: Scripted,
    during: usize,
}

impl pam_stepgate::Conversation for Counting {
    fn ask(
        &mut self,
        prompt: &str,
        echo: bool,
    ) -> Result<zeroize::Zeroizing<String>, pam_stepgate::conversation::ConversationFailed> {
        self.during = self.during.max(count("/proc/self/task"));
        self.inner.ask(prompt, echo)
    }
    fn info(&mut self, text: &str) {
        self.inner.info(text)
    }
    fn error(&mut self, text: &str) {
        self.inner.error(text)
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // the real time the PAM process will read
fn a_call_leaves_no_thread_file_or_socket_behind() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test must run as root (the module refuses non-root configuration): use scripts/test.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("stepgate.toml");
    let text = format!(
        "[database]\nurl = \"sqlite://{}\"\n[password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\
         [twofa]\nproviders = [\"TOTP\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n",
        dir.path().join("stepgate.db").display()
    );
    std::fs::write(&config_path, &text).unwrap();
    // Set up a user with the core on a runtime of its own, gone before counting.
    let secret = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let secret = rt.block_on(async {
            let config = Config::load(&config_path).unwrap();
            let core = Core::open(config).await.unwrap();
            let ctx = RequestContext::new(Source::Admin);
            let u = fixtures::create_user(&core, &ctx, fixtures::new_user("pat")).await;
            let e = core.provision_totp(&ctx, &u).await.unwrap();
            core.close().await;
            fixtures::secret_bytes(&e.secret_base32)
        });
        rt.shutdown_timeout(Duration::from_secs(5));
        secret
    };
    let threads_before = stable_count("/proc/self/task");
    let fds_before = count("/proc/self/fd");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = fixtures::totp_at(&secret, now as i64);
    let args = Args::parse(&[format!("config={}", config_path.display())]).unwrap();
    let request = Request {
        username: "pat".into(),
        service: Some("sshd".into()),
        rhost: None,
        tty: None,
    };
    for (answers, want) in [
        (vec![code], Verdict::Success),
        (vec!["000000".to_string(); 3], Verdict::AuthErr),
    ] {
        let mut conv = Counting {
            inner: Scripted::new(answers),
            during: 0,
        };
        let started = Instant::now();
        let out = run(Operation::Authenticate, &args, &request, &mut conv);
        assert_eq!(out.verdict, want, "{out:?} {:?}", conv.inner.transcript);
        assert!(
            conv.during > threads_before,
            "the database threads should be visible during the call ({} vs {threads_before})",
            conv.during
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let threads = settles_to("/proc/self/task", threads_before);
        assert_eq!(
            threads, threads_before,
            "threads left behind after {want:?}"
        );
        assert_eq!(
            count("/proc/self/fd"),
            fds_before,
            "files or sockets left open after {want:?}"
        );
    }
    let mut conv = Scripted::default();
    let out = run(Operation::Account, &args, &request, &mut conv);
    assert_eq!(out.verdict, Verdict::Success);
    assert_eq!(
        settles_to("/proc/self/task", threads_before),
        threads_before
    );
    assert_eq!(count("/proc/self/fd"), fds_before);
}
