//! The device authorization grant as independent software sees it: Node's certified
//! `openid-client` is the device (initiateDeviceAuthorization, pollDeviceAuthorizationGrant,
//! ID token validation, userinfo) and Debian's Chromium, driven by playwright-core, is the
//! user (the /device page, the sign-in with password and TOTP, Approve and Deny). Both run in
//! `node tests/node-client/device.mjs`; this test registers the client and the user, moves the
//! server's clock where a flow needs time to pass, and checks what the library and the browser
//! saw against the audit log: pending, slow_down growing the interval, approve → tokens with
//! the scopes shown; deny → access_denied; expiry → expired_token; wrong user codes refused,
//! counted and, past the burst, refused unchecked.
//!
//! Needs Node 20, `tests/node-client/install.sh` (openid-client and playwright-core) and
//! /usr/bin/chromium; without any of them the test fails saying so.

use crate::node_client::NodeRp;
use crate::support::events;
use crate::support::*;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use stepgate_core::time::ManualClock;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `[server] device_code_lifetime` for this test: long enough for a browser sign-in, short
/// enough that the expiry flow moves the clock only a little.
const LIFETIME: i64 = 120;

#[allow(clippy::disallowed_methods)] // the test's clock follows the wall clock
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Moves the server's manual clock with the wall clock, a second at a time just after each
/// wall-clock second begins (the library sleeps in real time, and the browser's TOTP codes are
/// of real time); the test can still jump it ahead with `advance`.
fn follow_wall_clock(clock: Arc<ManualClock>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = wall_ms() / 1000;
        loop {
            let to_next = 1000 - wall_ms() % 1000;
            tokio::time::sleep(Duration::from_millis(to_next as u64 + 1)).await;
            let now = wall_ms() / 1000;
            if now > last {
                clock.advance(now - last);
                last = now;
            }
        }
    })
}

fn polls(flow: &Value) -> Vec<(Option<String>, Option<String>, i64)> {
    flow["polls"]
        .as_array()
        .expect("polls")
        .iter()
        .map(|p| {
            (
                p["error"].as_str().map(str::to_string),
                p["error_description"].as_str().map(str::to_string),
                p["at_ms"].as_i64().expect("at_ms"),
            )
        })
        .collect()
}

async fn openid_client_and_chromium_complete_device_flows(backend: Backend) {
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: the device flow test drives Debian's Chromium \
         (apt-get install chromium)"
    );
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("node-client/node_modules/playwright-core")
            .is_dir(),
        "tests/node-client/node_modules/playwright-core is missing: run \
         tests/node-client/install.sh"
    );
    let server = Server::start_with(
        backend,
        &format!("[server]\ndevice_code_lifetime = {LIFETIME}\n"),
    )
    .await;
    let ticker = follow_wall_clock(server.clock.clone());
    server
        .client(
            "cli-tool",
            &["--public", "--name", "Deploy CLI", "--grant", GRANT],
        )
        .await;
    let (ann, secret) = server.totp_user("ann").await;

    let rp = NodeRp::start_script(
        "device.mjs",
        &[&server.issuer, "cli-tool", "ann", PASSWORD, &secret],
    );

    // 1. Pending, slow_down (the interval grows from 5 to 10 s), approve, tokens.
    let (rp, line) = rp.expect_line("approve:").await;
    let approve: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(
        approve["verification_uri"],
        server.url("/device"),
        "{approve}"
    );
    assert_eq!(approve["expires_in"], LIFETIME, "{approve}");
    assert_eq!(approve["interval"], 5, "{approve}");
    assert_eq!(
        approve["prefilled"], approve["user_code"],
        "verification_uri_complete prefills the code"
    );
    assert_eq!(approve["approval_path"], "/device/approve", "{approve}");
    let shown = approve["client_shown"].as_str().unwrap_or_default();
    assert!(
        shown.starts_with("Deploy CLI wants to sign in as "),
        "{approve}"
    );
    assert_eq!(
        approve["scopes_shown"],
        serde_json::json!(["openid", "profile", "email"]),
        "{approve}"
    );
    assert!(
        approve["approved_message"]
            .as_str()
            .is_some_and(|m| m.contains("Deploy CLI is signed in")),
        "{approve}"
    );
    let p = polls(&approve);
    assert!(p.len() >= 3, "{approve}");
    assert_eq!(
        p[0].0.as_deref(),
        Some("authorization_pending"),
        "{approve}"
    );
    assert_eq!(p[1].0.as_deref(), Some("slow_down"), "{approve}");
    assert!(
        p[1].1
            .as_deref()
            .is_some_and(|d| d.contains("wait 10 seconds")),
        "{approve}"
    );
    assert!(
        p[0].2 >= 5000,
        "openid-client waited the first interval: {approve}"
    );
    for w in p[1..].windows(2) {
        assert!(
            w[1].2 - w[0].2 >= 10_000,
            "after slow_down openid-client polls every 10 s: {approve}"
        );
    }
    let (last, middle) = p[2..].split_last().expect("a last poll");
    assert!(
        middle
            .iter()
            .all(|m| m.0.as_deref() == Some("authorization_pending")),
        "{approve}"
    );
    assert_eq!(last.0, None, "the last poll got the tokens: {approve}");
    // The scopes issued are the scopes shown; the ID token (validated by the library) names
    // ann and both factors.
    assert_eq!(approve["token_scope"], "openid profile email", "{approve}");
    assert_eq!(approve["has_refresh_token"], false, "{approve}");
    let claims = &approve["claims"];
    assert_eq!(claims["iss"], server.issuer.as_str(), "{approve}");
    assert_eq!(claims["sub"], ann.id.as_str(), "{approve}");
    assert_eq!(claims["aud"], serde_json::json!(["cli-tool"]), "{approve}");
    assert_eq!(claims["acr"], "urn:stepgate:acr:2fa", "{approve}");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "otp", "mfa"]),
        "{approve}"
    );
    assert_eq!(approve["userinfo"]["sub"], ann.id.as_str(), "{approve}");
    assert_eq!(approve["userinfo"]["email"], "ann@example.com", "{approve}");

    // 2. Deny: straight to the approval on the fresh sign-in; the device hears access_denied.
    let (rp, line) = rp.expect_line("deny:").await;
    let deny: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(deny["approval_path"], "/device/approve", "{deny}");
    assert_eq!(deny["error"], "access_denied", "{deny}");
    assert!(
        deny["denied_message"]
            .as_str()
            .is_some_and(|m| m.contains("was not given access")),
        "{deny}"
    );
    let p = polls(&deny);
    assert_eq!(
        p.last().and_then(|l| l.0.clone()).as_deref(),
        Some("access_denied"),
        "{deny}"
    );

    // 3. Expiry: once the approval is on screen, the clock passes the lifetime.
    let (mut rp, _) = rp.expect_line("expiry_waiting:").await;
    server.clock.advance(LIFETIME + 1);
    rp.send_line("advanced");
    let (rp, line) = rp.expect_line("expiry:").await;
    let expiry: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(expiry["error"], "expired_token", "{expiry}");
    assert_eq!(polls(&expiry).len(), 1, "{expiry}");
    assert!(
        expiry["wrong_message"]
            .as_str()
            .is_some_and(|m| m.contains("That code is not right")),
        "{expiry}"
    );
    assert!(
        expiry["late_approve_message"]
            .as_str()
            .is_some_and(|m| m.contains("no longer waiting")),
        "{expiry}"
    );

    // 4. Guessing: five wrong codes from this browser, then refused unchecked, live or not.
    let (rp, line) = rp.expect_line("guessing:").await;
    rp.finish().await;
    ticker.abort();
    let guessing: Value = serde_json::from_str(&line).expect("JSON");
    let messages: Vec<&str> = guessing["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m.as_str().unwrap_or(""))
        .collect();
    assert_eq!(messages.len(), 6, "{guessing}");
    assert!(
        messages[..5]
            .iter()
            .all(|m| m.contains("That code is not right")),
        "{guessing}"
    );
    assert!(
        messages[5].starts_with("Too many wrong codes"),
        "{guessing}"
    );
    assert!(
        guessing["live_code_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Too many wrong codes")),
        "{guessing}"
    );

    // The audit log: one approval and one denial by ann for the client; every wrong code
    // (1 + 5) and both codes refused unchecked (the sixth guess and the live one) counted.
    let approved = events(&server, "device_approved").await;
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0].user_id.as_deref(), Some(ann.id.as_str()));
    let detail = approved[0].detail.clone().unwrap_or_default();
    assert!(detail.contains("client=cli-tool"), "{detail}");
    assert!(detail.contains("acr=urn:stepgate:acr:2fa"), "{detail}");
    let denied = events(&server, "device_denied").await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0].user_id.as_deref(), Some(ann.id.as_str()));
    let refused = events(&server, "device_user_code_refused").await;
    assert_eq!(refused.len(), 8, "{refused:?}");
    let unchecked = refused
        .iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.contains("not checked"))
        })
        .count();
    assert_eq!(unchecked, 2, "{refused:?}");
    for e in &refused {
        let d = e.detail.clone().unwrap_or_default();
        assert!(
            !d.contains("BCDF") && !d.contains(approve["user_code"].as_str().unwrap_or("?")),
            "no user code in the audit log: {d}"
        );
    }
    server.stop().await;
}

both_backends!(openid_client_and_chromium_complete_device_flows);
