//! The five second-factor providers, named as the API and the configuration spell them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declared in the order that picks the default after a removal: TOTP < SMS < EMAIL <
/// WEBAUTHN, and a backup code last (it is never a default while another provider exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProviderType {
    /// An authenticator app's time-based code (RFC 6238); nothing is sent, so no notifier is
    /// needed.
    #[serde(rename = "TOTP")]
    Totp,
    /// A code sent by text message to the user's verified phone number.
    #[serde(rename = "SMS")]
    Sms,
    /// A code sent to the user's verified email address.
    #[serde(rename = "EMAIL")]
    Email,
    /// Passkeys and security keys (WebAuthn): several per user, in their own table.
    #[serde(rename = "WEBAUTHN")]
    Webauthn,
    /// One of a set of single-use codes printed at enrolment, for when every device is lost.
    #[serde(rename = "BACKUP_CODE")]
    BackupCode,
}

impl ProviderType {
    /// Every provider in declaration order, for listings and for parsing by name.
    pub const ALL: [ProviderType; 5] = [
        ProviderType::Totp,
        ProviderType::Sms,
        ProviderType::Email,
        ProviderType::Webauthn,
        ProviderType::BackupCode,
    ];

    /// The name the API, the database and the configuration use; stable, never translated.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Totp => "TOTP",
            ProviderType::Sms => "SMS",
            ProviderType::Email => "EMAIL",
            ProviderType::Webauthn => "WEBAUTHN",
            ProviderType::BackupCode => "BACKUP_CODE",
        }
    }

    /// Providers whose code the core sends (and therefore obey the send period).
    pub fn is_sent(self) -> bool {
        matches!(self, ProviderType::Sms | ProviderType::Email)
    }

    /// Needs a browser (WebAuthn): a text conversation such as PAM's cannot offer it.
    pub fn needs_browser(self) -> bool {
        self == ProviderType::Webauthn
    }

    /// How many digits a user types for this provider (none for a passkey).
    pub fn code_digits(self) -> usize {
        match self {
            ProviderType::BackupCode => crate::enrolment::BACKUP_CODE_DIGITS,
            ProviderType::Webauthn => 0,
            _ => 6,
        }
    }

    /// Words a page or a PAM prompt can use to name the provider.
    pub fn label(self) -> &'static str {
        match self {
            ProviderType::Totp => "authenticator app",
            ProviderType::Sms => "SMS",
            ProviderType::Email => "email",
            ProviderType::Webauthn => "passkey",
            ProviderType::BackupCode => "backup code",
        }
    }
}

impl fmt::Display for ProviderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is none of the five; it keeps the text so the error names it.
#[derive(Debug, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of TOTP, SMS, EMAIL, WEBAUTHN, BACKUP_CODE")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderType {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderType::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_totp_sms_email_webauthn_backup() {
        for p in ProviderType::ALL {
            assert_eq!(p.as_str().parse::<ProviderType>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        let mut v = vec![
            ProviderType::BackupCode,
            ProviderType::Email,
            ProviderType::Webauthn,
            ProviderType::Totp,
            ProviderType::Sms,
        ];
        v.sort();
        assert_eq!(v, ProviderType::ALL.to_vec());
        assert!("PUSH".parse::<ProviderType>().is_err());
    }
}
