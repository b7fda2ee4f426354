//! Stepgate's verification core.
//!
//! Both front doors — the OpenID Connect provider (`stepgate-idp`) and the PAM module
//! (`pam_stepgate`) — call this crate and nothing else to decide whether a login passes. Every
//! rule (send period, check rate limit, lockout, time limit, replay) lives here, once, and every
//! counter lives in the database so that many processes enforce one policy.

// Every public item of the core says why it exists (CI runs clippy with -D warnings).
#![warn(missing_docs)]

pub mod approval;
pub mod audit;
pub mod challenge;
pub mod codes;
pub mod config;
pub mod core;
pub mod db;
mod delivery;
pub mod device;
pub mod enrolment;
pub mod error;
pub mod factors;
pub mod groups;
pub mod host_login;
pub mod hosts;
mod mail;
pub mod notify;
pub mod passkeys;
pub mod password;
pub mod policy;
pub mod providers;
pub mod reauth;
pub mod secrets;
pub mod settings;
pub mod step;
mod store;
pub mod time;
pub mod totp;
pub mod users;
pub mod words;

pub use crate::core::{Core, RequestContext, Source};
pub use crate::error::{Error, Result};
pub use crate::providers::ProviderType;
