//! The OpenID Connect endpoints. Handlers are thin: they parse, call the store or the core,
//! and shape the answer; the second factor is decided by the core alone (see `web`).

pub mod authorize;
pub mod client_auth;
pub mod client_cache;
pub mod device;
pub mod discovery;
pub mod end_session;
pub mod revocation;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod verified;
