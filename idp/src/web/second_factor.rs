//! The second-factor page, driven only by the core's challenge: `after_password`,
//! `step_of`, `send_code`, `check_code_with_user`. "Try another way" is another provider of
//! the same challenge; every limit (send period, rate limit, lockout, time allowed) is the
//! core's, and each of its refusals gets its own message here.
//!
//! The challenge id lives in the HttpOnly `stepgate_challenge` cookie only, never in a URL or
//! a form, so a page or a log cannot leak the right to continue someone's login.

use crate::error::Error;
use crate::http::see_other;
use crate::http::{cookies, csrf, ClientAddr};
use crate::i18n::{t, t_args};
use crate::login::{finish_login, pending_request};
use crate::state::AppState;
use crate::templates::render;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::{Deserialize, Serialize};
use stepgate_core::challenge::{Challenge, CheckOutcome, Checked};
use stepgate_core::factors::EnrolledProvider;
use stepgate_core::step::{Prompt, Refusal, Step};
use stepgate_core::{Error as CoreError, ProviderType, RequestContext};

/// What the page says about a provider's prompt.
fn prompt_for(p: &EnrolledProvider) -> String {
    let dest = match &p.destination {
        Some(d) => d.clone(),
        None => t("second-factor-you"),
    };
    match p.provider {
        ProviderType::Totp => t("prompt-totp"),
        ProviderType::Sms => t_args("prompt-sms", &[("to", dest.into())]),
        ProviderType::Email => t_args("prompt-email", &[("to", dest.into())]),
        ProviderType::BackupCode => t("prompt-backup-code"),
        ProviderType::Webauthn => t("prompt-passkey"),
    }
}

/// The "try another way" label of a provider.
fn alternative_label(p: &EnrolledProvider) -> String {
    let dest = p.destination.clone().unwrap_or_default();
    match p.provider {
        ProviderType::Totp => t("alt-totp"),
        ProviderType::Sms => t_args("alt-sms", &[("to", dest.into())]),
        ProviderType::Email => t_args("alt-email", &[("to", dest.into())]),
        ProviderType::BackupCode => t("alt-backup-code"),
        ProviderType::Webauthn => t("alt-passkey"),
    }
}

fn page_url(req: Option<&str>, provider: ProviderType, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(r) = req {
        q.append_pair("req", r);
    }
    q.append_pair("provider", provider.as_str());
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/login/2fa?{}", q.finish())
}

fn restart_url(req: Option<&str>) -> String {
    match req {
        Some(r) => {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("req", r);
            format!("/login?{}", q.finish())
        }
        None => "/login".into(),
    }
}

#[derive(Serialize)]
struct Alternative {
    provider: &'static str,
    label: String,
    /// SMS/EMAIL: a button that sends a code; the others: a link.
    sent: bool,
    href: String,
}

/// What one rendering of the page shows.
#[derive(Default)]
struct View {
    notice: Option<String>,
    error: Option<String>,
    /// The login cannot continue (locked, expired, closed): only "sign in again" is offered.
    finished: bool,
    status: Option<StatusCode>,
}

impl View {
    fn error(status: StatusCode, message: impl Into<String>) -> View {
        View {
            error: Some(message.into()),
            status: Some(status),
            ..View::default()
        }
    }
    fn finished(status: StatusCode, message: impl Into<String>) -> View {
        View {
            finished: true,
            ..View::error(status, message)
        }
    }
}

/// The words for why the core's step cannot go on: one catalogue message per refusal (the
/// core's own sentences are English, for logs and PAM). No catch-all arm, so a new refusal
/// cannot reach the page without words of its own.
fn refusal_view(refusal: Refusal) -> View {
    match refusal {
        Refusal::Expired => View::finished(StatusCode::BAD_REQUEST, t("verification-time-up")),
        Refusal::Locked => View::finished(StatusCode::FORBIDDEN, t("your-account-locked")),
        Refusal::Closed => View::finished(StatusCode::BAD_REQUEST, t("verification-finished")),
        Refusal::NoProvider => View::finished(StatusCode::FORBIDDEN, t("no-second-factor-left")),
        Refusal::PasskeyOnly => View::finished(StatusCode::FORBIDDEN, t("passkey-only-here")),
    }
}

/// Each refusal of the core gets its own words. Unexpected errors are ours.
fn view_for(e: CoreError) -> Result<View, Error> {
    Ok(match e {
        CoreError::Locked => View::finished(StatusCode::FORBIDDEN, t("your-account-locked")),
        CoreError::RateLimited { retry_after } => View::error(
            StatusCode::TOO_MANY_REQUESTS,
            t_args("too-many-attempts-wait", &[("seconds", retry_after.into())]),
        ),
        CoreError::ChallengeExpired => {
            View::finished(StatusCode::BAD_REQUEST, t("verification-time-up"))
        }
        CoreError::ChallengeClosed => {
            View::finished(StatusCode::BAD_REQUEST, t("verification-finished"))
        }
        CoreError::NotFound(_) => View::finished(StatusCode::BAD_REQUEST, t("sign-in-expired")),
        CoreError::Disabled => View::finished(StatusCode::FORBIDDEN, t("account-disabled")),
        CoreError::SendTooSoon { retry_after } => View::error(
            StatusCode::TOO_MANY_REQUESTS,
            t_args("code-sent-recently", &[("seconds", retry_after.into())]),
        ),
        CoreError::SendFailed(_) => View::error(StatusCode::BAD_GATEWAY, t("send-failed")),
        CoreError::ProviderUnavailable(_) => {
            View::error(StatusCode::BAD_REQUEST, t("method-unavailable"))
        }
        // Here only a provider that sends nothing asked to send: the core's sentence is for
        // logs, the page says the method is not there.
        CoreError::Invalid { field, message, .. } => {
            tracing::info!(%field, %message, "second-factor request refused");
            View::error(StatusCode::BAD_REQUEST, t("method-unavailable"))
        }
        other => return Err(other.into()),
    })
}

/// The page of a login that cannot go on here: the message, and a link to start again.
fn finished_page(jar: CookieJar, token: &str, req: Option<&str>, view: View) -> Response {
    let status = view.status.unwrap_or(StatusCode::BAD_REQUEST);
    let html = render(
        "second_factor.html",
        context! { csrf => token, finished => true, error => view.error, restart => restart_url(req) },
    );
    (status, jar, html).into_response()
}

/// Renders the page for the challenge in the cookie.
async fn render_page(
    st: &AppState,
    jar: CookieJar,
    req: Option<&str>,
    wanted: Option<ProviderType>,
    view: View,
) -> Result<Response, Error> {
    let (jar, token) = csrf::ensure(st, jar);
    let finished_page = |jar: CookieJar, view: View| Ok(finished_page(jar, &token, req, view));
    if view.finished {
        return finished_page(jar, view);
    }
    let Some(id) = cookies::get(&jar, cookies::CHALLENGE) else {
        return finished_page(
            jar,
            View::finished(StatusCode::BAD_REQUEST, t("sign-in-expired")),
        );
    };
    let challenge = match st.core.challenge(&id).await {
        Ok(c) => c,
        Err(e) => return finished_page(jar, view_for(e)?),
    };
    let step = match st.core.step_of(&challenge, wanted).await {
        Ok(s) => s,
        Err(e) => return finished_page(jar, view_for(e)?),
    };
    challenge_page(jar, &token, req, view, &step)
}

/// The page of the core's step: the current provider's form, and the others as "try another
/// way"; a refusal is a finished page.
fn challenge_page(
    jar: CookieJar,
    token: &str,
    req: Option<&str>,
    mut view: View,
    step: &Step,
) -> Result<Response, Error> {
    let restart = restart_url(req);
    let current = match (step.refusal, step.current_listed()) {
        (None, Some(current)) => current,
        (None, None) => {
            let view = refusal_view(Refusal::NoProvider);
            return Ok(finished_page(jar, token, req, view));
        }
        (Some(refusal), _) => return Ok(finished_page(jar, token, req, refusal_view(refusal))),
    };
    if step.wanted_unavailable && view.error.is_none() {
        view.error = Some(t("method-unavailable"));
    }
    let alternatives: Vec<Alternative> = step
        .alternatives()
        .map(|p| Alternative {
            provider: p.provider.as_str(),
            label: alternative_label(p),
            sent: p.provider.is_sent(),
            href: page_url(req, p.provider, &[]),
        })
        .collect();
    let passkey = current.provider == ProviderType::Webauthn;
    let html = render(
        "second_factor.html",
        context! {
            csrf => token,
            req,
            passkey,
            provider => current.provider.as_str(),
            prompt => prompt_for(current),
            digits => step.prompt.map_or(6, Prompt::digits),
            can_resend => current.provider.is_sent(),
            alternatives,
            notice => view.notice,
            error => view.error,
            finished => false,
            restart,
        },
    );
    let resp = (view.status.unwrap_or(StatusCode::OK), jar, html).into_response();
    Ok(if passkey {
        crate::http::allow_own_script(resp)
    } else {
        resp
    })
}

/// Sends a code with `provider` and says how it went, as a view.
async fn send(
    st: &AppState,
    ctx: &RequestContext,
    challenge_id: &str,
    provider: ProviderType,
) -> Result<View, Error> {
    match st.core.send_code(ctx, challenge_id, provider).await {
        Ok(sent) => Ok(View {
            notice: Some(t_args("code-sent-to", &[("to", sent.destination.into())])),
            ..View::default()
        }),
        Err(e) => view_for(e),
    }
}

/// The page of a login whose challenge could not be opened after a correct password (the
/// account was locked or disabled meanwhile, say).
pub fn not_opened(
    st: &AppState,
    jar: CookieJar,
    req: Option<&str>,
    e: CoreError,
) -> Result<Response, Error> {
    let view = view_for(e)?;
    let view = View {
        status: Some(view.status.unwrap_or(StatusCode::FORBIDDEN)),
        ..view
    };
    let (jar, token) = csrf::ensure(st, jar);
    Ok(finished_page(jar, &token, req, view))
}

/// After a correct password, with the challenge the core opened and its first step: sends the
/// default provider's code when it is SMS or email, and shows the page.
pub async fn start(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    req: Option<&str>,
    challenge: &Challenge,
    step: &Step,
) -> Result<Response, Error> {
    let jar = jar.add(cookies::build(
        cookies::CHALLENGE,
        challenge.id.clone(),
        st.settings.secure_cookies,
    ));
    let Some(default) = step.current else {
        return render_page(st, jar, req, None, View::default()).await;
    };
    if !step.send_on_entry {
        // Nothing to send, so nothing a reload could repeat: this answer is the page itself,
        // one round trip fewer than a redirect to it.
        let (jar, token) = csrf::ensure(st, jar);
        let view = View {
            status: Some(StatusCode::OK),
            ..View::default()
        };
        return challenge_page(jar, &token, req, view, step);
    }
    let status: Vec<(&str, String)> = match st.core.send_code(ctx, &challenge.id, default).await {
        Ok(_) => vec![("status", "sent".into())],
        Err(CoreError::SendTooSoon { retry_after }) => {
            vec![
                ("status", "too_soon".into()),
                ("wait", retry_after.to_string()),
            ]
        }
        Err(CoreError::SendFailed(_)) => vec![("status", "send_failed".into())],
        Err(e) => {
            let view = view_for(e)?;
            return render_page(st, jar, req, Some(default), view).await;
        }
    };
    let extra: Vec<(&str, &str)> = status.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok((jar, see_other(&page_url(req, default, &extra))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    req: Option<String>,
    provider: Option<String>,
    status: Option<String>,
    /// Text, not a number, so that a wrong one is ignored rather than refused.
    wait: Option<String>,
}

/// The longest wait the page repeats from its URL: `minVerificationCodeSendPeriod` is seconds
/// between sends, and a day is far beyond any sensible one.
const MAX_SHOWN_WAIT: i64 = 86_400;

/// A `wait=` of the URL as seconds to show: 1 to [`MAX_SHOWN_WAIT`] written in plain digits,
/// else nothing.
fn shown_wait(raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 5 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse()
        .ok()
        .filter(|n| (1..=MAX_SHOWN_WAIT).contains(n))
}

pub async fn page_get(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<PageQuery>,
) -> Result<Response, Error> {
    let req = q.req.as_deref().filter(|r| !r.is_empty());
    crate::login::use_request_language(&st, req).await;
    let wanted = q.provider.as_deref().and_then(|p| p.parse().ok());
    let view = match q.status.as_deref() {
        Some("sent") => {
            // Name the destination the core masks, from the challenge's provider list.
            let dest = match (cookies::get(&jar, cookies::CHALLENGE), wanted) {
                (Some(id), Some(w)) => st
                    .core
                    .challenge_providers(&id)
                    .await
                    .ok()
                    .and_then(|ps| ps.into_iter().find(|p| p.provider == w))
                    .and_then(|p| p.destination),
                _ => None,
            };
            View {
                notice: Some(match dest {
                    Some(d) => t_args("code-sent-to", &[("to", d.into())]),
                    None => t("code-sent"),
                }),
                ..View::default()
            }
        }
        // `wait` comes from the URL, so anyone can write it: only a wait the core could have
        // asked for is shown, else the sentence without a number.
        Some("too_soon") => match q.wait.as_deref().and_then(shown_wait) {
            Some(seconds) => view_for(CoreError::SendTooSoon {
                retry_after: seconds,
            })?,
            None => View::error(StatusCode::TOO_MANY_REQUESTS, t("code-sent-recently-later")),
        },
        Some("send_failed") => View::error(StatusCode::OK, t("send-failed")),
        _ => View::default(),
    };
    let view = View {
        status: Some(StatusCode::OK),
        ..view
    };
    render_page(&st, jar, req, wanted, view).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    req: Option<String>,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    code: String,
}

pub async fn verify_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    pending_request(&st, req).await?;
    let Ok(provider) = form.provider.parse::<ProviderType>() else {
        let view = View::error(StatusCode::BAD_REQUEST, t("choose-verification-method"));
        return render_page(&st, jar, req, None, view).await;
    };
    let Some(id) = cookies::get(&jar, cookies::CHALLENGE) else {
        let view = View::finished(StatusCode::BAD_REQUEST, t("sign-in-expired"));
        return render_page(&st, jar, req, None, view).await;
    };
    let ctx = addr.context();
    let result = st
        .core
        .check_code_with_user(&ctx, &id, provider, &form.code)
        .await;
    after_check(&st, jar, &ctx, req, provider, result).await
}

/// Turns the core's answer to a code or a passkey into the next page: the finished login, or
/// the page again with what went wrong.
async fn after_check(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    req: Option<&str>,
    provider: ProviderType,
    result: Result<Checked, CoreError>,
) -> Result<Response, Error> {
    let st = st.clone();
    st.metrics
        .count_check("oidc", provider, result.as_ref().map(|c| &c.outcome));
    match result {
        Ok(Checked {
            outcome: CheckOutcome::Verified(used),
            user,
        }) => finish_login(&st, jar, ctx, req, &user, Some(used)).await,
        Ok(Checked {
            outcome: CheckOutcome::WrongCode { attempts_left },
            ..
        }) => {
            let passkey = provider == ProviderType::Webauthn;
            let message = match (attempts_left, passkey) {
                (Some(n), false) => t_args("code-wrong-attempts", &[("n", n.into())]),
                (Some(n), true) => t_args("passkey-wrong-attempts", &[("n", n.into())]),
                (None, false) => t("code-wrong"),
                (None, true) => t("passkey-wrong"),
            };
            let view = View::error(StatusCode::OK, message);
            render_page(&st, jar, req, Some(provider), view).await
        }
        Err(e) => {
            let view = view_for(e)?;
            render_page(&st, jar, req, Some(provider), view).await
        }
    }
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    req: Option<String>,
    #[serde(default)]
    provider: String,
}

/// "Resend code", and "try another way" towards SMS or email.
pub async fn send_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    pending_request(&st, req).await?;
    let provider = form.provider.parse::<ProviderType>().ok();
    let Some(id) = cookies::get(&jar, cookies::CHALLENGE) else {
        let view = View::finished(StatusCode::BAD_REQUEST, t("sign-in-expired"));
        return render_page(&st, jar, req, provider, view).await;
    };
    let view = match provider {
        Some(p) if p.is_sent() => send(&st, &addr.context(), &id, p).await?,
        Some(_) => View::default(),
        None => View::error(StatusCode::BAD_REQUEST, t("choose-verification-method")),
    };
    render_page(&st, jar, req, provider, view).await
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    req: Option<String>,
    #[serde(default)]
    credential: String,
}

/// "Use your passkey": the options for `navigator.credentials.get()` (JSON for the script).
pub async fn passkey_options(
    State(st): State<AppState>,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let Some(id) = cookies::get(&jar, cookies::CHALLENGE) else {
        return Ok(crate::http::script_error(
            StatusCode::BAD_REQUEST,
            t("sign-in-expired"),
        ));
    };
    Ok(match st.core.begin_passkey_check(&id).await {
        Ok(c) => axum::Json(c).into_response(),
        Err(e) => {
            // The core's reason is for the log; the page gets the same words as a form would.
            tracing::info!(error = %e, "passkey check not started");
            let words = match view_for(e) {
                Ok(View {
                    error: Some(words), ..
                }) => words,
                _ => t("passkey-failed"),
            };
            crate::http::script_error(StatusCode::FORBIDDEN, words)
        }
    })
}

/// The passkey's assertion, checked like a code.
pub async fn passkey_post(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    pending_request(&st, req).await?;
    let Some(id) = cookies::get(&jar, cookies::CHALLENGE) else {
        let view = View::finished(StatusCode::BAD_REQUEST, t("sign-in-expired"));
        return render_page(&st, jar, req, None, view).await;
    };
    let ctx = addr.context();
    let result = st
        .core
        .check_passkey_with_user(&ctx, &id, &form.credential)
        .await;
    after_check(&st, jar, &ctx, req, ProviderType::Webauthn, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_small_wait_from_the_url_is_shown() {
        assert_eq!(shown_wait("30"), Some(30));
        assert_eq!(shown_wait("86400"), Some(86_400));
        for bad in [
            "", "0", "86401", "99999", "123456", "-5", "+5", "3e2", " 30", "30s", "٣٠", "<b>",
        ] {
            assert_eq!(shown_wait(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_refusal_has_its_own_words() {
        let all = [
            Refusal::Expired,
            Refusal::Locked,
            Refusal::Closed,
            Refusal::NoProvider,
            Refusal::PasskeyOnly,
        ];
        let words: std::collections::BTreeSet<String> = all
            .into_iter()
            .map(|r| {
                let v = refusal_view(r);
                assert!(v.finished, "{r:?} ends the login");
                let w = v.error.expect("words");
                // From the catalogue, not the core's English sentence.
                assert_ne!(w, r.to_string(), "{r:?}");
                w
            })
            .collect();
        assert_eq!(words.len(), all.len(), "{words:?}");
    }
}
