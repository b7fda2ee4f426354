//! Email over SMTP: the `[smtp]` section and the [`Mailer`] built from it.

use super::{mask_destination, NotifyError};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; refuses to send if the server cannot upgrade, so
    /// a man in the middle cannot strip the encryption (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
    /// No encryption at all: only for a relay on the same host or in tests.
    None,
}

/// The `[smtp]` section.
///
/// `Debug` is written by hand so that printing the configuration never shows the password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server's name; with TLS it must match the server's certificate.
    pub host: String,
    /// 587 suits the default `starttls`; `tls = "tls"` usually needs 465.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// How the connection is encrypted; `starttls` by default, so codes do not cross the
    /// network in clear.
    #[serde(default)]
    pub tls: SmtpTls,
    /// The AUTH user; set together with `password`, or neither for an open relay.
    pub username: Option<String>,
    /// The AUTH password (never printed: see `Debug`).
    pub password: Option<String>,
    /// The `From` of every message, e.g. `Stepgate <no-reply@example.com>`.
    pub from: String,
    /// Limit for a whole delivery (connect, greeting, AUTH, MAIL … DATA), so a dead or silent
    /// server cannot hold a login page (or a PAM conversation) open.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_smtp_port() -> u16 {
    587
}

pub(super) fn default_timeout_seconds() -> u64 {
    10
}

impl SmtpConfig {
    /// Checks what serde cannot; the error names the key (within `[smtp]`) to fix.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.host.trim().is_empty() {
            return Err(("host", "must not be empty".into()));
        }
        if self.host.chars().any(char::is_whitespace) {
            return Err(("host", format!("{:?} is not a host name", self.host)));
        }
        if self.port == 0 {
            return Err(("port", "must be between 1 and 65535".into()));
        }
        if let Err(e) = self.from.parse::<Mailbox>() {
            return Err((
                "from",
                format!(
                    "{:?} is not an address like \"Stepgate <no-reply@example.com>\": {e}",
                    self.from
                ),
            ));
        }
        match (&self.username, &self.password) {
            (Some(u), _) if u.is_empty() => {
                return Err((
                    "username",
                    "must not be empty; remove the key instead".into(),
                ))
            }
            (Some(_), None) => return Err(("password", "is required when username is set".into())),
            (None, Some(_)) => return Err(("username", "is required when password is set".into())),
            _ => {}
        }
        if self.timeout_seconds == 0 {
            return Err(("timeout_seconds", "must be at least 1".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// Sends plain-text email through the configured server.
///
/// lettre keeps a pool of connections whose clean-up task runs on the Tokio runtime current at
/// [`Mailer::new`]; create and use the mailer inside one runtime.
pub struct Mailer {
    /// `None` only while dropping; see the `Drop` impl.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    host: String,
    port: u16,
    tls: SmtpTls,
    timeout: Duration,
}

impl Mailer {
    /// Validates the section and builds a pooled transport; nothing is sent or connected
    /// yet, so a server that is down does not stop start-up.
    pub fn new(config: &SmtpConfig) -> Result<Mailer, NotifyError> {
        config
            .validate()
            .map_err(|(key, message)| NotifyError::InvalidConfig { key, message })?;
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| NotifyError::InvalidConfig {
                key: "from",
                message: e.to_string(),
            })?;
        // lettre spawns its pool's clean-up task here, which would panic outside a runtime.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NotifyError::Transport(
                "the mailer must be created inside a Tokio runtime".into(),
            ));
        }
        let tls_error = |e: lettre::transport::smtp::Error| NotifyError::InvalidConfig {
            key: "host",
            message: format!("cannot set up TLS for {:?}: {e}", config.host),
        };
        let mut builder = match config.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(tls_error)?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_error)?
            }
        }
        .port(config.port)
        .timeout(Some(Duration::from_secs(config.timeout_seconds)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            if config.tls == SmtpTls::None && !is_loopback(&config.host) {
                tracing::warn!(
                    host = %config.host,
                    "smtp: credentials will cross the network unencrypted because tls = \"none\""
                );
            }
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: Some(builder.build()),
            from,
            host: config.host.clone(),
            port: config.port,
            tls: config.tls,
            timeout: Duration::from_secs(config.timeout_seconds),
        })
    }

    /// Sends one UTF-8 plain-text message; lettre adds `Date`, and `Message-ID` is generated
    /// here so that replies and bounces can be matched.
    pub async fn send(&self, to: &str, subject: &str, text_body: &str) -> Result<(), NotifyError> {
        let masked = mask_destination(to);
        let recipient = to
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| NotifyError::InvalidAddress(format!("{masked}: {e}")))?;
        // A subject is one header line; a stray newline must not start another header.
        let subject: String = subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .message_id(None)
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_owned())
            .map_err(|e| NotifyError::InvalidAddress(format!("{masked}: {e}")))?;
        let transport = self.transport.as_ref().ok_or(NotifyError::NotConfigured)?;
        // lettre's own timeout covers only the TCP connect; a server that accepts and then
        // stays silent would otherwise block this call forever.
        let result = match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(sent) => sent.map(drop).map_err(smtp_error),
            Err(_) => Err(NotifyError::Transport(format!(
                "no complete answer from {}:{} within {} s",
                self.host,
                self.port,
                self.timeout.as_secs()
            ))),
        };
        match &result {
            Ok(()) => tracing::debug!(to = %masked, outcome = "sent", "email"),
            Err(e) => tracing::debug!(to = %masked, outcome = %e, "email"),
        }
        result
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Mailer {
    /// lettre's pool spawns a Tokio task when dropped, which panics outside a runtime. A PAM
    /// module may drop the core after its runtime is gone, and a panic there takes down the
    /// host process; leaking a few idle connections at that point is the lesser harm.
    fn drop(&mut self) {
        if let Some(transport) = self.transport.take() {
            if tokio::runtime::Handle::try_current().is_err() {
                std::mem::forget(transport);
            }
        }
    }
}

/// A reply code means the server spoke and said no; anything else means we never got that far.
fn smtp_error(e: lettre::transport::smtp::Error) -> NotifyError {
    match e.status() {
        Some(code) if e.is_permanent() || e.is_transient() => NotifyError::Rejected {
            status: code.into(),
        },
        _ => NotifyError::Transport(e.to_string()),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<SmtpConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_and_validation() {
        let c = config("host = \"mail.example.com\"\nfrom = \"Stepgate <no-reply@example.com>\"\n")
            .unwrap();
        assert_eq!(
            (c.port, c.tls, c.timeout_seconds),
            (587, SmtpTls::Starttls, 10)
        );
        assert!(c.validate().is_ok());

        let c = config("host = \"\"\nfrom = \"a@b.c\"\n").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "host");
        let c = config("host = \"h\"\nfrom = \"not an address\"\n").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "from");
        let c = config("host = \"h\"\nfrom = \"a@b.c\"\nusername = \"u\"\n").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "password");
        let c = config("host = \"h\"\nfrom = \"a@b.c\"\ntimeout_seconds = 0\n").unwrap();
        assert_eq!(c.validate().unwrap_err().0, "timeout_seconds");
    }

    #[test]
    fn unknown_keys_and_modes_are_refused() {
        let e = config("host = \"h\"\nfrom = \"a@b.c\"\npasword = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("pasword"), "{e}");
        let e = config("host = \"h\"\nfrom = \"a@b.c\"\ntls = \"ssl\"\n").unwrap_err();
        assert!(e.to_string().contains("ssl"), "{e}");
        let c = config("host = \"h\"\nfrom = \"a@b.c\"\ntls = \"none\"\n").unwrap();
        assert_eq!(c.tls, SmtpTls::None);
    }

    #[test]
    fn debug_hides_the_password() {
        let c = config(
            "host = \"h\"\nfrom = \"a@b.c\"\nusername = \"u\"\npassword = \"hunter2-secret\"\n",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn mailer_needs_a_runtime_but_does_not_panic_without_one() {
        let c = config("host = \"127.0.0.1\"\nfrom = \"a@b.c\"\ntls = \"none\"\n").unwrap();
        assert!(matches!(Mailer::new(&c), Err(NotifyError::Transport(_))));

        // Dropped after its runtime is gone, as a PAM module might do.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mailer = runtime.block_on(async { Mailer::new(&c) }).unwrap();
        drop(runtime);
        drop(mailer);
    }
}
