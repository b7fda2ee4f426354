//! `/api/admin/…`: platform settings, users, clients and the audit log, for automation. The
//! same core and store operations as the admin console; a refused request changes nothing.

use super::auth::AdminCaller;
use super::problem::{ApiJson, ApiQuery, Problem};
use crate::http::ClientAddr;
use crate::state::AppState;
use crate::store::clients::{self, Client, ClientUpdate, GrantType, NewClient, SigningAlg};
use crate::web::admin::admin_ctx;
use crate::web::admin::audit::{filter_for, AuditQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use stepgate_core::audit::{self, AuditRecord, Event, EventKind};
use stepgate_core::settings::TwoFaSettings;
use stepgate_core::users::{NewUser, Role, User};
use utoipa::{IntoParams, ToSchema};

/// The platform settings, with ThingsBoard's names (`providers`, `minVerificationCodeSendPeriod`,
/// `verificationCodeCheckRateLimit`, `maxVerificationFailuresBeforeUserLockout`,
/// `totalAllowedTimeForVerification`, `enforceTwoFa`, `enforcedUsersFilter`).
#[utoipa::path(get, path = "/api/admin/settings", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "the settings in force", body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn get_settings(
    State(st): State<AppState>,
    _: AdminCaller,
) -> Result<Json<TwoFaSettings>, Problem> {
    Ok(Json(st.core.twofa_settings().await?))
}

/// Replaces the platform settings after the core validated every field.
#[utoipa::path(put, path = "/api/admin/settings", tag = "admin", security(("bearer" = [])),
    request_body(content = Object, description = "the whole settings document, as GET returns it"),
    responses((status = 200, description = "saved", body = Object),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_settings(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    ApiJson(settings): ApiJson<TwoFaSettings>,
) -> Result<Json<TwoFaSettings>, Problem> {
    st.core
        .update_twofa_settings(&admin_ctx(&addr), caller.user.as_ref(), &settings)
        .await?;
    Ok(Json(st.core.twofa_settings().await?))
}

/// A user as the API shows it (no password, no secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDoc {
    pub id: String,
    pub username: String,
    pub email: String,
    pub phone: Option<String>,
    pub display_name: String,
    /// `admin` or `user`.
    pub role: String,
    pub disabled: bool,
    pub locked: bool,
    pub twofa_failures: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&User> for UserDoc {
    fn from(u: &User) -> UserDoc {
        UserDoc {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            phone: u.phone.as_deref().map(stepgate_core::codes::mask_phone),
            display_name: u.display_name.clone(),
            role: u.role.as_str().into(),
            disabled: u.disabled,
            locked: u.locked,
            twofa_failures: u.twofa_failures,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A user with the second factors they enabled and when each changed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: UserDoc,
    pub providers: Vec<super::account::ProviderDoc>,
    pub backup_codes_left: i64,
    /// The names of the groups the user is in.
    pub groups: Vec<String>,
    /// The user's passkeys (WebAuthn); none when they have none.
    pub passkeys: Vec<PasskeyDoc>,
}

/// A registered passkey: its name and when it was added and last used (Unix seconds).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyDoc {
    pub id: String,
    pub name: String,
    pub discoverable: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of a username, email or display name.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
}

#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("bearer" = [])),
    params(UserQuery), responses((status = 200, body = Vec<UserDoc>)))]
pub async fn list_users(
    State(st): State<AppState>,
    _: AdminCaller,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> Result<Json<Vec<UserDoc>>, Problem> {
    let users = st
        .core
        .list_users(
            q.q.trim(),
            q.limit.unwrap_or(100).clamp(1, 1000),
            q.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(users.iter().map(UserDoc::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub email: String,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    /// `admin` or `user` (default).
    pub role: Option<String>,
    pub password: String,
}

pub(crate) fn parse_role(s: &str) -> Result<Role, Problem> {
    match s.to_ascii_lowercase().as_str() {
        "admin" => Ok(Role::Admin),
        "user" => Ok(Role::User),
        _ => Err(Problem::invalid("role", "must be admin or user")),
    }
}

#[utoipa::path(post, path = "/api/admin/users", tag = "admin", security(("bearer" = [])),
    request_body = CreateUser,
    responses((status = 201, body = UserDoc),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<Response, Problem> {
    let role = parse_role(body.role.as_deref().unwrap_or("user"))?;
    let user = st
        .core
        .create_user(
            &admin_ctx(&addr),
            NewUser {
                username: body.username,
                email: body.email,
                phone: body.phone,
                display_name: body.display_name,
                role,
                password: Some(body.password),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserDoc::from(&user))).into_response())
}

async fn detail(st: &AppState, username: &str) -> Result<UserDetail, Problem> {
    let user = st
        .core
        .user_by_username(username)
        .await?
        .ok_or_else(|| Problem::not_found("no such user"))?;
    let providers = st
        .core
        .enrolled_providers(&user.id)
        .await?
        .into_iter()
        .map(|p| super::account::ProviderDoc {
            provider: p.provider.as_str().into(),
            is_default: p.is_default,
            destination: p.destination,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
        .collect();
    let passkeys = st
        .core
        .passkeys(&user.id)
        .await?
        .into_iter()
        .map(|k| PasskeyDoc {
            id: k.id,
            name: k.name,
            discoverable: k.discoverable,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        })
        .collect();
    Ok(UserDetail {
        backup_codes_left: st.core.backup_codes_left(&user.id).await?,
        groups: st.core.groups_of(&user.id).await?,
        user: UserDoc::from(&user),
        providers,
        passkeys,
    })
}

/// Removes one of the user's passkeys (the last one turns WEBAUTHN off, refused while it is
/// their only factor and two-factor is enforced: reset their second factors instead).
#[utoipa::path(delete, path = "/api/admin/users/{username}/passkeys/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("username" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = UserDetail),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn remove_passkey(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path((username, id)): Path<(String, String)>,
) -> Result<Json<UserDetail>, Problem> {
    let user = st.core.require_user(&username).await?;
    st.core
        .remove_passkey(&admin_ctx(&addr), &user, &id)
        .await?;
    Ok(Json(detail(&st, &username).await?))
}

/// A user, with which second factors are enabled and when they changed.
#[utoipa::path(get, path = "/api/admin/users/{username}", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path)),
    responses((status = 200, body = UserDetail),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_user(
    State(st): State<AppState>,
    _: AdminCaller,
    Path(username): Path<String>,
) -> Result<Json<UserDetail>, Problem> {
    Ok(Json(detail(&st, &username).await?))
}

/// `disable`, `enable`, `unlock` or `reset-2fa` (removes every second factor; the user
/// enrols again at the next login).
#[utoipa::path(post, path = "/api/admin/users/{username}/{action}", tag = "admin",
    security(("bearer" = [])),
    params(("username" = String, Path), ("action" = String, Path, description = "disable, enable, unlock or reset-2fa")),
    responses((status = 200, body = UserDetail),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn user_action(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path((username, action)): Path<(String, String)>,
) -> Result<Json<UserDetail>, Problem> {
    let ctx = admin_ctx(&addr);
    match action.as_str() {
        "disable" => drop(st.core.set_disabled(&ctx, &username, true).await?),
        "enable" => drop(st.core.set_disabled(&ctx, &username, false).await?),
        "unlock" => drop(st.core.unlock_user(&ctx, &username).await?),
        "reset-2fa" => st.core.reset_twofa(&ctx, &username).await?,
        _ => return Err(Problem::not_found("unknown action")),
    }
    Ok(Json(detail(&st, &username).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `admin` or `user`.
    pub role: String,
}

#[utoipa::path(put, path = "/api/admin/users/{username}/role", tag = "admin",
    security(("bearer" = [])), params(("username" = String, Path)), request_body = RoleRequest,
    responses((status = 200, body = UserDetail),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_role(
    State(st): State<AppState>,
    addr: ClientAddr,
    _: AdminCaller,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> Result<Json<UserDetail>, Problem> {
    let role = parse_role(&body.role)?;
    st.core.set_role(&admin_ctx(&addr), &username, role).await?;
    Ok(Json(detail(&st, &username).await?))
}

/// A registered client (never its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDoc {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// Stepgate API scopes the client may be granted (`stepgate:account`, `stepgate:admin`).
    pub api_scopes: Vec<String>,
    /// Only members of these groups may sign in; empty: everyone.
    pub allowed_groups: Vec<String>,
    pub require_2fa: bool,
    pub created_at: i64,
}

impl From<&Client> for ClientDoc {
    fn from(c: &Client) -> ClientDoc {
        ClientDoc {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            public: c.is_public(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c
                .grant_types
                .iter()
                .map(|g| g.as_str().to_string())
                .collect(),
            scopes: c.scopes.clone(),
            api_scopes: c.api_scopes.clone(),
            allowed_groups: c.allowed_groups.clone(),
            require_2fa: c.require_2fa,
            created_at: c.created_at,
        }
    }
}

#[utoipa::path(get, path = "/api/admin/clients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<ClientDoc>)))]
pub async fn list_clients(
    State(st): State<AppState>,
    _: AdminCaller,
) -> Result<Json<Vec<ClientDoc>>, Problem> {
    let list = clients::list(st.core.db()).await?;
    Ok(Json(list.iter().map(ClientDoc::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateClient {
    pub client_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: authorization_code and refresh_token.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Scopes for client_credentials (your own APIs'; not Stepgate's).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Stepgate API scopes: `stepgate:account`, `stepgate:admin`.
    #[serde(default)]
    pub api_scopes: Vec<String>,
    /// Groups whose members alone may sign in (each must exist); empty: everyone.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    #[serde(default)]
    pub require_2fa: bool,
}

/// A new client and, for a confidential one, its secret: shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientCreated {
    pub client: ClientDoc,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

async fn audit_client(
    st: &AppState,
    addr: &ClientAddr,
    caller: &super::auth::Caller,
    kind: EventKind,
    id: &str,
) {
    let detail = format!("client {id} (by {})", caller.client_id);
    let mut ev = Event::new(kind).detail(detail);
    if let Some(u) = &caller.user {
        ev = ev.user(&u.id, &u.username);
    }
    if let Err(e) = audit::record_alone(&st.core, &admin_ctx(addr), ev).await {
        tracing::warn!(error = %e, "could not audit a client change");
    }
}

#[utoipa::path(post, path = "/api/admin/clients", tag = "admin", security(("bearer" = [])),
    request_body = CreateClient,
    responses((status = 201, body = ClientCreated),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_client(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    ApiJson(body): ApiJson<CreateClient>,
) -> Result<Response, Problem> {
    let mut grant_types = Vec::new();
    for g in &body.grant_types {
        grant_types.push(
            GrantType::parse(g)
                .ok_or_else(|| Problem::invalid("grant", format!("unknown grant type {g:?}")))?,
        );
    }
    if grant_types.is_empty() {
        grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    }
    let (client, secret) = clients::create(
        st.core.db(),
        NewClient {
            client_id: body.client_id,
            name: body.name,
            public: body.public,
            redirect_uris: body.redirect_uris,
            post_logout_redirect_uris: body.post_logout_redirect_uris,
            grant_types,
            scopes: body.scopes,
            api_scopes: body.api_scopes,
            allowed_groups: body.allowed_groups,
            require_2fa: body.require_2fa,
            id_token_alg: SigningAlg::Es256,
        },
        st.now(),
    )
    .await?;
    audit_client(
        &st,
        &addr,
        &caller,
        EventKind::ClientCreated,
        &client.client_id,
    )
    .await;
    let out = ClientCreated {
        client: ClientDoc::from(&client),
        client_secret: secret,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchClient {
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub require_2fa: Option<bool>,
    pub api_scopes: Option<Vec<String>>,
    /// `[]` admits everyone again.
    pub allowed_groups: Option<Vec<String>>,
}

/// Changes redirect URIs, API scopes, allowed groups and the 2FA requirement (fields left out
/// stay as they are).
#[utoipa::path(patch, path = "/api/admin/clients/{client_id}", tag = "admin",
    security(("bearer" = [])), params(("client_id" = String, Path)), request_body = PatchClient,
    responses((status = 200, body = ClientDoc),
              (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn patch_client(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<PatchClient>,
) -> Result<Json<ClientDoc>, Problem> {
    let db = st.core.db();
    let now = clients::get(db, &client_id)
        .await?
        .ok_or_else(|| Problem::not_found("no such client"))?;
    let up = ClientUpdate {
        redirect_uris: body.redirect_uris.unwrap_or(now.redirect_uris),
        post_logout_redirect_uris: body
            .post_logout_redirect_uris
            .unwrap_or(now.post_logout_redirect_uris),
        require_2fa: body.require_2fa.unwrap_or(now.require_2fa),
        api_scopes: body.api_scopes,
        allowed_groups: body.allowed_groups,
    };
    let client = clients::update(db, &client_id, up, st.now()).await?;
    st.clients.forget_all();
    audit_client(&st, &addr, &caller, EventKind::ClientUpdated, &client_id).await;
    Ok(Json(ClientDoc::from(&client)))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretDoc {
    pub client_secret: String,
}

/// A new secret for a confidential client; the old one stops working at once.
#[utoipa::path(post, path = "/api/admin/clients/{client_id}/rotate-secret", tag = "admin",
    security(("bearer" = [])), params(("client_id" = String, Path)),
    responses((status = 200, body = SecretDoc),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path(client_id): Path<String>,
) -> Result<Json<SecretDoc>, Problem> {
    let secret = clients::rotate_secret(st.core.db(), &client_id, st.now()).await?;
    st.clients.forget_all();
    audit_client(
        &st,
        &addr,
        &caller,
        EventKind::ClientSecretRotated,
        &client_id,
    )
    .await;
    Ok(Json(SecretDoc {
        client_secret: secret,
    }))
}

#[utoipa::path(delete, path = "/api/admin/clients/{client_id}", tag = "admin",
    security(("bearer" = [])), params(("client_id" = String, Path)),
    responses((status = 204, description = "deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_client(
    State(st): State<AppState>,
    addr: ClientAddr,
    AdminCaller(caller): AdminCaller,
    Path(client_id): Path<String>,
) -> Result<Response, Problem> {
    clients::remove(st.core.db(), &client_id).await?;
    st.clients.forget_all();
    audit_client(&st, &addr, &caller, EventKind::ClientRemoved, &client_id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// A username.
    #[serde(default)]
    pub user: String,
    /// An event name, like `lockout`.
    #[serde(default)]
    pub event: String,
    /// `YYYY-MM-DD` (UTC), from the start of that day.
    #[serde(default)]
    pub since: String,
    /// `YYYY-MM-DD` (UTC), to the end of that day.
    #[serde(default)]
    pub until: String,
    /// Only events older than this id (the `nextBefore` of the previous page).
    pub before: Option<i64>,
    /// 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// A registered host's name: only PAM events at that host.
    #[serde(default)]
    pub host: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<AuditRecord>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = AuditPage),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn audit_log(
    State(st): State<AppState>,
    _: AdminCaller,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, Problem> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::invalid("limit", "must be between 1 and 1000"));
    }
    let q = AuditQuery {
        user: p.user,
        event: p.event,
        since: p.since,
        until: p.until,
        before: p.before,
        host: p.host,
    };
    let filter = match filter_for(&st, &q, limit + 1)
        .await
        .map_err(|_| Problem::internal("audit filter"))?
    {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Ok(Json(AuditPage {
                events: Vec::new(),
                next_before: None,
            }))
        }
        Err((field, message)) => return Err(Problem::invalid(field, message)),
    };
    let mut events = audit::list(st.core.db().pool(), &filter).await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_before = if more {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        events,
        next_before,
    }))
}
