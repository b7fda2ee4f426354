//! The three cookies of the login pages, all `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//! `Secure` when the issuer is https:
//!
//! - `stepgate_session`: the browser session, set only after a completed login;
//! - `stepgate_challenge`: the core's challenge id between the password and the second factor
//!   (whoever holds it may continue that login, so scripts must not read it);
//! - `stepgate_csrf`: the per-browser value the forms' CSRF tokens are derived from.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

pub const SESSION: &str = "stepgate_session";
pub const CHALLENGE: &str = "stepgate_challenge";
pub const CSRF: &str = "stepgate_csrf";
/// The restricted forced-enrolment state (see `web::account::gate`).
pub const ENROL: &str = "stepgate_enrol";
/// Where a direct sign-in goes when it completes: set by "Sign in again" on the account page
/// (`account`), or by the device approval page (`device`): two fixed places, so it can never
/// redirect anywhere else.
pub const RETURN: &str = "stepgate_return";
/// The device authorization this browser is approving (its public id), between the code and
/// the approval, across a sign-in (see `web::device`).
pub const DEVICE: &str = "stepgate_device";

/// A browser-session cookie (no `Max-Age`): how long what it names stays valid is decided
/// by the database row, not by the browser.
pub fn build(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .build()
}

/// A cookie that deletes `name` in the browser.
pub fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = build(name, String::new(), secure);
    c.make_removal();
    c
}

pub fn get(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}
