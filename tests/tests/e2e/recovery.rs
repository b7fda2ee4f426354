//! Failing closed and recovering by itself: a stored setting that
//! cannot be read refuses checks and says so on `/readyz`; a full disk or connections dropped
//! under the pool answer errors while they last, and the next login works once they are gone,
//! without a restart.

use crate::oidc::{code_from, enter_code, exchange, password, start};
use crate::support::*;
use reqwest::StatusCode;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often these tests' servers re-measure readiness (production: every 5 s).
const PROBE: Duration = Duration::from_millis(200);

/// Polls `/readyz` until it answers `want`; returns the body.
async fn readyz_until(server: &Server, want: StatusCode) -> String {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = http
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("/readyz answers");
        let status = resp.status();
        let body = resp.text().await.expect("body");
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still answers {status} ({body:?}), not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A whole login (password, TOTP, code, tokens) that must succeed.
async fn full_login(server: &Server, rp: &Rp, username: &str, totp: &str) {
    // A new TOTP step, so no login is refused as a replay of the one before.
    server.clock.advance(30);
    let browser = Browser::new();
    let started = start(rp, &[]);
    let page = password(&browser, started.url.as_str(), username, PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let done = enter_code(&browser, &page, &server.totp(totp)).await;
    let code = code_from(&done, &started, &server.issuer);
    exchange(rp, code, started.verifier).await;
}

async fn a_corrupt_stored_rate_limit_refuses_checks(backend: Backend) {
    let db_dir = tempfile::tempdir().expect("temp dir");
    let url = fresh_db_url(backend, db_dir.path()).await;
    let server = Server::start_on(&url, "", PROBE).await;
    let secret = server.client("webapp", &[]).await;
    let (_, totp) = server.totp_user("rita").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let mut settings = server.core.twofa_settings().await.expect("settings");
    settings.verification_code_check_rate_limit = Some("3:900".parse().expect("rate limit"));
    server
        .core
        .update_twofa_settings(&ctx(), None, &settings)
        .await
        .expect("save settings");
    readyz_until(&server, StatusCode::OK).await;

    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "rita", PASSWORD).await;
    assert!(page
        .forms()
        .iter()
        .any(|f| f.fields.iter().any(|(n, _)| n == "code")));

    // What a bad manual edit or a half-applied restore leaves behind.
    let changed =
        sqlx::query("UPDATE platform_settings SET value = REPLACE(value, $1, $2) WHERE name = $3")
            .bind(r#""verificationCodeCheckRateLimit":"3:900""#)
            .bind(r#""verificationCodeCheckRateLimit":"garbage""#)
            .bind("twofa")
            .execute(server.core.db().pool())
            .await
            .expect("corrupt the stored settings")
            .rows_affected();
    assert_eq!(changed, 1, "the stored settings hold the rate limit");

    let body = readyz_until(&server, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body.contains("settings are unreadable"), "{body}");

    // The right code is refused, not accepted without a limit.
    let refused = enter_code(&browser, &page, &server.totp(&totp)).await;
    assert!(
        refused.status.is_server_error(),
        "{} {}",
        refused.status,
        refused.text()
    );
    assert!(
        refused
            .location
            .as_deref()
            .is_none_or(|l| !l.starts_with(REDIRECT_URI)),
        "{:?}",
        refused.location
    );
    let home = browser.get(&server.url("/")).await;
    assert!(
        home.text().contains("You are not signed in"),
        "{}",
        home.text()
    );
    // The core refuses too, for any front door (the PAM module reads the same row).
    assert!(server.core.twofa_settings().await.is_err());

    // Saving the settings again repairs it; the refused check spent nothing.
    server
        .core
        .update_twofa_settings(&ctx(), None, &settings)
        .await
        .expect("save settings");
    readyz_until(&server, StatusCode::OK).await;
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    code_from(&done, &started, &server.issuer);
}

both_backends!(a_corrupt_stored_rate_limit_refuses_checks);

/// A small tmpfs, unmounted when dropped (also when the test fails).
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` where this process may not mount (not root, or in a restricted container).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fs");
        std::fs::create_dir(&path).expect("mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { path, _dir: dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs here ({}); the full-disk test needs root",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount(8) ({e}); the full-disk test needs it");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the server's SQLite files may still be open while the test unwinds.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Writes `filler` until the file system has no byte left.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create the filler");
    for chunk in [64 * 1024, 512, 1] {
        let buf = vec![0u8; chunk];
        loop {
            match f.write(&buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
    }
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_logins_cleanly_and_they_work_again_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let url = format!("sqlite://{}", fs.path.join("stepgate.db").display());
    let server = Server::start_on(&url, "", PROBE).await;
    let secret = server.client("webapp", &[]).await;
    let (_, totp) = server.totp_user("dora").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    full_login(&server, &rp, "dora", &totp).await;
    readyz_until(&server, StatusCode::OK).await;

    let filler = fill(&fs.path);
    let body = readyz_until(&server, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(body.contains("database cannot be written"), "{body}");
    // A login answers an error page (its first step stores the authorization request), never
    // a panic or a dropped connection, and the process keeps answering.
    for _ in 0..3 {
        let started = start(&rp, &[]);
        let page = Browser::new().get(started.url.as_str()).await;
        assert_eq!(
            page.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            page.text()
        );
    }
    let health = reqwest::get(server.url("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);

    std::fs::remove_file(&filler).expect("free the space");
    readyz_until(&server, StatusCode::OK).await;
    // Every pooled connection is usable again: more logins than the pool has connections.
    for _ in 0..10 {
        full_login(&server, &rp, "dora", &totp).await;
    }
    server.stop().await;
    drop(fs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_dropped_under_the_pool_are_replaced() {
    if stepgate_tests::postgres::skip(concat!(
        module_path!(),
        "::postgres_connections_dropped_under_the_pool_are_replaced"
    )) {
        return;
    }
    let url = fresh_db_url(Backend::Postgres, Path::new("/")).await;
    let server = Server::start_on(&url, "", PROBE).await;
    let secret = server.client("webapp", &[]).await;
    let (_, totp) = server.totp_user("pia").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    full_login(&server, &rp, "pia", &totp).await;

    // What a PostgreSQL restart does to every connection the pool holds.
    let base = stepgate_tests::postgres::server_url();
    let name = url.rsplit('/').next().expect("database name");
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .expect("connect to the test PostgreSQL");
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_all(&mut admin)
    .await
    .expect("terminate the pool's connections");
    assert!(!killed.is_empty(), "the pool held connections");

    for _ in 0..10 {
        full_login(&server, &rp, "pia", &totp).await;
    }
    readyz_until(&server, StatusCode::OK).await;
}
