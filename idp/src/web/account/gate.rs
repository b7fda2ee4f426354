//! Who may use the account pages: a signed-in user (full page), or a user in the middle of a
//! login who must enrol a second factor first (a restricted, pre-session state).
//!
//! The restricted state is the HttpOnly `stepgate_enrol` cookie: `user_id:expiry:req:mac`,
//! where `mac` is an HMAC under the shared secrets key, so any instance can check it and a
//! browser cannot forge or stretch it. It grants no session and no token: only the enrolment
//! forms, and once a provider is enabled the original authorization request continues. It is
//! re-checked on every use: once the user has a usable second factor it is worthless (a stale
//! cookie must not replace the factor the user, or an administrator, has since set up).

use crate::error::Error;
use crate::http::cookies;
use crate::state::AppState;
use axum_extra::extract::cookie::CookieJar;
use stepgate_core::challenge::SecondFactor;
use stepgate_core::reauth::Proof;
use stepgate_core::users::User;

const SCOPE: &str = "stepgate forced enrolment";
/// Long enough to install an authenticator app and wait for a code.
const ENROL_LIFETIME: i64 = 900;

/// Who is looking at the account page.
pub enum Viewer {
    /// A full browser session, and when (and with what) its sign-in was.
    Signed(User, Proof),
    /// Must enrol before the login (for `req`, when it came from an application) may finish.
    Enrolling { user: User, req: Option<String> },
}

impl Viewer {
    pub fn user(&self) -> &User {
        match self {
            Viewer::Signed(u, _) | Viewer::Enrolling { user: u, .. } => u,
        }
    }
    pub fn is_enrolling(&self) -> bool {
        matches!(self, Viewer::Enrolling { .. })
    }
}

fn mac(st: &AppState, payload: &str) -> String {
    st.core.secrets().code_hash(SCOPE, payload)
}

/// The cookie that puts this browser in the restricted enrolment state for `user`.
pub fn enrol_cookie(st: &AppState, jar: CookieJar, user: &User, req: Option<&str>) -> CookieJar {
    let exp = st.now() + ENROL_LIFETIME;
    let payload = format!("{}:{exp}:{}", user.id, req.unwrap_or(""));
    let value = format!("{payload}:{}", mac(st, &payload));
    jar.add(cookies::build(
        cookies::ENROL,
        value,
        st.settings.secure_cookies,
    ))
}

pub fn clear_enrol(st: &AppState, jar: CookieJar) -> CookieJar {
    jar.add(cookies::removal(cookies::ENROL, st.settings.secure_cookies))
}

/// Reads the enrolment cookie: `(user_id, req)` if it is authentic and unexpired.
fn read_enrol(st: &AppState, jar: &CookieJar) -> Option<(String, Option<String>)> {
    let value = cookies::get(jar, cookies::ENROL)?;
    let (payload, presented) = value.rsplit_once(':')?;
    if !stepgate_core::secrets::hashes_equal(&mac(st, payload), presented) {
        return None;
    }
    let mut parts = payload.splitn(3, ':');
    let user_id = parts.next()?.to_string();
    let exp: i64 = parts.next()?.parse().ok()?;
    let req = parts.next()?.to_string();
    (exp > st.now()).then_some((user_id, Some(req).filter(|r| !r.is_empty())))
}

/// The viewer. A login waiting for enrolment wins over an older session in the same browser
/// (a password-only session that an application now wants upgraded to two factors): it is the
/// more recent intent, and finishing it replaces the session (`finish_login` also clears the
/// enrolment cookie).
pub async fn viewer(st: &AppState, jar: &CookieJar) -> Result<Option<Viewer>, Error> {
    if let Some((user_id, req)) = read_enrol(st, jar) {
        let user = st
            .core
            .user_by_id(&user_id)
            .await?
            .filter(|u| !u.disabled && !u.locked);
        if let Some(user) = user {
            let still_needed = !matches!(
                st.core.second_factor_for(&user).await?,
                SecondFactor::Required
            );
            if still_needed {
                crate::login::use_request_language(st, req.as_deref()).await;
                return Ok(Some(Viewer::Enrolling { user, req }));
            }
        }
    }
    Ok(crate::login::current_session(st, jar)
        .await?
        .map(|(session, user)| {
            let proof = Proof {
                at: session.auth_time,
                second_factor: session.acr == crate::login::ACR_2FA,
            };
            Viewer::Signed(user, proof)
        }))
}
