//! An independent, OpenID Certified relying party library — Node's `openid-client` — completes
//! the authorization code flow with PKCE against Stepgate: discovery, the authorization URL
//! (S256, state, nonce), the code exchange with `client_secret_basic`, ID token validation
//! (signature, iss, aud, exp, nonce, ES256) and userinfo; and the same as a public client
//! (PKCE alone, token endpoint auth `none`) with RS256 ID tokens. The library runs as
//! `node tests/node-client/login.mjs`; this test plays the browser (password, then TOTP) and
//! hands the library the callback URL on stdin.
//!
//! The library is installed by `tests/node-client/install.sh` (`npm ci` from the committed
//! package-lock.json), which the test command runs before `cargo test`.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;
use stepgate_core::audit::{self, AuditFilter};
use tokio::sync::mpsc;

/// How long the library may take for one step (discovery, or exchange + userinfo).
const STEP: Duration = Duration::from_secs(60);

fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node-client")
}

/// `node SCRIPT …` in tests/node-client, with its stdout as a stream of lines and its stderr
/// kept for failures.
pub(crate) struct NodeRp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl NodeRp {
    fn start(args: &[&str]) -> NodeRp {
        Self::start_script("login.mjs", args)
    }

    /// `node SCRIPT ARGS` (the npm dependencies and Node 20 are checked first: missing, the
    /// test fails saying how to install them).
    pub(crate) fn start_script(script: &str, args: &[&str]) -> NodeRp {
        let dir = project_dir();
        let installed = dir.join("node_modules").join("openid-client");
        assert!(
            installed.is_dir(),
            "{} is missing: the openid-client test needs its npm dependencies. Install them \
             with `tests/node-client/install.sh` (runs `npm ci --no-audit --no-fund` in \
             tests/node-client); the test command (scripts/test.sh) must run it before \
             `cargo test`",
            installed.display()
        );
        let version = Command::new("node")
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` (Node.js 20 or later must be on PATH): {e}")
            });
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let major: u32 = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(
            major >= 20,
            "openid-client 6 needs Node.js 20 or later; `node --version` says {version:?}"
        );
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` (Node.js 20 or later must be on PATH): {e}")
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        NodeRp {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// The library's output ended or stalled: stop it and fail with what it said.
    fn fail(mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        panic!("openid-client {why} (exit: {status:?}); its stderr:\n{stderr}")
    }

    /// The value of the next stdout line that starts with `prefix` (other lines are skipped).
    pub(crate) async fn expect_line(mut self, prefix: &str) -> (NodeRp, String) {
        loop {
            match tokio::time::timeout(STEP, self.lines.recv()).await {
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return (self, rest.trim().to_string());
                    }
                }
                Ok(None) => self.fail(&format!("ended before printing {prefix:?}")),
                Err(_) => self.fail(&format!("printed no {prefix:?} within {STEP:?}")),
            }
        }
    }

    pub(crate) fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to openid-client's stdin");
        stdin.flush().expect("flush openid-client's stdin");
    }

    /// Waits for a successful exit.
    pub(crate) async fn finish(mut self) {
        drop(self.stdin.take());
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return,
                Ok(Some(status)) => self.fail(&format!("exited with {status}")),
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(None) => self.fail("did not exit"),
                Err(e) => self.fail(&format!("could not be waited for: {e}")),
            }
        }
    }
}

impl Drop for NodeRp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn events(server: &Server, user_id: Option<&str>, event: &str) -> Vec<audit::AuditRecord> {
    audit::list(
        server.core.db().pool(),
        &AuditFilter {
            user_id: user_id.map(str::to_string),
            event: Some(event.into()),
            limit: 100,
            ..AuditFilter::default()
        },
    )
    .await
    .expect("read the audit log")
}

/// How the relying party is registered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Registered {
    /// A confidential client (`client_secret_basic`), ES256 ID tokens (the default).
    Confidential,
    /// A public client (no secret: PKCE alone), RS256 ID tokens (`--id-token-alg RS256`).
    PublicRs256,
}

async fn openid_client_completes_the_code_flow(backend: Backend, registered: Registered) {
    let server = Server::start(backend).await;
    let (secret, alg) = match registered {
        Registered::Confidential => {
            let secret = server
                .client("node-app", &["--name", "Node App"])
                .await
                .expect("a confidential client has a secret");
            (secret, "ES256")
        }
        Registered::PublicRs256 => {
            let none = server
                .client(
                    "node-app",
                    &["--name", "Node App", "--public", "--id-token-alg", "RS256"],
                )
                .await;
            assert_eq!(none, None, "a public client has no secret");
            ("-".to_string(), "RS256")
        }
    };
    let (alice, totp) = server.totp_user("alice").await;

    let rp = NodeRp::start(&[&server.issuer, "node-app", &secret, REDIRECT_URI, alg]);
    let (mut rp, auth_url) = rp.expect_line("authorization_url:").await;
    let auth = url::Url::parse(&auth_url).expect("an authorization URL");
    let param = |name: &str| {
        auth.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(auth.path(), "/authorize", "{auth}");
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(param("code_challenge").is_some() && param("nonce").is_some());
    let state = param("state").expect("state");

    // The browser: the password, then the authenticator app, and only then a code.
    let browser = Browser::new();
    let login = browser.get(&auth_url).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text());
    assert!(login.text().contains("Node App"), "{}", login.text());
    let page = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", "alice")
                .set("password", PASSWORD),
        )
        .await;
    assert!(
        page.text()
            .contains("Enter the 6-digit code from your authenticator app"),
        "{}",
        page.text()
    );
    assert_eq!(page.location, None, "no code before the second factor");
    let done = browser
        .submit(
            page.form_with("code", None)
                .set("code", &server.totp(&totp)),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let callback = done
        .url
        .join(done.location.as_deref().expect("a redirect"))
        .expect("callback URL");
    assert!(callback.as_str().starts_with(REDIRECT_URI), "{callback}");
    assert_eq!(done.redirect_param("state"), Some(state));
    let code = done.redirect_param("code").expect("code");

    rp.send_line(callback.as_str());
    let (rp, result) = rp.expect_line("result:").await;
    rp.finish().await;
    let out: Value = serde_json::from_str(&result).expect("JSON summary");

    let claims = &out["claims"];
    assert_eq!(out["issuer"], server.issuer.as_str(), "{out}");
    assert_eq!(out["id_token_alg"], alg, "{out}");
    assert_eq!(claims["iss"], server.issuer.as_str(), "{out}");
    assert_eq!(claims["sub"], alice.id.as_str(), "{out}");
    assert_eq!(claims["aud"], serde_json::json!(["node-app"]), "{out}");
    assert_eq!(claims["azp"], "node-app", "{out}");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "otp", "mfa"]),
        "{out}"
    );
    assert_eq!(claims["acr"], "urn:stepgate:acr:2fa", "{out}");
    assert!(claims["auth_time"].is_i64(), "{out}");
    assert!(
        claims["sid"].as_str().is_some_and(|s| !s.is_empty()),
        "{out}"
    );
    assert_eq!(claims["email"], "alice@example.com", "{out}");
    assert_eq!(claims["preferred_username"], "alice", "{out}");
    assert!(
        out["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        "{out}"
    );
    assert_eq!(
        out["has_refresh_token"], false,
        "no offline_access, no refresh"
    );
    let info = &out["userinfo"];
    assert_eq!(info["sub"], alice.id.as_str(), "{out}");
    assert_eq!(info["email"], "alice@example.com", "{out}");
    assert_eq!(info["name"], "alice Example", "{out}");

    // The login is audited as completed through the OIDC door, with its provider and client.
    let completed = events(&server, Some(&alice.id), "login_completed").await;
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].source, "oidc");
    assert_eq!(completed[0].provider.as_deref(), Some("TOTP"));
    let detail = completed[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("client=node-app"), "{detail}");
    assert!(detail.contains("acr=urn:stepgate:acr:2fa"), "{detail}");

    // The code openid-client spent works once: replaying it fails, and the reuse is audited
    // (without the code).
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let mut replay = rp_http().post(server.url("/token"));
    match registered {
        Registered::Confidential => replay = replay.basic_auth("node-app", Some(&secret)),
        Registered::PublicRs256 => form.push(("client_id", "node-app")),
    }
    let replay = replay.form(&form).send().await.expect("token request");
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let body: Value = replay.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let reuse = events(&server, Some(&alice.id), "token_reuse_detected").await;
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    let detail = reuse[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("client=node-app"), "{detail}");
    assert!(!detail.contains(&code), "the audit log never holds a code");

    // Signing out ends the session, and that is audited too.
    let sid = claims["sid"].as_str().unwrap_or_default().to_string();
    let out_page = browser.get(&server.url("/")).await;
    let logout = out_page.form_with("csrf", None);
    assert!(logout.action.path().ends_with("/logout"), "{:?}", logout);
    let signed_out = browser.submit(logout).await;
    assert_eq!(signed_out.status, StatusCode::OK, "{}", signed_out.text());
    let ended = events(&server, Some(&alice.id), "session_ended").await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    let detail = ended[0].detail.clone().unwrap_or_default();
    assert!(detail.contains(&format!("sid={sid}")), "{detail}");
    server.stop().await;
}

both_backends!(openid_client_completes_the_code_flow_with_pkce, |b| {
    openid_client_completes_the_code_flow(b, Registered::Confidential)
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_as_a_public_client_with_rs256_id_tokens() {
    openid_client_completes_the_code_flow(Backend::Sqlite, Registered::PublicRs256).await;
}
