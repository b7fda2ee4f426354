//! Fleet mode, for real: `stepgate serve` over HTTPS (a throw-away CA made in the test), two
//! registered hosts, each a PAM service file loading `pam_stepgate.so` in remote mode
//! (`url= credential= ca= timeout=`) into Debian's `pamtester`, and one a real `sshd` driven by
//! the real `ssh` client. The hosts hold only their credentials; the server decides. Needs root,
//! pamtester and OpenSSH (scripts/test.sh).

use crate::pam::{harness, sshd};
use crate::support::{both_backends, Backend, Fixtures, Server, PHONE};
use harness::pam_text::*;
use harness::{require_root_and_pamtester, Finished, Pamtester, Service};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::{Error, ProviderType, RequestContext, Source};

const TOTP_PROMPT: &str = "Verification code (authenticator app): ";
/// The deadline the test hosts give each call; short, so the unreachable-server test is quick.
const TIMEOUT: &str = "timeout=3";

/// Runs blocking pamtester work without stalling the in-process server's runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn dialogue(svc: &Service, user: &str, ops: &[&str], steps: &[(&str, &str)]) -> Finished {
    blocking(|| harness::dialogue(svc, user, ops, Some("198.51.100.7"), steps))
}

/// A server over HTTPS with groups `ops` and `dev`, and hosts made through the CLI.
struct Fleet {
    server: Server,
}

impl Fleet {
    async fn start(backend: Backend, twofa: &str) -> Fleet {
        require_root_and_pamtester();
        let extra = format!(
            "[twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n\
             min_verification_code_send_period = 5\n{twofa}\n"
        );
        let server = Server::start_tls(backend, &extra).await;
        for g in ["ops", "dev"] {
            server.cli_ok(&["group", "add", g], "").await;
        }
        Fleet { server }
    }

    fn ca(&self) -> &Path {
        self.server.ca_path.as_deref().expect("a TLS server")
    }

    /// Registers `name` allowing `groups`; writes its credential (the last line printed) to a
    /// root-only file and returns the path.
    async fn host(&self, name: &str, groups: &[&str]) -> PathBuf {
        let mut args = vec!["host", "add", name];
        for g in groups {
            args.extend(["--allow-group", g]);
        }
        let out = self.server.cli_ok(&args, "").await;
        self.write_credential(name, out.lines().last().expect("credential line"))
    }

    fn write_credential(&self, name: &str, line: &str) -> PathBuf {
        assert!(
            line.starts_with("sgh1."),
            "credential is the last word: {line}"
        );
        let path = self.server.dir.path().join(format!("{name}.credential"));
        std::fs::write(&path, format!("{line}\n")).expect("write credential");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    /// `auth` and `account` lines for a host in remote mode.
    fn service(&self, credential: &Path, extra: &str) -> Service {
        let args = format!(
            "url={} credential={} ca={} {TIMEOUT} {extra}",
            self.server.base,
            credential.display(),
            self.ca().display()
        );
        Service::new(&[
            format!("auth required {{module}} {args}"),
            format!("account required {{module}} {args}"),
        ])
    }

    async fn member(&self, user: &str, group: &str) {
        self.server
            .cli_ok(&["group", "add-member", group, user], "")
            .await;
    }

    /// A TOTP user in `group`; returns the base32 secret.
    async fn totp_member(&self, name: &str, group: &str) -> (stepgate_core::users::User, String) {
        let (u, secret) = self.server.totp_user(name).await;
        self.member(name, group).await;
        (u, secret)
    }

    /// The web door's check of a code, as the second-factor page makes it.
    async fn web_check(&self, user: &stepgate_core::users::User, code: &str) -> CheckOutcome {
        let ctx = RequestContext::new(Source::Oidc).with_remote_addr("203.0.113.9");
        let c = self
            .server
            .core
            .open_challenge(&ctx, user)
            .await
            .expect("open a web challenge");
        self.server
            .core
            .check_code(&ctx, &c.id, ProviderType::Totp, code)
            .await
            .expect("web check")
    }

    fn client(&self) -> reqwest::Client {
        let ca = std::fs::read(self.ca()).expect("CA");
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA pem"))
            .build()
            .expect("https client")
    }

    /// Host `bastion` as a real sshd whose PAM stack asks the server (`extra` module
    /// arguments), and root (the Linux account every test machine has) a TOTP member of
    /// its group; returns root's secret, the service and the running sshd.
    async fn bastion(&self, extra: &str) -> (String, Service, sshd::Sshd) {
        let (_, secret) = self.totp_member("root", "ops").await;
        let cred = self.host("bastion", &["ops"]).await;
        let args = format!(
            "url={} credential={} ca={} {TIMEOUT} {extra}",
            self.server.base,
            cred.display(),
            self.ca().display()
        );
        let svc = Service::new(&[
            format!("auth required {{module}} {args}"),
            format!("account required {{module}} {args}"),
            "session required pam_permit.so".into(),
        ]);
        let server = blocking(|| sshd::Sshd::start(&svc));
        (secret, svc, server)
    }

    async fn events(&self, kind: &str) -> Vec<stepgate_core::audit::AuditRecord> {
        crate::support::events(&self.server, kind).await
    }
}

async fn login_is_verified_by_the_server_and_replay_is_global(backend: Backend) {
    let fleet = Fleet::start(backend, "").await;
    let (alice, secret) = fleet.totp_member("alice", "ops").await;
    let a = fleet.service(&fleet.host("host-a", &["ops"]).await, "tries=1");
    let b = fleet.service(&fleet.host("host-b", &["ops"]).await, "tries=1");
    let code = fleet.server.totp(&secret);

    let f = dialogue(
        &a,
        "alice",
        &["authenticate", "acct_mgmt"],
        &[(TOTP_PROMPT, &code)],
    );
    assert!(
        f.succeeded() && f.said(AUTHENTICATED) && f.said(ACCOUNT_OK),
        "{f:?}"
    );
    f.assert_clean();
    // Replay is global: the same code on the other host, then on the web.
    let f = dialogue(&b, "alice", &["authenticate"], &[(TOTP_PROMPT, &code)]);
    assert!(
        f.failed_with(AUTH_ERR) && f.stderr.contains("Wrong code."),
        "{f:?}"
    );
    assert!(matches!(
        fleet.web_check(&alice, &code).await,
        CheckOutcome::WrongCode { .. }
    ));
    // The audit log names the host, the service and where the login came from.
    let ok = fleet.events("code_check_ok").await;
    let ok = ok
        .iter()
        .find(|e| e.user_id.as_deref() == Some(&alice.id))
        .expect("ok event");
    assert_eq!(ok.source, "pam", "{ok:?}");
    assert_eq!(ok.host.as_deref(), Some("host-a"), "{ok:?}");
    assert_eq!(ok.remote_addr.as_deref(), Some("198.51.100.7"), "{ok:?}");
    assert_eq!(ok.service.as_deref(), Some(a.name.as_str()), "{ok:?}");
    assert_eq!(ok.tty.as_deref(), Some(harness::SSH_TTY), "{ok:?}");
    let bad = fleet.events("code_check_bad").await;
    assert_eq!(
        bad.iter()
            .filter(|e| e.host.as_deref() == Some("host-b"))
            .count(),
        1
    );
    // The host was seen, from loopback.
    let shown = fleet.server.cli_ok(&["host", "show", "host-a"], "").await;
    assert!(shown.contains("from 127.0.0.1"), "{shown}");
    // The server's metrics count the host protocol's checks with the web's.
    let metrics = fleet
        .client()
        .get(fleet.server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        r#"stepgate_second_factor_checks_total{outcome="verified",provider="TOTP"} 1"#,
        r#"stepgate_second_factor_checks_total{outcome="wrong_code",provider="TOTP"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

both_backends!(
    fleet_login_is_verified_by_the_server_and_replay_is_global,
    login_is_verified_by_the_server_and_replay_is_global
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_wrong_codes_on_two_hosts_and_the_web_add_up_to_one_lockout() {
    let fleet = Fleet::start(
        Backend::Sqlite,
        "max_verification_failures_before_user_lockout = 3",
    )
    .await;
    let (bob, secret) = fleet.totp_member("bob", "ops").await;
    let a = fleet.service(&fleet.host("host-a", &["ops"]).await, "tries=1");
    let b = fleet.service(&fleet.host("host-b", &["ops"]).await, "tries=1");
    let wrong = harness::wrong_code(
        &totp_rs::Secret::Encoded(secret.clone())
            .to_bytes()
            .expect("base32"),
    );
    let wrong = if wrong == fleet.server.totp(&secret) {
        "000001".into()
    } else {
        wrong
    };
    let f = dialogue(&a, "bob", &["authenticate"], &[(TOTP_PROMPT, &wrong)]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    let f = dialogue(&b, "bob", &["authenticate"], &[(TOTP_PROMPT, &wrong)]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(
        f.stderr.contains("1 more wrong code will lock the account"),
        "{f:?}"
    );
    // The third, on the web, locks the account everywhere.
    let ctx = RequestContext::new(Source::Oidc);
    let c = fleet
        .server
        .core
        .open_challenge(&ctx, &bob)
        .await
        .expect("challenge");
    let r = fleet
        .server
        .core
        .check_code(&ctx, &c.id, ProviderType::Totp, &wrong)
        .await;
    assert!(matches!(r, Err(Error::Locked)), "{r:?}");
    let f = dialogue(&a, "bob", &["authenticate"], &[]);
    assert!(
        f.failed_with(MAXTRIES) && f.stderr.contains("locked"),
        "{f:?}"
    );
    f.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_try_another_way_to_sms_and_a_backup_code() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (carol, secret) = fleet.totp_member("carol", "ops").await;
    let core = &fleet.server.core;
    core.begin_sms_enrolment(&crate::support::ctx(), &carol, PHONE)
        .await
        .expect("SMS enrolment");
    let code = fleet.server.last_sms_code(PHONE);
    core.finish_enrolment(&crate::support::ctx(), &carol, ProviderType::Sms, &code)
        .await
        .expect("finish SMS");
    let backup = core
        .generate_backup_codes(&crate::support::ctx(), &carol)
        .await
        .expect("backup codes");
    drop(secret);
    fleet.server.clock.advance(60); // past the enrolment send's period
    let a = fleet.service(&fleet.host("host-a", &["ops"]).await, "");
    // Enter at the code prompt → the menu → SMS: the server sends it; the code it sent works.
    let f = blocking(|| {
        let mut p = Pamtester::start(&a, "carol", &["authenticate"], None);
        p.expect(TOTP_PROMPT).answer("");
        // Three providers, and approval in the browser as the fourth way.
        p.expect("Choose 1-4: ").answer("2");
        p.expect("Verification code (SMS to +1*****1234): ");
        // The server sent it before the prompt appeared.
        p.answer(&fleet.server.last_sms_code(PHONE));
        p.finish()
    });
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
    // A backup code typed at the TOTP prompt is accepted (once).
    let f = dialogue(&a, "carol", &["authenticate"], &[(TOTP_PROMPT, &backup[0])]);
    assert!(f.succeeded(), "{f:?}");
    let left = core.backup_codes_left(&carol.id).await.expect("count");
    assert_eq!(left as usize, backup.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_groups_decide_who_logs_in_where() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (dave, secret) = fleet.totp_member("dave", "dev").await;
    let a = fleet.service(&fleet.host("host-a", &["ops"]).await, "");
    let b = fleet.service(&fleet.host("host-b", &["ops", "dev"]).await, "");
    // A host with no groups admits no one, and says so when it is added.
    let out = fleet.server.cli_ok(&["host", "add", "host-c"], "").await;
    assert!(out.contains("no one can log in"), "{out}");

    let f = dialogue(&a, "dave", &["authenticate"], &[]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(f.stderr.contains("may not log in on this machine"), "{f:?}");
    let f = dialogue(&a, "dave", &["acct_mgmt"], &[]);
    assert!(f.failed_with(PERM_DENIED), "{f:?}");
    let refused = fleet.events("host_login_refused").await;
    let r = refused.first().expect("a refusal by group is audited");
    assert_eq!(r.user_id.as_deref(), Some(dave.id.as_str()));
    assert_eq!(r.host.as_deref(), Some("host-a"));
    assert_eq!(r.service.as_deref(), Some(a.name.as_str()));
    assert_eq!(r.remote_addr.as_deref(), Some("198.51.100.7"));

    let code = fleet.server.totp(&secret);
    let f = dialogue(
        &b,
        "dave",
        &["authenticate", "acct_mgmt"],
        &[(TOTP_PROMPT, &code)],
    );
    assert!(f.succeeded(), "{f:?}");
    // A group that does not exist is refused by name, and changes nothing.
    let out = fleet
        .server
        .cli(&["host", "allow", "host-a", "nope"], "")
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no group named \"nope\""),
        "{}",
        out.stderr
    );
    let shown = fleet.server.cli_ok(&["host", "show", "host-a"], "").await;
    assert!(!shown.contains("nope"), "{shown}");
    // Allowing dev on A admits dave there too; denying it again refuses him.
    fleet
        .server
        .cli_ok(&["host", "allow", "host-a", "dev"], "")
        .await;
    let f = dialogue(&a, "dave", &["acct_mgmt"], &[]);
    assert!(f.succeeded(), "{f:?}");
    fleet
        .server
        .cli_ok(&["host", "deny", "host-a", "dev"], "")
        .await;
    let f = dialogue(&a, "dave", &["acct_mgmt"], &[]);
    assert!(f.failed_with(PERM_DENIED), "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_removed_rotated_or_exposed_credentials_and_a_wrong_ca_are_refused() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    fleet.totp_member("erin", "ops").await;
    let cred = fleet.host("host-a", &["ops"]).await;
    let old = std::fs::read_to_string(&cred).expect("credential");
    let svc = fleet.service(&cred, "");
    let unavailable = |f: &Finished| {
        f.failed_with(AUTHINFO_UNAVAIL) && f.stderr.contains("verification is unavailable")
    };
    let f = dialogue(&svc, "erin", &["acct_mgmt"], &[]);
    assert!(f.succeeded(), "{f:?}");

    // Rotated: the old credential is refused, the new one works.
    let out = fleet
        .server
        .cli_ok(&["host", "rotate-credential", "host-a"], "")
        .await;
    let f = dialogue(&svc, "erin", &["acct_mgmt"], &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
    fleet.write_credential("host-a", out.lines().last().expect("new credential"));
    let f = dialogue(&svc, "erin", &["acct_mgmt"], &[]);
    assert!(f.succeeded(), "{f:?}");

    // Readable by others: refused before anything is sent.
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let f = dialogue(&svc, "erin", &["authenticate"], &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
    assert!(f.stderr.contains("not set up correctly"), "{f:?}");
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // A CA that did not sign the server's certificate.
    let other = fleet.server.dir.path().join("other-ca.pem");
    std::fs::write(&other, crate::support::test_pki("other").0).expect("write CA");
    let wrong_ca = Service::new(&[format!(
        "auth required {{module}} url={} credential={} ca={} {TIMEOUT}",
        fleet.server.base,
        cred.display(),
        other.display()
    )]);
    let f = dialogue(&wrong_ca, "erin", &["authenticate"], &[]);
    assert!(unavailable(&f), "{f:?}");

    // Removed: refused, and the old credential file too.
    fleet.server.cli_ok(&["host", "remove", "host-a"], "").await;
    let f = dialogue(&svc, "erin", &["authenticate"], &[]);
    assert!(unavailable(&f), "{f:?}");
    assert_ne!(old, std::fs::read_to_string(&cred).expect("credential"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_an_unreachable_or_silent_server_fails_closed_within_the_deadline() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    fleet.totp_member("fay", "ops").await;
    let cred = fleet.host("host-a", &["ops"]).await;
    // A server that accepts connections and never answers: only the deadline ends the call.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("https://{}", silent.local_addr().expect("addr"));
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in silent.incoming().take(1) {
            conns.push(c);
        }
        std::thread::sleep(std::time::Duration::from_secs(20));
        drop(conns);
    });
    let svc = Service::new(&[format!(
        "auth required {{module}} url={silent_url} credential={} ca={} timeout=2",
        cred.display(),
        fleet.ca().display()
    )]);
    let f = dialogue(&svc, "fay", &["authenticate"], &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
    assert!(f.stderr.contains("verification is unavailable"), "{f:?}");
    f.assert_clean();
    drop(held);
    // The real server, stopped: nothing listens on its port any more.
    let svc = fleet.service(&cred, "");
    let _files = fleet.server.dir.clone(); // the credential and CA outlive the server
    fleet.server.stop().await;
    let f = dialogue(&svc, "fay", &["authenticate"], &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
    f.assert_clean();
}

/// The host protocol by hand: a host credential opens no `/api` endpoint, a user's token opens
/// no host endpoint, and one host cannot answer another host's conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_host_credentials_open_no_api_and_no_other_hosts_conversation() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (gus, secret) = fleet.totp_member("gus", "ops").await;
    let read = |p: PathBuf| {
        std::fs::read_to_string(p)
            .expect("credential")
            .trim()
            .to_string()
    };
    let a = read(fleet.host("host-a", &["ops"]).await);
    let b = read(fleet.host("host-b", &["ops"]).await);
    let http = fleet.client();
    let url = |p: &str| format!("{}{p}", fleet.server.base);
    let call = |cred: String, path: &'static str, body: Value| {
        let req = http.post(url(path)).bearer_auth(cred).json(&body);
        async move {
            let r = req.send().await.expect("request");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, begun) = call(a.clone(), "/pam/v1/begin", json!({"user": "gus"})).await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let conv = begun["challenge"]["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    assert_eq!(begun["challenge"]["step"]["current"], "TOTP");
    let code = fleet.server.totp(&secret);
    // Host B cannot use A's conversation: it reads as finished, and nothing is counted.
    let (status, body) = call(
        b.clone(),
        "/pam/v1/check",
        json!({"conversation": conv, "provider": "TOTP", "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "closed");
    // ...exactly as a conversation that does not exist.
    let (status, none) = call(
        b.clone(),
        "/pam/v1/check",
        json!({"conversation": "no-such", "provider": "TOTP", "code": code}),
    )
    .await;
    assert_eq!((status, &none), (StatusCode::FORBIDDEN, &body));
    let fresh = fleet
        .server
        .core
        .user_by_id(&gus.id)
        .await
        .expect("db")
        .expect("gus");
    assert_eq!(fresh.twofa_failures, 0);
    let (status, body) = call(
        a.clone(),
        "/pam/v1/check",
        json!({"conversation": conv, "provider": "TOTP", "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"verified": "TOTP"}));
    // No credential, a malformed one, a user's password: 401.
    for bad in ["", "sgh1.x.y", "gus"] {
        let (status, _) = call(bad.into(), "/pam/v1/begin", json!({"user": "gus"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    // A host credential on every API endpoint: refused.
    let mut endpoints = crate::api::admin_endpoints();
    endpoints.extend([
        (Method::GET, "/api/account/2fa", None),
        (Method::POST, "/api/account/2fa/TOTP/generate", None),
        (Method::DELETE, "/api/account/2fa/TOTP", None),
        (Method::GET, "/api/admin/groups", None),
    ]);
    for (method, path, body) in endpoints {
        let mut req = http.request(method.clone(), url(path)).bearer_auth(&a);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let status = req.send().await.expect("request").status();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
            "{method} {path} with a host credential: {status}"
        );
    }
    // Bad bodies are 400s naming the problem, and change nothing.
    let (status, body) = call(a.clone(), "/pam/v1/check", json!({"conversation": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "refused");
}

/// A real sshd whose PAM stack asks the server: keyboard-interactive with the right code runs
/// a command; a wrong one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_sshd_logs_in_through_the_server() {
    sshd::require_openssh();
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (secret, _svc, server) = fleet.bastion("tries=1").await;
    let wrong = harness::wrong_code(
        &totp_rs::Secret::Encoded(secret.clone())
            .to_bytes()
            .expect("b32"),
    );
    let (out, _) = blocking(|| server.ssh("root", "echo stepgate-fleet-ok", &wrong));
    assert_ne!(out.status.code(), Some(0), "a wrong code must not log in");
    let code = fleet.server.totp(&secret);
    let (out, prompts) = blocking(|| server.ssh("root", "echo stepgate-fleet-ok", &code));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nprompts: {prompts:?}\nsshd: {}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "stepgate-fleet-ok"
    );
    let ok = fleet.events("code_check_ok").await;
    assert_eq!(ok.first().and_then(|e| e.host.as_deref()), Some("bastion"));
}

/// The same host operations through the REST API (an administrator's token) and the admin
/// console; the credential appears once, when made, and never in a listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_managed_through_the_api_and_the_console() {
    let server = Server::start(Backend::Sqlite).await;
    server.cli_ok(&["group", "add", "ops"], "").await;
    crate::admin::admin_user(&server, "boss").await;
    let api = crate::api::Api {
        server: &server,
        token: Some(crate::api::user_token(&server, "boss").await),
    };
    let made = api
        .ok(
            Method::POST,
            "/api/admin/hosts",
            Some(json!({"name": "web-01", "allowedGroups": ["ops"]})),
        )
        .await;
    let credential = made["credential"].as_str().expect("credential").to_string();
    assert!(credential.starts_with("sgh1."), "{made}");
    assert_eq!(made["allowedGroups"], json!(["ops"]));
    let listed = api.ok(Method::GET, "/api/admin/hosts", None).await;
    assert_eq!(listed[0]["name"], "web-01");
    assert!(!listed.to_string().contains(&credential[5..]), "{listed}");
    assert!(listed[0].get("credential").is_none());
    // Bad input names the field and changes nothing.
    api.problem(
        Method::POST,
        "/api/admin/hosts",
        Some(json!({"name": "web-02", "allowedGroups": ["nope"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("group"),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/admin/hosts",
        Some(json!({"name": "bad name"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
    )
    .await;
    assert_eq!(server.core.list_hosts().await.expect("db").len(), 1);
    let h = api
        .ok(Method::DELETE, "/api/admin/hosts/web-01/groups/ops", None)
        .await;
    assert_eq!(h["allowedGroups"], json!([]));
    let rotated = api
        .ok(
            Method::POST,
            "/api/admin/hosts/web-01/rotate-credential",
            None,
        )
        .await;
    assert_ne!(rotated["credential"].as_str(), Some(credential.as_str()));
    assert!(server
        .core
        .authenticate_host(&credential, None)
        .await
        .expect("db")
        .is_none());
    // The audit log, by host: what was done to web-01, and nothing for a host never seen.
    let events = api
        .ok(Method::GET, "/api/admin/audit?host=web-01", None)
        .await;
    let events = events["events"].as_array().expect("events");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(kinds.contains(&"host_added"), "{kinds:?}");
    assert!(events.iter().all(|e| e["host"] == "web-01"), "{events:?}");
    let none = api
        .ok(Method::GET, "/api/admin/audit?host=web-99", None)
        .await;
    assert_eq!(none["events"], json!([]));

    // The console: register a host, see its credential once, allow a group, unregister.
    let browser = crate::admin::admin_browser(&server).await;
    let page = browser.get(&server.url("/admin/hosts")).await;
    assert!(page.text().contains("web-01"), "{}", page.text());
    let form = page
        .form_with("name", None)
        .set("name", "db-01")
        .set("groups", "ops");
    let page = browser.submit(form).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.text());
    let shown = page.text();
    let line = shown
        .split_whitespace()
        .find(|w| w.starts_with("sgh1."))
        .expect("the credential on the page")
        .to_string();
    assert!(server
        .core
        .authenticate_host(&line, Some("192.0.2.1"))
        .await
        .expect("db")
        .is_some());
    let page = browser.get(&server.url("/admin/hosts/db-01")).await;
    assert!(!page.body.contains(&line), "shown once only");
    assert!(page.text().contains("from 192.0.2.1"), "{}", page.text());
    let page = browser.get(&server.url("/admin/hosts")).await;
    let bad = page
        .form_with("name", None)
        .set("name", "db-02")
        .set("groups", "nope");
    let page = browser.submit(bad).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().contains("no group named"), "{}", page.text());
    let page = browser.get(&server.url("/admin/hosts/db-01")).await;
    let delete = page
        .forms()
        .into_iter()
        .find(|f| f.fields.iter().any(|(n, v)| n == "action" && v == "delete"))
        .expect("unregister form");
    let page = browser.submit(delete).await;
    assert!(page.text().contains("unregistered"), "{}", page.text());
    assert!(server.core.host("db-01").await.is_err());
    let page = browser.get(&server.url("/admin/audit?host=db-01")).await;
    // The table, not the page: the event filter's options name every kind of event.
    let table = crate::account::text_of(&page, "#audit tbody").expect("audit table");
    assert!(table.contains("host added"), "{table}");
    assert!(
        crate::account::text_of(&page, "#audit td[data-event=host_added]").is_some(),
        "{}",
        page.body
    );
    assert!(!table.contains("web-01"), "{table}");
}

/// A host learns nothing about the password of a user it does not admit (the groups are
/// checked first), and a user taken out of the host's groups mid-login cannot finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_groups_come_before_the_password_and_hold_for_the_whole_login() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    fleet.totp_member("hal", "dev").await;
    let (_, secret) = fleet.totp_member("ike", "ops").await;
    let read = |p: PathBuf| {
        std::fs::read_to_string(p)
            .expect("credential")
            .trim()
            .to_string()
    };
    let a = read(fleet.host("host-a", &["ops"]).await);
    let http = fleet.client();
    let begin = |user: &'static str, password: &'static str| {
        let req = http
            .post(format!("{}/pam/v1/begin", fleet.server.base))
            .bearer_auth(&a)
            .json(&json!({"user": user, "password": password}));
        async move {
            req.send()
                .await
                .expect("request")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    // hal is not admitted at host A: the right and a wrong password get the same answer.
    let right = begin("hal", crate::support::PASSWORD).await;
    let wrong = begin("hal", "not the password").await;
    assert_eq!(right, json!({"ended": {"ending": "not_admitted"}}));
    assert_eq!(wrong, right);
    assert!(fleet.events("first_factor_failed").await.is_empty());
    // ike begins with the right password, then leaves the group before the code.
    let begun = begin("ike", crate::support::PASSWORD).await;
    let conv = begun["challenge"]["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    fleet
        .server
        .cli_ok(&["group", "remove-member", "ops", "ike"], "")
        .await;
    let r = http
        .post(format!("{}/pam/v1/check", fleet.server.base))
        .bearer_auth(&a)
        .json(
            &json!({"conversation": conv, "provider": "TOTP", "code": fleet.server.totp(&secret)}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "refused", "{body}");
}

// --- approve in the browser ---------------------------------------------------------------

/// The code the module showed ("… enter the code WDJB-MJHT").
fn shown_code(stdout: &str) -> String {
    let after = stdout
        .split("enter the code ")
        .nth(1)
        .expect("the module shows a code");
    after.chars().take(9).collect()
}

/// pamtester at host-a for `user`: Enter at the TOTP prompt, then the menu's last entry
/// (approve in the browser); returns it waiting, and the code it shows.
fn wait_for_approval(svc: &Service, user: &str, choices: usize) -> (Pamtester, String) {
    blocking(|| {
        let mut p = Pamtester::start(svc, user, &["authenticate"], Some("198.51.100.7"));
        p.expect(TOTP_PROMPT).answer("");
        p.expect(&format!("Choose 1-{choices}: "))
            .answer(&choices.to_string());
        p.expect("Press Enter to wait for your approval: ");
        let out = p.stderr.clone();
        assert!(out.contains("/device"), "{out}");
        let code = shown_code(&out);
        p.answer("");
        (p, code)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_a_login_approved_or_denied_in_the_browser() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (carol, secret) = fleet.totp_member("carol", "ops").await;
    let svc = fleet.service(&fleet.host("host-a", &["ops"]).await, "");
    let ca = fleet.ca().to_path_buf();

    // Approve: the page names the host, the service and where the login comes from.
    let (p, code) = wait_for_approval(&svc, "carol", 2);
    let browser = crate::support::Browser::trusting(&ca);
    let page = crate::device::enter_code(&browser, &fleet.server, &code).await;
    let approval =
        crate::device::sign_in_with_totp(&fleet.server, &browser, &page, "carol", &secret).await;
    let text = approval.text();
    assert!(text.contains("logging in as carol"), "{text}");
    assert_eq!(
        crate::account::text_of(&approval, "[data-field=host]").as_deref(),
        Some("host-a")
    );
    assert_eq!(
        crate::account::text_of(&approval, "[data-field=remote_addr]").as_deref(),
        Some("198.51.100.7")
    );
    assert!(crate::account::text_of(&approval, "[data-field=service]").is_some());
    let done = crate::device::decide(&browser, &approval, "approve").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("Login approved"), "{}", done.text());
    // Another login of carol's before the host hears the answer does not take it away.
    fleet
        .server
        .core
        .open_challenge(&RequestContext::new(Source::Oidc), &carol)
        .await
        .expect("another login");
    let f = blocking(|| p.finish());
    assert!(f.succeeded(), "{f:?}");
    assert!(f.said("Approved."), "{f:?}");
    f.assert_clean();
    let asked = fleet.events("login_approval_requested").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].host.as_deref(), Some("host-a"));
    let id = asked[0]
        .detail
        .as_deref()
        .and_then(|d| d.strip_prefix("device_authorization="))
        .expect("the approval's id")
        .to_string();
    let ok = fleet.events("code_check_ok").await;
    assert!(
        ok.iter().any(|e| e.provider.as_deref() == Some("TOTP")
            && e.host.as_deref() == Some("host-a")
            && e.detail.as_deref().is_some_and(|d| d.starts_with(&format!(
                "approved in the browser: device_authorization={id} browser="
            )))),
        "the approval is audited as a TOTP verification at the host, linked to its request: {ok:?}"
    );

    // The same code cannot be used twice.
    let again = crate::device::enter_code(&browser, &fleet.server, &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());

    // Deny: the login fails with its own message, and the denial counts as a failure.
    let (p, code) = wait_for_approval(&svc, "carol", 2);
    let page = crate::device::enter_code(&browser, &fleet.server, &code).await;
    assert_eq!(
        page.url.path(),
        "/device/approve",
        "a fresh sign-in is reused"
    );
    let done = crate::device::decide(&browser, &page, "deny").await;
    assert!(done.text().contains("Login denied"), "{}", done.text());
    let f = blocking(|| p.finish());
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(f.said("The login was denied in the browser."), "{f:?}");
    let carol = fleet
        .server
        .core
        .user_by_username(&carol.username)
        .await
        .expect("read")
        .expect("carol");
    assert_eq!(carol.twofa_failures, 1, "a denial counts towards lockout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_another_user_cannot_approve_and_an_unanswered_login_ends_at_the_time_limit() {
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    fleet.totp_member("carol", "ops").await;
    let (_dave, dave_secret) = fleet.totp_member("dave", "ops").await;
    let svc = fleet.service(&fleet.host("host-a", &["ops"]).await, "");
    let (p, code) = wait_for_approval(&svc, "carol", 2);
    let browser = crate::support::Browser::trusting(fleet.ca());
    let page = crate::device::enter_code(&browser, &fleet.server, &code).await;
    assert!(page.is_sign_in(), "{}", page.text());
    let second = browser
        .submit(
            page.form_with("username", None)
                .set("username", "dave")
                .set("password", crate::support::PASSWORD),
        )
        .await;
    let refused = browser
        .submit(
            second
                .form_with("code", None)
                .set("code", &fleet.server.totp(&dave_secret)),
        )
        .await;
    // Back at the approval, which is carol's: dave is refused, and it is audited.
    let refused = if refused.status.is_redirection() {
        browser
            .get(&fleet.server.url(refused.location.as_deref().unwrap_or("/")))
            .await
    } else {
        refused
    };
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(
        refused.text().contains("another account"),
        "{}",
        refused.text()
    );
    // No one answered: past the time limit the module says so and fails.
    fleet.server.clock.advance(3600);
    let f = blocking(|| p.finish());
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(
        f.said("The time allowed for verification has run out"),
        "{f:?}"
    );
    f.assert_clean();
}

/// A real `ssh` login through a real sshd, approved in the browser: the code reaches the
/// terminal in a prompt, the approval on /device lets the command run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_sshd_login_approved_in_the_browser_runs_a_command() {
    sshd::require_openssh();
    let fleet = Fleet::start(Backend::Sqlite, "").await;
    let (secret, svc, server) = fleet.bastion("").await;
    let work = tempfile::tempdir().expect("temp dir");
    // Enter at the code prompt, then the menu's second entry (approval), then Enter to wait.
    let answers = "case \"$1\" in *\"Choose 1-\"*) echo 2 ;; *) echo ;; esac\n";
    let (child, prompts) =
        server.spawn_ssh(work.path(), "root", "echo stepgate-approved-ok", answers);
    let code = blocking(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let shown = sshd::read_prompts(&prompts).join("\n");
            if shown.contains("enter the code ") {
                return shown_code(&shown);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no approval prompt: {shown}\nsshd: {}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let browser = crate::support::Browser::trusting(fleet.ca());
    let page = crate::device::enter_code(&browser, &fleet.server, &code).await;
    let approval =
        crate::device::sign_in_with_totp(&fleet.server, &browser, &page, "root", &secret).await;
    assert_eq!(
        crate::account::text_of(&approval, "[data-field=host]").as_deref(),
        Some("bastion")
    );
    assert_eq!(
        crate::account::text_of(&approval, "[data-field=service]").as_deref(),
        Some(svc.name.as_str())
    );
    let done = crate::device::decide(&browser, &approval, "approve").await;
    assert!(done.text().contains("Login approved"), "{}", done.text());
    let out = blocking(|| child.wait_with_output().expect("ssh"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nsshd: {}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "stepgate-approved-ok"
    );
}
