//! Stepgate's own REST API as an OAuth resource: its audience and its two scopes.
//!
//! An access token that a relying party obtains for its own users is for that party (and the
//! userinfo endpoint) only. Were `/api` to accept it, any application an administrator signs in
//! to would act as that administrator, and any application a user signs in to could mint the
//! user's second factor. So `/api` accepts only tokens whose audience is the API and that carry
//! one of these scopes, and a client is granted them only when an administrator registered it
//! for them (`client add … --api-scope`).

/// The user's own second factors (`/api/account/…`).
pub const SCOPE_ACCOUNT: &str = "stepgate:account";
/// The administration endpoints (`/api/admin/…`); a user's token also needs the admin role.
pub const SCOPE_ADMIN: &str = "stepgate:admin";
/// Every API scope, in the order they are echoed back.
pub const API_SCOPES: [&str; 2] = [SCOPE_ACCOUNT, SCOPE_ADMIN];

pub fn is_api_scope(s: &str) -> bool {
    API_SCOPES.contains(&s)
}

/// The API's identifier, the `aud` of the tokens it accepts: `<issuer>/api`.
pub fn audience(issuer: &str) -> String {
    format!("{}/api", issuer.trim_end_matches('/'))
}
