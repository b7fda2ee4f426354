//! The tables of groups: `groups`, `group_members`, and the `oidc_clients` column that names
//! allowed groups (read before a group is removed).

use crate::db::Tx;
use crate::error::Result;
use crate::groups::Group;
use crate::users::User;
use sqlx::Row;

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.created_at, \
     (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS members FROM groups g";

fn group_from_row(r: &sqlx::any::AnyRow) -> Result<Group> {
    Ok(Group {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        members: r.try_get("members")?,
    })
}

/// Whether a group of this name exists.
pub(crate) async fn exists(pool: &sqlx::AnyPool, name: &str) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM groups WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}

/// Reads the id of the group named `name`, if any.
pub(crate) async fn id_by_name(tx: &mut Tx, name: &str) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT id FROM groups WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Inserts an empty group.
pub(crate) async fn insert(tx: &mut Tx, id: &str, name: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads the id and allowed groups (a JSON list) of every client that allows some, by id.
pub(crate) async fn clients_with_allowed_groups(tx: &mut Tx) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT client_id, allowed_groups FROM oidc_clients WHERE allowed_groups <> '[]' \
         ORDER BY client_id",
    )
    .fetch_all(&mut **tx)
    .await?)
}

/// Deletes every membership of the group; returns how many there were.
pub(crate) async fn delete_members(tx: &mut Tx, group_id: &str) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// Deletes the group's row.
pub(crate) async fn delete(tx: &mut Tx, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reads every group with its member count, by name.
pub(crate) async fn list(pool: &sqlx::AnyPool) -> Result<Vec<Group>> {
    let rows = sqlx::query(&format!("{GROUP_SELECT} ORDER BY g.name"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(group_from_row).collect()
}

/// Reads the group named `name` with its member count, if any.
pub(crate) async fn by_name(pool: &sqlx::AnyPool, name: &str) -> Result<Option<Group>> {
    let row = sqlx::query(&format!("{GROUP_SELECT} WHERE g.name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(group_from_row).transpose()
}

/// Reads the members of the group with this id, by username.
pub(crate) async fn members(pool: &sqlx::AnyPool, group_id: &str) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM users WHERE id IN \
         (SELECT user_id FROM group_members WHERE group_id = $1) ORDER BY username",
        crate::store::users::USER_COLUMNS
    ))
    .bind(group_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(crate::store::users::user_from_row)
        .collect()
}

/// Reads the names of the groups the user is in, sorted.
pub(crate) async fn names_of(pool: &sqlx::AnyPool, user_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id \
         WHERE m.user_id = $1 ORDER BY g.name",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Whether the user is a member of the group.
pub(crate) async fn is_member(tx: &mut Tx, group_id: &str, user_id: &str) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

/// Inserts the user's membership of the group.
pub(crate) async fn add_member(tx: &mut Tx, group_id: &str, user_id: &str) -> Result<()> {
    sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)")
        .bind(group_id)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes the user's membership of the group; returns how many rows went (0 or 1).
pub(crate) async fn remove_member(tx: &mut Tx, group_id: &str, user_id: &str) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}
