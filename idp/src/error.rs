//! The one error type of the HTTP layer and how it is shown.
//!
//! Two audiences: programs (the token, userinfo, revocation and introspection endpoints) get
//! OAuth-shaped JSON (`error`, `error_description`) with the status RFC 6749/6750 prescribe;
//! people (login pages, an authorization request that cannot be redirected) get an HTML page.
//! Internal failures are logged here with their cause and shown without it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub enum Error {
    OAuth {
        status: StatusCode,
        code: &'static str,
        description: String,
        /// The challenge to send in `WWW-Authenticate`, if any.
        challenge: Option<Challenge>,
    },
    Page {
        status: StatusCode,
        title: String,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// RFC 6749 §5.2: a client that tried HTTP Basic gets a Basic challenge back.
    Basic,
    /// RFC 6750 §3: a bad bearer token.
    Bearer,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn oauth(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Error::OAuth {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::oauth(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// Client authentication failed (RFC 6749 §5.2): 401, with a Basic challenge when the
    /// client used Basic.
    pub fn invalid_client(used_basic: bool) -> Self {
        Error::OAuth {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "client authentication failed".into(),
            challenge: used_basic.then_some(Challenge::Basic),
        }
    }

    /// RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Error::OAuth {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description: description.into(),
            challenge: Some(Challenge::Bearer),
        }
    }

    /// RFC 6750 §3.1: the token is fine but lacks the scope the resource needs.
    pub fn insufficient_scope(description: impl Into<String>) -> Self {
        Error::OAuth {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: description.into(),
            challenge: Some(Challenge::Bearer),
        }
    }

    /// A failure of ours at an OAuth endpoint: logged with its cause, answered without it.
    pub fn server_error(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::oauth(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }

    pub fn page(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Page {
            status,
            title: title.into(),
            message: message.into(),
        }
    }

    /// A failure of ours on a page: logged with its cause, shown without it.
    pub fn internal_page(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::page(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::i18n::t("err-internal-title"),
            crate::i18n::t("err-internal"),
        )
    }

    /// Turns an OAuth error into a page, for requests that came from a browser and cannot be
    /// redirected back to the client.
    pub fn into_page(self) -> Self {
        match self {
            Error::OAuth {
                status,
                code,
                description,
                ..
            } => Error::page(
                if status.is_server_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                crate::i18n::t("err-request-title"),
                format!("{description} ({code})"),
            ),
            page => page,
        }
    }
}

/// Keeps a description inside a quoted-string of `WWW-Authenticate` (RFC 6750 §3 allows
/// printable ASCII except `"` and `\`).
fn quoted_safe(s: &str) -> String {
    s.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::OAuth {
                status,
                code,
                description,
                challenge,
            } => {
                let body = json!({ "error": code, "error_description": description });
                let mut resp = (status, axum::Json(body)).into_response();
                let h = resp.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
                let challenge = match challenge {
                    Some(Challenge::Basic) => Some("Basic realm=\"stepgate\"".to_string()),
                    Some(Challenge::Bearer) => Some(format!(
                        "Bearer realm=\"stepgate\", error=\"{code}\", error_description=\"{}\"",
                        quoted_safe(&description)
                    )),
                    None => None,
                };
                if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            Error::Page {
                status,
                title,
                message,
            } => {
                let html = crate::templates::render(
                    "error.html",
                    minijinja::context! { title => title, message => message },
                );
                (status, html).into_response()
            }
        }
    }
}

impl From<crate::params::Repeated> for Error {
    fn from(r: crate::params::Repeated) -> Self {
        Error::invalid_request(format!("the parameter {} is repeated", r.0))
    }
}
