//! The account security page (`/account/security`): the signed-in user's second factors,
//! backup codes, default provider, password, and recent events.
//!
//! Every rule is the core's (`begin_*_enrolment`, `finish_enrolment`, `generate_backup_codes`,
//! `set_default_provider`, `remove_provider`, `set_password`); a refusal is re-rendered next to
//! the field it concerns ([`refusal`]). The same page, restricted to enrolment, serves a user
//! who must enrol during a login ([`gate::Viewer::Enrolling`]).

pub mod gate;
mod handlers;
mod view;

pub use handlers::*;
pub use view::qr_svg;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The page and its forms.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account/security", get(security_get))
        .route("/account/security/totp", post(totp_begin))
        .route("/account/security/totp/verify", post(totp_verify))
        .route("/account/security/sms", post(sms_send))
        .route("/account/security/sms/verify", post(sms_verify))
        .route("/account/security/email", post(email_send))
        .route("/account/security/email/verify", post(email_verify))
        .route("/account/security/backup-codes", post(backup_codes))
        .route("/account/security/default", post(set_default))
        .route("/account/security/remove", post(remove))
        .route("/account/security/password", post(password))
        .route("/account/security/passkeys/options", post(passkey_options))
        .route("/account/security/passkeys", post(passkey_add))
        .route("/account/security/passkeys/rename", post(passkey_rename))
        .route("/account/security/passkeys/remove", post(passkey_remove))
        .route("/account/reauth", get(reauth))
}
