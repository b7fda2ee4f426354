//! Registered hosts (fleet mode): Linux machines whose PAM module verifies logins through the
//! server, each with a credential of its own, instead of holding the database and the key
//! that decrypts every secret.
//!
//! A host admits only members of its allowed groups; a host with none admits no one (a host
//! that silently let everyone else through would make a forgotten group a hole). The
//! credential is `sgh1.<id>.<secret>`: the id finds the row, the 256-bit secret is compared
//! with its stored SHA-256 in constant time. It is shown once, when made.

use crate::audit::{self, Event, EventKind};
use crate::core::{Core, RequestContext};
use crate::error::{Error, Result};
use crate::users::User;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use subtle::ConstantTimeEq;

/// How a credential starts; the version lets a later format coexist.
const CREDENTIAL_PREFIX: &str = "sgh1";

/// A host's last-seen time and address are written at most this often (seconds) while they
/// do not change, so that a busy host does not turn every verification into an extra write.
const LAST_SEEN_RESOLUTION: i64 = 60;

/// A registered host as administrators see it (never with its credential).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Host {
    /// Internal id (not serialized: the API names a host by its name).
    #[serde(skip)]
    pub id: String,
    /// Unique; what the host's `host=` and the audit log call it.
    pub name: String,
    /// Groups whose members may log in at this host, sorted.
    pub allowed_groups: Vec<String>,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When the credential was last made (at registration or rotation).
    pub rotated_at: i64,
    /// When it last called with its credential (to within a minute), so a dead or forgotten
    /// host stands out.
    pub last_seen_at: Option<i64>,
    /// The address it last called from, to spot a credential used elsewhere.
    pub last_seen_addr: Option<String>,
}

/// A credential as made: shown to the administrator once, then only its hash exists.
#[derive(Clone)]
pub struct Credential(pub String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(…)")
    }
}

/// Host names: what `hostname` prints, a DNS name, or any short label an administrator likes.
pub fn check_host_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.len() > 253 {
        return Err(Error::refused_as("name", crate::words::HOST_NAME_LENGTH));
    }
    if !name.chars().all(ok_char) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::refused_as("name", crate::words::HOST_NAME_FORM));
    }
    Ok(())
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn secret_hash(secret: &str) -> String {
    hex_lower(&Sha256::digest(secret.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes a credential for host `id`: (the text given out, the hash kept).
fn new_credential(id: &str) -> (Credential, String) {
    let secret = random_b64(32);
    let hash = secret_hash(&secret);
    (
        Credential(format!("{CREDENTIAL_PREFIX}.{id}.{secret}")),
        hash,
    )
}

/// Splits `sgh1.<id>.<secret>`; `None` for anything else.
fn parse_credential(text: &str) -> Option<(&str, &str)> {
    let mut parts = text.trim().splitn(3, '.');
    let (prefix, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    (prefix == CREDENTIAL_PREFIX && !id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// SQL counting the groups of the user `user_id_column` that the host bound as `$2` (its
/// id) allows: above zero, the host admits the user. The statement form of [`admits`], for
/// reads that decide admission in the same round trip as the user or the challenge.
pub(crate) fn admitting_groups(user_id_column: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM group_members m JOIN groups g ON g.id = m.group_id \
         JOIN host_groups hg ON hg.group_name = g.name AND hg.host_id = $2 \
         WHERE m.user_id = {user_id_column})"
    )
}

/// What the start of a login at a host reads (`Core::user_at_host`): the user named `$1`,
/// their admission at the host `$2` and their factors, a row each. Made once: every login at
/// a host sends it.
static USER_AT_HOST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} AS admitting_groups, {}, {} FROM users u \
         LEFT JOIN user_providers p ON p.user_id = u.id WHERE u.username = $1",
        admitting_groups("u.id"),
        crate::users::user_columns_of("u"),
        crate::factors::factor_columns_of("p")
    )
});

/// Whether a user in `user_groups` may log in at a host allowing `allowed`: the rule, once.
pub fn admits(allowed: &[String], user_groups: &[String]) -> bool {
    allowed.iter().any(|g| user_groups.contains(g))
}

impl Core {
    /// Registers a host allowing `groups` (each must exist) and returns its credential, which
    /// is never shown again.
    pub async fn add_host(
        &self,
        ctx: &RequestContext,
        name: &str,
        groups: &[String],
    ) -> Result<(Host, Credential)> {
        check_host_name(name)?;
        for g in groups {
            if !self.group_exists(g).await? {
                return Err(Error::refused_as(
                    "group",
                    crate::words::HOST_NO_SUCH_GROUP.with("name", g),
                ));
            }
        }
        let id = random_b64(12);
        let (credential, hash) = new_credential(&id);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM hosts WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(Error::conflict(
                crate::words::HOST_EXISTS.with("name", name),
            ));
        }
        sqlx::query(
            "INSERT INTO hosts (id, name, credential_hash, created_at, rotated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut sorted: Vec<String> = groups.to_vec();
        sorted.sort();
        sorted.dedup();
        for g in &sorted {
            sqlx::query("INSERT INTO host_groups (host_id, group_name) VALUES ($1, $2)")
                .bind(&id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            &ctx.clone().with_host(name),
            now,
            Event::new(EventKind::HostAdded).detail(format!("allowed groups: {sorted:?}")),
        )
        .await?;
        tx.commit().await?;
        let host = Host {
            id,
            name: name.to_string(),
            allowed_groups: sorted,
            created_at: now,
            rotated_at: now,
            last_seen_at: None,
            last_seen_addr: None,
        };
        Ok((host, credential))
    }

    /// Every registered host, by name.
    pub async fn list_hosts(&self) -> Result<Vec<Host>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, rotated_at, last_seen_at, last_seen_addr \
             FROM hosts ORDER BY name",
        )
        .fetch_all(self.db.pool())
        .await?;
        let groups = sqlx::query("SELECT host_id, group_name FROM host_groups ORDER BY group_name")
            .fetch_all(self.db.pool())
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

    /// One host by name (`NotFound` when not registered).
    pub async fn host(&self, name: &str) -> Result<Host> {
        let row = sqlx::query(
            "SELECT id, name, created_at, rotated_at, last_seen_at, last_seen_addr \
             FROM hosts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(Error::NotFound("host"))?;
        let mut h = host_of_row(&row)?;
        h.allowed_groups = self.host_groups(&h.id).await?;
        Ok(h)
    }

    async fn host_groups(&self, host_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT group_name FROM host_groups WHERE host_id = $1 ORDER BY group_name",
        )
        .bind(host_id)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    /// Unregisters a host: its credential stops working at once, its logins in progress end.
    pub async fn remove_host(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        let host = self.host(name).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM host_groups WHERE host_id = $1")
            .bind(&host.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM hosts WHERE id = $1")
            .bind(&host.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE challenges SET state = 'failed', completed_at = $1 \
             WHERE host = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(&host.name)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            &ctx.clone().with_host(name),
            now,
            Event::new(EventKind::HostRemoved),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a host's credential; the old one stops working at once.
    pub async fn rotate_host_credential(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Credential> {
        let host = self.host(name).await?;
        let (credential, hash) = new_credential(&host.id);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE hosts SET credential_hash = $1, rotated_at = $2 WHERE id = $3")
            .bind(&hash)
            .bind(now)
            .bind(&host.id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &ctx.clone().with_host(name),
            now,
            Event::new(EventKind::HostCredentialRotated),
        )
        .await?;
        tx.commit().await?;
        Ok(credential)
    }

    /// Lets members of `group` log in at host `name` (allowing it twice changes nothing).
    pub async fn allow_host_group(
        &self,
        ctx: &RequestContext,
        name: &str,
        group: &str,
    ) -> Result<Host> {
        let host = self.host(name).await?;
        if !self.group_exists(group).await? {
            return Err(Error::refused_as(
                "group",
                crate::words::HOST_NO_SUCH_GROUP.with("name", group),
            ));
        }
        if !host.allowed_groups.iter().any(|g| g == group) {
            self.write_host_group(
                ctx,
                &host,
                group,
                "INSERT INTO host_groups (host_id, group_name) VALUES ($1, $2)",
                EventKind::HostGroupAllowed,
            )
            .await?;
        }
        self.host(name).await
    }

    /// Stops admitting members of `group` at host `name` (unless another allowed group has
    /// them).
    pub async fn deny_host_group(
        &self,
        ctx: &RequestContext,
        name: &str,
        group: &str,
    ) -> Result<Host> {
        let host = self.host(name).await?;
        if !host.allowed_groups.iter().any(|g| g == group) {
            return Err(Error::refused_as(
                "group",
                crate::words::HOST_GROUP_NOT_ALLOWED
                    .with("host", name)
                    .with("group", group),
            ));
        }
        self.write_host_group(
            ctx,
            &host,
            group,
            "DELETE FROM host_groups WHERE host_id = $1 AND group_name = $2",
            EventKind::HostGroupDenied,
        )
        .await?;
        self.host(name).await
    }

    /// One change to a host's groups (`sql` over host id and group) with its audit event.
    async fn write_host_group(
        &self,
        ctx: &RequestContext,
        host: &Host,
        group: &str,
        sql: &'static str,
        kind: EventKind,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query(sql)
            .bind(&host.id)
            .bind(group)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            &ctx.clone().with_host(&host.name),
            self.now(),
            Event::new(kind).detail(format!("group {group}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The host a credential belongs to, or `None` (unknown, removed, rotated, malformed:
    /// all alike). Records when and from where the host was last seen.
    pub async fn authenticate_host(
        &self,
        credential: &str,
        addr: Option<&str>,
    ) -> Result<Option<Host>> {
        let Some((id, secret)) = parse_credential(credential) else {
            return Ok(None);
        };
        // The host and its allowed groups in one round trip: a row per group (one row with a
        // NULL group for a host allowing none). This runs on every host-protocol request.
        let rows = sqlx::query(
            "SELECT h.id, h.name, h.credential_hash, h.created_at, h.rotated_at, h.last_seen_at, \
             h.last_seen_addr, g.group_name FROM hosts h \
             LEFT JOIN host_groups g ON g.host_id = h.id WHERE h.id = $1 ORDER BY g.group_name",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?;
        let Some(row) = rows.first() else {
            // The same hashing work as a known host, so timing does not tell ids apart.
            let _ = secret_hash(secret);
            return Ok(None);
        };
        let stored: String = row.try_get("credential_hash")?;
        let given = secret_hash(secret);
        if !bool::from(given.as_bytes().ct_eq(stored.as_bytes())) {
            return Ok(None);
        }
        let mut host = host_of_row(row)?;
        for r in &rows {
            if let Some(g) = r.try_get::<Option<String>, _>("group_name")? {
                host.allowed_groups.push(g);
            }
        }
        let now = self.now();
        let stale = host
            .last_seen_at
            .is_none_or(|t| now - t >= LAST_SEEN_RESOLUTION);
        if stale || host.last_seen_addr.as_deref() != addr {
            sqlx::query("UPDATE hosts SET last_seen_at = $1, last_seen_addr = $2 WHERE id = $3")
                .bind(now)
                .bind(addr)
                .bind(&host.id)
                .execute(self.db.writer())
                .await?;
            host.last_seen_at = Some(now);
            host.last_seen_addr = addr.map(str::to_string);
        }
        Ok(Some(host))
    }

    /// The user named `username`, whether `host` admits them (a member of one of its
    /// allowed groups) and, if it does and `with_factors`, their stored factors, in one round
    /// trip: the start of every login at a host. (A user the host does not admit is refused
    /// as such even if a factor of theirs could not be opened.)
    pub(crate) async fn user_at_host(
        &self,
        username: &str,
        host: &Host,
        with_factors: bool,
    ) -> Result<Option<(User, bool, Option<Vec<crate::factors::StoredFactor>>)>> {
        let rows = sqlx::query(&USER_AT_HOST)
            .bind(username)
            .bind(&host.id)
            .fetch_all(self.db.pool())
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let admitted = row.try_get::<i64, _>("admitting_groups")? > 0;
        let user = crate::users::user_from_row(row)?;
        let factors = if admitted && with_factors {
            Some(self.stored_factors_of_rows(&user.id, &rows)?)
        } else {
            None
        };
        Ok(Some((user, admitted, factors)))
    }

    /// Whether `user_id` may log in at `host` (a member of one of its allowed groups).
    pub async fn host_admits(&self, host: &Host, user_id: &str) -> Result<bool> {
        if host.allowed_groups.is_empty() {
            return Ok(false);
        }
        Ok(admits(
            &host.allowed_groups,
            &self.groups_of(user_id).await?,
        ))
    }
}

fn host_of_row(r: &sqlx::any::AnyRow) -> Result<Host> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_groups_admits_no_one() {
        assert!(!admits(&[], &["ops".into()]));
        assert!(!admits(&["ops".into()], &[]));
        assert!(!admits(&["ops".into()], &["dev".into()]));
        assert!(admits(&["dev".into(), "ops".into()], &["ops".into()]));
    }

    #[test]
    fn credentials_parse_only_in_their_own_shape() {
        let (c, hash) = new_credential("abc");
        let (id, secret) = parse_credential(&c.0).unwrap();
        assert_eq!(id, "abc");
        assert_eq!(secret_hash(secret), hash);
        assert!(parse_credential("sgh1.abc").is_none());
        assert!(parse_credential("sgh2.abc.def").is_none());
        assert!(parse_credential("sgh1..def").is_none());
        assert!(parse_credential("").is_none());
        assert_eq!(parse_credential(&format!(" {}\n", c.0)), Some((id, secret)));
        assert!(!format!("{c:?}").contains(secret));
    }

    #[test]
    fn host_names_are_checked() {
        assert!(check_host_name("web-01.example.com").is_ok());
        assert!(check_host_name("").is_err());
        assert!(check_host_name("-x").is_err());
        assert!(check_host_name("a b").is_err());
        assert!(check_host_name(&"a".repeat(254)).is_err());
    }
}
