//! The host protocol (`/pam/v1/…`): how a registered host's PAM module (fleet mode) asks the
//! server to verify a login. JSON over HTTPS, each request authenticated with the host's
//! credential (`Authorization: Bearer sgh1.…`).
//!
//! Every decision is the core's (`stepgate_core::host_login`): these handlers authenticate
//! the host, bound its rate, bind each conversation to the host that began it, and serialize
//! the core's answers as they are. A failed step is answered with a non-2xx status and the
//! core's `Failure` as the body; internal causes go to the log (see [`crate::error::Cause`])
//! and reach the host only as `unavailable`.

use crate::error::Cause;
use crate::http::ClientAddr;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use stepgate_core::host_login::{Begin, Begun, Failure};
use stepgate_core::hosts::Host;
use stepgate_core::{Error as CoreError, ProviderType, RequestContext, Source};

/// Requests per second a host may make on average, and in a burst. A login is 2–6 requests,
/// so this is dozens of logins a second per host: far above a real host, low enough that one
/// host (or whoever took its credential) cannot monopolise the server.
pub const HOST_REQUESTS_PER_SECOND: f64 = 100.0;
pub const HOST_REQUEST_BURST: f64 = 200.0;

/// The longest user name, service, remote host, tty or code a host may send; anything longer
/// is not from a real login.
const MAX_FIELD: usize = 256;

// Any JSON object: what the document says of every host-protocol body (a doc comment
// would become the schema's description).
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
struct JsonObject(serde_json::Value);

/// The answers of every host-protocol call, for the OpenAPI document: one list for the six
/// operations, since they share one error mapping ([`Refused`]).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only its derived documentation is used
enum HostAnswers {
    #[response(status = 200, description = "the core's answer")]
    Answer(#[to_schema] JsonObject),
    #[response(
        status = 400,
        description = "`{\"error\": \"refused\", \"message\"}`: a malformed body"
    )]
    Malformed(#[to_schema] JsonObject),
    #[response(status = 401, description = "not a registered host's credential")]
    NotAHost(#[to_schema] JsonObject),
    #[response(
        status = 403,
        description = "`locked` or `disabled`; or `closed` for a conversation this host did not begin (another host's, or none)"
    )]
    Forbidden(#[to_schema] JsonObject),
    #[response(
        status = 409,
        description = "`provider_unavailable`, `send_failed` or `refused`"
    )]
    Conflict(#[to_schema] JsonObject),
    #[response(status = 410, description = "`closed` or `expired`")]
    Gone(#[to_schema] JsonObject),
    #[response(
        status = 429,
        description = "`rate_limited` (with Retry-After) or `send_too_soon`"
    )]
    TooMany(#[to_schema] JsonObject),
    #[response(status = 503, description = "`unavailable`")]
    Unavailable(#[to_schema] JsonObject),
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pam/v1/begin", post(begin))
        .route("/pam/v1/send", post(send))
        .route("/pam/v1/check", post(check))
        .route("/pam/v1/step", post(step))
        .route("/pam/v1/cancel", post(cancel))
        .route("/pam/v1/approval", post(approval))
        .route("/pam/v1/approval/poll", post(approval_poll))
        .route("/pam/v1/account", post(account))
        .route("/pam/{*rest}", any(unknown))
}

/// Per-host token buckets, in this process.
#[derive(Default)]
pub struct HostLimits {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl HostLimits {
    /// Whether `key`'s bucket is empty now (without taking from it).
    fn exhausted(&self, key: &str) -> bool {
        let buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        buckets.get(key).is_some_and(|(tokens, at)| {
            tokens + at.elapsed().as_secs_f64() * HOST_REQUESTS_PER_SECOND < 1.0
        })
    }

    /// Takes one request from `host_id`'s bucket; `Err(retry_after)` when empty.
    fn admit(&self, host_id: &str) -> Result<(), i64> {
        let now = Instant::now();
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, at) = buckets
            .entry(host_id.to_string())
            .or_insert((HOST_REQUEST_BURST, now));
        let refill = now.duration_since(*at).as_secs_f64() * HOST_REQUESTS_PER_SECOND;
        *tokens = (*tokens + refill).min(HOST_REQUEST_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(1)
        }
    }
}

/// A step that cannot be taken, as the host is told it, and for a failure of ours its cause.
pub struct Refused(StatusCode, Failure, Option<Cause>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(&self.1)).into_response();
        if let Failure::RateLimited { retry_after } = self.1 {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let Some(cause) = self.2 {
            cause.attach(&mut r);
        }
        r
    }
}

impl From<CoreError> for Refused {
    fn from(e: CoreError) -> Refused {
        let failure = Failure::from(&e);
        // A conversation this host did not begin (another host's, or none at all): forbidden,
        // the same for both, so a host learns nothing about other hosts' logins.
        if matches!(e, CoreError::NotFound(_)) {
            return Refused(StatusCode::FORBIDDEN, failure, None);
        }
        let status = match &failure {
            Failure::Unavailable => {
                return Refused(
                    StatusCode::SERVICE_UNAVAILABLE,
                    failure,
                    Some(Cause::new(e)),
                )
            }
            Failure::RateLimited { .. } | Failure::SendTooSoon { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Failure::Locked | Failure::Disabled => StatusCode::FORBIDDEN,
            Failure::Closed | Failure::Expired => StatusCode::GONE,
            Failure::ProviderUnavailable | Failure::SendFailed | Failure::Refused { .. } => {
                StatusCode::CONFLICT
            }
        };
        Refused(status, failure, None)
    }
}

fn bad_request(message: impl Into<String>) -> Refused {
    Refused(
        StatusCode::BAD_REQUEST,
        Failure::Refused {
            message: message.into(),
        },
        None,
    )
}

/// The authenticated host of a request, with the audit context of its logins.
pub struct Caller {
    host: Host,
    ctx: RequestContext,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let addr = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(None));
        // Requests with a bad credential draw on a bucket of their address, checked before the
        // database is asked, so guessing costs the server little.
        let failures = format!("unauthenticated {}", addr.0.as_deref().unwrap_or("?"));
        if state.host_limits.exhausted(&failures) {
            return Err(Refused(
                StatusCode::TOO_MANY_REQUESTS,
                Failure::RateLimited { retry_after: 1 },
                None,
            )
            .into_response());
        }
        let credential = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let host = match credential {
            Some(c) => state
                .core
                .authenticate_host(c, addr.0.as_deref())
                .await
                .map_err(|e| Refused::from(e).into_response())?,
            None => None,
        };
        let Some(host) = host else {
            let _ = state.host_limits.admit(&failures);
            let body = Json(serde_json::json!({
                "error": "invalid_host_credential",
                "message": "this credential is not a registered host's (removed or rotated?)",
            }));
            return Err((
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"stepgate-hosts\", error=\"invalid_token\"",
                    ),
                )],
                body,
            )
                .into_response());
        };
        if let Err(retry_after) = state.host_limits.admit(&host.id) {
            tracing::warn!(host = %host.name, "host protocol: host over its request rate");
            return Err(Refused(
                StatusCode::TOO_MANY_REQUESTS,
                Failure::RateLimited { retry_after },
                None,
            )
            .into_response());
        }
        let ctx = RequestContext::new(Source::Pam).with_host(host.name.clone());
        Ok(Caller { host, ctx })
    }
}

/// Where the login is, as the host tells it (for the audit log).
#[derive(Deserialize, Default)]
struct Origin {
    service: Option<String>,
    rhost: Option<String>,
    tty: Option<String>,
}

impl Origin {
    fn apply(self, mut ctx: RequestContext) -> Result<RequestContext, Refused> {
        for (name, v) in [
            ("service", &self.service),
            ("rhost", &self.rhost),
            ("tty", &self.tty),
        ] {
            if v.as_ref().is_some_and(|v| v.len() > MAX_FIELD) {
                return Err(bad_request(format!(
                    "{name}: longer than {MAX_FIELD} bytes"
                )));
            }
        }
        if let Some(s) = self.service.filter(|s| !s.is_empty()) {
            ctx = ctx.with_service(s);
        }
        if let Some(r) = self.rhost.filter(|r| !r.is_empty()) {
            ctx = ctx.with_remote_addr(r);
        }
        if let Some(t) = self.tty.filter(|t| !t.is_empty()) {
            ctx = ctx.with_tty(t);
        }
        Ok(ctx)
    }
}

/// Parses a JSON body; a malformed one is a 400 naming what is wrong (never echoing values).
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Refused> {
    serde_json::from_slice(bytes).map_err(|e| {
        bad_request(format!(
            "the request body is not what this endpoint takes: {}",
            e.classify_kind()
        ))
    })
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "a field is missing or of the wrong type",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

#[derive(Deserialize)]
struct BeginBody {
    #[serde(flatten)]
    begin: Begin,
    #[serde(flatten)]
    origin: Origin,
}

/// Starts a login at this host: `{"user", "password"?, "nullok"?, "service"?, "rhost"?, "tty"?}` (password in password mode only). Answers `{"challenge": {"conversation", "step"}}` (the core's what-next step: providers with masked destinations, which asks first, whether its code is sent on entry, the prompt) or `{"ended": {"ending": "unknown_user" | "bad_password" | "disabled" | "locked" | "not_admitted" | "no_second_factor_allowed" | "no_second_factor" | "must_enrol"}}`.
#[utoipa::path(post, path = "/pam/v1/begin", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn begin(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: BeginBody = body(&bytes)?;
    if b.begin.user.is_empty() || b.begin.user.len() > MAX_FIELD {
        return Err(bad_request(format!("user: 1 to {MAX_FIELD} bytes")));
    }
    let ctx = b.origin.apply(caller.ctx)?;
    let begun = state
        .core
        .begin_host_login(&ctx, Some(&caller.host), &b.begin)
        .await?;
    // A host can wait for an approval in the browser: offered beside the codes.
    Ok(Json(match begun {
        Begun::Challenge { conversation, step } => Begun::Challenge {
            conversation,
            step: step.for_host(),
        },
        ended => ended,
    }))
}

#[derive(Deserialize)]
struct ConversationBody {
    conversation: String,
    provider: Option<ProviderType>,
    code: Option<String>,
    #[serde(flatten)]
    origin: Origin,
}

impl ConversationBody {
    fn provider(&self) -> Result<ProviderType, Refused> {
        self.provider
            .ok_or_else(|| bad_request("provider: missing (TOTP, SMS, EMAIL or BACKUP_CODE)"))
    }
}

/// Sends an SMS or email code in a conversation this host began: `{"conversation", "provider", "service"?, "rhost"?, "tty"?}` → `{"provider", "destination", "expires_in"}`.
#[utoipa::path(post, path = "/pam/v1/send", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    let provider = b.provider()?;
    let ctx = b.origin.apply(caller.ctx)?;
    let sent = state
        .core
        .host_send(&ctx, &caller.host, &b.conversation, provider)
        .await?;
    Ok(Json(sent))
}

/// Checks a code: `{"conversation", "provider", "code", …origin}` → `{"verified": PROVIDER}` or `{"wrong_code": {"attempts_left": N|null}}`. Lockout, rate limits, replay and time limit are the core's, shared with the web.
#[utoipa::path(post, path = "/pam/v1/check", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    let code = match &b.code {
        Some(c) if !c.is_empty() && c.len() <= MAX_FIELD => c.clone(),
        _ => return Err(bad_request(format!("code: 1 to {MAX_FIELD} bytes"))),
    };
    let provider = b.provider()?;
    let ctx = b.origin.apply(caller.ctx)?;
    let outcome = state
        .core
        .host_check(&ctx, &caller.host, &b.conversation, provider, &code)
        .await;
    state
        .metrics
        .count_check("host", provider, outcome.as_ref());
    Ok(Json(outcome?))
}

/// What to ask now in a conversation (after a provider was switched off): `{"conversation"}` → the step.
#[utoipa::path(post, path = "/pam/v1/step", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn step(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    Ok(Json(
        state
            .core
            .host_step(&caller.host, &b.conversation)
            .await?
            .for_host(),
    ))
}

/// Asks for this login to be approved in the browser (offered when the step says `browser_approval`): `{"conversation", …origin}` → `{"user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"}`, to show the person; an earlier code of the same login stops working.
#[utoipa::path(post, path = "/pam/v1/approval", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn approval(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    let ctx = b.origin.apply(caller.ctx)?;
    Ok(Json(
        state
            .core
            .host_start_approval(&ctx, &caller.host, &b.conversation)
            .await?,
    ))
}

/// How the approval stands: `{"conversation"}` → `{"pending": {"interval"}}`, `{"verified": PROVIDER}` (the second factor the approving browser signed in with) or `{"denied": {}}`; a login whose time ran out is `expired`.
#[utoipa::path(post, path = "/pam/v1/approval/poll", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn approval_poll(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    Ok(Json(
        state
            .core
            .host_poll_approval(&caller.host, &b.conversation)
            .await?,
    ))
}

/// Ends a conversation the person gave up on: `{"conversation"}` → `{}`.
#[utoipa::path(post, path = "/pam/v1/cancel", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: ConversationBody = body(&bytes)?;
    state
        .core
        .host_cancel(&caller.host, &b.conversation)
        .await?;
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
struct AccountBody {
    user: String,
    #[serde(flatten)]
    origin: Origin,
}

/// PAM account management at this host: `{"user", …origin}` → `{"status": "usable" | "unknown_user" | "disabled" | "locked" | "not_admitted"}`.
#[utoipa::path(post, path = "/pam/v1/account", tag = "host", security(("host" = [])),
    request_body(content = Object, content_type = "application/json"),
    responses(HostAnswers))]
pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
    bytes: Bytes,
) -> Result<impl IntoResponse, Refused> {
    let b: AccountBody = body(&bytes)?;
    let ctx = b.origin.apply(caller.ctx)?;
    let status = state
        .core
        .host_account(&ctx, Some(&caller.host), &b.user)
        .await?;
    Ok(Json(serde_json::json!({ "status": status })))
}

async fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": "not_found",
            "message": "no such host-protocol endpoint (this server speaks /pam/v1/)",
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_over_its_rate_waits_and_others_do_not() {
        let limits = HostLimits::default();
        for _ in 0..HOST_REQUEST_BURST as usize {
            assert!(limits.admit("a").is_ok());
        }
        assert_eq!(limits.admit("a"), Err(1));
        assert!(limits.exhausted("a"));
        assert!(limits.admit("b").is_ok());
        assert!(!limits.exhausted("b") && !limits.exhausted("never-seen"));
    }
}
