//! The OAuth 2.0 Device Authorization Grant (RFC 8628): the device authorization endpoint
//! (§3.1, §3.2) and the token endpoint's `urn:ietf:params:oauth:grant-type:device_code`
//! (§3.4, §3.5). The rules — codes, single use, intervals, expiry, guessing — are the core's
//! (`stepgate_core::device`); the user's part is the `/device` page (`web::device`).
//!
//! A client must be registered for the grant, public or confidential, and authenticates here
//! as at the token endpoint. Scopes are the known ones asked for (unknown ones are ignored, as
//! at `/authorize`); `offline_access` only for a client that may refresh.

use super::client_auth::authenticate;
use super::token::{live_user, user_tokens};
use crate::crypto;
use crate::error::Error;
use crate::params::Params;
use crate::state::{AppState, DEVICE_POLL_INTERVAL};
use crate::store::clients::{Client, GrantType};
use crate::store::grants::{self, Grant};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use stepgate_core::device::Poll;

/// Where users approve: shown by the device, typed by the user.
pub const VERIFICATION_PATH: &str = "/device";

/// `POST /device_authorization`.
pub async fn device_authorization(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match start(&st, &headers, &Params::parse(&body)).await {
        Ok(body) => {
            let mut resp = axum::Json(body).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn start(st: &AppState, headers: &HeaderMap, p: &Params) -> Result<Value, Error> {
    let client = authenticate(st, headers, p, false).await?;
    if !client.allows(GrantType::DeviceCode) {
        return Err(Error::unauthorized_client(
            "this client may not use the device authorization grant",
        ));
    }
    let asked: Vec<&str> = p.get("scope")?.unwrap_or("").split_whitespace().collect();
    let scopes = crate::oidc::authorize::granted_scopes(&client, &asked);
    let lifetime = st.settings.device_code_lifetime;
    let started = st
        .core
        .start_device_authorization(&client.client_id, &scopes, lifetime, DEVICE_POLL_INTERVAL)
        .await
        .map_err(Error::server_error)?;
    let uri = st.settings.url(VERIFICATION_PATH);
    let complete = format!(
        "{uri}?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user_code", &started.user_code)
            .finish()
    );
    tracing::info!(client = %client.client_id, device_authorization = %started.id,
        "device authorization started");
    Ok(json!({
        "device_code": started.device_code,
        "user_code": started.user_code,
        "verification_uri": uri,
        "verification_uri_complete": complete,
        "expires_in": lifetime,
        "interval": started.interval,
    }))
}

/// The token endpoint's device code grant (the client is authenticated and registered for it).
pub async fn device_code_grant(
    st: &AppState,
    client: &Client,
    p: &Params,
) -> Result<Map<String, Value>, Error> {
    let code = p
        .get("device_code")?
        .ok_or_else(|| Error::invalid_request("device_code is missing"))?;
    let pending = |code: &'static str, description: &str| {
        Error::oauth(axum::http::StatusCode::BAD_REQUEST, code, description)
    };
    let auth = match st
        .core
        .poll_device(code, &client.client_id)
        .await
        .map_err(Error::server_error)?
    {
        Poll::Pending => {
            return Err(pending(
                "authorization_pending",
                "the user has not answered yet",
            ))
        }
        Poll::SlowDown { interval } => {
            return Err(pending(
                "slow_down",
                &format!("polling too fast: wait {interval} seconds between requests"),
            ))
        }
        Poll::Denied => return Err(pending("access_denied", "the user denied the request")),
        Poll::Expired => {
            return Err(pending(
                "expired_token",
                "the device code has expired; start again",
            ))
        }
        Poll::AlreadyUsed => return Err(Error::invalid_grant("the device code was already used")),
        Poll::OtherClient => {
            return Err(Error::invalid_grant(
                "the device code was issued to another client",
            ))
        }
        Poll::Unknown => return Err(Error::invalid_grant("the device code is invalid")),
        Poll::Approved(auth) => *auth,
    };
    let now = st.now();
    let offline = auth.has_scope("offline_access") && client.allows(GrantType::RefreshToken);
    let grant = Grant {
        id: crypto::random_token(),
        client_id: client.client_id.clone(),
        user_id: auth.user_id.clone(),
        sid: None,
        scopes: auth.scopes.clone(),
        auth_time: auth.auth_time,
        amr: auth.amr.clone(),
        acr: auth.acr.clone(),
        created_at: now,
        expires_at: now
            + if offline {
                st.settings.refresh_token_lifetime
            } else {
                st.settings.access_token_lifetime
            },
        revoked_at: None,
    };
    grants::create(st.core.db(), &grant)
        .await
        .map_err(Error::server_error)?;
    // Disabled, locked or left the client's groups since approving: no tokens.
    let user = live_user(st, client, &grant).await?;
    user_tokens(st, client, &grant, &user, &grant.scopes, None).await
}
