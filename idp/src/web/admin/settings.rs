//! The platform's two-factor settings form, grouped like ThingsBoard's screen (each provider
//! with its own settings, then the general limits, then enforcement): every field has words
//! and a line of help from the catalogue, and its ThingsBoard name (which is also the form
//! field's and the API's) in small print. The core validates
//! (`Core::update_twofa_settings`); a refused form is shown again with the values typed and
//! the message at the field, and nothing is saved.

use super::{admin_ctx, admin_or_return, field_error, one_error, Errors};
use crate::error::Error;
use crate::http::see_other;
use crate::http::{csrf, ClientAddr};
use crate::state::AppState;
use crate::templates::render;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use stepgate_core::settings::{EnforcedUsersFilter, ProviderConfig, RateLimit, TwoFaSettings};
use stepgate_core::{Error as CoreError, ProviderType};

/// One provider's row of the form.
#[derive(Serialize)]
struct ProviderView {
    id: &'static str,
    /// As people say it ("Authenticator app").
    name: String,
    enabled: bool,
    issuer_name: String,
    sms_template: String,
    lifetime: stepgate_core::time::Seconds,
    codes_quantity: u32,
    webauthn: stepgate_core::settings::WebauthnSettings,
}

fn provider_views(s: &TwoFaSettings) -> Vec<ProviderView> {
    ProviderType::ALL
        .into_iter()
        .map(|p| {
            let cfg = s.provider(p).cloned();
            let enabled = cfg.is_some();
            let cfg = cfg.unwrap_or_else(|| ProviderConfig::default_for(p));
            let mut v = ProviderView {
                id: p.as_str(),
                name: crate::i18n::provider_name(p),
                enabled,
                issuer_name: String::new(),
                sms_template: String::new(),
                lifetime: Default::default(),
                codes_quantity: 0,
                webauthn: Default::default(),
            };
            match cfg {
                ProviderConfig::Totp { issuer_name } => v.issuer_name = issuer_name,
                ProviderConfig::Sms {
                    sms_verification_message_template,
                    verification_code_lifetime,
                } => {
                    v.sms_template = sms_verification_message_template;
                    v.lifetime = verification_code_lifetime;
                }
                ProviderConfig::Email {
                    verification_code_lifetime,
                } => v.lifetime = verification_code_lifetime,
                ProviderConfig::BackupCode { codes_quantity } => v.codes_quantity = codes_quantity,
                ProviderConfig::Webauthn(w) => v.webauthn = w,
            }
            v
        })
        .collect()
}

/// Renders the console's front page: the settings form and the test buttons.
pub async fn render_overview(
    st: &AppState,
    jar: CookieJar,
    settings: &TwoFaSettings,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_settings.html",
        context! {
            wide => true,
            csrf => token,
            section => "settings",
            providers => provider_views(settings),
            s => settings,
            rate_limit => settings.verification_code_check_rate_limit.map(|r| r.to_string()).unwrap_or_default(),
            enforced_admins => settings.enforced_users_filter == EnforcedUsersFilter::Admins,
            errors,
            notice,
            mail_configured => st.core.mailer().is_some(),
            sms_configured => st.core.sms_sender().is_some(),
        },
    );
    Ok((status, jar, html).into_response())
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn overview(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<Done>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    let settings = st.core.twofa_settings().await?;
    let notice = (q.done.as_deref() == Some("settings")).then(|| crate::i18n::t("settings-saved"));
    render_overview(&st, jar, &settings, Errors::new(), notice, StatusCode::OK).await
}

fn number<T: std::str::FromStr>(
    form: &HashMap<String, String>,
    name: &str,
) -> Result<T, CoreError> {
    let raw = form.get(name).map(|s| s.trim()).unwrap_or("");
    raw.parse()
        .map_err(|_| CoreError::invalid(name, crate::i18n::t("settings-whole-number")))
}

/// Builds settings from the form's fields (ThingsBoard names; provider fields prefixed with
/// the provider, like `SMS.verificationCodeLifetime`). A value that is not even a number is
/// an `Invalid` for that field, like the core's own refusals.
pub fn from_form(form: &HashMap<String, String>) -> Result<TwoFaSettings, CoreError> {
    let on = |name: &str| form.get(name).is_some_and(|v| v == "on" || v == "true");
    let text = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut providers = Vec::new();
    for p in ProviderType::ALL {
        let id = p.as_str();
        if !on(&format!("{id}.enabled")) {
            continue;
        }
        providers.push(match p {
            ProviderType::Totp => ProviderConfig::Totp {
                issuer_name: text("TOTP.issuerName"),
            },
            ProviderType::Sms => ProviderConfig::Sms {
                sms_verification_message_template: text("SMS.smsVerificationMessageTemplate"),
                verification_code_lifetime: number(form, "SMS.verificationCodeLifetime")?,
            },
            ProviderType::Email => ProviderConfig::Email {
                verification_code_lifetime: number(form, "EMAIL.verificationCodeLifetime")?,
            },
            ProviderType::BackupCode => ProviderConfig::BackupCode {
                codes_quantity: number(form, "BACKUP_CODE.codesQuantity")?,
            },
            ProviderType::Webauthn => {
                use stepgate_core::settings::{UserVerification, WebauthnSettings};
                ProviderConfig::Webauthn(WebauthnSettings {
                    relying_party_id: text("WEBAUTHN.relyingPartyId").trim().to_string(),
                    relying_party_name: text("WEBAUTHN.relyingPartyName"),
                    user_verification: if text("WEBAUTHN.userVerification") == "preferred" {
                        UserVerification::Preferred
                    } else {
                        UserVerification::Required
                    },
                    attestation: "none".into(),
                    passwordless: on("WEBAUTHN.passwordless"),
                    extra_origins: text("WEBAUTHN.extraOrigins")
                        .split_whitespace()
                        .map(str::to_string)
                        .collect(),
                })
            }
        });
    }
    let rate = text("verificationCodeCheckRateLimit").trim().to_string();
    let rate = (!rate.is_empty())
        .then(|| RateLimit::parse(&rate))
        .transpose()
        .map_err(|m| CoreError::refused_as("verificationCodeCheckRateLimit", m))?;
    Ok(TwoFaSettings {
        providers,
        min_verification_code_send_period: number(form, "minVerificationCodeSendPeriod")?,
        verification_code_check_rate_limit: rate,
        max_verification_failures_before_user_lockout: number(
            form,
            "maxVerificationFailuresBeforeUserLockout",
        )?,
        total_allowed_time_for_verification: number(form, "totalAllowedTimeForVerification")?,
        enforce_two_fa: on("enforceTwoFa"),
        enforced_users_filter: if text("enforcedUsersFilter") == "ADMINS" {
            EnforcedUsersFilter::Admins
        } else {
            EnforcedUsersFilter::All
        },
    })
}

/// The input id for a core field name: `providers[1].issuerName` → `TOTP-issuerName` (by the
/// provider at that index), `SMS.verificationCodeLifetime` → `SMS-verificationCodeLifetime`.
fn input_for(settings: Option<&TwoFaSettings>, field: &str) -> Option<String> {
    if let Some(rest) = field.strip_prefix("providers[") {
        let (idx, name) = rest.split_once("].")?;
        let p = settings?.providers.get(idx.parse::<usize>().ok()?)?;
        return Some(format!("{}-{name}", p.provider_type().as_str()));
    }
    Some(field.replace('.', "-"))
}

pub async fn save(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, form.get("csrf").map(String::as_str))?;
    let admin = admin_or_return!(&st, &jar);
    let parsed = from_form(&form);
    let result = match &parsed {
        Ok(s) => {
            st.core
                .update_twofa_settings(&admin_ctx(&addr), Some(&admin), s)
                .await
        }
        // Not even a number: the same kind of refusal as the core's, for the same field.
        Err(CoreError::Invalid {
            field,
            message,
            words,
        }) => Err(CoreError::Invalid {
            field: field.clone(),
            message: message.clone(),
            words: words.clone(),
        }),
        Err(other) => Err(CoreError::invalid("settings", other.to_string())),
    };
    match result {
        Ok(()) => Ok(see_other("/admin?done=settings").into_response()),
        Err(e) => {
            let shown = parsed.as_ref().ok();
            let (field, message, status) = field_error(e, "settings", &|f| input_for(shown, f))?;
            // Show what was typed, so the admin can fix the one field.
            let current = match parsed {
                Ok(s) => s,
                Err(_) => st.core.twofa_settings().await?,
            };
            render_overview(&st, jar, &current, one_error(field, message), None, status).await
        }
    }
}
