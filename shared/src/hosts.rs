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
use crate::store::hosts as store;
use crate::users::User;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
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

/// Refuses a group that does not exist, inside the transaction that will name it, so a
/// removal between the check and the write (an administrator's, at the same moment) cannot
/// turn a clear refusal into a failed write.
async fn require_group(tx: &mut crate::db::Tx, name: &str) -> Result<()> {
    if crate::store::groups::id_by_name(tx, name).await?.is_none() {
        return Err(Error::refused_as(
            "group",
            crate::words::HOST_NO_SUCH_GROUP.with("name", name),
        ));
    }
    Ok(())
}

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
        let id = random_b64(12);
        let (credential, hash) = new_credential(&id);
        let now = self.now();
        let mut tx = self.db.begin().await?;
        for g in groups {
            require_group(&mut tx, g).await?;
        }
        if store::name_taken(&mut tx, name).await? {
            return Err(Error::conflict(
                crate::words::HOST_EXISTS.with("name", name),
            ));
        }
        store::insert(&mut tx, &id, name, &hash, now).await?;
        let mut sorted: Vec<String> = groups.to_vec();
        sorted.sort();
        sorted.dedup();
        for g in &sorted {
            store::insert_group(&mut tx, &id, g).await?;
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
        store::list(self.db.pool()).await
    }

    /// One host by name (`NotFound` when not registered).
    pub async fn host(&self, name: &str) -> Result<Host> {
        let mut h = store::by_name(self.db.pool(), name)
            .await?
            .ok_or(Error::NotFound("host"))?;
        h.allowed_groups = store::allowed_groups(self.db.pool(), &h.id).await?;
        Ok(h)
    }

    /// Unregisters a host: its credential stops working at once, its logins in progress end.
    pub async fn remove_host(&self, ctx: &RequestContext, name: &str) -> Result<()> {
        let host = self.host(name).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        store::delete_groups(&mut tx, &host.id).await?;
        store::delete(&mut tx, &host.id).await?;
        store::fail_pending_challenges_at(&mut tx, &host.name, now).await?;
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
        store::set_credential(&mut tx, &host.id, &hash, now).await?;
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
        if !host.allowed_groups.iter().any(|g| g == group) {
            self.write_host_group(ctx, &host, group, true).await?;
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
        self.write_host_group(ctx, &host, group, false).await?;
        self.host(name).await
    }

    /// One change to a host's groups (`allow`: `group` added, else taken off) with its audit
    /// event.
    async fn write_host_group(
        &self,
        ctx: &RequestContext,
        host: &Host,
        group: &str,
        allow: bool,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let kind = if allow {
            require_group(&mut tx, group).await?;
            store::insert_group(&mut tx, &host.id, group).await?;
            EventKind::HostGroupAllowed
        } else {
            store::delete_group(&mut tx, &host.id, group).await?;
            EventKind::HostGroupDenied
        };
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
        // The host and its allowed groups in one round trip. This runs on every host-protocol
        // request.
        let Some((mut host, stored)) = store::with_credential_hash(self.db.pool(), id).await?
        else {
            // The same hashing work as a known host, so timing does not tell ids apart.
            let _ = secret_hash(secret);
            return Ok(None);
        };
        let given = secret_hash(secret);
        if !bool::from(given.as_bytes().ct_eq(stored.as_bytes())) {
            return Ok(None);
        }
        let now = self.now();
        let stale = host
            .last_seen_at
            .is_none_or(|t| now - t >= LAST_SEEN_RESOLUTION);
        if stale || host.last_seen_addr.as_deref() != addr {
            store::set_last_seen(self.db.writer(), &host.id, now, addr).await?;
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
        let Some((user, admitting_groups, rows)) =
            store::user_at_host(self.db.pool(), username, &host.id).await?
        else {
            return Ok(None);
        };
        let admitted = admitting_groups > 0;
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
