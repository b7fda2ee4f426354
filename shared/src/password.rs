//! Passwords, hashed with argon2id.
//!
//! Hashing and verifying are deliberately slow and CPU-bound (tens of milliseconds), so they
//! are plain blocking functions: async callers must run them on
//! `tokio::task::spawn_blocking` (the core does, in `Core::blocking`) rather than stall an
//! executor thread. An unknown user costs one verification too
//! ([`PasswordHasher::verify_unknown_user`]), so response time does not tell who has an
//! account.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Argon2id cost parameters, as configured. Missing keys take the defaults; unknown keys are
/// refused so that a typo ("memory_kb") is not silently ignored.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordParams {
    /// Memory per hash in KiB: what makes a guessing rig expensive; every concurrent login
    /// holds this much while it hashes.
    pub memory_kib: u32,
    /// Passes over that memory; raises the time per hash without raising memory.
    pub iterations: u32,
    /// Lanes per hash. Each stored hash records the cost it was made with, so a change to
    /// any of these applies to new hashes and old ones still verify.
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
    /// Explains, in the configuration's own terms, why argon2 would refuse these parameters,
    /// so the operator sees it at startup rather than at the first login.
    pub fn validate(&self) -> Result<(), String> {
        let p = self.parallelism;
        if !(Params::MIN_P_COST..=Params::MAX_P_COST).contains(&p) {
            return Err(format!(
                "parallelism = {p}: must be between {} and {}",
                Params::MIN_P_COST,
                Params::MAX_P_COST
            ));
        }
        if self.iterations < Params::MIN_T_COST {
            return Err(format!(
                "iterations = {}: must be at least {}",
                self.iterations,
                Params::MIN_T_COST
            ));
        }
        // Checked after parallelism, which bounds 8 × p well inside u32.
        let min_memory = Params::MIN_M_COST.max(8 * p);
        if self.memory_kib < min_memory {
            return Err(format!(
                "memory_kib = {}: must be at least 8 × parallelism = {min_memory}",
                self.memory_kib
            ));
        }
        self.argon2_params().map(|_| ()).map_err(|e| {
            format!(
                "argon2 refuses memory_kib = {}, iterations = {}, parallelism = {p}: {e}",
                self.memory_kib, self.iterations
            )
        })
    }

    fn argon2_params(&self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
    }
}

/// Why a password could not be hashed or checked (a wrong password is not an error: it is
/// `false`).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The configured cost is outside argon2's (or our) limits; found at start-up.
    #[error("invalid password hashing parameters: {0}")]
    InvalidParams(String),
    /// argon2 failed on valid parameters (e.g. memory could not be had).
    #[error("argon2 could not hash the password: {0}")]
    Hash(String),
}

/// Argon2's working memory (`memory_kib` KiB), kept between verifications.
///
/// Allocating it per call costs more than the allocation: the 19 MiB of the default costs are
/// zeroed, and on a busy server each hashing thread's allocator arena faults the pages in
/// again and keeps its own copies (measured: 437 MiB resident after a burst of logins, and a
/// quarter of the server's CPU time in the kernel). Argon2 writes every block before it reads
/// it, so reused memory needs no clearing. The core keeps one per hashing permit.
#[derive(Default)]
pub struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// Exactly `count` blocks, growing the kept memory if needed; a hash made under smaller
    /// costs uses a prefix.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({} blocks)", self.blocks.len())
    }
}

/// Hashes and verifies passwords with one configured set of argon2id parameters.
pub struct PasswordHasher {
    params: PasswordParams,
    argon2: Argon2<'static>,
    /// A hash of a fixed password under `params`, made on first use. `None` if hashing failed.
    dummy: OnceLock<Option<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Checks the parameters once, so a bad cost fails start-up instead of every login.
    pub fn new(params: &PasswordParams) -> Result<PasswordHasher, PasswordError> {
        params.validate().map_err(PasswordError::InvalidParams)?;
        let p = params
            .argon2_params()
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(PasswordHasher {
            params: params.clone(),
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, p),
            dummy: OnceLock::new(),
        })
    }

    /// The cost new hashes are made with.
    pub fn params(&self) -> &PasswordParams {
        &self.params
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh random salt from
    /// the OS CSPRNG, so equal passwords never hash alike. Blocking; see the module docs.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Whether `password` matches the stored `phc` string, using the parameters recorded in it
    /// (so hashes made under older settings keep working). The outputs are compared in
    /// constant time (`Output`'s equality). A malformed or absurd hash is a mismatch, never a
    /// panic or a huge allocation. `scratch` is argon2's working memory, reused rather than
    /// allocated and zeroed on every call (see [`Scratch`]). Blocking; see the module docs.
    pub fn verify_in(&self, scratch: &mut Scratch, phc: &str, password: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if !self.costs_are_sane(&parsed) {
            return false;
        }
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let Ok(version) = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
        else {
            return false;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        // A hash stored under costs above the configured ones (still accepted up to the
        // ceiling) gets memory of its own, so the kept scratch never grows past the config.
        let mut oversized = Scratch::default();
        let scratch = if params.block_count() > self.argon2.params().block_count() {
            &mut oversized
        } else {
            scratch
        };
        let blocks = scratch.blocks(params.block_count());
        let argon2 = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            argon2
                .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
                .map_err(|_| argon2::password_hash::Error::Password)
        });
        computed.is_ok_and(|computed| computed == expected)
    }

    /// [`verify_in`](Self::verify_in) with working memory of its own, for one-off checks.
    pub fn verify(&self, phc: &str, password: &str) -> bool {
        self.verify_in(&mut Scratch::default(), phc, password)
    }

    /// Always false, but only after a real verification under the configured parameters, so a
    /// login for a user who does not exist takes as long as one with a wrong password.
    pub fn verify_unknown_user(&self, scratch: &mut Scratch, password: &str) -> bool {
        let dummy = self
            .dummy
            .get_or_init(|| self.hash("stepgate: no such user").ok());
        match dummy {
            Some(phc) => {
                let _ = self.verify_in(scratch, phc, password);
            }
            // Cannot happen with parameters that passed `new`; still spend the same work.
            None => {
                let _ = self.hash(password);
            }
        }
        false
    }

    /// Whether a stored hash should be replaced (after a successful login, when the plain
    /// password is at hand) because it was made with another algorithm, version or costs than
    /// the configured ones. A hash that cannot be read needs replacing too.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let decimal = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
            || decimal("m") != Some(self.params.memory_kib)
            || decimal("t") != Some(self.params.iterations)
            || decimal("p") != Some(self.params.parallelism)
            || parsed.hash.map(|h| h.len()) != Some(Params::DEFAULT_OUTPUT_LEN)
    }

    /// Refuses stored costs that would make argon2 misbehave rather than fail: parallelism
    /// beyond its limit overflows inside `argon2` (a panic in debug builds), and an enormous
    /// memory cost would abort the process on allocation. Anything up to the configured costs
    /// or 1 GiB, whichever is larger, is accepted.
    fn costs_are_sane(&self, parsed: &PasswordHash<'_>) -> bool {
        const MEMORY_CEILING_KIB: u32 = 1024 * 1024;
        let p_ok = parsed
            .params
            .get_decimal("p")
            .is_none_or(|p| p <= Params::MAX_P_COST);
        let m_ok = parsed
            .params
            .get_decimal("m")
            .is_none_or(|m| m <= MEMORY_CEILING_KIB.max(self.params.memory_kib));
        p_ok && m_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_params() -> PasswordParams {
        PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn small() -> PasswordHasher {
        PasswordHasher::new(&small_params()).unwrap()
    }

    #[test]
    fn hash_and_verify() {
        let h = small();
        let phc = h.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        assert!(h.verify(&phc, "correct horse"));
        assert_ne!(phc, h.hash("correct horse").unwrap(), "salted");
        let unicode = h.hash("pässwörd 🔑").unwrap();
        assert!(h.verify(&unicode, "pässwörd 🔑"));
        assert!(h.verify(&h.hash("").unwrap(), ""));
    }

    #[test]
    fn kept_working_memory_gives_the_same_answers_and_stays_at_the_configured_size() {
        let h = small();
        let mut scratch = Scratch::default();
        let phc = h.hash("correct horse").unwrap();
        let tiny = PasswordHasher::new(&PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
        .hash("correct horse")
        .unwrap();
        let big = PasswordHasher::new(&PasswordParams {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 2,
        })
        .unwrap()
        .hash("correct horse")
        .unwrap();
        // Dirty memory from one hash must not change the next one's answer.
        for _ in 0..2 {
            for stored in [&phc, &tiny, &big] {
                assert!(
                    h.verify_in(&mut scratch, stored, "correct horse"),
                    "{stored}"
                );
                assert!(
                    !h.verify_in(&mut scratch, stored, "wrong horse"),
                    "{stored}"
                );
            }
        }
        // 1 KiB blocks: the configured 1024 KiB, never the 4096 of the stored outlier.
        assert_eq!(scratch.blocks.len(), 1024);
    }

    #[test]
    fn wrong_password_is_refused() {
        let h = small();
        let phc = h.hash("correct horse").unwrap();
        for wrong in ["wrong horse", "", "correct horse ", "Correct horse"] {
            assert!(!h.verify(&phc, wrong), "{wrong:?}");
        }
    }

    #[test]
    fn hashes_made_under_other_parameters_still_verify() {
        let phc = small().hash("pw").unwrap();
        let other = PasswordHasher::new(&PasswordParams {
            memory_kib: 2048,
            iterations: 2,
            parallelism: 2,
        })
        .unwrap();
        assert!(other.verify(&phc, "pw"));
        assert!(!other.verify(&phc, "px"));
    }

    #[test]
    fn malformed_hashes_are_a_mismatch_not_a_panic() {
        let h = small();
        let phc = h.hash("pw").unwrap();
        let truncated = &phc[..phc.len() - 5];
        let cases = [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=1024,t=1,p=4294967295$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=7$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            truncated,
        ];
        for bad in cases {
            assert!(!h.verify(bad, "pw"), "{bad:?}");
            assert!(h.needs_rehash(bad), "{bad:?}");
        }
    }

    #[test]
    fn unknown_users_cost_a_real_verification_and_always_fail() {
        let h = small();
        assert!(!h.verify_unknown_user(&mut Scratch::default(), "stepgate: no such user"));
        assert!(!h.verify_unknown_user(&mut Scratch::default(), "anything"));
        // The dummy was hashed once, under the configured parameters, so it costs the same.
        let dummy = h.dummy.get().unwrap().as_deref().unwrap();
        assert!(!h.needs_rehash(dummy), "{dummy}");
        assert!(h.verify(dummy, "stepgate: no such user"));
    }

    #[test]
    fn default_parameters_are_owasps_and_drive_rehash() {
        let d = PasswordHasher::new(&PasswordParams::default()).unwrap();
        let phc = d.hash("pw").unwrap();
        assert!(phc.contains("$m=19456,t=2,p=1$"), "{phc}");
        assert!(d.verify(&phc, "pw"));
        assert!(!d.needs_rehash(&phc));
        assert!(small().needs_rehash(&phc));
        assert!(d.needs_rehash(&small().hash("pw").unwrap()));
    }

    #[test]
    fn other_algorithms_need_rehash() {
        let p = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, p)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let h = small();
        assert!(h.verify(&argon2i, "pw"), "legacy hashes still verify");
        assert!(h.needs_rehash(&argon2i));
        assert!(!h.needs_rehash(&h.hash("pw").unwrap()));
    }

    #[test]
    fn params_validation_explains_the_problem() {
        let with = |memory_kib, iterations, parallelism| PasswordParams {
            memory_kib,
            iterations,
            parallelism,
        };
        assert!(PasswordParams::default().validate().is_ok());
        assert!(small_params().validate().is_ok());
        assert!(with(8, 1, 1).validate().is_ok());
        let cases = [
            (with(1024, 1, 0), "parallelism = 0"),
            (with(1024, 1, u32::MAX), "parallelism = 4294967295"),
            (with(1024, 0, 1), "iterations = 0"),
            (
                with(7, 1, 1),
                "memory_kib = 7: must be at least 8 × parallelism = 8",
            ),
            (
                with(31, 1, 4),
                "memory_kib = 31: must be at least 8 × parallelism = 32",
            ),
        ];
        for (params, expected) in cases {
            let message = params.validate().unwrap_err();
            assert!(message.contains(expected), "{message}");
            let e = PasswordHasher::new(&params).unwrap_err();
            assert!(matches!(e, PasswordError::InvalidParams(_)));
            assert!(e.to_string().contains(expected), "{e}");
        }
    }

    #[test]
    fn params_deserialize_strictly_with_defaults() {
        let p: PasswordParams = toml::from_str("memory_kib = 65536").unwrap();
        assert_eq!(p.memory_kib, 65536);
        assert_eq!((p.iterations, p.parallelism), (2, 1));
        let empty: PasswordParams = toml::from_str("").unwrap();
        assert_eq!(empty, PasswordParams::default());
        let e = toml::from_str::<PasswordParams>("memory_kb = 1").unwrap_err();
        assert!(e.to_string().contains("memory_kb"), "{e}");
    }

    #[test]
    fn debug_shows_parameters_only() {
        let h = small();
        let _ = h.verify_unknown_user(&mut Scratch::default(), "hunter2");
        let shown = format!("{h:?}");
        assert!(shown.contains("memory_kib: 1024"), "{shown}");
        assert!(!shown.contains("argon2id$"), "{shown}");
    }
}
