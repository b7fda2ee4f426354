//! A fresh database on the PostgreSQL that the test command starts, and the rule for when
//! there is none.
//!
//! `STEPGATE_TEST_POSTGRES_URL` names a PostgreSQL the tests may create databases on (its
//! maintenance database, `postgres://USER@HOST:PORT/postgres`). Without it the PostgreSQL half
//! of a both-backends test ([`crate::both_backends!`]) is skipped with a line on stderr, so
//! that a plain `cargo test` on a machine without PostgreSQL runs the SQLite half; unless
//! `STEPGATE_TEST_REQUIRE_POSTGRES=1`, which the test command (scripts/test.sh) sets: there a
//! missing PostgreSQL is a failure, never a skip.

use sqlx::Connection;
use std::io::Write;

/// The test PostgreSQL's URL.
pub const URL_VAR: &str = "STEPGATE_TEST_POSTGRES_URL";
/// Set to `1` (scripts/test.sh does): a missing [`URL_VAR`] fails the test instead of skipping.
pub const REQUIRE_VAR: &str = "STEPGATE_TEST_REQUIRE_POSTGRES";

fn configured_url() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty())
}

fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether the PostgreSQL half of `test` is to be skipped: no [`URL_VAR`] and no
/// [`REQUIRE_VAR`]. Skipping writes one line to stderr (past the test harness's capture, so
/// that it shows in a plain `cargo test`); with [`REQUIRE_VAR`] set a missing URL panics.
/// `test` is the test's path as `module_path!()` spells it (the crate's name is left out of
/// the message, as the harness leaves it out of test names).
pub fn skip(test: &str) -> bool {
    let test = test.split_once("::").map_or(test, |(_, rest)| rest);
    if configured_url().is_some() {
        return false;
    }
    if required() {
        panic!(
            "{URL_VAR} is not set but {REQUIRE_VAR} is: {test} must run on PostgreSQL \
             (scripts/test.sh starts one on loopback and sets both)"
        );
    }
    // Straight to the process's stderr: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (PostgreSQL half) {test}: {URL_VAR} is not set; scripts/test.sh runs it"
    );
    true
}

/// The test PostgreSQL's URL, for a test past [`skip`] (or one that must not skip); without
/// it this fails, loudly.
pub fn server_url() -> String {
    configured_url().unwrap_or_else(|| {
        panic!(
            "{URL_VAR} is not set: run the suite with scripts/test.sh, which starts PostgreSQL \
             on loopback and sets it"
        )
    })
}

/// Creates an empty database on [`server_url`] and returns its URL.
pub async fn fresh_database_url() -> String {
    let base = server_url();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL at {base}: {e}"));
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let _ = conn.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("the URL names a database");
    format!("{prefix}/{name}")
}
