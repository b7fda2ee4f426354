//! The approval page for a PAM login waiting at a host ("approve in your browser"): reached
//! through `/device` with the code the terminal shows. It names the host, the service, the
//! remote address, the terminal and when the login began, so the person can tell their own
//! login from someone else's; only the login's own user may answer, and the answer counts as
//! the second factor this browser's sign-in was verified with (the core decides).

use crate::error::Error;
use crate::state::AppState;
use crate::store::sessions::Session;
use crate::templates::render;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::device::{DeviceAuthorization, LoginOrigin};
use stepgate_core::users::User;
use stepgate_core::words;
use stepgate_core::{Error as CoreError, RequestContext};

fn another_account() -> Error {
    Error::page(
        StatusCode::FORBIDDEN,
        crate::i18n::t("approval-other-title"),
        crate::i18n::t("approval-other"),
    )
}

/// Approve or deny, with where the login comes from.
pub async fn page(
    st: &AppState,
    jar: CookieJar,
    auth: &DeviceAuthorization,
    login: &LoginOrigin,
    user: &User,
) -> Result<Response, Error> {
    let theirs = st.core.login_is_theirs(login, user).await?;
    if !theirs {
        return Err(another_account());
    }
    let (jar, token) = crate::http::csrf::ensure(st, jar);
    let html = render(
        "device.html",
        context! {
            step => "approve_login",
            csrf => token,
            username => user.username,
            host => login.host,
            service => login.service,
            remote_addr => login.remote_addr,
            tty => login.tty,
            began => crate::timefmt::seconds(auth.created_at),
        },
    );
    Ok((jar, html).into_response())
}

/// Records the decision through the core and tells the person what the host will do.
pub async fn decide(
    st: &AppState,
    ctx: &RequestContext,
    jar: CookieJar,
    auth: &DeviceAuthorization,
    session: &Session,
    user: &User,
    approve: bool,
) -> Result<Response, Error> {
    // A session from before sessions recorded their second factor cannot say what an
    // approval would count as: sign in again (the fresh-sign-in rule would ask soon anyway).
    let Some(provider) = session.second_factor else {
        let html = render(
            "device.html",
            context! { step => "login_done", result => "sign-in-again", host => "" },
        );
        return Ok((StatusCode::FORBIDDEN, jar, html).into_response());
    };
    let outcome = st
        .core
        .decide_login_approval(ctx, auth, user, provider, approve)
        .await;
    let host = auth.login.as_ref().and_then(|l| l.host.clone());
    let result = match outcome {
        Ok(CheckOutcome::Verified(_)) => "approved",
        Ok(CheckOutcome::WrongCode { .. }) => "denied",
        Err(CoreError::Refused(said)) if said.words == words::APPROVAL_OTHER_ACCOUNT => {
            return Err(another_account())
        }
        Err(CoreError::Refused(_)) => return Ok(super::device::gone(st, jar)),
        Err(CoreError::ChallengeExpired | CoreError::ChallengeClosed | CoreError::Disabled) => {
            "over"
        }
        Err(CoreError::Locked) => "locked",
        Err(CoreError::RateLimited { .. }) => "limited",
        Err(CoreError::ProviderUnavailable(_)) => "provider-gone",
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user = %user.username, device_authorization = %auth.id, result,
        "login approval answered");
    let status = match result {
        "approved" | "denied" => StatusCode::OK,
        "limited" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let html = render(
        "device.html",
        context! { step => "login_done", result, host },
    );
    Ok((status, jar, html).into_response())
}
