//! Rendering the account page: what the platform offers, what the user enrolled, and the
//! one-shot parts (a TOTP QR code, a code prompt, fresh backup codes).

use super::gate::Viewer;
use crate::error::Error;
use crate::http::csrf;
use crate::i18n::{t, t_args};
use crate::state::AppState;
use crate::templates::render;
use crate::timefmt::minutes as format_time;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;
use stepgate_core::audit::{self, AuditFilter};
use stepgate_core::{Error as CoreError, ProviderType};

/// How many audit events the page lists.
const RECENT_EVENTS: u32 = 15;

/// A TOTP enrolment waiting for its first code.
#[derive(Serialize, Default, Clone)]
pub struct PendingTotp {
    pub secret: String,
    pub uri: String,
}

/// One rendering's transient state.
#[derive(Default)]
pub struct Extra {
    pub status: Option<StatusCode>,
    pub notice: Option<String>,
    /// Input id → message; the input points at it with `aria-describedby`.
    pub errors: BTreeMap<String, String>,
    pub totp: Option<PendingTotp>,
    /// SMS or EMAIL: a code was sent to this (masked) destination; ask for it.
    pub code_sent: Option<(ProviderType, String)>,
    pub backup_codes: Option<Vec<String>>,
    /// A sensitive change was refused for want of a fresh sign-in: ask for one (`true`: with
    /// a second factor).
    pub reauth: Option<bool>,
}

impl Extra {
    pub fn error(field: &str, message: impl Into<String>, status: StatusCode) -> Extra {
        let mut e = Extra {
            status: Some(status),
            ..Extra::default()
        };
        e.errors.insert(field.into(), message.into());
        e
    }
    pub fn notice(message: impl Into<String>) -> Extra {
        Extra {
            notice: Some(message.into()),
            ..Extra::default()
        }
    }
}

/// Puts a core refusal next to the right input: `fields` maps the core's field names to this
/// form's input ids, anything else goes to `default_field`. Failures of ours stay errors.
pub fn refusal(e: CoreError, default_field: &str, fields: &[(&str, &str)]) -> Result<Extra, Error> {
    let (field, status, message) = match e {
        CoreError::Invalid {
            field,
            message,
            words,
        } => {
            let id = fields
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, id)| *id)
                .unwrap_or(default_field);
            let message = crate::i18n::core_words(words, message);
            (id.to_string(), StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        CoreError::BadCredentials => (
            default_field.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            t("account-password-wrong"),
        ),
        CoreError::Refused(said) => (
            default_field.into(),
            StatusCode::CONFLICT,
            crate::i18n::said_in_words(&said),
        ),
        CoreError::RateLimited { retry_after } => (
            default_field.into(),
            StatusCode::TOO_MANY_REQUESTS,
            t_args("too-many-attempts-wait", &[("seconds", retry_after.into())]),
        ),
        CoreError::SendTooSoon { retry_after } => (
            default_field.into(),
            StatusCode::TOO_MANY_REQUESTS,
            t_args("code-sent-recently", &[("seconds", retry_after.into())]),
        ),
        CoreError::SendFailed(_) => (
            default_field.into(),
            StatusCode::BAD_GATEWAY,
            t("account-send-failed"),
        ),
        CoreError::ProviderUnavailable(p) => (
            default_field.into(),
            StatusCode::CONFLICT,
            t_args(
                "account-provider-unavailable",
                &[("name", crate::i18n::provider_name(p).into())],
            ),
        ),
        CoreError::Locked => (
            default_field.into(),
            StatusCode::FORBIDDEN,
            t("account-locked"),
        ),
        other => return Err(other.into()),
    };
    Ok(Extra::error(&field, message, status))
}

#[derive(Serialize)]
struct ProviderRow {
    id: &'static str,
    label: String,
    enrolled: bool,
    is_default: bool,
    destination: Option<String>,
    updated_at: Option<String>,
}

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    discoverable: bool,
    created_at: String,
    last_used_at: Option<String>,
}

#[derive(Serialize)]
struct EventRow {
    at: String,
    event: String,
    provider: Option<String>,
    source: String,
    remote_addr: Option<String>,
}

/// A server-rendered SVG QR code of `data` (no script, no external service).
pub fn qr_svg(data: &str) -> Option<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// The backup codes as a `data:` URL, so "Download (.txt)" needs no second request (the codes
/// are shown once and never stored in clear).
fn backup_download(codes: &[String]) -> String {
    let title = t_args(
        "account-codes-file",
        &[("brand", crate::i18n::brand().name.clone().into())],
    );
    let text = format!("{title}\r\n\r\n{}\r\n", codes.join("\r\n"));
    let enc: String = url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("data:text/plain;charset=utf-8,{enc}")
}

/// Renders the page for `viewer` with this rendering's `extra`.
pub async fn page(
    st: &AppState,
    jar: CookieJar,
    viewer: &Viewer,
    extra: Extra,
) -> Result<Response, Error> {
    let user = viewer.user();
    let settings = st.core.twofa_settings().await?;
    let usable = st.core.usable_providers(&user.id, &settings).await?;
    let providers: Vec<ProviderRow> = settings
        .providers
        .iter()
        .map(|c| c.provider_type())
        .map(|p| {
            let mine = usable.iter().find(|u| u.provider == p);
            ProviderRow {
                id: p.as_str(),
                label: crate::i18n::provider_name(p),
                enrolled: mine.is_some(),
                is_default: mine.is_some_and(|m| m.is_default),
                destination: mine.and_then(|m| m.destination.clone()),
                updated_at: mine.map(|m| format_time(m.updated_at)),
            }
        })
        .collect();
    let has_primary = usable
        .iter()
        .any(|u| u.provider != ProviderType::BackupCode);
    let backup_left = if usable
        .iter()
        .any(|u| u.provider == ProviderType::BackupCode)
    {
        Some(st.core.backup_codes_left(&user.id).await?)
    } else {
        None
    };
    let events: Vec<EventRow> = if viewer.is_enrolling() {
        Vec::new()
    } else {
        audit::list(
            st.core.db().pool(),
            &AuditFilter {
                user_id: Some(user.id.clone()),
                limit: RECENT_EVENTS,
                ..AuditFilter::default()
            },
        )
        .await?
        .into_iter()
        .map(|r| EventRow {
            at: format_time(r.at),
            event: crate::i18n::event_name(&r.event),
            provider: r.provider,
            // A login at a registered host says which machine it was.
            source: match r.host {
                Some(host) => t_args("account-event-host", &[("host", host.into())]),
                None => r.source,
            },
            remote_addr: r.remote_addr,
        })
        .collect()
    };
    let passkeys_on = settings.is_available(ProviderType::Webauthn);
    let passkeys: Vec<PasskeyRow> = if passkeys_on && !viewer.is_enrolling() {
        st.core
            .passkeys(&user.id)
            .await?
            .into_iter()
            .map(|k| PasskeyRow {
                id: k.id,
                name: k.name,
                discoverable: k.discoverable,
                created_at: format_time(k.created_at),
                last_used_at: k.last_used_at.map(format_time),
            })
            .collect()
    } else {
        Vec::new()
    };
    let qr = extra.totp.as_ref().and_then(|t| qr_svg(&t.uri));
    let (sent_provider, sent_to) = match &extra.code_sent {
        Some((p, d)) => (Some(p.as_str()), Some(d.clone())),
        None => (None, None),
    };
    let download = extra.backup_codes.as_deref().map(backup_download);
    let shows_codes = extra.backup_codes.is_some();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "account_security.html",
        context! {
            csrf => token,
            medium => true,
            username => &user.username,
            enrolling => viewer.is_enrolling(),
            providers,
            has_primary,
            backup_left,
            events,
            notice => extra.notice,
            errors => extra.errors,
            totp => extra.totp,
            qr_svg => qr,
            sent_provider,
            sent_to,
            backup_codes => extra.backup_codes,
            backup_download => download,
            email => &user.email,
            phone => &user.phone,
            reauth => extra.reauth.is_some(),
            reauth_second_factor => extra.reauth == Some(true),
            reauth_minutes => (st.core.reauth_seconds() + 59) / 60,
            passkeys,
        },
    );
    let mut resp = (extra.status.unwrap_or(StatusCode::OK), jar, html).into_response();
    if shows_codes || (passkeys_on && !viewer.is_enrolling()) {
        // The one page with a script (the Print button): only our own file may run.
        resp.headers_mut().insert(
            axum::http::header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static(crate::http::SCRIPT_CSP),
        );
    }
    Ok(resp)
}
