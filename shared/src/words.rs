//! What the core says to a person about bad input, once: each refusal has an id, which the
//! pages look up in their message catalogue (`core-<id>`, in the reader's language), and the
//! English the CLI, the API and the logs say. `ALL` lets the catalogue's test check that every
//! language has words for every refusal.

/// One refusal: its catalogue id and its English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    pub id: &'static str,
    pub english: &'static str,
}

/// The English, for the CLI, the API and logs.
impl std::fmt::Display for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.english)
    }
}

macro_rules! words {
    ($($name:ident = $id:literal : $english:literal;)*) => {
        $(pub const $name: Words = Words { id: $id, english: $english };)*
        /// Every refusal above.
        pub const ALL: &[Words] = &[$($name),*];
    };
}

words! {
    PHONE_NO_PLUS = "phone-no-plus": "must start with + and the country code, like +15551231234";
    PHONE_NOT_DIGITS = "phone-not-digits": "must contain only digits after the +, no spaces or dashes";
    PHONE_LENGTH = "phone-length": "must have 8 to 15 digits after the +";
    PHONE_NO_COUNTRY = "phone-no-country": "must start with a country code after the + (not 0)";
    EMAIL_EMPTY = "email-empty": "must not be empty";
    EMAIL_TOO_LONG = "email-too-long": "must be at most 254 characters";
    EMAIL_SPACES = "email-spaces": "must not contain spaces or control characters";
    EMAIL_NO_AT = "email-no-at": "must contain an @, like name@example.com";
    EMAIL_TWO_AT = "email-two-at": "must contain only one @";
    EMAIL_NO_NAME = "email-no-name": "must have a name before the @, like name@example.com";
    EMAIL_NO_DOMAIN = "email-no-domain": "must have a domain with a dot after the @, like name@example.com";
    USERNAME_FORM = "username-form": "use 1 to 64 letters, digits, '.', '_' or '-', not starting with '-' and not just '.' or '..'";
    PASSWORD_SHORT = "password-short": "must be at least 8 characters";
    PASSWORD_LONG = "password-long": "must be at most 1024 bytes";
    CODE_WRONG = "code-wrong": "the code is not right; try again";
    PASSKEY_NAME_EMPTY = "passkey-name-empty": "give the passkey a name, like \"YubiKey 5\" or \"laptop\"";
    PASSKEY_NAME_LONG = "passkey-name-long": "a name has at most 64 characters and no control characters";
    PASSKEY_REQUEST_GONE = "passkey-request-gone": "this passkey request expired or was already used; start again";
    PASSKEY_ANSWER_UNREADABLE = "passkey-answer-unreadable": "the browser's answer could not be read; start again";
    PASSKEY_ANSWER_REFUSED = "passkey-answer-refused": "the authenticator's answer was not accepted; start again";
    PASSKEY_KNOWN = "passkey-known": "this passkey is already registered";
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = super::ALL.iter().map(|w| w.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
