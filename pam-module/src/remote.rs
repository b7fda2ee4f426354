//! Fleet mode: the host protocol (`/pam/v1/…` on `stepgate serve`, JSON over HTTPS),
//! authenticated with this host's credential. The host holds no database, no key and no
//! secret of any user; the server decides and the answers are relayed.
//!
//! Each call has a hard deadline (`timeout=`) covering connect, TLS and the answer; the HTTP
//! client is blocking and made for this module call only (`ureq`: no threads of its own), so
//! when the call ends its connection is closed and nothing is left in the host process.
//! Anything but a well-formed answer is a failure: the login is never let through on doubt.

use crate::args::Remote as RemoteArgs;
use crate::files::{self, Refused};
use crate::verifier::{Failed, Verifier};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;
use stepgate_core::approval::{ApprovalPoll, ApprovalStart};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::enrolment::SentCode;
use stepgate_core::host_login::{AccountStatus, Begin, Begun, Failure};
use stepgate_core::step::Step;
use stepgate_core::ProviderType;
use zeroize::Zeroizing;

/// The protocol's path on the server; a new major version gets a new path.
pub const PROTOCOL_PATH: &str = "pam/v1/";

/// Where the login is, as the server records it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Origin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rhost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
}

pub struct Remote {
    agent: ureq::Agent,
    base: url::Url,
    authorization: Zeroizing<String>,
    origin: Origin,
}

#[derive(Serialize)]
struct BeginRequest<'a> {
    #[serde(flatten)]
    begin: &'a Begin,
    #[serde(flatten)]
    origin: &'a Origin,
}

#[derive(Serialize)]
struct Conversation<'a> {
    conversation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<ProviderType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    /// Sent with every call, so each audit event says where the login is.
    #[serde(flatten)]
    origin: &'a Origin,
}

#[derive(Serialize)]
struct AccountRequest<'a> {
    user: &'a str,
    #[serde(flatten)]
    origin: &'a Origin,
}

#[derive(serde::Deserialize)]
struct AccountAnswer {
    status: AccountStatus,
}

impl Remote {
    /// Reads the credential and the CA (both checked like the module's other files) and
    /// prepares the client; nothing is sent yet.
    pub fn open(args: &RemoteArgs, origin: Origin) -> Result<Remote, Refused> {
        let credential = files::load_credential(&args.credential)?;
        let roots = match &args.ca {
            Some(ca) => files::load_ca(ca)?,
            None => system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Refused(format!("TLS set-up: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let agent = ureq::AgentBuilder::new()
            .tls_config(Arc::new(tls))
            .timeout(args.timeout)
            .redirects(0)
            .user_agent(concat!("pam_stepgate/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut base = args.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Remote {
            agent,
            base,
            authorization: Zeroizing::new(format!("Bearer {}", credential.as_str())),
            origin,
        })
    }

    fn call<T: DeserializeOwned>(&self, op: &str, body: &impl Serialize) -> Result<T, Failed> {
        let url = self
            .base
            .join(PROTOCOL_PATH)
            .and_then(|u| u.join(op))
            .map_err(|e| Failed::new(Failure::Unavailable, format!("bad server URL: {e}")))?;
        let answer = self
            .agent
            .post(url.as_str())
            .set("Authorization", &self.authorization)
            .send_json(body);
        match answer {
            Ok(r) => r.into_json::<T>().map_err(|e| {
                Failed::new(
                    Failure::Unavailable,
                    format!("{url}: the server's answer is not understood: {e}"),
                )
            }),
            Err(ureq::Error::Status(401, _)) => Err(Failed::new(
                Failure::Unavailable,
                format!(
                    "{url}: the server refused this host's credential (removed, rotated, or \
                     not this server's?)"
                ),
            )),
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                match serde_json::from_str::<Failure>(&text) {
                    Ok(f) => Err(Failed::new(f.clone(), format!("{url}: {code}: {f}"))),
                    Err(_) => Err(Failed::new(
                        Failure::Unavailable,
                        format!(
                            "{url}: HTTP {code}: {}",
                            text.chars().take(200).collect::<String>()
                        ),
                    )),
                }
            }
            Err(ureq::Error::Transport(t)) => Err(Failed::new(
                Failure::Unavailable,
                format!("{url}: server unreachable: {t}"),
            )),
        }
    }
}

/// The operating system's CA bundle, for a server whose certificate a public CA signed.
fn system_roots() -> Result<rustls::RootCertStore, Refused> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(Refused(format!(
            "no system CA certificates found ({:?}); give ca=/path/to/ca.pem",
            found.errors.first().map(|e| e.to_string())
        )));
    }
    Ok(roots)
}

impl Verifier for Remote {
    async fn begin(&mut self, b: &Begin) -> Result<Begun, Failed> {
        self.call(
            "begin",
            &BeginRequest {
                begin: b,
                origin: &self.origin,
            },
        )
    }

    async fn send(&mut self, conversation: &str, p: ProviderType) -> Result<SentCode, Failed> {
        self.call(
            "send",
            &Conversation {
                conversation,
                provider: Some(p),
                code: None,
                origin: &self.origin,
            },
        )
    }

    async fn check(
        &mut self,
        conversation: &str,
        p: ProviderType,
        code: &str,
    ) -> Result<CheckOutcome, Failed> {
        self.call(
            "check",
            &Conversation {
                conversation,
                provider: Some(p),
                code: Some(code),
                origin: &self.origin,
            },
        )
    }

    async fn step(&mut self, conversation: &str) -> Result<Step, Failed> {
        self.call(
            "step",
            &Conversation {
                conversation,
                provider: None,
                code: None,
                origin: &self.origin,
            },
        )
    }

    async fn start_approval(&mut self, conversation: &str) -> Result<ApprovalStart, Failed> {
        self.call(
            "approval",
            &Conversation {
                conversation,
                provider: None,
                code: None,
                origin: &self.origin,
            },
        )
    }

    async fn poll_approval(&mut self, conversation: &str) -> Result<ApprovalPoll, Failed> {
        self.call(
            "approval/poll",
            &Conversation {
                conversation,
                provider: None,
                code: None,
                origin: &self.origin,
            },
        )
    }

    async fn cancel(&mut self, conversation: &str) {
        let _ = self.call::<serde_json::Value>(
            "cancel",
            &Conversation {
                conversation,
                provider: None,
                code: None,
                origin: &self.origin,
            },
        );
    }

    async fn account(&mut self, username: &str) -> Result<AccountStatus, Failed> {
        let a: AccountAnswer = self.call(
            "account",
            &AccountRequest {
                user: username,
                origin: &self.origin,
            },
        )?;
        Ok(a.status)
    }
}
