//! Token revocation (RFC 7009) and introspection (RFC 7662).
//!
//! Revoking a refresh token revokes its whole grant (its access tokens too, as RFC 7009 §2.1
//! suggests); revoking an access token revokes that token. Unknown tokens and tokens of other
//! clients get the same `200` as success, so the endpoint reveals nothing.
//!
//! Introspection is for confidential clients (resource servers); an inactive token of any
//! kind is just `{"active": false}`.

use super::client_auth::authenticate;
use super::tokens::{verify_access_token, verify_own};
use crate::error::Error;
use crate::params::Params;
use crate::state::AppState;
use crate::store::grants;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// A JWT has three dot-separated parts; our refresh tokens have none.
fn looks_like_jwt(token: &str) -> bool {
    token.matches('.').count() == 2
}

async fn revoke_handle(st: &AppState, headers: &HeaderMap, p: &Params) -> Result<Response, Error> {
    let client = authenticate(st, headers, p, false).await?;
    let token = p
        .get("token")?
        .ok_or_else(|| Error::invalid_request("token is missing"))?;
    p.get("token_type_hint")?;
    let now = st.now();
    let db = st.core.db();
    if looks_like_jwt(token) {
        if let Some((payload, _)) = verify_own(st, token).await {
            let claims = payload.claims_set();
            let mine = claims.get("client_id").and_then(Value::as_str) == Some(&client.client_id);
            let jti = claims.get("jti").and_then(Value::as_str);
            let exp = claims.get("exp").and_then(Value::as_i64);
            if let (true, Some(jti), Some(exp)) = (mine, jti, exp) {
                grants::revoke_access(db, jti, exp)
                    .await
                    .map_err(Error::server_error)?;
            }
        }
    } else if let Some(found) = grants::find_refresh(db, token)
        .await
        .map_err(Error::server_error)?
    {
        let grant = grants::get(db, &found.grant_id)
            .await
            .map_err(Error::server_error)?;
        if grant.is_some_and(|g| g.client_id == client.client_id) {
            grants::revoke(db, &found.grant_id, now)
                .await
                .map_err(Error::server_error)?;
        }
    }
    Ok(StatusCode::OK.into_response())
}

pub async fn revoke(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    revoke_handle(&st, &headers, &Params::parse(&body))
        .await
        .into_response()
}

fn inactive() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("active".into(), json!(false));
    m
}

async fn introspect_handle(
    st: &AppState,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Response, Error> {
    authenticate(st, headers, p, true).await?;
    let token = p
        .get("token")?
        .ok_or_else(|| Error::invalid_request("token is missing"))?;
    p.get("token_type_hint")?;
    let now = st.now();
    let db = st.core.db();
    let mut out = inactive();
    if looks_like_jwt(token) {
        if let Some(live) = verify_access_token(st, token).await? {
            out = Map::new();
            out.insert("active".into(), json!(true));
            for k in [
                "scope",
                "client_id",
                "sub",
                "aud",
                "iss",
                "exp",
                "iat",
                "jti",
                "auth_time",
                "acr",
            ] {
                if let Some(v) = live.claims.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            out.insert("token_type".into(), json!("Bearer"));
            if let Some(u) = &live.user {
                out.insert("username".into(), json!(u.username));
            }
        }
    } else if let Some(found) = grants::find_refresh(db, token)
        .await
        .map_err(Error::server_error)?
    {
        let grant = grants::get(db, &found.grant_id)
            .await
            .map_err(Error::server_error)?;
        if let Some(g) = grant.filter(|g| !found.used && g.is_live(now) && now < found.expires_at) {
            out = Map::new();
            out.insert("active".into(), json!(true));
            out.insert("token_type".into(), json!("refresh_token"));
            out.insert("scope".into(), json!(g.scopes.join(" ")));
            out.insert("client_id".into(), json!(g.client_id));
            if let Some(uid) = &g.user_id {
                out.insert("sub".into(), json!(uid));
            }
            out.insert("iss".into(), json!(st.settings.issuer));
            out.insert("iat".into(), json!(found.created_at));
            out.insert("exp".into(), json!(found.expires_at));
        }
    }
    Ok(axum::Json(Value::Object(out)).into_response())
}

pub async fn introspect(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    introspect_handle(&st, &headers, &Params::parse(&body))
        .await
        .into_response()
}
