//! The PAM front door, for real: `pam_stepgate.so` loaded by Linux-PAM into Debian's
//! `pamtester`, with a service file in /etc/pam.d, against the same database the set-up core
//! (and so the OpenID Connect door) uses. Needs root and pamtester (scripts/test.sh).

#[path = "pam_harness.rs"]
pub mod harness;
#[path = "pam_sshd.rs"]
pub mod sshd;

use harness::pam_text::*;
use harness::*;
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::{Error, ProviderType, RequestContext, Source};
use stepgate_tests::{both_backends, Backend};

const TOTP_PROMPT: &str = "Verification code (authenticator app): ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_totp_code_is_accepted_once_and_a_replay_is_refused() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (u, secret) = site.totp_user("alice").await;
    let svc = Service::new(&site.lines(""));
    let code = totp(&secret, 0);
    let f = dialogue(
        &svc,
        "alice",
        &["authenticate", "acct_mgmt"],
        Some("192.0.2.10"),
        &[(TOTP_PROMPT, &code)],
    );
    assert!(f.succeeded(), "{f:?}");
    assert!(f.said(AUTHENTICATED) && f.said(ACCOUNT_OK), "{f:?}");
    f.assert_clean();
    // The same code again, in the same 30 s window: refused each time it is typed.
    let f = dialogue(
        &svc,
        "alice",
        &["authenticate"],
        None,
        &[
            (TOTP_PROMPT, &code),
            (TOTP_PROMPT, &code),
            (TOTP_PROMPT, &code),
        ],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert_eq!(f.stderr.matches("Wrong code.").count(), 3, "{f:?}");
    f.assert_clean();
    // The audit log says which door, and from where.
    let ev = site.events(&u).await;
    let ok = ev
        .iter()
        .find(|e| e.event == "code_check_ok")
        .expect("a code_check_ok event");
    assert_eq!(ok.source, "pam");
    assert_eq!(ok.remote_addr.as_deref(), Some("192.0.2.10"));
    assert_eq!(ok.provider.as_deref(), Some("TOTP"));
    assert_eq!(
        ev.iter().filter(|e| e.event == "code_check_bad").count(),
        3,
        "{ev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_wrong_codes_are_refused_then_the_right_one_passes() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (_, secret) = site.totp_user("bob").await;
    let svc = Service::new(&site.lines(""));
    let wrong = wrong_code(&secret);
    let f = dialogue(
        &svc,
        "bob",
        &["authenticate"],
        None,
        &[
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
        ],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert_eq!(f.stderr.matches("Wrong code.").count(), 3, "{f:?}");
    f.assert_clean();
    let good = totp(&secret, 0);
    let f = dialogue(
        &svc,
        "bob",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &wrong), (TOTP_PROMPT, &good)],
    );
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_backup_code_is_accepted_at_the_code_prompt_once() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (u, _) = site.totp_user("carol").await;
    let codes = site
        .core
        .generate_backup_codes(&admin(), &u)
        .await
        .expect("backup codes");
    let svc = Service::new(&site.lines("tries=1"));
    let f = dialogue(
        &svc,
        "carol",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &codes[0])],
    );
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
    let f = dialogue(
        &svc,
        "carol",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &codes[0])],
    );
    assert!(
        f.failed_with(AUTH_ERR),
        "a used backup code must be refused: {f:?}"
    );
    assert_eq!(site.core.backup_codes_left(&u.id).await.unwrap(), 9);
    let ok: Vec<_> = site
        .events(&u)
        .await
        .into_iter()
        .filter(|e| e.event == "code_check_ok")
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].provider.as_deref(), Some("BACKUP_CODE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_try_another_way_sends_an_sms_and_its_code_passes() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (u, _) = site.totp_user("dave").await;
    site.add_sms(&u, "+15551231234").await;
    site.core.generate_backup_codes(&admin(), &u).await.unwrap();
    let svc = Service::new(&site.lines(""));
    let sent_before = site.sms_count();
    let mut p = Pamtester::start(&svc, "dave", &["authenticate"], None);
    p.expect(TOTP_PROMPT).answer("");
    p.expect("Choose 1-3: ").answer("2");
    p.expect("Verification code (SMS to +1*****1234): ");
    assert_eq!(site.sms_count(), sent_before + 1, "the module sent one SMS");
    let code = site.last_sms_code("+15551231234");
    p.answer(&code);
    let f = p.finish();
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
    // The menu and the send notice were shown (PAM_TEXT_INFO goes to stdout in pamtester).
    assert!(
        f.stdout.contains(
            "Try another way:\n  1) authenticator app\n  2) SMS to +1*****1234\n  3) backup code"
        ),
        "{f:?}"
    );
    assert!(
        f.stdout.contains("A code was sent by SMS to +1*****1234"),
        "{f:?}"
    );
    let ok = site
        .events(&u)
        .await
        .into_iter()
        .find(|e| e.event == "code_check_ok")
        .expect("code_check_ok");
    assert_eq!(ok.provider.as_deref(), Some("SMS"));
}

/// One failure counter for both doors, and the lockout it leads to, on `backend`.
async fn lockout_is_one_counter_for_both_doors(backend: Backend) {
    let db_url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(stepgate_tests::postgres::fresh_database_url().await),
    };
    require_root_and_pamtester();
    let site = Site::new(db_url, "max_verification_failures_before_user_lockout = 3").await;
    let (erin, secret) = site.totp_user("erin").await;
    let svc = Service::new(&site.lines("tries=2"));
    let wrong = wrong_code(&secret);
    // Two wrong codes through PAM...
    let f = dialogue(
        &svc,
        "erin",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &wrong), (TOTP_PROMPT, &wrong)],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(
        f.stderr
            .contains("Wrong code. 1 more wrong code will lock the account."),
        "{f:?}"
    );
    // ...and the third through the web door's calls locks the account.
    let web = RequestContext::new(Source::Oidc).with_remote_addr("127.0.0.1");
    let user = site
        .core
        .first_factor(&web, "erin", PASSWORD)
        .await
        .expect("password");
    let challenge = site
        .core
        .open_challenge(&web, &user)
        .await
        .expect("challenge");
    let third = site
        .core
        .check_code(&web, &challenge.id, ProviderType::Totp, &wrong)
        .await;
    assert!(matches!(third, Err(Error::Locked)), "{third:?}");
    // PAM now refuses at once, even before a prompt; account management refuses too (an SSH
    // key alone must not get in).
    let f = dialogue(&svc, "erin", &["authenticate"], None, &[]);
    assert!(f.failed_with(MAXTRIES), "{f:?}");
    assert!(f.stderr.contains("This account is locked"), "{f:?}");
    assert!(!f.stderr.contains(TOTP_PROMPT), "{f:?}");
    let f = dialogue(&svc, "erin", &["acct_mgmt"], None, &[]);
    assert!(f.failed_with(PERM_DENIED), "{f:?}");
    f.assert_clean();

    // The other way round: PAM locks, the web door refuses.
    let (frank, fsecret) = site.totp_user("frank").await;
    let svc3 = Service::new(&site.lines("tries=3"));
    let fw = wrong_code(&fsecret);
    let f = dialogue(
        &svc3,
        "frank",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &fw), (TOTP_PROMPT, &fw), (TOTP_PROMPT, &fw)],
    );
    assert!(f.failed_with(MAXTRIES), "{f:?}");
    assert!(
        f.stderr.contains(
            "This account is locked after too many wrong codes; ask an administrator to unlock it."
        ),
        "{f:?}"
    );
    f.assert_clean();
    assert!(matches!(
        site.core.first_factor(&web, "frank", PASSWORD).await,
        Err(Error::Locked)
    ));
    let frank_now = site.core.require_user("frank").await.unwrap();
    assert!(frank_now.locked);
    assert!(matches!(
        site.core.open_challenge(&web, &frank_now).await,
        Err(Error::Locked)
    ));
    assert!(site
        .events(&frank)
        .await
        .iter()
        .any(|e| e.event == "lockout" && e.source == "pam"));

    // An administrator's unlock restores both doors.
    site.core.unlock_user(&admin(), "erin").await.unwrap();
    let f = dialogue(
        &svc,
        "erin",
        &["authenticate", "acct_mgmt"],
        None,
        &[(TOTP_PROMPT, &totp(&secret, 0))],
    );
    assert!(f.succeeded(), "{f:?}");
    site.core.unlock_user(&admin(), "frank").await.unwrap();
    let user = site
        .core
        .first_factor(&web, "frank", PASSWORD)
        .await
        .expect("unlocked");
    let challenge = site
        .core
        .open_challenge(&web, &user)
        .await
        .expect("challenge");
    let ok = site
        .core
        .check_code(
            &web,
            &challenge.id,
            ProviderType::Totp,
            &totp_for_core(&site, &fsecret),
        )
        .await;
    assert!(
        matches!(ok, Ok(CheckOutcome::Verified(ProviderType::Totp))),
        "{ok:?}"
    );
    let _ = erin;
}

both_backends!(
    pamtester_lockout_is_one_counter_for_both_doors,
    lockout_is_one_counter_for_both_doors
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_nullok_returns_ignore_and_the_stack_decides() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    site.user("gina").await;
    let (_, secret) = site.totp_user("hugo").await;
    let module = format!("{{module}} config={}", site.config_path.display());
    let then_permit = Service::new(&[
        format!("auth required {module} nullok"),
        "auth required pam_permit.so".into(),
    ]);
    let then_deny = Service::new(&[
        format!("auth required {module} nullok"),
        "auth required pam_deny.so".into(),
    ]);
    let without = Service::new(&[
        format!("auth required {module}"),
        "auth required pam_permit.so".into(),
    ]);
    // No second factor + nullok: PAM_IGNORE, so the other modules decide.
    let f = dialogue(&then_permit, "gina", &["authenticate"], None, &[]);
    assert!(f.succeeded(), "{f:?}");
    assert!(!f.stderr.contains("Verification code"), "{f:?}");
    let f = dialogue(&then_deny, "gina", &["authenticate"], None, &[]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    // Without nullok it is a failure of its own, with a message.
    let f = dialogue(&without, "gina", &["authenticate"], None, &[]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(
        f.stderr
            .contains("No second factor is set up for this account."),
        "{f:?}"
    );
    // nullok never lets a user who has a second factor skip it.
    let wrong = wrong_code(&secret);
    let f = dialogue(
        &then_permit,
        "hugo",
        &["authenticate"],
        None,
        &[
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
        ],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    // A Linux user unknown to Stepgate: PAM_USER_UNKNOWN, which the stack may map.
    let f = dialogue(&then_permit, "nobody-here", &["authenticate"], None, &[]);
    assert!(f.failed_with(USER_UNKNOWN), "{f:?}");
    let mapped = Service::new(&[
        format!("auth [success=ok user_unknown=ignore default=die] {module}"),
        "auth required pam_permit.so".into(),
    ]);
    let f = dialogue(&mapped, "nobody-here", &["authenticate"], None, &[]);
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_password_mode_asks_the_stepgate_password_first() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (_, secret) = site.totp_user("ivan").await;
    let svc = Service::new(&site.lines("mode=password"));
    let f = dialogue(
        &svc,
        "ivan",
        &["authenticate"],
        None,
        &[("Password: ", PASSWORD), (TOTP_PROMPT, &totp(&secret, 0))],
    );
    assert!(f.succeeded(), "{f:?}");
    let f = dialogue(
        &svc,
        "ivan",
        &["authenticate"],
        None,
        &[("Password: ", "not the password")],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(!f.stderr.contains(TOTP_PROMPT), "{f:?}");
    // An unknown user gets the same prompt and the same failure.
    let f = dialogue(
        &svc,
        "nobody-here",
        &["authenticate"],
        None,
        &[("Password: ", "whatever it is")],
    );
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    f.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_missing_or_unsafe_configuration_fails_closed_and_the_host_survives() {
    use std::os::unix::fs::PermissionsExt;
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (_, secret) = site.totp_user("judy").await;
    let config = site.config_path.clone();
    let key = site.dir.path().join("data/secrets.key");
    assert!(
        key.is_file(),
        "the set-up core created the key at {}",
        key.display()
    );
    let refused = |svc: &Service, why: &str| {
        let f = dialogue(svc, "judy", &["authenticate"], None, &[]);
        assert!(f.failed_with(AUTHINFO_UNAVAIL), "{why}: {f:?}");
        assert!(
            f.stderr
                .contains("Two-factor verification is not set up correctly; ask an administrator."),
            "{why}: {f:?}"
        );
        assert!(!f.stderr.contains("Verification code"), "{why}: {f:?}");
        f.assert_clean();
    };
    let svc = Service::new(&site.lines(""));
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // Sanity: as set up, it works.
    let f = dialogue(
        &svc,
        "judy",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &totp(&secret, 0))],
    );
    assert!(f.succeeded(), "{f:?}");

    let missing = Service::new(&[format!(
        "auth required {{module}} config={}/no-such.toml",
        site.dir.path().display()
    )]);
    refused(&missing, "missing config");

    chmod(&config, 0o666);
    refused(&svc, "world-writable config");
    chmod(&config, 0o620);
    refused(&svc, "group-writable config");
    chmod(&config, 0o600);

    std::os::unix::fs::chown(&config, Some(65534), None).unwrap();
    refused(&svc, "config not owned by root");
    std::os::unix::fs::chown(&config, Some(0), None).unwrap();

    chmod(site.dir.path(), 0o777);
    refused(&svc, "world-writable config folder");
    chmod(site.dir.path(), 0o700);

    chmod(&key, 0o644);
    refused(&svc, "world-readable key");
    chmod(&key, 0o600);
    std::fs::rename(&key, key.with_extension("moved")).unwrap();
    refused(&svc, "missing key (the module never creates one)");
    std::fs::rename(key.with_extension("moved"), &key).unwrap();

    // A typo in the module arguments is a broken PAM configuration.
    let typo = Service::new(&[format!(
        "auth required {{module}} config={} nulok",
        config.display()
    )]);
    let f = dialogue(&typo, "judy", &["authenticate"], None, &[]);
    assert!(f.failed_with(SERVICE_ERR), "{f:?}");
    f.assert_clean();

    // Everything restored: it works again.
    let f = dialogue(
        &svc,
        "judy",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &totp(&secret, 30))],
    );
    assert!(f.succeeded(), "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_unreachable_database_fails_closed() {
    use std::os::unix::fs::PermissionsExt;
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    // The same folder and key, but a database nobody listens for.
    let path = site.dir.path().join("down.toml");
    std::fs::write(
        &path,
        "[database]\nurl = \"postgres://stepgate@127.0.0.1:9/stepgate\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let svc = Service::new(&[format!(
        "auth required {{module}} config={}",
        path.display()
    )]);
    let started = std::time::Instant::now();
    let f = dialogue(&svc, "judy", &["authenticate"], None, &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
    assert!(
        f.stderr
            .contains("Two-factor verification is unavailable right now; try again later."),
        "{f:?}"
    );
    f.assert_clean();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// The acceptance path with the real web door: a `stepgate serve` in-process, a user
/// enrolled for SSH with `stepgate user enroll-totp`, locked through PAM; the web login is then
/// refused, and `stepgate user unlock` restores both doors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_lockout_and_replay_are_shared_with_the_web_login_and_unlock_restores_both() {
    use crate::oidc::{code_from, enter_code, password, start};
    use crate::support::{relying_party, Backend, Browser, Server};
    require_root_and_pamtester();
    let server = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"BACKUP_CODE\"]\nenforce_two_fa = false\nmax_verification_failures_before_user_lockout = 3\n",
    )
    .await;
    let client_secret = server.client("webapp", &[]).await;
    let (_, secret_b32) = server.totp_user("grace").await;
    let secret = totp_rs::Secret::Encoded(secret_b32.clone())
        .to_bytes()
        .expect("base32");
    let svc = Service::new(&[
        format!(
            "auth required {{module}} config={}",
            server.config_path.display()
        ),
        format!(
            "account required {{module}} config={}",
            server.config_path.display()
        ),
    ]);
    let wrong = wrong_code(&secret);
    let f = dialogue(
        &svc,
        "grace",
        &["authenticate"],
        Some("198.51.100.4"),
        &[
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
            (TOTP_PROMPT, &wrong),
        ],
    );
    assert!(f.failed_with(MAXTRIES), "{f:?}");
    f.assert_clean();

    // The web login stops at the password: the account is locked.
    let (rp, _) = relying_party(&server, "webapp", client_secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "grace", PASSWORD).await;
    assert_eq!(
        page.status,
        reqwest::StatusCode::FORBIDDEN,
        "{}",
        page.text()
    );
    assert!(
        page.text().contains("This account is locked"),
        "{}",
        page.text()
    );

    server.cli_ok(&["user", "unlock", "grace"], "").await;
    // Both doors work again: the web login (code at the server's clock)...
    let web_code = server.totp(&secret_b32);
    let page = password(&browser, started.url.as_str(), "grace", PASSWORD).await;
    let done = enter_code(&browser, &page, &web_code).await;
    code_from(&done, &started, &server.issuer);
    // ...and PAM, where the code the web login just used is a replay...
    let once = Service::new(&[format!(
        "auth required {{module}} config={} tries=1",
        server.config_path.display()
    )]);
    let f = dialogue(
        &once,
        "grace",
        &["authenticate"],
        None,
        &[(TOTP_PROMPT, &web_code)],
    );
    assert!(
        f.failed_with(AUTH_ERR),
        "a code used on the web must not work over PAM: {f:?}"
    );
    assert!(f.stderr.contains("Wrong code."), "{f:?}");
    // ...and the next step's code passes.
    let f = dialogue(
        &svc,
        "grace",
        &["authenticate", "acct_mgmt"],
        None,
        &[(TOTP_PROMPT, &totp(&secret, 30))],
    );
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
}

/// A real sshd on loopback with keyboard-interactive through the module, and the real ssh
/// client: the right code gets a command run, a wrong one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshd_keyboard_interactive_runs_a_command_with_the_right_code_only() {
    require_root_and_pamtester();
    sshd::require_openssh();
    let site = Site::new(None, "").await;
    // sshd needs a Linux account; root is the one every test machine has.
    let (root, secret) = site.totp_user("root").await;
    let args = format!("config={} tries=1", site.config_path.display());
    let svc = Service::new(&[
        format!("auth required {{module}} {args}"),
        format!("account required {{module}} {args}"),
        "session required pam_permit.so".into(),
    ]);
    let server = sshd::Sshd::start(&svc);

    let wrong = wrong_code(&secret);
    let (out, prompts) = server.ssh("root", "echo stepgate-ssh-ok", &wrong);
    assert_ne!(out.status.code(), Some(0), "a wrong code must not log in");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("stepgate-ssh-ok"));
    assert!(
        prompts.iter().any(|p| p.contains(TOTP_PROMPT.trim_end())),
        "prompts: {prompts:?}\nsshd: {}",
        server.log()
    );

    let (out, prompts) = server.ssh("root", "echo stepgate-ssh-ok", &totp(&secret, 0));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nprompts: {prompts:?}\nsshd: {}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "stepgate-ssh-ok"
    );
    assert!(server
        .log()
        .contains("Accepted keyboard-interactive/pam for root"));
    // The audit log saw the PAM door, from the client's address.
    let ev = site.events(&root).await;
    let ok = ev
        .iter()
        .find(|e| e.event == "code_check_ok")
        .expect("code_check_ok");
    assert_eq!(ok.source, "pam");
    assert_eq!(ok.remote_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(ev.iter().filter(|e| e.event == "code_check_bad").count(), 1);
}

/// A prompt with spaces is written `[prompt=…]` in the PAM file; Linux-PAM hands it over whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_prompt_argument_with_spaces_in_brackets() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (_, secret) = site.totp_user("kim").await;
    let svc = Service::new(&[format!(
        "auth required {{module}} config={} [prompt=Stepgate code for {{provider}}:] service_id=bastion",
        site.config_path.display()
    )]);
    let f = dialogue(
        &svc,
        "kim",
        &["authenticate"],
        None,
        &[("Stepgate code for authenticator app: ", &totp(&secret, 0))],
    );
    assert!(f.succeeded(), "{f:?}");
    f.assert_clean();
    // service_id= names the door's service in the audit log.
    let kim = site.core.require_user("kim").await.expect("kim");
    let ev = site.events(&kim).await;
    let ok = ev
        .iter()
        .find(|e| e.event == "code_check_ok")
        .expect("code_check_ok");
    assert_eq!(ok.service.as_deref(), Some("bastion"));
}

/// Direct mode obeys the same host and group rules when the machine names its registered host
/// (`host=`): a member logs in, a non-member is refused (audited with the host), and a name that
/// is not registered lets no one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pamtester_direct_mode_with_host_applies_its_groups() {
    require_root_and_pamtester();
    let site = Site::new(None, "").await;
    let (_, secret) = site.totp_user("ivy").await;
    let (jon, _) = site.totp_user("jon").await;
    site.core
        .create_group(&admin(), None, "ops")
        .await
        .expect("group");
    site.core
        .add_group_member(&admin(), None, "ops", "ivy")
        .await
        .expect("member");
    site.core
        .add_host(&admin(), "local-1", &["ops".to_string()])
        .await
        .expect("host");
    let svc = Service::new(&site.lines("host=local-1"));
    let f = dialogue(
        &svc,
        "ivy",
        &["authenticate", "acct_mgmt"],
        None,
        &[(TOTP_PROMPT, &totp(&secret, 0))],
    );
    assert!(f.succeeded(), "{f:?}");
    let f = dialogue(&svc, "jon", &["authenticate"], None, &[]);
    assert!(f.failed_with(AUTH_ERR), "{f:?}");
    assert!(f.stderr.contains("may not log in on this machine"), "{f:?}");
    let f = dialogue(&svc, "jon", &["acct_mgmt"], None, &[]);
    assert!(f.failed_with(PERM_DENIED), "{f:?}");
    let refused = site.events(&jon).await;
    let r = refused
        .iter()
        .find(|e| e.event == "host_login_refused")
        .expect("audited");
    assert_eq!(r.host.as_deref(), Some("local-1"));
    let unknown = Service::new(&site.lines("host=not-registered"));
    let f = dialogue(&unknown, "ivy", &["authenticate"], None, &[]);
    assert!(f.failed_with(AUTHINFO_UNAVAIL), "{f:?}");
}
