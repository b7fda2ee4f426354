//! Users: search, create, and per user: which second factors are on and when they changed,
//! disable/enable, unlock, reset second factors, set role.

use super::{admin_ctx, admin_or_return, field_error, one_error, url_segment, Errors};
use crate::error::Error;
use crate::http::see_other;
use crate::http::{csrf, ClientAddr};
use crate::state::AppState;
use crate::templates::render;
use crate::timefmt::minutes as format_time;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::{Deserialize, Serialize};
use stepgate_core::users::{NewUser, Role, User};

const PAGE_SIZE: u32 = 50;

#[derive(Serialize)]
struct UserRow {
    username: String,
    email: String,
    display_name: String,
    role: &'static str,
    disabled: bool,
    locked: bool,
    twofa_failures: i64,
}

fn row(u: &User) -> UserRow {
    UserRow {
        username: u.username.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        role: u.role.as_str(),
        disabled: u.disabled,
        locked: u.locked,
        twofa_failures: u.twofa_failures,
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: u32,
}

#[derive(Deserialize, Default, Serialize, Clone)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default, skip_serializing)]
    password: String,
}

async fn render_list(
    st: &AppState,
    jar: CookieJar,
    q: &ListQuery,
    typed: Option<CreateForm>,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let users = st
        .core
        .list_users(q.q.trim(), PAGE_SIZE + 1, q.page.saturating_mul(PAGE_SIZE))
        .await?;
    let more = users.len() > PAGE_SIZE as usize;
    let rows: Vec<UserRow> = users.iter().take(PAGE_SIZE as usize).map(row).collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_users.html",
        context! {
            wide => true, csrf => token, section => "users",
            users => rows, q => q.q.trim(), page => q.page,
            q_enc => crate::http::query_value(q.q.trim()),
            next_page => more.then_some(q.page + 1),
            prev_page => q.page.checked_sub(1),
            typed => typed.unwrap_or_default(), errors, notice,
        },
    );
    Ok((status, jar, html).into_response())
}

pub async fn list(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<ListQuery>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    render_list(&st, jar, &q, None, Errors::new(), None, StatusCode::OK).await
}

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "ADMIN" | "admin" => Some(Role::Admin),
        "USER" | "user" | "" => Some(Role::User),
        _ => None,
    }
}

pub async fn create(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CreateForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let q = ListQuery::default();
    let Some(role) = parse_role(form.role.trim()) else {
        let errors = one_error("new-role".into(), crate::i18n::t("admin-role-choose"));
        return render_list(
            &st,
            jar,
            &q,
            Some(form),
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let nonempty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let new = NewUser {
        username: form.username.trim().to_string(),
        email: form.email.trim().to_string(),
        phone: nonempty(&form.phone),
        display_name: nonempty(&form.display_name),
        role,
        password: Some(form.password.clone()).filter(|p| !p.is_empty()),
    };
    match st.core.create_user(&admin_ctx(&addr), new).await {
        Ok(u) => Ok(see_other(&format!(
            "/admin/users/{}?done=created",
            url_segment(&u.username)
        ))
        .into_response()),
        Err(e) => {
            let (field, message, status) =
                field_error(e, "new-username", &|f| Some(format!("new-{f}")))?;
            render_list(
                &st,
                jar,
                &q,
                Some(form),
                one_error(field, message),
                None,
                status,
            )
            .await
        }
    }
}

#[derive(Serialize)]
struct FactorRow {
    provider: &'static str,
    is_default: bool,
    destination: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn done_message(d: &str) -> Option<String> {
    let key = match d {
        "created" => "admin-user-done-created",
        "disable" => "admin-user-done-disable",
        "enable" => "admin-user-done-enable",
        "unlock" => "admin-user-done-unlock",
        "reset" => "admin-user-done-reset",
        "role" => "admin-user-done-role",
        "remove_passkey" => "admin-user-done-remove-passkey",
        _ => return None,
    };
    Some(crate::i18n::t(key))
}

async fn render_user(
    st: &AppState,
    jar: CookieJar,
    username: &str,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let Some(user) = st.core.user_by_username(username).await? else {
        return Err(Error::page(
            StatusCode::NOT_FOUND,
            crate::i18n::t("err-not-found-title"),
            crate::i18n::t("err-no-such-user"),
        ));
    };
    let factors: Vec<FactorRow> = st
        .core
        .enrolled_providers(&user.id)
        .await?
        .into_iter()
        .map(|p| FactorRow {
            provider: p.provider.as_str(),
            is_default: p.is_default,
            destination: p.destination,
            created_at: format_time(p.created_at),
            updated_at: format_time(p.updated_at),
        })
        .collect();
    let backup_left = st.core.backup_codes_left(&user.id).await?;
    let groups = st.core.groups_of(&user.id).await?;
    let passkeys: Vec<(String, String, String, String)> = st
        .core
        .passkeys(&user.id)
        .await?
        .into_iter()
        .map(|k| {
            let used = k.last_used_at.map_or("never".into(), format_time);
            (k.id, k.name, format_time(k.created_at), used)
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_user.html",
        context! {
            wide => true, csrf => token, section => "users",
            u => row(&user), phone => user.phone.as_deref().map(stepgate_core::codes::mask_phone),
            locked_at => user.locked_at.map(format_time),
            created_at => format_time(user.created_at),
            factors, backup_left, groups, errors, notice, passkeys,
        },
    );
    Ok((status, jar, html).into_response())
}

pub async fn show(
    State(st): State<AppState>,
    jar: CookieJar,
    Path(username): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    let notice = q.done.as_deref().and_then(done_message);
    render_user(&st, jar, &username, Errors::new(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    passkey: String,
}

pub async fn act(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Path(username): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let ctx = admin_ctx(&addr);
    let core = &st.core;
    let result = match form.action.as_str() {
        "disable" => core.set_disabled(&ctx, &username, true).await.map(drop),
        "enable" => core.set_disabled(&ctx, &username, false).await.map(drop),
        "unlock" => core.unlock_user(&ctx, &username).await.map(drop),
        "reset" => core.reset_twofa(&ctx, &username).await,
        "remove_passkey" => match core.require_user(&username).await {
            Ok(u) => core.remove_passkey(&ctx, &u, &form.passkey).await,
            Err(e) => Err(e),
        },
        "role" => match parse_role(&form.role) {
            Some(r) => core.set_role(&ctx, &username, r).await.map(drop),
            None => Err(stepgate_core::Error::invalid(
                "role",
                crate::i18n::t("admin-role-choose"),
            )),
        },
        _ => Err(stepgate_core::Error::invalid(
            "action",
            crate::i18n::t("admin-unknown-action"),
        )),
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/admin/users/{}?done={}",
            url_segment(&username),
            form.action
        ))
        .into_response()),
        Err(stepgate_core::Error::NotFound(_)) => Err(Error::page(
            StatusCode::NOT_FOUND,
            crate::i18n::t("err-not-found-title"),
            crate::i18n::t("err-no-such-user"),
        )),
        Err(e) => {
            let (field, message, status) = field_error(e, "action", &|f| Some(f.to_string()))?;
            render_user(&st, jar, &username, one_error(field, message), None, status).await
        }
    }
}
