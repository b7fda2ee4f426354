//! The OpenID Connect provider end to end, with the `openidconnect` crate as the relying party
//! and a cookie-keeping HTTP client as the browser.

use crate::support::*;
use openidconnect::core::{CoreIdTokenClaims, CoreResponseType, CoreTokenResponse};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, CsrfToken, EndSessionUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, RefreshToken,
    Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

/// A login the relying party started.
pub struct Started {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub fn start(rp: &Rp, scopes: &[&str]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new(s.to_string()));
    }
    let (url, state, nonce) = req.url();
    Started {
        url,
        state,
        nonce,
        verifier,
    }
}

/// Follows the authorization URL to the login page and submits the password.
pub async fn password(browser: &Browser, url: &str, username: &str, password: &str) -> Page {
    let login = browser.get(url).await;
    assert!(
        login.is_sign_in(),
        "{} {}: {}",
        login.status,
        login.url,
        login.text()
    );
    let form = login
        .form_with("username", None)
        .set("username", username)
        .set("password", password);
    assert!(form
        .fields
        .iter()
        .any(|(n, v)| n == "csrf" && !v.is_empty()));
    browser.submit(form).await
}

pub async fn enter_code(browser: &Browser, page: &Page, code: &str) -> Page {
    browser
        .submit(page.form_with("code", None).set("code", code))
        .await
}

/// The code in the redirect to the relying party, after checking `state` and RFC 9207 `iss`.
pub fn code_from(page: &Page, started: &Started, issuer: &str) -> AuthorizationCode {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
    let loc = page.location.as_deref().expect("redirect");
    assert!(loc.starts_with(REDIRECT_URI), "{loc}");
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(page.redirect_param("iss").as_deref(), Some(issuer));
    assert_eq!(page.redirect_param("error"), None, "{loc}");
    AuthorizationCode::new(page.redirect_param("code").expect("code"))
}

pub async fn exchange(
    rp: &Rp,
    code: AuthorizationCode,
    verifier: PkceCodeVerifier,
) -> CoreTokenResponse {
    rp.exchange_code(code)
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .expect("token exchange")
}

pub fn id_claims(rp: &Rp, tokens: &CoreTokenResponse, nonce: &Nonce) -> CoreIdTokenClaims {
    let verifier = rp.id_token_verifier().set_allowed_algs(es256());
    tokens
        .id_token()
        .expect("an ID token")
        .claims(&verifier, nonce)
        .expect("a valid ID token")
        .clone()
}

fn amr(claims: &CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .map(|v| v.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default()
}

async fn post_form(
    url: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = rp_http().post(url).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("POST")
}

async fn userinfo_status(server: &Server, access_token: &str) -> StatusCode {
    rp_http()
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
        .status()
}

/// The whole journey with an authenticator app: discovery → authorize → password → TOTP →
/// code → tokens → ID token verified → userinfo → SSO → refresh (rotation, reuse) → revoke →
/// logout.
async fn totp_journey(backend: Backend) {
    let server = Server::start(backend).await;
    let secret = server.client("webapp", &["--name", "Web App"]).await;
    let (_, totp) = server.totp_user("alice").await;
    let (rp, metadata) = relying_party(&server, "webapp", secret.clone()).await;
    assert_eq!(metadata.issuer().as_str(), server.issuer);

    let browser = Browser::new();
    let started = start(&rp, &["profile", "email", "offline_access"]);
    let page = password(&browser, started.url.as_str(), "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.text()
            .contains("Enter the 6-digit code from your authenticator app"),
        "{}",
        page.text()
    );
    // Between the password and the second factor there is no session yet.
    let home = browser.get(&server.url("/")).await;
    assert!(
        home.text().contains("You are not signed in"),
        "{}",
        home.text()
    );
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    let home = browser.get(&server.url("/")).await;
    assert!(
        home.text().contains("signed in as alice"),
        "{}",
        home.text()
    );
    let code = code_from(&done, &started, &server.issuer);
    let tokens = exchange(&rp, code, started.verifier).await;
    let claims = id_claims(&rp, &tokens, &started.nonce);

    let alice = server.core.require_user("alice").await.expect("alice");
    assert_eq!(claims.issuer().as_str(), server.issuer);
    assert_eq!(claims.subject().as_str(), alice.id);
    assert_eq!(claims.audiences()[0].as_str(), "webapp");
    assert_eq!(
        claims.authorized_party().map(|a| a.as_str()),
        Some("webapp")
    );
    assert_eq!(amr(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:stepgate:acr:2fa")
    );
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    let raw_id = tokens.id_token().expect("id token").to_string();
    let raw = jwt_claims(&raw_id);
    assert!(raw["sid"].as_str().is_some_and(|s| !s.is_empty()), "{raw}");

    // The access token is an RFC 9068 JWT.
    let at = tokens.access_token().secret().clone();
    let header = jwt_claims(&format!("x.{}.y", at.split('.').next().unwrap_or("")));
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].is_string());

    let info = rp
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .expect("userinfo endpoint")
        .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&rp_http())
        .await
        .expect("userinfo");
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    // POST works too, with the token in the body.
    let resp = post_form(&server.url("/userinfo"), None, &[("access_token", &at)]).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Single sign-on: the session answers a second request without a login; prompt=none too.
    let again = start(&rp, &["profile"]);
    let sso = browser.get(again.url.as_str()).await;
    code_from(&sso, &again, &server.issuer);
    let quiet = start(&rp, &[]);
    let sso = browser.get(&format!("{}&prompt=none", quiet.url)).await;
    code_from(&sso, &quiet, &server.issuer);

    // max_age older than the login forces a new one.
    server.clock.advance(5);
    let aged = start(&rp, &[]);
    let page = browser.get(&format!("{}&max_age=1", aged.url)).await;
    assert!(page.is_sign_in(), "{}", page.url);

    // Refresh: rotated every time; a reused refresh token revokes the whole family.
    let r1 = tokens.refresh_token().expect("refresh token").clone();
    let refreshed = rp
        .exchange_refresh_token(&r1)
        .expect("token endpoint")
        .request_async(&rp_http())
        .await
        .expect("refresh");
    let r2 = refreshed
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(r1.secret(), r2.secret());
    let new_at = refreshed.access_token().secret().clone();
    assert_eq!(userinfo_status(&server, &new_at).await, StatusCode::OK);
    let reuse = rp
        .exchange_refresh_token(&r1)
        .expect("token endpoint")
        .request_async(&rp_http())
        .await;
    let err = format!(
        "{:?}",
        reuse.expect_err("a reused refresh token is refused")
    );
    assert!(err.contains("invalid_grant"), "{err}");
    let after = rp
        .exchange_refresh_token(&r2)
        .expect("token endpoint")
        .request_async(&rp_http())
        .await;
    assert!(after.is_err(), "the family is revoked after a reuse");
    assert_eq!(
        userinfo_status(&server, &new_at).await,
        StatusCode::UNAUTHORIZED
    );

    // Revocation (RFC 7009) of an access token from a fresh login.
    let third = start(&rp, &["offline_access"]);
    let page = browser.get(&format!("{}&prompt=login", third.url)).await;
    assert!(page.is_sign_in(), "prompt=login asks again");
    let page = browser
        .submit(
            page.form_with("username", None)
                .set("username", "alice")
                .set("password", PASSWORD),
        )
        .await;
    server.clock.advance(30);
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &third, &server.issuer),
        third.verifier,
    )
    .await;
    let at = tokens.access_token().secret().clone();
    let secret = secret.expect("confidential client");
    let introspected: Value = post_form(
        &server.url("/introspect"),
        Some(("webapp", &secret)),
        &[("token", &at)],
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(introspected["active"], true, "{introspected}");
    let resp = post_form(
        &server.url("/revoke"),
        Some(("webapp", &secret)),
        &[("token", &at)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        userinfo_status(&server, &at).await,
        StatusCode::UNAUTHORIZED
    );
    let introspected: Value = post_form(
        &server.url("/introspect"),
        Some(("webapp", &secret)),
        &[("token", &at)],
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(introspected["active"], false);
    let refresh = tokens.refresh_token().expect("refresh").secret().clone();
    let resp = post_form(
        &server.url("/revoke"),
        Some(("webapp", &secret)),
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refused = rp
        .exchange_refresh_token(&RefreshToken::new(refresh))
        .expect("token endpoint")
        .request_async(&rp_http())
        .await;
    assert!(refused.is_err(), "a revoked refresh token is refused");

    // RP-initiated logout with the ID token as hint and a registered post-logout URI.
    let id_token = tokens.id_token().expect("id token").clone();
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let logout = LogoutRequest::from(EndSessionUrl::from_url(end_session.url().clone()))
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(POST_LOGOUT_URI.into()).expect("url"),
        )
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let out = browser.get(logout.as_str()).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.text());
    assert!(out
        .location
        .as_deref()
        .unwrap_or("")
        .starts_with(POST_LOGOUT_URI));
    assert_eq!(out.redirect_param("state").as_deref(), Some("bye"));
    // The session is gone: a silent request now needs a login.
    let quiet = start(&rp, &[]);
    let page = browser.get(&format!("{}&prompt=none", quiet.url)).await;
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(quiet.state.secret().as_str())
    );
    server.stop().await;
}

both_backends!(totp_journey);

/// Four requests from the application to the code: /authorize answers with the sign-in form,
/// and a correct password with the TOTP form, without a redirect in between (as Keycloak
/// does); the sign-in form is still there at /login?req=… for a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forms_are_answered_without_redirects() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("webapp", &["--name", "Web App"]).await;
    let (_, totp) = server.totp_user("alice").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);

    let login = browser.get(started.url.as_str()).await;
    assert!(login.is_sign_in(), "{}", login.text());
    assert_eq!(login.url.path(), "/authorize", "answered, not redirected");
    assert!(login.text().contains("Web App"), "{}", login.text());
    let form = login.form_with("username", None);
    let req = form
        .fields
        .iter()
        .find(|(n, _)| n == "req")
        .map(|(_, v)| v.clone())
        .expect("the pending request in the form");
    let again = browser.get(&server.url(&format!("/login?req={req}"))).await;
    assert!(again.is_sign_in(), "{}", again.text());
    assert_eq!(again.form_with("req", Some(&req)).action.path(), "/login");

    let page = browser
        .submit(form.set("username", "alice").set("password", PASSWORD))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert_eq!(page.url.path(), "/login", "answered, not redirected");
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    let code = code_from(&done, &started, &server.issuer);
    let tokens = exchange(&rp, code, started.verifier).await;
    assert!(tokens.id_token().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_login_sends_the_code_and_resend_obeys_the_send_period() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("webapp", &[]).await;
    let user = server.user("bob").await;
    // SMS enrolment through the core (the account page has its own tests).
    let sent = server
        .core
        .begin_sms_enrolment(&ctx(), &user, PHONE)
        .await
        .expect("enrol SMS");
    assert_eq!(sent.destination, "+1*****1234");
    server
        .core
        .finish_enrolment(
            &ctx(),
            &user,
            stepgate_core::ProviderType::Sms,
            &server.last_sms_code(PHONE),
        )
        .await
        .expect("finish enrolment");
    server.clock.advance(60);
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &["phone"]);
    let before = server.sms_count();
    let page = password(&browser, started.url.as_str(), "bob", PASSWORD).await;
    let text = page.text();
    assert!(text.contains("we sent to +1*****1234"), "{text}");
    assert!(text.contains("We sent a code to +1*****1234"), "{text}");
    assert_eq!(
        server.sms_count(),
        before + 1,
        "the default SMS provider sent a code"
    );
    // "Resend code" at once: the core's send period refuses it, with its own message.
    let resend = page
        .forms()
        .into_iter()
        .find(|f| {
            f.action.path().ends_with("/login/2fa/send")
                && f.fields.iter().any(|(n, v)| n == "provider" && v == "SMS")
        })
        .expect("a Resend code button");
    let refused = browser.submit(resend.clone()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.text().contains("A code was sent recently"),
        "{}",
        refused.text()
    );
    assert_eq!(server.sms_count(), before + 1);
    server.clock.advance(31);
    let resent = browser.submit(resend).await;
    assert!(
        resent.text().contains("We sent a code to +1*****1234"),
        "{}",
        resent.text()
    );
    assert_eq!(server.sms_count(), before + 2);
    // A wrong code first, then the newest code.
    let wrong = enter_code(&browser, &resent, "000000").await;
    assert!(
        wrong.text().contains("That code is not right"),
        "{}",
        wrong.text()
    );
    let done = enter_code(&browser, &wrong, &server.last_sms_code(PHONE)).await;
    let code = code_from(&done, &started, &server.issuer);
    let tokens = exchange(&rp, code, started.verifier).await;
    let claims = id_claims(&rp, &tokens, &started.nonce);
    assert_eq!(amr(&claims), ["pwd", "sms", "mfa"]);
    assert_eq!(claims.phone_number().map(|p| p.as_str()), Some(PHONE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_code_from_a_real_smtp_server() {
    let sink = stepgate_tests::smtp::SmtpSink::start(None);
    let extra = format!(
        "{}[twofa]\nproviders = [\"TOTP\", \"SMS\", \"EMAIL\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n",
        sink.toml("Stepgate <noreply@example.com>")
    );
    let server = Server::start_with(Backend::Sqlite, &extra).await;
    let secret = server.client("webapp", &[]).await;
    let user = server.user("olga").await;
    let address = "olga.private@example.org";
    server
        .core
        .begin_email_enrolment(&ctx(), &user, address)
        .await
        .expect("enrol email");
    let mail = sink.wait_for(address, 0);
    server
        .core
        .finish_enrolment(
            &ctx(),
            &user,
            stepgate_core::ProviderType::Email,
            &digits_in(&mail.body, 6),
        )
        .await
        .expect("finish enrolment");
    server.clock.advance(60);
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "olga", PASSWORD).await;
    assert!(
        page.text().contains("we sent to o***@example.org by email"),
        "{}",
        page.text()
    );
    let mail = sink.wait_for(address, 1);
    let done = enter_code(&browser, &page, &digits_in(&mail.body, 6)).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    assert_eq!(
        amr(&id_claims(&rp, &tokens, &started.nonce)),
        ["pwd", "otp", "mfa"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_code_through_try_another_way() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("webapp", &[]).await;
    server.totp_user("carol").await;
    let codes = server
        .cli_ok(&["user", "enroll-backup-codes", "carol"], "")
        .await;
    let codes: Vec<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 10);
    assert!(codes
        .iter()
        .all(|c| c.len() == 8 && c.chars().all(|d| d.is_ascii_digit())));
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "carol", PASSWORD).await;
    assert!(page.text().contains("Try another way"), "{}", page.text());
    let (_, link) = page
        .links()
        .into_iter()
        .find(|(_, u)| {
            u.query_pairs()
                .any(|(k, v)| k == "provider" && v == "BACKUP_CODE")
        })
        .expect("a try-another-way link to backup codes");
    let backup = browser.get(link.as_str()).await;
    assert!(
        backup
            .text()
            .contains("Enter one of your 8-digit backup codes"),
        "{}",
        backup.text()
    );
    let done = enter_code(&browser, &backup, codes[0]).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    assert_eq!(
        amr(&id_claims(&rp, &tokens, &started.nonce)),
        ["pwd", "otp", "mfa"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_client_and_unregistered_redirect_show_a_page_and_never_redirect() {
    let server = Server::start(Backend::Sqlite).await;
    server.client("webapp", &[]).await;
    let browser = Browser::new();
    let base = server.url("/authorize?response_type=code&scope=openid&state=s");
    for (query, says) in [
        (
            format!("&client_id=nobody&redirect_uri={REDIRECT_URI}"),
            "not registered",
        ),
        (
            "&client_id=webapp&redirect_uri=https://evil.example/cb".to_string(),
            "redirect_uri is not registered",
        ),
        ("&redirect_uri=x".to_string(), "client_id is missing"),
    ] {
        let page = browser.get(&format!("{base}{query}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(page.location, None, "{query}: never redirect");
        assert!(page.text().contains(says), "{query}: {}", page.text());
    }
    // Once client and redirect are right, errors go back to the client with state and iss.
    let page = browser
        .get(&format!(
            "{}&client_id=webapp&redirect_uri={REDIRECT_URI}&response_type=token",
            server.url("/authorize?scope=openid&state=s")
        ))
        .await;
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(page.redirect_param("state").as_deref(), Some("s"));
    assert_eq!(
        page.redirect_param("iss").as_deref(),
        Some(server.issuer.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_required_for_public_clients_and_enforced_when_sent() {
    let server = Server::start(Backend::Sqlite).await;
    assert_eq!(server.client("spa", &["--public"]).await, None);
    let (_, totp) = server.totp_user("dave").await;
    // A public client without PKCE is refused at the authorization endpoint.
    let browser = Browser::new();
    let page = browser
        .get(&server.url(&format!(
            "/authorize?client_id=spa&redirect_uri={REDIRECT_URI}&response_type=code&scope=openid&state=s"
        )))
        .await;
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
    let page = browser
        .get(&server.url(&format!(
            "/authorize?client_id=spa&redirect_uri={REDIRECT_URI}&response_type=code&scope=openid\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain"
        )))
        .await;
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("invalid_request")
    );

    let (rp, _) = relying_party(&server, "spa", None).await;
    let token_url = server.url("/token");
    for case in ["missing", "wrong", "right"] {
        let started = start(&rp, &[]);
        // The first login signs in; the next ones are answered by the session.
        let done = if case == "missing" {
            let page = password(&browser, started.url.as_str(), "dave", PASSWORD).await;
            enter_code(&browser, &page, &server.totp(&totp)).await
        } else {
            browser.get(started.url.as_str()).await
        };
        let code = code_from(&done, &started, &server.issuer);
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.secret().clone()),
            ("redirect_uri", REDIRECT_URI.to_string()),
            ("client_id", "spa".to_string()),
        ];
        match case {
            "missing" => {}
            "wrong" => form.push((
                "code_verifier",
                PkceCodeChallenge::new_random_sha256().1.secret().clone(),
            )),
            _ => form.push(("code_verifier", started.verifier.secret().clone())),
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = post_form(&token_url, None, &form).await;
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        if case == "right" {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(body["id_token"].is_string());
            assert!(
                body.get("refresh_token").is_none(),
                "no offline_access asked"
            );
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
            assert_eq!(body["error"], "invalid_grant", "{case}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_code_fails_and_revokes_what_it_issued_and_codes_expire() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("webapp", &[]).await.expect("secret");
    let (_, totp) = server.totp_user("erin").await;
    let (rp, _) = relying_party(&server, "webapp", Some(secret.clone())).await;
    let browser = Browser::new();
    let started = start(&rp, &["offline_access"]);
    let page = password(&browser, started.url.as_str(), "erin", PASSWORD).await;
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    let code = code_from(&done, &started, &server.issuer);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", started.verifier.secret().as_str()),
    ];
    let first: Value = post_form(&server.url("/token"), Some(("webapp", &secret)), &form)
        .await
        .json()
        .await
        .expect("json");
    let at = first["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    assert_eq!(userinfo_status(&server, &at).await, StatusCode::OK);
    let second = post_form(&server.url("/token"), Some(("webapp", &secret)), &form).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let body: Value = second.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        userinfo_status(&server, &at).await,
        StatusCode::UNAUTHORIZED
    );
    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let resp = post_form(
        &server.url("/token"),
        Some(("webapp", &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A code lives 60 seconds.
    let started = start(&rp, &[]);
    let page = browser.get(started.url.as_str()).await;
    let code = code_from(&page, &started, &server.issuer);
    server.clock.advance(61);
    let resp = post_form(
        &server.url("/token"),
        Some(("webapp", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", started.verifier.secret()),
        ],
    )
    .await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authentication_is_checked() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server
        .client(
            "svc",
            &["--grant", "client_credentials", "--scope", "api:read"],
        )
        .await
        .expect("secret");
    let form = [("grant_type", "client_credentials")];
    let resp = post_form(&server.url("/token"), Some(("svc", "wrong-secret")), &form).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic")));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    let resp = post_form(&server.url("/token"), Some(("nobody", "x")), &form).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // client_secret_post, and client_credentials itself.
    let resp = post_form(
        &server.url("/token"),
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "svc"),
            ("client_secret", &secret),
            ("scope", "api:read"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["scope"], "api:read");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let at = body["access_token"].as_str().expect("token");
    let info: Value = post_form(
        &server.url("/introspect"),
        Some(("svc", &secret)),
        &[("token", at)],
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], "svc");
    // A scope it was not registered for.
    let resp = post_form(
        &server.url("/token"),
        Some(("svc", &secret)),
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_scope");
    // A grant the client may not use, and a repeated parameter.
    let resp = post_form(
        &server.url("/token"),
        Some(("svc", &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "unauthorized_client");
    let resp = post_form(
        &server.url("/token"),
        Some(("svc", &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    // Rotating the secret from the CLI (another process): the server's clients are remembered
    // for the rest of the second, so the old secret stops working within a second.
    let out = server.cli_ok(&["client", "rotate-secret", "svc"], "").await;
    let new_secret = out.split_whitespace().last().expect("secret").to_string();
    server.clock.advance(1);
    let resp = post_form(&server.url("/token"), Some(("svc", &secret)), &form).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = post_form(&server.url("/token"), Some(("svc", &new_secret)), &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_has_its_own_page_until_an_admin_unlocks() {
    let server = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"BACKUP_CODE\"]\nenforce_two_fa = false\nmax_verification_failures_before_user_lockout = 3\n",
    )
    .await;
    let secret = server.client("webapp", &[]).await;
    let (_, totp) = server.totp_user("frank").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let mut page = password(&browser, started.url.as_str(), "frank", PASSWORD).await;
    page = enter_code(&browser, &page, "000000").await;
    assert!(page.text().contains("2 attempts left"), "{}", page.text());
    page = enter_code(&browser, &page, "000001").await;
    assert!(page.text().contains("1 attempt left"), "{}", page.text());
    page = enter_code(&browser, &page, "000002").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.text().contains("Your account is locked"),
        "{}",
        page.text()
    );
    // The right password does not unlock, and the right code no longer helps.
    let again = start(&rp, &[]);
    let page = password(&browser, again.url.as_str(), "frank", PASSWORD).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.text().contains("This account is locked"),
        "{}",
        page.text()
    );
    server.cli_ok(&["user", "unlock", "frank"], "").await;
    let page = password(&browser, again.url.as_str(), "frank", PASSWORD).await;
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    code_from(&done, &again, &server.issuer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_unknown_users_get_the_same_page() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("webapp", &[]).await;
    server.totp_user("gina").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let wrong = password(&browser, started.url.as_str(), "gina", "not the password").await;
    let unknown = password(&browser, started.url.as_str(), "nobody", "not the password").await;
    assert_eq!(wrong.status, unknown.status);
    assert!(wrong.text().contains("Invalid username or password."));
    assert_eq!(
        wrong.text().replace("gina", "X"),
        unknown.text().replace("nobody", "X")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_requirements_without_an_enrolled_factor() {
    let server = Server::start(Backend::Sqlite).await;
    let plain = server.client("plain", &[]).await;
    let strict = server.client("strict", &["--require-2fa"]).await;
    server.user("hank").await;
    let browser = Browser::new();
    // No second factor and none required: the password alone, and the tokens say so.
    let (rp, _) = relying_party(&server, "plain", plain).await;
    let started = start(&rp, &[]);
    let done = password(&browser, started.url.as_str(), "hank", PASSWORD).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    let claims = id_claims(&rp, &tokens, &started.nonce);
    assert_eq!(amr(&claims), ["pwd"]);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:stepgate:acr:pwd")
    );
    // A client that requires 2FA: the password-only session is not enough...
    let (rp, _) = relying_party(&server, "strict", strict).await;
    let started = start(&rp, &[]);
    let page = browser.get(started.url.as_str()).await;
    assert!(page.is_sign_in(), "a new login is needed");
    let page = browser
        .submit(
            page.form_with("username", None)
                .set("username", "hank")
                .set("password", PASSWORD),
        )
        .await;
    // ... and the user is sent to enrolment instead (tests/e2e/account.rs follows it through).
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.url.path().ends_with("/account/security"),
        "{}",
        page.url
    );
    assert!(
        page.text().contains("Set up two-factor authentication"),
        "{}",
        page.text()
    );
    // acr_values asks for the same on a plain client.
    let (rp, _) = relying_party(&server, "plain", None).await;
    let started = start(&rp, &[]);
    let page = browser
        .get(&format!(
            "{}&acr_values=urn%3Astepgate%3Aacr%3A2fa",
            started.url
        ))
        .await;
    assert!(page.is_sign_in(), "{}", page.url);
    // Platform enforcement (enforceTwoFa) comes from the core: MustEnrol.
    let enforced = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"BACKUP_CODE\"]\nenforce_two_fa = true\n",
    )
    .await;
    let secret = enforced.client("plain", &[]).await;
    enforced.user("ivy").await;
    let (rp, _) = relying_party(&enforced, "plain", secret).await;
    let started = start(&rp, &[]);
    let page = password(&Browser::new(), started.url.as_str(), "ivy", PASSWORD).await;
    assert!(
        page.url.path().ends_with("/account/security"),
        "{}",
        page.url
    );
    assert!(page.text().contains("Set up two-factor authentication"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_csrf_token_and_pages_send_security_headers() {
    let server = Server::start(Backend::Sqlite).await;
    let browser = Browser::new();
    let login = browser.get(&server.url("/login")).await;
    assert_eq!(login.status, StatusCode::OK);
    let h = &login.headers;
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .find(|c| c.starts_with("stepgate_csrf="))
        .expect("csrf cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let form = login
        .form_with("username", None)
        .set("username", "x")
        .set("password", "y")
        .set("csrf", "forged");
    let page = browser.submit(form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text().contains("This form has expired"));
    // A browser without the cookie cannot use another's token either.
    let other = Browser::new();
    let form = login
        .form_with("username", None)
        .set("username", "x")
        .set("password", "y");
    assert_eq!(other.submit(form).await.status, StatusCode::FORBIDDEN);
}

/// The JWKS once it has `n` keys; the server reads the key table at most once a second, so a
/// change made by another process shows within that (waits up to 5 s, then returns what it has).
async fn jwks_with(http: &reqwest::Client, server: &Server, n: usize) -> Value {
    let mut last = Value::Null;
    for _ in 0..50 {
        last = http
            .get(server.url("/jwks"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        if last["keys"].as_array().map(Vec::len) == Some(n) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_signing_key_signs_only_after_every_instance_can_publish_it() {
    use stepgate_idp::store::clients::SigningAlg;
    let server = Server::start(Backend::Sqlite).await;
    let http = rp_http();
    let keys = server.app.state().keys.clone();
    let before = keys
        .active(SigningAlg::Es256)
        .await
        .expect("active")
        .kid
        .clone();
    let fresh = keys.rotate(86_400).await.expect("rotate");
    let new_kid = fresh
        .iter()
        .find(|(alg, _)| *alg == SigningAlg::Es256)
        .map(|(_, kid)| kid.clone())
        .expect("a new ES256 key");
    // The rotating instance publishes the new key at once...
    let jwks = jwks_with(&http, &server, 4).await;
    assert!(jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k["kid"] == new_kid.as_str()));
    // ...but keeps signing with the old one until every instance's JWKS has the new key.
    let signing = keys.active(SigningAlg::Es256).await.expect("active");
    assert_eq!(signing.kid, before);
    server.clock.advance(3);
    let signing = keys.active(SigningAlg::Es256).await.expect("active");
    assert_eq!(signing.kid, new_kid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_key_rotation() {
    let server = Server::start(Backend::Sqlite).await;
    let http = rp_http();
    for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let resp = http.get(server.url(path)).send().await.expect("GET");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.expect("text").contains(want));
    }
    let jwks = jwks_with(&http, &server, 2).await;
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_string())
        .collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert!(jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k["alg"] == "ES256"));
    assert!(jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .any(|k| k["alg"] == "RS256"));
    let out = server.cli_ok(&["keys", "rotate"], "").await;
    assert_eq!(out.lines().count(), 2, "{out}");
    // Another process rotated: the server publishes the new keys within a second.
    let jwks = jwks_with(&http, &server, 4).await;
    let after: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(after.len(), 4, "old keys stay published: {jwks}");
    assert!(kids.iter().all(|k| after.contains(&k.as_str())));
    // Retired keys leave the JWKS once expired and purged; the active ones stay.
    stepgate_idp::store::purge_expired(server.core.db(), server.now() + 2 * 86_400)
        .await
        .expect("purge");
    let jwks = jwks_with(&http, &server, 2).await;
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2, "{jwks}");
    // Browser apps may call the token endpoint from another origin (CORS, no cookies).
    let preflight = http
        .request(reqwest::Method::OPTIONS, server.url("/token"))
        .header("origin", "https://spa.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("stepgate_http_requests_total"),
        "{metrics}"
    );
}

/// Two instances on one PostgreSQL: the login starts on A (authorize, password) and finishes
/// on B (second factor, code, tokens); the tokens verify against either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_started_on_one_instance_finishes_on_another() {
    if stepgate_tests::postgres::skip(concat!(
        module_path!(),
        "::a_login_started_on_one_instance_finishes_on_another"
    )) {
        return;
    }
    let a = Server::start(Backend::Postgres).await;
    let b = a.second_instance().await;
    let secret = a.client("webapp", &[]).await;
    let (_, totp) = a.totp_user("jane").await;
    let (rp, _) = relying_party(&a, "webapp", secret.clone()).await;
    let browser = Browser::new();
    let started = start(&rp, &["offline_access"]);
    let login = browser.get(started.url.as_str()).await;
    let form = login
        .form_with("username", None)
        .set("username", "jane")
        .set("password", PASSWORD);
    // The password goes to A …
    let page = browser.submit(form).await;
    assert!(page.url.as_str().starts_with(&a.base), "{}", page.url);
    // … and the code to B.
    let mut form = page.form_with("code", None).set("code", &a.totp(&totp));
    let path = form.action.path().to_string();
    form.action = Url::parse(&b.url(&path)).expect("url");
    let done = browser.submit(form).await;
    let code = code_from(&done, &started, &a.issuer);
    // Exchanged at B, refreshed at A.
    let secret = secret.expect("secret");
    let resp = post_form(
        &b.url("/token"),
        Some(("webapp", &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", started.verifier.secret()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    let at = body["access_token"].as_str().expect("at");
    assert_eq!(userinfo_status(&a, at).await, StatusCode::OK);
    assert_eq!(userinfo_status(&b, at).await, StatusCode::OK);
    let refreshed = post_form(
        &a.url("/token"),
        Some(("webapp", &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().expect("rt")),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    stepgate_idp::store::purge_expired(a.core.db(), a.now())
        .await
        .expect("purge on PostgreSQL");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_of_the_core_has_its_own_message() {
    let server = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n\
         verification_code_check_rate_limit = \"2:900\"\n\
         total_allowed_time_for_verification = 60\n",
    )
    .await;
    let secret = server.client("webapp", &[]).await;
    let (user, totp) = server.totp_user("kate").await;
    let (rp, _) = relying_party(&server, "webapp", secret).await;

    // Rate limit: the third check within the window is refused without being counted.
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let mut page = password(&browser, started.url.as_str(), "kate", PASSWORD).await;
    for wrong in ["000000", "000001"] {
        page = enter_code(&browser, &page, wrong).await;
        assert!(
            page.text().contains("That code is not right"),
            "{}",
            page.text()
        );
    }
    let limited = enter_code(&browser, &page, &server.totp(&totp)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.text().contains("Too many attempts. Wait"),
        "{}",
        limited.text()
    );
    server.cli_ok(&["user", "unlock", "kate"], "").await;

    // Expiry: the time allowed for the second factor runs out.
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "kate", PASSWORD).await;
    server.clock.advance(61);
    let expired = enter_code(&browser, &page, &server.totp(&totp)).await;
    assert!(
        expired
            .text()
            .contains("The time allowed for verification has run out"),
        "{}",
        expired.text()
    );
    assert!(expired
        .forms()
        .iter()
        .all(|f| !f.fields.iter().any(|(n, _)| n == "code")));

    // Send failure: the SMS sender cannot deliver; nothing is spent, another way is offered.
    let sent = server
        .core
        .begin_sms_enrolment(&ctx(), &user, PHONE)
        .await
        .expect("enrol SMS");
    assert_eq!(sent.destination, "+1*****1234");
    server
        .core
        .finish_enrolment(
            &ctx(),
            &user,
            stepgate_core::ProviderType::Sms,
            &server.last_sms_code(PHONE),
        )
        .await
        .expect("finish enrolment");
    let log = server.dir.path().join("sms.log");
    std::fs::remove_file(&log).expect("remove the sink");
    std::fs::create_dir(&log).expect("a directory where the sink writes");
    server.clock.advance(60);
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&browser, started.url.as_str(), "kate", PASSWORD).await;
    let sms = page
        .forms()
        .into_iter()
        .find(|f| f.fields.iter().any(|(n, v)| n == "provider" && v == "SMS"))
        .expect("try another way: SMS");
    let failed = browser.submit(sms).await;
    assert!(
        failed.text().contains("We could not send the code"),
        "{}",
        failed.text()
    );
    assert!(
        failed.text().contains("Use your authenticator app"),
        "{}",
        failed.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_id_tokens_for_clients_that_ask() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("legacy", &["--id-token-alg", "RS256"]).await;
    server.user("liam").await;
    let (rp, _) = relying_party(&server, "legacy", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let done = password(&browser, started.url.as_str(), "liam", PASSWORD).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    // openidconnect's default verifier accepts RS256 only.
    let claims = tokens
        .id_token()
        .expect("id token")
        .claims(&rp.id_token_verifier(), &started.nonce)
        .expect("an RS256 ID token");
    assert_eq!(claims.preferred_username(), None, "no profile scope asked");
}

async fn count(server: &Server, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(server.core.db().pool())
        .await
        .expect("count");
    n
}

/// A code or refresh token presented by another client is `invalid_grant` and changes nothing:
/// its own client redeems it afterwards, and nothing it issued is revoked.
async fn another_clients_code_changes_nothing(backend: Backend) {
    let server = Server::start(backend).await;
    let secret_a = server.client("app-a", &[]).await.expect("secret");
    let secret_b = server.client("app-b", &[]).await.expect("secret");
    let (_, totp) = server.totp_user("olga").await;
    let (rp, _) = relying_party(&server, "app-a", Some(secret_a.clone())).await;
    let browser = Browser::new();
    let started = start(&rp, &["offline_access"]);
    let page = password(&browser, started.url.as_str(), "olga", PASSWORD).await;
    let done = enter_code(&browser, &page, &server.totp(&totp)).await;
    let code = code_from(&done, &started, &server.issuer);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.secret().as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", started.verifier.secret().as_str()),
    ];
    let token = server.url("/token");
    for _ in 0..2 {
        let resp = post_form(&token, Some(("app-b", &secret_b)), &form).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    let resp = post_form(&token, Some(("app-a", &secret_a)), &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let first: Value = resp.json().await.expect("json");
    let at = first["access_token"].as_str().expect("access token");
    assert_eq!(userinfo_status(&server, at).await, StatusCode::OK);

    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    for _ in 0..2 {
        let resp = post_form(&token, Some(("app-b", &secret_b)), &form).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    assert_eq!(userinfo_status(&server, at).await, StatusCode::OK);
    let resp = post_form(&token, Some(("app-a", &secret_a)), &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let refreshed: Value = resp.json().await.expect("json");
    let at2 = refreshed["access_token"].as_str().expect("access token");
    assert_eq!(userinfo_status(&server, at2).await, StatusCode::OK);
    assert_eq!(userinfo_status(&server, at).await, StatusCode::OK);
    let reuse = count(
        &server,
        "SELECT COUNT(*) FROM audit_events WHERE event = 'token_reuse_detected'",
    )
    .await;
    assert_eq!(reuse, 0, "another client's code is no reuse");
    server.stop().await;
}

both_backends!(another_clients_code_changes_nothing);

/// The token endpoint's answer for a code the browser brought back from `started`.
async fn tokens_for(
    server: &Server,
    page: &Page,
    started: &Started,
    client: (&str, &str),
) -> Value {
    let code = code_from(page, started, &server.issuer);
    let resp = post_form(
        &server.url("/token"),
        Some(client),
        &[
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", started.verifier.secret()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

/// `started`'s authorization URL with more parameters.
fn with_params(started: &Started, extra: &[(&str, &str)]) -> String {
    let mut url = started.url.clone();
    url.query_pairs_mut().extend_pairs(extra);
    url.to_string()
}

/// `id_token_hint` (OIDC Core §3.1.2.1): a session answers only for the user the hint names;
/// a hint that is not an ID token issued here to this client is `invalid_request`.
async fn id_token_hint_is_verified(backend: Backend) {
    let server = Server::start(backend).await;
    let secret_a = server.client("app-a", &[]).await.expect("secret");
    let secret_b = server.client("app-b", &[]).await.expect("secret");
    let (_, alice_totp) = server.totp_user("alice").await;
    let (_, bob_totp) = server.totp_user("bob").await;
    let (rp, _) = relying_party(&server, "app-a", Some(secret_a.clone())).await;
    let (rp_b, _) = relying_party(&server, "app-b", Some(secret_b.clone())).await;

    let bob = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&bob, started.url.as_str(), "bob", PASSWORD).await;
    let done = enter_code(&bob, &page, &server.totp(&bob_totp)).await;
    let bob_tokens = tokens_for(&server, &done, &started, ("app-a", &secret_a)).await;
    let bob_hint = bob_tokens["id_token"].as_str().expect("id token");

    let alice = Browser::new();
    let started = start(&rp, &[]);
    let page = password(&alice, started.url.as_str(), "alice", PASSWORD).await;
    let done = enter_code(&alice, &page, &server.totp(&alice_totp)).await;
    let alice_tokens = tokens_for(&server, &done, &started, ("app-a", &secret_a)).await;
    let alice_hint = alice_tokens["id_token"].as_str().expect("id token");
    let started = start(&rp_b, &[]);
    let done = alice.get(started.url.as_str()).await;
    let alice_at_b = tokens_for(&server, &done, &started, ("app-b", &secret_b)).await;

    // Alice's session, bob's hint: login_required, or the sign-in form without prompt=none.
    let started = start(&rp, &[]);
    let url = with_params(&started, &[("prompt", "none"), ("id_token_hint", bob_hint)]);
    let page = alice.get(&url).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(page.redirect_param("code"), None);
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    let url = with_params(&started, &[("id_token_hint", bob_hint)]);
    let page = alice.get(&url).await;
    assert!(page.is_sign_in(), "{} {}", page.status, page.text());

    // Her own hint: a code, even once the ID token has expired.
    let started = start(&rp, &[]);
    let url = with_params(
        &started,
        &[("prompt", "none"), ("id_token_hint", alice_hint)],
    );
    code_from(&alice.get(&url).await, &started, &server.issuer);
    server.clock.advance(601);
    let started = start(&rp, &[]);
    let url = with_params(
        &started,
        &[("prompt", "none"), ("id_token_hint", alice_hint)],
    );
    code_from(&alice.get(&url).await, &started, &server.issuer);

    // Not an ID token issued here to this client: garbage, an access token, another audience.
    let other_audience = alice_at_b["id_token"].as_str().expect("id token");
    let access_token = alice_tokens["access_token"].as_str().expect("access token");
    for hint in ["not-a-jwt", "a.b.c", access_token, other_audience] {
        let started = start(&rp, &[]);
        let url = with_params(&started, &[("prompt", "none"), ("id_token_hint", hint)]);
        let page = alice.get(&url).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some("invalid_request"),
            "{hint}"
        );
        assert_eq!(page.redirect_param("code"), None);
    }
    server.stop().await;
}

both_backends!(id_token_hint_is_verified);

/// Anonymous `/authorize` requests are stored only up to a bound per client and address;
/// beyond it the client hears `temporarily_unavailable`, and expired requests stop counting
/// and are purged.
async fn pending_requests_are_bounded(backend: Backend) {
    use stepgate_idp::store::requests::PENDING_PER_ADDRESS;
    let server = Server::start(backend).await;
    let secret_a = server.client("app-a", &[]).await;
    let secret_b = server.client("app-b", &[]).await;
    let (rp, _) = relying_party(&server, "app-a", secret_a).await;
    let (rp_b, _) = relying_party(&server, "app-b", secret_b).await;
    let http = rp_http();
    for i in 0..PENDING_PER_ADDRESS {
        let started = start(&rp, &[]);
        let resp = http.get(started.url.as_str()).send().await.expect("GET");
        assert_eq!(resp.status(), StatusCode::OK, "request {i}");
    }
    let started = start(&rp, &[]);
    let page = Browser::new().get(started.url.as_str()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text());
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(page.redirect_param("iss").as_deref(), Some(&*server.issuer));
    // Another client from the same address has its own bound.
    let page = Browser::new().get(start(&rp_b, &[]).url.as_str()).await;
    assert!(page.is_sign_in(), "{} {}", page.status, page.text());

    // An hour later the requests have expired: they no longer count, and the purge removes them.
    server
        .clock
        .advance(stepgate_idp::state::AUTH_REQUEST_LIFETIME + 1);
    let page = Browser::new().get(start(&rp, &[]).url.as_str()).await;
    assert!(page.is_sign_in(), "{} {}", page.status, page.text());
    stepgate_idp::store::purge_expired(server.core.db(), server.now())
        .await
        .expect("purge");
    let left = count(&server, "SELECT COUNT(*) FROM oidc_auth_requests").await;
    assert_eq!(left, 1, "only the live request is left");
    server.stop().await;
}

both_backends!(pending_requests_are_bounded);
