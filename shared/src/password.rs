//! Passwords, hashed with argon2id.
//!
//! Hashing is deliberately slow: async callers run it on `spawn_blocking` (see
//! `Core::blocking`). An unknown user costs one verification too, so response time does not
//! tell who exists.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    /// OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    fn argon2_params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.argon2_params().map(|_| ()).map_err(|e| {
            format!(
                "argon2 refuses memory_kib={}, iterations={}, parallelism={}: {e} \
                 (memory_kib must be at least 8 × parallelism; iterations ≥ 1)",
                self.memory_kib, self.iterations, self.parallelism
            )
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("argon2: {0}")]
pub struct PasswordError(String);

pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy: OnceLock<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

impl PasswordHasher {
    pub fn new(params: &PasswordParams) -> Result<PasswordHasher, PasswordError> {
        let p = params
            .argon2_params()
            .map_err(|e| PasswordError(e.to_string()))?;
        Ok(PasswordHasher {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            dummy: OnceLock::new(),
        })
    }

    /// A PHC string with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError(e.to_string()))
    }

    /// Constant-time verification (argon2's); a malformed hash is simply a mismatch.
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        match PasswordHash::new(phc) {
            Ok(parsed) => self
                .argon2
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Always false, at the cost of a real verification with the configured parameters.
    pub fn verify_unknown_user(&self, password: &str) -> bool {
        let dummy = self.dummy.get_or_init(|| {
            self.hash("stepgate dummy password for unknown users")
                .unwrap_or_default()
        });
        let _ = self.verify(dummy, password);
        false
    }

    /// Whether a stored hash was made with other parameters than the configured ones.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(stored) = Params::try_from(&parsed) else {
            return true;
        };
        let current = self.argon2.params();
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || stored.m_cost() != current.m_cost()
            || stored.t_cost() != current.t_cost()
            || stored.p_cost() != current.p_cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordHasher {
        PasswordHasher::new(&PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hash_and_verify() {
        let h = small();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(h.verify(&phc, "correct horse"));
        assert!(!h.verify(&phc, "wrong horse"));
        assert!(!h.verify("not a hash", "correct horse"));
        assert!(!h.verify_unknown_user("correct horse"));
        assert_ne!(phc, h.hash("correct horse").unwrap(), "salted");
    }

    #[test]
    fn default_parameters_are_owasps_and_detected_for_rehash() {
        let d = PasswordHasher::new(&PasswordParams::default()).unwrap();
        let phc = d.hash("pw").unwrap();
        assert!(phc.contains("m=19456,t=2,p=1"), "{phc}");
        assert!(!d.needs_rehash(&phc));
        assert!(small().needs_rehash(&phc));
    }

    #[test]
    fn bad_parameters_are_explained() {
        let bad = PasswordParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        };
        assert!(bad.validate().unwrap_err().contains("memory_kib=1"));
        assert!(PasswordHasher::new(&bad).is_err());
    }
}
