//! Groups of users: one concept for both doors. A registered host admits the members of its
//! groups, an OpenID Connect client with allowed groups admits only their members, and the
//! `groups` scope tells a relying party the names of a user's groups.
//!
//! Hosts and clients refer to a group by its name. Removing a group takes it off every host;
//! a group that a client still lists as allowed cannot be removed (taking it off the client
//! silently could open the client to everyone). Adding a member twice is not an error (the second call changes nothing and writes
//! no audit event), so scripts may apply a membership list repeatedly; removing someone who is
//! not a member is [`Error::NotFound`], because that is usually a typo.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::error::{Error, Result};
use crate::store::groups as store;
use crate::users::User;
use serde::Serialize;

/// The longest group name.
pub const MAX_NAME_LEN: usize = 64;

/// A group, with how many members it has.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Group {
    /// Stable id; memberships, hosts and clients refer to the group by it.
    pub id: String,
    /// Unique, shown to administrators and in the `groups` claim.
    pub name: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// How many users are in it, for the admin listing.
    pub members: i64,
}

/// Group names end up in ID tokens, host configurations and command lines, so they are plain:
/// 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit. `field` names the input that
/// carried the name (`name`, `allow_group`, …), for the error.
pub fn validate_group_name(field: &str, name: &str) -> Result<()> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::refused_as(
            field,
            crate::words::GROUP_NAME_FORM.with("name", shown(name)),
        ))
    }
}

/// Whether a user is admitted by a door restricted to `allowed` groups, given the groups they
/// are in: always when the door names none (an OIDC client without allowed groups admits
/// everyone; hosts decide their own "no groups" rule before asking), else when they share one.
pub fn admitted_by(allowed: &[String], member_of: &[String]) -> bool {
    allowed.is_empty() || allowed.iter().any(|g| member_of.contains(g))
}

/// The first of `names` that is no group, if any (for front doors that store group names, such
/// as a client's allowed groups). Names that are not valid group names are reported through
/// [`validate_group_name`] with `field`, names listed twice as [`Error::Invalid`] too.
pub async fn check_names(pool: &sqlx::AnyPool, field: &str, names: &[String]) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        validate_group_name(field, name)?;
        if names[..i].contains(name) {
            return Err(Error::refused_as(
                field,
                crate::words::GROUP_LISTED_TWICE.with("name", name),
            ));
        }
        if !store::exists(pool, name).await? {
            return Err(Error::refused_as(
                field,
                crate::words::GROUP_MISSING.with("name", name),
            ));
        }
    }
    Ok(())
}

/// What an error shows of a typed name: at most a line's worth.
fn shown(name: &str) -> String {
    name.chars().take(80).collect()
}

/// The audit event of a change by `actor` (None: the command line, which has no signed-in
/// person), about the group `name`.
fn event<'a>(kind: EventKind, name: &str, actor: Option<&User>) -> Event<'a> {
    let detail = match actor {
        Some(a) => format!("group={name} by={}", a.username),
        None => format!("group={name}"),
    };
    Event::new(kind).detail(detail)
}

impl Core {
    /// Creates an empty group; a name in use is [`Error::Conflict`].
    pub async fn create_group(
        &self,
        ctx: &RequestContext,
        actor: Option<&User>,
        name: &str,
    ) -> Result<Group> {
        validate_group_name("name", name)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if store::id_by_name(&mut tx, name).await?.is_some() {
            return Err(Error::conflict(
                crate::words::GROUP_EXISTS.with("name", name),
            ));
        }
        store::insert(&mut tx, &id, name, now).await?;
        let mut ev = event(EventKind::GroupCreated, name, actor);
        if let Some(a) = actor {
            ev = ev.user(&a.id, &a.username);
        }
        audit::record(&mut tx, ctx, now, ev).await?;
        tx.commit().await?;
        Ok(Group {
            id,
            name: name.to_string(),
            created_at: now,
            members: 0,
        })
    }

    /// Removes a group and its memberships (not its members' accounts).
    pub async fn remove_group(
        &self,
        ctx: &RequestContext,
        actor: Option<&User>,
        name: &str,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let Some(id) = store::id_by_name(&mut tx, name).await? else {
            return Err(Error::NotFound("group"));
        };
        // A client's allowed groups are names in a list; dropping this one from it would open
        // the client to everyone, and keeping it would bind the client to whatever group is
        // made under this name later. So the administrator decides first.
        let clients = store::clients_with_allowed_groups(&mut tx).await?;
        let using: Vec<String> = clients
            .into_iter()
            .filter(|(_, list)| {
                serde_json::from_str::<Vec<String>>(list).is_ok_and(|l| l.iter().any(|g| g == name))
            })
            .map(|(id, _)| id)
            .collect();
        if !using.is_empty() {
            return Err(Error::conflict(
                crate::words::GROUP_IN_USE
                    .with("name", name)
                    .with("clients", using.join(", ")),
            ));
        }
        // Also cascaded by the schema; deleted here so the count below is what was removed.
        let members = store::delete_members(&mut tx, &id).await?;
        store::delete(&mut tx, &id).await?;
        let mut ev = event(EventKind::GroupRemoved, name, actor);
        ev.detail = Some(format!(
            "{} members={members}",
            ev.detail.unwrap_or_default()
        ));
        if let Some(a) = actor {
            ev = ev.user(&a.id, &a.username);
        }
        audit::record(&mut tx, ctx, now, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every group with its member count, by name.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        store::list(self.db.pool()).await
    }

    /// One group with its member count.
    pub async fn group(&self, name: &str) -> Result<Option<Group>> {
        store::by_name(self.db.pool(), name).await
    }

    /// Whether a group of this name exists.
    pub async fn group_exists(&self, name: &str) -> Result<bool> {
        store::exists(self.db.pool(), name).await
    }

    /// The members of a group, by username; an unknown group is [`Error::NotFound`].
    pub async fn group_members(&self, name: &str) -> Result<Vec<User>> {
        let group = self.group(name).await?.ok_or(Error::NotFound("group"))?;
        store::members(self.db.pool(), &group.id).await
    }

    /// The names of the groups a user is in, sorted (empty for an unknown user).
    pub async fn groups_of(&self, user_id: &str) -> Result<Vec<String>> {
        store::names_of(self.db.pool(), user_id).await
    }

    /// Makes `username` a member of `group`; `Ok(false)` when they already were (nothing is
    /// written then). An unknown group or user is [`Error::NotFound`].
    pub async fn add_group_member(
        &self,
        ctx: &RequestContext,
        actor: Option<&User>,
        group: &str,
        username: &str,
    ) -> Result<bool> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (group_id, user) = self.group_and_user(&mut tx, group, username).await?;
        if store::is_member(&mut tx, &group_id, &user.id).await? {
            return Ok(false);
        }
        store::add_member(&mut tx, &group_id, &user.id).await?;
        let ev = event(EventKind::GroupMemberAdded, group, actor).user(&user.id, &user.username);
        audit::record(&mut tx, ctx, now, ev).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes `username` out of `group`. An unknown group or user, or a user who is not a
    /// member, is [`Error::NotFound`] (`"group"`, `"user"`, `"group member"`).
    pub async fn remove_group_member(
        &self,
        ctx: &RequestContext,
        actor: Option<&User>,
        group: &str,
        username: &str,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let (group_id, user) = self.group_and_user(&mut tx, group, username).await?;
        let removed = store::remove_member(&mut tx, &group_id, &user.id).await?;
        if removed == 0 {
            return Err(Error::NotFound("group member"));
        }
        let ev = event(EventKind::GroupMemberRemoved, group, actor).user(&user.id, &user.username);
        audit::record(&mut tx, ctx, now, ev).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn group_and_user(
        &self,
        tx: &mut crate::db::Tx,
        group: &str,
        username: &str,
    ) -> Result<(String, User)> {
        let group_id = store::id_by_name(tx, group)
            .await?
            .ok_or(Error::NotFound("group"))?;
        let user_id = crate::store::users::id_by_username(tx, username)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let user = self.user_by_id_tx(tx, &user_id).await?;
        Ok((group_id, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { field, .. } => field,
            other => panic!("not Invalid: {other}"),
        }
    }

    #[test]
    fn group_names() {
        for ok in [
            "ops",
            "a",
            "0day",
            "web-admins",
            "db.readers",
            "x_y",
            &"a".repeat(64),
        ] {
            assert!(validate_group_name("name", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Ops",
            "-ops",
            ".ops",
            "_ops",
            "ops team",
            "ops/dev",
            "ops:x",
            "é",
            &"a".repeat(65),
        ] {
            let e = validate_group_name("allow_group", bad).expect_err(bad);
            assert_eq!(field_of(e), "allow_group", "{bad}");
        }
    }

    #[test]
    fn an_error_shows_a_bounded_part_of_the_name() {
        let long = "X".repeat(10_000);
        let e = validate_group_name("name", &long).expect_err("too long");
        assert!(e.to_string().len() < 300, "{e}");
    }

    #[test]
    fn admission() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(admitted_by(&[], &[]));
        assert!(admitted_by(&[], &s(&["ops"])));
        assert!(admitted_by(&s(&["ops", "dev"]), &s(&["dev"])));
        assert!(!admitted_by(&s(&["ops"]), &[]));
        assert!(!admitted_by(&s(&["ops"]), &s(&["dev"])));
    }
}
