//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
//!
//! With a valid `id_token_hint` for this browser's session (or when there is no session) the
//! logout happens at once; otherwise the user confirms with a button, so a third-party page
//! cannot sign people out. `post_logout_redirect_uri` must be registered for the client named
//! by the hint or by `client_id`, exactly; anything else is a page, never a redirect.

use crate::error::Error;
use crate::http::{csrf, ClientAddr};
use crate::login::current_session;
use crate::login::{after_logout, checked_post_logout_uri, end_browser_session};
use crate::oidc::tokens::verify_id_token_hint;
use crate::params::Params;
use crate::state::AppState;
use crate::templates::render;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde_json::Value;

async fn handle(
    st: AppState,
    jar: CookieJar,
    addr: ClientAddr,
    p: Params,
) -> Result<Response, Error> {
    let bad = |key: &str| {
        Error::page(
            StatusCode::BAD_REQUEST,
            crate::i18n::t("err-sign-out-title"),
            crate::i18n::t(key),
        )
    };
    let repeated = |_| bad("err-a-param-repeated");
    let hint = match p.get("id_token_hint").map_err(repeated)? {
        None => None,
        Some(h) => {
            let claims = verify_id_token_hint(&st, h, None)
                .await
                .ok_or_else(|| bad("err-id-token-hint"))?;
            Some(claims)
        }
    };
    let hint_client = hint.as_ref().and_then(|c| match c.get("aud") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    });
    let param_client = p.get("client_id").map_err(repeated)?.map(str::to_string);
    if let (Some(a), Some(b)) = (&hint_client, &param_client) {
        if a != b {
            return Err(bad("client_id does not match the id_token_hint."));
        }
    }
    let client_id = hint_client.or(param_client);
    let state = p.get("state").map_err(repeated)?.map(str::to_string);
    let redirect = checked_post_logout_uri(
        &st,
        client_id.as_deref(),
        p.get("post_logout_redirect_uri").map_err(repeated)?,
    )
    .await?;
    let session = current_session(&st, &jar).await?;
    let hint_sid = hint
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let confirmed = match &session {
        None => true,
        Some((s, _)) => hint_sid.as_deref() == Some(s.sid.as_str()),
    };
    if confirmed {
        let why = match &client_id {
            Some(c) => format!("rp-initiated logout (client={c})"),
            None => "rp-initiated logout".into(),
        };
        let jar = end_browser_session(&st, jar, &addr.context(), &why).await?;
        return Ok(after_logout(jar, redirect, state.as_deref()));
    }
    let client_name = match &client_id {
        Some(id) => crate::store::clients::get(st.core.db(), id)
            .await
            .ok()
            .flatten()
            .map(|c| c.display_name().to_string()),
        None => None,
    };
    let (jar, token) = csrf::ensure(&st, jar);
    let html = render(
        "logout.html",
        context! {
            done => false,
            csrf => token,
            client_name,
            client_id,
            post_logout_redirect_uri => redirect,
            state,
        },
    );
    Ok((jar, html).into_response())
}

pub async fn end_session_get(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Result<Response, Error> {
    handle(
        st,
        jar,
        addr,
        Params::parse(q.unwrap_or_default().as_bytes()),
    )
    .await
}

pub async fn end_session_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, Error> {
    handle(st, jar, addr, Params::parse(&body)).await
}
