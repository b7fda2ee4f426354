//! Delivery of verification codes and notices: email over SMTP, SMS through Twilio, Amazon SNS,
//! an SMSC over SMPP, a webhook or a development file.
//!
//! Senders only deliver; choosing the words a user sees when delivery fails is the caller's job,
//! so [`NotifyError`] speaks to the operator reading the logs. Nothing here logs a message body,
//! a code, a password or a token: a body usually *is* a code.

mod email;
mod smpp;
mod sms;
mod sns;

pub use email::{Mailer, SmtpConfig, SmtpTls};
pub use sms::{build_sms_sender, SmsConfig, SmsSender, DEFAULT_TWILIO_API_BASE};

/// Why a message was not delivered.
///
/// The variants let a caller tell a misconfiguration (fix the config, restart) from a refusal by
/// the provider (look at its dashboard) from a network problem (retry later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// No sender of this kind is configured.
    #[error("no sender is configured for this channel")]
    NotConfigured,
    /// A configuration value cannot work; `key` names it within its section.
    #[error("{key}: {message}")]
    InvalidConfig {
        /// The key within its section (`[smtp]` or `[sms]`).
        key: &'static str,
        /// Why the value cannot work.
        message: String,
    },
    /// The destination is not an address the channel can deliver to. The text says why and
    /// shows the address masked, because it ends up in logs.
    #[error("invalid destination address: {0}")]
    InvalidAddress(String),
    /// The message never reached the provider, or its answer was lost: connection refused,
    /// timeout, TLS failure, unwritable file.
    #[error("delivery failed: {0}")]
    Transport(String),
    /// The provider answered and refused the message: an HTTP status for Twilio, SNS and
    /// webhooks, an SMPP command_status (e.g. 14, invalid password) for SMPP, an SMTP reply code
    /// (e.g. 550, 535) for email.
    #[error("the provider refused the message (status {status})")]
    Rejected {
        /// The provider's own code, so an operator can look it up in its documentation.
        status: u16,
    },
}

/// Shortens a destination for logs and error texts: enough for an operator to tell two users
/// apart, not enough to harvest addresses or phone numbers from the logs.
pub(crate) fn mask_destination(to: &str) -> String {
    let chars: Vec<char> = to.trim().chars().collect();
    if let Some(at) = chars.iter().rposition(|c| *c == '@') {
        let local: String = chars[..at].iter().take(1).collect();
        let domain: String = chars[at + 1..].iter().collect();
        return format!("{local}***@{domain}");
    }
    if chars.len() <= 4 {
        return "***".into();
    }
    let head: String = chars[..chars.len().min(3)].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}***{tail}")
}

#[cfg(test)]
mod tests {
    use super::mask_destination;

    #[test]
    fn masks_keep_only_a_hint() {
        assert_eq!(mask_destination("alice@example.com"), "a***@example.com");
        assert_eq!(mask_destination("+447700900123"), "+44***23");
        assert_eq!(mask_destination("123"), "***");
        assert_eq!(mask_destination("é@x"), "é***@x");
    }
}
