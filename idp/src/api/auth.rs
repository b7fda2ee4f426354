//! Who calls the API: a bearer access token issued by Stepgate itself, checked like the
//! userinfo endpoint checks it (signature, type, expiry, revocation, the user still allowed).
//! No cookie is ever read here, so a cross-site page cannot ride a browser session (no CSRF).
//!
//! Administrators are users with the admin role, or clients whose client_credentials token
//! carries the `admin` scope.

use super::problem::Problem;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use stepgate_core::users::User;

/// The scope a client_credentials token needs for the admin endpoints.
pub const ADMIN_SCOPE: &str = "admin";

pub struct Caller {
    /// `None` for a client acting for itself (client_credentials).
    pub user: Option<User>,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        match &self.user {
            Some(u) => u.is_admin(),
            None => self.scopes.iter().any(|s| s == ADMIN_SCOPE),
        }
    }
}

/// A caller with a user behind the token (the account endpoints).
pub struct UserCaller(pub User);

/// A caller allowed on the admin endpoints.
pub struct AdminCaller(pub Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Problem> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("send a bearer access token issued by Stepgate")
            })?;
        let live = crate::oidc::tokens::verify_access_token(st, token)
            .await
            .map_err(|_| Problem::internal("token check failed"))?
            .ok_or_else(|| {
                Problem::unauthorized("the access token is invalid, expired or revoked")
            })?;
        Ok(Caller {
            user: live.user,
            client_id: live.client_id,
            scopes: live.scopes,
        })
    }
}

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, st).await?;
        caller
            .user
            .map(UserCaller)
            .ok_or_else(|| Problem::forbidden("these endpoints need a user's token"))
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, st).await?;
        if caller.is_admin() {
            Ok(AdminCaller(caller))
        } else {
            Err(Problem::forbidden(
                "administrators only: an admin's token, or a client token with the admin scope",
            ))
        }
    }
}
