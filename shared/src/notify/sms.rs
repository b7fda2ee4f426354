//! Text messages: the `[sms]` section and the senders it selects.
//!
//! Each sender owns one `reqwest::Client` (when it needs one) so connections to the provider
//! are reused between codes, and every request has a deadline so a slow provider cannot hold a
//! login open.

use super::email::default_timeout_seconds;
use super::smpp::{default_smpp_port, SmppSender};
use super::sns::SnsSender;
use super::{mask_destination, NotifyError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where Twilio's REST API lives unless `api_base` says otherwise (tests point it elsewhere).
pub const DEFAULT_TWILIO_API_BASE: &str = "https://api.twilio.com";

/// Twilio has no key for it in the config; ten seconds matches the webhook default.
const TWILIO_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one text message. Implementations must not log `message`: it carries the code.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Delivers `message` to `to_e164` or says why not; an error spends no send-period
    /// counter, so the user may try another way.
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError>;
    /// The `kind` from the configuration, for logs and the admin status page.
    fn kind(&self) -> &'static str;
}

/// The `[sms]` section; `kind` selects the sender.
///
/// `Debug` is written by hand so that printing the configuration never shows a token.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SmsConfig {
    /// Twilio's Messages API, with HTTP basic auth.
    Twilio {
        /// The account (`AC…`) the messages are billed to.
        account_sid: String,
        /// The account's secret (never printed: see `Debug`).
        auth_token: String,
        /// A phone number in E.164 form, or a messaging service SID.
        from: String,
        /// Defaults to [`DEFAULT_TWILIO_API_BASE`].
        api_base: Option<String>,
    },
    /// POSTs `{"to": …, "message": …}` to a gateway of your own.
    Webhook {
        /// The gateway's `http(s)://` URL; use https off loopback, since the body carries a code.
        url: String,
        /// Sent as `Authorization: Bearer …` when set, so the gateway can refuse strangers.
        bearer_token: Option<String>,
        /// Limit for one delivery, so a hung gateway cannot hold a login open.
        #[serde(default = "default_timeout_seconds")]
        timeout_seconds: u64,
    },
    /// Development sink: one JSON line per message, read by people and tests.
    File {
        /// The file appended to.
        path: PathBuf,
    },
    /// Amazon SNS `Publish` to the phone number, signed with SigV4. Without both keys here,
    /// the credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`.
    #[serde(rename = "aws-sns")]
    AwsSns {
        /// The AWS region whose SNS sends (and signs) the message.
        region: String,
        /// With `secret_access_key`: fixed credentials instead of the environment's.
        access_key_id: Option<String>,
        /// The secret half of `access_key_id` (never printed: see `Debug`).
        secret_access_key: Option<String>,
        /// For temporary credentials (STS), with the two keys.
        session_token: Option<String>,
        /// Defaults to SNS's regional endpoint; tests point it at a loopback listener.
        endpoint: Option<String>,
        /// Limit for one delivery, so a slow SNS cannot hold a login open.
        #[serde(default = "default_timeout_seconds")]
        timeout_seconds: u64,
    },
    /// An SMSC over SMPP 3.4: `bind_transmitter`, `submit_sm`, `unbind`, one session per message.
    Smpp {
        /// The SMSC's host name (checked against its certificate with `tls`).
        host: String,
        /// 2775 by default (SMPP's registered port).
        #[serde(default = "default_smpp_port")]
        port: u16,
        /// The account the SMSC gave, sent in `bind_transmitter`.
        system_id: String,
        /// The account's password (never printed: see `Debug`).
        password: String,
        /// Some SMSCs route by it; empty unless the provider says otherwise.
        #[serde(default)]
        system_type: String,
        /// A phone number (sent as international, TON 1 / NPI 1) or an alphanumeric sender id
        /// (TON 5 / NPI 0), unless `source_ton` / `source_npi` say otherwise.
        source_address: String,
        /// Overrides the type of number guessed from `source_address`.
        source_ton: Option<u8>,
        /// Overrides the numbering plan guessed from `source_address`.
        source_npi: Option<u8>,
        /// SMPP over TLS: the password and the code otherwise cross the network in clear.
        #[serde(default)]
        tls: bool,
        /// Limit for one whole session (connect, bind, submit, unbind).
        #[serde(default = "default_timeout_seconds")]
        timeout_seconds: u64,
    },
}

impl SmsConfig {
    /// Checks what serde cannot; the error names the key (within `[sms]`) to fix.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            SmsConfig::Twilio {
                account_sid,
                auth_token,
                from,
                api_base,
            } => {
                // The SID becomes part of the URL path, so it must not be able to change it.
                if account_sid.is_empty() || !account_sid.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err((
                        "account_sid",
                        "must be a Twilio account SID like AC0123…".into(),
                    ));
                }
                if auth_token.is_empty() {
                    return Err(("auth_token", "must not be empty".into()));
                }
                if from.trim().is_empty() {
                    return Err(("from", "must not be empty".into()));
                }
                if let Some(base) = api_base {
                    parse_http_url(base).map_err(|m| ("api_base", m))?;
                }
            }
            SmsConfig::Webhook {
                url,
                bearer_token,
                timeout_seconds,
            } => {
                parse_http_url(url).map_err(|m| ("url", m))?;
                if let Some(token) = bearer_token {
                    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic()) {
                        return Err((
                            "bearer_token",
                            "must be non-empty printable ASCII without spaces".into(),
                        ));
                    }
                }
                if *timeout_seconds == 0 {
                    return Err(("timeout_seconds", "must be at least 1".into()));
                }
            }
            SmsConfig::File { path } => {
                if path.as_os_str().is_empty() {
                    return Err(("path", "must not be empty".into()));
                }
            }
            SmsConfig::AwsSns {
                region,
                access_key_id,
                secret_access_key,
                session_token,
                endpoint,
                timeout_seconds,
            } => {
                // The region becomes part of the endpoint's host name and of the signature.
                let region_ok = !region.is_empty()
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !region_ok {
                    return Err(("region", "must be an AWS region like eu-west-1".into()));
                }
                match (access_key_id, secret_access_key) {
                    (Some(id), _) if !is_token(id) => {
                        return Err((
                            "access_key_id",
                            "must be printable ASCII without spaces".into(),
                        ))
                    }
                    (_, Some(secret)) if !is_token(secret) => {
                        return Err((
                            "secret_access_key",
                            "must be printable ASCII without spaces".into(),
                        ))
                    }
                    (Some(_), None) => {
                        return Err(("secret_access_key", "is needed with access_key_id".into()))
                    }
                    (None, Some(_)) => {
                        return Err(("access_key_id", "is needed with secret_access_key".into()))
                    }
                    _ => {}
                }
                if let Some(token) = session_token {
                    if access_key_id.is_none() {
                        return Err((
                            "session_token",
                            "only goes with access_key_id and secret_access_key".into(),
                        ));
                    }
                    if !is_token(token) {
                        return Err((
                            "session_token",
                            "must be printable ASCII without spaces".into(),
                        ));
                    }
                }
                if let Some(endpoint) = endpoint {
                    parse_http_url(endpoint).map_err(|m| ("endpoint", m))?;
                }
                if *timeout_seconds == 0 {
                    return Err(("timeout_seconds", "must be at least 1".into()));
                }
            }
            SmsConfig::Smpp {
                host,
                port,
                system_id,
                password,
                system_type,
                source_address,
                tls,
                timeout_seconds,
                ..
            } => {
                if host.trim().is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                    return Err(("host", "must be a host name or IP address".into()));
                }
                if *tls && rustls_server_name(host).is_err() {
                    return Err(("host", "is not a name a TLS certificate can carry".into()));
                }
                if *port == 0 {
                    return Err(("port", "must be between 1 and 65535".into()));
                }
                // SMPP 3.4 §5.2: C-octet strings of at most 16, 9, 13 and 21 octets with the NUL.
                check_smpp_text("system_id", system_id, 1, 15)?;
                check_smpp_text("password", password, 0, 8)?;
                check_smpp_text("system_type", system_type, 0, 12)?;
                let source = source_address.strip_prefix('+').unwrap_or(source_address);
                check_smpp_text("source_address", source, 1, 20)?;
                if *timeout_seconds == 0 {
                    return Err(("timeout_seconds", "must be at least 1".into()));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmsConfig::Twilio {
                account_sid,
                auth_token: _,
                from,
                api_base,
            } => f
                .debug_struct("Twilio")
                .field("account_sid", account_sid)
                .field("auth_token", &"<redacted>")
                .field("from", from)
                .field("api_base", api_base)
                .finish(),
            SmsConfig::Webhook {
                url,
                bearer_token,
                timeout_seconds,
            } => f
                .debug_struct("Webhook")
                .field("url", &redact_url(url))
                .field("bearer_token", &bearer_token.as_ref().map(|_| "<redacted>"))
                .field("timeout_seconds", timeout_seconds)
                .finish(),
            SmsConfig::File { path } => f.debug_struct("File").field("path", path).finish(),
            SmsConfig::AwsSns {
                region,
                access_key_id,
                secret_access_key,
                session_token,
                endpoint,
                timeout_seconds,
            } => f
                .debug_struct("AwsSns")
                .field("region", region)
                .field("access_key_id", access_key_id)
                .field(
                    "secret_access_key",
                    &secret_access_key.as_ref().map(|_| "<redacted>"),
                )
                .field(
                    "session_token",
                    &session_token.as_ref().map(|_| "<redacted>"),
                )
                .field("endpoint", &endpoint.as_deref().map(redact_url))
                .field("timeout_seconds", timeout_seconds)
                .finish(),
            SmsConfig::Smpp {
                host,
                port,
                system_id,
                password: _,
                system_type,
                source_address,
                source_ton,
                source_npi,
                tls,
                timeout_seconds,
            } => f
                .debug_struct("Smpp")
                .field("host", host)
                .field("port", port)
                .field("system_id", system_id)
                .field("password", &"<redacted>")
                .field("system_type", system_type)
                .field("source_address", source_address)
                .field("source_ton", source_ton)
                .field("source_npi", source_npi)
                .field("tls", tls)
                .field("timeout_seconds", timeout_seconds)
                .finish(),
        }
    }
}

/// Builds the sender the configuration selects, after validating it.
pub fn build_sms_sender(config: &SmsConfig) -> Result<Arc<dyn SmsSender>, NotifyError> {
    config
        .validate()
        .map_err(|(key, message)| NotifyError::InvalidConfig { key, message })?;
    Ok(match config {
        SmsConfig::Twilio {
            account_sid,
            auth_token,
            from,
            api_base,
        } => {
            let base = api_base.as_deref().unwrap_or(DEFAULT_TWILIO_API_BASE);
            Arc::new(TwilioSender {
                client: http_client(TWILIO_TIMEOUT)?,
                url: format!(
                    "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                    base.trim_end_matches('/')
                ),
                account_sid: account_sid.clone(),
                auth_token: auth_token.clone(),
                from: from.clone(),
            })
        }
        SmsConfig::Webhook {
            url,
            bearer_token,
            timeout_seconds,
        } => Arc::new(WebhookSender {
            client: http_client(Duration::from_secs(*timeout_seconds))?,
            url: parse_http_url(url).map_err(|message| NotifyError::InvalidConfig {
                key: "url",
                message,
            })?,
            bearer_token: bearer_token.clone(),
        }),
        SmsConfig::File { path } => Arc::new(FileSender { path: path.clone() }),
        SmsConfig::AwsSns {
            region,
            access_key_id,
            secret_access_key,
            session_token,
            endpoint,
            timeout_seconds,
        } => {
            let endpoint = endpoint
                .clone()
                .unwrap_or_else(|| super::sns::default_endpoint(region));
            Arc::new(SnsSender {
                client: http_client(Duration::from_secs(*timeout_seconds))?,
                url: parse_http_url(&endpoint).map_err(|message| NotifyError::InvalidConfig {
                    key: "endpoint",
                    message,
                })?,
                region: region.clone(),
                credentials: super::sns::resolve_credentials(
                    access_key_id.as_deref(),
                    secret_access_key.as_deref(),
                    session_token.as_deref(),
                )?,
            })
        }
        SmsConfig::Smpp {
            host,
            port,
            system_id,
            password,
            system_type,
            source_address,
            source_ton,
            source_npi,
            tls,
            timeout_seconds,
        } => {
            let tls = if *tls {
                let name = rustls_server_name(host).map_err(|_| NotifyError::InvalidConfig {
                    key: "host",
                    message: "is not a name a TLS certificate can carry".into(),
                })?;
                Some((super::smpp::tls_connector()?, name))
            } else {
                None
            };
            Arc::new(SmppSender {
                host: host.clone(),
                port: *port,
                system_id: system_id.clone(),
                password: password.clone(),
                system_type: system_type.clone(),
                source_address: source_address.clone(),
                source_ton: *source_ton,
                source_npi: *source_npi,
                tls,
                timeout: Duration::from_secs(*timeout_seconds),
            })
        }
    })
}

fn rustls_server_name(
    host: &str,
) -> Result<tokio_rustls::rustls::pki_types::ServerName<'static>, ()> {
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| ())
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic())
}

/// SMPP's C-octet strings carry ASCII; `max` excludes the terminating NUL.
fn check_smpp_text(
    key: &'static str,
    text: &str,
    min: usize,
    max: usize,
) -> Result<(), (&'static str, String)> {
    if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err((key, "must be printable ASCII".into()));
    }
    if text.len() < min || text.len() > max {
        let what = if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be 1 to {max} characters")
        };
        return Err((key, what));
    }
    Ok(())
}

/// Twilio's Messages API.
struct TwilioSender {
    client: reqwest::Client,
    url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

#[async_trait]
impl SmsSender for TwilioSender {
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        check_e164(to_e164)?;
        let sent = self
            .client
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&[("To", to_e164), ("From", &self.from), ("Body", message)])
            .send()
            .await;
        let result = match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                log_twilio_error(status, response).await;
                Err(NotifyError::Rejected { status })
            }
            Err(e) => Err(http_error(e)),
        };
        log_outcome(self.kind(), to_e164, &result);
        result
    }

    fn kind(&self) -> &'static str {
        "twilio"
    }
}

/// Logs Twilio's error code and documentation link: they say what to fix. Its `message` is left
/// out because it may quote the full phone number.
async fn log_twilio_error(status: u16, response: reqwest::Response) {
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    tracing::debug!(
        status,
        twilio_code = %body.get("code").unwrap_or(&serde_json::Value::Null),
        more_info = %body.get("more_info").and_then(|v| v.as_str()).unwrap_or(""),
        "twilio refused the message"
    );
}

/// A gateway of the operator's own.
struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    bearer_token: Option<String>,
}

#[derive(Serialize)]
struct WebhookPayload<'a> {
    to: &'a str,
    message: &'a str,
}

#[async_trait]
impl SmsSender for WebhookSender {
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        check_e164(to_e164)?;
        let mut request = self.client.post(self.url.clone()).json(&WebhookPayload {
            to: to_e164,
            message,
        });
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        // The response body is not read: a gateway might echo the message back.
        let result = match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(NotifyError::Rejected {
                status: response.status().as_u16(),
            }),
            Err(e) => Err(http_error(e)),
        };
        log_outcome(self.kind(), to_e164, &result);
        result
    }

    fn kind(&self) -> &'static str {
        "webhook"
    }
}

/// The development sink: appends `{"to":…,"message":…,"at":unix_seconds}` lines to a file.
///
/// The server and the PAM module may write at the same time, so each line goes out in one
/// `write` on a file opened with `O_APPEND`, which the kernel does not interleave.
struct FileSender {
    path: PathBuf,
}

#[derive(Serialize)]
struct FileLine<'a> {
    to: &'a str,
    message: &'a str,
    at: u64,
}

#[async_trait]
impl SmsSender for FileSender {
    #[allow(clippy::disallowed_methods)] // a wall-clock stamp for the log line, not a rule
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        check_e164(to_e164)?;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut line = serde_json::to_vec(&FileLine {
            to: to_e164,
            message,
            at,
        })
        .map_err(|e| NotifyError::Transport(format!("encoding the line: {e}")))?;
        line.push(b'\n');
        let path = self.path.clone();
        let result = tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .map_err(|e| NotifyError::Transport(format!("file writer task failed: {e}")))
            .and_then(|written| {
                written.map_err(|e| {
                    NotifyError::Transport(format!("writing {}: {e}", self.path.display()))
                })
            });
        log_outcome(self.kind(), to_e164, &result);
        result
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}

fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        // Codes are secrets even in development; only the owner may read them.
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // One call, not `write_all`: a retried remainder could land after another writer's line.
    let written = file.write(line)?;
    if written != line.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("short write ({written} of {} bytes)", line.len()),
        ));
    }
    Ok(())
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, NotifyError> {
    reqwest::Client::builder()
        .timeout(timeout)
        // A redirect would turn the POST into a GET or carry credentials elsewhere; report it
        // as the refusal it is instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("stepgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Transport(format!("building the HTTP client: {e}")))
}

/// reqwest's message omits the cause ("connection refused", "timed out") and includes the URL,
/// which may carry a token in its query; keep the cause, drop the URL.
pub(super) fn http_error(e: reqwest::Error) -> NotifyError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timeout && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    NotifyError::Transport(text)
}

/// Providers answer a malformed number with an opaque error; catch it here with a clear one.
pub(super) fn check_e164(to: &str) -> Result<(), NotifyError> {
    let digits = to.strip_prefix('+').unwrap_or("");
    let ok = (7..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(NotifyError::InvalidAddress(format!(
            "{}: not an E.164 phone number like +447700900123",
            mask_destination(to)
        )))
    }
}

pub(super) fn log_outcome(kind: &'static str, to: &str, result: &Result<(), NotifyError>) {
    let to = mask_destination(to);
    match result {
        Ok(()) => tracing::debug!(kind, to = %to, outcome = "sent", "sms"),
        Err(e) => tracing::debug!(kind, to = %to, outcome = %e, "sms"),
    }
}

fn parse_http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err("must be an http:// or https:// URL".into()),
    }
}

/// Webhook URLs often carry a token in the query or the user-info part.
fn redact_url(text: &str) -> String {
    match reqwest::Url::parse(text) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("redacted"));
            }
            if url.query().is_some() {
                url.set_query(Some("redacted"));
            }
            url.to_string()
        }
        Err(_) => "<not a URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<SmsConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn kinds_parse_with_defaults() {
        let c = config("kind = \"webhook\"\nurl = \"https://gw.example/sms\"\n").unwrap();
        match &c {
            SmsConfig::Webhook {
                timeout_seconds,
                bearer_token,
                ..
            } => assert_eq!((*timeout_seconds, bearer_token.as_deref()), (10, None)),
            other => panic!("{other:?}"),
        }
        assert!(c.validate().is_ok());
        let c = config("kind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15005550006\"\n")
            .unwrap();
        assert!(matches!(&c, SmsConfig::Twilio { api_base: None, .. }));
        assert!(c.validate().is_ok());
        let c = config("kind = \"file\"\npath = \"sms.log\"\n").unwrap();
        assert!(matches!(c, SmsConfig::File { .. }));
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused() {
        let e = config("kind = \"file\"\npath = \"x\"\nurl = \"y\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `url`"), "{e}");
        let e = config("kind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\ntoken = \"x\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `token`"), "{e}");
        let e = config("kind = \"pigeon\"\n").unwrap_err();
        assert!(e.to_string().contains("pigeon"), "{e}");
        assert!(config("path = \"x\"\n").is_err());
    }

    #[test]
    fn validation_names_the_key() {
        let key = |text: &str| config(text).unwrap().validate().unwrap_err().0;
        assert_eq!(
            key("kind = \"twilio\"\naccount_sid = \"AC1/../x\"\nauth_token = \"t\"\nfrom = \"+1\"\n"),
            "account_sid"
        );
        assert_eq!(
            key("kind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+1\"\napi_base = \"ftp://x\"\n"),
            "api_base"
        );
        assert_eq!(key("kind = \"webhook\"\nurl = \"not a url\"\n"), "url");
        assert_eq!(
            key("kind = \"webhook\"\nurl = \"http://x\"\nbearer_token = \"a b\"\n"),
            "bearer_token"
        );
        assert_eq!(
            key("kind = \"webhook\"\nurl = \"http://x\"\ntimeout_seconds = 0\n"),
            "timeout_seconds"
        );
        assert_eq!(key("kind = \"file\"\npath = \"\"\n"), "path");
    }

    #[test]
    fn debug_hides_tokens() {
        let c = config("kind = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"tok-secret\"\nfrom = \"+1\"\n")
            .unwrap();
        assert!(!format!("{c:?}").contains("tok-secret"));
        let c = config(
            "kind = \"webhook\"\nurl = \"https://u:pw-secret@gw.example/sms?key=q-secret\"\nbearer_token = \"b-secret\"\n",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("gw.example/sms"), "{shown}");
    }

    #[test]
    fn e164_is_checked() {
        assert!(check_e164("+447700900123").is_ok());
        for bad in ["447700900123", "+44 7700 900123", "+0123456789", "+12", ""] {
            assert!(
                matches!(check_e164(bad), Err(NotifyError::InvalidAddress(_))),
                "{bad}"
            );
        }
    }
}
