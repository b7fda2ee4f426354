//! "Send a test message to …": checks that the configured SMTP server or SMS gateway
//! delivers, from the console, without waiting for a user to need a code.

use super::settings::render_overview;
use super::{admin_or_return, one_error};
use crate::error::Error;
use crate::http::csrf;
use crate::i18n::{t, t_args};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    to: String,
}

/// An address that the core would refuse for a user is the admin's typo, not a failure of the
/// mail server or SMS gateway: 400, so monitoring that watches for 502s is not woken by it.
fn invalid(message: String) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, message)
}

/// Nothing was delivered through the upstream sender (or none is configured).
fn undelivered(message: String) -> (StatusCode, String) {
    (StatusCode::BAD_GATEWAY, message)
}

const TEST_TEXT: &str = "This is a test message from Stepgate. If you received it, sending works.";

async fn answer(
    st: &AppState,
    jar: CookieJar,
    field: &str,
    result: Result<String, (StatusCode, String)>,
) -> Result<Response, Error> {
    let settings = st.core.twofa_settings().await?;
    match result {
        Ok(notice) => {
            render_overview(
                st,
                jar,
                &settings,
                Default::default(),
                Some(notice),
                StatusCode::OK,
            )
            .await
        }
        Err((status, message)) => {
            render_overview(
                st,
                jar,
                &settings,
                one_error(field.into(), message),
                None,
                status,
            )
            .await
        }
    }
}

pub async fn test_email(
    State(st): State<AppState>,
    jar: CookieJar,
    Form(form): Form<TestForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let to = form.to.trim();
    let result = if let Err(m) = stepgate_core::codes::validate_email(to) {
        Err(invalid(t_args(
            "notify-not-email",
            &[("why", crate::i18n::said_in_words(&m.into()).into())],
        )))
    } else {
        match st.core.mailer() {
            None => Err(undelivered(t("settings-test-email-off"))),
            Some(m) => m
                .send(to, "Stepgate test message", TEST_TEXT)
                .await
                .map(|()| t_args("notify-email-sent", &[("to", to.to_string().into())]))
                .map_err(|e| {
                    undelivered(t_args("notify-failed", &[("why", e.to_string().into())]))
                }),
        }
    };
    answer(&st, jar, "test-email", result).await
}

pub async fn test_sms(
    State(st): State<AppState>,
    jar: CookieJar,
    Form(form): Form<TestForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let to = form.to.trim();
    let result = if let Err(m) = stepgate_core::codes::validate_e164(to) {
        Err(invalid(t_args(
            "notify-not-phone",
            &[("why", crate::i18n::said_in_words(&m.into()).into())],
        )))
    } else {
        match st.core.sms_sender() {
            None => Err(undelivered(t("settings-test-sms-off"))),
            Some(s) => s
                .send(to, TEST_TEXT)
                .await
                .map(|()| t_args("notify-sms-sent", &[("to", to.to_string().into())]))
                .map_err(|e| {
                    undelivered(t_args("notify-failed", &[("why", e.to_string().into())]))
                }),
        }
    };
    answer(&st, jar, "test-sms", result).await
}
