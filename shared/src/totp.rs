//! RFC 6238 time-based one-time passwords, on top of `totp-rs`.
//!
//! Stepgate's codes are SHA-1, 6 digits, 30-second steps (what every authenticator app
//! supports), accepted one step either side for clock skew. [`verify`] returns the matched
//! step so the caller can store it and refuse that step and every older one afterwards: a code
//! works once, whichever door it comes through.

use subtle::ConstantTimeEq;
pub use totp_rs::Algorithm;
use totp_rs::TOTP;

pub const DIGITS: usize = 6;
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;

/// 160 random bits, the size RFC 4226 recommends for HMAC-SHA1.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    secret
}

/// Base32 without padding, as authenticator apps expect it typed.
pub fn secret_to_base32(secret: &[u8]) -> String {
    totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string()
}

fn totp(secret: &[u8], algorithm: Algorithm, digits: usize) -> TOTP {
    // Unchecked: RFC test vectors and issuers with ':' are legitimate here; our own
    // parameters are fixed above.
    TOTP::new_unchecked(
        algorithm,
        digits,
        0,
        STEP_SECONDS,
        secret.to_vec(),
        None,
        String::new(),
    )
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let t = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        SKEW_STEPS as u8,
        STEP_SECONDS,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    );
    t.get_url()
}

pub fn code_at(secret: &[u8], algorithm: Algorithm, digits: usize, unix_time: u64) -> String {
    totp(secret, algorithm, digits).generate(unix_time)
}

pub fn step_of(unix_time: u64) -> i64 {
    (unix_time / STEP_SECONDS) as i64
}

/// Checks a 6-digit SHA-1 code at `unix_time` ± one step; returns the matched step. Steps at
/// or before `last_used_step` never match (replay). All candidates are compared in constant
/// time and all are computed, so timing does not tell which step matched.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, Algorithm::SHA1, DIGITS);
    let now_step = step_of(unix_time);
    let mut matched = None;
    for delta in -SKEW_STEPS..=SKEW_STEPS {
        let step = now_step + delta;
        if step < 0 {
            continue;
        }
        let candidate = t.generate(step as u64 * STEP_SECONDS);
        let equal: bool = candidate.as_bytes().ct_eq(code.as_bytes()).into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn rfc6238_appendix_b_vectors() {
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (t, sha1, sha256, sha512) in table {
            assert_eq!(code_at(SEED20, Algorithm::SHA1, 8, t), sha1, "SHA1 at {t}");
            assert_eq!(
                code_at(SEED32, Algorithm::SHA256, 8, t),
                sha256,
                "SHA256 at {t}"
            );
            assert_eq!(
                code_at(SEED64, Algorithm::SHA512, 8, t),
                sha512,
                "SHA512 at {t}"
            );
        }
    }

    #[test]
    fn window_is_one_step_either_side() {
        let s = generate_secret();
        let t = 1_800_000_015;
        for (offset, ok) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = code_at(&s, Algorithm::SHA1, 6, (t + offset) as u64);
            assert_eq!(
                verify(&s, &code, t as u64, None).is_some(),
                ok,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn a_used_step_and_older_ones_are_refused() {
        let s = generate_secret();
        let t = 1_800_000_015u64;
        let now = code_at(&s, Algorithm::SHA1, 6, t);
        let step = verify(&s, &now, t, None).unwrap();
        assert_eq!(step, step_of(t));
        assert_eq!(verify(&s, &now, t, Some(step)), None);
        let older = code_at(&s, Algorithm::SHA1, 6, t - 30);
        assert_eq!(verify(&s, &older, t, Some(step)), None);
        let newer = code_at(&s, Algorithm::SHA1, 6, t + 30);
        assert_eq!(verify(&s, &newer, t, Some(step)), Some(step + 1));
    }

    #[test]
    fn garbage_is_refused() {
        let s = generate_secret();
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "      "] {
            assert_eq!(verify(&s, bad, 1_800_000_000, None), None, "{bad:?}");
        }
    }

    #[test]
    fn otpauth_uri_round_trips() {
        let s = generate_secret();
        let uri = otpauth_uri("Stepgate", "alice", &s);
        assert!(
            uri.starts_with("otpauth://totp/Stepgate:alice?secret="),
            "{uri}"
        );
        let parsed = TOTP::from_url(&uri).unwrap();
        assert_eq!(parsed.secret, s);
        assert_eq!(parsed.issuer.as_deref(), Some("Stepgate"));
        assert_eq!(parsed.account_name, "alice");
        let spaced = otpauth_uri("Acme Corp", "bob@example.com", &s);
        assert!(spaced.contains("Acme%20Corp"), "{spaced}");
        assert_eq!(secret_to_base32(&s).len(), 32);
    }

    /// Debian's oathtool is an independent implementation; the test command installs it.
    #[test]
    fn codes_match_oathtool() {
        let oathtool = "/usr/bin/oathtool";
        assert!(
            std::path::Path::new(oathtool).exists(),
            "oathtool is missing: the test command installs it (apt-get install oathtool)"
        );
        for i in 0..5u64 {
            let s = generate_secret();
            let b32 = secret_to_base32(&s);
            let t = 1_700_000_000 + i * 7_919;
            for (alg, name) in [
                (Algorithm::SHA1, "sha1"),
                (Algorithm::SHA256, "sha256"),
                (Algorithm::SHA512, "sha512"),
            ] {
                let out = std::process::Command::new(oathtool)
                    .args([
                        &format!("--totp={name}"),
                        "-b",
                        "-N",
                        &format!("@{t}"),
                        &b32,
                    ])
                    .output()
                    .expect("run oathtool");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let theirs = String::from_utf8_lossy(&out.stdout).trim().to_string();
                assert_eq!(code_at(&s, alg, 6, t), theirs, "{name} at {t}");
            }
            let ours = code_at(&s, Algorithm::SHA1, 6, t);
            assert!(verify(&s, &ours, t, None).is_some());
        }
    }
}
