//! RFC 7807 problem documents: every API error is `application/problem+json` with a stable
//! `type`, a `title`, the `status`, a `detail` for people, and — for a bad value — the `field`
//! to fix. Internal failures are answered without their cause, which goes to the log once per
//! request (see [`crate::error::Cause`]).

use crate::error::Cause;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stepgate_core::Error as CoreError;
use utoipa::ToSchema;

/// An RFC 7807 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:stepgate:problem:<slug>`.
    #[serde(rename = "type")]
    #[serde(serialize_with = "problem_type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The input field that is wrong, for `invalid-value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait, for `rate-limited` and `send-too-soon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
    #[serde(skip)]
    beside: Option<Box<Beside>>,
}

/// What a problem's response carries outside its body. One field for both, since a 401 is
/// never a failure of ours; boxed, since few problems have either and `Problem` is returned by
/// value everywhere.
#[derive(Debug, Clone)]
enum Beside {
    /// The `WWW-Authenticate` value of a 401 when it says more than "send a token" (RFC 9470).
    Challenge(Box<str>),
    /// A failure of ours, for the log (see [`Cause`]).
    Cause(Cause),
}

/// `type` is `urn:stepgate:problem:<slug>`; only the slug is kept (every slug is ours).
fn problem_type<S: serde::Serializer>(slug: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("urn:stepgate:problem:{slug}"))
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind: slug,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            retry_after: None,
            beside: None,
        }
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.into()),
            ..Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-value",
                "Invalid value",
                detail,
            )
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        Problem {
            beside: Some(Box::new(Beside::Cause(Cause::new(cause)))),
            ..Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the server could not complete the request",
            )
        }
    }
}

impl From<CoreError> for Problem {
    fn from(e: CoreError) -> Problem {
        let detail = e.to_string();
        match e {
            CoreError::Invalid { field, message, .. } => Problem::invalid(&field, message),
            CoreError::BadCredentials => Problem::new(
                StatusCode::FORBIDDEN,
                "bad-credentials",
                "Wrong password",
                "the password is not right",
            ),
            CoreError::NotFound(_) => Problem::not_found(detail),
            CoreError::Conflict(_) => {
                Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
            }
            CoreError::Refused(_) => {
                Problem::new(StatusCode::CONFLICT, "refused", "Refused by policy", detail)
            }
            CoreError::ProviderUnavailable(_) => Problem::new(
                StatusCode::CONFLICT,
                "provider-unavailable",
                "Provider unavailable",
                detail,
            ),
            CoreError::SendFailed(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "send-failed",
                "Sending failed",
                detail,
            ),
            CoreError::SendTooSoon { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "send-too-soon",
                    "Too soon",
                    detail,
                )
            },
            CoreError::RateLimited { retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many attempts",
                    detail,
                )
            },
            CoreError::Locked => {
                Problem::new(StatusCode::FORBIDDEN, "locked", "Account locked", detail)
            }
            // RFC 9470: the token's sign-in is too old, or lacks the second factor; the client
            // sends the user through /authorize again with these values and retries.
            CoreError::StepUpRequired {
                max_age,
                second_factor,
            } => {
                let mut challenge = format!(
                    "Bearer error=\"insufficient_user_authentication\", error_description=\"{}\", max_age={max_age}",
                    if second_factor {
                        "a sign-in with a second factor within max_age seconds is required"
                    } else {
                        "a sign-in within max_age seconds is required"
                    }
                );
                if second_factor {
                    challenge.push_str(&format!(", acr_values=\"{}\"", crate::login::ACR_2FA));
                }
                Problem {
                    beside: Some(Box::new(Beside::Challenge(challenge.into()))),
                    ..Problem::new(
                        StatusCode::UNAUTHORIZED,
                        "insufficient-user-authentication",
                        "Sign in again",
                        detail,
                    )
                }
            }
            CoreError::Disabled => Problem::new(
                StatusCode::FORBIDDEN,
                "disabled",
                "Account disabled",
                detail,
            ),
            other => Problem::internal(other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            let challenge = match self.beside.as_deref() {
                Some(Beside::Challenge(c)) => HeaderValue::from_str(c).ok(),
                _ => None,
            }
            .unwrap_or(HeaderValue::from_static("Bearer realm=\"stepgate\""));
            h.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(v) = self
            .retry_after
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if let Some(Beside::Cause(cause)) = self.beside.map(|b| *b) {
            cause.attach(&mut resp);
        }
        resp
    }
}

/// A JSON body whose rejection (bad JSON, wrong shape, wrong content type) is a problem
/// document rather than axum's plain-text answer.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(rejection(e)),
        }
    }
}

/// Query parameters whose rejection is a problem document.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

fn rejection(e: JsonRejection) -> Problem {
    match e {
        JsonRejection::JsonDataError(e) => Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
            ..Problem::bad_request(e.body_text())
        },
        other => Problem::bad_request(other.body_text()),
    }
}
