//! `/api/admin/hosts/…`: registered hosts (fleet mode), the same core operations as
//! `stepgate host` and the console's hosts page. A credential appears in a response only
//! when it is made (registration, rotation), never again.

use super::auth::AdminCaller;
use super::problem::{ApiJson, Problem};
use crate::http::ClientAddr;
use crate::state::AppState;
use crate::web::admin::admin_ctx;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use stepgate_core::hosts::Host;
use utoipa::ToSchema;

/// A registered host as administrators see it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostDoc {
    pub name: String,
    /// Groups whose members may log in there; none: no one can.
    pub allowed_groups: Vec<String>,
    pub created_at: i64,
    /// When the current credential was made.
    pub rotated_at: i64,
    pub last_seen_at: Option<i64>,
    pub last_seen_addr: Option<String>,
}

impl From<&Host> for HostDoc {
    fn from(h: &Host) -> HostDoc {
        HostDoc {
            name: h.name.clone(),
            allowed_groups: h.allowed_groups.clone(),
            created_at: h.created_at,
            rotated_at: h.rotated_at,
            last_seen_at: h.last_seen_at,
            last_seen_addr: h.last_seen_addr.clone(),
        }
    }
}

/// A host with the credential just made for it (shown once).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostWithCredential {
    #[serde(flatten)]
    pub host: HostDoc,
    /// The line to put in the host's credential file (`credential=` of the PAM module).
    pub credential: String,
}

/// Every registered host, by name.
#[utoipa::path(get, path = "/api/admin/hosts", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<HostDoc>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_hosts(
    State(st): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<HostDoc>>, Problem> {
    let hosts = st.core.list_hosts().await?;
    Ok(Json(hosts.iter().map(HostDoc::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateHost {
    /// Letters, digits, '.', '-' and '_' (what `hostname` prints, usually).
    pub name: String,
    /// Existing groups whose members may log in at this host.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

/// Registers a host; the response holds its credential, shown this once.
#[utoipa::path(post, path = "/api/admin/hosts", tag = "admin", security(("bearer" = [])),
    request_body = CreateHost,
    responses((status = 201, body = HostWithCredential),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_host(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    ApiJson(body): ApiJson<CreateHost>,
) -> Result<Response, Problem> {
    let (host, credential) = st
        .core
        .add_host(&admin_ctx(&addr), &body.name, &body.allowed_groups)
        .await?;
    let doc = HostWithCredential {
        host: HostDoc::from(&host),
        credential: credential.0,
    };
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

/// One host.
#[utoipa::path(get, path = "/api/admin/hosts/{name}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = HostDoc),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_host(
    State(st): State<AppState>,
    _: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<HostDoc>, Problem> {
    Ok(Json(HostDoc::from(&st.core.host(&name).await?)))
}

/// Unregisters a host: its credential stops working at once.
#[utoipa::path(delete, path = "/api/admin/hosts/{name}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204, description = "removed"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_host(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    st.core.remove_host(&admin_ctx(&addr), &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Gives a host a new credential (in the response, shown once); the old one stops working.
#[utoipa::path(post, path = "/api/admin/hosts/{name}/rotate-credential", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = HostWithCredential),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_credential(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<HostWithCredential>, Problem> {
    let credential = st
        .core
        .rotate_host_credential(&admin_ctx(&addr), &name)
        .await?;
    let host = st.core.host(&name).await?;
    Ok(Json(HostWithCredential {
        host: HostDoc::from(&host),
        credential: credential.0,
    }))
}

/// Lets members of a group log in at the host (allowing it twice changes nothing).
#[utoipa::path(put, path = "/api/admin/hosts/{name}/groups/{group}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = HostDoc),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn allow_group(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path((name, group)): Path<(String, String)>,
) -> Result<Json<HostDoc>, Problem> {
    let h = st
        .core
        .allow_host_group(&admin_ctx(&addr), &name, &group)
        .await?;
    Ok(Json(HostDoc::from(&h)))
}

/// Stops letting members of a group log in at the host.
#[utoipa::path(delete, path = "/api/admin/hosts/{name}/groups/{group}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path), ("group" = String, Path)),
    responses((status = 200, body = HostDoc),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn deny_group(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path((name, group)): Path<(String, String)>,
) -> Result<Json<HostDoc>, Problem> {
    let h = st
        .core
        .deny_host_group(&admin_ctx(&addr), &name, &group)
        .await?;
    Ok(Json(HostDoc::from(&h)))
}
