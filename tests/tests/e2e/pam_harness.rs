//! Running `pam_stepgate.so` for real: a service file in /etc/pam.d, Debian's `pamtester` as
//! the PAM application (Linux-PAM loads the module into it), and a driver that answers its
//! prompts one at a time, as a person at a terminal would.
//!
//! pamtester talks through libpam_misc's `misc_conv`: prompts and `PAM_ERROR_MSG` go to stderr
//! (unbuffered), `PAM_TEXT_INFO` to stdout (buffered until exit when it is a pipe), and each
//! answer is one `read` of stdin. So the driver waits for a prompt on stderr before it writes
//! the answer; writing every answer at once would hand them all to the first prompt.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepgate_core::config::Config;
use stepgate_core::time::{Clock, ManualClock, SystemClock};
use stepgate_core::{Core, RequestContext, Source};
// The fixtures (users, TOTP, SMS enrolment, the audit log) are the workspace's test kit's
// (tests/src/fixtures.rs).
pub use stepgate_tests::fixtures::{Fixtures, PASSWORD};
const PAMTESTER: &str = "/usr/bin/pamtester";
/// Long enough for a debug build on a busy two-core machine; a hang still fails the test.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Tests that load a module into a PAM application and write /etc/pam.d must run as root, and
/// need pamtester: say so plainly instead of skipping.
pub fn require_root_and_pamtester() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the PAM end-to-end tests must run as root (they write /etc/pam.d); use scripts/test.sh"
    );
    assert!(
        Path::new(PAMTESTER).exists(),
        "{PAMTESTER} is missing: apt-get install pamtester (scripts/test.sh installs it)"
    );
}

/// The module under test: `STEPGATE_PAM_MODULE` if set, else the newest build next to this
/// test binary. Cargo builds it before this binary runs (`pam_stepgate` is a dev-dependency of
/// this crate), into `deps/` beside the binary and, after `cargo build -p pam_stepgate`, one
/// folder up.
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("STEPGATE_PAM_MODULE") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "STEPGATE_PAM_MODULE={} does not exist",
            p.display()
        );
        return p;
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("deps folder");
    let candidates = [
        deps.join("libpam_stepgate.so"),
        deps.parent()
            .map(|d| d.join("libpam_stepgate.so"))
            .unwrap_or_default(),
    ];
    candidates
        .iter()
        .filter_map(|p| Some((std::fs::metadata(p).ok()?.modified().ok()?, p.clone())))
        .max()
        .map(|(_, p)| p)
        .unwrap_or_else(|| {
            panic!(
                "libpam_stepgate.so not found at {candidates:?}: build it with \
                 `cargo build -p pam_stepgate` (or set STEPGATE_PAM_MODULE)"
            )
        })
}

/// A service file in /etc/pam.d with a unique name, removed when dropped (also when the test
/// fails, since a panic unwinds through it).
pub struct Service {
    pub name: String,
    path: PathBuf,
}

impl Service {
    /// `lines` may use `{module}` for the module's absolute path.
    pub fn new(lines: &[String]) -> Service {
        let name = format!(
            "stepgate-e2e-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let path = Path::new("/etc/pam.d").join(&name);
        let module = module_path();
        let text: String = lines
            .iter()
            .map(|l| format!("{}\n", l.replace("{module}", &module.display().to_string())))
            .collect();
        std::fs::write(&path, text).expect("write a service file in /etc/pam.d");
        Service { name, path }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A configuration in a root-only temporary folder, and a core on the same database for
/// setting up users and for checking what the other door sees.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub core: Core,
    /// The set-up core's clock: two minutes behind, so the SMS enrolment's send does not hold
    /// back the login's send (`min_verification_code_send_period`).
    pub clock: Arc<ManualClock>,
}

pub fn admin() -> RequestContext {
    RequestContext::new(Source::Admin)
}

pub fn unix_now() -> i64 {
    SystemClock.now()
}

impl Site {
    /// `db_url` None: SQLite in the folder. `twofa` adds `[twofa]` keys.
    pub async fn new(db_url: Option<String>, twofa: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        // tempfile creates it 0700, owned by the (root) test process: what the module demands.
        let db_url = db_url
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("stepgate.db").display()));
        let text = format!(
            "[database]\nurl = \"{db_url}\"\n\
             [password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\
             [sms]\nkind = \"file\"\npath = \"sms.log\"\n\
             [twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n\
             min_verification_code_send_period = 5\n{twofa}\n"
        );
        let config_path = dir.path().join("stepgate.toml");
        std::fs::write(&config_path, &text).expect("write config");
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod config");
        let config = Config::load(&config_path).expect("test config");
        let clock = Arc::new(ManualClock::new(unix_now() - 120));
        let core = Core::open_with_clock(config, clock.clone())
            .await
            .expect("open the set-up core");
        Site {
            dir,
            config_path,
            core,
            clock,
        }
    }

    /// `auth` (and `account`) lines for the module with this site's config and `extra` args.
    pub fn lines(&self, extra: &str) -> Vec<String> {
        let args = format!("config={} {extra}", self.config_path.display());
        vec![
            format!("auth required {{module}} {args}"),
            format!("account required {{module}} {args}"),
        ]
    }
}

/// Users without a phone, created by an administrator.
impl Fixtures for Site {
    fn core(&self) -> &Core {
        &self.core
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The TOTP code for `secret` at the real time plus `offset` seconds.
pub fn totp(secret: &[u8], offset: i64) -> String {
    stepgate_tests::fixtures::totp_at(secret, unix_now() + offset)
}

/// The TOTP code for `secret` at the set-up core's (behind) clock, for the web door's calls.
pub fn totp_for_core(site: &Site, secret: &[u8]) -> String {
    stepgate_tests::fixtures::totp_at(secret, site.clock.now())
}

/// A code that is certainly not the current one.
pub fn wrong_code(secret: &[u8]) -> String {
    let near: Vec<String> = (-2..=2).map(|s| totp(secret, s * 30)).collect();
    (0..10)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .expect("some repeated-digit code differs from five TOTP codes")
}

enum Chunk {
    Out(Vec<u8>),
    Err(Vec<u8>),
}

/// A running pamtester whose prompts are answered one by one.
pub struct Pamtester {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Chunk>,
    pub stdout: String,
    pub stderr: String,
    /// How much of `stderr` earlier prompts consumed.
    seen: usize,
}

/// What pamtester ended with.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn succeeded(&self) -> bool {
        self.status.code() == Some(0)
    }

    /// pamtester exits 1 with `pamtester: <pam_strerror>` when an operation fails; a crash
    /// (a signal, no exit code) is never acceptable: the host must survive the module.
    pub fn failed_with(&self, pam_message: &str) -> bool {
        self.status.code() == Some(1) && self.said(&format!("pamtester: {pam_message}"))
    }

    /// pamtester's own report lines go to stdout on success and stderr on failure.
    pub fn said(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }

    /// Nothing but the conversation and pamtester's own lines reached the terminal: no panic
    /// message, no log line from the module.
    pub fn assert_clean(&self) {
        for text in [&self.stdout, &self.stderr] {
            for bad in [
                "panicked",
                "RUST_BACKTRACE",
                "ERROR",
                "WARN",
                "stepgate_core",
            ] {
                assert!(
                    !text.contains(bad),
                    "unexpected {bad:?} in output: {self:?}"
                );
            }
        }
        assert!(
            self.status.code().is_some(),
            "pamtester died from a signal: {self:?}"
        );
    }
}

/// Standard `pam_strerror` texts, as pamtester prints them.
pub mod pam_text {
    pub const AUTH_ERR: &str = "Authentication failure";
    pub const MAXTRIES: &str = "Have exhausted maximum number of retries for service";
    pub const AUTHINFO_UNAVAIL: &str = "Authentication service cannot retrieve authentication info";
    pub const USER_UNKNOWN: &str = "User not known to the underlying authentication module";
    pub const PERM_DENIED: &str = "Permission denied";
    pub const SERVICE_ERR: &str = "Error in service module";
    pub const AUTHENTICATED: &str = "successfully authenticated";
    pub const ACCOUNT_OK: &str = "account management done";
}

/// The terminal a remote login (one with an `rhost`) gives PAM.
pub const SSH_TTY: &str = "pts/7";

impl Pamtester {
    /// Starts `pamtester [-I rhost=… -I tty=…] SERVICE USER OPS…`.
    pub fn start(service: &Service, user: &str, ops: &[&str], rhost: Option<&str>) -> Pamtester {
        let mut cmd = Command::new(PAMTESTER);
        if let Some(h) = rhost {
            // A remote login, as sshd would announce it: where from, and on which terminal.
            cmd.arg(format!("-Irhost={h}"))
                .arg(format!("-Itty={SSH_TTY}"));
        }
        cmd.arg(&service.name)
            .arg(user)
            .args(ops)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start pamtester");
        let (tx, rx) = channel();
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(Chunk::Out(buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 || tx2.send(Chunk::Err(buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        Pamtester {
            stdin: child.stdin.take(),
            child,
            rx,
            stdout: String::new(),
            stderr: String::new(),
            seen: 0,
        }
    }

    fn take(&mut self, c: Chunk) {
        match c {
            Chunk::Out(b) => self.stdout.push_str(&String::from_utf8_lossy(&b)),
            Chunk::Err(b) => self.stderr.push_str(&String::from_utf8_lossy(&b)),
        }
    }

    /// Waits until `prompt` appears on stderr after the previous one.
    pub fn expect(&mut self, prompt: &str) -> &mut Self {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(i) = self.stderr[self.seen..].find(prompt) {
                self.seen += i + prompt.len();
                return self;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(c) => self.take(c),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.child.kill();
                    panic!(
                        "pamtester never asked {prompt:?}\nstderr: {}\nstdout: {}",
                        self.stderr, self.stdout
                    );
                }
            }
        }
    }

    /// Types `answer` and Enter.
    pub fn answer(&mut self, answer: &str) -> &mut Self {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{answer}\n").as_bytes())
            .expect("write to pamtester");
        stdin.flush().expect("flush");
        self
    }

    /// Closes stdin and waits for pamtester to exit.
    pub fn finish(mut self) -> Finished {
        drop(self.stdin.take());
        let deadline = Instant::now() + STEP_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for pamtester") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("pamtester did not exit\nstderr: {}", self.stderr);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Both pipes close at exit; collect what is left.
        while let Ok(c) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.take(c);
        }
        Finished {
            status,
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
        }
    }
}

/// Runs pamtester through a fixed dialogue: each `(prompt, answer)` in turn.
pub fn dialogue(
    service: &Service,
    user: &str,
    ops: &[&str],
    rhost: Option<&str>,
    steps: &[(&str, &str)],
) -> Finished {
    let mut p = Pamtester::start(service, user, ops, rhost);
    for (prompt, answer) in steps {
        p.expect(prompt).answer(answer);
    }
    p.finish()
}
