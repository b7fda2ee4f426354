//! The sign-in page (first factor); what happens once a login completes is `crate::login`'s.
//!
//! Every decision about the second factor is the core's: `first_factor` checks the password,
//! and `after_password` says whether a challenge, enrolment or nothing is needed, opening the
//! challenge the next page continues. This module only turns those answers into pages, cookies
//! and redirects.

use crate::error::Error;
use crate::http::{csrf, ClientAddr};
use crate::i18n::t;
use crate::login::{finish_login, login_page, pending_request};
use crate::state::AppState;
use crate::store::requests::AuthRequest;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use stepgate_core::challenge::AfterPassword;
use stepgate_core::Error as CoreError;

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
}

async fn client_name(st: &AppState, req: Option<&AuthRequest>) -> Option<String> {
    let req = req?;
    let client = st
        .clients
        .get(st.core.db(), &req.client_id, st.now())
        .await
        .ok()??;
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
        &st,
        &token,
        q.req.as_deref(),
        name.as_deref(),
        hint.as_deref(),
        None,
    )
    .await;
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
                    t("sign-in-bad-credentials"),
                ),
                CoreError::Locked => ("locked", StatusCode::FORBIDDEN, t("this-account-locked")),
                CoreError::Disabled => ("disabled", StatusCode::FORBIDDEN, t("account-disabled")),
                _ => return Err(e.into()),
            };
            st.metrics.logins.with_label_values(&[outcome]).inc();
            let name = client_name(&st, req.as_ref()).await;
            let (jar, token) = csrf::ensure(&st, jar);
            let page = login_page(
                &st,
                &token,
                req_id,
                name.as_deref(),
                Some(&form.username),
                Some(&message),
            )
            .await;
            return Ok((status, jar, page).into_response());
        }
    };
    st.metrics.logins.with_label_values(&["password_ok"]).inc();
    // Approving a device always takes both factors (see `web::device`).
    let for_device =
        crate::http::cookies::get(&jar, crate::http::cookies::RETURN).as_deref() == Some("device");
    let needs_2fa = req.as_ref().is_some_and(|r| r.require_2fa) || (req.is_none() && for_device);
    match st.core.after_password(&ctx, &user).await {
        Ok(AfterPassword::Challenge { challenge, step }) => {
            super::second_factor::start(&st, jar, &ctx, req_id, &challenge, &step).await
        }
        // No session yet: the user may only enrol, then this login continues.
        Ok(AfterPassword::MustEnrol) => {
            Ok(super::account::start_enrolment(&st, jar, req_id, &user))
        }
        Ok(AfterPassword::NotConfigured) if needs_2fa => {
            Ok(super::account::start_enrolment(&st, jar, req_id, &user))
        }
        Ok(AfterPassword::NotConfigured) => finish_login(&st, jar, &ctx, req_id, &user, None).await,
        Err(e) => super::second_factor::not_opened(&st, jar, req_id, e),
    }
}

/// "Sign in with a passkey": the options for a discoverable passkey (JSON for the script).
pub async fn passwordless_options(
    State(st): State<AppState>,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    Ok(match st.core.begin_passwordless().await {
        Ok(c) => axum::Json(c).into_response(),
        Err(e) => {
            tracing::info!(error = %e, "passwordless sign-in not started");
            crate::http::script_error(StatusCode::FORBIDDEN, t("passwordless-unavailable"))
        }
    })
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    req: Option<String>,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// The passkey's answer: a discoverable passkey with user verification is both factors.
pub async fn passwordless_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let req_id = form.req.as_deref().filter(|r| !r.is_empty());
    let req = pending_request(&st, req_id).await?;
    let ctx = addr.context();
    match st
        .core
        .finish_passwordless(&ctx, &form.ceremony, &form.credential)
        .await
    {
        Ok(user) => {
            st.metrics
                .second_factor
                .with_label_values(&["WEBAUTHN", "verified"])
                .inc();
            crate::login::finish_passwordless_login(&st, jar, &ctx, req_id, &user).await
        }
        Err(e) => {
            let (status, message) = match &e {
                CoreError::Locked => (StatusCode::FORBIDDEN, t("this-account-locked")),
                CoreError::Disabled => (StatusCode::FORBIDDEN, t("account-disabled")),
                CoreError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, t("too-many-attempts-later"))
                }
                CoreError::BadCredentials | CoreError::Refused(_) => {
                    (StatusCode::UNAUTHORIZED, t("passwordless-refused"))
                }
                _ => return Err(e.into()),
            };
            st.metrics
                .second_factor
                .with_label_values(&["WEBAUTHN", "refused"])
                .inc();
            let name = client_name(&st, req.as_ref()).await;
            let (jar, token) = csrf::ensure(&st, jar);
            let page = login_page(&st, &token, req_id, name.as_deref(), None, Some(&message)).await;
            Ok((status, jar, page).into_response())
        }
    }
}
