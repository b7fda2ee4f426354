//! The authorization endpoint (OIDC Core §3.1.2; RFC 6749 §4.1; PKCE RFC 7636; RFC 9207).
//!
//! Only the code flow. Until the client and its exact redirect URI are known, every problem is
//! shown as a page and never redirected (an open redirector otherwise); after that, problems go
//! back to the client as `error=…&state=…&iss=…`. A request that needs a login is stored and
//! answered with the login page; a code is issued only for a browser session, and a
//! session exists only after a completed login (second factor included when the user has one).
//! Stored requests are bounded per client and remote address (`requests::save`), since anyone
//! can make them; beyond the bound the client hears `temporarily_unavailable`. A session
//! answers only when it is the user an `id_token_hint` names.

use crate::crypto;
use crate::error::Error;
use crate::http::redirect_with;
use crate::http::ClientAddr;
use crate::login::{self, current_session};
use crate::login::{issue_code, ACR_2FA};
use crate::oidc::tokens::verify_id_token_hint;
use crate::params::Params;
use crate::state::{AppState, AUTH_REQUEST_LIFETIME};
use crate::store::clients::{Client, GrantType};
use crate::store::requests::{self, AuthRequest};
use crate::store::sessions::Session;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde_json::Value;
use stepgate_core::db::Batch;

/// Scopes this provider knows, in the order they are echoed back.
pub const SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "phone",
    "groups",
    "offline_access",
];

/// The scopes a client gets of those it asked for, for every grant that asks (authorization
/// code, device): known OpenID Connect scopes, `offline_access` only with the refresh grant,
/// and Stepgate API scopes only when the client is registered for them.
pub fn granted_scopes(client: &Client, asked: &[&str]) -> Vec<String> {
    SCOPES
        .iter()
        .filter(|s| asked.contains(s))
        .filter(|s| **s != "offline_access" || client.allows(GrantType::RefreshToken))
        .chain(
            crate::api_resource::API_SCOPES
                .iter()
                .filter(|s| asked.contains(s) && client.has_api_scope(s)),
        )
        .map(|s| s.to_string())
        .collect()
}

/// An OAuth error sent back to the client (RFC 6749 §4.1.2.1) with RFC 9207's `iss`.
pub struct ErrorRedirect {
    redirect_uri: String,
    state: Option<String>,
    error: &'static str,
    description: String,
}

impl ErrorRedirect {
    pub fn to_response(&self, issuer: &str) -> Response {
        let mut p: Vec<(&str, &str)> = vec![
            ("error", self.error),
            ("error_description", &self.description),
        ];
        if let Some(s) = &self.state {
            p.push(("state", s));
        }
        p.push(("iss", issuer));
        redirect_with(&self.redirect_uri, &p)
    }
}

enum Rejection {
    Page(Error),
    Redirect(ErrorRedirect),
}

fn bad_page(message: impl Into<String>) -> Rejection {
    Rejection::Page(Error::page(
        StatusCode::BAD_REQUEST,
        crate::i18n::t("err-request-title"),
        message,
    ))
}

/// Checks an authorization request; on success the client, the request to store, and
/// whether `prompt=none` was asked (never stored: it only matters now).
async fn validate(st: &AppState, p: &Params) -> Result<(Client, AuthRequest, bool), Rejection> {
    let repeated = |r: crate::params::Repeated| {
        bad_page(crate::i18n::t_args(
            "err-param-repeated",
            &[("name", r.0.into())],
        ))
    };
    let client_id = p
        .get("client_id")
        .map_err(repeated)?
        .ok_or_else(|| bad_page(crate::i18n::t("err-no-client-id")))?;
    let client = st
        .clients
        .get(st.core.db(), client_id, st.now())
        .await
        .map_err(|e| Rejection::Page(e.into()))?
        .ok_or_else(|| bad_page(crate::i18n::t("err-client-unknown")))?;
    let redirect_uri = p
        .get("redirect_uri")
        .map_err(repeated)?
        .ok_or_else(|| bad_page(crate::i18n::t("err-no-redirect-uri")))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(bad_page(crate::i18n::t("err-redirect-uri-unknown")));
    }
    // From here on the client can be told.
    let state = p.get("state").ok().flatten().map(str::to_string);
    let fail = |error: &'static str, description: &str| {
        Rejection::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.to_string(),
            state: state.clone(),
            error,
            description: description.to_string(),
        })
    };
    let get = |name: &str| {
        p.get(name).map_err(|r| {
            fail(
                "invalid_request",
                &format!("the parameter {} is repeated", r.0),
            )
        })
    };
    get("state")?;
    if get("request")?.is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if get("request_uri")?.is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match get("response_type")? {
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => return Err(fail("invalid_request", "response_type is missing")),
    }
    if let Some(m) = get("response_mode")? {
        if m != "query" {
            return Err(fail(
                "invalid_request",
                "only response_mode=query is supported",
            ));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let asked: Vec<&str> = get("scope")?.unwrap_or("").split_whitespace().collect();
    if !asked.contains(&"openid") {
        return Err(fail("invalid_scope", "the openid scope is required"));
    }
    // Unknown scopes are ignored (OIDC Core §3.1.2.1), and so are Stepgate API scopes the
    // client was not registered for: its token then simply cannot reach /api.
    let scopes = granted_scopes(&client, &asked);
    let code_challenge = match (get("code_challenge")?, get("code_challenge_method")?) {
        (None, None) => None,
        (Some(c), Some("S256")) if crypto::is_pkce_value(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return Err(fail("invalid_request", "code_challenge is malformed"));
        }
        (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (_, _) => {
            return Err(fail(
                "invalid_request",
                "only PKCE with code_challenge_method=S256 is supported",
            ));
        }
    };
    if client.is_public() && code_challenge.is_none() {
        return Err(fail(
            "invalid_request",
            "public clients must use PKCE (code_challenge with S256)",
        ));
    }
    let prompts: Vec<&str> = get("prompt")?.unwrap_or("").split_whitespace().collect();
    for v in &prompts {
        if !matches!(*v, "none" | "login" | "consent" | "select_account") {
            return Err(fail("invalid_request", "unknown prompt value"));
        }
    }
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(fail("invalid_request", "prompt=none cannot be combined"));
    }
    let max_age = match get("max_age")? {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(fail(
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ))
            }
        },
    };
    let nonce = get("nonce")?.map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512)
        || state.as_ref().is_some_and(|s| s.len() > 2048)
    {
        return Err(fail("invalid_request", "nonce or state is too long"));
    }
    let acr_2fa = get("acr_values")?
        .unwrap_or("")
        .split_whitespace()
        .any(|v| v == ACR_2FA);
    let req = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scopes,
        state: state.clone(),
        nonce,
        code_challenge,
        prompt_login: prompts.contains(&"login"),
        max_age,
        login_hint: get("login_hint")?.map(|h| h.chars().take(256).collect()),
        require_2fa: client.require_2fa || acr_2fa,
        // Only tags, bounded: it is stored with the request and picks the pages' language.
        ui_locales: get("ui_locales")?
            .map(|v| {
                v.split_whitespace()
                    .filter(|t| {
                        t.len() <= 35 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
                    .take(10)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|v| !v.is_empty()),
    };
    Ok((client, req, prompt_none))
}

/// Whether a live session may answer this request without a new login.
pub fn session_satisfies(req: &AuthRequest, session: &Session, now: i64) -> bool {
    if req.prompt_login {
        return false;
    }
    if let Some(max_age) = req.max_age {
        if now - session.auth_time > max_age {
            return false;
        }
    }
    !req.require_2fa || session.acr == ACR_2FA
}

/// The user an `id_token_hint` names (OIDC Core §3.1.2.1). A hint that is not an ID token we
/// issued to this client is refused rather than ignored: the client asked about a user, and
/// answering for whoever is signed in would answer another question.
async fn hinted_subject(
    st: &AppState,
    p: &Params,
    req: &AuthRequest,
) -> Result<Option<String>, ErrorRedirect> {
    let fail = |description: &str| ErrorRedirect {
        redirect_uri: req.redirect_uri.clone(),
        state: req.state.clone(),
        error: "invalid_request",
        description: description.into(),
    };
    let Some(hint) = p
        .get("id_token_hint")
        .map_err(|_| fail("the parameter id_token_hint is repeated"))?
    else {
        return Ok(None);
    };
    let claims = verify_id_token_hint(st, hint, Some(&req.client_id))
        .await
        .ok_or_else(|| fail("id_token_hint is not an ID token issued here to this client"))?;
    Ok(claims
        .get("sub")
        .and_then(Value::as_str)
        .map(str::to_string))
}

async fn handle(st: AppState, jar: CookieJar, addr: ClientAddr, p: Params) -> Response {
    let (client, req, prompt_none) = match validate(&st, &p).await {
        Ok(ok) => ok,
        Err(Rejection::Page(e)) => return e.into_response(),
        Err(Rejection::Redirect(r)) => return r.to_response(&st.settings.issuer),
    };
    let hinted = match hinted_subject(&st, &p, &req).await {
        Ok(h) => h,
        Err(r) => return r.to_response(&st.settings.issuer),
    };
    let now = st.now();
    let session = match current_session(&st, &jar).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    if let Some((session, user)) = session {
        // A hint naming someone else: this session's user is not the one the client expects,
        // so they sign in (or, with prompt=none, the client hears login_required).
        let hinted_user = hinted.as_deref().is_none_or(|sub| sub == user.id);
        if hinted_user && session_satisfies(&req, &session, now) {
            let ctx = addr.context();
            let writes = Batch::new(st.core.db().backend());
            return match issue_code(&st, &ctx, &client, &req, &session, &user, writes).await {
                Ok(r) => r,
                Err(e) => e.into_page().into_response(),
            };
        }
    }
    if prompt_none {
        return ErrorRedirect {
            redirect_uri: req.redirect_uri.clone(),
            state: req.state.clone(),
            error: "login_required",
            description: "the user must sign in".into(),
        }
        .to_response(&st.settings.issuer);
    }
    let saved = requests::save(
        st.core.db(),
        &req,
        addr.0.as_deref(),
        now,
        AUTH_REQUEST_LIFETIME,
    )
    .await;
    match saved {
        Ok(None) => {
            tracing::debug!(client = %req.client_id, "too many pending authorization requests");
            ErrorRedirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                error: "temporarily_unavailable",
                description: "too many sign-ins are pending from here; try again later".into(),
            }
            .to_response(&st.settings.issuer)
        }
        Ok(Some(id)) => {
            crate::i18n::use_ui_locales(req.ui_locales.as_deref());
            login::page_for_request(
                &st,
                jar,
                &id,
                client.display_name(),
                req.login_hint.as_deref(),
            )
            .await
        }
        Err(e) => Error::from(e).into_response(),
    }
}

pub async fn authorize_get(
    State(st): State<AppState>,
    jar: CookieJar,
    addr: ClientAddr,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(q.unwrap_or_default().as_bytes());
    handle(st, jar, addr, p).await
}

/// OIDC Core §3.1.2.1: the request may also be a form POST.
pub async fn authorize_post(
    State(st): State<AppState>,
    jar: CookieJar,
    addr: ClientAddr,
    body: Bytes,
) -> Response {
    handle(st, jar, addr, Params::parse(&body)).await
}
