//! The sign-in page (first factor) and what happens after a login completes.
//!
//! Every decision about the second factor is the core's: `first_factor` checks the password,
//! `second_factor_for` says whether a challenge, enrolment or nothing is needed, and
//! `open_challenge` starts the challenge the next page continues. This module only turns those
//! answers into pages, cookies and redirects.

use super::{cookies, csrf, ClientAddr};
use crate::error::Error;
use crate::oidc::authorize::{issue_code, see_other};
use crate::oidc::tokens::{ACR_2FA, ACR_PWD};
use crate::state::AppState;
use crate::store::clients;
use crate::store::requests::{self, AuthRequest, Taken};
use crate::store::sessions::{self, Session};
use crate::templates::render;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Deserialize;
use stepgate_core::audit::{self, Event, EventKind};
use stepgate_core::challenge::SecondFactor;
use stepgate_core::users::User;
use stepgate_core::{Error as CoreError, ProviderType, RequestContext};

/// The live browser session and its user, if the cookie names one whose user may still sign
/// in (a disabled or locked account ends its sessions).
pub async fn current_session(
    st: &AppState,
    jar: &CookieJar,
) -> Result<Option<(Session, User)>, Error> {
    let Some(token) = cookies::get(jar, cookies::SESSION) else {
        return Ok(None);
    };
    let Some(session) = sessions::find(st.core.db(), &token, st.now())
        .await
        .map_err(Error::internal_page)?
    else {
        return Ok(None);
    };
    let user = st
        .core
        .user_by_id(&session.user_id)
        .await
        .map_err(Error::internal_page)?;
    Ok(user
        .filter(|u| !u.disabled && !u.locked)
        .map(|u| (session, u)))
}

/// RFC 8176 methods for a login that ended with `provider` (or with the password alone).
pub fn amr_for(provider: Option<ProviderType>) -> Vec<String> {
    let second = match provider {
        None => return vec!["pwd".into()],
        Some(ProviderType::Sms) => "sms",
        Some(ProviderType::Totp | ProviderType::Email | ProviderType::BackupCode) => "otp",
    };
    vec!["pwd".into(), second.into(), "mfa".into()]
}

/// Loads the pending authorization request a login page works for; a missing or expired one
/// is a page telling the user to start again from the application.
pub async fn pending_request(
    st: &AppState,
    req: Option<&str>,
) -> Result<Option<AuthRequest>, Error> {
    let Some(id) = req.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match requests::load(st.core.db(), id, st.now())
        .await
        .map_err(Error::internal_page)?
    {
        Some(r) => Ok(Some(r)),
        None => Err(expired_page()),
    }
}

fn expired_page() -> Error {
    Error::page(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "Go back to the application you came from and sign in again.",
    )
}

/// A login is complete: create the session, forget the challenge, audit it, and answer the
/// pending authorization request (or go to the home page when the user came to /login
/// directly).
pub async fn finish_login(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    req_id: Option<&str>,
    user: &User,
    provider: Option<ProviderType>,
) -> Result<Response, Error> {
    let now = st.now();
    // A new login replaces whatever session this browser had (no session fixation, no
    // orphaned rows).
    if let Some(previous) = cookies::get(&jar, cookies::SESSION) {
        sessions::delete(st.core.db(), &previous)
            .await
            .map_err(Error::internal_page)?;
    }
    let acr = if provider.is_some() { ACR_2FA } else { ACR_PWD };
    let (token, session) = sessions::create(
        st.core.db(),
        &user.id,
        &amr_for(provider),
        acr,
        now,
        st.settings.session_lifetime,
    )
    .await
    .map_err(Error::internal_page)?;
    let secure = st.settings.secure_cookies;
    let jar = jar
        .add(cookies::build(cookies::SESSION, token, secure))
        .add(cookies::removal(cookies::CHALLENGE, secure))
        .add(cookies::removal(super::account::gate::ENROL, secure));
    // A request is answered once, even if the same login is submitted twice: only the caller
    // that removes it goes on to a code.
    let taken = match req_id.filter(|r| !r.is_empty()) {
        Some(id) => Some(
            requests::take(st.core.db(), id, now)
                .await
                .map_err(Error::internal_page)?,
        ),
        None => None,
    };
    // The session's public id and the client it was for; never the cookie's token.
    let mut detail = format!("acr={acr} sid={}", session.sid);
    if let Some(Taken::Live(r)) = &taken {
        detail.push_str(&format!(" client={}", r.client_id));
    }
    let mut event = Event::new(EventKind::LoginCompleted)
        .user(&user.id, &user.username)
        .detail(detail);
    if let Some(p) = provider {
        event = event.provider(p);
    }
    audit::record_alone(&st.core, ctx, event)
        .await
        .map_err(Error::internal_page)?;
    st.metrics.logins.with_label_values(&["completed"]).inc();
    tracing::info!(user = %user.username, acr, "login completed");
    let req = match taken {
        Some(Taken::Live(req)) => req,
        Some(Taken::Expired) => return Err(expired_page()),
        // Came to /login directly, or this request was answered already.
        Some(Taken::Gone) | None => {
            let back_to_account = cookies::get(&jar, cookies::RETURN).as_deref() == Some("account");
            let jar = jar.add(cookies::removal(cookies::RETURN, secure));
            let to = if back_to_account {
                "/account/security?done=confirmed"
            } else {
                "/"
            };
            return Ok((jar, see_other(to)).into_response());
        }
    };
    let client = clients::get(st.core.db(), &req.client_id)
        .await
        .map_err(Error::internal_page)?
        .ok_or_else(|| {
            Error::page(
                StatusCode::BAD_REQUEST,
                "This sign-in cannot be completed",
                "The application was removed while you were signing in.",
            )
        })?;
    let resp = issue_code(st, &client, &req, &session, user).await?;
    Ok((jar, resp).into_response())
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
}

fn login_page(
    csrf: &str,
    req: Option<&str>,
    client_name: Option<&str>,
    username: Option<&str>,
    error: Option<&str>,
) -> axum::response::Html<String> {
    render(
        "login.html",
        context! { csrf, req, client_name, username, error },
    )
}

/// The sign-in page for an authorization request just stored, answered by /authorize itself:
/// one round trip fewer than a redirect to `/login?req=…` (Keycloak's authorization endpoint
/// answers with its login form too). `/login?req=…` still shows the same page.
pub fn page_for_request(
    st: &AppState,
    jar: CookieJar,
    req_id: &str,
    client_name: &str,
    login_hint: Option<&str>,
) -> Response {
    let (jar, token) = csrf::ensure(st, jar);
    let page = login_page(&token, Some(req_id), Some(client_name), login_hint, None);
    (jar, page).into_response()
}

async fn client_name(st: &AppState, req: Option<&AuthRequest>) -> Option<String> {
    let req = req?;
    let client = clients::get(st.core.db(), &req.client_id).await.ok()??;
    Some(client.display_name().to_string())
}

pub async fn login_get(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Result<Response, Error> {
    let req = pending_request(&st, q.req.as_deref()).await?;
    let name = client_name(&st, req.as_ref()).await;
    let hint = req.as_ref().and_then(|r| r.login_hint.clone());
    let (jar, token) = csrf::ensure(&st, jar);
    let page = login_page(
        &token,
        q.req.as_deref(),
        name.as_deref(),
        hint.as_deref(),
        None,
    );
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    req: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub async fn login_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let req_id = form.req.as_deref().filter(|r| !r.is_empty());
    let req = pending_request(&st, req_id).await?;
    let ctx = addr.context();
    let user = match st
        .core
        .first_factor(&ctx, &form.username, &form.password)
        .await
    {
        Ok(u) => u,
        Err(e) => {
            let (outcome, status, message) = match &e {
                CoreError::BadCredentials => (
                    "bad_credentials",
                    StatusCode::UNAUTHORIZED,
                    "Invalid username or password.",
                ),
                CoreError::Locked => (
                    "locked",
                    StatusCode::FORBIDDEN,
                    "This account is locked after too many failed verification attempts. Ask \
                     an administrator to unlock it.",
                ),
                CoreError::Disabled => (
                    "disabled",
                    StatusCode::FORBIDDEN,
                    "This account is disabled.",
                ),
                _ => return Err(Error::internal_page(e)),
            };
            st.metrics.logins.with_label_values(&[outcome]).inc();
            let name = client_name(&st, req.as_ref()).await;
            let (jar, token) = csrf::ensure(&st, jar);
            let page = login_page(
                &token,
                req_id,
                name.as_deref(),
                Some(&form.username),
                Some(message),
            );
            return Ok((status, jar, page).into_response());
        }
    };
    st.metrics.logins.with_label_values(&["password_ok"]).inc();
    let needs_2fa = req.as_ref().is_some_and(|r| r.require_2fa);
    match st
        .core
        .second_factor_for(&user)
        .await
        .map_err(Error::internal_page)?
    {
        SecondFactor::Required => super::second_factor::start(&st, jar, &ctx, req_id, &user).await,
        // No session yet: the user may only enrol, then this login continues (issue 5).
        SecondFactor::MustEnrol => Ok(super::account::start_enrolment(&st, jar, req_id, &user)),
        SecondFactor::NotConfigured if needs_2fa => {
            Ok(super::account::start_enrolment(&st, jar, req_id, &user))
        }
        SecondFactor::NotConfigured => finish_login(&st, jar, &ctx, req_id, &user, None).await,
    }
}
