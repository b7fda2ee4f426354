//! The one error type of the HTTP layer and how it is shown.
//!
//! Two audiences: programs (the token, userinfo, revocation and introspection endpoints) get
//! OAuth-shaped JSON (`error`, `error_description`) with the status RFC 6749/6750 prescribe;
//! people (login pages, an authorization request that cannot be redirected) get an HTML page.
//! Internal failures are shown without their cause; the cause rides in the response's
//! extensions to [`log_failures`], which logs it once with the request it belongs to.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Error {
    OAuth {
        status: StatusCode,
        code: &'static str,
        description: String,
        /// The challenge to send in `WWW-Authenticate`, if any.
        challenge: Option<Challenge>,
        cause: Option<Cause>,
    },
    Page {
        status: StatusCode,
        title: String,
        message: String,
        cause: Option<Cause>,
    },
}

/// Why a request failed on our side, for the log only. It travels as a response extension
/// rather than being logged where it is made, so that the log line can name the request
/// (method and path) and a failure is logged once however many layers it passed. It holds
/// internal error texts, never anything a client sent; nothing writes it into a response.
#[derive(Debug, Clone)]
pub struct Cause(Arc<str>);

impl Cause {
    pub fn new(cause: impl std::fmt::Display) -> Cause {
        Cause(cause.to_string().into())
    }

    /// Puts the cause where [`log_failures`] finds it.
    pub fn attach(self, resp: &mut Response) {
        resp.extensions_mut().insert(self);
    }
}

/// The middleware that logs failures of ours: one line per failed request, with the path but
/// never the query, which can hold codes and user names. It takes the cause out of the
/// response, so no outer layer sees it.
pub async fn log_failures(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    if let Some(Cause(cause)) = resp.extensions_mut().remove::<Cause>() {
        tracing::error!(error = %cause, %method, %path, "request failed");
    }
    resp
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
            cause: None,
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
            cause: None,
        }
    }

    /// RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Error::OAuth {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description: description.into(),
            challenge: Some(Challenge::Bearer),
            cause: None,
        }
    }

    /// RFC 6750 §3.1: the token is fine but lacks the scope the resource needs.
    pub fn insufficient_scope(description: impl Into<String>) -> Self {
        Error::OAuth {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: description.into(),
            challenge: Some(Challenge::Bearer),
            cause: None,
        }
    }

    /// A failure of ours at an OAuth endpoint: answered without its cause, which goes to the
    /// log (see [`Cause`]).
    pub fn server_error(cause: impl std::fmt::Display) -> Self {
        Error::OAuth {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: "the server could not complete the request".into(),
            challenge: None,
            cause: Some(Cause::new(cause)),
        }
    }

    pub fn page(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Page {
            status,
            title: title.into(),
            message: message.into(),
            cause: None,
        }
    }

    /// A failure of ours on a page: shown without its cause, which goes to the log (see
    /// [`Cause`]).
    pub fn internal_page(cause: impl std::fmt::Display) -> Self {
        Error::Page {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: crate::i18n::t("err-internal-title"),
            message: crate::i18n::t("err-internal"),
            cause: Some(Cause::new(cause)),
        }
    }

    /// Turns an OAuth error into a page, for requests that came from a browser and cannot be
    /// redirected back to the client.
    pub fn into_page(self) -> Self {
        match self {
            Error::OAuth {
                status,
                code,
                description,
                cause,
                ..
            } => Error::Page {
                status: if status.is_server_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                title: crate::i18n::t("err-request-title"),
                message: format!("{description} ({code})"),
                cause,
            },
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
        let (mut resp, cause) = match self {
            Error::OAuth {
                status,
                code,
                description,
                challenge,
                cause,
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
                (resp, cause)
            }
            Error::Page {
                status,
                title,
                message,
                cause,
            } => {
                let html = crate::templates::render(
                    "error.html",
                    minijinja::context! { title => title, message => message },
                );
                ((status, html).into_response(), cause)
            }
        };
        if let Some(cause) = cause {
            cause.attach(&mut resp);
        }
        resp
    }
}

/// A core failure a page did not expect to handle: the internal error page. Refusals a page
/// can explain (a wrong value, a lock, a rate limit) are matched before `?` reaches this; the
/// OAuth endpoints map with [`Error::server_error`] instead, since programs read JSON there.
impl From<stepgate_core::Error> for Error {
    fn from(e: stepgate_core::Error) -> Self {
        Error::internal_page(e)
    }
}

impl From<crate::params::Repeated> for Error {
    fn from(r: crate::params::Repeated) -> Self {
        Error::invalid_request(format!("the parameter {} is repeated", r.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::problem::Problem;
    use axum::routing::get;
    use axum::Router;
    use std::sync::Mutex;

    /// Collects what the test's subscriber writes.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Marks the response with whether a cause is still in it, without saying the cause.
    async fn probe(name: &'static str, req: Request, next: Next) -> Response {
        let mut resp = next.run(req).await;
        if resp.extensions().get::<Cause>().is_some() {
            resp.headers_mut()
                .insert(name, HeaderValue::from_static("present"));
        }
        resp
    }

    async fn core_failure() -> Result<(), Error> {
        Err(stepgate_core::Error::NotFound("vanished widget"))?;
        Ok(())
    }

    // Current-thread runtime: the server task runs on this thread, under the test's subscriber.
    #[tokio::test]
    async fn a_failure_is_logged_once_by_the_layer_and_its_cause_never_answered() {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let app = Router::new()
            .route(
                "/page",
                get(|| async { Error::internal_page("disk on fire") }),
            )
            .route(
                "/token",
                get(|| async { Error::server_error("signing key unreadable") }),
            )
            .route(
                "/api",
                get(|| async { Problem::internal("pool timed out") }),
            )
            .route("/core", get(core_failure))
            .route(
                "/bad",
                get(|| async { Error::invalid_request("no such thing") }),
            )
            .layer(axum::middleware::from_fn(|req, next| {
                probe("x-before", req, next)
            }))
            .layer(axum::middleware::from_fn(log_failures))
            .layer(axum::middleware::from_fn(|req, next| {
                probe("x-after", req, next)
            }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let http = reqwest::Client::new();

        for (path, status, cause) in [
            ("/page", 500, "disk on fire"),
            ("/token", 500, "signing key unreadable"),
            ("/api", 500, "pool timed out"),
            ("/core", 500, "vanished widget not found"),
        ] {
            let resp = http
                .get(format!("{base}{path}?code=hush-1234"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), status, "{path}");
            assert_eq!(resp.headers()["x-before"], "present", "{path}");
            assert!(
                resp.headers().get("x-after").is_none(),
                "{path}: cause leaked"
            );
            for (name, value) in resp.headers() {
                let value = value.to_str().unwrap_or_default();
                assert!(!value.contains(cause), "{path}: cause in header {name}");
            }
            let body = resp.text().await.unwrap();
            assert!(!body.contains(cause), "{path}: cause in body");
        }
        let resp = http.get(format!("{base}/bad")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        assert!(resp.headers().get("x-before").is_none());

        let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("request failed"))
            .collect();
        assert_eq!(lines.len(), 4, "one line per failed request:\n{log}");
        for (line, (path, cause)) in lines.iter().zip([
            ("/page", "disk on fire"),
            ("/token", "signing key unreadable"),
            ("/api", "pool timed out"),
            ("/core", "vanished widget not found"),
        ]) {
            assert!(line.contains("ERROR"), "{line}");
            assert!(line.contains(cause), "{line}");
            assert!(line.contains("method=GET"), "{line}");
            assert!(line.contains(&format!("path={path}")), "{line}");
        }
        assert!(
            !log.contains("hush-1234"),
            "the query reached the log:\n{log}"
        );
    }
}
