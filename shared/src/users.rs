//! Users and the first factor (password).
//!
//! Password failures are counted apart from second-factor failures and never lock an account:
//! a stranger who knows only a username must not be able to lock its owner out.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::db::{Batch, Tx};
use crate::error::{Error, Result};
use crate::store::users as store;
use serde::Serialize;

/// What a user may do besides signing in; stored as text so a new role needs no migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May open the admin pages and API: users, clients, hosts, settings, the audit log.
    Admin,
    /// Signs in and manages their own factors only.
    User,
}

impl Role {
    /// The stored and serialized name. Anything but `admin` reads back as a plain user, so a
    /// damaged value never grants rights.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
    /// The role a stored name stands for (see [`Role::as_str`]).
    pub(crate) fn parse(s: &str) -> Role {
        if s == "admin" {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// A user as stored, without the password hash (which never leaves [`Core::first_factor`]'s
/// query).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct User {
    /// Stable UUID; the OIDC `sub`.
    pub id: String,
    /// Unique; also the Linux login name PAM sees.
    pub username: String,
    /// Where notices (and email codes, once verified as a factor) go; always present.
    pub email: String,
    /// A contact number (E.164) on the user's record; SMS codes go to the number enrolled
    /// with the SMS factor, not to this one.
    pub phone: Option<String>,
    /// The name pages and ID tokens show; may be empty (the username stands in).
    pub display_name: String,
    /// What the user may do besides signing in.
    pub role: Role,
    /// Switched off by an administrator: every login is refused, factors untouched.
    pub disabled: bool,
    /// Locked by too many second-factor failures; only an unlock lifts it.
    pub locked: bool,
    /// When the lockout began (Unix seconds), for the admin pages and the audit.
    pub locked_at: Option<i64>,
    /// Second-factor failures since the last verified second factor or unlock.
    pub twofa_failures: i64,
    /// When the user was created (Unix seconds).
    pub created_at: i64,
    /// Last change to the row by an administrator or the user (Unix seconds).
    pub updated_at: i64,
}

impl User {
    /// Whether the admin pages and API let this user in.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What an administrator (or the CLI) gives to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Checked by [`validate_username`]; must be unused.
    pub username: String,
    /// Checked as an address; required so the user can be told of changes to the account.
    pub email: String,
    /// Checked as E.164 when given.
    pub phone: Option<String>,
    /// Empty when `None`.
    pub display_name: Option<String>,
    /// What the user may do besides signing in.
    pub role: Role,
    /// `None` creates a user who cannot sign in until a password is set (e.g. by an
    /// administrator's reset).
    pub password: Option<String>,
}

/// Usernames double as Linux login names, so they follow the portable login-name rules.
pub fn validate_username(name: &str) -> Result<()> {
    let ok_len = (1..=64).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    // "." and ".." are no login names (useradd refuses them) and no path segment either: a
    // browser resolves /admin/users/.. to /admin, so such a user could never be opened.
    let dots_only = name == "." || name == "..";
    if !ok_len || !ok_chars || name.starts_with('-') || dots_only {
        return Err(Error::refused_as("username", crate::words::USERNAME_FORM));
    }
    Ok(())
}

/// At least 8 characters (a shorter one falls to guessing despite argon2), at most 1024 bytes
/// (so a huge body cannot make each hash expensive).
pub fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::refused_as("password", crate::words::PASSWORD_SHORT));
    }
    if password.len() > 1024 {
        return Err(Error::refused_as("password", crate::words::PASSWORD_LONG));
    }
    Ok(())
}

impl Core {
    /// Validates every field, hashes the password and inserts the user, audited; a taken
    /// username is a [`Error::Conflict`].
    pub async fn create_user(&self, ctx: &RequestContext, new: NewUser) -> Result<User> {
        validate_username(&new.username)?;
        crate::codes::validate_email(&new.email).map_err(|w| Error::refused_as("email", w))?;
        if let Some(phone) = &new.phone {
            crate::codes::validate_e164(phone).map_err(|w| Error::refused_as("phone", w))?;
        }
        let hash = match new.password.clone() {
            Some(pw) => {
                validate_password(&pw)?;
                Some(self.blocking(move |h, _| h.hash(&pw)).await??)
            }
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        if store::id_by_username(&mut tx, &new.username)
            .await?
            .is_some()
        {
            return Err(Error::conflict(
                crate::words::USER_EXISTS.with("name", &new.username),
            ));
        }
        store::insert(&mut tx, &id, &new, hash.as_deref(), now).await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::UserCreated).user(&id, &new.username),
        )
        .await?;
        tx.commit().await?;
        self.user_by_id(&id).await?.ok_or(Error::NotFound("user"))
    }

    /// The user with this id (the OIDC `sub`), if any.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        store::by_id(self.db.pool(), id).await
    }

    /// The user with this login name, if any.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        store::by_username(self.db.pool(), username).await
    }

    pub(crate) async fn user_by_id_tx(&self, tx: &mut Tx, id: &str) -> Result<User> {
        store::by_id_in(tx, id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Users whose username, email or name contains `query` (all when empty), by username.
    pub async fn list_users(&self, query: &str, limit: u32, offset: u32) -> Result<Vec<User>> {
        store::search(
            self.db.pool(),
            query,
            i64::from(limit.clamp(1, 1000)),
            i64::from(offset),
        )
        .await
    }

    /// Whether any user exists; reads one row, where a count would read a whole index (and
    /// keep it in the page cache) on a large database at every start.
    pub async fn has_users(&self) -> Result<bool> {
        store::any(self.db.pool()).await
    }

    /// How many users exist (a full count: for listings, not hot paths; see
    /// [`Core::has_users`]).
    pub async fn user_count(&self) -> Result<i64> {
        store::count(self.db.pool()).await
    }

    /// As [`Core::user_by_username`], with a missing user as [`Error::NotFound`], for
    /// administrative actions that name one.
    pub async fn require_user(&self, username: &str) -> Result<User> {
        self.user_by_username(username)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Checks a username and password. Unknown users, users without a password and wrong
    /// passwords all return [`Error::BadCredentials`] after the same argon2 work.
    ///
    /// A correct password deliberately leaves the second-factor failure counter alone (unlike
    /// ThingsBoard), so alternating logins cannot keep guessing codes below the lockout.
    pub async fn first_factor(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: &str,
    ) -> Result<User> {
        let found = store::password_hash(self.db.pool(), username).await?;
        let pw = password.to_string();
        let ok = match found.clone() {
            Some((_, Some(hash))) => {
                self.blocking(move |h, m| h.verify_in(m, &hash, &pw))
                    .await?
            }
            _ => {
                self.blocking(move |h, m| h.verify_unknown_user(m, &pw))
                    .await?
            }
        };
        let now = self.now();
        // No transaction: nothing is decided on a read here that the writes could contradict
        // (the count moves in place), so each outcome is one hand-off to the writer.
        let Some((id, _)) = found else {
            let shown = truncate(username, 64);
            let mut writes = Batch::new(self.db.backend());
            audit::push(
                &mut writes,
                ctx,
                now,
                Event::new(EventKind::FirstFactorFailed).detail(format!("unknown user {shown:?}")),
            );
            self.db.write(writes).await?;
            return Err(Error::BadCredentials);
        };
        // Read after the hash: an account disabled or locked while it ran is refused.
        let user = self.user_by_id(&id).await?.ok_or(Error::NotFound("user"))?;
        let mut writes = Batch::new(self.db.backend());
        let event = if ok {
            Event::new(EventKind::FirstFactorOk)
        } else {
            Event::new(EventKind::FirstFactorFailed).detail("wrong password")
        };
        // The event first (see `Db::write`).
        audit::push(&mut writes, ctx, now, event.user(&user.id, &user.username));
        store::push_password_outcome(&mut writes, &id, ok);
        self.db.write(writes).await?;
        if !ok {
            return Err(Error::BadCredentials);
        }
        if user.disabled {
            return Err(Error::Disabled);
        }
        if user.locked {
            return Err(Error::Locked);
        }
        Ok(user)
    }

    /// Replaces a user's password after the length rules, audited; the second factors stay,
    /// so a password reset alone never opens an account.
    pub async fn set_password(
        &self,
        ctx: &RequestContext,
        username: &str,
        password: &str,
    ) -> Result<()> {
        validate_password(password)?;
        let user = self.require_user(username).await?;
        let pw = password.to_string();
        let hash = self.blocking(move |h, _| h.hash(&pw)).await??;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::set_password_hash(&mut tx, &user.id, &hash, now).await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::PasswordChanged).user(&user.id, &user.username),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Switches an account off or on again, audited; while disabled every login is refused.
    pub async fn set_disabled(
        &self,
        ctx: &RequestContext,
        username: &str,
        disabled: bool,
    ) -> Result<User> {
        let user = self.require_user(username).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::set_disabled(&mut tx, &user.id, disabled, now).await?;
        let kind = if disabled {
            EventKind::UserDisabled
        } else {
            EventKind::UserEnabled
        };
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(kind).user(&user.id, &user.username),
        )
        .await?;
        tx.commit().await?;
        self.require_user(username).await
    }

    /// Grants or withdraws administrator rights, audited.
    pub async fn set_role(&self, ctx: &RequestContext, username: &str, role: Role) -> Result<User> {
        let user = self.require_user(username).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::set_role(&mut tx, &user.id, role, now).await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::UserUpdated)
                .user(&user.id, &user.username)
                .detail(format!("role set to {}", role.as_str())),
        )
        .await?;
        tx.commit().await?;
        self.require_user(username).await
    }

    /// Lifts a second-factor lockout and clears the failure counter (the only way, besides a
    /// verified second factor, that the counter goes back to zero).
    pub async fn unlock_user(&self, ctx: &RequestContext, username: &str) -> Result<User> {
        let user = self.require_user(username).await?;
        let now = self.now();
        let mut tx = self.db.begin_locked(&user.id).await?;
        store::clear_lockout(&mut tx, &user.id, now).await?;
        // Old rate-limit entries would otherwise still count against the unlocked user.
        store::delete_code_checks(&mut tx, &user.id).await?;
        audit::record(
            &mut tx,
            ctx,
            now,
            Event::new(EventKind::Unlock).user(&user.id, &user.username),
        )
        .await?;
        tx.commit().await?;
        self.require_user(username).await
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::validate_username;

    #[test]
    fn usernames_follow_login_name_rules_and_fit_a_url_path() {
        for ok in ["alice", "a.b", "...", "x_y-1", "0"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", ".", "..", "-bob", "a b", "a/b", "ü", long.as_str()] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
    }
}
