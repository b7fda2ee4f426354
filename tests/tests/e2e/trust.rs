//! Trust boundaries: a relying party's token, a stale cookie or an old session can
//! do only what it was issued for. Each test is one of the bypasses found, now refused.

use crate::account::{enrol_totp, signed_in, text_of};
use crate::admin::admin_user;
use crate::api::{admin_endpoints, client_token, user_token_via, Api};
use crate::oidc::{code_from, exchange, start};
use crate::support::*;
use openidconnect::OAuth2TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stepgate_core::ProviderType;

/// Every account endpoint, with a harmless body where one is needed.
fn account_endpoints() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/account/2fa", None),
        (Method::POST, "/api/account/2fa/TOTP/generate", None),
        (Method::POST, "/api/account/2fa/BACKUP_CODE/generate", None),
        (
            Method::POST,
            "/api/account/2fa/TOTP/verify",
            Some(json!({"code": "123456"})),
        ),
        (
            Method::PUT,
            "/api/account/2fa/default",
            Some(json!({"provider": "TOTP"})),
        ),
        (
            Method::DELETE,
            "/api/account/2fa/TOTP",
            Some(json!({"password": PASSWORD})),
        ),
    ]
}

async fn providers_of(server: &Server, user_id: &str) -> Vec<ProviderType> {
    server
        .core
        .enrolled_providers(user_id)
        .await
        .expect("db")
        .into_iter()
        .map(|p| p.provider)
        .collect()
}

/// An access token for a user who has TOTP, through a real login (password, then the code).
async fn token_with_totp(
    server: &Server,
    client_id: &str,
    username: &str,
    secret: &str,
    scopes: &[&str],
) -> String {
    let (rp, _) = relying_party(server, client_id, None).await;
    let started = start(&rp, scopes);
    let browser = Browser::new();
    let challenge = crate::oidc::password(&browser, started.url.as_str(), username, PASSWORD).await;
    let done = browser
        .submit(
            challenge
                .form_with("code", None)
                .set("code", &server.totp(secret)),
        )
        .await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    tokens.access_token().secret().clone()
}

both_backends!(a_relying_partys_token_reaches_no_api_endpoint);

/// An administrator signs in to an ordinary application (even one that asks for Stepgate's
/// API scopes): its token gets 403 on every admin and account endpoint and changes nothing.
/// The same administrator through a client registered for the API gets in; once the
/// administrator takes the scope away from that client, its tokens stop working at once.
async fn a_relying_partys_token_reaches_no_api_endpoint(backend: Backend) {
    let server = Server::start(backend).await;
    server.user("norm").await;
    let boss = admin_user(&server, "boss").await;
    let rp_token = user_token_via(
        &server,
        "someapp",
        "boss",
        &["openid", "profile", "stepgate:admin", "stepgate:account"],
    )
    .await;
    let claims = jwt_claims(&rp_token);
    assert_eq!(claims["aud"], "someapp", "{claims}");
    assert!(
        !claims["scope"].as_str().unwrap_or("").contains("stepgate:"),
        "an unregistered client is not granted API scopes: {claims}"
    );
    let rp = Api {
        server: &server,
        token: Some(rp_token.clone()),
    };
    let settings_before = server.core.twofa_settings().await.expect("settings");
    for (method, path, body) in admin_endpoints().into_iter().chain(account_endpoints()) {
        let v = rp
            .problem(method, path, body, StatusCode::FORBIDDEN, None)
            .await;
        assert!(
            v["detail"]
                .as_str()
                .unwrap_or("")
                .contains("Stepgate's API"),
            "{path}: {v}"
        );
    }
    // Nothing was changed: no factor minted, no setting saved, no user created.
    assert!(providers_of(&server, &boss.id).await.is_empty());
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        settings_before
    );
    assert!(server
        .core
        .user_by_username("x")
        .await
        .expect("db")
        .is_none());
    // The same token still does what it was issued for: userinfo.
    let info = rp_http()
        .get(server.url("/userinfo"))
        .bearer_auth(&rp_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(info.status(), StatusCode::OK);
    // A client registered for stepgate:admin: the administrator's token works.
    let admin_token = user_token_via(
        &server,
        "api-console",
        "boss",
        &["openid", "stepgate:admin"],
    )
    .await;
    assert_eq!(
        jwt_claims(&admin_token)["aud"],
        format!("{}/api", server.issuer)
    );
    let admin = Api {
        server: &server,
        token: Some(admin_token),
    };
    admin.ok(Method::GET, "/api/admin/users", None).await;
    // Without stepgate:account in the token, the account endpoints stay closed to it.
    admin
        .problem(
            Method::POST,
            "/api/account/2fa/BACKUP_CODE/generate",
            None,
            StatusCode::FORBIDDEN,
            None,
        )
        .await;
    // The administrator takes the API scopes away: the token stops working at once.
    admin
        .ok(
            Method::PATCH,
            "/api/admin/clients/api-console",
            Some(json!({"apiScopes": []})),
        )
        .await;
    admin
        .problem(
            Method::GET,
            "/api/admin/users",
            None,
            StatusCode::FORBIDDEN,
            None,
        )
        .await;
    // A client's own token: only with the API scope it was registered for.
    let robot = Api {
        server: &server,
        token: Some(client_token(&server, "robot", &["stepgate:admin"]).await),
    };
    robot.ok(Method::GET, "/api/admin/settings", None).await;
    // API scopes are registered only as API scopes, and only Stepgate's.
    let out = server
        .cli(
            &[
                "client",
                "add",
                "sneaky",
                "--grant",
                "client_credentials",
                "--scope",
                "stepgate:admin",
            ],
            "",
        )
        .await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("--api-scope"), "{}", out.stderr);
    let out = server
        .cli(
            &[
                "client",
                "add",
                "odd",
                "--grant",
                "client_credentials",
                "--api-scope",
                "stepgate:root",
            ],
            "",
        )
        .await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("api_scope"), "{}", out.stderr);
}

both_backends!(api_factor_changes_need_a_fresh_sign_in);

/// RFC 9470: an API token whose sign-in is older than `[account] reauth_seconds` cannot add,
/// replace or remove a factor; the answer names max_age and the 2FA acr, and a token from a
/// fresh sign-in with the second factor works.
async fn api_factor_changes_need_a_fresh_sign_in(backend: Backend) {
    let server = Server::start(backend).await;
    let (user, secret) = server.totp_user("tess").await;
    server
        .client("api-tool", &["--public", "--api-scope", "stepgate:account"])
        .await;
    let scopes = ["openid", "stepgate:account"];
    let token = token_with_totp(&server, "api-tool", "tess", &secret, &scopes).await;
    server.clock.advance(301);
    let old = Api {
        server: &server,
        token: Some(token),
    };
    // Reading is fine; changing is not.
    old.ok(Method::GET, "/api/account/2fa", None).await;
    let resp = rp_http()
        .post(server.url("/api/account/2fa/BACKUP_CODE/generate"))
        .bearer_auth(old.token.as_deref().unwrap_or(""))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_user_authentication\""),
        "{challenge}"
    );
    assert!(challenge.contains("max_age=300"), "{challenge}");
    assert!(
        challenge.contains("acr_values=\"urn:stepgate:acr:2fa\""),
        "{challenge}"
    );
    for (method, path, body) in [
        (Method::POST, "/api/account/2fa/TOTP/generate", None),
        (
            Method::DELETE,
            "/api/account/2fa/TOTP",
            Some(json!({"password": PASSWORD})),
        ),
    ] {
        old.problem(method, path, body, StatusCode::UNAUTHORIZED, None)
            .await;
    }
    assert_eq!(providers_of(&server, &user.id).await, [ProviderType::Totp]);
    // A fresh sign-in with the app: backup codes can be made.
    server.clock.advance(30);
    let fresh = Api {
        server: &server,
        token: Some(token_with_totp(&server, "api-tool", "tess", &secret, &scopes).await),
    };
    let v = fresh
        .ok(Method::POST, "/api/account/2fa/BACKUP_CODE/generate", None)
        .await;
    assert_eq!(v["codes"].as_array().map(Vec::len), Some(10), "{v}");
}

/// On the account page, an open session whose sign-in is old cannot replace the authenticator
/// app, make new backup codes or change the password: the page asks to sign in again and
/// nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_session_cannot_replace_a_factor() {
    let server = Server::start(Backend::Sqlite).await;
    let user = server.user("sam").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "sam", PASSWORD).await;
    let (done, secret) = enrol_totp(&server, &browser, &page).await;
    assert_eq!(providers_of(&server, &user.id).await, [ProviderType::Totp]);
    let before = server.core.enrolled_providers(&user.id).await.expect("db")[0].updated_at;
    // The borrowed browser, ten minutes later.
    server.clock.advance(600);
    let page = browser.get(&server.url("/account/security")).await;
    let form_for = |path: &str| {
        page.forms()
            .into_iter()
            .find(|f| f.action.path() == path)
            .unwrap_or_else(|| panic!("a form for {path}: {}", done.text()))
    };
    // The page offers no "set up again" for an app that is on, but the endpoint is there.
    let mut replace = form_for("/account/security/backup-codes");
    replace.action.set_path("/account/security/totp");
    for (path, form) in [
        ("totp", replace),
        ("backup codes", form_for("/account/security/backup-codes")),
    ] {
        let refused = browser.submit(form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            text_of(&refused, "#reauth").is_some(),
            "{path}: {}",
            refused.text()
        );
        assert!(
            text_of(&refused, "#totp-secret").is_none(),
            "no new secret shown"
        );
    }
    let password = browser
        .submit(
            form_for("/account/security/password")
                .set("current", PASSWORD)
                .set("new", "another long password")
                .set("confirm", "another long password"),
        )
        .await;
    assert_eq!(password.status, StatusCode::FORBIDDEN);
    assert!(server
        .core
        .first_factor(&ctx(), "sam", PASSWORD)
        .await
        .is_ok());
    let after = server.core.enrolled_providers(&user.id).await.expect("db");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].updated_at, before, "the app was not replaced");
    assert_eq!(
        server.core.backup_codes_left(&user.id).await.expect("db"),
        0
    );
    // Signing in again (password and the app) opens the changes for a few minutes.
    server.clock.advance(30);
    let login = browser.get(&server.url("/account/reauth")).await;
    let challenge = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", "sam")
                .set("password", PASSWORD),
        )
        .await;
    let back = browser
        .submit(
            challenge
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    assert_eq!(back.url.path(), "/account/security", "{}", back.text());
    let codes = browser
        .submit(
            back.forms()
                .into_iter()
                .find(|f| f.action.path() == "/account/security/backup-codes")
                .expect("backup codes form"),
        )
        .await;
    assert_eq!(codes.status, StatusCode::OK, "{}", codes.text());
    assert_eq!(
        server.core.backup_codes_left(&user.id).await.expect("db"),
        10
    );
}

/// A user sent to forced enrolment keeps the restricted enrolment cookie. Once a factor
/// exists (set up by an administrator here), that cookie is worthless: it cannot start a new
/// enrolment, and cannot finish one to replace the real authenticator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_enrolment_cookie_cannot_replace_a_factor() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("strict", &["--require-2fa"]).await;
    let user = server.user("ivy").await;
    let (rp, _) = relying_party(&server, "strict", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = crate::oidc::password(&browser, started.url.as_str(), "ivy", PASSWORD).await;
    assert!(page.text().contains("Set up two-factor authentication"));
    // The enrolment page's TOTP form, kept by the attacker's browser.
    let begin = page
        .forms()
        .into_iter()
        .find(|f| f.action.path() == "/account/security/totp")
        .expect("totp form");
    // Meanwhile the real authenticator is set up (by an administrator).
    let out = server
        .cli_ok(&["user", "enroll-totp", "ivy", "--no-qr"], "")
        .await;
    assert!(out.contains("otpauth://"), "{out}");
    let real = server.core.enrolled_providers(&user.id).await.expect("db");
    let refused = browser.submit(begin).await;
    assert!(
        refused.status == StatusCode::SEE_OTHER || refused.url.path() == "/login",
        "{} {}: {}",
        refused.status,
        refused.url,
        refused.text()
    );
    assert!(
        text_of(&refused, "#totp-secret").is_none(),
        "{}",
        refused.text()
    );
    let page = browser.get(&server.url("/account/security")).await;
    assert!(
        !page.text().contains("Set up two-factor authentication"),
        "{}",
        page.text()
    );
    let now = server.core.enrolled_providers(&user.id).await.expect("db");
    assert_eq!(now.len(), 1);
    assert_eq!(
        now[0].updated_at, real[0].updated_at,
        "the real app was kept"
    );
}
