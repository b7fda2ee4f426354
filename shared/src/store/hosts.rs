//! The tables of registered hosts: `hosts` and `host_groups`, the reads that decide a login
//! at a host in one round trip, and the `challenges` rows a host's logins end in.

use crate::db::Tx;
use crate::error::Result;
use crate::hosts::Host;
use crate::users::User;
use sqlx::any::AnyRow;
use sqlx::Row;

/// SQL counting the groups of the user `user_id_column` that the host bound as `$2` (its
/// id) allows: above zero, the host admits the user. The statement form of
/// [`crate::hosts::admits`], for reads that decide admission in the same round trip as the
/// user or the challenge.
pub(crate) fn admitting_groups(user_id_column: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM group_members m JOIN groups g ON g.id = m.group_id \
         JOIN host_groups hg ON hg.group_name = g.name AND hg.host_id = $2 \
         WHERE m.user_id = {user_id_column})"
    )
}

/// What the start of a login at a host reads ([`user_at_host`]): the user named `$1`, their
/// admission at the host `$2` and their factors, a row each. Made once: every login at a host
/// sends it.
static USER_AT_HOST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} AS admitting_groups, {}, {} FROM users u \
         LEFT JOIN user_providers p ON p.user_id = u.id WHERE u.username = $1",
        admitting_groups("u.id"),
        crate::store::users::user_columns_of("u"),
        crate::store::factors::factor_columns_of("p")
    )
});

/// The host in a row of `hosts` (its allowed groups left empty).
fn host_of_row(r: &AnyRow) -> Result<Host> {
    Ok(Host {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        allowed_groups: Vec::new(),
        created_at: r.try_get("created_at")?,
        rotated_at: r.try_get("rotated_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        last_seen_addr: r.try_get("last_seen_addr")?,
    })
}

/// Whether a host of this name is registered.
pub(crate) async fn name_taken(tx: &mut Tx, name: &str) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM hosts WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.is_some())
}

/// Inserts a host with the hash of its credential, made and rotated `now`.
pub(crate) async fn insert(
    tx: &mut Tx,
    id: &str,
    name: &str,
    credential_hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO hosts (id, name, credential_hash, created_at, rotated_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id)
    .bind(name)
    .bind(credential_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts `group` among the host's allowed groups.
pub(crate) async fn insert_group(tx: &mut Tx, host_id: &str, group: &str) -> Result<()> {
    sqlx::query("INSERT INTO host_groups (host_id, group_name) VALUES ($1, $2)")
        .bind(host_id)
        .bind(group)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes `group` from the host's allowed groups.
pub(crate) async fn delete_group(tx: &mut Tx, host_id: &str, group: &str) -> Result<()> {
    sqlx::query("DELETE FROM host_groups WHERE host_id = $1 AND group_name = $2")
        .bind(host_id)
        .bind(group)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads every host with its allowed groups (sorted), by name.
pub(crate) async fn list(pool: &sqlx::AnyPool) -> Result<Vec<Host>> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, rotated_at, last_seen_at, last_seen_addr \
         FROM hosts ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    let groups = sqlx::query("SELECT host_id, group_name FROM host_groups ORDER BY group_name")
        .fetch_all(pool)
        .await?;
    let mut hosts = Vec::with_capacity(rows.len());
    for r in rows {
        let mut h = host_of_row(&r)?;
        for g in &groups {
            if g.try_get::<String, _>("host_id")? == h.id {
                h.allowed_groups.push(g.try_get("group_name")?);
            }
        }
        hosts.push(h);
    }
    Ok(hosts)
}

/// Reads the host named `name` without its allowed groups (see [`allowed_groups`]), if any.
pub(crate) async fn by_name(pool: &sqlx::AnyPool, name: &str) -> Result<Option<Host>> {
    let row = sqlx::query(
        "SELECT id, name, created_at, rotated_at, last_seen_at, last_seen_addr \
         FROM hosts WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(host_of_row).transpose()
}

/// Reads the names of the groups the host allows, sorted.
pub(crate) async fn allowed_groups(pool: &sqlx::AnyPool, host_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT group_name FROM host_groups WHERE host_id = $1 ORDER BY group_name")
            .bind(host_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// Deletes every allowed group of the host.
pub(crate) async fn delete_groups(tx: &mut Tx, host_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM host_groups WHERE host_id = $1")
        .bind(host_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes the host's row.
pub(crate) async fn delete(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM hosts WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks every pending challenge begun at the host named `host_name` failed.
pub(crate) async fn fail_pending_challenges_at(
    tx: &mut Tx,
    host_name: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE challenges SET state = 'failed', completed_at = $1 \
         WHERE host = $2 AND state = 'pending'",
    )
    .bind(now)
    .bind(host_name)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces the hash of the host's credential, rotated `now`.
pub(crate) async fn set_credential(
    tx: &mut Tx,
    id: &str,
    credential_hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE hosts SET credential_hash = $1, rotated_at = $2 WHERE id = $3")
        .bind(credential_hash)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads the host with this id, its allowed groups (sorted) and its credential's hash, if any.
pub(crate) async fn with_credential_hash(
    pool: &sqlx::AnyPool,
    id: &str,
) -> Result<Option<(Host, String)>> {
    // A row per group (one row with a NULL group for a host allowing none).
    let rows = sqlx::query(
        "SELECT h.id, h.name, h.credential_hash, h.created_at, h.rotated_at, h.last_seen_at, \
         h.last_seen_addr, g.group_name FROM hosts h \
         LEFT JOIN host_groups g ON g.host_id = h.id WHERE h.id = $1 ORDER BY g.group_name",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let stored: String = row.try_get("credential_hash")?;
    let mut host = host_of_row(row)?;
    for r in &rows {
        if let Some(g) = r.try_get::<Option<String>, _>("group_name")? {
            host.allowed_groups.push(g);
        }
    }
    Ok(Some((host, stored)))
}

/// Writes when and from which address the host was last seen.
pub(crate) async fn set_last_seen(
    writer: &sqlx::AnyPool,
    id: &str,
    now: i64,
    addr: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE hosts SET last_seen_at = $1, last_seen_addr = $2 WHERE id = $3")
        .bind(now)
        .bind(addr)
        .bind(id)
        .execute(writer)
        .await?;
    Ok(())
}

/// Reads the user named `username`, their [`admitting_groups`] at `host_id` and their factor rows.
pub(crate) async fn user_at_host(
    pool: &sqlx::AnyPool,
    username: &str,
    host_id: &str,
) -> Result<Option<(User, i64, Vec<AnyRow>)>> {
    let rows = sqlx::query(&USER_AT_HOST)
        .bind(username)
        .bind(host_id)
        .fetch_all(pool)
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let admitting_groups = row.try_get::<i64, _>("admitting_groups")?;
    let user = crate::store::users::user_from_row(row)?;
    Ok(Some((user, admitting_groups, rows)))
}

/// Reads the host a challenge began at (if any) and its user's group names, if it exists.
pub(crate) async fn conversation_host_and_groups(
    pool: &sqlx::AnyPool,
    conversation: &str,
) -> Result<Option<(Option<String>, Vec<String>)>> {
    // A row per group.
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT c.host, g.name FROM challenges c \
         LEFT JOIN group_members m ON m.user_id = c.user_id \
         LEFT JOIN groups g ON g.id = m.group_id WHERE c.id = $1",
    )
    .bind(conversation)
    .fetch_all(pool)
    .await?;
    let Some((host, _)) = rows.first() else {
        return Ok(None);
    };
    let host = host.clone();
    let groups = rows.into_iter().filter_map(|(_, g)| g).collect();
    Ok(Some((host, groups)))
}

/// Marks the challenge failed if it is still pending.
pub(crate) async fn fail_pending_challenge(
    writer: &sqlx::AnyPool,
    id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE challenges SET state = 'failed', completed_at = $1 \
         WHERE id = $2 AND state = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(writer)
    .await?;
    Ok(())
}
