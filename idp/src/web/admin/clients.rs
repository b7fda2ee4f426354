//! OIDC clients: register (the secret is shown once), edit redirect URIs and the 2FA
//! requirement, rotate the secret, delete. Reuses idp's client store, which validates.

use super::{admin_ctx, admin_or_return, field_error, one_error, Errors};
use crate::error::Error;
use crate::http::{csrf, ClientAddr};
use crate::state::AppState;
use crate::store::clients::{self, ClientUpdate, GrantType, NewClient, SigningAlg};
use crate::templates::render;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::Serialize;
use std::collections::HashMap;
use stepgate_core::audit::{self, Event, EventKind};

#[derive(Serialize)]
struct ClientRow {
    client_id: String,
    name: String,
    public: bool,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    api_scopes: String,
    api_scope_list: Vec<String>,
    allowed_groups: String,
    require_2fa: bool,
}

/// What one rendering shows beyond the list.
#[derive(Default)]
struct Shown {
    errors: Errors,
    notice: Option<String>,
    /// `(client_id, secret)` right after creation or rotation; never shown again.
    secret: Option<(String, String)>,
    typed: HashMap<String, String>,
    status: Option<StatusCode>,
}

async fn render_list(st: &AppState, jar: CookieJar, shown: Shown) -> Result<Response, Error> {
    let rows: Vec<ClientRow> = clients::list(st.core.db())
        .await?
        .into_iter()
        .map(|c| ClientRow {
            public: c.is_public(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            scopes: c.scopes.join(" "),
            api_scopes: c.api_scopes.join(" "),
            api_scope_list: c.api_scopes,
            allowed_groups: c.allowed_groups.join(" "),
            require_2fa: c.require_2fa,
            client_id: c.client_id,
            name: c.name,
        })
        .collect();
    let (jar, token) = csrf::ensure(st, jar);
    let (secret_for, secret) = shown.secret.unzip();
    let html = render(
        "admin_clients.html",
        context! {
            wide => true, csrf => token, section => "clients", clients => rows,
            errors => shown.errors, notice => shown.notice, secret_for, secret,
            typed => shown.typed,
        },
    );
    Ok((shown.status.unwrap_or(StatusCode::OK), jar, html).into_response())
}

pub async fn list(State(st): State<AppState>, jar: CookieJar) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    render_list(&st, jar, Shown::default()).await
}

fn lines(s: Option<&String>) -> Vec<String> {
    s.map(|s| {
        s.split(['\n', ' '])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The API scopes ticked on a form (`api_scope.<scope>` checkboxes).
fn ticked_api_scopes(form: &HashMap<String, String>) -> Vec<String> {
    crate::api_resource::API_SCOPES
        .iter()
        .filter(|s| {
            form.get(&format!("api_scope.{s}"))
                .is_some_and(|v| v == "on")
        })
        .map(|s| s.to_string())
        .collect()
}

async fn audit_client(
    st: &AppState,
    addr: &ClientAddr,
    admin: &stepgate_core::users::User,
    kind: EventKind,
    id: &str,
) {
    let ev = Event::new(kind)
        .user(&admin.id, &admin.username)
        .detail(format!("client {id}"));
    if let Err(e) = audit::record_alone(&st.core, &admin_ctx(addr), ev).await {
        tracing::warn!(error = %e, "could not audit a client change");
    }
}

pub async fn create(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, form.get("csrf").map(String::as_str))?;
    let admin = admin_or_return!(&st, &jar);
    let on = |k: &str| form.get(k).is_some_and(|v| v == "on" || v == "true");
    let text = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut grant_types: Vec<GrantType> = GrantType::ALL
        .into_iter()
        .filter(|g| on(&format!("grant.{}", g.as_str())))
        .collect();
    if grant_types.is_empty() && !form.keys().any(|k| k.starts_with("grant.")) {
        grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    }
    let new = NewClient {
        client_id: text("client_id"),
        name: text("name"),
        public: on("public"),
        redirect_uris: lines(form.get("redirect_uris")),
        post_logout_redirect_uris: lines(form.get("post_logout_redirect_uris")),
        grant_types,
        scopes: lines(form.get("scopes")),
        api_scopes: ticked_api_scopes(&form),
        allowed_groups: lines(form.get("allowed_groups")),
        require_2fa: on("require_2fa"),
        id_token_alg: SigningAlg::Es256,
    };
    let id = new.client_id.clone();
    match clients::create(st.core.db(), new, st.now()).await {
        Ok((_, secret)) => {
            audit_client(&st, &addr, &admin, EventKind::ClientCreated, &id).await;
            let shown = Shown {
                notice: Some(crate::i18n::t_args(
                    "clients-done-registered",
                    &[("client", id.clone().into())],
                )),
                secret: secret.map(|s| (id, s)),
                ..Shown::default()
            };
            render_list(&st, jar, shown).await
        }
        Err(e) => {
            let (field, message, status) =
                field_error(e, "new-client_id", &|f| Some(format!("new-{f}")))?;
            let mut typed = form.clone();
            typed.remove("csrf");
            let shown = Shown {
                errors: one_error(field, message),
                typed,
                status: Some(status),
                ..Shown::default()
            };
            render_list(&st, jar, shown).await
        }
    }
}

/// `action` = `update` | `rotate` | `delete`.
pub async fn act(
    State(st): State<AppState>,
    addr: ClientAddr,
    jar: CookieJar,
    Path(client_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    csrf::check(&st, &jar, form.get("csrf").map(String::as_str))?;
    let admin = admin_or_return!(&st, &jar);
    let db = st.core.db();
    let action = form.get("action").map(String::as_str).unwrap_or("");
    let result = match action {
        "update" => clients::update(
            db,
            &client_id,
            ClientUpdate {
                redirect_uris: lines(form.get("redirect_uris")),
                post_logout_redirect_uris: lines(form.get("post_logout_redirect_uris")),
                require_2fa: form.get("require_2fa").is_some_and(|v| v == "on"),
                api_scopes: Some(ticked_api_scopes(&form)),
                allowed_groups: Some(lines(form.get("allowed_groups"))),
            },
            st.now(),
        )
        .await
        .map(|_| (EventKind::ClientUpdated, "saved", None)),
        "rotate" => clients::rotate_secret(db, &client_id, st.now())
            .await
            .map(|s| (EventKind::ClientSecretRotated, "rotated", Some(s))),
        "delete" => clients::remove(db, &client_id)
            .await
            .map(|()| (EventKind::ClientRemoved, "deleted", None)),
        _ => Err(stepgate_core::Error::invalid(
            "action",
            crate::i18n::t("admin-unknown-action"),
        )),
    };
    st.clients.forget_all();
    match result {
        Ok((kind, what, secret)) => {
            audit_client(&st, &addr, &admin, kind, &client_id).await;
            let shown = Shown {
                notice: Some(crate::i18n::t_args(
                    &format!("clients-done-{what}"),
                    &[("client", client_id.clone().into())],
                )),
                secret: secret.map(|s| (client_id, s)),
                ..Shown::default()
            };
            render_list(&st, jar, shown).await
        }
        Err(e) => {
            let prefix = format!("{client_id}-");
            let (field, message, status) = field_error(e, &format!("{prefix}action"), &|f| {
                Some(format!("{prefix}{f}"))
            })?;
            let shown = Shown {
                errors: one_error(field, message),
                status: Some(status),
                ..Shown::default()
            };
            render_list(&st, jar, shown).await
        }
    }
}
