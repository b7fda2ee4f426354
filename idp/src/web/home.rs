//! The home page (who is signed in) and sign-out, shared by the home page's button and the
//! RP-initiated logout endpoint.

use crate::error::Error;
use crate::http::{csrf, ClientAddr};
use crate::login::{after_logout, checked_post_logout_uri, current_session, end_browser_session};
use crate::state::AppState;
use crate::templates::render;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Deserialize;

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
