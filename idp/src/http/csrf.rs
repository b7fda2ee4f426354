//! CSRF protection for every form: the browser holds a random value in the HttpOnly
//! `stepgate_csrf` cookie, and each form carries `csrf = HMAC(secrets key, that value)`. A
//! cross-site page can neither read the cookie nor compute the HMAC, and because the key is the
//! shared secrets key any instance can check a form rendered by another.

use super::cookies;
use crate::error::Error;
use crate::state::AppState;
use axum::http::StatusCode;
use axum_extra::extract::cookie::CookieJar;

const SCOPE: &str = "stepgate csrf";

fn token_for(st: &AppState, cookie_value: &str) -> String {
    st.core.secrets().code_hash(SCOPE, cookie_value)
}

/// The token to put in this browser's forms, setting the cookie first if it has none.
pub fn ensure(st: &AppState, jar: CookieJar) -> (CookieJar, String) {
    match cookies::get(&jar, cookies::CSRF) {
        Some(v) => {
            let token = token_for(st, &v);
            (jar, token)
        }
        None => {
            let v = crate::crypto::random_token();
            let token = token_for(st, &v);
            let jar = jar.add(cookies::build(cookies::CSRF, v, st.settings.secure_cookies));
            (jar, token)
        }
    }
}

/// Refuses a form whose token does not match this browser's cookie.
pub fn check(st: &AppState, jar: &CookieJar, presented: Option<&str>) -> Result<(), Error> {
    let ok = match (cookies::get(jar, cookies::CSRF), presented) {
        (Some(v), Some(p)) => stepgate_core::secrets::hashes_equal(&token_for(st, &v), p),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::page(
            StatusCode::FORBIDDEN,
            crate::i18n::t("err-form-expired-title"),
            crate::i18n::t("err-form-expired"),
        ))
    }
}
