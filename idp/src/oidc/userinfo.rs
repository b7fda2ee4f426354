//! The UserInfo endpoint (OIDC Core §5.3), GET and POST. The access token comes in the
//! `Authorization: Bearer` header or, for POST, as the `access_token` form field (RFC 6750
//! §2.1–2.2; never in the query string). It must be live (not revoked, grant not revoked) and
//! carry the `openid` scope; the claims released follow its scopes.

use super::tokens::{add_groups_claim, user_claims, verify_access_token};
use crate::error::Error;
use crate::params::Params;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn handle(
    st: &AppState,
    headers: &HeaderMap,
    form: Option<&Params>,
) -> Result<Response, Error> {
    let from_form = match form {
        Some(p) => p.get("access_token")?,
        None => None,
    };
    let token = match (bearer(headers), from_form) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_request("send the access token one way only"));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(Error::invalid_token("an access token is required")),
    };
    let live = verify_access_token(st, token)
        .await?
        .ok_or_else(|| Error::invalid_token("the access token is invalid, expired or revoked"))?;
    let scopes: Vec<String> = live
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(Error::insufficient_scope("the openid scope is required"));
    }
    let user = live
        .user
        .ok_or_else(|| Error::invalid_token("this token was issued to a client, not a user"))?;
    let mut claims = user_claims(&user, &scopes);
    add_groups_claim(st, &user, &scopes, &mut claims).await?;
    Ok(axum::Json(Value::Object(claims)).into_response())
}

pub async fn userinfo_get(State(st): State<AppState>, headers: HeaderMap) -> Response {
    handle(&st, &headers, None).await.into_response()
}

pub async fn userinfo_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&st, &headers, Some(&Params::parse(&body)))
        .await
        .into_response()
}
