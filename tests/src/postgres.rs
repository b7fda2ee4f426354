//! A fresh database on the PostgreSQL that the test command starts.

use sqlx::Connection;

/// Creates an empty database and returns its URL. The test command (scripts/test.sh) starts
/// PostgreSQL on loopback and sets `STEPGATE_TEST_POSTGRES_URL`; without it this fails, loudly.
pub async fn fresh_database_url() -> String {
    let base = std::env::var("STEPGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "STEPGATE_TEST_POSTGRES_URL is not set: run the suite with scripts/test.sh, which \
             starts PostgreSQL on loopback and sets it"
        )
    });
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
