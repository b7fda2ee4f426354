//! Stepgate's OpenID Connect provider: `stepgate serve`, its login pages and the admin CLI.
//!
//! The provider never decides anything about the second factor: it asks
//! [`stepgate_core::Core`] (`first_factor`, `after_password`, `step_of`, `challenge_providers`,
//! `send_code`, `check_code_with_user`) and issues a session, a code or a token
//! only after the core said `Verified` (or, for a user with no second factor where none is
//! required, after the password).
//!
//! Tests start it in-process: build a [`Core`](stepgate_core::Core), then
//! [`App::new`]`(core).await?.serve(listener, shutdown)`.

pub mod api;
pub mod api_resource;
pub mod app;
pub mod cli;
pub mod crypto;
pub mod error;
pub mod host_protocol;
pub mod http;
pub mod i18n;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod params;
pub mod state;
pub mod store;
pub mod templates;
pub mod timefmt;
pub mod tls;
pub mod web;

pub use app::{run, App, StartError};
