//! `pam_stepgate.so`: the PAM front door of Stepgate.
//!
//! SSH, console and sudo logins pass the same second factor as web logins because this module
//! asks the same verification core (`stepgate-core`) the same questions, over the same database:
//! one user list, one lockout counter, one rate limit, one audit log, one TOTP replay guard.
//!
//! Layout, thinnest at the edge:
//! - [`ffi`]: the `pam_sm_*` entry points and the PAM handle as a [`Conversation`];
//! - [`run`]: one call from start to finish, with a runtime that lives only for the call;
//! - [`flow`]: the prompts and messages a person sees, asking a [`verifier::Verifier`]: the
//!   core on this machine ([`direct`]) or the server's host protocol ([`remote`], fleet mode);
//!   plain Rust, tested with [`conversation::Scripted`];
//! - [`files`]: reading the configuration and checking who may have written it;
//! - [`args`], [`outcome`], [`syslog`]: arguments, return codes, diagnostics;
//! - [`sqlite`]: SQLite settings for a process that lives for one login.
//!
//! See `docs/pam.md` for installation and every return code.

pub mod args;
pub mod conversation;
pub mod direct;
pub mod ffi;
pub mod files;
pub mod flow;
pub mod outcome;
pub mod remote;
pub mod run;
pub mod sqlite;
pub mod syslog;
pub mod verifier;

pub use args::{Args, Mode};
pub use conversation::{Conversation, Scripted};
pub use outcome::{Outcome, Verdict};
