//! HTTP helpers every door shares: redirects, the caller's address, and the login pages'
//! cookies and CSRF tokens. Both `web` (pages) and `oidc` (protocol endpoints) depend on this
//! module, and never on each other.

pub mod cookies;

/// The page policy plus our own scripts (`/static/passkey.js`, `/static/print.js`) and
/// requests to ourselves (a passkey's options), for the few pages that need a script. Every
/// other page keeps the scriptless policy of `web::headers`.
pub const SCRIPT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                              style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                              base-uri 'none'";

/// Gives a response the [`SCRIPT_CSP`] policy.
pub fn allow_own_script(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(SCRIPT_CSP),
    );
    resp
}
pub mod csrf;
pub mod forwarded;

/// What a path segment may carry as is (RFC 3986's unreserved characters).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A name (user, group, host, client) as one path segment of a URL. Percent-encoding, not a
/// form's encoding: in a path `+` is a plus, and a `/`, `?` or `#` in a name would otherwise
/// cut the URL short or point it at another page.
pub fn url_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// A refusal for our own scripts (`passkey.js`): `{"error": words}`, the words from the
/// catalogue in the page's language, which the script shows as they are. Never the core's
/// error text, which is English and may say more than the browser should learn.
pub fn script_error(status: StatusCode, words: String) -> Response {
    (status, axum::Json(serde_json::json!({ "error": words }))).into_response()
}

/// A value for a URL's query string (`?user=…`), encoded as a form would.
pub fn query_value(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

use crate::error::Error;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use stepgate_core::{RequestContext, Source};

/// A `303 See Other` to `location` (works after GET and POST alike).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            Error::internal_page("redirect target is not a valid header value").into_response()
        }
    }
}

/// Redirects to a client's registered URI with extra query parameters (keeping its own).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return Error::internal_page("a registered redirect URI does not parse").into_response();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    see_other(url.as_str())
}

/// The caller's address, when the server was started with connection info; for the audit log
/// and rate limits. The peer's, unless the peer is one of `[server] trusted_proxies` (the
/// router carries them as an extension): then the client its forwarding headers name (see
/// [`forwarded`]).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let client = match (peer, parts.extensions.get::<forwarded::TrustedProxies>()) {
            (Some(peer), Some(trusted)) => {
                Some(forwarded::client_ip(peer, &parts.headers, trusted))
            }
            (peer, _) => peer,
        };
        Ok(ClientAddr(client.map(|ip| ip.to_string())))
    }
}

impl ClientAddr {
    pub fn context(&self) -> RequestContext {
        let ctx = RequestContext::new(Source::Oidc);
        match &self.0 {
            Some(a) => ctx.with_remote_addr(a.clone()),
            None => ctx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_stays_one_segment_and_means_itself() {
        assert_eq!(url_segment("alice.smith_2-x~"), "alice.smith_2-x~");
        assert_eq!(url_segment("a b/c?d#e+f%"), "a%20b%2Fc%3Fd%23e%2Bf%25");
        assert_eq!(url_segment("jörg"), "j%C3%B6rg");
        assert_eq!(query_value("a b&c=d+e"), "a+b%26c%3Dd%2Be");
    }
}
