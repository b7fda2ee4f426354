//! What the core says to a person, once: each refusal has an id, which the pages look up in
//! their message catalogue (`core-<id>`, in the reader's language), and the English the CLI,
//! the API and the logs say. `ALL` lets the catalogue's test check that every language has
//! words for every refusal.
//!
//! Words that name values (a name, an address) have slots in their English: `{name}` for the
//! value as it is, `{name:?}` for it quoted as Rust's `{:?}` quotes. [`Words::with`] gives the
//! values; the catalogue takes them as Fluent variables of the same names (`{ $name }`).

/// One refusal: its catalogue id and its English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Words {
    /// The catalogue id without its `core-` prefix; stable, since every language's file
    /// names it.
    pub id: &'static str,
    /// The English, with `{slot}` placeholders.
    pub english: &'static str,
}

/// The English, for the CLI, the API and logs (of words without slots; see [`Said`]).
impl std::fmt::Display for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.english)
    }
}

impl Words {
    /// These words with the value of the slot `name`.
    pub fn with(self, name: &'static str, value: impl ToString) -> Said {
        Said::from(self).with(name, value)
    }
}

/// Words with the values of their slots: what a refusal carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    /// Which refusal it is.
    pub words: Words,
    /// Each slot's value, by name, unquoted.
    pub args: Vec<(&'static str, String)>,
}

impl Said {
    /// The value of one more slot.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Said {
        self.args.push((name, value.to_string()));
        self
    }

    /// The English with its slots filled; a slot without a value stays as written.
    pub fn english(&self) -> String {
        let mut out = String::with_capacity(self.words.english.len());
        let mut rest = self.words.english;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            let slot = &after[..close];
            let (name, quoted) = match slot.strip_suffix(":?") {
                Some(n) => (n, true),
                None => (slot, false),
            };
            match self.args.iter().find(|(n, _)| *n == name) {
                Some((_, v)) if quoted => out.push_str(&format!("{v:?}")),
                Some((_, v)) => out.push_str(v),
                None => {
                    out.push('{');
                    out.push_str(slot);
                    out.push('}');
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl From<Words> for Said {
    fn from(words: Words) -> Said {
        Said {
            words,
            args: Vec::new(),
        }
    }
}

/// The English, for the CLI, the API and logs.
impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.english())
    }
}

/// Makes a const for each of the words, and `ALL`, the list of them; idp's own refusals (its
/// client store) are made with it too.
#[macro_export]
macro_rules! words {
    ($($name:ident = $id:literal : $english:literal;)*) => {
        // The English as a text block: it is no Markdown (brackets, bare URLs).
        $(#[doc = concat!("Catalogue id `core-", $id, "`; in English:\n\n```text\n", $english, "\n```")]
        pub const $name: $crate::words::Words =
            $crate::words::Words { id: $id, english: $english };)*
        /// Every refusal above.
        pub const ALL: &[$crate::words::Words] = &[$($name),*];
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
    PASSWORDLESS_OFF = "passwordless-off": "passwordless sign-in is turned off";
    // Refusals of the 2FA policy and of logins.
    ENROLMENT_GONE = "enrolment-gone": "no enrolment is in progress for this provider (or it expired); start again";
    BACKUP_CODES_NOT_ALONE = "backup-codes-not-alone": "set up another method first: backup codes cannot be your only second factor";
    LAST_FACTOR = "last-factor": "at least one second factor is required: add another before removing this one";
    NO_FACTOR_SET_UP = "no-factor-set-up": "no second factor is set up for this account";
    NO_FACTOR_AVAILABLE = "no-factor-available": "no second factor is available";
    PASSKEY_ONLY = "passkey-only": "this account's only second factor is a passkey, which cannot be used here; add an authenticator app or backup codes on the account page";
    CODES_NOT_SENT = "codes-not-sent": "{provider} codes are not sent";
    HOST_LOGIN_NO_LONGER = "host-login-no-longer": "this account may no longer log in at this host";
    DEVICE_ANSWERED = "device-answered": "this request was already answered or has expired";
    APPROVAL_OTHER_ACCOUNT = "approval-other-account": "this login is for another account; sign in as that account to approve it";
    // Names that are taken, and groups.
    USER_EXISTS = "user-exists": "a user named {name:?} already exists";
    GROUP_EXISTS = "group-exists": "a group named {name:?} already exists";
    GROUP_IN_USE = "group-in-use": "the group {name:?} is an allowed group of the client(s) {clients}: take it off them first";
    GROUP_NAME_FORM = "group-name-form": "{name:?} is not a group name: use 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";
    GROUP_LISTED_TWICE = "group-listed-twice": "{name:?} is listed twice";
    GROUP_MISSING = "group-missing": "there is no group named {name:?} (create it first)";
    // Hosts.
    HOST_EXISTS = "host-exists": "a host named {name:?} exists";
    HOST_NAME_LENGTH = "host-name-length": "a host name has 1 to 253 characters";
    HOST_NAME_FORM = "host-name-form": "a host name is letters, digits, '.', '-' and '_', starting with a letter or digit";
    HOST_NO_SUCH_GROUP = "host-no-such-group": "no group named {name:?}";
    HOST_GROUP_NOT_ALLOWED = "host-group-not-allowed": "host {host:?} does not allow group {group:?}";
    // The platform's 2FA settings.
    SETTINGS_PROVIDER_TWICE = "settings-provider-twice": "{provider} is listed twice";
    SETTINGS_NAME_LENGTH = "settings-name-length": "must be 1 to 64 characters";
    SETTINGS_ISSUER_COLON = "settings-issuer-colon": "must not contain ':' (authenticator apps split the label on it)";
    SETTINGS_SMS_NO_CODE = "settings-sms-no-code": "must contain ${code}";
    SETTINGS_SMS_LONG = "settings-sms-long": "must be at most 320 characters";
    SETTINGS_CODES_QUANTITY = "settings-codes-quantity": "must be between 1 and 100";
    SETTINGS_SEND_PERIOD = "settings-send-period": "must be between 5 and 86400 seconds";
    SETTINGS_LOCKOUT = "settings-lockout": "must be between 0 (never lock) and 65535";
    SETTINGS_VERIFICATION_TIME = "settings-verification-time": "must be between 60 and 86400 seconds";
    SETTINGS_CODE_LIFETIME = "settings-code-lifetime": "must be between 30 and 86400 seconds";
    SETTINGS_RATE_FORM = "settings-rate-form": "{value:?} is not of the form N:S (at most N checks per S seconds)";
    SETTINGS_RATE_ZERO = "settings-rate-zero": "both N and S must be at least 1";
    SETTINGS_NO_MAIL = "settings-no-mail": "Mail service is not set up: configure [smtp] before enabling EMAIL";
    SETTINGS_NO_SMS = "settings-no-sms": "SMS service is not configured: configure [sms] before enabling SMS";
    // Passkeys' relying party.
    RP_ID_FORM = "rp-id-form": "must be a host name (like example.com) without scheme, port or path, or empty for the issuer's host";
    RP_ATTESTATION_NONE = "rp-attestation-none": "only \"none\" is supported (authenticators are not asked who made them)";
    RP_ORIGIN_FORM = "rp-origin-form": "must be an origin like https://login.example.com (scheme, host, optional port)";
    RP_ISSUER_IP = "rp-issuer-ip": "passkeys need the issuer on a domain name, and {host:?} is an IP address: use a host name (localhost for a test) in server.issuer";
    RP_ID_MISFIT = "rp-id-misfit": "{rp_id:?} does not fit the issuer's origin {origin}: {why}";
    RP_ORIGIN_UNREADABLE = "rp-origin-unreadable": "{origin}: {why}";
    RP_ORIGIN_OFF_ID = "rp-origin-off-id": "{origin} is not on the relying party id {rp_id:?} or one of its subdomains";
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

    #[test]
    fn slots_are_filled_as_the_core_always_said_them() {
        use super::*;
        let said = USER_EXISTS.with("name", "bob \"b\"");
        assert_eq!(said.english(), r#"a user named "bob \"b\"" already exists"#);
        assert_eq!(said.to_string(), said.english());
        let said = GROUP_IN_USE.with("name", "ops").with("clients", "a, b");
        assert_eq!(
            said.english(),
            "the group \"ops\" is an allowed group of the client(s) a, b: take it off them first"
        );
        // Braces that are no slot (or a slot without a value) stay as written.
        assert_eq!(
            Said::from(SETTINGS_SMS_NO_CODE).english(),
            "must contain ${code}"
        );
        assert_eq!(
            Said::from(USER_EXISTS).english(),
            "a user named {name:?} already exists"
        );
        assert_eq!(
            Said::from(PASSWORDLESS_OFF).english(),
            PASSWORDLESS_OFF.english
        );
    }

    #[test]
    fn numbers_in_words_are_the_rules_numbers() {
        assert!(super::GROUP_NAME_FORM
            .english
            .contains(&format!("1 to {} ", crate::groups::MAX_NAME_LEN)));
    }
}
