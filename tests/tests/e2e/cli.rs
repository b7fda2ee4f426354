//! The admin CLI, run in-process exactly as `stepgate --config PATH …` runs it.

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_commands_call_the_core_and_fail_loudly() {
    let server = Server::start(Backend::Sqlite).await;
    let out = server
        .cli(
            &[
                "user",
                "add",
                "kim",
                "--email",
                "kim@example.com",
                "--phone",
                PHONE,
                "--name",
                "Kim K",
                "--password-stdin",
            ],
            "a long enough password\n",
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("created user kim"));
    let user = server.core.require_user("kim").await.expect("kim exists");
    assert_eq!(user.display_name, "Kim K");
    server
        .core
        .first_factor(&ctx(), "kim", "a long enough password")
        .await
        .expect("the password from stdin works");

    // Errors: to stderr, non-zero, nothing written.
    let dup = server
        .cli(&["user", "add", "kim", "--email", "k@example.com"], "")
        .await;
    assert_ne!(dup.code, 0);
    assert!(dup.stderr.contains("already exists"), "{}", dup.stderr);
    let bad = server
        .cli(&["user", "add", "lee", "--email", "not-an-email"], "")
        .await;
    assert_ne!(bad.code, 0);
    assert!(server
        .core
        .user_by_username("lee")
        .await
        .expect("query")
        .is_none());
    let missing = server.cli(&["user", "show", "nobody"], "").await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no user named \"nobody\""),
        "{}",
        missing.stderr
    );
    let usage = server.cli(&["user", "frobnicate"], "").await;
    assert_eq!(usage.code, 2, "clap's usage errors exit with 2");

    // Backup codes cannot be the only second factor (the core's rule, through the CLI).
    let refused = server
        .cli(&["user", "enroll-backup-codes", "kim"], "")
        .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("set up another method first"),
        "{}",
        refused.stderr
    );
    let qr = server.cli_ok(&["user", "enroll-totp", "kim"], "").await;
    let last = qr.lines().last().expect("a line");
    assert!(last.starts_with("otpauth://totp/"), "{last}");
    assert!(qr.lines().count() > 10, "a QR code is drawn unless --no-qr");
    let codes = server
        .cli_ok(&["user", "enroll-backup-codes", "kim"], "")
        .await;
    assert_eq!(codes.lines().count(), 10);

    let list = server.cli_ok(&["user", "list"], "").await;
    let row = list
        .lines()
        .find(|l| l.starts_with("kim "))
        .expect("kim listed");
    assert!(
        row.contains("TOTP,BACKUP_CODE") && row.contains("active"),
        "{row}"
    );
    let show = server.cli_ok(&["user", "show", "kim"], "").await;
    assert!(
        show.contains("TOTP") && show.contains("(10 left)"),
        "{show}"
    );
    assert!(!show.contains("secret="), "no secret is ever shown again");

    server.cli_ok(&["user", "disable", "kim"], "").await;
    assert!(server.core.require_user("kim").await.expect("kim").disabled);
    server.cli_ok(&["user", "enable", "kim"], "").await;
    server
        .cli_ok(
            &["user", "set-password", "kim", "--password-stdin"],
            "another long password\n",
        )
        .await;
    server
        .core
        .first_factor(&ctx(), "kim", "another long password")
        .await
        .expect("new password");
    server.cli_ok(&["user", "reset-2fa", "kim"], "").await;
    let show = server.cli_ok(&["user", "show", "kim"], "").await;
    assert!(show.contains("second factors:  none"), "{show}");
    server.cli_ok(&["user", "unlock", "kim"], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_print_the_secret_once_and_validate() {
    let server = Server::start(Backend::Sqlite).await;
    let out = server
        .cli_ok(
            &[
                "client",
                "add",
                "app",
                "--redirect-uri",
                REDIRECT_URI,
                "--name",
                "App",
            ],
            "",
        )
        .await;
    let last = out.lines().last().expect("lines");
    let secret = last.split_whitespace().last().expect("word");
    assert_eq!(secret.len(), 43, "256 random bits, base64url: {last}");
    assert!(
        out.contains("grants: authorization_code refresh_token"),
        "{out}"
    );
    let public = server
        .cli_ok(
            &[
                "client",
                "add",
                "spa",
                "--public",
                "--redirect-uri",
                "http://localhost:3000/cb",
            ],
            "",
        )
        .await;
    assert!(!public.contains("secret"), "{public}");
    for bad in [
        vec![
            "client",
            "add",
            "x1",
            "--redirect-uri",
            "http://example.com/cb",
        ],
        vec!["client", "add", "x2"],
        vec![
            "client",
            "add",
            "x3",
            "--public",
            "--grant",
            "client_credentials",
        ],
        vec!["client", "add", "app", "--redirect-uri", REDIRECT_URI],
        vec!["client", "add", "x4", "--grant", "implicit"],
    ] {
        let out = server.cli(&bad, "").await;
        assert_ne!(out.code, 0, "{bad:?} must fail");
        assert!(!out.stderr.is_empty());
    }
    let list = server.cli_ok(&["client", "list"], "").await;
    assert_eq!(list.lines().count(), 3, "header, app, spa: {list}");
    let rotated = server.cli_ok(&["client", "rotate-secret", "app"], "").await;
    assert_ne!(rotated.split_whitespace().last(), Some(secret));
    assert_ne!(
        server
            .cli(&["client", "rotate-secret", "spa"], "")
            .await
            .code,
        0
    );
    server.cli_ok(&["client", "remove", "spa"], "").await;
    assert_ne!(server.cli(&["client", "remove", "spa"], "").await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_config_is_an_error_for_admin_commands() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("nope.toml");
    let out = stepgate_idp::cli::execute(
        ["--config", path.to_str().expect("utf-8"), "user", "list"],
        b"",
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("no configuration file"),
        "{}",
        out.stderr
    );
    assert!(!path.exists(), "admin commands never write a configuration");
}
