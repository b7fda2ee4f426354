//! The device authorization grant (RFC 8628) end to end: the device authorization endpoint,
//! every answer of the token endpoint's device code grant (pending, slow_down with a growing
//! interval, access_denied, expired_token, tokens once), and the `/device` page in the
//! browser helper: the code prefilled from `verification_uri_complete`, a sign-in with both
//! factors (or a fresh one reused), the client and its scopes, Approve / Deny; wrong user codes
//! refused, counted and audited; a client that is not registered for the grant, and a user
//! outside a client's allowed groups, refused.

use crate::support::events;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::Value;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How a test's client authenticates: a public client by its id, a confidential one with
/// HTTP Basic.
#[derive(Clone)]
struct Caller {
    id: String,
    secret: Option<String>,
}

impl Caller {
    fn public(id: &str) -> Caller {
        Caller {
            id: id.into(),
            secret: None,
        }
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = rp_http().post(url);
        match &self.secret {
            Some(s) => req = req.basic_auth(&self.id, Some(s)),
            None => fields.push(("client_id", &self.id)),
        }
        let resp = req.form(&fields).send().await.expect("POST");
        let status = resp.status();
        let cache = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = resp.json().await.expect("a JSON answer");
        assert_eq!(cache.as_deref(), Some("no-store"), "{body}");
        (status, body)
    }

    async fn start(&self, server: &Server, scope: &str) -> (StatusCode, Value) {
        self.post(&server.url("/device_authorization"), &[("scope", scope)])
            .await
    }

    async fn poll(&self, server: &Server, device_code: &str) -> (StatusCode, Value) {
        self.post(
            &server.url("/token"),
            &[("grant_type", GRANT), ("device_code", device_code)],
        )
        .await
    }

    /// A poll that must be refused with `error`.
    async fn poll_error(&self, server: &Server, device_code: &str, error: &str) -> Value {
        let (status, body) = self.poll(server, device_code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(body["error_description"].is_string(), "{body}");
        body
    }
}

/// A started device authorization: (device_code, user_code, verification_uri_complete).
async fn started(caller: &Caller, server: &Server, scope: &str) -> (String, String, String) {
    let (status, body) = caller.start(server, scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["device_code"].as_str().expect("device_code").into(),
        body["user_code"].as_str().expect("user_code").into(),
        body["verification_uri_complete"]
            .as_str()
            .expect("verification_uri_complete")
            .into(),
    )
}

/// Enters `user_code` on /device (the form as prefilled from `complete`, or typed).
pub(crate) async fn enter_code(browser: &Browser, server: &Server, user_code: &str) -> Page {
    let page = browser.get(&server.url("/device")).await;
    assert_eq!(page.status, StatusCode::OK);
    browser
        .submit(
            page.form_with("user_code", None)
                .set("user_code", user_code),
        )
        .await
}

/// From the sign-in page the code led to: password, then the TOTP code; lands on the approval.
pub(crate) async fn sign_in_with_totp(
    server: &Server,
    browser: &Browser,
    page: &Page,
    user: &str,
    secret: &str,
) -> Page {
    assert!(page.is_sign_in(), "{} {}", page.url, page.text());
    let second = browser
        .submit(
            page.form_with("username", None)
                .set("username", user)
                .set("password", PASSWORD),
        )
        .await;
    assert!(second.text().contains("Verify it"), "{}", second.text());
    let approval = browser
        .submit(
            second
                .form_with("code", None)
                .set("code", &server.totp(secret)),
        )
        .await;
    assert_eq!(
        approval.url.path(),
        "/device/approve",
        "{}",
        approval.text()
    );
    approval
}

pub(crate) async fn decide(browser: &Browser, approval: &Page, decision: &str) -> Page {
    browser
        .submit(approval.form_with("decision", Some(decision)))
        .await
}

async fn device_flow(backend: Backend) {
    let server = Server::start(backend).await;
    let (ann, secret) = server.totp_user("ann").await;
    server
        .client(
            "tv",
            &[
                "--public",
                "--name",
                "Living Room TV",
                "--grant",
                GRANT,
                "--grant",
                "refresh_token",
            ],
        )
        .await;
    let tv = Caller::public("tv");

    // Discovery names the endpoint and the grant.
    let meta: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(
        meta["device_authorization_endpoint"],
        server.url("/device_authorization")
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .expect("grant types")
            .iter()
            .any(|g| g == GRANT),
        "{meta}"
    );

    let (status, body) = tv
        .start(&server, "openid profile offline_access unknown-scope")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user_code = body["user_code"].as_str().expect("user_code").to_string();
    assert!(
        user_code.len() == 9
            && user_code.as_bytes()[4] == b'-'
            && user_code
                .chars()
                .filter(|c| *c != '-')
                .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "{user_code}"
    );
    assert_eq!(body["verification_uri"], server.url("/device"));
    let complete = body["verification_uri_complete"]
        .as_str()
        .expect("complete");
    assert_eq!(
        complete,
        format!("{}?user_code={user_code}", server.url("/device"))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    let device_code = body["device_code"]
        .as_str()
        .expect("device_code")
        .to_string();
    assert!(device_code.len() >= 43, "256 bits: {device_code}");
    // Only its hash is stored.
    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT device_code_hash FROM device_authorizations")
            .fetch_all(server.core.db().pool())
            .await
            .expect("db");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, device_code);

    // Pending; polling faster than the interval is slowed down, each time by 5 s more.
    tv.poll_error(&server, &device_code, "authorization_pending")
        .await;
    tv.poll_error(&server, &device_code, "slow_down").await; // interval 10
    server.clock.advance(5);
    tv.poll_error(&server, &device_code, "slow_down").await; // 5 < 10: interval 15
    server.clock.advance(10);
    tv.poll_error(&server, &device_code, "slow_down").await; // 10 < 15: interval 20
    server.clock.advance(20);
    tv.poll_error(&server, &device_code, "authorization_pending")
        .await;

    // The user: the link prefills the code (to confirm, not to approve), then a full sign-in.
    let browser = Browser::new();
    let form_page = browser.get(complete).await;
    assert_eq!(form_page.status, StatusCode::OK);
    let form = form_page.form_with("user_code", Some(&user_code));
    let login = browser.submit(form).await;
    let approval = sign_in_with_totp(&server, &browser, &login, "ann", &secret).await;
    let text = approval.text();
    assert!(
        text.contains("Living Room TV") && text.contains("ann"),
        "{text}"
    );
    assert!(
        text.contains("Your name and username") && text.contains("Access while you are away"),
        "{text}"
    );
    assert!(!text.contains("unknown-scope"), "{text}");
    // Still pending until the user answers.
    server.clock.advance(20);
    tv.poll_error(&server, &device_code, "authorization_pending")
        .await;
    let done = decide(&browser, &approval, "approve").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.text().contains("Device approved"), "{}", done.text());

    server.clock.advance(20);
    let (status, tokens) = tv.poll(&server, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].is_string());
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(tokens["scope"], "openid profile offline_access");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(claims["sub"], ann.id);
    assert_eq!(claims["aud"], serde_json::json!(["tv"]));
    assert_eq!(claims["acr"], "urn:stepgate:acr:2fa");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["preferred_username"], "ann");
    assert!(claims["auth_time"].is_i64());

    // Single use.
    tv.poll_error(&server, &device_code, "invalid_grant").await;
    // The refresh token works like any other.
    let (status, refreshed) = tv
        .post(
            &server.url("/token"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    // The user code cannot be used again either.
    let again = enter_code(&browser, &server, &user_code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.text().contains("already used"), "{}", again.text());

    let approved = events(&server, "device_approved").await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].username.as_deref(), Some("ann"));
    let detail = approved[0].detail.as_deref().unwrap_or("");
    assert!(
        detail.contains("client=tv") && detail.contains("amr=pwd,otp,mfa"),
        "{detail}"
    );
    assert!(!detail.contains(&user_code) && !detail.contains(&device_code));
    server.stop().await;
}

both_backends!(device_flow);

/// Deny, expiry, a fresh session reused (and a stale one not), other clients' codes, clients
/// not registered for the grant, a confidential client.
async fn device_refusals(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, secret) = server.totp_user("ann").await;
    server
        .client("tv", &["--public", "--name", "TV", "--grant", GRANT])
        .await;
    let tv = Caller::public("tv");
    let box_secret = server
        .client("settop", &["--name", "Set-top box", "--grant", GRANT])
        .await
        .expect("a confidential client");
    let settop = Caller {
        id: "settop".into(),
        secret: Some(box_secret.clone()),
    };
    let web_secret = server.client("web", &[]).await.expect("secret");
    let web = Caller {
        id: "web".into(),
        secret: Some(web_secret),
    };

    // A client not registered for the grant is refused at both endpoints.
    let (status, body) = web.start(&server, "openid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    let (device_code, user_code, _) = started(&tv, &server, "openid").await;
    web.poll_error(&server, &device_code, "unauthorized_client")
        .await;
    // Another registered client cannot use this one's code, and changes nothing by trying.
    settop
        .poll_error(&server, &device_code, "invalid_grant")
        .await;
    tv.poll_error(&server, &device_code, "authorization_pending")
        .await;
    // Bad requests and bad client credentials.
    let (status, body) = tv
        .post(&server.url("/token"), &[("grant_type", GRANT)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");
    tv.poll_error(&server, "not-a-device-code", "invalid_grant")
        .await;
    let wrong = Caller {
        id: "settop".into(),
        secret: Some("wrong".into()),
    };
    let (status, body) = wrong.start(&server, "openid").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // Deny: the device hears access_denied, and keeps hearing it.
    let browser = Browser::new();
    let login = enter_code(
        &browser,
        &server,
        &user_code.to_lowercase().replace('-', " "),
    )
    .await;
    let approval = sign_in_with_totp(&server, &browser, &login, "ann", &secret).await;
    let done = decide(&browser, &approval, "deny").await;
    assert!(done.text().contains("Request denied"), "{}", done.text());
    server.clock.advance(5);
    tv.poll_error(&server, &device_code, "access_denied").await;
    server.clock.advance(5);
    tv.poll_error(&server, &device_code, "access_denied").await;
    assert_eq!(events(&server, "device_denied").await.len(), 1);

    // A confidential client; the fresh sign-in of this browser is reused (no second login).
    let (box_code, box_user_code, _) = started(&settop, &server, "openid email").await;
    let approval = enter_code(&browser, &server, &box_user_code).await;
    assert_eq!(
        approval.url.path(),
        "/device/approve",
        "{}",
        approval.text()
    );
    assert!(
        approval.text().contains("Set-top box"),
        "{}",
        approval.text()
    );
    decide(&browser, &approval, "approve").await;
    let (status, tokens) = settop.poll(&server, &box_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(
        tokens.get("refresh_token").is_none(),
        "not registered for refresh"
    );
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["email"],
        "ann@example.com"
    );

    // Past reauth_seconds the session no longer approves: a new sign-in is asked for.
    server.clock.advance(301);
    let (_, stale_code, _) = started(&tv, &server, "openid").await;
    let login = enter_code(&browser, &server, &stale_code).await;
    assert!(login.is_sign_in(), "{}", login.text());

    // Expiry: the device hears expired_token; the user is told the code expired.
    let (late_code, late_user_code, _) = started(&tv, &server, "openid").await;
    server.clock.advance(600);
    tv.poll_error(&server, &late_code, "expired_token").await;
    tv.poll_error(&server, &late_code, "expired_token").await;
    let page = enter_code(&Browser::new(), &server, &late_user_code).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text().contains("expired"), "{}", page.text());
    // An approval that was waiting on the page when the code expired is refused.
    let (_, racing, _) = started(&tv, &server, "openid").await;
    let approval = {
        server.clock.advance(31); // a new TOTP step
        let login = enter_code(&browser, &server, &racing).await;
        sign_in_with_totp(&server, &browser, &login, "ann", &secret).await
    };
    server.clock.advance(600);
    let refused = decide(&browser, &approval, "approve").await;
    assert!(
        refused.text().contains("no longer waiting"),
        "{}",
        refused.text()
    );
    assert_eq!(events(&server, "device_approved").await.len(), 1);
    server.stop().await;
}

both_backends!(device_refusals);

/// Wrong user codes are refused, audited and counted: after five from one browser and address
/// even the right code is not looked at, until the bucket refills.
async fn device_guessing(backend: Backend) {
    let server = Server::start(backend).await;
    server.client("tv", &["--public", "--grant", GRANT]).await;
    let tv = Caller::public("tv");
    let (_, user_code, _) = started(&tv, &server, "openid").await;
    let browser = Browser::new();
    for guess in [
        "BCDF-GHJK",
        "bcdf-ghjl",
        "not a code",
        "WDJB-MJHT",
        "ZZZZ-ZZZZ",
    ] {
        if guess.eq_ignore_ascii_case(&user_code) {
            continue;
        }
        let page = enter_code(&browser, &server, guess).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{guess}");
        assert!(page.text().contains("not right"), "{}", page.text());
    }
    let refused = events(&server, "device_user_code_refused").await;
    assert_eq!(refused.len(), 5);
    assert!(refused
        .iter()
        .all(|e| e.remote_addr.as_deref() == Some("127.0.0.1")));
    // The bucket is empty: the right code is refused unchecked, audited, with a wait.
    let page = enter_code(&browser, &server, &user_code).await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        page.text()
    );
    assert!(
        page.text().contains("Too many wrong codes"),
        "{}",
        page.text()
    );
    // Another browser at the same address is in the same address bucket.
    let other = Browser::new();
    let page = enter_code(&other, &server, &user_code).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(events(&server, "device_user_code_refused").await.len(), 7);
    // A minute later one more try is allowed: the right code now goes to the sign-in.
    server.clock.advance(60);
    let page = enter_code(&browser, &server, &user_code).await;
    assert!(page.is_sign_in(), "{} {}", page.status, page.text());
    // An empty form is not a guess.
    let page = enter_code(&other, &server, "  ").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(events(&server, "device_user_code_refused").await.len(), 7);
    // Every form checks CSRF.
    let resp = rp_http()
        .post(server.url("/device"))
        .form(&[("user_code", user_code.as_str()), ("csrf", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = rp_http()
        .post(server.url("/device/approve"))
        .form(&[("decision", "approve"), ("csrf", "forged")])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

both_backends!(device_guessing);

/// A client with allowed groups: a member approves; anyone else's approval is refused and
/// audited, and the device hears access_denied.
async fn device_groups(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, ann_secret) = server.totp_user("ann").await;
    let (_, bob_secret) = server.totp_user("bob").await;
    server.cli_ok(&["group", "add", "ops"], "").await;
    server
        .cli_ok(&["group", "add-member", "ops", "ann"], "")
        .await;
    server
        .client(
            "ops-cli",
            &[
                "--public",
                "--name",
                "Ops CLI",
                "--grant",
                GRANT,
                "--allow-group",
                "ops",
            ],
        )
        .await;
    let cli = Caller::public("ops-cli");

    let (code, user_code, _) = started(&cli, &server, "openid groups").await;
    let bob = Browser::new();
    let login = enter_code(&bob, &server, &user_code).await;
    let approval = sign_in_with_totp(&server, &bob, &login, "bob", &bob_secret).await;
    let refused = decide(&bob, &approval, "approve").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text().contains("may not sign in to Ops CLI"),
        "{}",
        refused.text()
    );
    cli.poll_error(&server, &code, "access_denied").await;
    let audited = events(&server, "client_login_refused").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].username.as_deref(), Some("bob"));
    assert!(events(&server, "device_approved").await.is_empty());

    let (code, user_code, _) = started(&cli, &server, "openid groups").await;
    let ann = Browser::new();
    let login = enter_code(&ann, &server, &user_code).await;
    let approval = sign_in_with_totp(&server, &ann, &login, "ann", &ann_secret).await;
    decide(&ann, &approval, "approve").await;
    let (status, tokens) = cli.poll(&server, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["groups"],
        serde_json::json!(["ops"])
    );
    server.stop().await;
}

both_backends!(device_groups);

/// Concurrency, straight at the core: wrong codes typed at once from one browser are counted
/// one after the other (exactly the burst gets a look, the rest are refused unchecked); two
/// approvals of one authorization at once: one wins; two polls of an approved one at once: one
/// gets the tokens.
async fn device_races(backend: Backend) {
    use stepgate_core::device::{Decision, GuessLimits, GuessSource, Poll};
    use stepgate_core::Error as CoreError;
    let server = Server::start(backend).await;
    let source = GuessSource {
        browser: Some("one browser".into()),
        address: Some("192.0.2.7".into()),
    };
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let core = server.core.clone();
            let source = source.clone();
            tokio::spawn(async move {
                let guess = format!("BCDF-GH{}", ["JK", "JL", "JM", "JN", "JP", "JQ"][i % 6]);
                core.device_by_user_code(&ctx(), &guess, &source, &GuessLimits::default())
                    .await
            })
        })
        .collect();
    let (mut wrong, mut limited) = (0, 0);
    for g in guesses {
        match g.await.expect("task") {
            Err(CoreError::NotFound(_)) => wrong += 1,
            Err(CoreError::RateLimited { .. }) => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((wrong, limited), (5, 7));
    assert_eq!(events(&server, "device_user_code_refused").await.len(), 12);

    server.client("tv", &["--public", "--grant", GRANT]).await;
    let started = server
        .core
        .start_device_authorization("tv", &["openid".to_string()], 600, 5)
        .await
        .expect("start");
    let ann = server.user("ann").await;
    let bob = server.user("bob").await;
    let approve = Decision::Approve {
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        acr: "urn:stepgate:acr:2fa".into(),
        auth_time: server.now(),
    };
    let c = ctx();
    let (a, b) = tokio::join!(
        server.core.decide_device(&c, &started.id, &ann, &approve),
        server.core.decide_device(&c, &started.id, &bob, &approve),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one decision wins: {a:?} {b:?}"
    );
    for r in [&a, &b] {
        if let Err(e) = r {
            assert!(matches!(e, CoreError::Refused(_)), "{e:?}");
        }
    }
    assert_eq!(
        events(&server, "device_approved").await.len(),
        1,
        "one decision audited"
    );
    let winner = if a.is_ok() { &ann.id } else { &bob.id };
    {
        let (p, q) = tokio::join!(
            server.core.poll_device(&started.device_code, "tv"),
            server.core.poll_device(&started.device_code, "tv"),
        );
        let (p, q) = (p.expect("poll"), q.expect("poll"));
        let got = [&p, &q]
            .iter()
            .filter(|x| matches!(x, Poll::Approved(_)))
            .count();
        assert_eq!(got, 1, "one poll gets the tokens: {p:?} {q:?}");
        for x in [&p, &q] {
            if let Poll::Approved(auth) = x {
                assert_eq!(auth.user_id.as_ref(), Some(winner), "the winner's approval");
            }
        }
        assert!(
            matches!(p, Poll::AlreadyUsed) || matches!(q, Poll::AlreadyUsed),
            "{p:?} {q:?}"
        );
    }
    // Another client's poll changes nothing.
    assert_eq!(
        server
            .core
            .poll_device(&started.device_code, "other")
            .await
            .expect("poll"),
        Poll::OtherClient
    );
    server.stop().await;
}

both_backends!(device_races);
