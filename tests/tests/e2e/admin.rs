//! The admin console (`/admin`) end to end: only administrators get in, every settings field
//! is validated by the core (a refused form changes nothing), and the user, client, audit and
//! test-message pages do what they say.

use crate::account::{real_forms, signed_in, text_of};
use crate::support::*;
use reqwest::StatusCode;
use stepgate_core::users::{NewUser, Role};

/// An administrator with password [`PASSWORD`].
pub async fn admin_user(server: &Server, name: &str) -> stepgate_core::users::User {
    let new = NewUser {
        role: Role::Admin,
        ..stepgate_tests::fixtures::new_user(name)
    };
    stepgate_tests::fixtures::create_user(&server.core, &ctx(), new).await
}

fn form_to(page: &Page, path: &str) -> Form {
    real_forms(page)
        .into_iter()
        .find(|f| f.action.path() == path && f.method == "post")
        .unwrap_or_else(|| panic!("no form posting to {path}: {}", page.text()))
}

fn action(page: &Page, path: &str, name: &str) -> Form {
    real_forms(page)
        .into_iter()
        .find(|f| {
            f.action.path() == path && f.fields.iter().any(|(n, v)| n == "action" && v == name)
        })
        .unwrap_or_else(|| panic!("no {name} form at {path}: {}", page.text()))
}

pub async fn admin_browser(server: &Server) -> Browser {
    admin_user(server, "root-admin").await;
    let browser = Browser::new();
    signed_in(server, &browser, "root-admin", PASSWORD).await;
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_get_in() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("norm").await;
    let anonymous = Browser::new();
    let page = anonymous.get(&server.url("/admin")).await;
    assert!(page.url.path().ends_with("/login"), "{}", page.url);
    let browser = Browser::new();
    let account = signed_in(&server, &browser, "norm", PASSWORD).await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/clients",
        "/admin/audit",
        "/admin/users/norm",
    ] {
        let page = browser.get(&server.url(path)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.text().contains("Administrators only"));
    }
    // A forged POST with this browser's valid CSRF token is refused too, and changes nothing.
    let csrf = account
        .form_with("csrf", None)
        .fields
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .expect("csrf");
    let before = server.core.twofa_settings().await.expect("settings");
    let resp = browser
        .http
        .post(server.url("/admin/settings"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("TOTP.enabled", "on"),
            ("TOTP.issuerName", "Evil"),
            ("minVerificationCodeSendPeriod", "30"),
            ("maxVerificationFailuresBeforeUserLockout", "0"),
            ("totalAllowedTimeForVerification", "3600"),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_by_the_core_and_a_refusal_changes_nothing() {
    let server = Server::start(Backend::Sqlite).await;
    let browser = admin_browser(&server).await;
    let page = browser.get(&server.url("/admin")).await;
    assert_eq!(page.status, StatusCode::OK);
    for name in [
        "TOTP.issuerName",
        "SMS.smsVerificationMessageTemplate",
        "SMS.verificationCodeLifetime",
        "EMAIL.verificationCodeLifetime",
        "BACKUP_CODE.codesQuantity",
        "minVerificationCodeSendPeriod",
        "verificationCodeCheckRateLimit",
        "maxVerificationFailuresBeforeUserLockout",
        "totalAllowedTimeForVerification",
        "enforcedUsersFilter",
    ] {
        assert!(page.body.contains(&format!("name=\"{name}\"")), "{name}");
    }
    let before = server.core.twofa_settings().await.expect("settings");
    let cases = [
        (
            "totalAllowedTimeForVerification",
            "5",
            "totalAllowedTimeForVerification",
        ),
        (
            "minVerificationCodeSendPeriod",
            "many",
            "minVerificationCodeSendPeriod",
        ),
        (
            "verificationCodeCheckRateLimit",
            "3 per minute",
            "verificationCodeCheckRateLimit",
        ),
        (
            "SMS.smsVerificationMessageTemplate",
            "no code here",
            "SMS-smsVerificationMessageTemplate",
        ),
        ("TOTP.issuerName", "a:b", "TOTP-issuerName"),
        (
            "BACKUP_CODE.codesQuantity",
            "0",
            "BACKUP_CODE-codesQuantity",
        ),
    ];
    for (name, value, id) in cases {
        let refused = browser
            .submit(form_to(&page, "/admin/settings").set(name, value))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            refused.text()
        );
        assert!(
            text_of(&refused, &format!("#{id}-error")).is_some(),
            "{name}: error at the field: {}",
            refused.text()
        );
        // The field is described by its help line and by the error.
        assert!(refused
            .body
            .contains(&format!("aria-describedby=\"{id}-help {id}-error\"")));
        assert_eq!(
            server.core.twofa_settings().await.expect("settings"),
            before,
            "{name}"
        );
    }
    // EMAIL needs a mail service, which this server has not.
    let refused = browser
        .submit(form_to(&page, "/admin/settings").set("EMAIL.enabled", "on"))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&refused, "#providers-error")
        .expect("error")
        .contains("Mail service is not set up"));
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        before
    );
    // A good change is saved.
    let saved = browser
        .submit(
            form_to(&page, "/admin/settings").set("maxVerificationFailuresBeforeUserLockout", "3"),
        )
        .await;
    assert!(saved.text().contains("Settings saved."), "{}", saved.text());
    let after = server.core.twofa_settings().await.expect("settings");
    assert_eq!(
        after
            .max_verification_failures_before_user_lockout
            .failures(),
        3
    );
    assert_eq!(after.providers, before.providers);
}

/// The core's refusals reach a German administrator in German, with the values they name: a
/// group name that is taken (a conflict) and settings the core refuses; the API and the
/// command line still say them in English.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_is_refused_in_the_readers_language() {
    let server = Server::start(Backend::Sqlite).await;
    admin_user(&server, "chefin").await;
    let browser = Browser::speaking("de-DE,de;q=0.9,en;q=0.5");
    signed_in(&server, &browser, "chefin", PASSWORD).await;

    let page = browser.get(&server.url("/admin/groups")).await;
    let made = browser
        .submit(form_to(&page, "/admin/groups").set("name", "ops"))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let taken = browser
        .submit(form_to(&page, "/admin/groups").set("name", "ops"))
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(
        text_of(&taken, "#new-name-error").as_deref(),
        Some("Es gibt bereits eine Gruppe namens „ops“."),
        "{}",
        taken.text()
    );
    let english = server
        .core
        .create_group(&ctx(), None, "ops")
        .await
        .expect_err("taken");
    assert_eq!(english.to_string(), "a group named \"ops\" already exists");

    let page = browser.get(&server.url("/admin")).await;
    let before = server.core.twofa_settings().await.expect("settings");
    let cases = [
        (
            "verificationCodeCheckRateLimit",
            "3 pro Minute",
            "verificationCodeCheckRateLimit",
            "„3 pro Minute“ hat nicht die Form N:S (höchstens N Prüfungen in S Sekunden).",
        ),
        (
            "BACKUP_CODE.codesQuantity",
            "0",
            "BACKUP_CODE-codesQuantity",
            "Geben Sie eine Zahl von 1 bis 100 an.",
        ),
        (
            "EMAIL.enabled",
            "on",
            "providers",
            "Der Mail-Versand ist nicht eingerichtet: Konfigurieren Sie [smtp], bevor Sie EMAIL \
             einschalten.",
        ),
    ];
    for (name, value, id, german) in cases {
        let refused = browser
            .submit(form_to(&page, "/admin/settings").set(name, value))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(
            text_of(&refused, &format!("#{id}-error")).as_deref(),
            Some(german),
            "{}",
            refused.text()
        );
    }
    assert_eq!(
        server.core.twofa_settings().await.expect("settings"),
        before
    );
}

both_backends!(a_locked_user_is_unlocked_and_users_are_managed);

async fn a_locked_user_is_unlocked_and_users_are_managed(backend: Backend) {
    let server = Server::start(backend).await;
    let browser = admin_browser(&server).await;
    let page = browser.get(&server.url("/admin")).await;
    browser
        .submit(
            form_to(&page, "/admin/settings").set("maxVerificationFailuresBeforeUserLockout", "2"),
        )
        .await;
    let (user, _) = server.totp_user("lara").await;
    // Two wrong codes lock her.
    let victim = Browser::new();
    let login = victim.get(&server.url("/login")).await;
    let mut challenge = victim
        .submit(
            login
                .form_with("username", None)
                .set("username", "lara")
                .set("password", PASSWORD),
        )
        .await;
    for _ in 0..2 {
        challenge = victim
            .submit(challenge.form_with("code", None).set("code", "000000"))
            .await;
    }
    assert!(challenge.text().contains("locked"), "{}", challenge.text());
    let page = browser.get(&server.url("/admin/users/lara")).await;
    assert!(
        text_of(&page, "#state")
            .unwrap_or_else(|| panic!("{}", page.text()))
            .starts_with("locked"),
        "{}",
        page.text()
    );
    // Providers are named as people say them.
    assert!(text_of(&page, "#factors")
        .expect("factors")
        .contains("Authenticator app"));
    let page = browser
        .submit(action(&page, "/admin/users/lara", "unlock"))
        .await;
    assert!(
        page.text().contains("The user is unlocked."),
        "{}",
        page.text()
    );
    assert_eq!(text_of(&page, "#state").as_deref(), Some("active"));
    assert!(
        !server
            .core
            .user_by_id(&user.id)
            .await
            .expect("db")
            .expect("user")
            .locked
    );
    // Disable, enable, role, reset.
    let page = browser
        .submit(action(&page, "/admin/users/lara", "disable"))
        .await;
    assert_eq!(text_of(&page, "#state").as_deref(), Some("disabled"));
    let page = browser
        .submit(action(&page, "/admin/users/lara", "enable"))
        .await;
    assert_eq!(text_of(&page, "#state").as_deref(), Some("active"));
    let page = browser
        .submit(action(&page, "/admin/users/lara", "role").set("role", "ADMIN"))
        .await;
    assert_eq!(text_of(&page, "#role").as_deref(), Some("Administrator"));
    let bad = browser
        .submit(action(&page, "/admin/users/lara", "role").set("role", "GOD"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#role-error").is_some());
    let page = browser
        .submit(action(&bad, "/admin/users/lara", "reset"))
        .await;
    assert!(
        page.text().contains("second factors are reset"),
        "{}",
        page.text()
    );
    assert!(server
        .core
        .enrolled_providers(&user.id)
        .await
        .expect("db")
        .is_empty());
    // Search and create.
    let list = browser.get(&server.url("/admin/users?q=lar")).await;
    assert!(list.text().contains("lara"));
    assert!(!list.text().contains("root-admin"));
    let bad = browser
        .submit(
            form_to(&list, "/admin/users")
                .set("username", "-bad")
                .set("email", "x@example.com")
                .set("password", "long enough password"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&bad, "#new-username-error").is_some(),
        "{}",
        bad.text()
    );
    assert!(server
        .core
        .user_by_username("-bad")
        .await
        .expect("db")
        .is_none());
    let made = browser
        .submit(
            form_to(&bad, "/admin/users")
                .set("username", "mika")
                .set("email", "mika@example.com")
                .set("password", "long enough password"),
        )
        .await;
    assert!(
        made.text().contains("The user was created."),
        "{}",
        made.text()
    );
    signed_in(&server, &Browser::new(), "mika", "long enough password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_registered_edited_rotated_and_deleted() {
    let server = Server::start(Backend::Sqlite).await;
    let browser = admin_browser(&server).await;
    let page = browser.get(&server.url("/admin/clients")).await;
    let bad = browser
        .submit(
            form_to(&page, "/admin/clients")
                .set("client_id", "shop")
                .set("redirect_uris", "http://shop.example.com/cb"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&bad, "#new-redirect_uri-error").is_some(),
        "{}",
        bad.text()
    );
    let db = server.core.db();
    assert!(stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .is_none());
    let made = browser
        .submit(
            form_to(&bad, "/admin/clients")
                .set("client_id", "shop")
                .set("redirect_uris", REDIRECT_URI),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let secret = text_of(&made, "#client-secret").expect("the secret, once");
    let stored = stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .expect("client");
    assert!(stepgate_idp::crypto::verify_token(
        &secret,
        stored.secret_hash.as_deref().expect("hash")
    ));
    let again = browser.get(&server.url("/admin/clients")).await;
    assert!(!again.body.contains(&secret), "shown once");
    // Edit: a bad URI changes nothing; a good one and the 2FA flag are saved.
    let bad = browser
        .submit(
            action(&again, "/admin/clients/shop", "update").set("redirect_uris", "javascript:x"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&bad, "#shop-redirect_uri-error").is_some(),
        "{}",
        bad.text()
    );
    let now = stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .expect("client");
    assert_eq!(now.redirect_uris, [REDIRECT_URI]);
    let saved = browser
        .submit(
            action(&bad, "/admin/clients/shop", "update")
                .set("redirect_uris", "https://shop.example.com/cb")
                .set("require_2fa", "on"),
        )
        .await;
    assert!(saved.text().contains("was saved"), "{}", saved.text());
    let now = stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .expect("client");
    assert_eq!(now.redirect_uris, ["https://shop.example.com/cb"]);
    assert!(now.require_2fa);
    let rotated = browser
        .submit(action(&saved, "/admin/clients/shop", "rotate"))
        .await;
    let new_secret = text_of(&rotated, "#client-secret").expect("new secret");
    assert_ne!(new_secret, secret);
    let now = stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .expect("client");
    assert!(!stepgate_idp::crypto::verify_token(
        &secret,
        now.secret_hash.as_deref().expect("hash")
    ));
    let gone = browser
        .submit(action(&rotated, "/admin/clients/shop", "delete"))
        .await;
    assert!(gone.text().contains("was deleted"));
    assert!(stepgate_idp::store::clients::get(db, "shop")
        .await
        .expect("db")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_filters_and_pages() {
    let server = Server::start(Backend::Sqlite).await;
    let browser = admin_browser(&server).await;
    for i in 0..55 {
        server.user(&format!("u{i:02}")).await;
    }
    let page = browser
        .get(&server.url("/admin/audit?event=user_created"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let rows = |p: &Page| p.body.matches("<td data-event=\"user_created\">").count();
    assert_eq!(rows(&page), 50, "one page");
    let older = page
        .links()
        .into_iter()
        .find(|(t, _)| t == "Older events")
        .expect("a next page")
        .1;
    let page2 = browser.get(older.as_str()).await;
    // 55 users + the admin = 56 creations.
    assert_eq!(rows(&page2), 6, "{}", page2.text());
    assert!(!page2.links().iter().any(|(t, _)| t == "Older events"));
    let one = browser.get(&server.url("/admin/audit?user=u07")).await;
    assert_eq!(rows(&one), 1);
    let bad = browser
        .get(&server.url("/admin/audit?since=yesterday"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#filter-since-error").is_some());
    let future = browser
        .get(&server.url("/admin/audit?since=2999-01-01"))
        .await;
    assert!(future.text().contains("No events match."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_buttons_send_through_the_real_senders() {
    let sink = stepgate_tests::smtp::SmtpSink::start(None);
    let server = Server::start_with(
        Backend::Sqlite,
        &sink.toml("Stepgate <noreply@example.com>"),
    )
    .await;
    let browser = admin_browser(&server).await;
    let page = browser.get(&server.url("/admin")).await;
    let sent = browser
        .submit(form_to(&page, "/admin/test/sms").set("to", "+15550001111"))
        .await;
    assert!(
        sent.text().contains("A test SMS was sent to +15550001111."),
        "{}",
        sent.text()
    );
    assert_eq!(server.sms_count(), 1);
    let bad = browser
        .submit(form_to(&sent, "/admin/test/sms").set("to", "12"))
        .await;
    assert!(text_of(&bad, "#test-sms-error").is_some());
    assert_eq!(server.sms_count(), 1);
    let mailed = browser
        .submit(form_to(&bad, "/admin/test/email").set("to", "ops@example.org"))
        .await;
    assert!(
        mailed
            .text()
            .contains("A test email was sent to ops@example.org."),
        "{}",
        mailed.text()
    );
    let mail = sink.wait_for("ops@example.org", 0);
    assert!(mail.body.contains("test message from Stepgate"));
}

/// Issue 15, item 11: an address the core would refuse for a user is the admin's mistake (400,
/// the form again with the message at the field, nothing sent); only a sender that fails to
/// deliver is a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_buttons_answer_400_for_an_invalid_address_and_502_for_a_failed_delivery() {
    // Nothing listens on these ports: every delivery fails.
    let (mail_port, sms_port) = (stepgate_tests::free_port(), stepgate_tests::free_port());
    let server = Server::start_with(
        Backend::Sqlite,
        &format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {mail_port}\ntls = \"none\"\n\
             from = \"Stepgate <noreply@example.com>\"\ntimeout_seconds = 5\n\
             [sms]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{sms_port}/sms\"\n\
             timeout_seconds = 5\n"
        ),
    )
    .await;
    let browser = admin_browser(&server).await;
    let page = browser.get(&server.url("/admin")).await;
    for (path, to, error) in [
        ("/admin/test/email", "not an address", "#test-email-error"),
        ("/admin/test/email", "ops@", "#test-email-error"),
        ("/admin/test/sms", "12", "#test-sms-error"),
        ("/admin/test/sms", "+1 555 000 1111", "#test-sms-error"),
    ] {
        let bad = browser.submit(form_to(&page, path).set("to", to)).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{path} {to:?}");
        let message = text_of(&bad, error).unwrap_or_else(|| panic!("{}", bad.text()));
        assert!(
            message.contains("Not an email address") || message.contains("Not a phone number"),
            "{message}"
        );
        // The form is shown again, ready for a corrected address.
        form_to(&bad, path);
    }
    for (path, to, error) in [
        ("/admin/test/email", "ops@example.org", "#test-email-error"),
        ("/admin/test/sms", "+15550001111", "#test-sms-error"),
    ] {
        let failed = browser.submit(form_to(&page, path).set("to", to)).await;
        assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{path} {to:?}");
        let message = text_of(&failed, error).unwrap_or_else(|| panic!("{}", failed.text()));
        assert!(message.contains("Sending failed"), "{message}");
    }
}
