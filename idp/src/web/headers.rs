//! Security headers on every response. The pages need no script at all, so the policy allows
//! none; styles come from our own stylesheet only; no site may frame us (clickjacking).
//! `form-action` is deliberately absent: after the login form, the browser follows our
//! redirect to the client's `redirect_uri`, which browsers check against `form-action`.

use axum::http::{header, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The layers, outermost last; each sets its header unless the handler already did.
pub fn layers() -> Vec<SetResponseHeaderLayer<HeaderValue>> {
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Pages and token responses carry secrets or per-user state; the few cacheable
        // documents (discovery, JWKS, the stylesheet) set their own Cache-Control.
        (header::CACHE_CONTROL, "no-store"),
    ];
    fixed
        .into_iter()
        .map(|(name, value)| {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        })
        .collect()
}
