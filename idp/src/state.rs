//! What every handler shares: the core, the signing keys, the server settings, the metrics.

use crate::http::forwarded::TrustedProxies;
use crate::metrics::Metrics;
use crate::oidc::client_cache::ClientCache;
use crate::oidc::verified::VerifiedTokens;
use crate::store::keys::Keys;
use axum::body::Bytes;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use stepgate_core::Core;

/// A pending authorization request lives this long (the login, second factor included, must
/// finish within it; the core's own `totalAllowedTimeForVerification` still applies).
pub const AUTH_REQUEST_LIFETIME: i64 = 3600;
/// RFC 6749 §4.1.2 recommends at most 10 minutes; the issue asks for 60 seconds.
pub const CODE_LIFETIME: i64 = 60;
/// RFC 8628 §3.2's default: a device polls every 5 s (more on `slow_down`).
pub const DEVICE_POLL_INTERVAL: i64 = 5;

/// The `[server]` settings the provider uses, checked once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Exactly as configured: the `iss` of every token and the discovery document.
    pub issuer: String,
    /// The issuer without a trailing `/`, to build endpoint URLs.
    pub base_url: String,
    /// Cookies get `Secure` when the issuer is https.
    pub secure_cookies: bool,
    pub access_token_lifetime: i64,
    pub id_token_lifetime: i64,
    pub refresh_token_lifetime: i64,
    pub session_lifetime: i64,
    pub retired_key_lifetime: i64,
    pub device_code_lifetime: i64,
    /// Peers whose forwarding headers name the caller (see `http::ClientAddr`).
    pub trusted_proxies: TrustedProxies,
}

/// A configuration the provider cannot run with; names the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {message}")]
pub struct SettingsError {
    pub key: String,
    pub message: String,
}

const MAX_LIFETIME: u32 = 365 * 24 * 3600;

impl Settings {
    pub fn from_config(c: &stepgate_core::config::ServerConfig) -> Result<Settings, SettingsError> {
        let err = |key: &str, message: String| SettingsError {
            key: format!("server.{key}"),
            message,
        };
        let url = url::Url::parse(&c.issuer)
            .map_err(|e| err("issuer", format!("{:?} is not a URL: {e}", c.issuer)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(err("issuer", "must be an http:// or https:// URL".into()));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(err(
                "issuer",
                "must be a scheme and host (and port) only, like https://login.example.com; \
                 serve Stepgate at the root of its host"
                    .into(),
            ));
        }
        for (key, v) in [
            ("access_token_lifetime", c.access_token_lifetime),
            ("id_token_lifetime", c.id_token_lifetime),
            ("refresh_token_lifetime", c.refresh_token_lifetime),
            ("session_lifetime", c.session_lifetime),
            ("retired_key_lifetime", c.retired_key_lifetime),
            ("device_code_lifetime", c.device_code_lifetime),
        ] {
            if !(1..=MAX_LIFETIME).contains(&v) {
                return Err(err(
                    key,
                    format!("must be between 1 and {MAX_LIFETIME} seconds"),
                ));
            }
        }
        if c.retired_key_lifetime < c.access_token_lifetime.max(c.id_token_lifetime) {
            return Err(err(
                "retired_key_lifetime",
                "must be at least the access and ID token lifetimes, or tokens signed just \
                 before a rotation would stop verifying"
                    .into(),
            ));
        }
        let trusted_proxies = TrustedProxies::parse(&c.trusted_proxies).map_err(|bad| {
            err(
                "trusted_proxies",
                format!("{bad:?} is not an IP address or a CIDR like 10.0.0.0/8"),
            )
        })?;
        Ok(Settings {
            trusted_proxies,
            issuer: c.issuer.clone(),
            base_url: c.issuer.trim_end_matches('/').to_string(),
            secure_cookies: url.scheme() == "https",
            access_token_lifetime: c.access_token_lifetime.into(),
            id_token_lifetime: c.id_token_lifetime.into(),
            refresh_token_lifetime: c.refresh_token_lifetime.into(),
            session_lifetime: c.session_lifetime.into(),
            retired_key_lifetime: c.retired_key_lifetime.into(),
            device_code_lifetime: c.device_code_lifetime.into(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

pub struct Inner {
    pub core: Core,
    pub keys: Keys,
    pub settings: Settings,
    pub metrics: Metrics,
    /// The discovery document, serialized on first request.
    pub discovery: OnceLock<Result<Bytes, String>>,
    pub verified: VerifiedTokens,
    /// Clients as the token endpoints authenticate them (forget after changing one).
    pub clients: ClientCache,
    /// What `/readyz` answers: the last readiness probe's finding (see `app::probe_loop`), so
    /// that a load balancer polling it costs the database nothing.
    pub readiness: std::sync::Mutex<Result<(), &'static str>>,
    /// Registered hosts' request budgets (the host protocol).
    pub host_limits: crate::host_protocol::HostLimits,
    /// `[branding]`: the name and logo of every page's brand area.
    pub brand: Arc<crate::i18n::Brand>,
}

/// Cheap to clone; handlers receive it through axum's `State`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(core: Core, settings: Settings) -> AppState {
        let branding = &core.config().branding;
        let logo = match branding.read_logo() {
            Ok(logo) => logo.map(|(kind, bytes)| (kind, Bytes::from(bytes))),
            // Checked when the configuration was loaded; gone since then.
            Err(e) => {
                tracing::error!(error = %e, "branding.logo: not shown");
                None
            }
        };
        let brand = Arc::new(crate::i18n::Brand {
            name: branding.name.trim().to_string(),
            logo,
        });
        AppState(Arc::new(Inner {
            brand,
            keys: Keys::new(core.clone()),
            core,
            settings,
            metrics: Metrics::new(),
            discovery: OnceLock::new(),
            verified: VerifiedTokens::default(),
            clients: ClientCache::default(),
            readiness: std::sync::Mutex::new(Err("not checked yet")),
            host_limits: Default::default(),
        }))
    }

    pub fn now(&self) -> i64 {
        self.core.now()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
