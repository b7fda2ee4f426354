//! One-time codes, and the masked contacts shown while a login waits for one.
//!
//! Codes are only ever stored as keyed hashes (see `Secrets::code_hash`); this module makes
//! them and cleans up what people type.

use crate::words::{self, Words};
use rand::Rng;

/// `n` decimal digits from the OS CSPRNG. `gen_range` rejects out-of-range samples instead of
/// taking a remainder, so every digit is exactly equally likely (no modulo bias).
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// People type codes as "123 456" or "1234-5678", and phones turn '-' into look-alike dashes;
/// only the digits matter. Anything else is kept, so that garbage still fails verification.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && !is_dash(*c))
        .collect()
}

fn is_dash(c: char) -> bool {
    // '-', hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign.
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}'
    )
}

/// Number of stars in a masked phone number, whatever its length, so the mask does not tell
/// the length either.
const PHONE_STARS: &str = "*****";

/// `+15551231234` → `+1*****1234`: enough for the owner to recognise which phone, too little
/// for anyone else to dial. Shows the last four digits and the first one (usually the country
/// code), but never more than half of the digits: shorter numbers lose the first digit, then
/// tail digits.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    let budget = n / 2;
    let tail = budget.min(4);
    let head = usize::from(budget > tail);
    let mut out = String::new();
    if phone.trim_start().starts_with('+') {
        out.push('+');
    }
    out.extend(&digits[..head]);
    out.push_str(PHONE_STARS);
    out.extend(&digits[n - tail..]);
    out
}

/// `alice@example.com` → `a***@example.com`: the domain helps the owner recognise the address
/// and is rarely personal; the local part is.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// E.164: `+`, then 8 to 15 digits, the first not 0. The messages say what to fix; callers
/// add the field name.
pub fn validate_e164(phone: &str) -> Result<(), Words> {
    let Some(rest) = phone.strip_prefix('+') else {
        return Err(words::PHONE_NO_PLUS);
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(words::PHONE_NOT_DIGITS);
    }
    if !(8..=15).contains(&rest.len()) {
        return Err(words::PHONE_LENGTH);
    }
    if rest.starts_with('0') {
        return Err(words::PHONE_NO_COUNTRY);
    }
    Ok(())
}

/// A deliberately simple check: one `@`, a non-empty local part, a dotted domain, no spaces
/// or control characters, at most 254 bytes (the SMTP path limit). Whether the address
/// exists is proven by the code sent to it, not by parsing.
pub fn validate_email(email: &str) -> Result<(), Words> {
    if email.is_empty() {
        return Err(words::EMAIL_EMPTY);
    }
    if email.len() > 254 {
        return Err(words::EMAIL_TOO_LONG);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(words::EMAIL_SPACES);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(words::EMAIL_NO_AT);
    };
    if domain.contains('@') {
        return Err(words::EMAIL_TWO_AT);
    }
    if local.is_empty() {
        return Err(words::EMAIL_NO_NAME);
    }
    let labels_ok = domain.split('.').all(|label| !label.is_empty());
    if !domain.contains('.') || !labels_ok {
        return Err(words::EMAIL_NO_DOMAIN);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_are_digits_of_the_right_length() {
        for n in [0, 1, 6, 8, 100] {
            let s = random_digits(n);
            assert_eq!(s.len(), n);
            assert!(s.bytes().all(|b| b.is_ascii_digit()), "{s}");
        }
        let distinct: std::collections::HashSet<String> =
            (0..100).map(|_| random_digits(8)).collect();
        assert!(
            distinct.len() >= 99,
            "8-digit codes should practically never repeat"
        );
    }

    #[test]
    fn random_digits_are_roughly_uniform() {
        let s = random_digits(100_000);
        let mut counts = [0u32; 10];
        for b in s.bytes() {
            counts[usize::from(b - b'0')] += 1;
        }
        // Expected 10 000 each, σ ≈ 95: ±600 is over 6σ, so this does not flake.
        for (digit, count) in counts.iter().enumerate() {
            assert!((9_400..=10_600).contains(count), "{digit}: {count}");
        }
    }

    #[test]
    fn codes_are_normalised() {
        assert_eq!(normalize_code("123456"), "123456");
        assert_eq!(normalize_code(" 123 456 "), "123456");
        assert_eq!(normalize_code("1234-5678"), "12345678");
        assert_eq!(normalize_code("1234\u{2013}5678\t"), "12345678");
        assert_eq!(normalize_code("12\u{a0}34"), "1234");
        assert_eq!(normalize_code("12a4"), "12a4");
        assert_eq!(normalize_code(""), "");
    }

    #[test]
    fn phone_mask_matches_the_spec_example() {
        assert_eq!(mask_phone("+15551231234"), "+1*****1234");
        assert_eq!(mask_phone("+447700900123"), "+4*****0123");
        assert_eq!(mask_phone("+861234567890123"), "+8*****0123");
    }

    #[test]
    fn phone_mask_never_shows_more_than_half() {
        for n in 0..=15 {
            let phone = format!("+{}", "123456789012345".get(..n).unwrap());
            let masked = mask_phone(&phone);
            let shown = masked.bytes().filter(u8::is_ascii_digit).count();
            assert!(shown * 2 <= n, "{phone} → {masked}");
            assert!(
                masked.starts_with('+') && masked.contains("*****"),
                "{masked}"
            );
        }
        assert_eq!(mask_phone("+12345678"), "+*****5678");
        assert_eq!(mask_phone("+123456789"), "+*****6789");
        assert_eq!(mask_phone("+1234567890"), "+1*****7890");
        assert_eq!(mask_phone("+123"), "+*****3");
        assert_eq!(mask_phone(""), "*****");
        assert_eq!(mask_phone("5551231234"), "5*****1234");
    }

    #[test]
    fn email_mask_matches_the_spec_example() {
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        assert_eq!(mask_email("b@example.org"), "b***@example.org");
        assert_eq!(mask_email("émile@exemple.fr"), "é***@exemple.fr");
        assert_eq!(mask_email("@example.com"), "***@example.com");
        assert_eq!(mask_email("no-at-sign"), "***");
    }

    #[test]
    fn e164_validation() {
        for good in [
            "+15551231234",
            "+12345678",
            "+123456789012345",
            "+447700900123",
        ] {
            assert_eq!(validate_e164(good), Ok(()), "{good}");
        }
        let cases = [
            ("15551231234", "must start with +"),
            ("", "must start with +"),
            ("+", "8 to 15 digits"),
            ("+1234567", "8 to 15 digits"),
            ("+1234567890123456", "8 to 15 digits"),
            ("+05551231234", "not 0"),
            ("+1 555 123 1234", "only digits"),
            ("+1-555-123-1234", "only digits"),
            ("+1555a231234", "only digits"),
            ("+1555１231234", "only digits"),
            ("++15551231234", "only digits"),
        ];
        for (bad, expected) in cases {
            let message = validate_e164(bad).unwrap_err().english;
            assert!(message.contains(expected), "{bad:?}: {message}");
        }
    }

    #[test]
    fn email_validation() {
        for good in [
            "a@b.io",
            "alice@example.com",
            "first.last+tag@mail.example.co.uk",
            "zoë@exemple.fr",
        ] {
            assert_eq!(validate_email(good), Ok(()), "{good}");
        }
        let at_limit = format!("{}@example.com", "a".repeat(254 - 12));
        assert_eq!(at_limit.len(), 254);
        assert_eq!(validate_email(&at_limit), Ok(()));
        let too_long = format!("a{at_limit}");
        let cases = [
            ("", "empty"),
            (too_long.as_str(), "254"),
            ("a b@c.io", "spaces"),
            ("a@b.io\n", "spaces"),
            ("a\u{7}@b.io", "control"),
            ("alice", "contain an @"),
            ("a@b@c.io", "only one @"),
            ("@b.io", "name before the @"),
            ("a@b", "domain with a dot"),
            ("a@", "domain with a dot"),
            ("a@.io", "domain with a dot"),
            ("a@b..io", "domain with a dot"),
            ("a@b.io.", "domain with a dot"),
        ];
        for (bad, expected) in cases {
            let message = validate_email(bad).unwrap_err().english;
            assert!(message.contains(expected), "{bad:?}: {message}");
        }
    }
}
