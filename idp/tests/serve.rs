//! The real `stepgate` binary, run as a new user would run it: the README's
//! `stepgate serve` in an empty folder (it writes `./stepgate.toml`, keeps its data under
//! `./data/`, creates `admin` and prints its one-time password, logs the issuer and how long
//! start-up took), sign-in as that admin through the login page, and a clean exit on SIGTERM.
//! Also `stepgate --config PATH serve`, a configuration typo that stops start-up naming the
//! key, and the audit events of the admin commands.
//!
//! Only the listen address is overridden (`STEPGATE_SERVER__LISTEN`/`__ISSUER`), to a free
//! port, so tests can run side by side.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use scraper::{Html, Selector};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stepgate");
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// `stepgate ARGS` in `dir`, with none of the caller's `STEPGATE_*` variables (so the test
/// sees what a new user sees) plus `env`.
fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("STEPGATE_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// A running `stepgate serve`; its output is collected as it comes.
struct Serve {
    child: Child,
    base: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    spawned: Instant,
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut t = sink.lock().unwrap_or_else(|e| e.into_inner());
            t.push_str(&line);
            t.push('\n');
        }
    });
    text
}

impl Serve {
    /// Starts `stepgate [--config PATH] serve` in `dir` on a free port.
    fn start(dir: &Path, config: Option<&Path>) -> Serve {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<&str> = Vec::new();
        let config_arg;
        if let Some(c) = config {
            config_arg = c.to_str().expect("utf-8 path").to_string();
            args.extend(["--config", config_arg.as_str()]);
        }
        args.push("serve");
        let mut child = command(
            dir,
            &args,
            &[
                ("STEPGATE_SERVER__LISTEN", listen.as_str()),
                ("STEPGATE_SERVER__ISSUER", base.as_str()),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let stdout = collect(child.stdout.take().expect("piped stdout"));
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        Serve {
            child,
            base,
            stdout,
            stderr,
            spawned: Instant::now(),
        }
    }

    fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Polls `/readyz` until it answers 200; returns how long that took from the spawn.
    async fn ready(&mut self) -> Duration {
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "stepgate serve exited ({status}) before it was ready\nstdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            if let Ok(resp) = http.get(self.url("/readyz")).send().await {
                if resp.status() == StatusCode::OK {
                    return self.spawned.elapsed();
                }
            }
            assert!(
                self.spawned.elapsed() < START_TIMEOUT,
                "stepgate serve was not ready within {START_TIMEOUT:?}\nstderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to end.
    async fn terminate(mut self) -> (ExitStatus, String) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test spawned and still owns (not yet waited for).
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the readers drain what the process wrote last.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return (status, self.stderr());
                }
                Ok(None) => {
                    assert!(
                        Instant::now() < deadline,
                        "stepgate serve did not stop within 20 s of SIGTERM\nstderr:\n{}",
                        self.stderr()
                    );
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => panic!("wait for stepgate serve: {e}"),
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one-time password `serve` printed for `admin`.
fn admin_password(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find(|l| l.contains("one-time password"))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_string)
}

/// The value of each input of the page's first form with a `username` input, and its action.
fn login_form(base: &str, html: &str) -> (String, Vec<(String, String)>) {
    let doc = Html::parse_document(html);
    let form_sel = Selector::parse("form").expect("selector");
    let input_sel = Selector::parse("input").expect("selector");
    for form in doc.select(&form_sel) {
        let fields: Vec<(String, String)> = form
            .select(&input_sel)
            .filter_map(|i| {
                let name = i.value().attr("name")?;
                Some((
                    name.to_string(),
                    i.value().attr("value").unwrap_or("").to_string(),
                ))
            })
            .collect();
        if fields.iter().any(|(n, _)| n == "username") {
            let action = form.value().attr("action").unwrap_or("/login");
            let action = if action.starts_with('/') {
                format!("{base}{action}")
            } else if action.is_empty() {
                format!("{base}/login")
            } else {
                action.to_string()
            };
            return (action, fields);
        }
    }
    panic!("no login form on the page: {html}")
}

/// Signs in through the login page as a browser would; returns the home page's HTML.
async fn sign_in(base: &str, username: &str, password: &str) -> (StatusCode, String) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("http client");
    let page = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("login page");
    let (action, mut fields) = login_form(base, &html);
    assert!(
        fields.iter().any(|(n, v)| n == "csrf" && !v.is_empty()),
        "the login form carries a CSRF token"
    );
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "username" => *value = username.to_string(),
            "password" => *value = password.to_string(),
            _ => {}
        }
    }
    if !fields.iter().any(|(n, _)| n == "password") {
        fields.push(("password".into(), password.to_string()));
    }
    let resp = browser
        .post(action)
        .form(&fields)
        .send()
        .await
        .expect("POST /login");
    let status = resp.status();
    (status, resp.text().await.expect("page"))
}

fn text_of(html: &str) -> String {
    let doc = Html::parse_document(html);
    let words: Vec<&str> = doc
        .root_element()
        .text()
        .flat_map(str::split_whitespace)
        .collect();
    words.join(" ")
}

/// The milliseconds of the "ready in N ms" log line.
fn reported_ready_ms(stderr: &str) -> Option<u64> {
    let rest = stderr.split("ready in ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_serve_in_an_empty_folder_gives_a_provider_a_new_user_can_sign_in_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut serve = Serve::start(dir.path(), None);
    let took = serve.ready().await;

    // What a new user gets: a development config, the data under ./data/, the admin's
    // one-time password on stdout, the issuer and the start-up time in the log.
    let config = std::fs::read_to_string(dir.path().join("stepgate.toml"))
        .expect("serve wrote ./stepgate.toml");
    assert!(config.contains("[server]"), "{config}");
    assert!(dir.path().join("data").join("stepgate.db").is_file());
    let key = dir.path().join("data").join("secrets.key");
    assert!(key.is_file(), "the secrets key is under ./data/");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secrets key is private: {mode:o}");
    }
    let stdout = serve.stdout();
    let password = admin_password(&stdout)
        .unwrap_or_else(|| panic!("no one-time admin password on stdout:\n{stdout}"));
    assert!(password.len() >= 16, "a strong one-time password");
    let stderr = serve.stderr();
    assert!(
        !stderr.contains(&password),
        "the password is printed, never logged"
    );
    assert!(
        stderr.contains(&serve.base),
        "the log names the issuer {}:\n{stderr}",
        serve.base
    );
    let ready_ms = reported_ready_ms(&stderr).unwrap_or_else(|| {
        panic!("the log reports the start-up time (\"ready in N ms\"):\n{stderr}")
    });
    assert!(
        u128::from(ready_ms) <= took.as_millis(),
        "reported {ready_ms} ms, but /readyz answered {took:?} after the spawn"
    );
    // A debug build hashes the admin's password slowly; a release build is ready well under
    // a second.
    assert!(took < Duration::from_secs(30), "ready after {took:?}");

    // Discovery names the (overridden) issuer exactly.
    let discovery: serde_json::Value = reqwest::get(serve.url("/.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], serve.base.as_str());

    // The admin signs in through the login page with the printed password, and — the secure
    // default — is sent to set up a second factor first: no session exists yet.
    let (status, html) = sign_in(&serve.base, "admin", &password).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&html));
    let text = text_of(&html);
    assert!(text.contains("Set up two-factor authentication"), "{text}");
    assert!(
        !text.contains("Sign out"),
        "no session before enrolment: {text}"
    );
    let (status, html) = sign_in(&serve.base, "admin", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text_of(&html).contains("Invalid username or password"));

    // SIGTERM: a clean, logged exit.
    let (status, stderr) = serve.terminate().await;
    assert!(status.success(), "exit after SIGTERM: {status}\n{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");

    // A restart keeps the data: no second admin, no new password.
    let mut again = Serve::start(dir.path(), None);
    again.ready().await;
    assert_eq!(admin_password(&again.stdout()), None, "{}", again.stdout());
    let (status, _) = sign_in(&again.base, "admin", &password).await;
    assert_eq!(status, StatusCode::OK, "the first password still works");
    let (status, stderr) = again.terminate().await;
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_the_config_given_and_a_typo_stops_start_up_naming_the_key() {
    let root = tempfile::tempdir().expect("temp dir");
    let cwd = root.path().join("elsewhere");
    let etc = root.path().join("etc");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    std::fs::create_dir_all(&etc).expect("mkdir");
    let config = etc.join("custom.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:1\"\nissuer = \"http://127.0.0.1:1\"\n\
         [database]\nurl = \"sqlite://db/custom.db\"\n\
         [secrets]\nkey_file = \"custom.key\"\n\
         [password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
    )
    .expect("write config");

    let mut serve = Serve::start(&cwd, Some(&config));
    serve.ready().await;
    assert!(
        etc.join("db").join("custom.db").is_file(),
        "data next to PATH"
    );
    assert!(etc.join("custom.key").is_file());
    assert!(
        !cwd.join("stepgate.toml").exists() && !cwd.join("data").exists(),
        "--config PATH writes nothing in the working directory"
    );
    let password = admin_password(&serve.stdout()).expect("admin password");
    let (status, html) = sign_in(&serve.base, "admin", &password).await;
    assert_eq!(status, StatusCode::OK, "{}", text_of(&html));
    let (status, stderr) = serve.terminate().await;
    assert!(status.success(), "{stderr}");

    // A misspelt key: start-up fails at once, naming `server.listn`, and creates nothing.
    let bad_dir = root.path().join("bad");
    std::fs::create_dir_all(&bad_dir).expect("mkdir");
    let bad = bad_dir.join("stepgate.toml");
    std::fs::write(&bad, "[server]\nlistn = \"127.0.0.1:8080\"\n").expect("write");
    let out = command(
        &cwd,
        &["--config", bad.to_str().expect("utf-8"), "serve"],
        &[],
    )
    .stdin(Stdio::null())
    .output()
    .expect("run stepgate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a typo must stop start-up: {stderr}");
    assert!(stderr.contains("server.listn"), "{stderr}");
    assert!(
        !bad_dir.join("data").exists(),
        "nothing is created when the configuration is wrong"
    );
    // The same through an environment override.
    let out = command(
        &cwd,
        &["--config", config.to_str().expect("utf-8"), "serve"],
        &[("STEPGATE_TWOFA__MAX_FAILURES", "3")],
    )
    .stdin(Stdio::null())
    .output()
    .expect("run stepgate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("twofa.max_failures"), "{stderr}");
}

fn run_ok(dir: &Path, config: &Path, args: &[&str]) -> String {
    let mut all = vec!["--config", config.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = command(dir, &all, &[])
        .stdin(Stdio::null())
        .output()
        .expect("run stepgate");
    assert!(
        out.status.success(),
        "stepgate {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_are_audited_without_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config: PathBuf = dir.path().join("stepgate.toml");
    std::fs::write(
        &config,
        "[password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
    )
    .expect("write config");
    let added = run_ok(
        dir.path(),
        &config,
        &[
            "client",
            "add",
            "grafana",
            "--redirect-uri",
            "https://grafana.example.com/login/generic_oauth",
        ],
    );
    let first_secret = added
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .expect("a secret")
        .to_string();
    let rotated = run_ok(dir.path(), &config, &["client", "rotate-secret", "grafana"]);
    let second_secret = rotated
        .split_whitespace()
        .last()
        .expect("a secret")
        .to_string();
    let keys = run_ok(dir.path(), &config, &["keys", "rotate"]);
    run_ok(dir.path(), &config, &["client", "remove", "grafana"]);

    let core =
        stepgate_core::Core::open(stepgate_core::config::Config::load(&config).expect("config"))
            .await
            .expect("open the database");
    let log = stepgate_core::audit::list(
        core.db().pool(),
        &stepgate_core::audit::AuditFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .expect("audit log");
    let kinds: Vec<&str> = log.iter().rev().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "client_created",
            "client_secret_rotated",
            "signing_key_rotated",
            "client_removed"
        ],
        "{log:?}"
    );
    for e in &log {
        assert_eq!(e.source, "admin", "{e:?}");
        assert_eq!(e.service.as_deref(), Some("cli"), "{e:?}");
        let detail = e.detail.clone().unwrap_or_default();
        assert!(detail.contains("grafana") || e.event == "signing_key_rotated");
        assert!(
            !detail.contains(&first_secret) && !detail.contains(&second_secret),
            "no secret in the audit log: {e:?}"
        );
    }
    // The rotation names the new keys, as `keys rotate` printed them.
    let rotation = log
        .iter()
        .find(|e| e.event == "signing_key_rotated")
        .and_then(|e| e.detail.clone())
        .unwrap_or_default();
    for line in keys.lines() {
        let kid = line.split_whitespace().last().unwrap_or("?");
        assert!(rotation.contains(kid), "{rotation} / {keys}");
    }
    core.close().await;
}
