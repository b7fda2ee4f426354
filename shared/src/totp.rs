//! RFC 6238 time-based one-time passwords, on top of `totp-rs`.
//!
//! Stepgate's codes are SHA-1, 6 digits, 30-second steps, because that is what every
//! authenticator app supports whatever the URI asks for. A code is accepted one step either side
//! of the server's clock, to forgive phones whose clock drifts and users who type slowly.
//! [`verify`] returns the step it matched so the caller can store it and refuse that step and
//! every older one afterwards: a code works once, whichever door (OIDC or PAM) it comes through.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
pub use totp_rs::Algorithm;
use totp_rs::TOTP;

/// Digits of a code: what every authenticator app shows by default.
pub const DIGITS: usize = 6;
/// Seconds per code (RFC 6238's default, and what the apps assume).
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: i64 = 1;
/// 160 bits: RFC 4226 recommends a secret as long as the HMAC-SHA1 output.
pub const SECRET_LEN: usize = 20;

/// A new random secret from the OS CSPRNG.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    secret
}

/// RFC 4648 base32 without padding: what authenticator apps expect typed or in a URI.
pub fn secret_to_base32(secret: &[u8]) -> String {
    totp_rs::Secret::Raw(secret.to_vec())
        .to_encoded()
        .to_string()
}

/// The `otpauth://` URI that authenticator apps scan from a QR code, e.g.
/// `otpauth://totp/Stepgate:alice?secret=…&issuer=Stepgate&algorithm=SHA1&digits=6&period=30`.
///
/// Built here rather than with `TOTP::get_url`, which leaves out parameters at their defaults
/// (spelling them out leaves no app to guess) and whose checked constructor refuses a ':' in
/// the issuer or account.
/// The Key URI format reserves ':' to separate issuer from account in the label, so a ':' in
/// either is shown as a space instead; the label is only for display, the secret is what counts.
/// An empty issuer is left out.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(&label_part(issuer));
    let account = percent_encode(&label_part(account));
    let secret = secret_to_base32(secret);
    let params = format!("algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}");
    if issuer.is_empty() {
        format!("otpauth://totp/{account}?secret={secret}&{params}")
    } else {
        format!("otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&{params}")
    }
}

fn label_part(s: &str) -> String {
    s.split(':')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 3986: everything but the unreserved characters as %XX of its UTF-8 bytes. Spaces become
/// `%20`, not `+`, which authenticator apps would show literally.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn totp(secret: &[u8], algorithm: Algorithm, digits: usize) -> TOTP {
    // Unchecked: the checked constructor refuses secrets under 128 bits, which RFC test
    // vectors and secrets enrolled elsewhere may legitimately be. Skew is unused: [`verify`]
    // does its own window so that it can report the step.
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

/// The code for `unix_time`. `digits` outside RFC 4226's 6..=8 is clamped into it (more than
/// 9 would overflow inside `totp-rs`); Stepgate itself always uses [`DIGITS`].
pub fn code_at(secret: &[u8], algorithm: Algorithm, digits: usize, unix_time: u64) -> String {
    totp(secret, algorithm, digits.clamp(6, 8)).generate(unix_time)
}

/// The 30-second step `unix_time` falls in: the number [`verify`] returns and callers store.
pub fn step_of(unix_time: u64) -> i64 {
    // u64::MAX / 30 < i64::MAX, so this never saturates; the fallback only avoids a cast.
    i64::try_from(unix_time / STEP_SECONDS).unwrap_or(i64::MAX)
}

/// Checks a 6-digit SHA-1 `code` at `unix_time`, one step either side, and returns the step it
/// matched.
///
/// Steps at or before `last_used_step` never match: the caller stores the returned step and
/// passes it back next time, so a code (or an older one seen over a shoulder) cannot be
/// replayed. If a code matches two fresh steps (a one-in-a-million coincidence) the earliest is
/// returned, which keeps later codes usable.
///
/// Input that is not exactly six ASCII digits is refused up front; its length and shape are no
/// secret. Every candidate step is computed and compared in constant time, and the match is
/// selected without branching, so timing does not tell which step (if any) matched.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, Algorithm::SHA1, DIGITS);
    let now = step_of(unix_time);
    let mut found = Choice::from(0);
    let mut matched: i64 = 0;
    for step in now - SKEW_STEPS..=now + SKEW_STEPS {
        // Steps before 1970 or past u64 seconds do not exist; which ones those are is public.
        let Some(time) = u64::try_from(step)
            .ok()
            .and_then(|s| s.checked_mul(STEP_SECONDS))
        else {
            continue;
        };
        let candidate = totp.generate(time);
        let fresh = Choice::from(u8::from(last_used_step.is_none_or(|last| step > last)));
        let hit = candidate.as_bytes().ct_eq(code.as_bytes()) & fresh & !found;
        matched.conditional_assign(&step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    const SEED20: &[u8] = b"12345678901234567890";
    const SEED32: &[u8] = b"12345678901234567890123456789012";
    const SEED64: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const T: u64 = 1_800_000_015;

    #[test]
    fn rfc6238_appendix_b_vectors() {
        // (time, SHA1, SHA256, SHA512), 8 digits, straight from RFC 6238 Appendix B.
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
            // The 6-digit code is the same value modulo 10⁶.
            assert_eq!(
                code_at(SEED20, Algorithm::SHA1, 6, t),
                sha1[2..],
                "SHA1/6 at {t}"
            );
        }
    }

    #[test]
    fn steps() {
        assert_eq!(step_of(0), 0);
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(u64::MAX), (u64::MAX / 30) as i64);
    }

    #[test]
    fn secrets_are_random_and_base32_unpadded() {
        let s = generate_secret();
        assert_eq!(s.len(), 20);
        assert_ne!(s, generate_secret());
        assert_eq!(secret_to_base32(SEED20), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        // RFC 4648 section 10, without the "======" padding.
        assert_eq!(secret_to_base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn window_is_one_step_either_side() {
        let s = generate_secret();
        for (offset, ok) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = code_at(&s, Algorithm::SHA1, 6, T.saturating_add_signed(offset));
            let got = verify(&s, &code, T, None);
            if ok {
                assert_eq!(got, Some(step_of(T) + offset / 30), "offset {offset}");
            } else {
                // A refused code may only match by coincidence with a neighbouring step.
                let near = [-30i64, 0, 30]
                    .map(|o| code_at(&s, Algorithm::SHA1, 6, T.saturating_add_signed(o)));
                assert!(got.is_none() || near.contains(&code), "offset {offset}");
            }
        }
    }

    #[test]
    fn window_edges_follow_step_boundaries() {
        let s = SEED20;
        let start = step_of(T) as u64 * 30;
        let code = code_at(s, Algorithm::SHA1, 6, start);
        // Valid from the step before to the step after, not a second longer.
        assert!(verify(s, &code, start - 30, None).is_some());
        assert!(verify(s, &code, start + 59, None).is_some());
        assert_eq!(verify(s, &code, start + 60, None), None);
        assert_eq!(verify(s, &code, start - 31, None), None);
    }

    #[test]
    fn a_used_step_and_older_ones_are_refused() {
        let s = generate_secret();
        let now = code_at(&s, Algorithm::SHA1, 6, T);
        let step = verify(&s, &now, T, None).unwrap();
        assert_eq!(step, step_of(T));
        assert_eq!(verify(&s, &now, T, Some(step)), None, "replay");
        assert_eq!(verify(&s, &now, T + 20, Some(step)), None, "replay later");
        let older = code_at(&s, Algorithm::SHA1, 6, T - 30);
        assert_eq!(verify(&s, &older, T, Some(step)), None, "older after newer");
        assert_eq!(verify(&s, &older, T, Some(step - 2)), Some(step - 1));
        let newer = code_at(&s, Algorithm::SHA1, 6, T + 30);
        assert_eq!(verify(&s, &newer, T, Some(step)), Some(step + 1));
        assert_eq!(verify(&s, &newer, T, Some(step + 1)), None);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let s = generate_secret();
        let good = code_at(&s, Algorithm::SHA1, 6, T);
        let long = "1".repeat(10_000);
        let spaced = format!("{} {}", &good[..3], &good[3..]);
        let padded = format!(" {good}");
        let eight = code_at(&s, Algorithm::SHA1, 8, T);
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "-12345",
            "+12345",
            "12 456",
            "      ",
            "１２３４５６",
            "٣٣٣٣٣٣",
            "12345\0",
            &long,
            &spaced,
            &padded,
            &eight,
        ] {
            assert_eq!(verify(&s, bad, T, None), None, "{bad:?}");
        }
        // Extreme times and secrets do not panic either.
        let _ = verify(&s, "000000", u64::MAX, None);
        let _ = verify(&s, &good, 0, None);
        let _ = verify(&[], &good, T, Some(i64::MAX));
        let _ = code_at(&[], Algorithm::SHA1, 100, u64::MAX);
        assert_eq!(code_at(SEED20, Algorithm::SHA1, 0, 59).len(), 6);
    }

    #[test]
    fn time_zero_checks_only_existing_steps() {
        let code = code_at(SEED20, Algorithm::SHA1, 6, 0);
        assert_eq!(verify(SEED20, &code, 0, None), Some(0));
        assert_eq!(verify(SEED20, &code, 15, Some(0)), None);
    }

    #[test]
    fn otpauth_uri_has_every_parameter() {
        let uri = otpauth_uri("Stepgate", "alice", SEED20);
        assert_eq!(
            uri,
            "otpauth://totp/Stepgate:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Stepgate&algorithm=SHA1&digits=6&period=30"
        );
        let uri = otpauth_uri("", "alice", SEED20);
        assert!(uri.starts_with("otpauth://totp/alice?secret="), "{uri}");
        assert!(!uri.contains("issuer"), "{uri}");
    }

    #[test]
    fn otpauth_uri_round_trips_through_totp_rs() {
        let s = generate_secret();
        let cases = [
            ("Stepgate", "alice", "Stepgate", "alice"),
            (
                "Acme Corp",
                "bob@example.com",
                "Acme Corp",
                "bob@example.com",
            ),
            (
                "Société & Co",
                "zoë+2fa/x?y=z#w",
                "Société & Co",
                "zoë+2fa/x?y=z#w",
            ),
            ("Acme: Staging", "corp:carol", "Acme Staging", "corp carol"),
        ];
        for (issuer, account, want_issuer, want_account) in cases {
            let uri = otpauth_uri(issuer, account, &s);
            assert!(!uri.contains(' '), "{uri}");
            let parsed = TOTP::from_url(&uri).unwrap_or_else(|e| panic!("{uri}: {e:?}"));
            assert_eq!(parsed.secret, s, "{uri}");
            assert_eq!(parsed.issuer.as_deref(), Some(want_issuer), "{uri}");
            assert_eq!(parsed.account_name, want_account, "{uri}");
            assert_eq!(parsed.algorithm, Algorithm::SHA1);
            assert_eq!((parsed.digits, parsed.step), (DIGITS, STEP_SECONDS));
            assert_eq!(parsed.generate(T), code_at(&s, Algorithm::SHA1, DIGITS, T));
        }
        assert!(otpauth_uri("Acme Corp", "a", &s).contains("issuer=Acme%20Corp&"));
    }

    /// Runs Debian's `oathtool`, an independent implementation, and returns its code.
    fn oathtool(mode: &str, digits: usize, unix_time: u64, base32: &str) -> String {
        let out = std::process::Command::new("oathtool")
            .arg(format!("--totp={mode}"))
            .args([
                "-b",
                "-d",
                &digits.to_string(),
                "-N",
                &format!("@{unix_time}"),
                base32,
            ])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run oathtool ({e}): this test needs it and the test command \
                     installs it (apt-get install oathtool)"
                )
            });
        assert!(
            out.status.success(),
            "oathtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn codes_match_oathtool() {
        let mut rng = rand::rngs::OsRng;
        let mut times = vec![0u64, 59, 1_111_111_109, 2_000_000_000, 20_000_000_000];
        times.extend((0..4).map(|_| rng.gen_range(0..=20_000_000_000u64)));
        for (i, t) in times.into_iter().enumerate() {
            // Secrets of the lengths each algorithm's RFC seed uses, and odd lengths too.
            let len = [20, 32, 64, 10, 16][i % 5];
            let s: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let b32 = secret_to_base32(&s);
            for (alg, mode) in [
                (Algorithm::SHA1, "SHA1"),
                (Algorithm::SHA256, "SHA256"),
                (Algorithm::SHA512, "SHA512"),
            ] {
                for digits in [6, 8] {
                    let theirs = oathtool(mode, digits, t, &b32);
                    assert_eq!(
                        code_at(&s, alg, digits, t),
                        theirs,
                        "{mode}/{digits} at {t}"
                    );
                }
            }
            // And verify accepts oathtool's codes within the window, refuses them outside.
            for (offset, ok) in [(-30i64, true), (0, true), (30, true)] {
                let theirs = oathtool("SHA1", 6, t.saturating_add_signed(offset), &b32);
                assert_eq!(
                    verify(&s, &theirs, t, None).is_some(),
                    ok,
                    "{offset} at {t}"
                );
            }
        }
    }

    #[test]
    fn oathtool_agrees_on_the_rfc_seed() {
        let b32 = secret_to_base32(SEED20);
        assert_eq!(oathtool("SHA1", 8, 59, &b32), "94287082");
    }
}
