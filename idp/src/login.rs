//! What happens around a login, for every door that starts or ends one: the current browser
//! session, the pending authorization request, finishing a login (session, audit, the code for
//! the application), ending a session, and the sign-in form for a stored request. The pages
//! (`web`) and the authorization endpoint (`oidc`) both call this module.

use crate::crypto;
use crate::error::Error;
use crate::http::{cookies, csrf, redirect_with, see_other};
use crate::state::{AppState, CODE_LIFETIME};
use crate::store::clients::{self, Client, GrantType};
use crate::store::grants::{self, Code, Grant};
use crate::store::requests::{self, AuthRequest, Taken};
use crate::store::sessions::{self, Session};
use crate::templates::render;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use stepgate_core::audit::{self, Event, EventKind};
use stepgate_core::db::Batch;
use stepgate_core::users::User;
use stepgate_core::{ProviderType, RequestContext};

/// RFC 8176 methods and our two ACR values (the contract with relying parties).
pub const ACR_2FA: &str = "urn:stepgate:acr:2fa";
pub const ACR_PWD: &str = "urn:stepgate:acr:pwd";

/// The live browser session and its user, if the cookie names one whose user may still sign
/// in (a disabled or locked account ends its sessions).
pub async fn current_session(
    st: &AppState,
    jar: &CookieJar,
) -> Result<Option<(Session, User)>, Error> {
    let Some(token) = cookies::get(jar, cookies::SESSION) else {
        return Ok(None);
    };
    let Some(session) = sessions::find(st.core.db(), &token, st.now()).await? else {
        return Ok(None);
    };
    let user = st.core.user_by_id(&session.user_id).await?;
    Ok(user
        .filter(|u| !u.disabled && !u.locked)
        .map(|u| (session, u)))
}

/// RFC 8176 methods for a login that ended with `provider` (or with the password alone).
pub fn amr_for(provider: Option<ProviderType>) -> Vec<String> {
    let second = match provider {
        None => return vec!["pwd".into()],
        Some(ProviderType::Sms) => "sms",
        Some(ProviderType::Webauthn) => "hwk",
        Some(ProviderType::Totp | ProviderType::Email | ProviderType::BackupCode) => "otp",
    };
    vec!["pwd".into(), second.into(), "mfa".into()]
}

/// Loads the pending authorization request a login page works for; a missing or expired one
/// is a page telling the user to start again from the application. Its `ui_locales` become
/// the page's language.
pub async fn pending_request(
    st: &AppState,
    req: Option<&str>,
) -> Result<Option<AuthRequest>, Error> {
    let Some(id) = req.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match requests::load(st.core.db(), id, st.now()).await? {
        Some(r) => {
            crate::i18n::use_ui_locales(r.ui_locales.as_deref());
            Ok(Some(r))
        }
        None => Err(expired_page()),
    }
}

/// A page that belongs to a pending request but does not need it (the second-factor page,
/// the enrolment page): only the request's `ui_locales`, if it still exists.
pub async fn use_request_language(st: &AppState, req: Option<&str>) {
    let Some(id) = req.filter(|r| !r.is_empty()) else {
        return;
    };
    if let Ok(Some(r)) = requests::load(st.core.db(), id, st.now()).await {
        crate::i18n::use_ui_locales(r.ui_locales.as_deref());
    }
}

fn expired_page() -> Error {
    Error::page(
        StatusCode::BAD_REQUEST,
        crate::i18n::t("err-sign-in-expired-title"),
        crate::i18n::t("err-sign-in-expired"),
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
    finish_login_with(st, jar, ctx, req_id, user, provider, amr_for(provider)).await
}

/// A passwordless sign-in with a discoverable passkey and user verification: both factors
/// (RFC 8176 `hwk` + `user`, and `mfa`), so the 2FA acr.
pub async fn finish_passwordless_login(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    req_id: Option<&str>,
    user: &User,
) -> Result<Response, Error> {
    let amr = vec!["hwk".into(), "user".into(), "mfa".into()];
    finish_login_with(
        st,
        jar,
        ctx,
        req_id,
        user,
        Some(ProviderType::Webauthn),
        amr,
    )
    .await
}

async fn finish_login_with(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    req_id: Option<&str>,
    user: &User,
    provider: Option<ProviderType>,
    amr: Vec<String>,
) -> Result<Response, Error> {
    let now = st.now();
    // A request is answered once, even if the same login is submitted twice: only the caller
    // that removes it goes on to a code.
    let taken = match req_id.filter(|r| !r.is_empty()) {
        Some(id) => Some(requests::take(st.core.db(), id, now).await?),
        None => None,
    };
    let acr = if provider.is_some() { ACR_2FA } else { ACR_PWD };
    let (token, session) = sessions::new_session(
        &user.id,
        &amr,
        acr,
        provider,
        now,
        st.settings.session_lifetime,
    );
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
    // The finished login's writes go to the database in one hand-off, with the code's when
    // there is one: the event first (see `Db::write`), then the session, which replaces
    // whatever session this browser had (no session fixation, no orphaned rows).
    let mut writes = Batch::new(st.core.db().backend());
    audit::push(&mut writes, ctx, now, event);
    if let Some(previous) = cookies::get(&jar, cookies::SESSION) {
        sessions::push_delete(&mut writes, &previous);
    }
    sessions::push_insert(&mut writes, &token, &session);
    let secure = st.settings.secure_cookies;
    let jar = jar
        .add(cookies::build(cookies::SESSION, token, secure))
        .add(cookies::removal(cookies::CHALLENGE, secure))
        .add(cookies::removal(cookies::ENROL, secure));
    let completed = || {
        st.metrics.logins.with_label_values(&["completed"]).inc();
        tracing::info!(user = %user.username, acr, "login completed");
    };
    let req = match taken {
        Some(Taken::Live(req)) => req,
        other => {
            st.core.db().write(writes).await?;
            completed();
            return match other {
                Some(Taken::Expired) => Err(expired_page()),
                // Came to /login directly, or this request was answered already.
                _ => Ok(back_from_login(jar, secure)),
            };
        }
    };
    let Some(client) = st.clients.get(st.core.db(), &req.client_id, now).await? else {
        st.core.db().write(writes).await?;
        completed();
        return Err(Error::page(
            StatusCode::BAD_REQUEST,
            crate::i18n::t("err-sign-in-incomplete-title"),
            crate::i18n::t("err-client-removed"),
        ));
    };
    let resp = issue_code(st, ctx, &client, &req, &session, user, writes).await?;
    completed();
    Ok((jar, resp).into_response())
}

/// Where a login that answers no authorization request goes: back to the page that sent the
/// user to sign in (account security, device approval), else home.
fn back_from_login(jar: CookieJar, secure: bool) -> Response {
    let back_to = cookies::get(&jar, cookies::RETURN);
    let jar = jar.add(cookies::removal(cookies::RETURN, secure));
    let to = match back_to.as_deref() {
        Some("account") => "/account/security?done=confirmed",
        Some("device") => "/device/approve",
        _ => "/",
    };
    (jar, see_other(to)).into_response()
}

/// The sign-in form; with "Sign in with a passkey" (and the script it needs) when
/// passwordless sign-in is on.
pub async fn login_page(
    st: &AppState,
    csrf: &str,
    req: Option<&str>,
    client_name: Option<&str>,
    username: Option<&str>,
    error: Option<&str>,
) -> Response {
    let passwordless = st.core.passwordless_available().await.unwrap_or(false);
    let page = render(
        "login.html",
        context! { csrf, req, client_name, username, error, passwordless },
    )
    .into_response();
    if passwordless {
        crate::http::allow_own_script(page)
    } else {
        page
    }
}

/// The sign-in page for an authorization request just stored, answered by /authorize itself:
/// one round trip fewer than a redirect to `/login?req=…` (Keycloak's authorization endpoint
/// answers with its login form too). `/login?req=…` still shows the same page.
pub async fn page_for_request(
    st: &AppState,
    jar: CookieJar,
    req_id: &str,
    client_name: &str,
    login_hint: Option<&str>,
) -> Response {
    let (jar, token) = csrf::ensure(st, jar);
    let page = login_page(
        st,
        &token,
        Some(req_id),
        Some(client_name),
        login_hint,
        None,
    )
    .await;
    (jar, page).into_response()
}

/// Issues a code for a signed-in user and sends the browser back to the client; every code
/// is issued here, whether the user just signed in or had a session.
///
/// A client with allowed groups admits only their members: anyone else is signed in (their
/// session stays) but the client hears `access_denied` (RFC 6749 §4.1.2.1) and gets no code.
///
/// `writes`: what goes to the database with the code, in the same hand-off (a login just
/// finished: its event and session); empty for a browser that was signed in already.
pub async fn issue_code<'q>(
    st: &AppState,
    ctx: &'q RequestContext,
    client: &Client,
    req: &AuthRequest,
    session: &Session,
    user: &'q User,
    mut writes: Batch<'q>,
) -> Result<Response, Error> {
    if !client.allowed_groups.is_empty() {
        let member_of = st.core.groups_of(&user.id).await?;
        if !client.admits(&member_of) {
            return refuse_non_member(st, ctx, client, req, user, writes).await;
        }
    }
    let now = st.now();
    let offline = req.has_scope("offline_access") && client.allows(GrantType::RefreshToken);
    let grant = Grant {
        id: crypto::random_token(),
        client_id: client.client_id.clone(),
        user_id: Some(user.id.clone()),
        sid: Some(session.sid.clone()),
        scopes: req.scopes.clone(),
        auth_time: Some(session.auth_time),
        amr: session.amr.clone(),
        acr: Some(session.acr.clone()),
        created_at: now,
        expires_at: now
            + if offline {
                st.settings.refresh_token_lifetime
            } else {
                CODE_LIFETIME + st.settings.access_token_lifetime
            },
        revoked_at: None,
    };
    grants::push_grant(&mut writes, &grant);
    let code = crypto::random_token();
    grants::push_code(
        &mut writes,
        &code,
        &Code {
            grant_id: grant.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            expires_at: now + CODE_LIFETIME,
        },
        now,
    );
    st.core.db().write(writes).await?;
    let mut p: Vec<(&str, &str)> = vec![("code", &code)];
    if let Some(s) = &req.state {
        p.push(("state", s));
    }
    p.push(("iss", &st.settings.issuer));
    Ok(redirect_with(&req.redirect_uri, &p))
}

/// The answer to a user outside a client's allowed groups: audited, then `access_denied` to
/// the client with its `state` and RFC 9207's `iss`.
async fn refuse_non_member<'q>(
    st: &AppState,
    ctx: &'q RequestContext,
    client: &Client,
    req: &AuthRequest,
    user: &'q User,
    mut writes: Batch<'q>,
) -> Result<Response, Error> {
    let event = Event::new(EventKind::ClientLoginRefused)
        .user(&user.id, &user.username)
        .detail(format!(
            "client={} allowed_groups={}: the user is in none of them",
            client.client_id,
            client.allowed_groups.join(",")
        ));
    audit::push(&mut writes, ctx, st.now(), event);
    st.core.db().write(writes).await?;
    st.metrics
        .logins
        .with_label_values(&["client_refused"])
        .inc();
    tracing::info!(user = %user.username, client = %client.client_id,
        "login refused: not in the client's allowed groups");
    let mut p: Vec<(&str, &str)> = vec![
        ("error", "access_denied"),
        (
            "error_description",
            "this account may not sign in to this application",
        ),
    ];
    if let Some(s) = &req.state {
        p.push(("state", s));
    }
    p.push(("iss", &st.settings.issuer));
    Ok(redirect_with(&req.redirect_uri, &p))
}

/// Ends this browser's session, in the database and in the browser, and audits it (with the
/// session's public `sid`, and `why`: how the user signed out).
pub async fn end_browser_session(
    st: &AppState,
    jar: CookieJar,
    ctx: &RequestContext,
    why: &str,
) -> Result<CookieJar, Error> {
    if let Some(token) = cookies::get(&jar, cookies::SESSION) {
        let ended = sessions::find(st.core.db(), &token, st.now()).await?;
        sessions::delete(st.core.db(), &token).await?;
        if let Some(session) = ended {
            let user = st.core.user_by_id(&session.user_id).await?;
            let username = user.map(|u| u.username).unwrap_or_default();
            let event = Event::new(EventKind::SessionEnded)
                .user(&session.user_id, &username)
                .detail(format!("{why} sid={}", session.sid));
            audit::record_alone(&st.core, ctx, event).await?;
        }
    }
    Ok(jar.add(cookies::removal(
        cookies::SESSION,
        st.settings.secure_cookies,
    )))
}

/// Checks a post-logout redirect URI against the client's registered ones (exact match); a
/// URI that does not match is a page, never a redirect.
pub async fn checked_post_logout_uri(
    st: &AppState,
    client_id: Option<&str>,
    uri: Option<&str>,
) -> Result<Option<String>, Error> {
    let Some(uri) = uri else {
        return Ok(None);
    };
    let refuse = || {
        Error::page(
            StatusCode::BAD_REQUEST,
            crate::i18n::t("err-sign-out-title"),
            crate::i18n::t("err-post-logout-unknown"),
        )
    };
    let client_id = client_id.ok_or_else(refuse)?;
    let client = clients::get(st.core.db(), client_id)
        .await?
        .ok_or_else(refuse)?;
    if client.post_logout_redirect_uris.iter().any(|u| u == uri) {
        Ok(Some(uri.to_string()))
    } else {
        Err(refuse())
    }
}

/// After sign-out: back to the client when it asked and is allowed, else a page.
pub fn after_logout(jar: CookieJar, redirect: Option<String>, state: Option<&str>) -> Response {
    match redirect {
        Some(uri) => {
            let params: Vec<(&str, &str)> = state.map(|s| vec![("state", s)]).unwrap_or_default();
            (jar, redirect_with(&uri, &params)).into_response()
        }
        None => (jar, render("logout.html", context! { done => true })).into_response(),
    }
}
