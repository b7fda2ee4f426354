//! Secrets at rest.
//!
//! One 32-byte master key, kept in a file created 0600 on first use, yields two independent
//! subkeys through HKDF: an AEAD key (XChaCha20-Poly1305, random 192-bit nonces, so no nonce
//! bookkeeping across processes) for TOTP secrets and contacts, and an HMAC key under which
//! one-time codes are stored, so a database dump alone cannot brute-force 6-digit codes.

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

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("a stored secret could not be decrypted (wrong key file, or tampered data)")]
    Decrypt,
}

pub struct Secrets {
    aead: XChaCha20Poly1305,
    code_key: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Secrets {
    /// Reads the key file, or creates it (mode 0600, written atomically) if it is missing.
    pub fn load_or_create(path: &Path) -> Result<Secrets, SecretsError> {
        let err = |message: String| SecretsError::KeyFile {
            path: path.to_path_buf(),
            message,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = STANDARD
                    .decode(text.trim())
                    .map_err(|_| err("is not base64 (expected 32 random bytes)".into()))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| err("must hold exactly 32 bytes".into()))?;
                Ok(Secrets::from_bytes(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                write_new_key(path, &key).map_err(|e| err(format!("cannot create: {e}")))?;
                // Another process may have won the race to create it: use whatever is there.
                Secrets::load_or_create(path)
            }
            Err(e) => Err(err(format!("cannot read: {e}"))),
        }
    }

    pub fn from_bytes(master: [u8; 32]) -> Secrets {
        let hk = Hkdf::<Sha256>::new(None, &master);
        let mut aead_key = [0u8; 32];
        let mut code_key = [0u8; 32];
        // Both labels are fixed 32-byte outputs; HKDF-SHA256 cannot fail for them.
        let _ = hk.expand(b"stepgate aead v1", &mut aead_key);
        let _ = hk.expand(b"stepgate code-hash v1", &mut code_key);
        Secrets {
            aead: XChaCha20Poly1305::new(&aead_key.into()),
            code_key,
        }
    }

    /// Encrypts; `aad` binds the ciphertext to its row (user, provider) so a blob copied to
    /// another row does not decrypt.
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn decrypt(&self, blob: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if blob.len() < 24 + 16 {
            return Err(SecretsError::Decrypt);
        }
        let (nonce, sealed) = blob.split_at(24);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| SecretsError::Decrypt)
    }

    pub fn encrypt_to_string(&self, plaintext: &[u8], aad: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.encrypt(plaintext, aad))
    }

    pub fn decrypt_from_string(&self, blob: &str, aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let raw = URL_SAFE_NO_PAD
            .decode(blob)
            .map_err(|_| SecretsError::Decrypt)?;
        self.decrypt(&raw, aad)
    }

    /// HMAC-SHA256 of `scope ‖ 0 ‖ code` under the code-hash subkey, hex encoded.
    pub fn code_hash(&self, scope: &str, code: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key)
            .expect("HMAC accepts any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Compares two stored hashes without leaking where they differ.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn write_new_key(path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(format!("{}\n", STANDARD.encode(key)).as_bytes())?;
    f.sync_all()?;
    drop(f);
    // hard_link fails if the key appeared meanwhile, so a concurrent creator's key is kept.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_and_binding() {
        let s = Secrets::from_bytes([7; 32]);
        let blob = s.encrypt(b"JBSWY3DPEHPK3PXP", b"user-1 TOTP");
        assert_eq!(
            s.decrypt(&blob, b"user-1 TOTP").unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(s.decrypt(&blob, b"user-2 TOTP").is_err());
        let mut tampered = blob.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(s.decrypt(&tampered, b"user-1 TOTP").is_err());
        assert!(s.decrypt(&[1, 2, 3], b"").is_err());
        let text = s.encrypt_to_string(b"x", b"a");
        assert_eq!(s.decrypt_from_string(&text, b"a").unwrap(), b"x");
        assert!(Secrets::from_bytes([8; 32])
            .decrypt_from_string(&text, b"a")
            .is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secrets.key");
        let a = Secrets::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = Secrets::load_or_create(&path).unwrap();
        let blob = a.encrypt(b"secret", b"aad");
        assert_eq!(b.decrypt(&blob, b"aad").unwrap(), b"secret");
        assert_eq!(a.code_hash("s", "123456"), b.code_hash("s", "123456"));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn bad_key_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "not base64!\n").unwrap();
        let e = Secrets::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        std::fs::write(&path, format!("{}\n", STANDARD.encode([1u8; 16]))).unwrap();
        assert!(Secrets::load_or_create(&path).is_err());
    }

    #[test]
    fn code_hashes_depend_on_scope_and_key() {
        let s = Secrets::from_bytes([1; 32]);
        assert_ne!(s.code_hash("a", "123456"), s.code_hash("b", "123456"));
        assert_ne!(s.code_hash("a", "123456"), s.code_hash("a", "123457"));
        assert_ne!(
            s.code_hash("a", "123456"),
            Secrets::from_bytes([2; 32]).code_hash("a", "123456")
        );
        assert!(hashes_equal(&s.code_hash("a", "1"), &s.code_hash("a", "1")));
        assert!(!hashes_equal("ab", "abc"));
    }
}
