//! OpenID Provider metadata (OIDC Discovery 1.0, RFC 8414) and the JWKS.
//!
//! The document is built with `openidconnect`'s typed metadata, so every field has the name
//! and shape relying parties parse; `issuer` is the configured string exactly.

use crate::error::Error;
use crate::oidc::tokens::{ACR_2FA, ACR_PWD};
use crate::state::{AppState, Settings};
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

pub async fn openid_configuration(State(st): State<AppState>) -> Response {
    match metadata(&st.settings) {
        Ok(m) => cacheable(axum::Json(m).into_response()),
        Err(e) => Error::server_error(e).into_response(),
    }
}

/// The JWKS, read from the database on each request so a key rotated by any process is
/// published everywhere at once.
pub async fn jwks(State(st): State<AppState>) -> Response {
    match st.keys.jwks().await {
        Ok(doc) => {
            let mut resp = axum::Json(doc).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            );
            cacheable(resp)
        }
        Err(e) => Error::server_error(e).into_response(),
    }
}
