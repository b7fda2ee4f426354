//! Groups: list with member counts, create, and per group: its members, add and remove a
//! member, remove the group. Each form is one core operation; a refusal is shown next to its
//! field and changes nothing.

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

#[derive(Serialize)]
struct GroupRow {
    name: String,
    members: i64,
    created_at: String,
}

#[derive(Serialize)]
struct MemberRow {
    username: String,
    display_name: String,
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    who: Option<String>,
}

fn done_message(d: &Done) -> Option<String> {
    use crate::i18n::{t, t_args};
    let who = || match &d.who {
        Some(w) => w.clone(),
        None => t("groups-the-user"),
    };
    Some(match d.done.as_deref()? {
        "created" => t("groups-done-created"),
        "removed" => t("groups-done-removed"),
        "added" => t_args("groups-done-added", &[("who", who().into())]),
        "unchanged" => t_args("groups-done-unchanged", &[("who", who().into())]),
        "taken-out" => t_args("groups-done-taken-out", &[("who", who().into())]),
        _ => return None,
    })
}

async fn render_list(
    st: &AppState,
    jar: CookieJar,
    typed: &str,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let rows: Vec<GroupRow> = st
        .core
        .list_groups()
        .await?
        .into_iter()
        .map(|g| GroupRow {
            created_at: format_time(g.created_at),
            name: g.name,
            members: g.members,
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_groups.html",
        context! {
            wide => true, csrf => token, section => "groups", groups => rows,
            typed, errors, notice,
        },
    );
    Ok((status, jar, html).into_response())
}

pub async fn list(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<Done>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    let notice = done_message(&q);
    render_list(&st, jar, "", Errors::new(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CreateForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let admin = admin_or_return!(&st, &jar);
    let name = form.name.trim();
    match st
        .core
        .create_group(&admin_ctx(&addr), Some(&admin), name)
        .await
    {
        Ok(g) => Ok(see_other(&format!(
            "/admin/groups/{}?done=created",
            url_segment(&g.name)
        ))
        .into_response()),
        Err(e) => {
            let (field, message, status) = field_error(e, "new-name", &|_| None)?;
            render_list(&st, jar, name, one_error(field, message), None, status).await
        }
    }
}

async fn render_group(
    st: &AppState,
    jar: CookieJar,
    name: &str,
    typed: &str,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let Some(group) = st.core.group(name).await? else {
        return Err(not_found());
    };
    let members: Vec<MemberRow> = st
        .core
        .group_members(name)
        .await?
        .into_iter()
        .map(|u| MemberRow {
            username: u.username,
            display_name: u.display_name,
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_group.html",
        context! {
            wide => true, csrf => token, section => "groups",
            name => group.name,
            created_at => format_time(group.created_at), members, typed, errors, notice,
        },
    );
    Ok((status, jar, html).into_response())
}

fn not_found() -> Error {
    Error::page(
        StatusCode::NOT_FOUND,
        crate::i18n::t("err-not-found-title"),
        crate::i18n::t("err-no-such-group"),
    )
}

pub async fn show(
    State(st): State<AppState>,
    jar: CookieJar,
    Path(name): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    let notice = done_message(&q);
    render_group(&st, jar, &name, "", Errors::new(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    username: String,
}

/// `action` = `add_member` | `remove_member` | `delete`.
pub async fn act(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    let admin = admin_or_return!(&st, &jar);
    let ctx = admin_ctx(&addr);
    let core = &st.core;
    let username = form.username.trim();
    let who = crate::http::query_value(username);
    let back = |done: &str| {
        see_other(&format!(
            "/admin/groups/{}?done={done}&who={who}",
            url_segment(&name)
        ))
        .into_response()
    };
    let result = match form.action.as_str() {
        "add_member" => core
            .add_group_member(&ctx, Some(&admin), &name, username)
            .await
            .map(|added| back(if added { "added" } else { "unchanged" })),
        "remove_member" => core
            .remove_group_member(&ctx, Some(&admin), &name, username)
            .await
            .map(|()| back("taken-out")),
        "delete" => core
            .remove_group(&ctx, Some(&admin), &name)
            .await
            .map(|()| see_other("/admin/groups?done=removed").into_response()),
        _ => Err(stepgate_core::Error::invalid(
            "action",
            crate::i18n::t("admin-unknown-action"),
        )),
    };
    match result {
        Ok(resp) => Ok(resp),
        Err(stepgate_core::Error::NotFound("group")) => Err(not_found()),
        Err(e) => {
            let e = match e {
                stepgate_core::Error::NotFound("user") => stepgate_core::Error::invalid(
                    "username",
                    crate::i18n::t_args(
                        "groups-no-such-user",
                        &[("name", username.to_string().into())],
                    ),
                ),
                stepgate_core::Error::NotFound("group member") => stepgate_core::Error::invalid(
                    "username",
                    crate::i18n::t_args(
                        "groups-not-a-member",
                        &[("name", username.to_string().into())],
                    ),
                ),
                other => other,
            };
            let (field, message, status) = field_error(e, "action", &|f| {
                (f == "username").then(|| "member-username".to_string())
            })?;
            let typed = if form.action == "add_member" {
                username
            } else {
                ""
            };
            render_group(
                &st,
                jar,
                &name,
                typed,
                one_error(field, message),
                None,
                status,
            )
            .await
        }
    }
}
