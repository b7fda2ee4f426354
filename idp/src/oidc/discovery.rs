//! OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS.
//!
//! The document is built with `openidconnect`'s typed metadata, so every field has the name
//! and shape relying parties parse; `issuer` is the configured string exactly.

use crate::error::Error;
use crate::login::{ACR_2FA, ACR_PWD};
use crate::state::{AppState, Settings};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthenticationContextClass, EndSessionUrl, IssuerUrl,
    JsonWebKeySetUrl, LogoutProviderMetadata, ProviderMetadata, ResponseTypes, Scope, TokenUrl,
    UserInfoUrl,
};
use serde::{Deserialize, Serialize};

/// Metadata fields `openidconnect` has no typed slot for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraMetadata {
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 8628 §4.
    pub device_authorization_endpoint: String,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

pub type StepgateProviderMetadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The metadata for these settings. Fails only if the issuer is not a URL, which start-up
/// already refused.
pub fn metadata(s: &Settings) -> Result<StepgateProviderMetadata, String> {
    let e = |e: openidconnect::url::ParseError| e.to_string();
    let extra = LogoutProviderMetadata {
        end_session_endpoint: Some(EndSessionUrl::new(s.url("/end_session")).map_err(e)?),
        additional_metadata: ExtraMetadata {
            revocation_endpoint: s.url("/revoke"),
            revocation_endpoint_auth_methods_supported: vec![
                "client_secret_basic".into(),
                "client_secret_post".into(),
                "none".into(),
            ],
            introspection_endpoint: s.url("/introspect"),
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic".into(),
                "client_secret_post".into(),
            ],
            code_challenge_methods_supported: vec!["S256".into()],
            device_authorization_endpoint: s.url("/device_authorization"),
            authorization_response_iss_parameter_supported: true,
        },
    };
    let claims = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "azp",
        "sid",
        "amr",
        "acr",
        "at_hash",
        "name",
        "preferred_username",
        "updated_at",
        "email",
        "email_verified",
        "phone_number",
        "phone_number_verified",
        "groups",
    ];
    Ok(StepgateProviderMetadata::new(
        IssuerUrl::new(s.issuer.clone()).map_err(e)?,
        AuthUrl::new(s.url("/authorize")).map_err(e)?,
        JsonWebKeySetUrl::new(s.url("/jwks")).map_err(e)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ],
        extra,
    )
    .set_token_endpoint(Some(TokenUrl::new(s.url("/token")).map_err(e)?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(s.url("/userinfo")).map_err(e)?))
    .set_scopes_supported(Some(
        crate::oidc::authorize::SCOPES
            .iter()
            .map(|s| Scope::new(s.to_string()))
            .collect(),
    ))
    .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
        CoreGrantType::DeviceCode,
    ]))
    .set_acr_values_supported(Some(vec![
        AuthenticationContextClass::new(ACR_2FA.into()),
        AuthenticationContextClass::new(ACR_PWD.into()),
    ]))
    .set_token_endpoint_auth_methods_supported(Some(vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::None,
    ]))
    .set_claims_supported(Some(
        claims
            .iter()
            .map(|c| CoreClaimName::new(c.to_string()))
            .collect(),
    ))
    // The pages' languages (`ui_locales` picks among them; see `crate::i18n`).
    .set_ui_locales_supported(Some(
        crate::i18n::Lang::all()
            .map(|l| openidconnect::LanguageTag::new(l.tag()))
            .collect(),
    ))
    .set_claims_parameter_supported(Some(false))
    .set_request_parameter_supported(Some(false))
    .set_request_uri_parameter_supported(Some(false)))
}

fn cacheable(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// The document never changes while the server runs, so it is serialized once.
pub async fn openid_configuration(State(st): State<AppState>) -> Response {
    let body = st.discovery.get_or_init(|| {
        metadata(&st.settings)
            .map_err(|e| e.to_string())
            .and_then(|m| serde_json::to_vec(&m).map_err(|e| e.to_string()))
            .map(Bytes::from)
    });
    match body {
        Ok(body) => json_response(body.clone(), "application/json"),
        Err(e) => Error::server_error(e).into_response(),
    }
}

fn json_response(body: Bytes, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    cacheable(resp)
}

/// The JWKS; a key rotated by any process is published within a second (see `store::keys`).
pub async fn jwks(State(st): State<AppState>) -> Response {
    match st.keys.jwks().await {
        Ok(body) => json_response(body, "application/jwk-set+json"),
        Err(e) => Error::server_error(e).into_response(),
    }
}
