//! `/api/account/2fa…`: the caller's own second factors, for scripts — the same core
//! operations as the account page (generate, verify, default, delete). Adding, replacing or
//! removing a factor needs a token from a fresh sign-in (the core's `reauth` rule); an older
//! one gets RFC 9470's `insufficient_user_authentication` challenge.

use super::auth::UserCaller;
use super::problem::{ApiJson, Problem};
use crate::http::ClientAddr;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use stepgate_core::ProviderType;
use utoipa::ToSchema;

/// An enrolled provider: never a secret, only a masked destination.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDoc {
    /// TOTP, SMS, EMAIL or BACKUP_CODE.
    pub provider: String,
    pub is_default: bool,
    pub destination: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountTwoFa {
    /// The providers the platform offers now.
    pub available: Vec<String>,
    /// The caller's providers that are usable now.
    pub providers: Vec<ProviderDoc>,
    pub backup_codes_left: i64,
}

pub(crate) fn provider_from_path(p: &str) -> Result<ProviderType, Problem> {
    p.parse()
        .map_err(|e: stepgate_core::providers::UnknownProvider| Problem::not_found(e.to_string()))
}

/// The caller's second factors.
#[utoipa::path(get, path = "/api/account/2fa", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = AccountTwoFa),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn get_2fa(
    State(st): State<AppState>,
    UserCaller(user, _): UserCaller,
) -> Result<Json<AccountTwoFa>, Problem> {
    let settings = st.core.twofa_settings().await?;
    let providers = st
        .core
        .usable_providers(&user.id, &settings)
        .await?
        .into_iter()
        .map(|p| ProviderDoc {
            provider: p.provider.as_str().into(),
            is_default: p.is_default,
            destination: p.destination,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
        .collect();
    Ok(Json(AccountTwoFa {
        available: settings
            .providers
            .iter()
            .map(|p| p.provider_type().as_str().to_string())
            .collect(),
        providers,
        backup_codes_left: st.core.backup_codes_left(&user.id).await?,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateRequest {
    /// SMS: the phone number, E.164.
    pub phone: Option<String>,
    /// EMAIL: the address.
    pub email: Option<String>,
}

/// What generating gives: TOTP a secret (this once), SMS/EMAIL where the code went, backup
/// codes the codes (this once).
#[derive(Serialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Generated {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
}

/// Starts enrolling a provider (TOTP: a secret; SMS/EMAIL: sends a code), or generates backup
/// codes (which are enabled at once; other providers need `verify`).
#[utoipa::path(post, path = "/api/account/2fa/{provider}/generate", tag = "account",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "TOTP, SMS, EMAIL or BACKUP_CODE")),
    request_body(content = GenerateRequest, description = "phone for SMS, email for EMAIL; {} otherwise"),
    responses((status = 200, body = Generated),
              (status = 401, body = Problem, content_type = "application/problem+json",
                  description = "the token's sign-in is not fresh enough (RFC 9470 challenge)"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn generate(
    State(st): State<AppState>,
    addr: ClientAddr,
    UserCaller(user, proof): UserCaller,
    Path(provider): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Generated>, Problem> {
    let p = provider_from_path(&provider)?;
    st.core.check_fresh(&user, proof).await?;
    // The body is optional (TOTP and backup codes need none).
    let body: GenerateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GenerateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Problem::bad_request(e.to_string()))?
    };
    let ctx = addr.context();
    let out = match p {
        ProviderType::Totp => {
            let t = st.core.begin_totp_enrolment(&ctx, &user).await?;
            Generated {
                secret: Some(t.secret_base32),
                otpauth_uri: Some(t.otpauth_uri),
                ..Generated::default()
            }
        }
        ProviderType::Sms | ProviderType::Email => {
            let sent = if p == ProviderType::Sms {
                let phone = body
                    .phone
                    .ok_or_else(|| Problem::invalid("phone", "give the phone number"))?;
                st.core
                    .begin_sms_enrolment(&ctx, &user, phone.trim())
                    .await?
            } else {
                let email = body
                    .email
                    .ok_or_else(|| Problem::invalid("email", "give the email address"))?;
                st.core
                    .begin_email_enrolment(&ctx, &user, email.trim())
                    .await?
            };
            Generated {
                destination: Some(sent.destination),
                expires_in: Some(sent.expires_in),
                ..Generated::default()
            }
        }
        ProviderType::BackupCode => Generated {
            codes: Some(st.core.generate_backup_codes(&ctx, &user).await?),
            ..Generated::default()
        },
        // A passkey is made by the browser's WebAuthn, on the account page.
        ProviderType::Webauthn => {
            return Err(Problem::invalid(
                "provider",
                "passkeys are added on the account page, with the browser",
            ))
        }
    };
    Ok(Json(out))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: String,
}

/// Submits the first code of a pending enrolment; the provider is enabled only when it is
/// right.
#[utoipa::path(post, path = "/api/account/2fa/{provider}/verify", tag = "account",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "TOTP, SMS or EMAIL")),
    request_body = CodeRequest,
    responses((status = 204, description = "enabled"),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn verify(
    State(st): State<AppState>,
    addr: ClientAddr,
    UserCaller(user, _): UserCaller,
    Path(provider): Path<String>,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Response, Problem> {
    let p = provider_from_path(&provider)?;
    st.core
        .finish_enrolment(&addr.context(), &user, p, &body.code)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultRequest {
    pub provider: String,
}

/// Makes one enrolled provider the default.
#[utoipa::path(put, path = "/api/account/2fa/default", tag = "account",
    security(("bearer" = [])), request_body = DefaultRequest,
    responses((status = 204, description = "changed"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn set_default(
    State(st): State<AppState>,
    addr: ClientAddr,
    UserCaller(user, _): UserCaller,
    ApiJson(body): ApiJson<DefaultRequest>,
) -> Result<Response, Problem> {
    let p: ProviderType =
        body.provider
            .parse()
            .map_err(|e: stepgate_core::providers::UnknownProvider| {
                Problem::invalid("provider", e.to_string())
            })?;
    st.core
        .set_default_provider(&addr.context(), &user, p)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The caller's password, asked again before weakening the account.
    pub password: String,
}

/// Turns a provider off (the password is checked first).
#[utoipa::path(delete, path = "/api/account/2fa/{provider}", tag = "account",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "TOTP, SMS, EMAIL or BACKUP_CODE")),
    request_body = PasswordRequest,
    responses((status = 204, description = "removed"),
              (status = 401, body = Problem, content_type = "application/problem+json",
                  description = "the token's sign-in is not fresh enough (RFC 9470 challenge)"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(st): State<AppState>,
    addr: ClientAddr,
    UserCaller(user, proof): UserCaller,
    Path(provider): Path<String>,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<Response, Problem> {
    let p = provider_from_path(&provider)?;
    st.core
        .remove_own_provider(&addr.context(), &user, p, &body.password, proof)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
