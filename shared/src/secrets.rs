//! Secrets at rest.
//!
//! One 32-byte master key, kept in a file created 0600 on first use, yields independent subkeys
//! through HKDF-SHA256, so a weakness in one use cannot leak into another:
//!
//! * an AEAD key (XChaCha20-Poly1305) for TOTP secrets and contacts. Its 192-bit nonces are
//!   random, so many processes can encrypt under one key without coordinating counters;
//! * an HMAC key under which one-time codes are stored, so a database dump alone cannot
//!   brute-force the 10⁶ possible 6-digit codes: the attacker needs the key file too.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// Length of the master key, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const AEAD_INFO: &[u8] = b"stepgate aead v1";
const CODE_HASH_INFO: &[u8] = b"stepgate code-hash v1";

/// Why a secret could not be kept or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The key file could not be read, created or understood; `path` tells the operator which.
    #[error("key file {}: {message}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What went wrong with it.
        message: String,
    },
    /// Deliberately one error for every cause (wrong key, wrong AAD, tampering, bad encoding):
    /// telling them apart would help an attacker more than an operator.
    #[error("a stored secret could not be decrypted (wrong key file, or tampered data)")]
    Decrypt,
}

/// The subkeys derived from the master key. The master key itself is not kept.
pub struct Secrets {
    aead: XChaCha20Poly1305,
    /// A full HMAC-SHA256 block, so keying HMAC is infallible (no slice-length check).
    code_key: [u8; 64],
}

/// Never print key material, not even in a panic message or a `{:?}` of a larger struct.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Reads the key file, or creates it if it is missing.
    ///
    /// A new file gets 32 bytes from the OS CSPRNG, written as base64 plus a newline so an
    /// operator can back it up by copy and paste. It is created with mode 0600 under a temporary
    /// name and then linked into place, so no reader ever sees a half-written key and, when
    /// several processes start at once, they all end up with the same key.
    pub fn load_or_create(path: &Path) -> Result<Secrets, SecretsError> {
        match std::fs::read(path) {
            Ok(content) => parse_key_file(path, &content).map(Secrets::from_bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                rand::rngs::OsRng.try_fill_bytes(&mut key).map_err(|e| {
                    key_file_error(path, format!("cannot create it: no OS randomness: {e}"))
                })?;
                write_new_key(path, &key)
                    .map_err(|e| key_file_error(path, format!("cannot create it: {e}")))?;
                // Read back rather than use `key`: another process may have won the race.
                let content = std::fs::read(path)
                    .map_err(|e| key_file_error(path, format!("cannot read it: {e}")))?;
                parse_key_file(path, &content).map(Secrets::from_bytes)
            }
            Err(e) => Err(key_file_error(path, format!("cannot read it: {e}"))),
        }
    }

    /// The keys derived from a master key already in hand (tests, and the key file once
    /// read); each use gets its own key by HKDF, so one leaked derived key opens nothing else.
    pub fn from_bytes(master: [u8; KEY_LEN]) -> Secrets {
        let hk = Hkdf::<Sha256>::new(None, &master);
        let mut aead_key = [0u8; KEY_LEN];
        let mut code_key = [0u8; 64];
        // HKDF-SHA256 only refuses outputs longer than 255 × 32 bytes; these are 32 and 64.
        let _ = hk.expand(AEAD_INFO, &mut aead_key);
        let _ = hk.expand(CODE_HASH_INFO, &mut code_key);
        Secrets {
            aead: XChaCha20Poly1305::new(&aead_key.into()),
            code_key,
        }
    }

    /// Encrypts to `nonce ‖ ciphertext ‖ tag`.
    ///
    /// `aad` is authenticated but not stored: pass what identifies the row (user id, provider),
    /// so a blob copied into another user's row fails to decrypt instead of granting access.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        // The only failure XChaCha20-Poly1305 has is a message over 256 GiB, which cannot be
        // in memory here; a panic is better than silently storing nothing.
        #[allow(clippy::expect_used)]
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encrypts any in-memory message");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Reverses [`Secrets::encrypt`]; fails unless the key, the blob and `aad` all match.
    pub fn decrypt(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Decrypt);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let payload = Payload { msg: sealed, aad };
        self.aead
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SecretsError::Decrypt)
    }

    /// [`Secrets::encrypt`] for TEXT columns: URL-safe base64 without padding.
    pub fn encrypt_to_string(&self, plaintext: &[u8], aad: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.encrypt(plaintext, aad))
    }

    /// Reverses [`Secrets::encrypt_to_string`].
    pub fn decrypt_from_string(&self, blob: &str, aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let raw = URL_SAFE_NO_PAD
            .decode(blob.trim())
            .map_err(|_| SecretsError::Decrypt)?;
        self.decrypt(&raw, aad)
    }

    /// Keyed hash of a one-time code, lowercase hex: HMAC-SHA256(`scope ‖ 0x00 ‖ code`).
    ///
    /// Store this instead of the code. `scope` (e.g. user id and purpose) makes equal codes of
    /// different users or purposes hash differently, so a hash cannot be replayed elsewhere;
    /// the 0x00 separator keeps ("ab", "c") and ("a", "bc") apart. Compare with
    /// [`hashes_equal`].
    pub fn code_hash(&self, scope: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&self.code_key.into());
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }
}

/// Compares two hashes in time that does not depend on where they differ, so a caller that
/// compares a submitted code's hash with the stored one does not leak how much of it matched.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    // Slices of different lengths compare unequal at once; the length of a hash is public.
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

fn key_file_error(path: &Path, message: impl Into<String>) -> SecretsError {
    SecretsError::KeyFile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The file is base64 of exactly 32 bytes, surrounding whitespace allowed. Error messages
/// describe the expected format but never echo the content, which may be a real key.
fn parse_key_file(path: &Path, content: &[u8]) -> Result<[u8; KEY_LEN], SecretsError> {
    const FORMAT: &str = "expected one line of base64 holding 32 random bytes";
    let text = std::str::from_utf8(content)
        .map_err(|_| key_file_error(path, format!("is not text; {FORMAT}")))?;
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| key_file_error(path, format!("is not valid base64; {FORMAT}")))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| key_file_error(path, format!("holds {len} bytes; {FORMAT}")))
}

/// Creates the key file without ever exposing a partial key or replacing an existing one.
fn write_new_key(path: &Path, key: &[u8; KEY_LEN]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", to_hex(&suffix)));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(format!("{}\n", STANDARD.encode(key)).as_bytes())?;
        f.sync_all()?;
        // Unlike rename, hard_link refuses to replace a key another process created meanwhile.
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written?;
    // Make the new directory entry durable too; failure here only costs durability.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const AAD: &[u8] = b"user-1\0TOTP";

    #[test]
    fn round_trip() {
        let s = Secrets::from_bytes([7; 32]);
        let blob = s.encrypt(b"JBSWY3DPEHPK3PXP", AAD);
        assert_eq!(blob.len(), 24 + 16 + 16);
        assert_eq!(s.decrypt(&blob, AAD).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert_eq!(s.decrypt(&s.encrypt(b"", AAD), AAD).unwrap(), b"");
        let text = s.encrypt_to_string(b"x", b"a");
        assert!(!text.contains(['+', '/', '=']), "{text}");
        assert_eq!(s.decrypt_from_string(&text, b"a").unwrap(), b"x");
    }

    #[test]
    fn nonces_are_fresh() {
        let s = Secrets::from_bytes([7; 32]);
        assert_ne!(s.encrypt(b"same", AAD), s.encrypt(b"same", AAD));
    }

    #[test]
    fn wrong_aad_or_key_fails() {
        let s = Secrets::from_bytes([7; 32]);
        let blob = s.encrypt(b"secret", AAD);
        assert!(matches!(
            s.decrypt(&blob, b"user-2\0TOTP"),
            Err(SecretsError::Decrypt)
        ));
        assert!(s.decrypt(&blob, b"").is_err());
        assert!(Secrets::from_bytes([8; 32]).decrypt(&blob, AAD).is_err());
    }

    #[test]
    fn tampered_or_truncated_blobs_fail() {
        let s = Secrets::from_bytes([7; 32]);
        let blob = s.encrypt(b"secret", AAD);
        for i in [0, 23, 24, blob.len() - 1] {
            let mut tampered = blob.clone();
            tampered[i] ^= 1;
            assert!(s.decrypt(&tampered, AAD).is_err(), "byte {i}");
        }
        assert!(s.decrypt(&blob[..blob.len() - 1], AAD).is_err());
        assert!(s.decrypt(&[], AAD).is_err());
        assert!(s.decrypt(&[1, 2, 3], AAD).is_err());
        assert!(s.decrypt_from_string("not base64!", AAD).is_err());
        assert!(s.decrypt_from_string("", AAD).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/secrets.key");
        let a = Secrets::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.ends_with('\n'));
        assert_eq!(STANDARD.decode(content.trim()).unwrap().len(), 32);
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );

        let b = Secrets::load_or_create(&path).unwrap();
        let blob = a.encrypt(b"secret", AAD);
        assert_eq!(b.decrypt(&blob, AAD).unwrap(), b"secret");
        assert_eq!(a.code_hash("s", "123456"), b.code_hash("s", "123456"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    }

    #[test]
    fn key_file_matches_from_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("  {}\n\n", STANDARD.encode([9u8; 32]))).unwrap();
        let loaded = Secrets::load_or_create(&path).unwrap();
        let blob = Secrets::from_bytes([9; 32]).encrypt(b"x", AAD);
        assert_eq!(loaded.decrypt(&blob, AAD).unwrap(), b"x");
    }

    #[test]
    fn concurrent_creators_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let hashes: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| Secrets::load_or_create(&path).unwrap().code_hash("s", "1"))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(hashes.iter().all(|h| h == &hashes[0]));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_key_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let short = format!("{}\n", STANDARD.encode([1u8; 16]));
        let long = STANDARD.encode([1u8; 33]);
        let cases: [(&[u8], &str); 5] = [
            (b"not base64!\n", "not valid base64"),
            (b"", "holds 0 bytes"),
            (short.as_bytes(), "holds 16 bytes"),
            (long.as_bytes(), "holds 33 bytes"),
            (&[0xff, 0xfe, 0x00], "not text"),
        ];
        for (content, expected) in cases {
            std::fs::write(&path, content).unwrap();
            let e = Secrets::load_or_create(&path).unwrap_err().to_string();
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert!(e.contains(expected), "{e}");
        }
        // A directory where the file should be is an error too, not a panic.
        let e = Secrets::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(e, SecretsError::KeyFile { .. }));
    }

    #[test]
    fn code_hash_is_stable_and_depends_on_scope_code_and_key() {
        let s = Secrets::from_bytes([1; 32]);
        let h = s.code_hash("a", "123456");
        assert_eq!(h.len(), 64);
        assert!(h
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(h, Secrets::from_bytes([1; 32]).code_hash("a", "123456"));
        assert_ne!(h, s.code_hash("b", "123456"));
        assert_ne!(h, s.code_hash("a", "123457"));
        assert_ne!(s.code_hash("ab", "c"), s.code_hash("a", "bc"));
        assert_ne!(h, Secrets::from_bytes([2; 32]).code_hash("a", "123456"));
    }

    #[test]
    fn code_hash_is_hmac_sha256_under_the_hkdf_subkey() {
        let master = [3u8; 32];
        let mut key = [0u8; 64];
        Hkdf::<Sha256>::new(None, &master)
            .expand(b"stepgate code-hash v1", &mut key)
            .unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        mac.update(b"scope\x00654321");
        let expected = to_hex(&mac.finalize().into_bytes());
        assert_eq!(
            Secrets::from_bytes(master).code_hash("scope", "654321"),
            expected
        );
    }

    #[test]
    fn hashes_compare() {
        let s = Secrets::from_bytes([1; 32]);
        assert!(hashes_equal(&s.code_hash("a", "1"), &s.code_hash("a", "1")));
        assert!(!hashes_equal(
            &s.code_hash("a", "1"),
            &s.code_hash("a", "2")
        ));
        assert!(!hashes_equal("ab", "abc"));
        assert!(hashes_equal("", ""));
    }

    #[test]
    fn debug_redacts() {
        let s = Secrets::from_bytes([0x41; 32]);
        assert_eq!(format!("{s:?}"), "Secrets(<redacted>)");
    }
}
