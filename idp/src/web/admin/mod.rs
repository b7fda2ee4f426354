//! The admin console (`/admin`, administrators only; anyone else gets 403): platform 2FA
//! settings, users, groups, OIDC clients, the audit log, and test messages for SMTP and SMS.
//!
//! Like the account page, each handler calls one operation of the core (or of idp's client
//! store) and re-renders a refusal next to its field; no rule is decided here.

pub mod audit;
pub mod clients;
pub mod groups;
pub mod hosts;
pub mod notify;
pub mod settings;
pub mod users;

use crate::error::Error;
use crate::http::see_other;
use crate::http::ClientAddr;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use std::collections::BTreeMap;
use stepgate_core::users::User;
use stepgate_core::{Error as CoreError, RequestContext, Source};

/// The signed-in administrator; otherwise a redirect to sign in, or 403 for anyone else.
pub async fn require_admin(
    st: &AppState,
    jar: &CookieJar,
) -> Result<Result<User, Response>, Error> {
    Ok(match crate::login::current_session(st, jar).await? {
        Some((_, u)) if u.is_admin() => Ok(u),
        Some(_) => Err(Error::page(
            StatusCode::FORBIDDEN,
            crate::i18n::t("err-admins-only-title"),
            crate::i18n::t("err-admins-only"),
        )
        .into_response()),
        None => Err(see_other("/login").into_response()),
    })
}

/// Admin actions are audited as coming through the admin door.
pub fn admin_ctx(addr: &ClientAddr) -> RequestContext {
    let ctx = RequestContext::new(Source::Admin);
    match &addr.0 {
        Some(a) => ctx.with_remote_addr(a.clone()),
        None => ctx,
    }
}

macro_rules! admin_or_return {
    ($st:expr, $jar:expr) => {
        match crate::web::admin::require_admin($st, $jar).await? {
            Ok(u) => u,
            Err(resp) => return Ok(resp),
        }
    };
}
pub(crate) use admin_or_return;

/// A refusal from the core (or the client store) as `(input id, message, status)`; `fields`
/// maps the core's field names to input ids. Failures of ours stay errors.
pub fn field_error(
    e: CoreError,
    default_field: &str,
    fields: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, String, StatusCode), Error> {
    Ok(match e {
        CoreError::Invalid {
            field,
            message,
            words,
        } => (
            fields(&field).unwrap_or_else(|| default_field.to_string()),
            crate::i18n::core_words(words, message),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        CoreError::NotFound(what) => (
            default_field.into(),
            crate::i18n::no_such(what),
            StatusCode::NOT_FOUND,
        ),
        CoreError::Conflict(said) | CoreError::Refused(said) => (
            default_field.into(),
            crate::i18n::said_in_words(&said),
            StatusCode::CONFLICT,
        ),
        CoreError::SendFailed(e) => (
            default_field.into(),
            crate::i18n::t_args("notify-failed", &[("why", e.to_string().into())]),
            StatusCode::BAD_GATEWAY,
        ),
        other => return Err(other.into()),
    })
}

/// Input id → message, for the templates.
pub type Errors = BTreeMap<String, String>;

pub use crate::http::url_segment;

pub fn one_error(field: String, message: String) -> Errors {
    let mut m = Errors::new();
    m.insert(field, message);
    m
}

/// Every admin route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(settings::overview))
        .route("/admin/settings", post(settings::save))
        .route("/admin/test/email", post(notify::test_email))
        .route("/admin/test/sms", post(notify::test_sms))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{username}", get(users::show).post(users::act))
        .route("/admin/groups", get(groups::list).post(groups::create))
        .route("/admin/groups/{name}", get(groups::show).post(groups::act))
        .route("/admin/hosts", get(hosts::list).post(hosts::create))
        .route("/admin/hosts/{name}", get(hosts::show).post(hosts::act))
        .route("/admin/clients", get(clients::list).post(clients::create))
        .route("/admin/clients/{client_id}", post(clients::act))
        .route("/admin/audit", get(audit::list))
}
