//! The `aws-sns` and `smpp` SMS senders against listeners on 127.0.0.1 that check what the real
//! services check: an axum server standing in for SNS re-computes the SigV4 signature with
//! `aws-sigv4` from the same credentials and answers SNS-shaped XML; a TCP server standing in
//! for an SMSC decodes the SMPP PDUs with `rusmpp` and answers them. Then the same two kinds
//! under a real `Core`: a login code arrives, and a failed delivery spends no send counter.

// An integration test crate: a failed setup step stops the test on the spot with its line.
// clippy.toml's allow-unwrap-in-tests covers #[test] functions, not their helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use futures_util::{SinkExt as _, StreamExt as _};
use rusmpp::pdus::{BindTransmitter, BindTransmitterResp, SubmitSm, SubmitSmResp};
use rusmpp::tlvs::TlvValue;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::COctetString;
use rusmpp::values::{DataCoding, InterfaceVersion, Npi, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::error::Error;
use stepgate_core::notify::{build_sms_sender, NotifyError, SmsConfig};
use stepgate_core::providers::ProviderType::Sms;
use stepgate_tests::{digits_in, free_port};
use support::{both_backends, ctx, login, Env, Fixtures};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

// ---------------------------------------------------------------------------------------------
// Amazon SNS
// ---------------------------------------------------------------------------------------------

const ACCESS_KEY_ID: &str = "AKIDEXAMPLESTEPGATE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "eu-west-1";

const PUBLISH_RESPONSE: &str = r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>
  <ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata>
</PublishResponse>"#;

fn sns_error(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>9f2e6a3b-1c4d-5e6f-8a9b-0c1d2e3f4a5b</RequestId>
</ErrorResponse>"#
    )
}

/// What the SNS stand-in answers a correctly signed request with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SnsMode {
    Accept,
    Refuse(u16),
}

/// One request as the SNS stand-in saw it.
#[derive(Debug)]
struct SnsRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
    form: Vec<(String, String)>,
    /// The `Authorization` header equals the one `aws-sigv4` computes for this request.
    signature_ok: bool,
}

impl SnsRequest {
    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct SnsListener {
    endpoint: String,
    mode: Arc<Mutex<SnsMode>>,
    received: mpsc::UnboundedReceiver<SnsRequest>,
}

impl SnsListener {
    /// Verifies signatures made with `ACCESS_KEY_ID`, `SECRET_ACCESS_KEY` and `session_token`.
    async fn start(session_token: Option<&'static str>) -> SnsListener {
        let mode = Arc::new(Mutex::new(SnsMode::Accept));
        let (record, received) = mpsc::unbounded_channel();
        let state = mode.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let record = record.clone();
                let mode = *state.lock().unwrap();
                async move {
                    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
                    let signature_ok = expected_authorization(
                        method.as_str(),
                        &path,
                        &headers,
                        &body,
                        session_token,
                    )
                    .is_some_and(|expected| {
                        headers.get("authorization").and_then(|v| v.to_str().ok())
                            == Some(expected.as_str())
                    });
                    let _ = record.send(SnsRequest {
                        method,
                        path,
                        headers,
                        form: form_urlencoded::parse(&body).into_owned().collect(),
                        signature_ok,
                    });
                    let (status, body) = if !signature_ok {
                        (
                            403,
                            sns_error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."),
                        )
                    } else {
                        match mode {
                            SnsMode::Accept => (200, PUBLISH_RESPONSE.to_string()),
                            SnsMode::Refuse(status) => (
                                status,
                                sns_error("InvalidParameter", "Invalid parameter: PhoneNumber Reason: +15551231234 is not valid"),
                            ),
                        }
                    };
                    (
                        StatusCode::from_u16(status).unwrap(),
                        [("content-type", "text/xml")],
                        body,
                    )
                }
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SnsListener {
            endpoint,
            mode,
            received,
        }
    }

    fn set_mode(&self, mode: SnsMode) {
        *self.mode.lock().unwrap() = mode;
    }

    async fn next(&mut self) -> SnsRequest {
        tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("a request within 10 s")
            .expect("the listener is running")
    }

    fn config(&self, session_token: Option<&str>) -> SmsConfig {
        SmsConfig::AwsSns {
            region: REGION.into(),
            access_key_id: Some(ACCESS_KEY_ID.into()),
            secret_access_key: Some(SECRET_ACCESS_KEY.into()),
            session_token: session_token.map(Into::into),
            endpoint: Some(self.endpoint.clone()),
            timeout_seconds: 5,
        }
    }
}

/// The `Authorization` header SigV4 gives this request: the headers it names as signed, the
/// host it was sent to, its `x-amz-date`, the body, and our credentials, through `aws-sigv4`.
fn expected_authorization(
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    session_token: Option<&str>,
) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = header("authorization")?;
    let signed_headers = authorization
        .split("SignedHeaders=")
        .nth(1)?
        .split(',')
        .next()?;
    let signed: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|name| Some((name, header(name)?)))
        .collect::<Option<_>>()?;
    let url = format!("http://{}{path}", header("host")?);
    let time = parse_amz_date(header("x-amz-date")?)?;
    let identity = Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        session_token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("sns")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let signable =
        SignableRequest::new(method, url, signed.into_iter(), SignableBody::Bytes(body)).ok()?;
    let (instructions, _) = sign(signable, &params).ok()?.into_parts();
    let expected = instructions
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.to_string());
    expected
}

/// `x-amz-date`'s `20270115T083000Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[test]
fn amz_dates_parse() {
    assert_eq!(
        parse_amz_date("20270115T080000Z"),
        Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
    );
    assert_eq!(
        parse_amz_date("19700101T000001Z"),
        Some(UNIX_EPOCH + Duration::from_secs(1))
    );
    assert_eq!(
        parse_amz_date("20000301T000000Z"),
        Some(UNIX_EPOCH + Duration::from_secs(951_868_800))
    );
    assert_eq!(parse_amz_date("2000-03-01"), None);
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // SigV4 signs with the wall clock, so the check uses it too
async fn sns_gets_a_signed_publish() {
    let mut sns = SnsListener::start(None).await;
    let sender = build_sms_sender(&sns.config(None)).unwrap();
    assert_eq!(sender.kind(), "aws-sns");
    let message = "Your Stepgate code is 482913 & not 1+1=2 ü";
    sender.send("+447700900123", message).await.unwrap();

    let request = sns.next().await;
    assert!(
        request.signature_ok,
        "SigV4 signature verified: {request:?}"
    );
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.field("Action"), Some("Publish"));
    assert_eq!(request.field("Version"), Some("2010-03-31"));
    assert_eq!(request.field("PhoneNumber"), Some("+447700900123"));
    assert_eq!(request.field("Message"), Some(message));
    assert_eq!(
        request.field("MessageAttributes.entry.1.Value.StringValue"),
        Some("Transactional")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    // The signature covers what SNS needs covered, in the scope of this region and service.
    let authorization = request.header("authorization").unwrap();
    let date = &request.header("x-amz-date").unwrap()[..8];
    assert!(
        authorization.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{date}/{REGION}/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
        )),
        "{authorization}"
    );
    let signed_at = parse_amz_date(request.header("x-amz-date").unwrap()).unwrap();
    let skew = SystemTime::now()
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew < Duration::from_secs(60),
        "signed now, not {skew:?} off"
    );
    assert_eq!(request.header("x-amz-security-token"), None);
}

#[tokio::test]
async fn sns_signature_is_checked_for_real() {
    // The stand-in expects a session token the sender does not have: the signature differs,
    // it answers 403 like SNS, and the sender reports the refusal.
    let mut sns = SnsListener::start(Some("expected-token")).await;
    let sender = build_sms_sender(&sns.config(None)).unwrap();
    assert_eq!(
        sender.send("+447700900123", "code 1").await,
        Err(NotifyError::Rejected { status: 403 })
    );
    assert!(!sns.next().await.signature_ok);
}

#[tokio::test]
async fn sns_session_token_is_signed_and_sent() {
    let mut sns = SnsListener::start(Some("FwoGZXIvYXdzEXAMPLE//token=")).await;
    let sender = build_sms_sender(&sns.config(Some("FwoGZXIvYXdzEXAMPLE//token="))).unwrap();
    sender.send("+15005550006", "code 2").await.unwrap();
    let request = sns.next().await;
    assert!(request.signature_ok, "{request:?}");
    assert_eq!(
        request.header("x-amz-security-token"),
        Some("FwoGZXIvYXdzEXAMPLE//token=")
    );
    assert!(request
        .header("authorization")
        .unwrap()
        .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"));
}

#[tokio::test]
async fn sns_error_responses_are_failures() {
    let mut sns = SnsListener::start(None).await;
    let sender = build_sms_sender(&sns.config(None)).unwrap();
    sns.set_mode(SnsMode::Refuse(400));
    assert_eq!(
        sender.send("+15551231234", "code 3").await,
        Err(NotifyError::Rejected { status: 400 })
    );
    assert!(sns.next().await.signature_ok);
    sns.set_mode(SnsMode::Refuse(500));
    assert_eq!(
        sender.send("+15551231234", "code 4").await,
        Err(NotifyError::Rejected { status: 500 })
    );
}

#[tokio::test]
async fn sns_unreachable_is_a_transport_error() {
    let config = SmsConfig::AwsSns {
        region: REGION.into(),
        access_key_id: Some(ACCESS_KEY_ID.into()),
        secret_access_key: Some(SECRET_ACCESS_KEY.into()),
        session_token: None,
        endpoint: Some(format!("http://127.0.0.1:{}/", free_port())),
        timeout_seconds: 2,
    };
    let sender = build_sms_sender(&config).unwrap();
    assert!(matches!(
        sender.send("+15551231234", "x").await,
        Err(NotifyError::Transport(_))
    ));
}

#[test]
fn sns_config_is_validated_by_key() {
    let key = |text: &str| {
        toml::from_str::<SmsConfig>(text)
            .unwrap()
            .validate()
            .unwrap_err()
            .0
    };
    let ok = "kind = \"aws-sns\"\nregion = \"eu-west-1\"\n";
    assert!(toml::from_str::<SmsConfig>(ok).unwrap().validate().is_ok());
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu west/1\"\n"),
        "region"
    );
    assert_eq!(key("kind = \"aws-sns\"\nregion = \"\"\n"), "region");
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu-west-1\"\naccess_key_id = \"AK\"\n"),
        "secret_access_key"
    );
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu-west-1\"\nsecret_access_key = \"s\"\n"),
        "access_key_id"
    );
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu-west-1\"\nsession_token = \"t\"\n"),
        "session_token"
    );
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu-west-1\"\nendpoint = \"ftp://x\"\n"),
        "endpoint"
    );
    assert_eq!(
        key("kind = \"aws-sns\"\nregion = \"eu-west-1\"\ntimeout_seconds = 0\n"),
        "timeout_seconds"
    );
    let e = toml::from_str::<SmsConfig>("kind = \"aws-sns\"\nregion = \"r\"\nsecret = \"x\"\n")
        .unwrap_err();
    assert!(e.to_string().contains("unknown field `secret`"), "{e}");
    // Without keys in [sms] or in the environment, building the sender names what to set.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let no_keys = toml::from_str::<SmsConfig>(ok).unwrap();
        assert!(matches!(
            build_sms_sender(&no_keys),
            Err(NotifyError::InvalidConfig {
                key: "access_key_id",
                ..
            })
        ));
    }
    // The whole file names the key with its section.
    let config = stepgate_core::config::Config::parse(
        "[sms]\nkind = \"aws-sns\"\nregion = \"EU\"\n",
        "test.toml",
        Vec::new(),
        None,
    );
    let Err(e) = config else { panic!("refused") };
    let e = e.to_string();
    assert!(e.contains("sms.region"), "{e}");
    // Printing the configuration never shows the secrets.
    let shown = format!(
        "{:?}",
        toml::from_str::<SmsConfig>(
            "kind = \"aws-sns\"\nregion = \"eu-west-1\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"sk-secret\"\nsession_token = \"tok-secret\"\n"
        )
        .unwrap()
    );
    assert!(!shown.contains("secret\""), "{shown}");
    assert!(
        !shown.contains("sk-secret") && !shown.contains("tok-secret"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// SMPP
// ---------------------------------------------------------------------------------------------

const SYSTEM_ID: &str = "stepgate";
const PASSWORD: &str = "pw-1234";

#[derive(Clone, Copy, Debug, PartialEq)]
enum SmppMode {
    Accept,
    /// bind_transmitter_resp with ESME_RINVPASWD (0x0E).
    RefuseBind,
    /// submit_sm_resp with ESME_RSUBMITFAIL (0x45).
    RefuseSubmit,
}

/// One SMPP session as the SMSC stand-in saw it, PDUs decoded by `rusmpp`.
#[derive(Debug, Default)]
struct SmppSession {
    bind: Option<BindTransmitter>,
    submit: Option<SubmitSm>,
    /// The client answered the enquire_link sent to it before the bind was answered.
    enquire_link_answered: bool,
    unbound: bool,
}

impl SmppSession {
    /// The submitted text, decoded by its data_coding, from short_message or message_payload.
    fn text(&self) -> String {
        let submit = self.submit.as_ref().expect("a submit_sm");
        let mut bytes = submit.short_message().as_ref().to_vec();
        if bytes.is_empty() {
            for tlv in submit.tlvs() {
                if let Some(TlvValue::MessagePayload(payload)) = tlv.value() {
                    bytes = payload.value.as_ref().to_vec();
                }
            }
        }
        match submit.data_coding {
            DataCoding::McSpecific => String::from_utf8(bytes).expect("ASCII"),
            DataCoding::Ucs2 => {
                let units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16(&units).expect("UTF-16")
            }
            other => panic!("unexpected data_coding {other:?}"),
        }
    }
}

struct SmppListener {
    port: u16,
    mode: Arc<Mutex<SmppMode>>,
    sessions: mpsc::UnboundedReceiver<SmppSession>,
}

impl SmppListener {
    async fn start() -> SmppListener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(SmppMode::Accept));
        let (record, sessions) = mpsc::unbounded_channel();
        let shared = mode.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let mode = *shared.lock().unwrap();
                let record = record.clone();
                tokio::spawn(async move {
                    let session =
                        smsc_session(Framed::new(stream, CommandCodec::new()), mode).await;
                    let _ = record.send(session);
                });
            }
        });
        SmppListener {
            port,
            mode,
            sessions,
        }
    }

    fn set_mode(&self, mode: SmppMode) {
        *self.mode.lock().unwrap() = mode;
    }

    async fn next(&mut self) -> SmppSession {
        tokio::time::timeout(Duration::from_secs(10), self.sessions.recv())
            .await
            .expect("a session within 10 s")
            .expect("the listener is running")
    }

    fn config(&self, source_address: &str) -> SmsConfig {
        SmsConfig::Smpp {
            host: "127.0.0.1".into(),
            port: self.port,
            system_id: SYSTEM_ID.into(),
            password: PASSWORD.into(),
            system_type: String::new(),
            source_address: source_address.into(),
            source_ton: None,
            source_npi: None,
            tls: false,
            timeout_seconds: 5,
        }
    }
}

/// Plays the SMSC for one connection until unbind or until the client goes away.
async fn smsc_session(
    mut framed: Framed<tokio::net::TcpStream, CommandCodec>,
    mode: SmppMode,
) -> SmppSession {
    let mut session = SmppSession::default();
    while let Some(Ok(command)) = framed.next().await {
        let seq = command.sequence_number();
        match command.pdu() {
            Some(Pdu::BindTransmitter(bind)) => {
                // An SMSC may probe the link at any time; the client must answer.
                framed
                    .send(Command::new(CommandStatus::EsmeRok, 9000, Pdu::EnquireLink))
                    .await
                    .unwrap();
                let good = bind.system_id.as_str() == SYSTEM_ID
                    && bind.password.as_str() == PASSWORD
                    && bind.interface_version == InterfaceVersion::Smpp3_4;
                let status = if good && mode != SmppMode::RefuseBind {
                    CommandStatus::EsmeRok
                } else {
                    CommandStatus::EsmeRinvpaswd
                };
                session.bind = Some(bind.clone());
                let resp = BindTransmitterResp::builder()
                    .system_id(COctetString::from_str("loopsmsc").unwrap())
                    .build();
                framed.send(Command::new(status, seq, resp)).await.unwrap();
            }
            Some(Pdu::SubmitSm(submit)) => {
                session.submit = Some(submit.clone());
                let status = if mode == SmppMode::RefuseSubmit {
                    CommandStatus::EsmeRsubmitfail
                } else {
                    CommandStatus::EsmeRok
                };
                let resp = SubmitSmResp::builder()
                    .message_id(COctetString::from_str("msg-0001").unwrap())
                    .build();
                framed.send(Command::new(status, seq, resp)).await.unwrap();
            }
            Some(Pdu::Unbind) => {
                session.unbound = true;
                framed
                    .send(Command::new(CommandStatus::EsmeRok, seq, Pdu::UnbindResp))
                    .await
                    .unwrap();
                break;
            }
            _ if command.id() == CommandId::EnquireLinkResp && seq == 9000 => {
                session.enquire_link_answered = true;
            }
            _ => {}
        }
    }
    session
}

#[tokio::test]
async fn smpp_binds_submits_and_unbinds() {
    let mut smsc = SmppListener::start().await;
    let sender = build_sms_sender(&smsc.config("Stepgate")).unwrap();
    assert_eq!(sender.kind(), "smpp");
    sender
        .send("+447700900123", "Your Stepgate code is 482913.")
        .await
        .unwrap();

    let session = smsc.next().await;
    let bind = session.bind.as_ref().expect("bind_transmitter");
    assert_eq!(bind.system_id.as_str(), SYSTEM_ID);
    assert_eq!(bind.password.as_str(), PASSWORD);
    assert_eq!(bind.interface_version, InterfaceVersion::Smpp3_4);
    assert!(session.enquire_link_answered);
    let submit = session.submit.as_ref().expect("submit_sm");
    assert_eq!(submit.destination_addr.as_str(), "447700900123");
    assert_eq!(
        (submit.dest_addr_ton, submit.dest_addr_npi),
        (Ton::International, Npi::Isdn)
    );
    assert_eq!(submit.source_addr.as_str(), "Stepgate");
    assert_eq!(
        (submit.source_addr_ton, submit.source_addr_npi),
        (Ton::Alphanumeric, Npi::Unknown)
    );
    assert_eq!(submit.data_coding, DataCoding::McSpecific);
    assert_eq!(
        submit.short_message().as_ref(),
        b"Your Stepgate code is 482913."
    );
    assert!(session.unbound, "the session ends with unbind");
}

#[tokio::test]
async fn smpp_non_ascii_goes_as_ucs2_and_long_text_as_message_payload() {
    let mut smsc = SmppListener::start().await;
    let sender = build_sms_sender(&smsc.config("+15005550006")).unwrap();
    sender
        .send("+15551231234", "Votre code : 482913 — ü")
        .await
        .unwrap();
    let session = smsc.next().await;
    let submit = session.submit.as_ref().unwrap();
    assert_eq!(submit.data_coding, DataCoding::Ucs2);
    assert_eq!(session.text(), "Votre code : 482913 — ü");
    assert_eq!(submit.source_addr.as_str(), "15005550006");
    assert_eq!(
        (submit.source_addr_ton, submit.source_addr_npi),
        (Ton::International, Npi::Isdn)
    );

    let long = format!("Code 482913. {}", "x".repeat(300));
    sender.send("+15551231234", &long).await.unwrap();
    let session = smsc.next().await;
    assert!(session.submit.as_ref().unwrap().short_message().is_empty());
    assert_eq!(session.text(), long);
}

#[tokio::test]
async fn smpp_refusals_are_failures_with_the_command_status() {
    let mut smsc = SmppListener::start().await;
    let sender = build_sms_sender(&smsc.config("Stepgate")).unwrap();

    smsc.set_mode(SmppMode::RefuseBind);
    assert_eq!(
        sender.send("+447700900123", "code 1").await,
        Err(NotifyError::Rejected { status: 0x0E })
    );
    let session = smsc.next().await;
    assert!(session.bind.is_some() && session.submit.is_none());

    smsc.set_mode(SmppMode::RefuseSubmit);
    assert_eq!(
        sender.send("+447700900123", "code 2").await,
        Err(NotifyError::Rejected { status: 0x45 })
    );
    let session = smsc.next().await;
    assert!(session.submit.is_some());
    assert!(session.unbound, "still unbinds after a refused submit_sm");

    // Wrong credentials are refused by the stand-in like a real SMSC.
    smsc.set_mode(SmppMode::Accept);
    let SmsConfig::Smpp { port, .. } = smsc.config("x") else {
        unreachable!()
    };
    let wrong = SmsConfig::Smpp {
        host: "127.0.0.1".into(),
        port,
        system_id: SYSTEM_ID.into(),
        password: "wrong".into(),
        system_type: String::new(),
        source_address: "Stepgate".into(),
        source_ton: None,
        source_npi: None,
        tls: false,
        timeout_seconds: 5,
    };
    assert_eq!(
        build_sms_sender(&wrong)
            .unwrap()
            .send("+447700900123", "code 3")
            .await,
        Err(NotifyError::Rejected { status: 0x0E })
    );
}

#[tokio::test]
async fn smpp_unreachable_or_silent_smsc_is_a_transport_error() {
    let config = |port: u16, timeout_seconds: u64| SmsConfig::Smpp {
        host: "127.0.0.1".into(),
        port,
        system_id: SYSTEM_ID.into(),
        password: PASSWORD.into(),
        system_type: String::new(),
        source_address: "Stepgate".into(),
        source_ton: None,
        source_npi: None,
        tls: false,
        timeout_seconds,
    };
    let refused = build_sms_sender(&config(free_port(), 5)).unwrap();
    assert!(matches!(
        refused.send("+447700900123", "x").await,
        Err(NotifyError::Transport(_))
    ));

    // Accepts the connection and never answers the bind.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let silent = build_sms_sender(&config(port, 1)).unwrap();
    let started = Instant::now();
    let result = silent.send("+447700900123", "x").await;
    assert!(
        matches!(&result, Err(NotifyError::Transport(text)) if text.contains("timed out")),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();
}

#[test]
fn smpp_config_is_validated_by_key() {
    let base = "kind = \"smpp\"\nhost = \"smsc.example\"\nsystem_id = \"stepgate\"\npassword = \"pw\"\nsource_address = \"Stepgate\"\n";
    let c: SmsConfig = toml::from_str(base).unwrap();
    assert!(c.validate().is_ok());
    match &c {
        SmsConfig::Smpp {
            port,
            tls,
            timeout_seconds,
            ..
        } => assert_eq!((*port, *tls, *timeout_seconds), (2775, false, 10)),
        other => panic!("{other:?}"),
    }
    let shown = format!(
        "{:?}",
        toml::from_str::<SmsConfig>(&base.replace("\"pw\"", "\"pw-secret\"")).unwrap()
    );
    assert!(!shown.contains("pw-secret"), "{shown}");
    let key = |replace: (&str, &str)| {
        toml::from_str::<SmsConfig>(&base.replace(replace.0, replace.1))
            .unwrap()
            .validate()
            .unwrap_err()
            .0
    };
    assert_eq!(key(("\"smsc.example\"", "\"\"")), "host");
    assert_eq!(
        key(("\"stepgate\"", "\"a-system-id-too-long\"")),
        "system_id"
    );
    assert_eq!(key(("\"stepgate\"", "\"\"")), "system_id");
    assert_eq!(key(("\"pw\"", "\"longer-than-8\"")), "password");
    assert_eq!(key(("\"Stepgate\"", "\"\"")), "source_address");
    assert_eq!(key(("\"Stepgate\"", "\"Stépgate\"")), "source_address");
    assert_eq!(key(("kind", "port = 0\nkind")), "port");
    assert_eq!(
        key(("kind", "timeout_seconds = 0\nkind")),
        "timeout_seconds"
    );
    assert_eq!(
        key(("kind", "system_type = \"a-very-long-type\"\nkind")),
        "system_type"
    );
    let Err(e) = stepgate_core::config::Config::parse(
        &format!("[sms]\n{}", base.replace("\"pw\"", "\"longer-than-8\"")),
        "test.toml",
        Vec::new(),
        None,
    ) else {
        panic!("refused")
    };
    let e = e.to_string();
    assert!(e.contains("sms.password"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Through the core
// ---------------------------------------------------------------------------------------------

const PHONE: &str = "+15551231234";

/// A core whose `[sms]` section is `sms` instead of the support module's file sink.
async fn core_with_sms(b: support::Backend, sms: &str) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = support::fresh_db_url(b, dir.path()).await;
    let file_sink = "[sms]\nkind = \"file\"\npath = \"sms.log\"\n";
    let text = support::base_config(&db_url, "");
    assert!(text.contains(file_sink), "the base config changed: {text}");
    let text = text.replace(file_sink, sms);
    support::open(dir, db_url, text).await
}

both_backends! {
    async fn sns_login_code_arrives_and_a_failed_send_spends_no_counter(b) {
        let mut sns = SnsListener::start(None).await;
        let env = core_with_sms(b, &format!(
            "[sms]\nkind = \"aws-sns\"\nregion = \"{REGION}\"\naccess_key_id = \"{ACCESS_KEY_ID}\"\n\
             secret_access_key = \"{SECRET_ACCESS_KEY}\"\nendpoint = \"{}\"\ntimeout_seconds = 5\n",
            sns.endpoint
        )).await;
        let u = env.user("sam").await;
        env.core.begin_sms_enrolment(&ctx(), &u, PHONE).await.unwrap();
        let request = sns.next().await;
        assert!(request.signature_ok);
        assert_eq!(request.field("PhoneNumber"), Some(PHONE));
        let code = digits_in(request.field("Message").unwrap(), 6);
        env.core.finish_enrolment(&ctx(), &u, Sms, &code).await.unwrap();

        env.clock.advance(30);
        let c = login(&env, &u).await;
        sns.set_mode(SnsMode::Refuse(500));
        assert!(matches!(env.core.send_code(&ctx(), &c, Sms).await, Err(Error::SendFailed(_))));
        assert!(sns.next().await.signature_ok, "the refused request did reach SNS");
        // No send period was spent: once SNS accepts again, a send goes through at once.
        sns.set_mode(SnsMode::Accept);
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let request = sns.next().await;
        assert_eq!(request.field("PhoneNumber"), Some(PHONE));
        let code = digits_in(request.field("Message").unwrap(), 6);
        assert_eq!(env.core.check_code(&ctx(), &c, Sms, &code).await.unwrap(), CheckOutcome::Verified(Sms));
    }

    async fn smpp_login_code_arrives_and_a_failed_send_spends_no_counter(b) {
        let mut smsc = SmppListener::start().await;
        let env = core_with_sms(b, &format!(
            "[sms]\nkind = \"smpp\"\nhost = \"127.0.0.1\"\nport = {}\nsystem_id = \"{SYSTEM_ID}\"\n\
             password = \"{PASSWORD}\"\nsource_address = \"Stepgate\"\ntimeout_seconds = 5\n",
            smsc.port
        )).await;
        let u = env.user("sid").await;
        env.core.begin_sms_enrolment(&ctx(), &u, PHONE).await.unwrap();
        let session = smsc.next().await;
        assert_eq!(session.submit.as_ref().unwrap().destination_addr.as_str(), &PHONE[1..]);
        let code = digits_in(&session.text(), 6);
        env.core.finish_enrolment(&ctx(), &u, Sms, &code).await.unwrap();

        env.clock.advance(30);
        let c = login(&env, &u).await;
        smsc.set_mode(SmppMode::RefuseSubmit);
        assert!(matches!(env.core.send_code(&ctx(), &c, Sms).await, Err(Error::SendFailed(_))));
        assert!(smsc.next().await.submit.is_some(), "the refused submit_sm did reach the SMSC");
        smsc.set_mode(SmppMode::Accept);
        env.core.send_code(&ctx(), &c, Sms).await.unwrap();
        let session = smsc.next().await;
        let code = digits_in(&session.text(), 6);
        assert_eq!(env.core.check_code(&ctx(), &c, Sms, &code).await.unwrap(), CheckOutcome::Verified(Sms));
    }
}
