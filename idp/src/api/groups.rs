//! `/api/admin/groups/…`: groups of users and their members, the same core operations as
//! `stepgate group` and the console's groups page. A refused request changes nothing.

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
use stepgate_core::groups::Group;
use stepgate_core::users::User;
use utoipa::ToSchema;

/// A group and how many members it has.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupDoc {
    pub name: String,
    pub members: i64,
    pub created_at: i64,
}

impl From<&Group> for GroupDoc {
    fn from(g: &Group) -> GroupDoc {
        GroupDoc {
            name: g.name.clone(),
            members: g.members,
            created_at: g.created_at,
        }
    }
}

/// A member of a group.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberDoc {
    pub id: String,
    pub username: String,
    pub display_name: String,
}

impl From<&User> for MemberDoc {
    fn from(u: &User) -> MemberDoc {
        MemberDoc {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
        }
    }
}

/// A group with its members, by username.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupDetail {
    pub name: String,
    pub created_at: i64,
    pub members: Vec<MemberDoc>,
}

async fn detail(st: &AppState, name: &str) -> Result<GroupDetail, Problem> {
    let group = st
        .core
        .group(name)
        .await?
        .ok_or_else(|| Problem::not_found("no such group"))?;
    let members = st.core.group_members(name).await?;
    Ok(GroupDetail {
        name: group.name,
        created_at: group.created_at,
        members: members.iter().map(MemberDoc::from).collect(),
    })
}

/// Every group with its member count, by name.
#[utoipa::path(get, path = "/api/admin/groups", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<GroupDoc>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_groups(
    State(st): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<GroupDoc>>, Problem> {
    let groups = st.core.list_groups().await?;
    Ok(Json(groups.iter().map(GroupDoc::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    pub name: String,
}

/// Creates an empty group.
#[utoipa::path(post, path = "/api/admin/groups", tag = "admin", security(("bearer" = [])),
    request_body = CreateGroup,
    responses((status = 201, body = GroupDoc),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_group(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<CreateGroup>,
) -> Result<Response, Problem> {
    let group = st
        .core
        .create_group(&admin_ctx(&addr), caller.user.as_ref(), &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(GroupDoc::from(&group))).into_response())
}

/// A group and its members.
#[utoipa::path(get, path = "/api/admin/groups/{name}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = GroupDetail),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_group(
    State(st): State<AppState>,
    _: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<GroupDetail>, Problem> {
    Ok(Json(detail(&st, &name).await?))
}

/// Removes a group and its memberships (the users stay). A group that a client still lists
/// in `allowedGroups` is refused (409): take it off the client first.
#[utoipa::path(delete, path = "/api/admin/groups/{name}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 204, description = "removed"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_group(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    st.core
        .remove_group(&admin_ctx(&addr), caller.user.as_ref(), &name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes a user a member (idempotent: a member already stays one).
#[utoipa::path(put, path = "/api/admin/groups/{name}/members/{username}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = GroupDetail),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn put_member(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path((name, username)): Path<(String, String)>,
) -> Result<Json<GroupDetail>, Problem> {
    st.core
        .add_group_member(&admin_ctx(&addr), caller.user.as_ref(), &name, &username)
        .await?;
    Ok(Json(detail(&st, &name).await?))
}

/// Takes a user out of a group; 404 when the group or user is unknown or the user is not a
/// member.
#[utoipa::path(delete, path = "/api/admin/groups/{name}/members/{username}", tag = "admin",
    security(("bearer" = [])), params(("name" = String, Path), ("username" = String, Path)),
    responses((status = 200, body = GroupDetail),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_member(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path((name, username)): Path<(String, String)>,
) -> Result<Json<GroupDetail>, Problem> {
    st.core
        .remove_group_member(&admin_ctx(&addr), caller.user.as_ref(), &name, &username)
        .await?;
    Ok(Json(detail(&st, &name).await?))
}
