//! The pages people see: sign-in, second factor, sign-out, and the small helpers they share
//! (cookies, CSRF, security headers, the caller's address).

pub mod account;
pub mod admin;
pub mod cookies;
pub mod csrf;
pub mod headers;
pub mod home;
pub mod login;
pub mod second_factor;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::convert::Infallible;
use std::net::SocketAddr;
use stepgate_core::{RequestContext, Source};

/// The peer address of the request, when the server was started with connection info; for
/// the audit log.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
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
