//! The account security page (`/account/security`) end to end, through the browser helper:
//! each second-factor rule the page shows is checked here through the page, and
//! the core's state is read back to prove a refused form changed nothing.

use crate::oidc::{code_from, exchange, id_claims, start};
use crate::support::*;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use stepgate_core::ProviderType;

/// Signs in at `/login` directly (no application) and opens the account page.
pub async fn signed_in(server: &Server, browser: &Browser, username: &str, password: &str) -> Page {
    let login = browser.get(&server.url("/login")).await;
    let home = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", username)
                .set("password", password),
        )
        .await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text());
    // The signed-in page links to the account's security page in every language.
    assert!(home.body.contains("/account/security"), "{}", home.text());
    browser.get(&server.url("/account/security")).await
}

/// The text of the element matching `css`.
pub fn text_of(page: &Page, css: &str) -> Option<String> {
    let doc = Html::parse_document(&page.body);
    let sel = Selector::parse(css).expect("selector");
    doc.select(&sel)
        .next()
        .map(|e| e.text().collect::<String>().trim().to_string())
}

/// The forms of a page with what a browser would submit: unchecked boxes left out, the
/// selected option of each select, the text of each textarea (the shared `Page::forms` reads
/// inputs only).
pub fn real_forms(page: &Page) -> Vec<Form> {
    let doc = Html::parse_document(&page.body);
    let sel = |s: &str| Selector::parse(s).expect("selector");
    doc.select(&sel("form"))
        .map(|f| {
            let mut fields = Vec::new();
            for i in f.select(&sel("input")) {
                let v = i.value();
                let Some(name) = v.attr("name") else { continue };
                let kind = v.attr("type").unwrap_or("text");
                if matches!(kind, "checkbox" | "radio") && v.attr("checked").is_none() {
                    continue;
                }
                let value = v
                    .attr("value")
                    .unwrap_or(if kind == "checkbox" { "on" } else { "" });
                fields.push((name.to_string(), value.to_string()));
            }
            for s in f.select(&sel("select")) {
                let Some(name) = s.value().attr("name") else {
                    continue;
                };
                let options: Vec<_> = s.select(&sel("option")).collect();
                let chosen = options
                    .iter()
                    .find(|o| o.value().attr("selected").is_some())
                    .or(options.first());
                if let Some(o) = chosen {
                    fields.push((
                        name.to_string(),
                        o.value().attr("value").unwrap_or("").to_string(),
                    ));
                }
            }
            for t in f.select(&sel("textarea")) {
                if let Some(name) = t.value().attr("name") {
                    fields.push((name.to_string(), t.text().collect()));
                }
            }
            Form {
                action: page
                    .url
                    .join(f.value().attr("action").unwrap_or(""))
                    .expect("action"),
                method: f.value().attr("method").unwrap_or("get").to_lowercase(),
                fields,
            }
        })
        .collect()
}

/// Whether the account page shows `provider` as turned on.
fn is_on(page: &Page, provider: &str) -> bool {
    text_of(page, &format!("#provider-{provider} .toggle")).as_deref() == Some("On")
}

fn action_form(page: &Page, path: &str) -> Form {
    page.forms()
        .into_iter()
        .find(|f| f.action.path() == path)
        .unwrap_or_else(|| panic!("no form posting to {path}: {}", page.text()))
}

async fn enrolled(server: &Server, user_id: &str) -> Vec<ProviderType> {
    server
        .core
        .enrolled_providers(user_id)
        .await
        .expect("enrolled providers")
        .into_iter()
        .map(|p| p.provider)
        .collect()
}

/// Enrols TOTP through the page; returns the secret read from the page.
pub async fn enrol_totp(server: &Server, browser: &Browser, page: &Page) -> (Page, String) {
    let shown = browser
        .submit(action_form(page, "/account/security/totp"))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let secret = text_of(&shown, "#totp-secret").expect("the secret as text");
    assert!(shown.body.contains("<svg"), "a server-rendered QR code");
    let done = browser
        .submit(
            shown
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    (done, secret)
}

both_backends!(totp_is_enabled_only_with_the_right_code_and_then_signs_in);

async fn totp_is_enabled_only_with_the_right_code_and_then_signs_in(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.user("anna").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "anna", PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK);
    for p in ["TOTP", "SMS", "BACKUP_CODE"] {
        assert!(!is_on(&page, p), "{p} starts off");
    }
    assert!(
        !page.body.contains("id=\"provider-EMAIL\""),
        "EMAIL is not offered"
    );
    // A wrong code: the field says so, TOTP stays off, the QR and secret are shown again.
    let shown = browser
        .submit(action_form(&page, "/account/security/totp"))
        .await;
    let secret = text_of(&shown, "#totp-secret").expect("secret");
    let wrong = browser
        .submit(shown.form_with("code", None).set("code", "000000"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&wrong, "#totp-code-error")
            .expect("an error tied to the field")
            .contains("not right"),
        "{}",
        wrong.text()
    );
    assert!(wrong.body.contains("aria-describedby=\"totp-code-error\""));
    assert_eq!(
        text_of(&wrong, "#totp-secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(enrolled(&server, &user.id).await.is_empty());
    // The right code turns it on, as the default.
    let done = browser
        .submit(
            wrong
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("Your authenticator app is set up."));
    assert!(is_on(&done, "TOTP"));
    assert_eq!(
        text_of(&done, "#provider-TOTP .badge").as_deref(),
        Some("Default")
    );
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Totp]);
    // The audit log on the page shows it.
    assert!(done.text().contains("method added"), "{}", done.text());
    // Next sign-in asks for the TOTP code (a later step: the enrolment code is spent).
    server.clock.advance(30);
    let other = Browser::new();
    let login = other.get(&server.url("/login")).await;
    let challenge = other
        .submit(
            login
                .form_with("username", None)
                .set("username", "anna")
                .set("password", PASSWORD),
        )
        .await;
    assert!(
        challenge.text().contains("authenticator app"),
        "{}",
        challenge.text()
    );
    let home = other
        .submit(
            challenge
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    assert!(
        home.text().contains("You are signed in as anna"),
        "{}",
        home.text()
    );
}

/// The core's refusals reach a German reader in German: a bad number and a wrong code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_phone_number_and_a_wrong_code_are_refused_in_the_readers_language() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("gerd").await;
    let browser = Browser::speaking("de-DE,de;q=0.9,en;q=0.5");
    let page = signed_in(&server, &browser, "gerd", PASSWORD).await;
    let bad = browser
        .submit(action_form(&page, "/account/security/sms").set("phone", "555-1234"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        text_of(&bad, "#phone-error").as_deref(),
        Some("Beginnen Sie mit + und der Ländervorwahl, etwa +15551231234."),
        "{}",
        bad.text()
    );
    let sent = browser
        .submit(action_form(&bad, "/account/security/sms").set("phone", "+442071838750"))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let code = server.last_sms_code("+442071838750");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = browser
        .submit(sent.form_with("code", None).set("code", wrong))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        text_of(&refused, "#sms-code-error").as_deref(),
        Some("Dieser Code ist nicht richtig. Versuchen Sie es erneut."),
        "{}",
        refused.text()
    );
}

/// A rule of the 2FA policy refuses a German reader in German (backup codes alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_refusal_is_said_in_the_readers_language() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("greta").await;
    let browser = Browser::speaking("de");
    let page = signed_in(&server, &browser, "greta", PASSWORD).await;
    let refused = browser
        .submit(action_form(&page, "/account/security/backup-codes"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        text_of(&refused, "#backup-start-error").as_deref(),
        Some(
            "Richten Sie zuerst eine andere Methode ein: Backup-Codes können nicht Ihr einziger \
             zweiter Faktor sein."
        ),
        "{}",
        refused.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_enrolment_validates_the_number_and_needs_the_code() {
    let server = Server::start(Backend::Sqlite).await;
    let user = server.user("bert").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "bert", PASSWORD).await;
    let bad = browser
        .submit(action_form(&page, "/account/security/sms").set("phone", "555-1234"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#phone-error").is_some(), "{}", bad.text());
    assert!(bad.body.contains("aria-describedby=\"phone-error\""));
    assert_eq!(server.sms_count(), 0, "nothing was sent");
    let phone = "+442071838750";
    let sent = browser
        .submit(action_form(&bad, "/account/security/sms").set("phone", phone))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    assert!(
        sent.text()
            .contains("We sent a 6-digit code to +4*****8750"),
        "{}",
        sent.text()
    );
    // Asking again at once obeys the send period.
    let again = browser
        .submit(action_form(&sent, "/account/security/sms").set("phone", phone))
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(text_of(&again, "#phone-error")
        .expect("error")
        .contains("Wait"));
    let wrong = browser
        .submit(sent.form_with("code", None).set("code", "999999x"))
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text()
    );
    assert!(text_of(&wrong, "#sms-code-error").is_some());
    assert!(enrolled(&server, &user.id).await.is_empty());
    let code = server.last_sms_code(phone);
    let done = browser
        .submit(wrong.form_with("code", None).set("code", &code))
        .await;
    assert!(
        done.text().contains("SMS verification is set up."),
        "{}",
        done.text()
    );
    assert!(is_on(&done, "SMS"));
    assert!(
        done.text().contains("+4*****8750"),
        "masked destination shown"
    );
    assert!(!done.text().contains("2071838750"), "never the full number");
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Sms]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_enrolment_with_the_code_from_a_real_smtp_server() {
    let sink = stepgate_tests::smtp::SmtpSink::start(None);
    let extra = format!(
        "{}[twofa]\nproviders = [\"TOTP\", \"EMAIL\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n",
        sink.toml("Stepgate <noreply@example.com>")
    );
    let server = Server::start_with(Backend::Sqlite, &extra).await;
    let user = server.user("cleo").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "cleo", PASSWORD).await;
    let bad = browser
        .submit(action_form(&page, "/account/security/email").set("email", "not-an-address"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#email-error").is_some(), "{}", bad.text());
    let address = "cleo.home@example.org";
    let sent = browser
        .submit(action_form(&bad, "/account/security/email").set("email", address))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
    let mail = sink.wait_for(address, 0);
    let done = browser
        .submit(
            sent.form_with("code", None)
                .set("code", &digits_in(&mail.body, 6)),
        )
        .await;
    assert!(
        done.text().contains("Email verification is set up."),
        "{}",
        done.text()
    );
    assert!(is_on(&done, "EMAIL"));
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Email]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_need_another_method_are_shown_once_and_counted() {
    let server = Server::start(Backend::Sqlite).await;
    let user = server.user("dina").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "dina", PASSWORD).await;
    let refused = browser
        .submit(action_form(&page, "/account/security/backup-codes"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        text_of(&refused, "#backup-start-error")
            .expect("error")
            .contains("Set up another method first"),
        "{}",
        refused.text()
    );
    assert!(enrolled(&server, &user.id).await.is_empty());
    let (page, _) = enrol_totp(&server, &browser, &refused).await;
    let shown = browser
        .submit(action_form(&page, "/account/security/backup-codes"))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let doc = Html::parse_document(&shown.body);
    let codes: Vec<String> = doc
        .select(&Selector::parse(".backup-list code").expect("selector"))
        .map(|c| c.text().collect())
        .collect();
    assert_eq!(codes.len(), 10, "codesQuantity codes");
    assert!(codes
        .iter()
        .all(|c| c.len() == 8 && c.chars().all(|d| d.is_ascii_digit())));
    let download = doc
        .select(&Selector::parse("a[download]").expect("selector"))
        .next()
        .expect("a Download (.txt) link");
    assert_eq!(download.text().collect::<String>(), "Download (.txt)");
    let href = download.value().attr("href").expect("href");
    assert!(href.starts_with("data:text/plain"));
    assert!(href.contains(&codes[0]));
    assert!(shown.text().contains("Print"));
    let csp = shown.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    // Shown once: the next visit shows only how many are left.
    let later = browser.get(&server.url("/account/security")).await;
    assert!(!later.body.contains(&codes[0]));
    assert_eq!(
        text_of(&later, "#backup-left").as_deref(),
        Some("10 backup codes left")
    );
    // Regenerating replaces the list.
    let again = browser
        .submit(action_form(&later, "/account/security/backup-codes"))
        .await;
    let fresh: Vec<String> = Html::parse_document(&again.body)
        .select(&Selector::parse(".backup-list code").expect("selector"))
        .map(|c| c.text().collect())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert_ne!(fresh, codes, "a new list");
    assert_eq!(
        server.core.backup_codes_left(&user.id).await.expect("left"),
        10
    );
}

both_backends!(default_removal_with_password_and_the_last_provider_rule);

async fn default_removal_with_password_and_the_last_provider_rule(backend: Backend) {
    let server = Server::start(backend).await;
    let user = server.user("emil").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "emil", PASSWORD).await;
    let (page, _) = enrol_totp(&server, &browser, &page).await;
    let sent = browser
        .submit(action_form(&page, "/account/security/sms").set("phone", PHONE))
        .await;
    let page = browser
        .submit(
            sent.form_with("code", None)
                .set("code", &server.last_sms_code(PHONE)),
        )
        .await;
    let page = browser
        .submit(action_form(&page, "/account/security/backup-codes"))
        .await;
    // "Use by default" on SMS moves the badge.
    let page = browser
        .submit(
            page.form_with("provider", Some("SMS"))
                .set("csrf", &csrf_of(&page)),
        )
        .await;
    assert!(
        page.text().contains("Your default method is changed."),
        "{}",
        page.text()
    );
    assert_eq!(
        text_of(&page, "#provider-SMS .badge").as_deref(),
        Some("Default")
    );
    assert_eq!(text_of(&page, "#provider-TOTP .badge"), None);
    // Turning off needs the password: a wrong one changes nothing.
    let remove = |p: &Page, provider: &str| {
        p.forms()
            .into_iter()
            .find(|f| {
                f.action.path() == "/account/security/remove"
                    && f.fields
                        .iter()
                        .any(|(n, v)| n == "provider" && v == provider)
            })
            .expect("a turn-off form")
    };
    let wrong = browser
        .submit(remove(&page, "SMS").set("password", "not the password"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&wrong, "#remove-password-SMS-error")
        .expect("error at the field")
        .contains("password is not right"));
    assert_eq!(enrolled(&server, &user.id).await.len(), 3);
    // Removing the default: the next by TOTP < SMS < EMAIL takes over.
    let page = browser
        .submit(remove(&wrong, "SMS").set("password", PASSWORD))
        .await;
    assert!(
        page.text().contains("The method is turned off."),
        "{}",
        page.text()
    );
    assert_eq!(
        text_of(&page, "#provider-TOTP .badge").as_deref(),
        Some("Default")
    );
    // Removing the last other method takes the backup codes with it.
    let page = browser
        .submit(remove(&page, "TOTP").set("password", PASSWORD))
        .await;
    assert!(
        enrolled(&server, &user.id).await.is_empty(),
        "{}",
        page.text()
    );
    assert!(!is_on(&page, "BACKUP_CODE"));
}

fn csrf_of(page: &Page) -> String {
    page.form_with("csrf", None)
        .fields
        .into_iter()
        .find(|(n, _)| n == "csrf")
        .map(|(_, v)| v)
        .expect("csrf")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_enforcement_the_last_provider_cannot_be_removed() {
    let server = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = true\n",
    )
    .await;
    let (user, secret) = server.totp_user("fred").await;
    let browser = Browser::new();
    let login = browser.get(&server.url("/login")).await;
    let challenge = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", "fred")
                .set("password", PASSWORD),
        )
        .await;
    browser
        .submit(
            challenge
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    let page = browser.get(&server.url("/account/security")).await;
    assert!(is_on(&page, "TOTP"), "{}", page.text());
    let form = page
        .forms()
        .into_iter()
        .find(|f| f.action.path() == "/account/security/remove")
        .expect("turn-off form")
        .set("password", PASSWORD);
    let refused = browser.submit(form).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(text_of(&refused, "#remove-password-TOTP-error")
        .expect("error")
        .contains("At least one second factor is required"));
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Totp]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_checks_the_current_one() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("gina").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "gina", PASSWORD).await;
    let form = |p: &Page, cur: &str, new: &str, confirm: &str| {
        action_form(p, "/account/security/password")
            .set("current", cur)
            .set("new", new)
            .set("confirm", confirm)
    };
    let bad = browser
        .submit(form(
            &page,
            "wrong password",
            "new password 1",
            "new password 1",
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&bad, "#current-password-error").is_some());
    let short = browser.submit(form(&bad, PASSWORD, "short", "short")).await;
    assert!(
        text_of(&short, "#new-password-error").is_some(),
        "{}",
        short.text()
    );
    let mismatch = browser
        .submit(form(&short, PASSWORD, "new password 1", "new password 2"))
        .await;
    assert!(text_of(&mismatch, "#confirm-password-error").is_some());
    // Nothing changed so far: the old password still works.
    signed_in(&server, &Browser::new(), "gina", PASSWORD).await;
    let done = browser
        .submit(form(
            &mismatch,
            PASSWORD,
            "new password 1",
            "new password 1",
        ))
        .await;
    assert!(
        done.text().contains("Your password is changed."),
        "{}",
        done.text()
    );
    signed_in(&server, &Browser::new(), "gina", "new password 1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_needs_a_session_and_csrf() {
    let server = Server::start(Backend::Sqlite).await;
    server.user("hugo").await;
    let browser = Browser::new();
    let page = browser.get(&server.url("/account/security")).await;
    assert!(page.url.path().ends_with("/login"), "{}", page.url);
    let page = signed_in(&server, &browser, "hugo", PASSWORD).await;
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .contains("default-src 'none'"));
    let forged = browser
        .submit(action_form(&page, "/account/security/totp").set("csrf", "forged"))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// A client that requires 2FA, a user with none: enrolment instead of a refusal, no session
/// before it, and the original authorization request continues to the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_enrolment_continues_the_original_authorization_request() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("strict", &["--require-2fa"]).await;
    let user = server.user("iris").await;
    let (rp, _) = relying_party(&server, "strict", secret).await;
    let browser = Browser::new();
    let started = start(&rp, &[]);
    let page = crate::oidc::password(&browser, started.url.as_str(), "iris", PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.url.path().ends_with("/account/security"),
        "{}",
        page.url
    );
    assert!(page.text().contains("Set up two-factor authentication"));
    // Restricted: no session yet, and nothing but enrolment.
    let home = browser.get(&server.url("/")).await;
    assert!(
        home.text().contains("You are not signed in"),
        "{}",
        home.text()
    );
    assert!(!page.body.contains("/account/security/password"));
    assert!(!page.body.contains("/account/security/backup-codes"));
    let (done, _) = enrol_totp(&server, &browser, &page).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    let claims = id_claims(&rp, &tokens, &started.nonce);
    assert_eq!(claims.subject().as_str(), user.id);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:stepgate:acr:2fa")
    );
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Totp]);
}

/// Platform enforcement (`enforceTwoFa`, the core's MustEnrol) sends a login without an
/// application to enrolment too, then to the signed-in home page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn must_enrol_under_enforce_two_fa_then_signed_in() {
    let server = Server::start_with(
        Backend::Sqlite,
        "[twofa]\nproviders = [\"TOTP\", \"BACKUP_CODE\"]\nenforce_two_fa = true\n",
    )
    .await;
    server.user("jack").await;
    let browser = Browser::new();
    let login = browser.get(&server.url("/login")).await;
    let page = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", "jack")
                .set("password", PASSWORD),
        )
        .await;
    assert!(
        page.url.path().ends_with("/account/security"),
        "{}",
        page.url
    );
    let (done, _) = enrol_totp(&server, &browser, &page).await;
    assert!(
        done.text().contains("You are signed in as jack"),
        "{}",
        done.text()
    );
}

/// `acr_values` asking for two factors, from a browser that already has a password-only
/// session: the user enrols (the pending login wins over the old session) and the request
/// continues with an `acr` of two factors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_values_upgrade_an_existing_session_through_enrolment() {
    let server = Server::start(Backend::Sqlite).await;
    let secret = server.client("plain", &[]).await;
    server.user("kim").await;
    let browser = Browser::new();
    signed_in(&server, &browser, "kim", PASSWORD).await;
    let (rp, _) = relying_party(&server, "plain", secret).await;
    let started = start(&rp, &[]);
    let url = format!("{}&acr_values=urn%3Astepgate%3Aacr%3A2fa", started.url);
    let page = crate::oidc::password(&browser, &url, "kim", PASSWORD).await;
    assert!(
        page.url.path().ends_with("/account/security"),
        "{}",
        page.url
    );
    assert!(page.text().contains("Set up two-factor authentication"));
    let (done, _) = enrol_totp(&server, &browser, &page).await;
    let tokens = exchange(
        &rp,
        code_from(&done, &started, &server.issuer),
        started.verifier,
    )
    .await;
    let claims = id_claims(&rp, &tokens, &started.nonce);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:stepgate:acr:2fa")
    );
    // The enrolment state is over: the account page is the full one again.
    let page = browser.get(&server.url("/account/security")).await;
    assert!(page.text().contains("Change password"), "{}", page.text());
}

/// Issue 7: a provider the admin switches off disappears from the account page at once, the
/// enrolment is kept, and switching it back on restores it; turning a method off is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_switched_off_by_the_admin_disappears_and_comes_back() {
    let server = Server::start(Backend::Sqlite).await;
    let user = server.user("lena").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "lena", PASSWORD).await;
    let (page, _) = enrol_totp(&server, &browser, &page).await;
    let sent = browser
        .submit(action_form(&page, "/account/security/sms").set("phone", PHONE))
        .await;
    let page = browser
        .submit(
            sent.form_with("code", None)
                .set("code", &server.last_sms_code(PHONE)),
        )
        .await;
    assert!(is_on(&page, "SMS"));
    let mut settings = server.core.twofa_settings().await.expect("settings");
    let all = settings.providers.clone();
    settings
        .providers
        .retain(|p| p.provider_type() != ProviderType::Sms);
    server
        .core
        .update_twofa_settings(&ctx(), None, &settings)
        .await
        .expect("switch SMS off");
    let page = browser.get(&server.url("/account/security")).await;
    assert!(!page.body.contains("id=\"provider-SMS\""), "SMS is gone");
    assert!(is_on(&page, "TOTP"));
    assert_eq!(enrolled(&server, &user.id).await.len(), 2, "enrolment kept");
    settings.providers = all;
    server
        .core
        .update_twofa_settings(&ctx(), None, &settings)
        .await
        .expect("switch SMS on");
    let page = browser.get(&server.url("/account/security")).await;
    assert!(is_on(&page, "SMS"), "restored");
    // Turning a method off is an audit event the user sees.
    let form = page
        .forms()
        .into_iter()
        .find(|f| {
            f.action.path() == "/account/security/remove"
                && f.fields.iter().any(|(n, v)| n == "provider" && v == "SMS")
        })
        .expect("turn-off form")
        .set("password", PASSWORD);
    let page = browser.submit(form).await;
    assert!(
        page.text().contains("method removed SMS"),
        "{}",
        page.text()
    );
}

/// Issue 7: enrolment checks are rate-limited like login checks (the page says so at the
/// field), and turning a method off from the page emails the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_checks_are_rate_limited_and_removal_emails_the_user() {
    let sink = stepgate_tests::smtp::SmtpSink::start(None);
    let extra = format!(
        "{}[twofa]\nproviders = [\"TOTP\", \"EMAIL\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n\
         verification_code_check_rate_limit = \"2:300\"\nnotify_user_on_provider_removal = true\n",
        sink.toml("Stepgate <noreply@example.com>")
    );
    let server = Server::start_with(Backend::Sqlite, &extra).await;
    let user = server.user("mona").await;
    let browser = Browser::new();
    let page = signed_in(&server, &browser, "mona", PASSWORD).await;
    let shown = browser
        .submit(action_form(&page, "/account/security/totp"))
        .await;
    let secret = text_of(&shown, "#totp-secret").expect("secret");
    let mut last = shown;
    for _ in 0..2 {
        last = browser
            .submit(last.form_with("code", None).set("code", "000000"))
            .await;
        assert_eq!(last.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = browser
        .submit(
            last.form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text()
    );
    assert!(text_of(&limited, "#totp-code-error")
        .expect("error at the field")
        .contains("Too many attempts"));
    assert!(enrolled(&server, &user.id).await.is_empty());
    // After the window, the right code works; removing it emails the account's address.
    server.clock.advance(301);
    let done = browser
        .submit(
            limited
                .form_with("code", None)
                .set("code", &server.totp(&secret)),
        )
        .await;
    assert!(is_on(&done, "TOTP"), "{}", done.text());
    // Adding a factor emails the account's address too.
    let added = sink.wait_for("mona@example.com", 0);
    assert!(
        added.body.contains("a second factor was set up")
            && added.body.contains("authenticator app"),
        "{}",
        added.body
    );
    // The sign-in is now over five minutes old: turning the app off asks for a new one
    // (password and the app), and changes nothing until then.
    let remove_form = |page: &Page| {
        page.forms()
            .into_iter()
            .find(|f| f.action.path() == "/account/security/remove")
            .expect("turn-off form")
            .set("password", PASSWORD)
    };
    let stale = browser.submit(remove_form(&done)).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "{}", stale.text());
    assert!(text_of(&stale, "#reauth").is_some(), "{}", stale.text());
    assert_eq!(enrolled(&server, &user.id).await, [ProviderType::Totp]);
    server.clock.advance(30);
    let login = browser.get(&server.url("/account/reauth")).await;
    let challenge = browser
        .submit(
            login
                .form_with("username", None)
                .set("username", "mona")
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
    assert!(back.text().contains("Thank you"), "{}", back.text());
    let removed = browser.submit(remove_form(&back)).await;
    assert!(!is_on(&removed, "TOTP"), "{}", removed.text());
    let mail = sink.wait_for("mona@example.com", 1);
    assert!(
        mail.body
            .contains("two-factor authentication was turned off"),
        "{}",
        mail.body
    );
}
