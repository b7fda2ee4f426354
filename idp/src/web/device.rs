//! `/device`: where a person approves a device authorization (RFC 8628 §3.3).
//!
//! 1. `GET /device[?user_code=…]` asks for the code (prefilled from `verification_uri_complete`,
//!    still to be confirmed: a link alone approves nothing). `POST /device` finds it through
//!    the core, which counts and audits wrong codes and refuses when a bucket is empty.
//! 2. The right code puts the authorization's public id in the HttpOnly `stepgate_device`
//!    cookie. Approving needs a sign-in with both factors that is fresh (the account page's
//!    rule, `[account] reauth_seconds`); without one the browser goes through the usual login
//!    pages (every provider, limit and lockout; enrolment first for a user without a factor),
//!    which come back to `/device/approve`.
//! 3. `/device/approve` names the client and the scopes it asked for, with Approve and Deny.
//!    A client with allowed groups admits only their members: anyone else's approval is
//!    refused, audited, and the device hears `access_denied`. A PAM login's approval (a host
//!    waiting) names the host instead, and is `login_approval`'s.

use crate::error::Error;
use crate::http::{cookies, csrf, see_other, ClientAddr};
use crate::login::{current_session, ACR_2FA};
use crate::state::AppState;
use crate::store::clients;
use crate::store::sessions::Session;
use crate::templates::render;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Deserialize;
use stepgate_core::audit::{self, Event, EventKind};
use stepgate_core::device::{Decision, DeviceAuthorization, DeviceState, GuessLimits, GuessSource};
use stepgate_core::reauth::Proof;
use stepgate_core::users::User;
use stepgate_core::Error as CoreError;

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    user_code: Option<String>,
}

/// The code form, with an error (one of the template's keys) when there is one.
fn code_page(
    st: &AppState,
    jar: CookieJar,
    status: StatusCode,
    user_code: Option<&str>,
    error: Option<&str>,
    retry_after: Option<i64>,
) -> Response {
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "device.html",
        context! { step => "code", csrf => token, user_code, error, retry_after },
    );
    (status, jar, html).into_response()
}

pub async fn code_get(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<CodeQuery>,
) -> Response {
    let code = q.user_code.map(|c| c.chars().take(20).collect::<String>());
    code_page(&st, jar, StatusCode::OK, code.as_deref(), None, None)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
}

pub async fn code_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let typed = form.user_code.trim();
    if typed.is_empty() {
        return Ok(code_page(
            &st,
            jar,
            StatusCode::BAD_REQUEST,
            None,
            Some("empty"),
            None,
        ));
    }
    let source = GuessSource {
        browser: cookies::get(&jar, cookies::CSRF),
        address: addr.0.clone(),
    };
    let found = st
        .core
        .device_by_user_code(&addr.context(), typed, &source, &GuessLimits::default())
        .await;
    let auth = match found {
        Ok(a) => a,
        Err(CoreError::NotFound(_)) => {
            st.metrics
                .logins
                .with_label_values(&["device_code_wrong"])
                .inc();
            return Ok(code_page(
                &st,
                jar,
                StatusCode::BAD_REQUEST,
                Some(typed),
                Some("wrong"),
                None,
            ));
        }
        Err(CoreError::RateLimited { retry_after }) => {
            st.metrics
                .logins
                .with_label_values(&["device_code_rate_limited"])
                .inc();
            return Ok(code_page(
                &st,
                jar,
                StatusCode::TOO_MANY_REQUESTS,
                Some(typed),
                Some("limited"),
                Some(retry_after),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(error) = not_waiting(&auth) {
        return Ok(code_page(
            &st,
            jar,
            StatusCode::BAD_REQUEST,
            Some(typed),
            Some(error),
            None,
        ));
    }
    let jar = jar.add(cookies::build(
        cookies::DEVICE,
        auth.id.clone(),
        st.settings.secure_cookies,
    ));
    to_approval(&st, jar).await
}

/// Why an authorization can no longer be approved (a template error key), if it cannot.
fn not_waiting(auth: &DeviceAuthorization) -> Option<&'static str> {
    match auth.state {
        DeviceState::Pending => None,
        DeviceState::Expired => Some("expired"),
        DeviceState::Approved | DeviceState::Denied | DeviceState::Consumed => Some("used"),
    }
}

/// The signed-in user, if their sign-in passed a second factor and is fresh enough to approve.
async fn fresh_viewer(st: &AppState, jar: &CookieJar) -> Result<Option<(Session, User)>, Error> {
    let Some((session, user)) = current_session(st, jar).await? else {
        return Ok(None);
    };
    if session.acr != ACR_2FA {
        return Ok(None);
    }
    let proof = Proof {
        at: session.auth_time,
        second_factor: true,
    };
    match st.core.check_fresh(&user, Some(proof)).await {
        Ok(()) => Ok(Some((session, user))),
        Err(CoreError::StepUpRequired { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// To the approval if this browser's sign-in will do, else through a sign-in that comes back.
async fn to_approval(st: &AppState, jar: CookieJar) -> Result<Response, Error> {
    if fresh_viewer(st, &jar).await?.is_some() {
        return Ok((jar, see_other("/device/approve")).into_response());
    }
    let jar = jar.add(cookies::build(
        cookies::RETURN,
        "device".into(),
        st.settings.secure_cookies,
    ));
    Ok((jar, see_other("/login")).into_response())
}

/// The authorization named by this browser's cookie, while it still waits for an answer.
async fn waiting(st: &AppState, jar: &CookieJar) -> Result<Option<DeviceAuthorization>, Error> {
    let Some(id) = cookies::get(jar, cookies::DEVICE) else {
        return Ok(None);
    };
    let auth = st.core.device_authorization(&id).await?;
    Ok(auth.filter(|a| not_waiting(a).is_none()))
}

fn bad_form() -> Error {
    Error::page(
        StatusCode::BAD_REQUEST,
        crate::i18n::t("device-bad-form-title"),
        crate::i18n::t("device-bad-form"),
    )
}

pub(super) fn gone(st: &AppState, jar: CookieJar) -> Response {
    let jar = jar.add(cookies::removal(
        cookies::DEVICE,
        st.settings.secure_cookies,
    ));
    code_page(st, jar, StatusCode::BAD_REQUEST, None, Some("gone"), None)
}

async fn client_of(st: &AppState, auth: &DeviceAuthorization) -> Result<clients::Client, Error> {
    let id = auth.client_id.as_deref().unwrap_or("");
    clients::get(st.core.db(), id).await?.ok_or_else(|| {
        Error::page(
            StatusCode::BAD_REQUEST,
            crate::i18n::t("device-removed-title"),
            crate::i18n::t("device-client-removed"),
        )
    })
}

pub async fn approve_get(State(st): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    let Some(auth) = waiting(&st, &jar).await? else {
        return Ok(gone(&st, jar));
    };
    let Some((_, user)) = fresh_viewer(&st, &jar).await? else {
        return to_approval(&st, jar).await;
    };
    if let Some(login) = &auth.login {
        return super::login_approval::page(&st, jar, &auth, login, &user).await;
    }
    let client = client_of(&st, &auth).await?;
    let (jar, token) = csrf::ensure(&st, jar);
    let html = render(
        "device.html",
        context! {
            step => "approve",
            csrf => token,
            client_name => client.display_name(),
            username => user.username,
            scopes => auth.scopes,
        },
    );
    Ok((jar, html).into_response())
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

pub async fn approve_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let Some(auth) = waiting(&st, &jar).await? else {
        return Ok(gone(&st, jar));
    };
    let Some((session, user)) = fresh_viewer(&st, &jar).await? else {
        return to_approval(&st, jar).await;
    };
    let ctx = addr.context();
    if auth.login.is_some() {
        let approve = match form.decision.as_str() {
            "approve" => true,
            "deny" => false,
            _ => return Err(bad_form()),
        };
        let jar = jar.add(cookies::removal(
            cookies::DEVICE,
            st.settings.secure_cookies,
        ));
        return super::login_approval::decide(&st, &ctx, jar, &auth, &session, &user, approve)
            .await;
    }
    let client = client_of(&st, &auth).await?;
    let mut refused = false;
    let decision = match form.decision.as_str() {
        "approve" => {
            let admitted = client.allowed_groups.is_empty()
                || client.admits(&st.core.groups_of(&user.id).await?);
            if admitted {
                Decision::Approve {
                    amr: session.amr.clone(),
                    acr: session.acr.clone(),
                    auth_time: session.auth_time,
                }
            } else {
                refused = true;
                let event = Event::new(EventKind::ClientLoginRefused)
                    .user(&user.id, &user.username)
                    .detail(format!(
                        "client={} allowed_groups={} device_authorization={}: the user is in \
                         none of them",
                        client.client_id,
                        client.allowed_groups.join(","),
                        auth.id
                    ));
                audit::record_alone(&st.core, &ctx, event).await?;
                Decision::Deny
            }
        }
        "deny" => Decision::Deny,
        _ => return Err(bad_form()),
    };
    match st
        .core
        .decide_device(&ctx, &auth.id, &user, &decision)
        .await
    {
        Ok(_) => {}
        Err(CoreError::Refused(_)) => return Ok(gone(&st, jar)),
        Err(e) => return Err(e.into()),
    }
    let approved = matches!(decision, Decision::Approve { .. });
    tracing::info!(user = %user.username, client = %client.client_id,
        device_authorization = %auth.id, approved, "device authorization answered");
    let jar = jar.add(cookies::removal(
        cookies::DEVICE,
        st.settings.secure_cookies,
    ));
    let status = if refused {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let html = render(
        "device.html",
        context! {
            step => "done",
            approved,
            refused,
            client_name => client.display_name(),
        },
    );
    Ok((status, jar, html).into_response())
}
