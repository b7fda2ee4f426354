//! Loading `stepgate.toml` inside someone else's process, without trusting what should not be.
//!
//! The module runs as root inside sshd, login or sudo. Whoever can write its configuration or
//! its key decides who logs in, so both (and the folders holding them) must belong to root and
//! be writable by nobody else, or the module refuses to work. Environment overrides
//! (`STEPGATE_*`), which `stepgate serve` honours, are ignored here: under sudo the environment
//! belongs to the user who is being checked.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use stepgate_core::config::Config;
use zeroize::Zeroizing;

/// A configuration the module will not use; the text is for the administrator's syslog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// No real configuration is anywhere near this size; the cap keeps a stray device path or a
/// huge file from stalling a login.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Who must own the files: the super-user. Tests and packaging rely on this being root.
const ROOT: u32 = 0;

/// Reads and checks the configuration at `path`, then checks the key file (and the SQLite
/// database, when that is the backend) that it names.
pub fn load_config(path: &Path) -> Result<Config, Refused> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| Refused(format!("config file {}: {e}", path.display())))?;
    check_parent(&real, "config file")?;
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&real)
        .map_err(|e| Refused(format!("config file {}: {e}", real.display())))?;
    // Checked on the open file, so the file read is the file checked.
    let meta = file
        .metadata()
        .map_err(|e| Refused(format!("config file {}: {e}", real.display())))?;
    check_file(&real, &meta, "config file", false)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(Refused(format!(
            "config file {}: larger than {MAX_CONFIG_BYTES} bytes",
            real.display()
        )));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Refused(format!("config file {}: {e}", real.display())))?;
    let base = real.parent().unwrap_or(Path::new("/"));
    let config = Config::parse(
        &text,
        &real.display().to_string(),
        std::iter::empty::<(String, String)>(),
        Some(base),
    )
    .map_err(|e| Refused(e.to_string()))?;
    check_key_file(&config.secrets.key_file)?;
    if let Some(db) = sqlite_file(&config.database.url) {
        check_database(&db)?;
    }
    Ok(config)
}

/// Reads a small root-owned file through `O_NOFOLLOW`, checking the open file itself.
fn read_checked(path: &Path, what: &str, secret: bool) -> Result<Zeroizing<Vec<u8>>, Refused> {
    let real = std::fs::canonicalize(path)
        .map_err(|e| Refused(format!("{what} {}: {e}", path.display())))?;
    check_parent(&real, what)?;
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&real)
        .map_err(|e| Refused(format!("{what} {}: {e}", real.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| Refused(format!("{what} {}: {e}", real.display())))?;
    check_file(&real, &meta, what, secret)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(Refused(format!(
            "{what} {}: larger than {MAX_CONFIG_BYTES} bytes",
            real.display()
        )));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes)
        .map_err(|e| Refused(format!("{what} {}: {e}", real.display())))?;
    Ok(bytes)
}

/// Fleet mode: the host's credential, the one line `stepgate host add` printed. Whoever
/// reads it can ask the server to check codes as this host, so it must be root's and
/// readable by nobody else (mode 0600 or 0640 with a root group).
pub fn load_credential(path: &Path) -> Result<Zeroizing<String>, Refused> {
    let bytes = read_checked(path, "credential file", true)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Refused(format!("credential file {}: not text", path.display())))?;
    let line = text.trim();
    if line.is_empty() || line.contains(char::is_whitespace) {
        return Err(Refused(format!(
            "credential file {}: expected the one line `stepgate host add` printed",
            path.display()
        )));
    }
    Ok(Zeroizing::new(line.to_string()))
}

/// Fleet mode: the CA certificates (PEM) the server's certificate must chain to. Public, but
/// whoever could change them could put a server of their own in between.
pub fn load_ca(path: &Path) -> Result<rustls::RootCertStore, Refused> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let bytes = read_checked(path, "CA file", false)?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert =
            cert.map_err(|e| Refused(format!("CA file {}: not PEM: {e}", path.display())))?;
        roots
            .add(cert)
            .map_err(|e| Refused(format!("CA file {}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(Refused(format!(
            "CA file {}: no certificate in it",
            path.display()
        )));
    }
    Ok(roots)
}

/// The key must exist (the module never creates one: a fresh key could not decrypt anything
/// the server stored), and nobody but its owner group may read it.
fn check_key_file(path: &Path) -> Result<(), Refused> {
    let real = std::fs::canonicalize(path).map_err(|e| {
        Refused(format!(
            "key file {}: {e} (it is created by `stepgate serve` or the admin CLI)",
            path.display()
        ))
    })?;
    check_parent(&real, "key file")?;
    let meta = std::fs::metadata(&real)
        .map_err(|e| Refused(format!("key file {}: {e}", real.display())))?;
    check_file(&real, &meta, "key file", true)
}

/// A world-writable SQLite file would let anyone remove their own second factor or lockout.
/// Its owner may be the account `stepgate serve` runs as, so only that is checked.
fn check_database(path: &Path) -> Result<(), Refused> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o002 != 0 => Err(Refused(format!(
            "database {} is writable by everyone",
            path.display()
        ))),
        _ => Ok(()),
    }
}

fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    (!file.is_empty() && file != ":memory:").then(|| PathBuf::from(file))
}

fn check_file(path: &Path, meta: &Metadata, what: &str, secret: bool) -> Result<(), Refused> {
    if !meta.is_file() {
        return Err(Refused(format!(
            "{what} {} is not a regular file",
            path.display()
        )));
    }
    if meta.uid() != ROOT {
        return Err(Refused(format!(
            "{what} {} must be owned by root (owner uid is {})",
            path.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Refused(format!(
            "{what} {} is writable by group or others (mode {mode:04o}); chmod go-w it",
            path.display()
        )));
    }
    if secret && mode & 0o004 != 0 {
        return Err(Refused(format!(
            "{what} {} is readable by everyone (mode {mode:04o}); chmod o-r it",
            path.display()
        )));
    }
    Ok(())
}

/// The folder must not let anyone else replace the file: root's, and not writable by others
/// unless sticky (like /tmp, where only a file's owner may rename or delete it).
fn check_parent(path: &Path, what: &str) -> Result<(), Refused> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let meta = std::fs::metadata(dir)
        .map_err(|e| Refused(format!("folder {} of the {what}: {e}", dir.display())))?;
    let mode = meta.permissions().mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if meta.uid() != ROOT || (mode & 0o022 != 0 && !sticky) {
        return Err(Refused(format!(
            "folder {} of the {what} must be owned by root and writable only by root \
             (owner uid {}, mode {mode:04o})",
            dir.display(),
            meta.uid()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/stepgate/db.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/stepgate/db.sqlite"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x@h/db"), None);
    }

    #[test]
    fn a_missing_config_is_refused_with_its_path() {
        let e = load_config(Path::new("/nonexistent/stepgate.toml")).unwrap_err();
        assert!(e.0.contains("/nonexistent/stepgate.toml"), "{e}");
    }
}
