//! The account page's forms. Each handler checks CSRF, finds the viewer, calls one core
//! operation and re-renders (a refusal next to its field) or redirects (success).

use super::gate::{self, Viewer};
use super::view::{page, refusal, Extra, PendingTotp};
use crate::error::Error;
use crate::http::see_other;
use crate::http::{csrf, ClientAddr};
use crate::i18n::t;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use stepgate_core::ProviderType;

const PAGE: &str = "/account/security";

/// The viewer, or a redirect to sign in.
async fn require(st: &AppState, jar: &CookieJar) -> Result<Result<Viewer, Response>, Error> {
    Ok(gate::viewer(st, jar)
        .await?
        .ok_or_else(|| see_other("/login").into_response()))
}

/// A full session only (password, backup codes, removal are not for the enrolment state).
async fn require_signed(st: &AppState, jar: &CookieJar) -> Result<Result<Viewer, Response>, Error> {
    Ok(match gate::viewer(st, jar).await? {
        Some(v @ Viewer::Signed(..)) => Ok(v),
        Some(Viewer::Enrolling { .. }) => Err(Error::page(
            StatusCode::FORBIDDEN,
            t("account-enrol-first-title"),
            t("account-enrol-first"),
        )
        .into_response()),
        None => Err(see_other("/login").into_response()),
    })
}

/// Sensitive changes (adding, replacing or removing a factor, new backup codes, a new
/// password) need a fresh sign-in — the core's `reauth` rule. The enrolment state counts as
/// one: its password was just checked and the user has no factor to prove. `Some` is the page
/// that asks the user to sign in again instead.
async fn stale(st: &AppState, viewer: &Viewer) -> Result<Option<Extra>, Error> {
    let Viewer::Signed(user, proof) = viewer else {
        return Ok(None);
    };
    match st.core.check_fresh(user, Some(*proof)).await {
        Ok(()) => Ok(None),
        Err(stepgate_core::Error::StepUpRequired { second_factor, .. }) => Ok(Some(Extra {
            status: Some(StatusCode::FORBIDDEN),
            reauth: Some(second_factor),
            ..Extra::default()
        })),
        Err(e) => Err(e.into()),
    }
}

macro_rules! fresh_or_return {
    ($st:expr, $jar:expr, $viewer:expr) => {
        if let Some(extra) = stale($st, &$viewer).await? {
            return page($st, $jar, &$viewer, extra).await;
        }
    };
}

macro_rules! viewer_or_return {
    ($e:expr) => {
        match $e? {
            Ok(v) => v,
            Err(resp) => return Ok(resp),
        }
    };
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn done_message(done: &str) -> Option<String> {
    let key = match done {
        "TOTP" => "account-done-totp",
        "SMS" => "account-done-sms",
        "EMAIL" => "account-done-email",
        "default" => "account-done-default",
        "removed" => "account-done-removed",
        "password" => "account-done-password",
        "passkey" => "account-done-passkey",
        "passkey-renamed" => "account-done-passkey-renamed",
        "passkey-removed" => "account-done-passkey-removed",
        "confirmed" => "account-done-confirmed",
        _ => return None,
    };
    Some(t(key))
}

pub async fn security_get(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<Done>,
) -> Result<Response, Error> {
    let viewer = viewer_or_return!(require(&st, &jar).await);
    let extra = match q.done.as_deref().and_then(done_message) {
        Some(m) => Extra::notice(m),
        None => Extra::default(),
    };
    page(&st, jar, &viewer, extra).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Generates a TOTP secret and shows it (QR and text) with the code prompt.
pub async fn totp_begin(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    let extra = match st
        .core
        .begin_totp_enrolment(&addr.context(), viewer.user())
        .await
    {
        Ok(t) => Extra {
            totp: Some(PendingTotp {
                secret: t.secret_base32,
                uri: t.otpauth_uri,
            }),
            ..Extra::default()
        },
        Err(e) => refusal(e, "totp-start", &[])?,
    };
    page(&st, jar, &viewer, extra).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    /// TOTP only: the secret shown, echoed back so a wrong code can show the QR again. The
    /// core checks the code against its own pending copy, never this one.
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    /// SMS/EMAIL only: the masked destination, to say again where the code went.
    #[serde(default)]
    sent_to: Option<String>,
}

/// Verifies the first code of a pending enrolment; success enables the provider (and, in the
/// enrolment state, finishes the login that was waiting for it).
async fn verify(
    st: AppState,
    addr: ClientAddr,
    jar: CookieJar,
    form: CodeForm,
    provider: ProviderType,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require(&st, &jar).await);
    let input = format!("{}-code", provider.as_str().to_lowercase());
    let ctx = addr.context();
    match st
        .core
        .finish_enrolment(&ctx, viewer.user(), provider, &form.code)
        .await
    {
        Ok(()) => match viewer {
            Viewer::Signed(..) => {
                Ok(see_other(&format!("{PAGE}?done={}", provider.as_str())).into_response())
            }
            Viewer::Enrolling { user, req } => {
                let jar = gate::clear_enrol(&st, jar);
                crate::login::finish_login(&st, jar, &ctx, req.as_deref(), &user, Some(provider))
                    .await
            }
        },
        Err(e) => {
            let mut extra = refusal(e, &input, &[("code", input.as_str())])?;
            match provider {
                ProviderType::Totp => {
                    extra.totp = match (form.secret, form.uri) {
                        (Some(secret), Some(uri)) => Some(PendingTotp { secret, uri }),
                        _ => None,
                    }
                }
                _ => extra.code_sent = Some((provider, form.sent_to.unwrap_or_default())),
            }
            page(&st, jar, &viewer, extra).await
        }
    }
}

pub async fn totp_verify(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    verify(st, addr, jar, form, ProviderType::Totp).await
}

pub async fn sms_verify(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    verify(st, addr, jar, form, ProviderType::Sms).await
}

pub async fn email_verify(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CodeForm>,
) -> Result<Response, Error> {
    verify(st, addr, jar, form, ProviderType::Email).await
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

/// Sends the first code to a new phone number or address.
async fn send(
    st: AppState,
    addr: ClientAddr,
    jar: CookieJar,
    form: SendForm,
    provider: ProviderType,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    let ctx = addr.context();
    let (result, input) = match provider {
        ProviderType::Sms => (
            st.core
                .begin_sms_enrolment(&ctx, viewer.user(), form.phone.trim())
                .await,
            "phone",
        ),
        _ => (
            st.core
                .begin_email_enrolment(&ctx, viewer.user(), form.email.trim())
                .await,
            "email",
        ),
    };
    let extra = match result {
        Ok(sent) => Extra {
            code_sent: Some((provider, sent.destination)),
            ..Extra::default()
        },
        Err(e) => refusal(e, input, &[("phone", "phone"), ("email", "email")])?,
    };
    page(&st, jar, &viewer, extra).await
}

pub async fn sms_send(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Result<Response, Error> {
    send(st, addr, jar, form, ProviderType::Sms).await
}

pub async fn email_send(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<SendForm>,
) -> Result<Response, Error> {
    send(st, addr, jar, form, ProviderType::Email).await
}

/// Generates (or regenerates) backup codes and shows them, this once.
pub async fn backup_codes(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    let extra = match st
        .core
        .generate_backup_codes(&addr.context(), viewer.user())
        .await
    {
        Ok(codes) => Extra {
            backup_codes: Some(codes),
            ..Extra::default()
        },
        Err(e) => refusal(e, "backup-start", &[])?,
    };
    page(&st, jar, &viewer, extra).await
}

#[derive(Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    password: String,
}

fn parse_provider(s: &str) -> Option<ProviderType> {
    s.parse().ok()
}

/// "Use by default".
pub async fn set_default(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<ProviderForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    let Some(p) = parse_provider(&form.provider) else {
        let extra = Extra::error("default", t("choose-method"), StatusCode::BAD_REQUEST);
        return page(&st, jar, &viewer, extra).await;
    };
    match st
        .core
        .set_default_provider(&addr.context(), viewer.user(), p)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{PAGE}?done=default")).into_response()),
        Err(e) => {
            let extra = refusal(e, &format!("default-{}", p.as_str()), &[])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}

/// Turns a provider off, after the password is entered again (a borrowed, unlocked browser
/// must not be enough to weaken the account).
pub async fn remove(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<ProviderForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    let Some(p) = parse_provider(&form.provider) else {
        let extra = Extra::error("remove", t("choose-method"), StatusCode::BAD_REQUEST);
        return page(&st, jar, &viewer, extra).await;
    };
    fresh_or_return!(&st, jar, viewer);
    let field = format!("remove-password-{}", p.as_str());
    let proof = match &viewer {
        Viewer::Signed(_, proof) => Some(*proof),
        Viewer::Enrolling { .. } => None,
    };
    match st
        .core
        .remove_own_provider(&addr.context(), viewer.user(), p, &form.password, proof)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{PAGE}?done=removed")).into_response()),
        Err(e) => {
            let extra = refusal(e, &field, &[])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// Changes the password after checking the current one.
pub async fn password(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    let ctx = addr.context();
    let user = viewer.user();
    if let Err(e) = st
        .core
        .first_factor(&ctx, &user.username, &form.current)
        .await
    {
        let extra = refusal(e, "current-password", &[])?;
        return page(&st, jar, &viewer, extra).await;
    }
    if form.new != form.confirm {
        let extra = Extra::error(
            "confirm-password",
            t("account-passwords-differ"),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return page(&st, jar, &viewer, extra).await;
    }
    match st.core.set_password(&ctx, &user.username, &form.new).await {
        Ok(()) => Ok(see_other(&format!("{PAGE}?done=password")).into_response()),
        Err(e) => {
            let extra = refusal(e, "new-password", &[("password", "new-password")])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}

/// "Sign in again" from the account page: a full sign-in (password and second factor) through
/// the usual login pages — every provider, limit and lockout applies — that comes back here.
pub async fn reauth(State(st): State<AppState>, jar: CookieJar) -> Response {
    let jar = jar.add(crate::http::cookies::build(
        crate::http::cookies::RETURN,
        "account".into(),
        st.settings.secure_cookies,
    ));
    (jar, see_other("/login")).into_response()
}

/// A login that must have a second factor, by a user who has none: no session, no token;
/// the browser gets the restricted enrolment state and goes to the enrolment page, and the
/// login (`req`) continues once a provider is enabled.
pub fn start_enrolment(
    st: &AppState,
    jar: CookieJar,
    req: Option<&str>,
    user: &stepgate_core::users::User,
) -> Response {
    tracing::info!(user = %user.username, "login needs enrolment first");
    let jar = gate::enrol_cookie(st, jar, user, req);
    (jar, see_other(PAGE)).into_response()
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    password: String,
}

/// "Add a passkey": the options for `navigator.credentials.create()` (JSON for the script),
/// under the fresh-proof rule of every added factor.
pub async fn passkey_options(
    State(st): State<AppState>,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    if stale(&st, &viewer).await?.is_some() {
        return Ok(crate::http::script_error(
            StatusCode::FORBIDDEN,
            crate::i18n::t("passkey-sign-in-again"),
        ));
    }
    Ok(
        match st.core.begin_passkey_registration(viewer.user()).await {
            Ok(c) => axum::Json(c).into_response(),
            Err(e) => {
                tracing::info!(error = %e, "passkey registration not started");
                crate::http::script_error(StatusCode::CONFLICT, crate::i18n::t("passkey-failed"))
            }
        },
    )
}

/// The authenticator's new credential, with the name the user gave it.
pub async fn passkey_add(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    match st
        .core
        .finish_passkey_registration(
            &addr.context(),
            viewer.user(),
            &form.ceremony,
            &form.name,
            &form.credential,
        )
        .await
    {
        Ok(_) => Ok(see_other(&format!("{PAGE}?done=passkey")).into_response()),
        Err(e) => {
            let extra = refusal(e, "passkey-name", &[("name", "passkey-name")])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}

pub async fn passkey_rename(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    let field = format!("passkey-rename-{}", form.id);
    match st
        .core
        .rename_passkey(&addr.context(), viewer.user(), &form.id, &form.name)
        .await
    {
        Ok(()) => Ok(see_other(&format!("{PAGE}?done=passkey-renamed")).into_response()),
        Err(stepgate_core::Error::NotFound(_)) => {
            let extra = Extra::error(&field, t("account-no-such-passkey"), StatusCode::NOT_FOUND);
            page(&st, jar, &viewer, extra).await
        }
        Err(e) => {
            let extra = refusal(e, &field, &[])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}

/// Removes one passkey: a fresh sign-in and the password again, as for any factor.
pub async fn passkey_remove(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let viewer = viewer_or_return!(require_signed(&st, &jar).await);
    fresh_or_return!(&st, jar, viewer);
    let field = format!("passkey-remove-{}", form.id);
    let proof = match &viewer {
        Viewer::Signed(_, proof) => Some(*proof),
        Viewer::Enrolling { .. } => None,
    };
    match st
        .core
        .remove_own_passkey(
            &addr.context(),
            viewer.user(),
            &form.id,
            &form.password,
            proof,
        )
        .await
    {
        Ok(()) => Ok(see_other(&format!("{PAGE}?done=passkey-removed")).into_response()),
        Err(stepgate_core::Error::NotFound(_)) => {
            let extra = Extra::error(&field, t("account-no-such-passkey"), StatusCode::NOT_FOUND);
            page(&st, jar, &viewer, extra).await
        }
        Err(e) => {
            let extra = refusal(e, &field, &[])?;
            page(&st, jar, &viewer, extra).await
        }
    }
}
