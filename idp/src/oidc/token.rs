//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; OIDC Core §3.1.3).
//!
//! - `authorization_code`: a code works once, within 60 s, for the client and redirect URI it
//!   was issued to, with the PKCE verifier when a challenge was sent (and never a verifier
//!   when none was, RFC 9700 §2.1.1). A second use fails and revokes the grant, so whatever
//!   the first use issued stops working. Another client presenting it gets `invalid_grant`
//!   and changes nothing: the client is authenticated first, and only its own codes are spent.
//! - `refresh_token`: always rotated; presenting a spent refresh token revokes its family
//!   (again only when its own client presents it).
//! - `client_credentials`: confidential clients acting for themselves, with the scopes they
//!   were registered for.
//! - `urn:ietf:params:oauth:grant-type:device_code`: see `device`.

use super::client_auth::authenticate;
use super::tokens::{issue_access_token, issue_id_token};
use crate::crypto;
use crate::error::Error;
use crate::http::ClientAddr;
use crate::params::Params;
use crate::state::AppState;
use crate::store::clients::{Client, GrantType};
use crate::store::grants::{self, Grant, Use};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use stepgate_core::audit::{self, Event, EventKind};
use stepgate_core::users::User;
use stepgate_core::RequestContext;

pub async fn token(
    State(st): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&st, &addr.context(), &headers, &Params::parse(&body)).await {
        Ok((grant_type, body)) => {
            st.metrics.tokens.with_label_values(&[grant_type]).inc();
            let mut resp = axum::Json(Value::Object(body)).into_response();
            let h = resp.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    st: &AppState,
    ctx: &RequestContext,
    headers: &HeaderMap,
    p: &Params,
) -> Result<(&'static str, Map<String, Value>), Error> {
    let grant_type = p
        .get("grant_type")?
        .ok_or_else(|| Error::invalid_request("grant_type is missing"))?;
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        Error::unsupported_grant_type(
            "supported: authorization_code, refresh_token, client_credentials, \
             urn:ietf:params:oauth:grant-type:device_code",
        )
    })?;
    let client = authenticate(st, headers, p, false).await?;
    if !client.allows(grant) {
        return Err(Error::unauthorized_client(format!(
            "this client may not use the {} grant",
            grant.as_str()
        )));
    }
    let body = match grant {
        GrantType::AuthorizationCode => authorization_code(st, ctx, &client, p).await?,
        GrantType::RefreshToken => refresh_token(st, ctx, &client, p).await?,
        GrantType::ClientCredentials => client_credentials(st, &client, p).await?,
        GrantType::DeviceCode => super::device::device_code_grant(st, &client, p).await?,
    };
    Ok((grant.as_str(), body))
}

/// Audits a reused code or refresh token: whose login it was, which client presented it, and
/// that everything the login issued is revoked. Never the token itself.
/// A code or refresh token presented a second time means it leaked: revoke everything its
/// login issued, audit it, and answer `invalid_grant` with `answer`.
async fn revoke_reused(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    grant_id: &str,
    what: &str,
    answer: &str,
) -> Error {
    let revoked = grants::revoke(st.core.db(), grant_id, st.now()).await;
    if let Err(e) = revoked {
        return Error::server_error(e);
    }
    if let Err(e) = audit_reuse(st, ctx, client, grant_id, what).await {
        return e;
    }
    tracing::warn!(client = %client.client_id, "{what}; the tokens of that login are revoked");
    Error::invalid_grant(answer)
}

/// Someone else's code or refresh token: refused with nothing spent, revoked or audited as a
/// reuse, so that a client cannot burn another client's login by presenting its code.
fn other_client(what: &str) -> Error {
    tracing::info!("{what} of another client was presented; nothing was spent");
    Error::invalid_grant(format!("{what} was issued to another client"))
}

/// The grant `what` (a code or refresh token) belongs to. `grants::use_code` and `use_refresh`
/// already spent it only for its own client; checked again here because the grant is read anyway.
async fn grant_of(
    st: &AppState,
    grant_id: &str,
    client: &Client,
    what: &str,
) -> Result<Grant, Error> {
    let grant = grants::get(st.core.db(), grant_id)
        .await
        .map_err(Error::server_error)?
        .ok_or_else(|| Error::invalid_grant(format!("{what} is invalid")))?;
    if grant.client_id != client.client_id {
        return Err(Error::invalid_grant(format!(
            "{what} was issued to another client"
        )));
    }
    Ok(grant)
}

async fn audit_reuse(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    grant_id: &str,
    what: &str,
) -> Result<(), Error> {
    let grant = grants::get(st.core.db(), grant_id)
        .await
        .map_err(Error::server_error)?;
    let user = match grant.as_ref().and_then(|g| g.user_id.as_deref()) {
        Some(id) => st.core.user_by_id(id).await.map_err(Error::server_error)?,
        None => None,
    };
    let mut event = Event::new(EventKind::TokenReuseDetected).detail(format!(
        "{what} (client={}); the tokens of that login are revoked",
        client.client_id
    ));
    if let Some(u) = &user {
        event = event.user(&u.id, &u.username);
    }
    audit::record_alone(&st.core, ctx, event)
        .await
        .map_err(Error::server_error)
}

/// The user a grant was made for, if they may still sign in to this client (not disabled or
/// locked, and still in one of its allowed groups when it has some); otherwise the grant is
/// revoked.
pub(super) async fn live_user(
    st: &AppState,
    client: &Client,
    grant: &Grant,
) -> Result<User, Error> {
    let user = match &grant.user_id {
        Some(id) => st.core.user_by_id(id).await.map_err(Error::server_error)?,
        None => None,
    };
    let refusal = match &user {
        Some(u) if !u.disabled && !u.locked => {
            if client.allowed_groups.is_empty()
                || client.admits(
                    &st.core
                        .groups_of(&u.id)
                        .await
                        .map_err(Error::server_error)?,
                )
            {
                None
            } else {
                Some("the user is no longer in a group this client admits")
            }
        }
        _ => Some("the user can no longer sign in"),
    };
    match (user, refusal) {
        (Some(u), None) => Ok(u),
        (_, refusal) => {
            grants::revoke(st.core.db(), &grant.id, st.now())
                .await
                .map_err(Error::server_error)?;
            Err(Error::invalid_grant(
                refusal.unwrap_or("the user can no longer sign in"),
            ))
        }
    }
}

/// The response of the code and refresh grants: access token, ID token, maybe a new refresh
/// token (only for `offline_access` grants of clients allowed to refresh).
pub(super) async fn user_tokens(
    st: &AppState,
    client: &Client,
    grant: &Grant,
    user: &User,
    scopes: &[String],
    nonce: Option<&str>,
) -> Result<Map<String, Value>, Error> {
    let access = issue_access_token(st, grant, scopes).await?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access.token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(access.expires_in));
    body.insert("scope".into(), json!(scopes.join(" ")));
    if scopes.iter().any(|s| s == "openid") {
        let id_token = issue_id_token(st, client, grant, user, nonce, &access.token).await?;
        body.insert("id_token".into(), json!(id_token));
    }
    if grant.has_scope("offline_access") && client.allows(GrantType::RefreshToken) {
        let refresh = crypto::random_token();
        grants::insert_refresh(
            st.core.db(),
            &refresh,
            &grant.id,
            st.now(),
            grant.expires_at,
        )
        .await
        .map_err(Error::server_error)?;
        body.insert("refresh_token".into(), json!(refresh));
    }
    Ok(body)
}

async fn authorization_code(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    p: &Params,
) -> Result<Map<String, Value>, Error> {
    let code = p
        .get("code")?
        .ok_or_else(|| Error::invalid_request("code is missing"))?;
    let redirect_uri = p
        .get("redirect_uri")?
        .ok_or_else(|| Error::invalid_request("redirect_uri is missing"))?;
    let verifier = p.get("code_verifier")?;
    let now = st.now();
    let db = st.core.db();
    let issued = match grants::use_code(db, code, &client.client_id, now)
        .await
        .map_err(Error::server_error)?
    {
        Use::Unknown => return Err(Error::invalid_grant("the code is invalid")),
        Use::OtherClient => return Err(other_client("the code")),
        Use::Again { grant_id } => {
            return Err(revoke_reused(
                st,
                ctx,
                client,
                &grant_id,
                "an authorization code was used twice",
                "the code was already used; the tokens issued with it are revoked",
            )
            .await);
        }
        Use::First(c) => c,
    };
    let grant = grant_of(st, &issued.grant_id, client, "the code").await?;
    if now >= issued.expires_at {
        return Err(Error::invalid_grant("the code has expired"));
    }
    if !grant.is_live(now) {
        return Err(Error::invalid_grant("the grant was revoked"));
    }
    if issued.redirect_uri != redirect_uri {
        return Err(Error::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&issued.code_challenge, verifier) {
        (Some(challenge), Some(v)) => {
            if !crypto::is_pkce_value(v)
                || !crypto::constant_time_eq(&crypto::pkce_s256(v), challenge)
            {
                return Err(Error::invalid_grant(
                    "the PKCE code_verifier does not match",
                ));
            }
        }
        (Some(_), None) => {
            return Err(Error::invalid_grant("the PKCE code_verifier is missing"));
        }
        (None, Some(_)) => {
            return Err(Error::invalid_grant(
                "a code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let user = live_user(st, client, &grant).await?;
    user_tokens(
        st,
        client,
        &grant,
        &user,
        &grant.scopes,
        issued.nonce.as_deref(),
    )
    .await
}

async fn refresh_token(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    p: &Params,
) -> Result<Map<String, Value>, Error> {
    let token = p
        .get("refresh_token")?
        .ok_or_else(|| Error::invalid_request("refresh_token is missing"))?;
    let now = st.now();
    let db = st.core.db();
    let found = match grants::use_refresh(db, token, &client.client_id, now)
        .await
        .map_err(Error::server_error)?
    {
        Use::Unknown => return Err(Error::invalid_grant("the refresh token is invalid")),
        Use::OtherClient => return Err(other_client("the refresh token")),
        Use::Again { grant_id } => {
            return Err(revoke_reused(
                st,
                ctx,
                client,
                &grant_id,
                "a spent refresh token was presented",
                "the refresh token was already used; all tokens of this login are revoked",
            )
            .await);
        }
        Use::First(r) => r,
    };
    let grant = grant_of(st, &found.grant_id, client, "the refresh token").await?;
    if !grant.is_live(now) || now >= found.expires_at {
        return Err(Error::invalid_grant(
            "the refresh token has expired or was revoked",
        ));
    }
    let scopes: Vec<String> = match p.get("scope")? {
        None => grant.scopes.clone(),
        Some(s) => {
            let asked: Vec<String> = s.split_whitespace().map(str::to_string).collect();
            if let Some(extra) = asked.iter().find(|a| !grant.has_scope(a)) {
                return Err(Error::invalid_scope(format!(
                    "{extra} was not granted to this login"
                )));
            }
            asked
        }
    };
    let user = live_user(st, client, &grant).await?;
    user_tokens(st, client, &grant, &user, &scopes, None).await
}

async fn client_credentials(
    st: &AppState,
    client: &Client,
    p: &Params,
) -> Result<Map<String, Value>, Error> {
    if client.is_public() {
        return Err(Error::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let scopes: Vec<String> = match p.get("scope")? {
        None => client
            .scopes
            .iter()
            .chain(&client.api_scopes)
            .cloned()
            .collect(),
        Some(s) => {
            let asked: Vec<String> = s.split_whitespace().map(str::to_string).collect();
            if let Some(extra) = asked.iter().find(|a| !client.may_grant_itself(a)) {
                return Err(Error::invalid_scope(format!(
                    "{extra} is not registered for this client"
                )));
            }
            asked
        }
    };
    let now = st.now();
    let grant = Grant {
        id: crypto::random_token(),
        client_id: client.client_id.clone(),
        user_id: None,
        sid: None,
        scopes: scopes.clone(),
        auth_time: None,
        amr: Vec::new(),
        acr: None,
        created_at: now,
        expires_at: now + st.settings.access_token_lifetime,
        revoked_at: None,
    };
    // Not stored: a client's own token names no grant (see tokens::GRANT_CLAIM).
    let access = issue_access_token(st, &grant, &scopes).await?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access.token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(access.expires_in));
    if !scopes.is_empty() {
        body.insert("scope".into(), json!(scopes.join(" ")));
    }
    Ok(body)
}
