//! Registered hosts (fleet mode): the list with allowed groups and last seen, registering one
//! (its credential shown once, on the page that follows), and per host: its groups, recent
//! logins, a new credential, unregistering. Each form is one core operation; a refusal is
//! shown next to its field and changes nothing.

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
use stepgate_core::audit::AuditFilter;
use stepgate_core::hosts::Credential;
use stepgate_core::Source;

/// Recent events shown on a host's page.
const RECENT_EVENTS: u32 = 20;

#[derive(Serialize)]
struct HostRow {
    name: String,
    groups: String,
    last_seen: String,
    last_addr: String,
}

#[derive(Serialize)]
struct EventRow {
    at: String,
    username: String,
    event: String,
    service: String,
    remote_addr: String,
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn done_message(d: &Done) -> Option<String> {
    let key = match d.done.as_deref()? {
        "removed" => "hosts-done-removed",
        "allowed" => "hosts-done-allowed",
        "denied" => "hosts-done-denied",
        _ => return None,
    };
    Some(crate::i18n::t(key))
}

fn last_seen(at: Option<i64>) -> String {
    at.map(format_time).unwrap_or_else(|| "never".into())
}

async fn render_list(
    st: &AppState,
    jar: CookieJar,
    typed: (&str, &str),
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let rows: Vec<HostRow> = st
        .core
        .list_hosts()
        .await?
        .into_iter()
        .map(|h| HostRow {
            groups: h.allowed_groups.join(", "),
            last_seen: last_seen(h.last_seen_at),
            last_addr: h.last_seen_addr.unwrap_or_default(),
            name: h.name,
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_hosts.html",
        context! {
            wide => true, csrf => token, section => "hosts", hosts => rows,
            typed => typed.0, typed_groups => typed.1, errors, notice,
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
    render_list(&st, jar, ("", ""), Errors::new(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    groups: String,
}

pub async fn create(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<CreateForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let name = form.name.trim();
    let groups: Vec<String> = form
        .groups
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect();
    match st.core.add_host(&admin_ctx(&addr), name, &groups).await {
        // The credential is shown on this response only; it is never stored in the clear.
        Ok((host, credential)) => {
            let notice = Some(if host.allowed_groups.is_empty() {
                crate::i18n::t("hosts-done-registered-no-groups")
            } else {
                crate::i18n::t("hosts-done-registered")
            });
            render_host(
                &st,
                jar,
                &host.name,
                Some(credential),
                Errors::new(),
                notice,
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let (field, message, status) = field_error(e, "new-name", &|f| {
                (f == "group").then(|| "new-groups".to_string())
            })?;
            render_list(
                &st,
                jar,
                (name, form.groups.trim()),
                one_error(field, message),
                None,
                status,
            )
            .await
        }
    }
}

async fn render_host(
    st: &AppState,
    jar: CookieJar,
    name: &str,
    credential: Option<Credential>,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, Error> {
    let host = match st.core.host(name).await {
        Ok(h) => h,
        Err(stepgate_core::Error::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let filter = AuditFilter {
        host: Some(host.name.clone()),
        source: Some(Source::Pam),
        limit: RECENT_EVENTS,
        ..Default::default()
    };
    let events: Vec<EventRow> = stepgate_core::audit::list(st.core.db().pool(), &filter)
        .await?
        .into_iter()
        .map(|e| EventRow {
            at: format_time(e.at),
            username: e.username.unwrap_or_default(),
            event: e.event,
            service: e.service.unwrap_or_default(),
            remote_addr: e.remote_addr.unwrap_or_default(),
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let html = render(
        "admin_host.html",
        context! {
            wide => true, csrf => token, section => "hosts",
            name => host.name, groups => host.allowed_groups,
            created_at => format_time(host.created_at), rotated_at => format_time(host.rotated_at),
            last_seen => last_seen(host.last_seen_at), last_addr => host.last_seen_addr,
            credential => credential.map(|c| c.0), events, errors, notice, typed => "",
        },
    );
    Ok((status, jar, html).into_response())
}

fn not_found() -> Error {
    Error::page(
        StatusCode::NOT_FOUND,
        crate::i18n::t("err-not-found-title"),
        crate::i18n::t("err-no-such-host"),
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
    render_host(&st, jar, &name, None, Errors::new(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    group: String,
}

/// `action` = `allow` | `deny` | `rotate` | `delete`.
pub async fn act(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, Some(&form.csrf))?;
    admin_or_return!(&st, &jar);
    let ctx = admin_ctx(&addr);
    let core = &st.core;
    let group = form.group.trim();
    let back = |done: &str| see_other(&format!("/admin/hosts/{}?done={done}", url_segment(&name)));
    let result = match form.action.as_str() {
        "allow" => core
            .allow_host_group(&ctx, &name, group)
            .await
            .map(|_| back("allowed")),
        "deny" => core
            .deny_host_group(&ctx, &name, group)
            .await
            .map(|_| back("denied")),
        "rotate" => match core.rotate_host_credential(&ctx, &name).await {
            Ok(credential) => {
                let notice =
                    Some("A new credential was made; the previous one no longer works.".into());
                return render_host(
                    &st,
                    jar,
                    &name,
                    Some(credential),
                    Errors::new(),
                    notice,
                    StatusCode::OK,
                )
                .await;
            }
            Err(e) => Err(e),
        },
        "delete" => core
            .remove_host(&ctx, &name)
            .await
            .map(|()| see_other("/admin/hosts?done=removed")),
        _ => Err(stepgate_core::Error::invalid(
            "action",
            crate::i18n::t("admin-unknown-action"),
        )),
    };
    match result {
        Ok(resp) => Ok(resp.into_response()),
        Err(stepgate_core::Error::NotFound("host")) => Err(not_found()),
        Err(e) => {
            let (field, message, status) = field_error(e, "action", &|f| {
                (f == "group").then(|| "allow-group".to_string())
            })?;
            render_host(
                &st,
                jar,
                &name,
                None,
                one_error(field, message),
                None,
                status,
            )
            .await
        }
    }
}
