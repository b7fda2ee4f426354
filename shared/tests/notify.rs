//! Delivery tests for `stepgate_core::notify` against real servers on 127.0.0.1: an aiosmtpd
//! process for email (tests/support/smtp_sink.py) and throw-away HTTP listeners standing in for
//! Twilio and an SMS webhook. Nothing is mocked: the bytes on the wire are what gets checked.

use base64::Engine as _;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stepgate_core::notify::{
    build_sms_sender, Mailer, NotifyError, SmsConfig, SmtpConfig, SmtpTls,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PYTHON: &str = "/usr/bin/python3";
const FROM: &str = "Stepgate <no-reply@stepgate.test>";

// ---------------------------------------------------------------------------------------------
// SMTP sink process
// ---------------------------------------------------------------------------------------------

/// A running smtp_sink.py; stopped (stdin closed, then killed if need be) on drop.
struct SmtpSink {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    fn start(auth: Option<(&str, &str)>) -> SmtpSink {
        require_aiosmtpd();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/smtp_sink.py");
        assert!(script.is_file(), "missing {}", script.display());
        let mut last_error = String::new();
        // The free port is found by binding and releasing it, so another process may take it
        // in between; try a few times before calling it a failure.
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
            let mut command = Command::new(PYTHON);
            command
                .arg(&script)
                .args(["--port", &port.to_string()])
                .arg("--maildir")
                .arg(dir.path().join("mail"))
                .arg("--watch-stdin")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr);
            if let Some((user, password)) = auth {
                command.args(["--auth-user", user, "--auth-password", password]);
            }
            let mut child = command.spawn().unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let ready = rx
                .recv_timeout(Duration::from_secs(20))
                .is_ok_and(|line| line.trim() == "READY");
            let stdin = child.stdin.take();
            let sink = SmtpSink {
                child,
                stdin,
                port,
                dir,
            };
            if ready {
                return sink;
            }
            last_error = sink.stderr();
        }
        panic!("smtp_sink.py did not print READY; its stderr:\n{last_error}");
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: FROM.into(),
            timeout_seconds: 5,
        }
    }

    /// The stored messages, oldest first. The sink renames each file into place only once it
    /// is complete, so every file listed here is a whole message.
    fn messages(&self) -> Vec<Email> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        paths.sort();
        paths
            .iter()
            .map(|p| Email::parse(&std::fs::read(p).unwrap()))
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.stdin.take()); // --watch-stdin: the sink shuts down cleanly on EOF
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_aiosmtpd() {
    let probe = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{PYTHON} cannot import aiosmtpd, which the SMTP tests need; install it with \
             `apt-get install python3-aiosmtpd`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run {PYTHON} ({e}); the SMTP tests need it with aiosmtpd: \
             `apt-get install python3 python3-aiosmtpd`"
        ),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// Just enough RFC 5322 reading to check what lettre produced
// ---------------------------------------------------------------------------------------------

struct Email {
    headers: Vec<(String, String)>,
    body: String,
}

impl Email {
    fn parse(raw: &[u8]) -> Email {
        let text = String::from_utf8(raw.to_vec()).expect("the message is ASCII on the wire");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .expect("headers end with a blank line");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("a continuation follows a header");
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("a header line has a colon");
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let mut email = Email {
            headers,
            body: String::new(),
        };
        email.body = match email.header("content-transfer-encoding") {
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                let compact: String = body.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .unwrap(),
                )
                .unwrap()
            }
            Some(e) if e.eq_ignore_ascii_case("quoted-printable") => decode_qp(body),
            _ => body.to_string(),
        }
        .replace("\r\n", "\n");
        email
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The header with RFC 2047 encoded words decoded.
    fn decoded(&self, name: &str) -> String {
        let value = self
            .header(name)
            .unwrap_or_else(|| panic!("no {name} header"));
        decode_words(value)
    }
}

fn decode_qp(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Decodes RFC 2047 `=?charset?b?…?=` words (what lettre writes). Whitespace between two encoded
/// words is dropped, as the RFC says; elsewhere it is kept.
fn decode_words(value: &str) -> String {
    let decode = |token: &str| -> Option<String> {
        let inner = token.strip_prefix("=?")?.strip_suffix("?=")?;
        let mut parts = inner.splitn(3, '?');
        let (_charset, encoding, data) = (parts.next()?, parts.next()?, parts.next()?);
        assert!(
            encoding.eq_ignore_ascii_case("b"),
            "unexpected encoding in {value}"
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        Some(String::from_utf8(bytes).unwrap())
    };
    // Split into alternating runs of whitespace and of other characters.
    let mut tokens: Vec<String> = Vec::new();
    for c in value.chars() {
        match tokens.last_mut() {
            Some(t) if t.starts_with(char::is_whitespace) == c.is_whitespace() => t.push(c),
            _ => tokens.push(c.to_string()),
        }
    }
    let mut out = String::new();
    let mut space = String::new();
    let mut previous_was_encoded = false;
    for token in tokens {
        if token.starts_with(char::is_whitespace) {
            space = token;
            continue;
        }
        let decoded = decode(&token);
        if !(previous_was_encoded && decoded.is_some()) {
            out.push_str(&space);
        }
        space.clear();
        previous_was_encoded = decoded.is_some();
        out.push_str(&decoded.unwrap_or(token));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mail_reaches_a_real_smtp_server() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&sink.config()).unwrap();
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
    assert_eq!(m.header("from"), Some(FROM));
    assert_eq!(m.header("to"), Some("alice@example.com"));
    assert_eq!(m.header("subject"), Some("Your Stepgate code"));
    assert!(m.header("content-type").is_some_and(|v| v
        .to_ascii_lowercase()
        .starts_with("text/plain; charset=utf-8")));
    assert!(m.header("date").is_some(), "lettre sets Date");
    let id = m.header("message-id").expect("a Message-ID is set");
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert_eq!(m.body.trim_end(), body);

    let m = &messages[1];
    assert_eq!(m.header("to"), Some("Bob <bob@example.com>"));
    assert_ne!(m.header("message-id"), messages[0].header("message-id"));
}

#[tokio::test]
async fn utf8_subject_and_body_survive() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&sink.config()).unwrap();
    let subject = "Code de vérification — Stepgate";
    let body = "Votre code : 305617.\nÀ bientôt, 日本語も大丈夫。";
    mailer.send("zoé@example.com", subject, body).await.unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].decoded("subject"), subject);
    assert_eq!(messages[0].body.trim_end(), body);
}

#[tokio::test]
async fn header_injection_through_the_subject_is_neutralised() {
    let sink = SmtpSink::start(None);
    let mailer = Mailer::new(&sink.config()).unwrap();
    mailer
        .send("alice@example.com", "Hi\r\nBcc: eve@example.com", "x")
        .await
        .unwrap();
    let m = &sink.messages()[0];
    assert!(m.header("bcc").is_none());
    assert_eq!(m.decoded("subject"), "Hi  Bcc: eve@example.com");
}

#[tokio::test]
async fn credentials_are_presented_with_auth() {
    let sink = SmtpSink::start(Some(("mailer", "s3cret pass")));
    let mut config = sink.config();

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
    assert_eq!(messages[0].header("subject"), Some("Authenticated"));
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
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves exactly one request with `status` and `body`, then hands the request back. It reads
/// the head up to the blank line and then `Content-Length` bytes: reqwest sends form and JSON
/// bodies with a length, and anything else is a test failure anyway.
async fn one_request_server(
    status: u16,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the end of the headers");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap().split(' ');
        let method = request_line.next().unwrap().to_string();
        let path = request_line.next().unwrap().to_string();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut request_body = buf[head_end + 4..].to_vec();
        while request_body.len() < length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before the end of the body");
            request_body.extend_from_slice(&chunk[..n]);
        }
        let response = format!(
            "HTTP/1.1 {status} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        Request {
            method,
            path,
            headers,
            body: request_body,
        }
    });
    (base, handle)
}

fn form_decode(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
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
