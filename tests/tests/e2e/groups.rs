//! Groups end to end: the `stepgate group` commands, the `/api/admin/groups` endpoints, the
//! console's groups page, the `groups` claim, and clients that admit only their groups'
//! members (a non-member hears `access_denied` and gets no code).

use crate::account::{real_forms, signed_in, text_of};
use crate::admin::admin_user;
use crate::api::{user_token, Api};
use crate::oidc::{code_from, exchange, id_claims, password, start};
use crate::support::events;
use crate::support::*;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn groups_of(server: &Server, username: &str) -> Vec<String> {
    let user = server.core.require_user(username).await.expect("user");
    server.core.groups_of(&user.id).await.expect("groups")
}

async fn cli_commands(backend: Backend) {
    let server = Server::start(backend).await;
    server.user("ann").await;
    server.user("bob").await;

    assert_eq!(
        server.cli_ok(&["group", "add", "ops"], "").await.trim(),
        "created group ops"
    );
    server.cli_ok(&["group", "add", "dev"], "").await;
    assert!(server.core.group_exists("ops").await.expect("db"));
    assert!(!server.core.group_exists("nope").await.expect("db"));
    let added = server
        .cli_ok(&["group", "add-member", "ops", "ann"], "")
        .await;
    assert!(added.contains("added ann to ops"), "{added}");
    // Adding a member again is fine and changes nothing.
    let again = server
        .cli_ok(&["group", "add-member", "ops", "ann"], "")
        .await;
    assert!(again.contains("already"), "{again}");
    server
        .cli_ok(&["group", "add-member", "ops", "bob"], "")
        .await;
    server
        .cli_ok(&["group", "add-member", "dev", "ann"], "")
        .await;
    assert_eq!(groups_of(&server, "ann").await, ["dev", "ops"]);
    assert_eq!(events(&server, "group_member_added").await.len(), 3);

    let list = server.cli_ok(&["group", "list"], "").await;
    let row = |name: &str| {
        list.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
    };
    assert_eq!(row("ops").as_deref(), Some("2"), "{list}");
    assert_eq!(row("dev").as_deref(), Some("1"), "{list}");
    let show = server.cli_ok(&["group", "show", "ops"], "").await;
    assert!(
        show.contains("  ann\n") && show.contains("  bob\n"),
        "{show}"
    );

    server
        .cli_ok(&["group", "remove-member", "ops", "bob"], "")
        .await;
    assert!(groups_of(&server, "bob").await.is_empty());

    // Bad input: a message naming what is wrong, non-zero, nothing changed.
    let before = server.core.list_groups().await.expect("groups");
    for (args, says) in [
        (vec!["group", "add", "Bad Name"], "name:"),
        (vec!["group", "add", "_ops"], "not a group name"),
        (vec!["group", "add", "ops"], "already exists"),
        (vec!["group", "remove", "nope"], "no group named \"nope\""),
        (vec!["group", "show", "nope"], "no group named \"nope\""),
        (
            vec!["group", "add-member", "nope", "ann"],
            "no group named \"nope\"",
        ),
        (
            vec!["group", "add-member", "ops", "nobody"],
            "no user named \"nobody\"",
        ),
        (
            vec!["group", "remove-member", "ops", "bob"],
            "\"bob\" is not a member",
        ),
    ] {
        let out = server.cli(&args, "").await;
        assert_ne!(out.code, 0, "{args:?}");
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    assert_eq!(server.core.list_groups().await.expect("groups"), before);
    assert_eq!(groups_of(&server, "ann").await, ["dev", "ops"]);
    let usage = server.cli(&["group", "add-member", "ops"], "").await;
    assert_eq!(usage.code, 2, "a missing argument is a usage error");

    // --allow-group names an existing group; an unknown one names the flag and registers
    // nothing.
    let out = server
        .cli(
            &[
                "client",
                "add",
                "webapp",
                "--redirect-uri",
                REDIRECT_URI,
                "--allow-group",
                "ghosts",
            ],
            "",
        )
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("--allow-group") && out.stderr.contains("ghosts"),
        "{}",
        out.stderr
    );
    assert!(
        stepgate_idp::store::clients::get(server.core.db(), "webapp")
            .await
            .expect("db")
            .is_none()
    );
    let out = server
        .cli(
            &[
                "client",
                "add",
                "webapp",
                "--redirect-uri",
                REDIRECT_URI,
                "--allow-group",
                "Not Valid",
            ],
            "",
        )
        .await;
    assert!(out.stderr.contains("--allow-group"), "{}", out.stderr);
    server.client("webapp", &["--allow-group", "ops"]).await;
    let client = stepgate_idp::store::clients::get(server.core.db(), "webapp")
        .await
        .expect("db")
        .expect("client");
    assert_eq!(client.allowed_groups, ["ops"]);

    // A group a client still admits cannot be removed; another one goes with its memberships.
    let refused = server.cli(&["group", "remove", "ops"], "").await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("webapp"), "{}", refused.stderr);
    assert!(server.core.group_exists("ops").await.expect("db"));
    server.cli_ok(&["group", "remove", "dev"], "").await;
    assert_eq!(groups_of(&server, "ann").await, ["ops"]);
    assert!(!server.core.group_exists("dev").await.expect("db"));
    let removed = events(&server, "group_removed").await;
    assert_eq!(removed.len(), 1);
    assert!(
        removed[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("group=dev")),
        "{removed:?}"
    );
    assert_eq!(events(&server, "group_created").await.len(), 2);
}

both_backends!(cli_group_commands, cli_commands);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_endpoints_for_groups() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("norm").await;
    server.user("ann").await;
    admin_user(&server, "boss").await;
    let boss = Api {
        server: &server,
        token: Some(user_token(&server, "boss").await),
    };
    let created = server_ok(
        &boss,
        Method::POST,
        "/api/admin/groups",
        Some(json!({"name": "ops"})),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["name"], "ops");
    assert_eq!(created["members"], 0);
    boss.problem(
        Method::POST,
        "/api/admin/groups",
        Some(json!({"name": "ops"})),
        StatusCode::CONFLICT,
        None,
    )
    .await;
    boss.problem(
        Method::POST,
        "/api/admin/groups",
        Some(json!({"name": "Has Space"})),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
    )
    .await;
    let detail = boss
        .ok(Method::PUT, "/api/admin/groups/ops/members/ann", None)
        .await;
    assert_eq!(detail["members"][0]["username"], "ann", "{detail}");
    // Idempotent.
    boss.ok(Method::PUT, "/api/admin/groups/ops/members/ann", None)
        .await;
    let list = boss.ok(Method::GET, "/api/admin/groups", None).await;
    assert_eq!(
        list,
        json!([{"name": "ops", "members": 1, "createdAt": created["createdAt"]}])
    );
    let user = boss.ok(Method::GET, "/api/admin/users/ann", None).await;
    assert_eq!(user["groups"], json!(["ops"]), "{user}");
    for (method, path) in [
        (Method::PUT, "/api/admin/groups/nope/members/ann"),
        (Method::PUT, "/api/admin/groups/ops/members/nobody"),
        (Method::DELETE, "/api/admin/groups/ops/members/norm"),
        (Method::GET, "/api/admin/groups/nope"),
        (Method::DELETE, "/api/admin/groups/nope"),
    ] {
        boss.problem(method, path, None, StatusCode::NOT_FOUND, None)
            .await;
    }

    // A client's allowedGroups through the API: unknown groups refused, known ones shown.
    boss.problem(
        Method::POST,
        "/api/admin/clients",
        Some(
            json!({"clientId": "app", "redirectUris": [REDIRECT_URI], "allowedGroups": ["ghosts"]}),
        ),
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("allow_group"),
    )
    .await;
    let made = server_ok(
        &boss,
        Method::POST,
        "/api/admin/clients",
        Some(json!({"clientId": "app", "redirectUris": [REDIRECT_URI], "allowedGroups": ["ops"]})),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(made["client"]["allowedGroups"], json!(["ops"]), "{made}");
    boss.problem(
        Method::DELETE,
        "/api/admin/groups/ops",
        None,
        StatusCode::CONFLICT,
        None,
    )
    .await;
    let patched = boss
        .ok(
            Method::PATCH,
            "/api/admin/clients/app",
            Some(json!({"allowedGroups": []})),
        )
        .await;
    assert_eq!(patched["allowedGroups"], json!([]));

    // Someone without the admin role changes nothing.
    let norm = Api {
        server: &server,
        token: Some(user_token(&server, "norm").await),
    };
    for (method, path, body) in [
        (Method::GET, "/api/admin/groups", None),
        (
            Method::POST,
            "/api/admin/groups",
            Some(json!({"name": "x"})),
        ),
        (Method::GET, "/api/admin/groups/ops", None),
        (Method::DELETE, "/api/admin/groups/ops", None),
        (Method::PUT, "/api/admin/groups/ops/members/norm", None),
        (Method::DELETE, "/api/admin/groups/ops/members/ann", None),
    ] {
        norm.problem(method, path, body, StatusCode::FORBIDDEN, None)
            .await;
    }
    assert_eq!(groups_of(&server, "norm").await, Vec::<String>::new());
    assert_eq!(groups_of(&server, "ann").await, ["ops"]);
    assert!(!server.core.group_exists("x").await.expect("db"));

    boss.ok(Method::DELETE, "/api/admin/groups/ops/members/ann", None)
        .await;
    let (status, _, _) = boss
        .call(Method::DELETE, "/api/admin/groups/ops", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!server.core.group_exists("ops").await.expect("db"));

    // The OpenAPI document lists the endpoints.
    let doc = Api {
        server: &server,
        token: None,
    }
    .ok(Method::GET, "/api/openapi.json", None)
    .await;
    for path in [
        "/api/admin/groups",
        "/api/admin/groups/{name}",
        "/api/admin/groups/{name}/members/{username}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} not in the document");
    }
}

async fn server_ok(
    api: &Api<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let (got, v, _) = api.call(method.clone(), path, body).await;
    assert_eq!(got, status, "{method} {path}: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_manages_groups_and_shows_a_users_groups() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("ann").await;
    admin_user(&server, "root-admin").await;
    let browser = Browser::new();
    signed_in(&server, &browser, "root-admin", PASSWORD).await;
    let form_to = |page: &Page, path: &str, action: Option<&str>| {
        real_forms(page)
            .into_iter()
            .find(|f| {
                f.action.path() == path
                    && action.is_none_or(|a| f.fields.iter().any(|(n, v)| n == "action" && v == a))
            })
            .unwrap_or_else(|| panic!("no form to {path} {action:?}: {}", page.text()))
    };

    let page = browser.get(&server.url("/admin/groups")).await;
    assert_eq!(page.status, StatusCode::OK);
    let bad = browser
        .submit(form_to(&page, "/admin/groups", None).set("name", "No Good"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#new-name-error").is_some(), "{}", bad.text());
    assert!(server.core.list_groups().await.expect("db").is_empty());

    let group = browser
        .submit(form_to(&page, "/admin/groups", None).set("name", "ops"))
        .await;
    assert_eq!(group.status, StatusCode::OK, "{}", group.text());
    assert_eq!(group.url.path(), "/admin/groups/ops");
    let unknown = browser
        .submit(form_to(&group, "/admin/groups/ops", Some("add_member")).set("username", "nobody"))
        .await;
    assert!(
        text_of(&unknown, "#member-username-error").is_some_and(|t| t.contains("nobody")),
        "{}",
        unknown.text()
    );
    let added = browser
        .submit(form_to(&group, "/admin/groups/ops", Some("add_member")).set("username", "ann"))
        .await;
    assert!(text_of(&added, "#members").is_some_and(|t| t.contains("ann")));
    assert_eq!(groups_of(&server, "ann").await, ["ops"]);
    let list = browser.get(&server.url("/admin/groups")).await;
    assert!(list.text().contains("ops 1"), "{}", list.text());
    let user = browser.get(&server.url("/admin/users/ann")).await;
    assert_eq!(text_of(&user, "#groups").as_deref(), Some("ops"));

    // A form without its CSRF token changes nothing.
    let mut forged = form_to(&added, "/admin/groups/ops", Some("remove_member"));
    forged.fields.retain(|(n, _)| n != "csrf");
    let refused = browser.submit(forged).await;
    assert!(!refused.status.is_success(), "{}", refused.status);
    assert_eq!(groups_of(&server, "ann").await, ["ops"]);

    let out = browser
        .submit(form_to(&added, "/admin/groups/ops", Some("remove_member")))
        .await;
    assert!(out.text().contains("no longer a member"), "{}", out.text());
    assert!(groups_of(&server, "ann").await.is_empty());
    let gone = browser
        .submit(form_to(&out, "/admin/groups/ops", Some("delete")))
        .await;
    assert_eq!(gone.url.path(), "/admin/groups");
    assert!(!server.core.group_exists("ops").await.expect("db"));

    // The client form takes allowed groups, checked by the store.
    server.cli_ok(&["group", "add", "dev"], "").await;
    let clients = browser.get(&server.url("/admin/clients")).await;
    let bad = browser
        .submit(
            form_to(&clients, "/admin/clients", None)
                .set("client_id", "app")
                .set("redirect_uris", REDIRECT_URI)
                .set("allowed_groups", "ghosts"),
        )
        .await;
    assert!(
        text_of(&bad, "#new-allow_group-error").is_some_and(|t| t.contains("ghosts")),
        "{}",
        bad.text()
    );
    let made = browser
        .submit(
            form_to(&clients, "/admin/clients", None)
                .set("client_id", "app")
                .set("redirect_uris", REDIRECT_URI)
                .set("allowed_groups", "dev"),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let client = stepgate_idp::store::clients::get(server.core.db(), "app")
        .await
        .expect("db")
        .expect("client");
    assert_eq!(client.allowed_groups, ["dev"]);
}

async fn userinfo(server: &Server, access_token: &str) -> Value {
    let resp = rp_http()
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn groups_claim(backend: Backend) {
    let server = Server::start(backend).await;
    let secret = server.client("webapp", &[]).await;
    server.user("ann").await;
    server.user("bob").await;
    for g in ["ops", "dev"] {
        server.cli_ok(&["group", "add", g], "").await;
        server.cli_ok(&["group", "add-member", g, "ann"], "").await;
    }
    let (rp, metadata) = relying_party(&server, "webapp", secret).await;
    let supported = |v: Option<Vec<String>>| v.unwrap_or_default().contains(&"groups".to_string());
    assert!(supported(
        metadata
            .scopes_supported()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
    ));
    assert!(supported(
        metadata
            .claims_supported()
            .map(|c| c.iter().map(|c| c.to_string()).collect())
    ));

    for (user, want) in [("ann", json!(["dev", "ops"])), ("bob", json!([]))] {
        let started = start(&rp, &["groups"]);
        let done = password(&Browser::new(), started.url.as_str(), user, PASSWORD).await;
        let nonce = started.nonce.clone();
        let tokens = exchange(
            &rp,
            code_from(&done, &started, &server.issuer),
            started.verifier,
        )
        .await;
        id_claims(&rp, &tokens, &nonce);
        let raw = jwt_claims(&tokens.id_token().expect("id token").to_string());
        assert_eq!(raw["groups"], want, "{raw}");
        let info = userinfo(&server, tokens.access_token().secret()).await;
        assert_eq!(info["groups"], want, "{info}");
    }

    // Without the scope there is no claim.
    let started = start(&rp, &["profile"]);
    let done = password(&Browser::new(), started.url.as_str(), "ann", PASSWORD).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    let raw = jwt_claims(&tokens.id_token().expect("id token").to_string());
    assert!(raw.get("groups").is_none(), "{raw}");
    assert_eq!(raw["preferred_username"], "ann");
    let info = userinfo(&server, tokens.access_token().secret()).await;
    assert!(info.get("groups").is_none(), "{info}");
}

both_backends!(groups_claim_with_the_scope_only, groups_claim);

async fn restricted_client(backend: Backend) {
    let server = Server::start(backend).await;
    server.cli_ok(&["group", "add", "ops"], "").await;
    server.cli_ok(&["group", "add", "dev"], "").await;
    server.user("ann").await;
    server.user("bob").await;
    server
        .cli_ok(&["group", "add-member", "ops", "ann"], "")
        .await;
    server
        .cli_ok(&["group", "add-member", "dev", "bob"], "")
        .await;
    let secret = server.client("opsapp", &["--allow-group", "ops"]).await;
    let (rp, _) = relying_party(&server, "opsapp", secret.clone()).await;

    // A member gets a code.
    let started = start(&rp, &["offline_access"]);
    let done = password(&Browser::new(), started.url.as_str(), "ann", PASSWORD).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    let refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();

    // A non-member signs in, and the client hears access_denied with its state, and no code.
    let codes_before = count_codes(&server).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let denied = password(&browser, started.url.as_str(), "bob", PASSWORD).await;
    assert_denied(&denied, &started, &server.issuer);
    assert_eq!(count_codes(&server).await, codes_before);
    let refused = events(&server, "client_login_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].username.as_deref(), Some("bob"));
    assert!(
        refused[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("client=opsapp")),
        "{refused:?}"
    );
    // With the session bob now has, the answer is the same.
    let started = start(&rp, &[]);
    let again = browser.get(started.url.as_str()).await;
    assert_denied(&again, &started, &server.issuer);
    assert_eq!(count_codes(&server).await, codes_before);
    // ...while a client without allowed groups admits him.
    let open = server.client("openapp", &[]).await;
    let (open_rp, _) = relying_party(&server, "openapp", open).await;
    let started = start(&open_rp, &[]);
    let page = browser.get(started.url.as_str()).await;
    code_from(&page, &started, &server.issuer);

    // Once ann leaves the group, her refresh token no longer works.
    server
        .cli_ok(&["group", "remove-member", "ops", "ann"], "")
        .await;
    let resp = rp_http()
        .post(server.url("/token"))
        .basic_auth("opsapp", secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

fn assert_denied(page: &Page, started: &crate::oidc::Started, issuer: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
    let loc = page.location.as_deref().expect("redirect");
    assert!(loc.starts_with(REDIRECT_URI), "{loc}");
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(page.redirect_param("iss").as_deref(), Some(issuer));
    assert_eq!(page.redirect_param("code"), None, "{loc}");
}

async fn count_codes(server: &Server) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oidc_codes")
        .fetch_one(server.core.db().pool())
        .await
        .expect("count");
    n
}

both_backends!(
    a_client_with_allowed_groups_admits_only_members,
    restricted_client
);
