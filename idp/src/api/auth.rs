//! Who calls the API: a bearer access token issued by Stepgate for Stepgate's API (audience
//! `<issuer>/api`, see `api_resource`), checked like the userinfo endpoint checks a token
//! (signature, type, expiry, revocation, the user still allowed) and then for its scope.
//! No cookie is ever read here, so a cross-site page cannot ride a browser session (no CSRF).
//!
//! - `/api/account/…` needs a user's token with `stepgate:account`;
//! - `/api/admin/…` needs `stepgate:admin`, and, on a user's token, the admin role;
//! - the client must still be registered for the scope (an administrator who takes it away
//!   ends what the client's tokens can do at once).
//!
//! A relying party's ordinary token (any other audience) is refused with 403: it was issued
//! for that party, and accepting it here would let any application a user signs in to act as
//! that user — or as an administrator.

use super::problem::Problem;
use crate::api_resource::{self, SCOPE_ACCOUNT, SCOPE_ADMIN};
use crate::login::ACR_2FA;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;
use stepgate_core::reauth::Proof;
use stepgate_core::users::User;

pub struct Caller {
    /// `None` for a client acting for itself (client_credentials).
    pub user: Option<User>,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// When and how the user signed in (`auth_time`, `acr`), for changes that need a fresh
    /// sign-in; `None` for a client's own token.
    pub proof: Option<Proof>,
}

impl Caller {
    fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

/// A user's token with `stepgate:account` (the account endpoints).
pub struct UserCaller(pub User, pub Option<Proof>);

/// A caller allowed on the admin endpoints.
pub struct AdminCaller(pub Caller);

fn audience_includes(claims: &serde_json::Map<String, Value>, aud: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(s)) => s == aud,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(aud)),
        _ => false,
    }
}

fn proof_of(claims: &serde_json::Map<String, Value>) -> Option<Proof> {
    let at = claims.get("auth_time")?.as_i64()?;
    let second_factor = claims.get("acr").and_then(Value::as_str) == Some(ACR_2FA);
    Some(Proof { at, second_factor })
}

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
        if !audience_includes(&live.claims, &api_resource::audience(&st.settings.issuer)) {
            return Err(Problem::forbidden(format!(
                "this access token was issued to the client {:?} for its own use, not for \
                 Stepgate's API; use a token of a client registered for {SCOPE_ACCOUNT} or \
                 {SCOPE_ADMIN}",
                live.client_id
            )));
        }
        let client = st
            .clients
            .get(st.core.db(), &live.client_id, st.now())
            .await
            .map_err(Problem::internal)?
            .ok_or_else(|| Problem::unauthorized("the client of this token no longer exists"))?;
        // Scopes the client is no longer registered for are dropped, not honoured.
        let scopes = live
            .scopes
            .into_iter()
            .filter(|s| !api_resource::is_api_scope(s) || client.has_api_scope(s))
            .collect();
        Ok(Caller {
            proof: live.user.as_ref().and_then(|_| proof_of(&live.claims)),
            user: live.user,
            client_id: live.client_id,
            scopes,
        })
    }
}

impl FromRequestParts<AppState> for UserCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, st).await?;
        if !caller.has_scope(SCOPE_ACCOUNT) {
            return Err(Problem::forbidden(format!(
                "these endpoints need a token with the {SCOPE_ACCOUNT} scope"
            )));
        }
        let proof = caller.proof;
        caller
            .user
            .map(|u| UserCaller(u, proof))
            .ok_or_else(|| Problem::forbidden("these endpoints need a user's token"))
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, st).await?;
        let role_ok = caller.user.as_ref().is_none_or(User::is_admin);
        if caller.has_scope(SCOPE_ADMIN) && role_ok {
            Ok(AdminCaller(caller))
        } else {
            Err(Problem::forbidden(format!(
                "administrators only: a token with the {SCOPE_ADMIN} scope (an administrator's, \
                 or a client's own token) from a client registered for it"
            )))
        }
    }
}
