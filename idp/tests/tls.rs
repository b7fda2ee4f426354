//! The real `stepgate serve` without a reverse proxy in front: HTTPS from `[server] tls_cert`
//! / `tls_key` (HTTP/2 and HTTP/1.1, the certificate re-read on SIGHUP, a broken one keeping
//! the old), start-up refusing a certificate without its key, and `[server] trusted_proxies`
//! deciding whose `X-Forwarded-For` / `Forwarded` reach the audit log.
//!
//! Each test makes its own throw-away CAs with rcgen; the clients trust only the CA named.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Certificate, StatusCode, Version};
use scraper::{Html, Selector};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stepgate");
const START_TIMEOUT: Duration = Duration::from_secs(60);
const FAST_PASSWORDS: &str = "[password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// `stepgate --config CONFIG serve`, with none of the caller's `STEPGATE_*` variables.
fn serve_command(config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--config", config.to_str().expect("utf-8 path"), "serve"]);
    cmd.current_dir(config.parent().expect("a folder"));
    for (name, _) in std::env::vars() {
        if name.starts_with("STEPGATE_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// A CA and a server certificate for 127.0.0.1 it signed, as PEM.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki(name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Stepgate test CA {name}"),
    );
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca.self_signed(&ca_key).expect("CA certificate");
    let key = rcgen::KeyPair::generate().expect("server key");
    let mut leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .expect("server params");
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, format!("stepgate {name}"));
    let cert = leaf
        .signed_by(&key, &ca, &ca_key)
        .expect("server certificate");
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A fresh client (so a fresh connection) that trusts only `ca`.
fn client_trusting(ca: &str, http1_only: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(Certificate::from_pem(ca.as_bytes()).expect("CA PEM"))
        .cookie_store(true)
        .timeout(Duration::from_secs(10));
    if http1_only {
        b = b.http1_only();
    }
    b.build().expect("http client")
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

/// A running `stepgate serve`.
struct Serve {
    child: Child,
    base: String,
    config: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Writes `dir/stepgate.toml` (`[server]` with `server_extra`, fast password hashing) and
    /// starts `stepgate serve` on a free port; `https` sets the issuer's scheme.
    fn start(dir: &Path, https: bool, server_extra: &str) -> Serve {
        let port = free_port();
        let scheme = if https { "https" } else { "http" };
        let base = format!("{scheme}://127.0.0.1:{port}");
        let config = dir.join("stepgate.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nissuer = \"{base}\"\n{server_extra}\n\
                 {FAST_PASSWORDS}"
            ),
        )
        .expect("write config");
        let mut child = serve_command(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        Serve {
            child,
            base,
            config,
            stderr,
        }
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

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "stepgate serve exited ({status})\nstderr:\n{}",
                self.stderr()
            );
        }
    }

    /// Polls `/readyz` with `http` until it answers 200.
    async fn ready(&mut self, http: &reqwest::Client) {
        let started = Instant::now();
        loop {
            self.assert_running();
            if let Ok(resp) = http.get(self.url("/readyz")).send().await {
                if resp.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "stepgate serve was not ready within {START_TIMEOUT:?}\nstderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test spawned and still owns (not yet waited for).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill -{signal} {pid}");
    }

    /// Waits until the log contains `text`.
    async fn logged(&mut self, text: &str) -> String {
        let started = Instant::now();
        loop {
            self.assert_running();
            let stderr = self.stderr();
            if stderr.contains(text) {
                return stderr;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no {text:?} in the log:\n{stderr}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGTERM, and a clean exit.
    async fn terminate(mut self) {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "exit after SIGTERM: {status}");
                    return;
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

    /// The `remote_addr` of the failed sign-in of the unknown user `username`.
    async fn audited_addr(&self, username: &str) -> Option<String> {
        let config = stepgate_core::config::Config::load(&self.config).expect("config");
        let core = stepgate_core::Core::open(config).await.expect("database");
        let log = stepgate_core::audit::list(
            core.db().pool(),
            &stepgate_core::audit::AuditFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("audit log");
        core.close().await;
        let wanted = format!("{username:?}");
        let event = log
            .into_iter()
            .find(|e| e.detail.as_deref().is_some_and(|d| d.contains(&wanted)))
            .unwrap_or_else(|| panic!("no audit event names {username}"));
        event.remote_addr
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts the login form as `username` with a wrong password, sending `headers`; the login
/// fails (and is audited).
async fn failed_sign_in(
    http: &reqwest::Client,
    base: &str,
    username: &str,
    headers: &[(&str, &str)],
) {
    let html = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login")
        .text()
        .await
        .expect("login page");
    let csrf = {
        let doc = Html::parse_document(&html);
        let sel = Selector::parse("input[name=csrf]").expect("selector");
        doc.select(&sel)
            .next()
            .and_then(|i| i.value().attr("value"))
            .expect("a CSRF token on the login page")
            .to_string()
    };
    let mut req = http.post(format!("{base}/login")).form(&[
        ("csrf", csrf.as_str()),
        ("username", username),
        ("password", "not the password"),
    ]);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("POST /login");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

fn write_pair(dir: &Path, p: &Pki) {
    std::fs::write(dir.join("cert.pem"), &p.cert).expect("write cert");
    std::fs::write(dir.join("key.pem"), &p.key).expect("write key");
}

const TLS_FILES: &str = "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_speaks_https_with_h2_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).expect("mkdir");
    let first = pki("one");
    let second = pki("two");
    write_pair(&tls, &first);

    // Paths relative to the configuration file, like every other path in it.
    let mut serve = Serve::start(dir.path(), true, TLS_FILES);
    serve.ready(&client_trusting(&first.ca, false)).await;

    // Discovery over HTTPS; HTTP/2 when the client offers it, HTTP/1.1 when it does not.
    let resp = client_trusting(&first.ca, false)
        .get(serve.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery over HTTPS");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_2, "ALPN picks h2");
    let discovery: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(discovery["issuer"], serve.base.as_str());
    assert!(serve.base.starts_with("https://"));
    let resp = client_trusting(&first.ca, true)
        .get(serve.url("/readyz"))
        .send()
        .await
        .expect("HTTP/1.1 over TLS");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_11);

    // Only a client trusting the server's CA gets through; plain HTTP gets nothing.
    let err = client_trusting(&second.ca, false)
        .get(serve.url("/readyz"))
        .send()
        .await
        .expect_err("a client that does not trust the CA");
    assert!(err.is_connect(), "{err:?}");
    let plain = serve.url("/readyz").replacen("https://", "http://", 1);
    let refused = reqwest::Client::new().get(&plain).send().await;
    assert!(
        refused.map_or(true, |r| !r.status().is_success()),
        "plain HTTP is not served on the TLS port"
    );

    // The peer address still reaches the audit log over TLS.
    failed_sign_in(
        &client_trusting(&first.ca, false),
        &serve.base,
        "tls-peer",
        &[],
    )
    .await;
    assert_eq!(
        serve.audited_addr("tls-peer").await.as_deref(),
        Some("127.0.0.1")
    );

    // A renewed certificate (from another CA) and SIGHUP: new connections get it.
    write_pair(&tls, &second);
    serve.signal(libc::SIGHUP);
    serve.logged("reloaded the TLS certificate").await;
    let resp = client_trusting(&second.ca, false)
        .get(serve.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("the new certificate is served");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_2);
    let err = client_trusting(&first.ca, false)
        .get(serve.url("/readyz"))
        .send()
        .await
        .expect_err("the old certificate is no longer served");
    assert!(err.is_connect(), "{err:?}");

    // A broken file and SIGHUP: a warning, and the certificate in use stays.
    std::fs::write(tls.join("cert.pem"), "this is not a certificate\n").expect("write");
    let third = pki("three");
    std::fs::write(tls.join("key.pem"), &third.key).expect("write");
    serve.signal(libc::SIGHUP);
    let stderr = serve.logged("was not reloaded").await;
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(stderr.contains("server.tls_cert"), "{stderr}");
    for line in first
        .key
        .lines()
        .chain(second.key.lines())
        .chain(third.key.lines())
        .filter(|l| !l.starts_with("-----"))
    {
        assert!(!stderr.contains(line), "no key material in the log");
    }
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    let resp = client_trusting(&second.ca, true)
        .get(serve.url("/readyz"))
        .send()
        .await
        .expect("still the second certificate");
    assert_eq!(resp.status(), StatusCode::OK);
    // A key that does not match the certificate is refused the same way.
    write_pair(&tls, &second);
    std::fs::write(tls.join("key.pem"), &third.key).expect("write");
    serve.signal(libc::SIGHUP);
    let warned = stderr.matches("was not reloaded").count();
    let started = Instant::now();
    while serve.stderr().matches("was not reloaded").count() == warned {
        assert!(started.elapsed() < Duration::from_secs(20), "no warning");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(serve.stderr().contains("server.tls_key"));
    let resp = client_trusting(&second.ca, false)
        .get(serve.url("/readyz"))
        .send()
        .await
        .expect("still the second certificate");
    assert_eq!(resp.status(), StatusCode::OK);

    serve.assert_running();
    serve.terminate().await;
}

/// Runs `stepgate serve` with `dir/stepgate.toml` holding `server`; it must fail. Returns its
/// standard error.
fn refused_start(dir: &Path, server: &str) -> String {
    let config = dir.join("stepgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n{server}\n{FAST_PASSWORDS}",
            free_port()
        ),
    )
    .expect("write config");
    let out = serve_command(&config).output().expect("run stepgate");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{server}: must not start\n{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_without_its_key_or_that_cannot_be_read_stops_start_up() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path();
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("mkdir");
    let p = pki("only");
    write_pair(&tls, &p);

    let stderr = refused_start(dir, "tls_cert = \"tls/cert.pem\"");
    assert!(stderr.contains("server.tls_key"), "{stderr}");
    let stderr = refused_start(dir, "tls_key = \"tls/key.pem\"");
    assert!(stderr.contains("server.tls_cert"), "{stderr}");

    let stderr = refused_start(
        dir,
        "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/none.pem\"",
    );
    assert!(stderr.contains("server.tls_key"), "{stderr}");
    assert!(stderr.contains("none.pem"), "names the file: {stderr}");

    std::fs::write(tls.join("bad.pem"), "garbage\n").expect("write");
    let stderr = refused_start(dir, "tls_cert = \"tls/bad.pem\"\ntls_key = \"tls/key.pem\"");
    assert!(stderr.contains("server.tls_cert"), "{stderr}");
    assert!(stderr.contains("bad.pem"), "names the file: {stderr}");

    let stderr = refused_start(
        dir,
        "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/bad.pem\"",
    );
    assert!(stderr.contains("server.tls_key"), "{stderr}");
    assert!(!stderr.contains("garbage"), "the key file is not quoted");

    assert!(
        !dir.join("data").exists(),
        "nothing is created when the certificate cannot be used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_trusted_proxies_name_the_client_in_the_audit_log() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spoof = [(
        "x-forwarded-for",
        "198.51.100.66, 203.0.113.9", // the left one written by the client itself
    )];

    // The peer (127.0.0.1) is a trusted proxy: the client it forwarded for is recorded.
    let mut serve = Serve::start(
        dir.path(),
        false,
        "trusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\", \"::1\"]",
    );
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("http client");
    serve.ready(&http).await;
    failed_sign_in(&http, &serve.base, "via-xff", &spoof).await;
    failed_sign_in(
        &http,
        &serve.base,
        "via-forwarded",
        &[("forwarded", "for=198.51.100.66, for=\"[2001:db8::7]:4711\"")],
    )
    .await;
    failed_sign_in(&http, &serve.base, "direct", &[]).await;
    assert_eq!(
        serve.audited_addr("via-xff").await.as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(
        serve.audited_addr("via-forwarded").await.as_deref(),
        Some("2001:db8::7")
    );
    assert_eq!(
        serve.audited_addr("direct").await.as_deref(),
        Some("127.0.0.1")
    );
    serve.terminate().await;

    // Not trusted (the default): the headers are ignored, the peer is recorded.
    let mut serve = Serve::start(dir.path(), false, "");
    serve.ready(&http).await;
    failed_sign_in(&http, &serve.base, "untrusted-xff", &spoof).await;
    assert_eq!(
        serve.audited_addr("untrusted-xff").await.as_deref(),
        Some("127.0.0.1")
    );
    serve.terminate().await;

    // A bad entry stops start-up, naming the key and the entry.
    let bad = tempfile::tempdir().expect("temp dir");
    let stderr = refused_start(
        bad.path(),
        "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/33\"]",
    );
    assert!(stderr.contains("server.trusted_proxies"), "{stderr}");
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
    assert!(!bad.path().join("data").exists(), "nothing is created");
}
