//! One-time codes and the masked contacts shown while a login waits for one.

use rand::Rng;

/// `n` decimal digits, each uniform (gen_range avoids modulo bias), from the OS CSPRNG.
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// People type codes as "123 456" or "1234-5678"; only the digits matter.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// `+15551231234` → `+1*****1234`: enough for the owner to recognise, too little to dial.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let n = digits.len();
    if n < 4 {
        return "*".repeat(n.max(3));
    }
    // The last four digits, and the first (usually the country code) on long numbers; a
    // fixed run of stars so the mask does not tell the number's length either.
    let tail = if n >= 8 { 4 } else { n / 2 };
    let head = usize::from(n >= 10);
    let mut out = String::from("+");
    out.extend(&digits[..head]);
    out.push_str("*****");
    out.extend(&digits[n - tail..]);
    out
}

/// `alice@example.com` → `a***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// E.164: `+`, then 8 to 15 digits, the first not 0.
pub fn validate_e164(phone: &str) -> Result<(), &'static str> {
    let Some(rest) = phone.strip_prefix('+') else {
        return Err("must be in international E.164 form, like +15551231234");
    };
    let ok = (8..=15).contains(&rest.len())
        && rest.chars().all(|c| c.is_ascii_digit())
        && !rest.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err("must be in international E.164 form, like +15551231234")
    }
}

/// A deliberately simple address check: one `@`, a non-empty local part, a dotted domain.
pub fn validate_email(email: &str) -> Result<(), &'static str> {
    const MSG: &str = "must be an email address like name@example.com";
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MSG);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(MSG);
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !domain.contains("..");
    if local.is_empty() || !domain_ok {
        return Err(MSG);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_are_digits_and_vary() {
        let a = random_digits(8);
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        let distinct: std::collections::HashSet<String> =
            (0..50).map(|_| random_digits(6)).collect();
        assert!(distinct.len() > 45);
    }

    #[test]
    fn every_digit_appears() {
        let s = random_digits(2000);
        for d in '0'..='9' {
            assert!(s.contains(d));
        }
    }

    #[test]
    fn masks_match_the_spec_examples() {
        assert_eq!(mask_phone("+15551231234"), "+1*****1234");
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
        let short = mask_phone("+12345678");
        assert!(
            short.ends_with("5678") && !short.contains("1234"),
            "{short}"
        );
        let visible = short.chars().filter(|c| c.is_ascii_digit()).count();
        assert!(visible <= 4, "{short}");
    }

    #[test]
    fn codes_are_normalised() {
        assert_eq!(normalize_code(" 123 456 "), "123456");
        assert_eq!(normalize_code("1234-5678"), "12345678");
    }

    #[test]
    fn e164_and_email_validation() {
        assert!(validate_e164("+15551231234").is_ok());
        for bad in [
            "15551231234",
            "+0555123123",
            "+1555",
            "+1555123123412345",
            "+1555a231234",
        ] {
            assert!(validate_e164(bad).is_err(), "{bad}");
        }
        assert!(validate_email("a@b.io").is_ok());
        for bad in [
            "", "a", "@b.io", "a@b", "a b@c.io", "a@.io", "a@b..io", "a@b.io.",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
