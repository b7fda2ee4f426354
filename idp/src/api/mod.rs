//! The REST API (`/api/…`, JSON): the account and admin operations for automation.
//!
//! Authenticated by a bearer access token from Stepgate itself ([`auth`]); errors are RFC 7807
//! problem documents ([`problem`]); handlers are thin adapters into the core, like the pages.
//! The OpenAPI 3.1 document is generated from the handlers' annotations (utoipa) and served at
//! `/api/openapi.json`; `/api/docs` renders it as a plain HTML reference, server-side, so it
//! works offline with no script.

pub mod account;
pub mod admin;
pub mod auth;
pub mod docs;
pub mod groups;
pub mod hosts;
pub mod problem;

use crate::state::AppState;
use axum::routing::{get, post, put};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Stepgate API", description = "Second factors, platform settings, users, groups, clients and audit log of a Stepgate identity provider. Authenticate with a bearer access token issued by Stepgate: a user's token for /api/account, an administrator's token or a client_credentials token with the `admin` scope for /api/admin. Errors are RFC 7807 problem documents."),
    paths(
        account::get_2fa, account::generate, account::verify, account::set_default, account::delete,
        admin::get_settings, admin::put_settings,
        admin::list_users, admin::create_user, admin::get_user, admin::user_action, admin::remove_passkey, admin::set_role,
        admin::list_clients, admin::create_client, admin::patch_client, admin::rotate_secret,
        admin::delete_client, admin::audit_log,
        groups::list_groups, groups::create_group, groups::get_group, groups::delete_group,
        groups::put_member, groups::delete_member,
        hosts::list_hosts, hosts::create_host, hosts::get_host, hosts::delete_host,
        hosts::rotate_credential, hosts::allow_group, hosts::deny_group,
        crate::host_protocol::begin, crate::host_protocol::send, crate::host_protocol::check,
        crate::host_protocol::step, crate::host_protocol::cancel, crate::host_protocol::account,
        crate::host_protocol::approval, crate::host_protocol::approval_poll,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth),
    tags((name = "account", description = "the caller's own second factors"),
         (name = "admin", description = "administration"),
         (name = "host", description = "the host protocol (fleet mode): a registered host's PAM module asks the server to verify a login, authenticated with the host's credential (`Authorization: Bearer sgh1.…`); a failed step is a non-2xx status with `{\"error\": KIND, …}`"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "host",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a registered host's credential (`stepgate host add`)"))
                    .build(),
            ),
        );
    }
}

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(docs::openapi_json))
        .route("/api/docs", get(docs::reference))
        .route("/api/account/2fa", get(account::get_2fa))
        .route("/api/account/2fa/default", put(account::set_default))
        .route(
            "/api/account/2fa/{provider}",
            axum::routing::delete(account::delete),
        )
        .route(
            "/api/account/2fa/{provider}/generate",
            post(account::generate),
        )
        .route("/api/account/2fa/{provider}/verify", post(account::verify))
        .route(
            "/api/admin/settings",
            get(admin::get_settings).put(admin::put_settings),
        )
        .route(
            "/api/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route("/api/admin/users/{username}", get(admin::get_user))
        .route("/api/admin/users/{username}/role", put(admin::set_role))
        .route(
            "/api/admin/users/{username}/{action}",
            post(admin::user_action),
        )
        .route(
            "/api/admin/users/{username}/passkeys/{id}",
            axum::routing::delete(admin::remove_passkey),
        )
        .route(
            "/api/admin/clients",
            get(admin::list_clients).post(admin::create_client),
        )
        .route(
            "/api/admin/clients/{client_id}",
            axum::routing::patch(admin::patch_client).delete(admin::delete_client),
        )
        .route(
            "/api/admin/clients/{client_id}/rotate-secret",
            post(admin::rotate_secret),
        )
        .route("/api/admin/audit", get(admin::audit_log))
        .route(
            "/api/admin/groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route(
            "/api/admin/groups/{name}",
            get(groups::get_group).delete(groups::delete_group),
        )
        .route(
            "/api/admin/groups/{name}/members/{username}",
            put(groups::put_member).delete(groups::delete_member),
        )
        .route(
            "/api/admin/hosts",
            get(hosts::list_hosts).post(hosts::create_host),
        )
        .route(
            "/api/admin/hosts/{name}",
            get(hosts::get_host).delete(hosts::delete_host),
        )
        .route(
            "/api/admin/hosts/{name}/rotate-credential",
            post(hosts::rotate_credential),
        )
        .route(
            "/api/admin/hosts/{name}/groups/{group}",
            put(hosts::allow_group).delete(hosts::deny_group),
        )
        // The API answers problem documents, even at an unknown address.
        .route("/api/{*rest}", axum::routing::any(api_not_found))
}

async fn api_not_found() -> problem::Problem {
    problem::Problem::not_found("there is no API endpoint at this address")
}
