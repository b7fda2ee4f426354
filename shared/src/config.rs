//! `stepgate.toml`: one file read by `stepgate serve`, the admin CLI and the PAM module.
//!
//! Every section denies unknown keys, so a typo fails start-up with the key's name instead of
//! being silently ignored. `STEPGATE_SECTION__KEY` environment variables override the file
//! (values are read as TOML when they parse, e.g. `true`, `30`, `["TOTP"]`, else as strings).
//! Relative paths are resolved against the config file's folder, so the server and the PAM
//! module (whose working directory is someone else's) agree on where the data lives.

use crate::error::Error;
use crate::notify::{SmsConfig, SmtpConfig};
use crate::password::PasswordParams;
use crate::providers::ProviderType;
use crate::settings::{
    EnforcedUsersFilter, LockoutLimit, ProviderConfig, TwoFaSettings, DEFAULT_CODES_QUANTITY,
    DEFAULT_CODE_LIFETIME, DEFAULT_ISSUER, DEFAULT_SMS_TEMPLATE,
};
use crate::time::Seconds;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A configuration problem, naming the key (`section.key`) to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration {source_name}: {key}: {message}")]
pub struct ConfigError {
    /// The file's path or the environment variable the bad value came from.
    pub source_name: String,
    /// The `section.key` to fix.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// The whole `stepgate.toml`. Every section has defaults (a missing file section is its
/// defaults), except the notifiers, whose absence switches their providers off.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the web server and its token lifetimes.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[database]`: where every counter and factor lives, shared by all processes.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// `[secrets]`: the sealing key's file.
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// `[password]`: argon2id's cost.
    #[serde(default)]
    pub password: PasswordParams,
    /// `[smtp]`: without it there are no email codes and no notices.
    pub smtp: Option<SmtpConfig>,
    /// `[sms]`: without it there are no SMS codes.
    pub sms: Option<SmsConfig>,
    /// `[audit]`: how long events are kept.
    #[serde(default)]
    pub audit: AuditConfig,
    /// `[twofa]`: the platform settings' defaults and the operator-only settings.
    #[serde(default)]
    pub twofa: TwofaConfig,
    /// `[account]`: the rules for a user's own changes.
    #[serde(default)]
    pub account: AccountConfig,
    /// `[branding]`: the pages' name and logo.
    #[serde(default)]
    pub branding: BrandingConfig,
}

/// The `[branding]` section: the name and logo in the pages' brand area.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandingConfig {
    /// Shown in every page's brand area and title.
    pub name: String,
    /// An image file (PNG, JPEG, GIF, WebP or SVG) the server reads at start and serves at
    /// `/branding/logo`.
    pub logo: Option<PathBuf>,
}

impl Default for BrandingConfig {
    fn default() -> Self {
        BrandingConfig {
            name: "Stepgate".into(),
            logo: None,
        }
    }
}

/// The largest logo file accepted (it is kept in memory and sent with every page view).
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

impl BrandingConfig {
    /// Reads the logo file: its content type and bytes, or why it cannot be served.
    pub fn read_logo(&self) -> Result<Option<(&'static str, Vec<u8>)>, String> {
        let Some(path) = &self.logo else {
            return Ok(None);
        };
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(format!(
                "{} is {} bytes; a logo may have at most {MAX_LOGO_BYTES}",
                path.display(),
                bytes.len()
            ));
        }
        match logo_type(&bytes) {
            Some(t) => Ok(Some((t, bytes))),
            None => Err(format!(
                "{} is not a PNG, JPEG, GIF, WebP or SVG image",
                path.display()
            )),
        }
    }
}

/// The content type of an image by its first bytes (not by its file name).
pub fn logo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Some("image/gif");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    let head = std::str::from_utf8(&bytes[..bytes.len().min(1024)]).ok()?;
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if (head.starts_with("<?xml") || head.starts_with("<svg") || head.starts_with("<!--"))
        && head.contains("<svg")
    {
        return Some("image/svg+xml");
    }
    None
}

/// The `[account]` section: what a user's own changes need.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountConfig {
    /// Seconds after a sign-in (password and, when the user has one, a second factor) during
    /// which the user may add, replace or remove a factor, regenerate backup codes or change
    /// the password without proving themselves again. Short, because a session that is left
    /// open in a borrowed browser must not be enough to plant a factor.
    pub reauth_seconds: u32,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            reauth_seconds: 300,
        }
    }
}

/// The `[server]` section: where `stepgate serve` listens, who it says it is, and how long
/// what it hands out stays valid.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Socket address `stepgate serve` listens on.
    pub listen: String,
    /// The OpenID Connect issuer URL, exactly as clients see it.
    pub issuer: String,
    /// Seconds an access token (a JWT, RFC 9068) is valid.
    pub access_token_lifetime: u32,
    /// Seconds an ID token is valid.
    pub id_token_lifetime: u32,
    /// Seconds a refresh-token family lives from the login that started it (rotation does not
    /// extend it).
    pub refresh_token_lifetime: u32,
    /// Seconds a browser session (single sign-on) lasts after the login that created it.
    pub session_lifetime: u32,
    /// Seconds a rotated-out signing key stays in the JWKS so tokens it signed still verify.
    pub retired_key_lifetime: u32,
    /// Seconds a device authorization (RFC 8628) waits for its user to approve it on /device.
    pub device_code_lifetime: u32,
    /// PEM certificate chain: with `tls_key`, `stepgate serve` speaks HTTPS itself (re-read on
    /// SIGHUP), for a fleet without a reverse proxy in front.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Peers (IPs or CIDRs) whose `Forwarded` / `X-Forwarded-For` name the caller; anyone
    /// else's are ignored, since a client can send whatever it likes.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            issuer: "http://127.0.0.1:8080".into(),
            access_token_lifetime: 600,
            id_token_lifetime: 600,
            refresh_token_lifetime: 30 * 24 * 3600,
            session_lifetime: 8 * 3600,
            retired_key_lifetime: 24 * 3600,
            device_code_lifetime: 600,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The `[database]` section: one database for the server and every PAM process, so they
/// enforce one policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (embedded, the default) or `postgres://…`.
    pub url: String,
    /// The server's pool size; bounds its load on a shared PostgreSQL.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up (a PAM login waits this long when
    /// the database is down).
    pub connect_timeout_seconds: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/stepgate.db".into(),
            max_connections: 8,
            connect_timeout_seconds: 5,
        }
    }
}

/// The `[secrets]` section: where the sealing key lives (apart from the database, so a
/// stolen database alone opens no TOTP secret).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The key that encrypts TOTP secrets and keys code hashes; created 0600 on first use.
    pub key_file: PathBuf,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            key_file: "data/secrets.key".into(),
        }
    }
}

/// The `[audit]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Days an audit event is kept; older ones are deleted by `stepgate serve`. The default
    /// (400) keeps more than a year, so a yearly review still finds last year's events.
    pub retain_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { retain_days: 400 }
    }
}

/// The `[twofa]` section: the defaults of the platform settings (snake_case here; the admin API
/// uses ThingsBoard's camelCase names), and the few settings only an operator changes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwofaConfig {
    /// The providers on by default; one needing a notifier also needs its section.
    pub providers: Vec<ProviderType>,
    /// See [`ProviderConfig::Totp`].
    pub totp_issuer_name: String,
    /// See [`ProviderConfig::Sms`]; must contain `${code}`.
    pub sms_verification_message_template: String,
    /// How long an SMS code stays valid (seconds).
    pub sms_verification_code_lifetime: Seconds,
    /// How long an email code stays valid (seconds).
    pub email_verification_code_lifetime: Seconds,
    /// Backup codes per new set.
    pub backup_codes_quantity: u32,
    /// See [`TwoFaSettings::min_verification_code_send_period`].
    pub min_verification_code_send_period: Seconds,
    /// `"off"` or `"N:S"`.
    pub verification_code_check_rate_limit: String,
    /// Failed checks in a row that lock the account; 0 never locks.
    pub max_verification_failures_before_user_lockout: LockoutLimit,
    /// See [`TwoFaSettings::total_allowed_time_for_verification`].
    pub total_allowed_time_for_verification: Seconds,
    /// See [`TwoFaSettings::enforce_two_fa`].
    pub enforce_two_fa: bool,
    /// `"all"` or `"admins"`.
    pub enforced_users: String,
    /// Who is emailed when an account is locked by failed second-factor checks.
    pub lockout_notification_email: Option<String>,
    /// Email users when one of their second factors is turned off.
    pub notify_user_on_provider_removal: bool,
    /// Email users when a second factor is added or backup codes are regenerated.
    pub notify_user_on_provider_added: bool,
    /// Passkeys: the relying-party id (empty: the issuer's host).
    pub webauthn_rp_id: String,
    /// The name authenticators show for the site.
    pub webauthn_rp_name: String,
    /// `"required"` or `"preferred"`.
    pub webauthn_user_verification: String,
    /// A discoverable passkey with user verification signs in without a password.
    pub webauthn_passwordless: bool,
    /// Origins besides the issuer's that may use the passkeys.
    pub webauthn_extra_origins: Vec<String>,
}

impl Default for TwofaConfig {
    fn default() -> Self {
        let d = TwoFaSettings::default();
        TwofaConfig {
            providers: d.providers.iter().map(|p| p.provider_type()).collect(),
            totp_issuer_name: DEFAULT_ISSUER.into(),
            sms_verification_message_template: DEFAULT_SMS_TEMPLATE.into(),
            sms_verification_code_lifetime: DEFAULT_CODE_LIFETIME,
            email_verification_code_lifetime: DEFAULT_CODE_LIFETIME,
            backup_codes_quantity: DEFAULT_CODES_QUANTITY,
            min_verification_code_send_period: d.min_verification_code_send_period,
            verification_code_check_rate_limit: "off".into(),
            max_verification_failures_before_user_lockout: d
                .max_verification_failures_before_user_lockout,
            total_allowed_time_for_verification: d.total_allowed_time_for_verification,
            // Secure by default, unlike ThingsBoard (off): a new installation makes every user,
            // the first administrator included, enrol a second factor before any session.
            enforce_two_fa: true,
            enforced_users: "all".into(),
            lockout_notification_email: None,
            notify_user_on_provider_removal: true,
            notify_user_on_provider_added: true,
            webauthn_rp_id: String::new(),
            webauthn_rp_name: DEFAULT_ISSUER.into(),
            webauthn_user_verification: "required".into(),
            webauthn_passwordless: true,
            webauthn_extra_origins: Vec::new(),
        }
    }
}

impl TwofaConfig {
    /// The platform settings these defaults describe.
    pub fn to_settings(&self) -> Result<TwoFaSettings, (String, String)> {
        let mut providers: Vec<ProviderType> = Vec::new();
        for p in &self.providers {
            if providers.contains(p) {
                return Err(("twofa.providers".into(), format!("{p} is listed twice")));
            }
            providers.push(*p);
        }
        let providers = providers
            .into_iter()
            .map(|p| match p {
                ProviderType::Totp => Ok(ProviderConfig::Totp {
                    issuer_name: self.totp_issuer_name.clone(),
                }),
                ProviderType::Sms => Ok(ProviderConfig::Sms {
                    sms_verification_message_template: self
                        .sms_verification_message_template
                        .clone(),
                    verification_code_lifetime: self.sms_verification_code_lifetime,
                }),
                ProviderType::Email => Ok(ProviderConfig::Email {
                    verification_code_lifetime: self.email_verification_code_lifetime,
                }),
                ProviderType::BackupCode => Ok(ProviderConfig::BackupCode {
                    codes_quantity: self.backup_codes_quantity,
                }),
                ProviderType::Webauthn => Ok(ProviderConfig::Webauthn(
                    crate::settings::WebauthnSettings {
                        relying_party_id: self.webauthn_rp_id.clone(),
                        relying_party_name: self.webauthn_rp_name.clone(),
                        user_verification: match self.webauthn_user_verification.as_str() {
                            "required" => crate::settings::UserVerification::Required,
                            "preferred" => crate::settings::UserVerification::Preferred,
                            other => {
                                return Err((
                                    "twofa.webauthn_user_verification".to_string(),
                                    format!("{other:?} is neither \"required\" nor \"preferred\""),
                                ))
                            }
                        },
                        attestation: "none".into(),
                        passwordless: self.webauthn_passwordless,
                        extra_origins: self.webauthn_extra_origins.clone(),
                    },
                )),
            })
            .collect::<Result<Vec<_>, (String, String)>>()?;
        let rate_limit = match self.verification_code_check_rate_limit.trim() {
            "" | "off" => None,
            "on" => Some(crate::settings::DEFAULT_RATE_LIMIT_WHEN_ON),
            other => Some(other),
        }
        .map(crate::settings::RateLimit::parse)
        .transpose()
        .map_err(|m| {
            (
                "twofa.verification_code_check_rate_limit".to_string(),
                m.to_string(),
            )
        })?;
        let enforced_users_filter = match self.enforced_users.as_str() {
            "all" => EnforcedUsersFilter::All,
            "admins" => EnforcedUsersFilter::Admins,
            other => {
                return Err((
                    "twofa.enforced_users".into(),
                    format!("{other:?} is neither \"all\" nor \"admins\""),
                ))
            }
        };
        let settings = TwoFaSettings {
            providers,
            min_verification_code_send_period: self.min_verification_code_send_period,
            verification_code_check_rate_limit: rate_limit,
            max_verification_failures_before_user_lockout: self
                .max_verification_failures_before_user_lockout,
            total_allowed_time_for_verification: self.total_allowed_time_for_verification,
            enforce_two_fa: self.enforce_two_fa,
            enforced_users_filter,
        };
        settings.validate().map_err(|e| match e {
            Error::Invalid { field, message, .. } => (toml_key_for(&field), message),
            other => ("twofa".into(), other.to_string()),
        })?;
        Ok(settings)
    }
}

/// Maps a settings field (API spelling) to the `[twofa]` key that sets its default.
fn toml_key_for(field: &str) -> String {
    let key = match field.rsplit('.').next().unwrap_or(field) {
        "issuerName" => "totp_issuer_name",
        "smsVerificationMessageTemplate" => "sms_verification_message_template",
        "verificationCodeLifetime" if field.contains("SMS") => "sms_verification_code_lifetime",
        "verificationCodeLifetime" => "sms_or_email_verification_code_lifetime",
        "codesQuantity" => "backup_codes_quantity",
        "minVerificationCodeSendPeriod" => "min_verification_code_send_period",
        "verificationCodeCheckRateLimit" => "verification_code_check_rate_limit",
        "maxVerificationFailuresBeforeUserLockout" => {
            "max_verification_failures_before_user_lockout"
        }
        "totalAllowedTimeForVerification" => "total_allowed_time_for_verification",
        "relyingPartyId" => "webauthn_rp_id",
        "relyingPartyName" => "webauthn_rp_name",
        f if f.starts_with("extraOrigins") => "webauthn_extra_origins",
        _ => "providers",
    };
    format!("twofa.{key}")
}

impl Config {
    /// Reads `path` with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            key: "-".into(),
            message: format!("cannot read the file: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(
            &text,
            &path.display().to_string(),
            std::env::vars(),
            Some(base),
        )
    }

    /// Parses TOML text plus `STEPGATE_SECTION__KEY` overrides; paths are made absolute
    /// against `base_dir` when given.
    pub fn parse(
        text: &str,
        source_name: &str,
        env: impl IntoIterator<Item = (String, String)>,
        base_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            source_name: source_name.to_string(),
            key: key.to_string(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err("-", format!("not valid TOML: {}", e.message())))?;
        // Overrides read as a number, bool or array; if the key wants a string (a numeric
        // password, say) it is retried as the string it was.
        let mut typed_overrides: Vec<(String, String)> = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("STEPGATE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .filter(|v| !v.is_str())
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            if !parsed.is_str() {
                typed_overrides.push((format!("{section}.{key}"), value));
            }
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => {
                    t.insert(key, parsed);
                }
                _ => {
                    return Err(err(
                        &section,
                        format!("{name} overrides a key of {section}, which is not a section"),
                    ))
                }
            }
        }
        let mut config: Config = loop {
            match serde_path_to_error::deserialize::<_, Config>(toml::Value::Table(table.clone())) {
                Ok(c) => break c,
                Err(e) => {
                    let path = e.path().to_string();
                    if let Some(i) = typed_overrides.iter().position(|(k, _)| *k == path) {
                        let (k, v) = typed_overrides.remove(i);
                        if let Some((section, key)) = k.split_once('.') {
                            if let Some(toml::Value::Table(t)) = table.get_mut(section) {
                                t.insert(key.to_string(), toml::Value::String(v));
                                continue;
                            }
                        }
                    }
                    let inner = e.into_inner().to_string();
                    // The path already ends with an unknown key's own name.
                    let key = match unknown_field(&inner) {
                        Some(f) if path == "." || path.is_empty() => f.to_string(),
                        _ => path,
                    };
                    return Err(err(&key, inner));
                }
            }
        };
        if let Some(base) = base_dir {
            config.resolve_paths(base);
        }
        config
            .validate()
            .map_err(|(key, message)| err(&key, message))?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        self.secrets.key_file = abs(&self.secrets.key_file);
        for p in [&mut self.server.tls_cert, &mut self.server.tls_key]
            .into_iter()
            .flatten()
        {
            *p = abs(p);
        }
        if let Some(SmsConfig::File { path }) = &mut self.sms {
            *path = abs(path);
        }
        if let Some(p) = &mut self.branding.logo {
            *p = abs(p);
        }
        if let Some(rest) = self.database.url.strip_prefix("sqlite://") {
            let (file, query) = rest
                .split_once('?')
                .map_or((rest, None), |(f, q)| (f, Some(q)));
            if !file.is_empty() && file != ":memory:" && !Path::new(file).is_absolute() {
                let joined = abs(Path::new(file));
                self.database.url = match query {
                    Some(q) => format!("sqlite://{}?{q}", joined.display()),
                    None => format!("sqlite://{}", joined.display()),
                };
            }
        }
    }

    /// Checks what serde cannot: value ranges and the keys that depend on each other.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err((
                "database.url".into(),
                format!("{url:?} must start with sqlite:// or postgres://"),
            ));
        }
        if !(1..=300).contains(&self.database.connect_timeout_seconds) {
            return Err((
                "database.connect_timeout_seconds".into(),
                "must be between 1 and 300".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err((
                "database.max_connections".into(),
                "must be at least 1".into(),
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "server.listen".into(),
                format!(
                    "{:?} is not an address like 127.0.0.1:8080",
                    self.server.listen
                ),
            ));
        }
        if !(self.server.issuer.starts_with("https://")
            || self.server.issuer.starts_with("http://"))
        {
            return Err((
                "server.issuer".into(),
                "must be an http:// or https:// URL".into(),
            ));
        }
        match (&self.server.tls_cert, &self.server.tls_key) {
            (Some(_), None) => {
                return Err((
                    "server.tls_key".into(),
                    "is missing: server.tls_cert needs its private key".into(),
                ))
            }
            (None, Some(_)) => {
                return Err((
                    "server.tls_cert".into(),
                    "is missing: server.tls_key needs its certificate".into(),
                ))
            }
            _ => {}
        }
        if !(30..=86_400).contains(&self.account.reauth_seconds) {
            return Err((
                "account.reauth_seconds".into(),
                "must be between 30 and 86400".into(),
            ));
        }
        if !(1..=36_500).contains(&self.audit.retain_days) {
            return Err((
                "audit.retain_days".into(),
                "must be between 1 and 36500 (days)".into(),
            ));
        }
        self.password
            .validate()
            .map_err(|m| ("password".to_string(), m))?;
        if let Some(smtp) = &self.smtp {
            smtp.validate().map_err(|(k, m)| (format!("smtp.{k}"), m))?;
        }
        if let Some(sms) = &self.sms {
            sms.validate().map_err(|(k, m)| (format!("sms.{k}"), m))?;
        }
        let name = self.branding.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err((
                "branding.name".into(),
                "must be between 1 and 64 characters".into(),
            ));
        }
        self.branding
            .read_logo()
            .map_err(|m| ("branding.logo".to_string(), m))?;
        let settings = self.twofa.to_settings()?;
        check_senders(&settings, self.smtp.is_some(), self.sms.is_some())
            .map_err(|m| ("twofa.providers".to_string(), m.to_string()))?;
        if let Some(w) = settings.webauthn() {
            // WebAuthn needs a domain name (an IP address is no rp id) that the issuer is on.
            crate::passkeys::relying_party(&self.server.issuer, w).map_err(|e| match e {
                Error::Invalid { field, message, .. } if field.starts_with("extraOrigins") => {
                    ("twofa.webauthn_extra_origins".to_string(), message)
                }
                e => ("twofa.webauthn_rp_id".to_string(), e.to_string()),
            })?;
        }
        if let Some(addr) = &self.twofa.lockout_notification_email {
            crate::codes::validate_email(addr).map_err(|m| {
                (
                    "twofa.lockout_notification_email".to_string(),
                    m.to_string(),
                )
            })?;
        }
        Ok(())
    }

    /// The platform settings to use until an administrator saves others.
    pub fn default_settings(&self) -> TwoFaSettings {
        self.twofa.to_settings().unwrap_or_default()
    }
}

/// EMAIL and SMS can only be offered when something can deliver their codes.
pub fn check_senders(
    settings: &TwoFaSettings,
    mail: bool,
    sms: bool,
) -> Result<(), crate::words::Words> {
    if settings.is_available(ProviderType::Email) && !mail {
        return Err(crate::words::SETTINGS_NO_MAIL);
    }
    if settings.is_available(ProviderType::Sms) && !sms {
        return Err(crate::words::SETTINGS_NO_SMS);
    }
    Ok(())
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            "test.toml",
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            Some(Path::new("/etc/stepgate")),
        )
    }

    #[test]
    fn empty_file_gives_working_defaults() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.database.url, "sqlite:///etc/stepgate/data/stepgate.db");
        assert_eq!(
            c.secrets.key_file,
            Path::new("/etc/stepgate/data/secrets.key")
        );
        assert_eq!(c.default_settings(), TwoFaSettings::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("[server]\nlsten = \"x\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.lsten", "{e}");
        let e = parse("[sever]\nlisten = \"x\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "sever", "{e}");
        let e = parse("[twofa]\nmax_failures = 3\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.max_failures", "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("[twofa]\nmin_verification_code_send_period = 2\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.min_verification_code_send_period");
        let e = parse("[twofa]\ntotal_allowed_time_for_verification = 10\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.total_allowed_time_for_verification");
        let e = parse(
            "[twofa]\nverification_code_check_rate_limit = \"3/900\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "twofa.verification_code_check_rate_limit");
        let e = parse("[twofa]\nenforced_users = \"some\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.enforced_users");
        let e = parse("[database]\nurl = \"mysql://x\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "database.url");
        let e = parse("[server]\nlisten = \"nowhere\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.listen");
        let e = parse("[server]\ntls_cert = \"c.pem\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.tls_key", "the missing one is named: {e}");
        let e = parse("[server]\ntls_key = \"k.pem\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "server.tls_cert", "{e}");
        let e = parse("[audit]\nretain_days = 0\n", &[]).unwrap_err();
        assert_eq!(e.key, "audit.retain_days", "{e}");
        let e = parse("[audit]\nretain_days = \"forever\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "audit.retain_days", "{e}");
        let e = parse("[audit]\nretain = 30\n", &[]).unwrap_err();
        assert_eq!(e.key, "audit.retain", "{e}");
        assert_eq!(parse("", &[]).unwrap().audit.retain_days, 400);
        assert_eq!(
            parse("[audit]\nretain_days = 30\n", &[])
                .unwrap()
                .audit
                .retain_days,
            30
        );
        let e = parse("[twofa]\nmin_verification_code_send_period = \"x\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.min_verification_code_send_period", "{e}");
    }

    #[test]
    fn passkeys_need_a_relying_party_that_fits_the_issuer() {
        let on = "[twofa]\nproviders = [\"TOTP\", \"WEBAUTHN\"]\n";
        // The default issuer is an IP address, which WebAuthn cannot use.
        let e = parse(on, &[]).unwrap_err();
        assert_eq!(e.key, "twofa.webauthn_rp_id", "{e}");
        assert!(e.message.contains("IP address"), "{e}");
        let at = |issuer: &str, extra: &str| {
            parse(
                &format!("[server]\nissuer = \"{issuer}\"\n{on}{extra}"),
                &[],
            )
        };
        assert!(at("https://login.example.com", "").is_ok());
        assert!(at(
            "https://login.example.com",
            "webauthn_rp_id = \"example.com\"\n"
        )
        .is_ok());
        let e = at(
            "https://login.example.com",
            "webauthn_rp_id = \"example.org\"\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "twofa.webauthn_rp_id", "{e}");
        let e = at(
            "https://login.example.com",
            "webauthn_rp_id = \"example.com\"\nwebauthn_extra_origins = [\"https://sso.example.org\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.key, "twofa.webauthn_extra_origins", "{e}");
        assert!(at(
            "https://login.example.com",
            "webauthn_rp_id = \"example.com\"\nwebauthn_extra_origins = [\"https://sso.example.com\"]\n",
        )
        .is_ok());
    }

    #[test]
    fn email_and_sms_need_a_sender() {
        let e = parse("[twofa]\nproviders = [\"TOTP\", \"EMAIL\"]\n", &[]).unwrap_err();
        assert_eq!(e.key, "twofa.providers");
        assert!(e.message.contains("Mail service is not set up"), "{e}");
        let e = parse("[twofa]\nproviders = [\"SMS\"]\n", &[]).unwrap_err();
        assert!(e.message.contains("SMS service is not configured"), "{e}");
        let ok = parse(
            "[twofa]\nproviders = [\"SMS\"]\n[sms]\nkind = \"file\"\npath = \"sms.log\"\n",
            &[],
        )
        .unwrap();
        assert!(ok.default_settings().is_available(ProviderType::Sms));
        match ok.sms {
            Some(SmsConfig::File { path }) => {
                assert_eq!(path, Path::new("/etc/stepgate/sms.log"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn branding_has_a_default_name_and_a_checked_logo() {
        let c = parse("", &[]).unwrap();
        assert_eq!(c.branding.name, "Stepgate");
        assert!(c.branding.logo.is_none());
        let e = parse("[branding]\nnmae = \"Acme\"\n", &[]).unwrap_err();
        assert_eq!(e.key, "branding.nmae", "{e}");
        let e = parse("[branding]\nname = \"  \"\n", &[]).unwrap_err();
        assert_eq!(e.key, "branding.name", "{e}");

        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).display().to_string();
        // Missing file: the key is named, with the path.
        let e = parse(&format!("[branding]\nlogo = {:?}\n", at("nope.png")), &[]).unwrap_err();
        assert_eq!(e.key, "branding.logo", "{e}");
        assert!(e.message.contains("nope.png"), "{e}");
        // Not an image.
        std::fs::write(dir.path().join("logo.png"), b"hello").unwrap();
        let e = parse(&format!("[branding]\nlogo = {:?}\n", at("logo.png")), &[]).unwrap_err();
        assert_eq!(e.key, "branding.logo", "{e}");
        assert!(e.message.contains("not a PNG"), "{e}");
        // Too large.
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        std::fs::write(dir.path().join("big.png"), &big).unwrap();
        let e = parse(&format!("[branding]\nlogo = {:?}\n", at("big.png")), &[]).unwrap_err();
        assert_eq!(e.key, "branding.logo", "{e}");
        // A real PNG header and an SVG pass, with their types; relative paths are the
        // config folder's.
        std::fs::write(dir.path().join("ok.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
        std::fs::write(
            dir.path().join("ok.svg"),
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        let c = Config::parse(
            "[branding]\nname = \"Acme\"\nlogo = \"ok.png\"\n",
            "test.toml",
            std::iter::empty(),
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(c.branding.name, "Acme");
        assert_eq!(
            c.branding.logo.as_deref(),
            Some(dir.path().join("ok.png").as_path())
        );
        assert_eq!(c.branding.read_logo().unwrap().unwrap().0, "image/png");
        let c = parse(&format!("[branding]\nlogo = {:?}\n", at("ok.svg")), &[]).unwrap();
        assert_eq!(c.branding.read_logo().unwrap().unwrap().0, "image/svg+xml");
        assert_eq!(logo_type(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(logo_type(b"GIF89a"), Some("image/gif"));
        assert_eq!(logo_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(logo_type(b"<html><script>"), None);
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = parse(
            "[twofa]\nmax_verification_failures_before_user_lockout = 5\n",
            &[
                (
                    "STEPGATE_TWOFA__MAX_VERIFICATION_FAILURES_BEFORE_USER_LOCKOUT",
                    "7",
                ),
                ("STEPGATE_TWOFA__VERIFICATION_CODE_CHECK_RATE_LIMIT", "on"),
                ("STEPGATE_DATABASE__URL", "postgres://u@127.0.0.1/db"),
                ("STEPGATE_ADMIN_PASSWORD", "not a config key"),
                ("STEPGATE_SMTP__HOST", "127.0.0.1"),
                ("STEPGATE_SMTP__FROM", "a@example.com"),
                ("STEPGATE_SMTP__USERNAME", "mailer"),
                ("STEPGATE_SMTP__PASSWORD", "123456"),
                ("HOME", "/root"),
            ],
        )
        .unwrap();
        let s = c.default_settings();
        assert_eq!(
            s.max_verification_failures_before_user_lockout.failures(),
            7
        );
        assert_eq!(
            s.verification_code_check_rate_limit.map(|r| r.to_string()),
            Some("3:900".to_string())
        );
        assert_eq!(c.database.url, "postgres://u@127.0.0.1/db");
        // A numeric password stays the string it was.
        assert_eq!(c.smtp.unwrap().password.as_deref(), Some("123456"));
        let e = parse("", &[("STEPGATE_NOPE__X", "1")]).unwrap_err();
        assert_eq!(e.key, "nope");
    }
}
