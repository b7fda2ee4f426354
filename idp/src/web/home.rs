//! The home page (who is signed in) and sign-out, shared by the home page's button and the
//! RP-initiated logout endpoint.

use super::login::current_session;
use super::{cookies, csrf, ClientAddr};
use crate::error::Error;
use crate::oidc::authorize::redirect_with;
use crate::state::AppState;
use crate::store::{clients, sessions};
use crate::templates::render;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Deserialize;
use stepgate_core::audit::{self, Event, EventKind};
use stepgate_core::RequestContext;

pub async fn home(State(st): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    let session = current_session(&st, &jar).await?;
    let (jar, token) = csrf::ensure(&st, jar);
    let username = session.map(|(_, u)| u.username);
    Ok((
        jar,
        render("home.html", context! { username, csrf => token }),
    )
        .into_response())
}

/// Ends this browser's session, in the database and in the browser, and audits it (with the
/// session's public `sid`, and `why`: how the user signed out).
pub async fn end_browser_session(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    why: &str,
) -> Result<CookieJar, Error> {
    if let Some(token) = cookies::get(&jar, cookies::SESSION) {
        let ended = sessions::find(st.core.db(), &token, st.now())
            .await
            .map_err(Error::internal_page)?;
        sessions::delete(st.core.db(), &token)
            .await
            .map_err(Error::internal_page)?;
        if let Some(session) = ended {
            let user = st
                .core
                .user_by_id(&session.user_id)
                .await
                .map_err(Error::internal_page)?;
            let username = user.map(|u| u.username).unwrap_or_default();
            let event = Event::new(EventKind::SessionEnded)
                .user(&session.user_id, &username)
                .detail(format!("{why} sid={}", session.sid));
            audit::record_alone(&st.core, ctx, event)
                .await
                .map_err(Error::internal_page)?;
        }
    }
    Ok(jar.add(cookies::removal(
        cookies::SESSION,
        st.settings.secure_cookies,
    )))
}

/// Checks a post-logout redirect URI against the client's registered ones (exact match); a
/// URI that does not match is a page, never a redirect.
pub async fn checked_post_logout_uri(
    st: &AppState,
    client_id: Option<&str>,
    uri: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(uri) = uri else {
        return Ok(None);
    };
    let refuse = || {
        Error::page(
            StatusCode::BAD_REQUEST,
            "Sign-out cannot continue",
            "The address to return to after signing out is not registered for this \
             application.",
        )
    };
    let client_id = client_id.ok_or_else(refuse)?;
    let client = clients::get(st.core.db(), client_id)
        .await
        .map_err(Error::internal_page)?
        .ok_or_else(refuse)?;
    if client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        Ok(Some(uri.to_string()))
    } else {
        Err(refuse())
    }
}

/// After sign-out: back to the client when it asked and is allowed, else a page.
pub fn after_logout(jar: CookieJar, redirect: Option<String>, state: Option<&str>) -> Response {
    match redirect {
        Some(uri) => {
            let params: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
            (jar, redirect_with(&uri, &params)).into_response()
        }
        None => (jar, render("logout.html", context! { done => true })).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

pub async fn logout_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let nonempty = |o: &Option<String>| o.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    let redirect = checked_post_logout_uri(
        &st,
        nonempty(&form.client_id).as_deref(),
        nonempty(&form.post_logout_redirect_uri).as_deref(),
    )
    .await?;
    let why = match nonempty(&form.client_id) {
        Some(c) => format!("logout confirmed (client={c})"),
        None => "logout".into(),
    };
    let jar = end_browser_session(&st, jar, &addr.context(), &why).await?;
    Ok(after_logout(
        jar,
        redirect,
        nonempty(&form.state).as_deref(),
    ))
}
