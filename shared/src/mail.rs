//! What the core writes in the emails it sends, in one place: each function gives a message's
//! subject and body. (The sentences a page or a refusal says are in [`crate::words`].)

use crate::providers::ProviderType;
use crate::time::Seconds;

/// An email: its subject and its plain-text body.
pub(crate) struct Mail {
    pub subject: String,
    pub body: String,
}

/// A one-time code sent by email, valid for `lifetime`.
pub(crate) fn code(issuer: &str, code: &str, lifetime: Seconds) -> Mail {
    Mail {
        subject: format!("{issuer} verification code"),
        body: format!(
            "Your verification code is {code}.\n\nIt is valid for {lifetime} seconds. \
             If you did not try to sign in, you can ignore this message; someone may \
             know your password, so consider changing it.\n"
        ),
    }
}

/// To the account's owner: a second factor (or new backup codes) was added.
pub(crate) fn provider_added(username: &str, added: ProviderType) -> Mail {
    let what = if added == ProviderType::BackupCode {
        "new backup codes were generated"
    } else {
        "a second factor was set up"
    };
    Mail {
        subject: "A second factor was added to your account".into(),
        body: format!(
            "Hello {username},\n\n{what} on your account: {}.\n\n\
             If you did not do this, contact your administrator at once.\n",
            added.label()
        ),
    }
}

/// To the account's owner: second factors were turned off.
pub(crate) fn providers_removed(username: &str, removed: &[ProviderType]) -> Mail {
    let names: Vec<&str> = removed.iter().map(|p| p.label()).collect();
    Mail {
        subject: "Two-factor authentication was turned off".into(),
        body: format!(
            "Hello {username},\n\ntwo-factor authentication was turned off on your account for: {}.\n\n\
             If you did not do this, contact your administrator at once.\n",
            names.join(", ")
        ),
    }
}

/// To the account's owner: the passkey `name` was removed.
pub(crate) fn passkey_removed(username: &str, name: &str) -> Mail {
    Mail {
        subject: "A passkey was removed from your account".into(),
        body: format!(
            "Hello {username},\n\nthe passkey {name:?} was removed from your account.\n\n\
             If you did not do this, contact your administrator at once.\n"
        ),
    }
}

/// To the administrator: `username` was locked after too many failed checks.
pub(crate) fn lockout(username: &str) -> Mail {
    Mail {
        subject: format!("Stepgate: account {username} locked"),
        body: format!(
            "The account {username:?} was locked after too many failed second-factor checks.\n\n\
             Unlock it with: stepgate user unlock {username}\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_email_names_the_code_and_its_lifetime() {
        let m = code("Acme", "123456", Seconds(300));
        assert_eq!(m.subject, "Acme verification code");
        assert!(m.body.contains("123456") && m.body.contains("300 seconds"));
    }
}
