//! Delivery tests for `stepgate_core::notify` against real servers on 127.0.0.1: an aiosmtpd
//! process for email (the `stepgate-tests` kit's SMTP sink) and throw-away axum listeners
//! standing in for Twilio and an SMS webhook. Nothing is mocked: what arrives over the wire is
//! what gets checked, read back with `mail-parser` and `form_urlencoded`.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use base64::Engine as _;
use mail_parser::{MessageParser, MimeHeaders as _};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stepgate_core::notify::{
    build_sms_sender, Mailer, NotifyError, SmsConfig, SmtpConfig, SmtpTls,
};
use stepgate_tests::free_port;
use stepgate_tests::smtp::{Mail, SmtpSink};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const FROM: &str = "Stepgate <no-reply@stepgate.test>";

/// A `SmtpConfig` for `sink`, sending as `FROM` without TLS or credentials.
fn smtp_config(sink: &SmtpSink) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
        timeout_seconds: 5,
    }
}

/// The full header set of a received message, for what `Mail` does not carry.
fn headers_of(mail: &Mail) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(&mail.raw)
        .expect("a parseable RFC 5322 message")
}

/// The single mailbox of an address header, as (display name, address).
fn mailbox<'a>(address: Option<&'a mail_parser::Address<'_>>) -> (Option<&'a str>, &'a str) {
    let address = address.expect("the header is present");
    let list: Vec<_> = address.iter().collect();
    assert_eq!(list.len(), 1, "one mailbox: {address:?}");
    (list[0].name(), list[0].address().expect("an address"))
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mail_reaches_a_real_smtp_server() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&smtp_config(&sink)).unwrap();
    let body = "Your Stepgate code is 482913.\nIt expires in 5 minutes.";
    mailer
        .send("alice@example.com", "Your Stepgate code", body)
        .await
        .unwrap();
    // A second message through the same mailer reuses lettre's pooled connection.
    mailer
        .send("Bob <bob@example.com>", "Second", "two")
        .await
        .unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "stderr: {}", sink.stderr());
    let m = &messages[0];
    let h = headers_of(m);
    assert_eq!(
        mailbox(h.from()),
        (Some("Stepgate"), "no-reply@stepgate.test")
    );
    assert_eq!(mailbox(h.to()), (None, "alice@example.com"));
    assert_eq!(m.subject, "Your Stepgate code");
    let content_type = h.content_type().expect("a Content-Type is set");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("text", Some("plain")),
        "{content_type:?}"
    );
    assert!(
        content_type
            .attribute("charset")
            .is_some_and(|c| c.eq_ignore_ascii_case("utf-8")),
        "{content_type:?}"
    );
    assert!(h.date().is_some(), "lettre sets Date");
    let id = h.message_id().expect("a Message-ID is set");
    assert!(id.contains('@'), "{id}");
    let raw_id = h.header_raw("Message-ID").unwrap().trim();
    assert!(raw_id.starts_with('<') && raw_id.ends_with('>'), "{raw_id}");
    assert_eq!(m.body.trim_end(), body);

    let m = &messages[1];
    let second = headers_of(m);
    assert_eq!(mailbox(second.to()), (Some("Bob"), "bob@example.com"));
    assert_ne!(second.message_id(), h.message_id());
}

#[tokio::test]
async fn utf8_subject_and_body_survive() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&smtp_config(&sink)).unwrap();
    let subject = "Code de vérification — Stepgate";
    let body = "Votre code : 305617.\nÀ bientôt, 日本語も大丈夫。";
    mailer.send("zoé@example.com", subject, body).await.unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject, subject);
    assert_eq!(messages[0].body.trim_end(), body);
}

#[tokio::test]
async fn header_injection_through_the_subject_is_neutralised() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&smtp_config(&sink)).unwrap();
    mailer
        .send("alice@example.com", "Hi\r\nBcc: eve@example.com", "x")
        .await
        .unwrap();
    let m = &sink.messages()[0];
    let h = headers_of(m);
    assert!(
        h.header("Bcc").is_none() && h.bcc().is_none(),
        "{:?}",
        h.headers()
    );
    assert_eq!(m.subject, "Hi  Bcc: eve@example.com");
}

#[tokio::test]
async fn credentials_are_presented_with_auth() {
    let sink = SmtpSink::start(Some(("mailer", "s3cret pass")));
    let mut config = smtp_config(&sink);

    // The server demands AUTH: without credentials MAIL FROM is refused with 530.
    let anonymous = Mailer::new(&config).unwrap();
    assert_eq!(
        anonymous.send("alice@example.com", "s", "b").await,
        Err(NotifyError::Rejected { status: 530 })
    );

    config.username = Some("mailer".into());
    config.password = Some("wrong".into());
    let wrong = Mailer::new(&config).unwrap();
    assert_eq!(
        wrong.send("alice@example.com", "s", "b").await,
        Err(NotifyError::Rejected { status: 535 })
    );

    config.password = Some("s3cret pass".into());
    let right = Mailer::new(&config).unwrap();
    right
        .send("alice@example.com", "Authenticated", "hello")
        .await
        .unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "stderr: {}", sink.stderr());
    assert_eq!(messages[0].subject, "Authenticated");
    assert_eq!(messages[0].body.trim_end(), "hello");
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_a_transport_error() {
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: free_port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
        timeout_seconds: 2,
    };
    let mailer = Mailer::new(&config).unwrap();
    let result = mailer.send("alice@example.com", "s", "b").await;
    assert!(
        matches!(result, Err(NotifyError::Transport(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_transport_error_after_the_timeout() {
    // Accepts TCP and never sends the SMTP greeting.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
        timeout_seconds: 1,
    };
    let mailer = Mailer::new(&config).unwrap();
    let started = Instant::now();
    let result = mailer.send("alice@example.com", "s", "b").await;
    assert!(
        matches!(result, Err(NotifyError::Transport(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test]
async fn bad_addresses_and_config_are_errors_not_panics() {
    let mut config = SmtpConfig {
        host: "127.0.0.1".into(),
        port: free_port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: FROM.into(),
        timeout_seconds: 2,
    };
    let mailer = Mailer::new(&config).unwrap();
    let result = mailer.send("not an address", "s", "b").await;
    assert!(
        matches!(&result, Err(NotifyError::InvalidAddress(text)) if !text.contains("not an address")),
        "the address is masked: {result:?}"
    );

    config.from = "nobody".into();
    assert!(matches!(
        Mailer::new(&config),
        Err(NotifyError::InvalidConfig { key: "from", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// HTTP: one-request listeners standing in for Twilio and an SMS gateway
// ---------------------------------------------------------------------------------------------

/// What the listener received.
#[derive(Debug)]
struct Request {
    method: Method,
    /// Path and query, as sent.
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a visible-ASCII header value"))
    }
}

/// An axum server that answers every request with `status` and the JSON `body`, records each
/// request into a channel, and shuts down (finishing the response in flight) once the first one
/// has arrived; the handle yields that request.
async fn one_request_server(
    status: u16,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<Request>) {
    let status = StatusCode::from_u16(status).unwrap();
    let (record, mut recorded) = mpsc::unbounded_channel();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, request_body: Bytes| {
            let record = record.clone();
            async move {
                let path = uri
                    .path_and_query()
                    .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
                let _ = record.send(Request {
                    method,
                    path,
                    headers,
                    body: request_body,
                });
                (status, [(header::CONTENT_TYPE, "application/json")], body)
            }
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (first_tx, first_rx) = oneshot::channel();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = first_tx.send(recorded.recv().await);
            })
            .await
            .unwrap();
        first_rx
            .await
            .unwrap()
            .expect("the listener received a request")
    });
    (base, handle)
}

fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn twilio(api_base: &str) -> SmsConfig {
    SmsConfig::Twilio {
        account_sid: "AC0123456789abcdef".into(),
        auth_token: "twilio-secret-token".into(),
        from: "+15005550006".into(),
        api_base: Some(api_base.into()),
    }
}

fn webhook(url: &str, bearer_token: Option<&str>, timeout_seconds: u64) -> SmsConfig {
    SmsConfig::Webhook {
        url: url.into(),
        bearer_token: bearer_token.map(Into::into),
        timeout_seconds,
    }
}

#[tokio::test]
async fn twilio_gets_a_form_with_basic_auth() {
    let (base, server) = one_request_server(201, r#"{"sid":"SM1","status":"queued"}"#).await;
    // A trailing slash in api_base must not produce `//2010-04-01`.
    let sender = build_sms_sender(&twilio(&format!("{base}/"))).unwrap();
    assert_eq!(sender.kind(), "twilio");
    let message = "Your code is 482913 & not 1+1=2 ü";
    sender.send("+447700900123", message).await.unwrap();

    let request = server.await.unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    );
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:twilio-secret-token")
    );
    assert_eq!(
        request.header("authorization"),
        Some(expected_auth.as_str())
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let mut form = form_decode(&request.body);
    form.sort();
    assert_eq!(
        form,
        vec![
            ("Body".to_string(), message.to_string()),
            ("From".to_string(), "+15005550006".to_string()),
            ("To".to_string(), "+447700900123".to_string()),
        ]
    );
}

#[tokio::test]
async fn twilio_refusal_is_rejected_with_its_status() {
    let (base, server) = one_request_server(
        400,
        r#"{"code":21211,"message":"The 'To' number +447700900123 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#,
    )
    .await;
    let sender = build_sms_sender(&twilio(&base)).unwrap();
    assert_eq!(
        sender.send("+447700900123", "code 1").await,
        Err(NotifyError::Rejected { status: 400 })
    );
    server.await.unwrap();
}

#[tokio::test]
async fn webhook_gets_json_and_the_bearer_token() {
    let (base, server) = one_request_server(200, "{}").await;
    let sender =
        build_sms_sender(&webhook(&format!("{base}/sms/send"), Some("hook-token"), 5)).unwrap();
    assert_eq!(sender.kind(), "webhook");
    sender
        .send("+15005550006", "Your code is 771205 \"quoted\"")
        .await
        .unwrap();

    let request = server.await.unwrap();
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/sms/send")
    );
    assert_eq!(request.header("authorization"), Some("Bearer hook-token"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"to": "+15005550006", "message": "Your code is 771205 \"quoted\""})
    );
}

#[tokio::test]
async fn webhook_without_a_token_sends_no_authorization() {
    let (base, server) = one_request_server(204, "").await;
    let sender = build_sms_sender(&webhook(&base, None, 5)).unwrap();
    sender.send("+15005550006", "x").await.unwrap();
    let request = server.await.unwrap();
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn webhook_server_error_is_rejected_with_its_status() {
    let (base, server) = one_request_server(500, r#"{"error":"boom"}"#).await;
    let sender = build_sms_sender(&webhook(&base, Some("t"), 5)).unwrap();
    assert_eq!(
        sender.send("+15005550006", "x").await,
        Err(NotifyError::Rejected { status: 500 })
    );
    server.await.unwrap();
}

#[tokio::test]
async fn webhook_redirect_is_not_followed() {
    let (base, server) = one_request_server(302, "").await;
    let sender = build_sms_sender(&webhook(&base, Some("t"), 5)).unwrap();
    assert_eq!(
        sender.send("+15005550006", "x").await,
        Err(NotifyError::Rejected { status: 302 })
    );
    server.await.unwrap();
}

#[tokio::test]
async fn unreachable_or_silent_gateways_are_transport_errors() {
    let refused = build_sms_sender(&webhook(
        &format!("http://127.0.0.1:{}/?key=url-secret", free_port()),
        None,
        5,
    ))
    .unwrap();
    match refused.send("+15005550006", "x").await {
        Err(NotifyError::Transport(text)) => {
            assert!(!text.contains("url-secret"), "the URL is left out: {text}")
        }
        other => panic!("{other:?}"),
    }

    // Accepts the connection and never answers: the configured timeout must end the wait.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let silent = build_sms_sender(&webhook(&url, None, 1)).unwrap();
    let started = Instant::now();
    let result = silent.send("+15005550006", "x").await;
    assert!(
        matches!(result, Err(NotifyError::Transport(_))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    hold.abort();
}

#[tokio::test]
async fn invalid_sms_config_is_refused_by_the_builder() {
    let result = build_sms_sender(&webhook("ftp://example.com", None, 5));
    assert!(matches!(
        result,
        Err(NotifyError::InvalidConfig { key: "url", .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// File sink
// ---------------------------------------------------------------------------------------------

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("broken line {l:?}: {e}")))
        .collect()
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // the real time a real SMTP/TLS peer sees
async fn file_sink_appends_one_json_line_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sms.log");
    let sender = build_sms_sender(&SmsConfig::File { path: path.clone() }).unwrap();
    assert_eq!(sender.kind(), "file");
    sender.send("+447700900123", "Code 111111").await.unwrap();
    sender
        .send("+15005550006", "Code 222222\nline two")
        .await
        .unwrap();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["to"], "+447700900123");
    assert_eq!(lines[0]["message"], "Code 111111");
    assert_eq!(lines[1]["message"], "Code 222222\nline two");
    let at = lines[1]["at"].as_u64().unwrap();
    assert!(now.abs_diff(at) < 60, "at = {at}, now = {now}");
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        raw.starts_with(r#"{"to":"+447700900123","message":"Code 111111","at":"#),
        "{raw}"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let result = sender.send("07700 900123", "x").await;
    assert!(matches!(result, Err(NotifyError::InvalidAddress(_))));
    assert_eq!(read_lines(&path).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_sink_lines_stay_whole_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let config = SmsConfig::File {
        path: dir.path().join("sms.log"),
    };
    // Two senders open the file independently, as the server and the PAM module do.
    let senders = [
        build_sms_sender(&config).unwrap(),
        build_sms_sender(&config).unwrap(),
    ];
    let padding = "x".repeat(6000);
    let mut tasks = Vec::new();
    let mut expected = BTreeSet::new();
    for task in 0..48 {
        let sender = senders[task % 2].clone();
        let messages: Vec<String> = (0..5)
            .map(|i| format!("task {task} message {i} {padding}"))
            .collect();
        expected.extend(messages.iter().cloned());
        tasks.push(tokio::spawn(async move {
            for m in messages {
                sender.send("+447700900123", &m).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got: BTreeSet<String> = read_lines(dir.path().join("sms.log").as_path())
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 240);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn file_sink_reports_an_unwritable_path() {
    let dir = tempfile::tempdir().unwrap();
    let sender = build_sms_sender(&SmsConfig::File {
        path: dir.path().join("missing-dir").join("sms.log"),
    })
    .unwrap();
    let result = sender.send("+447700900123", "x").await;
    assert!(
        matches!(result, Err(NotifyError::Transport(_))),
        "{result:?}"
    );
}
