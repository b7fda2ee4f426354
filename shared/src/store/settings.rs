//! The table of platform settings: `platform_settings`, one JSON value per name.

use crate::db::Tx;
use crate::error::Result;

/// The stored JSON of setting `name`, if it was ever saved.
pub(crate) async fn value(conn: &mut sqlx::AnyConnection, name: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT value FROM platform_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(json,)| json))
}

/// Replaces setting `name` with `json`, saved at `now`.
pub(crate) async fn put(tx: &mut Tx, name: &str, json: &str, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM platform_settings WHERE name = $1")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO platform_settings (name, value, updated_at) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(json)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
