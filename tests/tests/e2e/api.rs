//! The REST API (`/api/…`) end to end: bearer tokens from Stepgate itself (a user's through
//! the authorization code flow, a client's through client_credentials), every endpoint with
//! good input, bad input (an RFC 7807 problem document, and nothing changed) and authorization
//! (a normal user gets 403 on every admin endpoint).

use crate::admin::admin_user;
use crate::oidc::{code_from, exchange, start};
use crate::support::*;
use openidconnect::OAuth2TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stepgate_core::ProviderType;

/// An API access token for `username` (no second factor enrolled), through a real login with
/// a client registered for both Stepgate API scopes.
pub async fn user_token(server: &Server, username: &str) -> String {
    user_token_via(
        server,
        "api-cli",
        username,
        &["openid", "stepgate:account", "stepgate:admin"],
    )
    .await
}

/// An access token for `username` from `client_id` (registered, if new, for both API scopes
/// when its id starts with `api-`, else for none: an ordinary relying party).
pub async fn user_token_via(
    server: &Server,
    client_id: &str,
    username: &str,
    scopes: &[&str],
) -> String {
    if stepgate_idp::store::clients::get(server.core.db(), client_id)
        .await
        .expect("db")
        .is_none()
    {
        let mut args = vec!["--public"];
        if client_id.starts_with("api-") {
            args.extend([
                "--api-scope",
                "stepgate:account",
                "--api-scope",
                "stepgate:admin",
            ]);
        }
        server.client(client_id, &args).await;
    }
    let (rp, _) = relying_party(server, client_id, None).await;
    let started = start(&rp, scopes);
    let done =
        crate::oidc::password(&Browser::new(), started.url.as_str(), username, PASSWORD).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    tokens.access_token().secret().clone()
}

/// A client_credentials token for a new client with these scopes.
pub async fn client_token(server: &Server, id: &str, scopes: &[&str]) -> String {
    let mut args = vec!["--grant", "client_credentials"];
    for s in scopes {
        let flag = if s.starts_with("stepgate:") {
            "--api-scope"
        } else {
            "--scope"
        };
        args.extend([flag, s]);
    }
    let secret = server.client(id, &args).await.expect("a secret");
    let resp = rp_http()
        .post(server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

pub struct Api<'a> {
    pub server: &'a Server,
    pub token: Option<String>,
}

impl Api<'_> {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let mut req = rp_http().request(method, self.server.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, v, ctype)
    }

    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, v, _) = self.call(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// A problem document with this status (and `field`, when given).
    pub async fn problem(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
        field: Option<&str>,
    ) -> Value {
        let (got, v, ctype) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        assert_eq!(ctype, "application/problem+json", "{method} {path}");
        assert_eq!(v["status"], status.as_u16(), "{v}");
        assert!(
            v["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:stepgate:problem:")),
            "{v}"
        );
        assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
        if let Some(f) = field {
            assert_eq!(v["field"], f, "{method} {path}: {v}");
        }
        v
    }
}

/// Every admin endpoint, with a harmless body where one is needed.
pub fn admin_endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/admin/settings", None),
        (Method::PUT, "/api/admin/settings", Some(json!({}))),
        (Method::GET, "/api/admin/users", None),
        (
            Method::POST,
            "/api/admin/users",
            Some(json!({"username": "x", "email": "x@example.com", "password": "long enough"})),
        ),
        (Method::GET, "/api/admin/users/norm", None),
        (Method::POST, "/api/admin/users/norm/disable", None),
        (Method::POST, "/api/admin/users/norm/enable", None),
        (Method::POST, "/api/admin/users/norm/unlock", None),
        (Method::POST, "/api/admin/users/norm/reset-2fa", None),
        (
            Method::PUT,
            "/api/admin/users/norm/role",
            Some(json!({"role": "admin"})),
        ),
        (Method::GET, "/api/admin/clients", None),
        (
            Method::POST,
            "/api/admin/clients",
            Some(json!({"clientId": "x", "redirectUris": [REDIRECT_URI]})),
        ),
        (
            Method::PATCH,
            "/api/admin/clients/api-cli",
            Some(json!({"require2fa": true})),
        ),
        (
            Method::POST,
            "/api/admin/clients/api-cli/rotate-secret",
            None,
        ),
        (Method::DELETE, "/api/admin/clients/api-cli", None),
        (Method::GET, "/api/admin/audit", None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_only_administrators_reach_admin_endpoints() {
    let server = Server::start(Backend::Sqlite).await;
    let norm = server.user("norm").await;
    admin_user(&server, "boss").await;
    let anonymous = Api {
        server: &server,
        token: None,
    };
    let (_, _, _) = anonymous.call(Method::GET, "/api/account/2fa", None).await;
    anonymous
        .problem(
            Method::GET,
            "/api/account/2fa",
            None,
            StatusCode::UNAUTHORIZED,
            None,
        )
        .await;
    anonymous
        .problem(
            Method::GET,
            "/api/admin/settings",
            None,
            StatusCode::UNAUTHORIZED,
            None,
        )
        .await;
    let forged = Api {
        server: &server,
        token: Some("not.a.token".into()),
    };
    forged
        .problem(
            Method::GET,
            "/api/admin/users",
            None,
            StatusCode::UNAUTHORIZED,
            None,
        )
        .await;
    let user = Api {
        server: &server,
        token: Some(user_token(&server, "norm").await),
    };
    let before_settings = server.core.twofa_settings().await.expect("settings");
    for (method, path, body) in admin_endpoints() {
        user.problem(method, path, body, StatusCode::FORBIDDEN, None)
            .await;
    }
    // Nothing changed by the refused calls.
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        before_settings
    );
    let norm_now = server
        .core
        .user_by_id(&norm.id)
        .await
        .expect("db")
        .expect("user");
    assert_eq!(norm_now.role, norm.role);
    assert!(!norm_now.disabled);
    assert!(
        stepgate_idp::store::clients::get(server.core.db(), "api-cli")
            .await
            .expect("db")
            .is_some()
    );
    assert!(server
        .core
        .user_by_username("x")
        .await
        .expect("db")
        .is_none());
    // A client token without the admin scope: no admin, and no account (no user).
    let plain = Api {
        server: &server,
        token: Some(client_token(&server, "robot", &["api:read"]).await),
    };
    plain
        .problem(
            Method::GET,
            "/api/admin/settings",
            None,
            StatusCode::FORBIDDEN,
            None,
        )
        .await;
    plain
        .problem(
            Method::GET,
            "/api/account/2fa",
            None,
            StatusCode::FORBIDDEN,
            None,
        )
        .await;
    // An admin's token, and a client token with the admin scope, get in.
    let boss = Api {
        server: &server,
        token: Some(user_token(&server, "boss").await),
    };
    boss.ok(Method::GET, "/api/admin/settings", None).await;
    let robot = Api {
        server: &server,
        token: Some(client_token(&server, "automation", &["stepgate:admin"]).await),
    };
    let users = robot.ok(Method::GET, "/api/admin/users", None).await;
    assert_eq!(users.as_array().expect("list").len(), 2);
    // Unknown API addresses are problems too.
    robot
        .problem(
            Method::GET,
            "/api/nothing/here",
            None,
            StatusCode::NOT_FOUND,
            None,
        )
        .await;
}

both_backends!(account_endpoints_enrol_set_default_and_delete);

async fn account_endpoints_enrol_set_default_and_delete(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.user("olly").await;
    let api = Api {
        server: &server,
        token: Some(user_token(&server, "olly").await),
    };
    let enrolled = || async {
        server
            .core
            .enrolled_providers(&user.id)
            .await
            .expect("db")
            .into_iter()
            .map(|p| p.provider)
            .collect::<Vec<_>>()
    };
    let v = api.ok(Method::GET, "/api/account/2fa", None).await;
    assert_eq!(v["available"], json!(["TOTP", "SMS", "BACKUP_CODE"]));
    assert_eq!(v["providers"], json!([]));
    // Backup codes first: refused by the rule, nothing enrolled.
    api.problem(
        Method::POST,
        "/api/account/2fa/BACKUP_CODE/generate",
        None,
        StatusCode::CONFLICT,
        None,
    )
    .await;
    api.problem(
        Method::POST,
        "/api/account/2fa/PUSH/generate",
        None,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    // TOTP: a wrong code changes nothing, the right one enables it.
    let t = api
        .ok(Method::POST, "/api/account/2fa/TOTP/generate", None)
        .await;
    let secret = t["secret"].as_str().expect("secret").to_string();
    assert!(t["otpauthUri"]
        .as_str()
        .expect("uri")
        .starts_with("otpauth://totp/"));
    api.problem(
        Method::POST,
        "/api/account/2fa/TOTP/verify",
        Some(json!({"code": "000000"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("code"),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/account/2fa/TOTP/verify",
        Some(json!({"kode": "1"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    )
    .await;
    let (status, v, ctype) = api
        .call(Method::POST, "/api/account/2fa/TOTP/verify", None)
        .await;
    assert!(
        status.is_client_error() && ctype == "application/problem+json",
        "{status} {v}"
    );
    assert!(enrolled().await.is_empty());
    api.ok(
        Method::POST,
        "/api/account/2fa/TOTP/verify",
        Some(json!({"code": server.totp(&secret)})),
    )
    .await;
    assert_eq!(enrolled().await, [ProviderType::Totp]);
    let v = api.ok(Method::GET, "/api/account/2fa", None).await;
    assert_eq!(v["providers"][0]["provider"], "TOTP");
    assert_eq!(v["providers"][0]["isDefault"], true);
    assert!(!v.to_string().contains(&secret), "never the secret again");
    // SMS: the number is validated, the code is needed.
    api.problem(
        Method::POST,
        "/api/account/2fa/SMS/generate",
        Some(json!({})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("phone"),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/account/2fa/SMS/generate",
        Some(json!({"phone": "12345"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("phone"),
    )
    .await;
    assert_eq!(server.sms_count(), 0);
    let sent = api
        .ok(
            Method::POST,
            "/api/account/2fa/SMS/generate",
            Some(json!({"phone": PHONE})),
        )
        .await;
    assert_eq!(sent["destination"], "+1*****1234");
    api.problem(
        Method::POST,
        "/api/account/2fa/SMS/generate",
        Some(json!({"phone": PHONE})),
        StatusCode::TOO_MANY_REQUESTS,
        None,
    )
    .await;
    api.ok(
        Method::POST,
        "/api/account/2fa/SMS/verify",
        Some(json!({"code": server.last_sms_code(PHONE)})),
    )
    .await;
    // Default.
    api.problem(
        Method::PUT,
        "/api/account/2fa/default",
        Some(json!({"provider": "FAX"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("provider"),
    )
    .await;
    api.ok(
        Method::PUT,
        "/api/account/2fa/default",
        Some(json!({"provider": "SMS"})),
    )
    .await;
    let v = api.ok(Method::GET, "/api/account/2fa", None).await;
    let default: Vec<&Value> = v["providers"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|p| p["isDefault"] == true)
        .collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["provider"], "SMS");
    // Backup codes now work, server-generated.
    let codes = api
        .ok(Method::POST, "/api/account/2fa/BACKUP_CODE/generate", None)
        .await;
    assert_eq!(codes["codes"].as_array().expect("codes").len(), 10);
    assert_eq!(
        api.ok(Method::GET, "/api/account/2fa", None).await["backupCodesLeft"],
        10
    );
    // Delete needs the password.
    api.problem(
        Method::DELETE,
        "/api/account/2fa/SMS",
        Some(json!({"password": "wrong one"})),
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert_eq!(enrolled().await.len(), 3);
    api.ok(
        Method::DELETE,
        "/api/account/2fa/SMS",
        Some(json!({"password": PASSWORD})),
    )
    .await;
    api.ok(
        Method::DELETE,
        "/api/account/2fa/TOTP",
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert!(
        enrolled().await.is_empty(),
        "backup codes go with the last method"
    );
}

both_backends!(admin_settings_and_users);

async fn admin_settings_and_users(backend: Backend) {
    let server = Server::start(backend).await;
    admin_user(&server, "boss").await;
    let api = Api {
        server: &server,
        token: Some(client_token(&server, "automation", &["stepgate:admin"]).await),
    };
    let settings = api.ok(Method::GET, "/api/admin/settings", None).await;
    assert!(
        settings["maxVerificationFailuresBeforeUserLockout"].is_number(),
        "{settings}"
    );
    let before = server.core.twofa_settings().await.expect("settings");
    let mut bad = settings.clone();
    bad["totalAllowedTimeForVerification"] = json!(5);
    api.problem(
        Method::PUT,
        "/api/admin/settings",
        Some(bad),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("totalAllowedTimeForVerification"),
    )
    .await;
    let mut unknown = settings.clone();
    unknown["pushNotifications"] = json!(true);
    api.problem(
        Method::PUT,
        "/api/admin/settings",
        Some(unknown),
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    )
    .await;
    let mut email = settings.clone();
    email["providers"]
        .as_array_mut()
        .expect("providers")
        .push(json!({"providerType": "EMAIL", "verificationCodeLifetime": 120}));
    let p = api
        .problem(
            Method::PUT,
            "/api/admin/settings",
            Some(email),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("providers"),
        )
        .await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("Mail service is not set up"),
        "{p}"
    );
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        before
    );
    let mut good = settings.clone();
    good["maxVerificationFailuresBeforeUserLockout"] = json!(4);
    let saved = api.ok(Method::PUT, "/api/admin/settings", Some(good)).await;
    assert_eq!(saved["maxVerificationFailuresBeforeUserLockout"], 4);
    assert_eq!(
        server
            .core
            .twofa_settings()
            .await
            .expect("settings")
            .max_verification_failures_before_user_lockout,
        4.into()
    );
    // Users.
    let count = server.core.user_count().await.expect("count");
    api.problem(
        Method::POST,
        "/api/admin/users",
        Some(json!({"username": "-x", "email": "x@example.com", "password": "long enough"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("username"),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/admin/users",
        Some(json!({"username": "xena", "email": "x@example.com", "password": "short"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("password"),
    )
    .await;
    api.problem(Method::POST, "/api/admin/users", Some(json!({"username": "xena", "email": "x@example.com", "password": "long enough", "role": "god"})), StatusCode::UNPROCESSABLE_ENTITY, Some("role")).await;
    assert_eq!(server.core.user_count().await.expect("count"), count);
    let (status, made, _) = api.call(Method::POST, "/api/admin/users", Some(json!({"username": "xena", "email": "x@example.com", "password": "long enough", "phone": PHONE}))).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["username"], "xena");
    assert!(!made.to_string().contains("long enough"));
    api.problem(
        Method::POST,
        "/api/admin/users",
        Some(json!({"username": "xena", "email": "y@example.com", "password": "long enough"})),
        StatusCode::CONFLICT,
        None,
    )
    .await;
    let found = api.ok(Method::GET, "/api/admin/users?q=xen", None).await;
    assert_eq!(found.as_array().expect("list").len(), 1);
    api.problem(
        Method::GET,
        "/api/admin/users/nobody",
        None,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    // Per-user factors and actions.
    let xena = server
        .core
        .user_by_username("xena")
        .await
        .expect("db")
        .expect("user");
    server
        .cli_ok(&["user", "enroll-totp", "xena", "--no-qr"], "")
        .await;
    let d = api.ok(Method::GET, "/api/admin/users/xena", None).await;
    assert_eq!(d["providers"][0]["provider"], "TOTP");
    assert!(d["providers"][0]["updatedAt"].is_number());
    let d = api
        .ok(Method::POST, "/api/admin/users/xena/disable", None)
        .await;
    assert_eq!(d["disabled"], true);
    let d = api
        .ok(Method::POST, "/api/admin/users/xena/enable", None)
        .await;
    assert_eq!(d["disabled"], false);
    let d = api
        .ok(Method::POST, "/api/admin/users/xena/unlock", None)
        .await;
    assert_eq!(d["locked"], false);
    let d = api
        .ok(Method::POST, "/api/admin/users/xena/reset-2fa", None)
        .await;
    assert_eq!(d["providers"], json!([]));
    assert!(server
        .core
        .enrolled_providers(&xena.id)
        .await
        .expect("db")
        .is_empty());
    api.problem(
        Method::POST,
        "/api/admin/users/xena/explode",
        None,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    api.problem(
        Method::PUT,
        "/api/admin/users/xena/role",
        Some(json!({"role": "root"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("role"),
    )
    .await;
    let d = api
        .ok(
            Method::PUT,
            "/api/admin/users/xena/role",
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(d["role"], "admin");
}

both_backends!(admin_clients_and_audit);

async fn admin_clients_and_audit(backend: Backend) {
    let server = Server::start(backend).await;
    let api = Api {
        server: &server,
        token: Some(client_token(&server, "automation", &["stepgate:admin"]).await),
    };
    let db = server.core.db();
    api.problem(
        Method::POST,
        "/api/admin/clients",
        Some(json!({"clientId": "shop", "redirectUris": ["http://shop.example.com/cb"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("redirect_uri"),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/admin/clients",
        Some(
            json!({"clientId": "shop", "redirectUris": [REDIRECT_URI], "grantTypes": ["password"]}),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("grant"),
    )
    .await;
    assert!(stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .is_none());
    let (status, made, _) = api
        .call(
            Method::POST,
            "/api/admin/clients",
            Some(json!({"clientId": "shop", "redirectUris": [REDIRECT_URI]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let secret = made["clientSecret"]
        .as_str()
        .expect("secret once")
        .to_string();
    let listed = api.ok(Method::GET, "/api/admin/clients", None).await;
    assert!(!listed.to_string().contains(&secret));
    assert_eq!(listed.as_array().expect("list").len(), 2);
    api.problem(
        Method::POST,
        "/api/admin/clients",
        Some(json!({"clientId": "shop", "redirectUris": [REDIRECT_URI]})),
        StatusCode::CONFLICT,
        None,
    )
    .await;
    api.problem(
        Method::PATCH,
        "/api/admin/clients/shop",
        Some(json!({"redirectUris": ["javascript:x"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("redirect_uri"),
    )
    .await;
    api.problem(
        Method::PATCH,
        "/api/admin/clients/shop",
        Some(json!({"redirectUris": []})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("redirect_uri"),
    )
    .await;
    let now = stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .expect("client");
    assert_eq!(now.redirect_uris, [REDIRECT_URI]);
    assert!(!now.require_2fa);
    let patched = api
        .ok(
            Method::PATCH,
            "/api/admin/clients/shop",
            Some(json!({"require2fa": true})),
        )
        .await;
    assert_eq!(patched["require2fa"], true);
    assert_eq!(patched["redirectUris"], json!([REDIRECT_URI]));
    let rotated = api
        .ok(Method::POST, "/api/admin/clients/shop/rotate-secret", None)
        .await;
    assert_ne!(rotated["clientSecret"], secret.as_str());
    api.ok(
        Method::POST,
        "/api/admin/clients",
        Some(json!({"clientId": "spa", "public": true, "redirectUris": [REDIRECT_URI]})),
    )
    .await;
    api.problem(
        Method::POST,
        "/api/admin/clients/spa/rotate-secret",
        None,
        StatusCode::CONFLICT,
        None,
    )
    .await;
    api.ok(Method::DELETE, "/api/admin/clients/shop", None)
        .await;
    api.problem(
        Method::DELETE,
        "/api/admin/clients/shop",
        None,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    api.problem(
        Method::PATCH,
        "/api/admin/clients/shop",
        Some(json!({"require2fa": true})),
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    // Audit: filters, bad input, pages.
    for i in 0..7 {
        server.user(&format!("p{i}")).await;
    }
    let page = api
        .ok(
            Method::GET,
            "/api/admin/audit?event=user_created&limit=5",
            None,
        )
        .await;
    assert_eq!(page["events"].as_array().expect("events").len(), 5);
    let next = page["nextBefore"].as_i64().expect("more");
    let page2 = api
        .ok(
            Method::GET,
            &format!("/api/admin/audit?event=user_created&limit=5&before={next}"),
            None,
        )
        .await;
    assert_eq!(page2["events"].as_array().expect("events").len(), 2);
    assert!(page2["nextBefore"].is_null());
    let p3 = api.ok(Method::GET, "/api/admin/audit?user=p3", None).await;
    assert_eq!(p3["events"].as_array().expect("events").len(), 1);
    let changes = api
        .ok(Method::GET, "/api/admin/audit?event=client_removed", None)
        .await;
    assert_eq!(changes["events"].as_array().expect("events").len(), 1);
    api.problem(
        Method::GET,
        "/api/admin/audit?limit=0",
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("limit"),
    )
    .await;
    api.problem(
        Method::GET,
        "/api/admin/audit?since=soon",
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("since"),
    )
    .await;
    api.problem(
        Method::GET,
        "/api/admin/audit?before=abc",
        None,
        StatusCode::BAD_REQUEST,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_its_offline_reference_page() {
    let server = Server::start(Backend::Sqlite).await;
    let doc: Value = rp_http()
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"].as_str().expect("version").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path, _) in admin_endpoints() {
        let templ = path
            .replace("/norm/disable", "/{username}/{action}")
            .replace("/norm/enable", "/{username}/{action}")
            .replace("/norm/unlock", "/{username}/{action}")
            .replace("/norm/reset-2fa", "/{username}/{action}")
            .replace("/norm", "/{username}")
            .replace("/api-cli", "/{client_id}");
        let item = paths
            .get(&templ)
            .unwrap_or_else(|| panic!("{templ} is documented"));
        assert!(
            item.get(method.as_str().to_lowercase()).is_some(),
            "{method} {templ}"
        );
    }
    for p in [
        "/api/account/2fa",
        "/api/account/2fa/{provider}/generate",
        "/api/account/2fa/{provider}/verify",
        "/api/account/2fa/default",
        "/api/account/2fa/{provider}",
        "/api/admin/hosts",
        "/api/admin/hosts/{name}",
        "/api/admin/hosts/{name}/rotate-credential",
        "/api/admin/hosts/{name}/groups/{group}",
        "/pam/v1/begin",
        "/pam/v1/send",
        "/pam/v1/check",
        "/pam/v1/step",
        "/pam/v1/cancel",
        "/pam/v1/account",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
    assert!(doc["components"]["securitySchemes"]["host"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let audit_params = doc["paths"]["/api/admin/audit"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(audit_params
        .iter()
        .any(|p| p["name"] == "before" && p["in"] == "query"));
    let page = Browser::new().get(&server.url("/api/docs")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text()
            .contains("POST /api/account/2fa/{provider}/generate"),
        "{}",
        page.text()
    );
    assert!(!page.body.contains("<script"), "no script");
    assert!(!page.body.contains("src=\"http"), "no external asset");
}
