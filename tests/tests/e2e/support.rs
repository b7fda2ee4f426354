//! Shared by the end-to-end tests: a `stepgate serve` started in-process on a free loopback
//! port (SQLite, or a fresh database on the PostgreSQL that `scripts/test.sh` starts), a
//! browser (reqwest with a cookie store, forms read with a real HTML parser), and the relying
//! party side built on the `openidconnect` crate.
#![allow(dead_code)]

use openidconnect::core::{CoreClient, CoreJwsSigningAlgorithm};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadataWithLogout, RedirectUrl,
};
use reqwest::StatusCode;
use scraper::{Html, Selector};
use std::path::PathBuf;
use std::sync::Arc;
use stepgate_core::time::{Clock, ManualClock};
use stepgate_core::users::{NewUser, User};
use stepgate_core::{Core, RequestContext, Source};
use stepgate_idp::cli::{self, Output};
use stepgate_idp::App;
use tokio::sync::oneshot;
use url::Url;

// The fixtures (users, SMS codes, the audit log; tests/src/fixtures.rs), the backends and the
// both-backends macro are the workspace's test kit's, shared with the core's and the PAM
// module's tests.
pub use stepgate_tests::both_backends;
pub use stepgate_tests::fixtures::{Fixtures, PASSWORD, PHONE};
pub use stepgate_tests::{fresh_db_url, Backend};
/// Where relying parties in these tests send users back; never requested (the browser stops
/// at the redirect and the test reads the code from it).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
pub const POST_LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";

pub fn ctx() -> RequestContext {
    RequestContext::new(Source::Admin)
}

/// One running provider.
pub struct Server {
    /// Where this instance listens (`http://127.0.0.1:PORT`).
    pub base: String,
    /// The configured issuer (another instance's base, for a second instance).
    pub issuer: String,
    pub core: Core,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub dir: Arc<tempfile::TempDir>,
    pub config_path: PathBuf,
    config_text: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// For a server started with [`Server::start_tls`]: the CA that signed its certificate.
    pub ca_path: Option<PathBuf>,
}

/// A throw-away CA and a certificate it signed for 127.0.0.1 and localhost: (CA, certificate,
/// key), PEM.
pub fn test_pki(name: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Stepgate test CA {name}"),
    );
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = ca.self_signed(&ca_key).expect("CA certificate");
    let key = rcgen::KeyPair::generate().expect("server key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
        .expect("server params");
    let cert = leaf
        .signed_by(&key, &ca, &ca_key)
        .expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Moves the keys of later `[server]` tables into the first one (TOML allows a table once).
fn merge_server_keys(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    let mut seen = false;
    let mut in_later = false;
    for line in text.lines() {
        if line.trim() == "[server]" {
            in_later = seen;
            seen = true;
            if in_later {
                continue;
            }
        } else if line.trim_start().starts_with('[') {
            in_later = false;
        }
        if in_later {
            extra.push(line.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    let at = out
        .iter()
        .position(|l| l.trim() == "[server]")
        .map_or(0, |i| i + 1);
    for (i, l) in extra.into_iter().enumerate() {
        out.insert(at + i, l);
    }
    out.join("\n") + "\n"
}

#[allow(clippy::disallowed_methods)] // the manual clock starts at the real time
fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn config_text(issuer: &str, db_url: &str, extra: &str) -> String {
    let addr = issuer
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let mut text = format!(
        "[server]\nlisten = \"{addr}\"\nissuer = \"{issuer}\"\n\
         [database]\nurl = \"{db_url}\"\nmax_connections = 8\n\
         [password]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
    );
    if !extra.contains("[sms]") {
        text.push_str("[sms]\nkind = \"file\"\npath = \"sms.log\"\n");
    }
    if !extra.contains("[twofa]") {
        text.push_str(
            "[twofa]\nproviders = [\"TOTP\", \"SMS\", \"BACKUP_CODE\"]\nenforce_two_fa = false\n",
        );
    }
    text.push_str(extra);
    text
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Self::start_with(backend, "").await
    }

    /// Starts a server whose config is the base (SMS file sink; TOTP, SMS and backup codes)
    /// plus `extra` TOML (which may bring its own `[twofa]`).
    pub async fn start_with(backend: Backend, extra: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let db_url = fresh_db_url(backend, dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let text = merge_server_keys(&config_text(&base, &db_url, extra));
        let config_path = dir.path().join("stepgate.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let clock = Arc::new(ManualClock::new(real_now()));
        Self::launch(
            listener,
            base.clone(),
            base,
            dir,
            config_path,
            text,
            clock,
            None,
        )
        .await
    }

    /// As [`Server::start_with`], over HTTPS: a throw-away CA (its certificate in
    /// [`Server::ca_path`]) signed the server's certificate for 127.0.0.1; `stepgate serve`
    /// speaks TLS itself (`[server] tls_cert`/`tls_key`).
    pub async fn start_tls(backend: Backend, extra: &str) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let db_url = fresh_db_url(backend, dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("https://{}", listener.local_addr().expect("address"));
        let pki = test_pki("fleet");
        let (ca, cert, key) = (
            dir.path().join("ca.pem"),
            dir.path().join("server.pem"),
            dir.path().join("server.key"),
        );
        std::fs::write(&ca, &pki.0).expect("write CA");
        std::fs::write(&cert, &pki.1).expect("write cert");
        std::fs::write(&key, &pki.2).expect("write key");
        let text = config_text(
            &base,
            &db_url,
            &format!(
                "{extra}
[server]
tls_cert = \"{}\"
tls_key = \"{}\"
",
                cert.display(),
                key.display()
            ),
        );
        // `[server]` appears twice; merge the TLS keys into the first table instead.
        let text = merge_server_keys(&text);
        let config_path = dir.path().join("stepgate.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let clock = Arc::new(ManualClock::new(real_now()));
        let tls = stepgate_idp::tls::Tls::load(&cert, &key).expect("load the test certificate");
        let mut s = Self::launch_with(
            listener,
            base.clone(),
            base,
            dir,
            config_path,
            text,
            clock,
            None,
            Some(tls),
        )
        .await;
        s.ca_path = Some(ca);
        s
    }

    /// As [`Server::start_with`], on the database at `db_url` (a SQLite file on a file system
    /// the test controls), measuring readiness every `probe_every`.
    pub async fn start_on(db_url: &str, extra: &str, probe_every: std::time::Duration) -> Server {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let text = config_text(&base, db_url, extra);
        let config_path = dir.path().join("stepgate.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let clock = Arc::new(ManualClock::new(real_now()));
        let probe = Some(probe_every);
        Self::launch(
            listener,
            base.clone(),
            base,
            dir,
            config_path,
            text,
            clock,
            probe,
        )
        .await
    }

    /// Another instance on the same database and secrets key (another process as far as any
    /// state is concerned: its own pool, its own caches), with the same issuer.
    pub async fn second_instance(&self) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        Self::launch(
            listener,
            base,
            self.issuer.clone(),
            self.dir.clone(),
            self.config_path.clone(),
            self.config_text.clone(),
            self.clock.clone(),
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)] // each is one piece of the instance's identity
    async fn launch(
        listener: tokio::net::TcpListener,
        base: String,
        issuer: String,
        dir: Arc<tempfile::TempDir>,
        config_path: PathBuf,
        text: String,
        clock: Arc<ManualClock>,
        probe_every: Option<std::time::Duration>,
    ) -> Server {
        Self::launch_with(
            listener,
            base,
            issuer,
            dir,
            config_path,
            text,
            clock,
            probe_every,
            None,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)] // each is one piece of the instance's identity
    async fn launch_with(
        listener: tokio::net::TcpListener,
        base: String,
        issuer: String,
        dir: Arc<tempfile::TempDir>,
        config_path: PathBuf,
        text: String,
        clock: Arc<ManualClock>,
        probe_every: Option<std::time::Duration>,
        tls: Option<stepgate_idp::tls::Tls>,
    ) -> Server {
        let core = stepgate_tests::fixtures::open_core(&text, dir.path(), clock.clone()).await;
        let mut app = App::new(core.clone()).await.expect("start the provider");
        if let Some(every) = probe_every {
            app = app.probe_every(every);
        }
        let (tx, rx) = oneshot::channel::<()>();
        let serving = app.clone();
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = rx.await;
            };
            match tls {
                Some(tls) => serving.serve_tls(listener, tls, stop).await,
                None => serving.serve(listener, stop).await,
            }
            .expect("serve");
        });
        Server {
            base,
            issuer,
            core,
            app,
            clock,
            dir,
            config_path,
            config_text: text,
            shutdown: Some(tx),
            task: Some(task),
            ca_path: None,
        }
    }

    /// Stops accepting, finishes requests in flight, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs `stepgate --config <this server's config> ARGS` in-process.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = vec!["--config", self.config_path.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        cli::execute(all, stdin.as_bytes()).await
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub async fn cli_ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.cli(args, stdin).await;
        assert_eq!(out.code, 0, "stepgate {args:?} failed: {}", out.stderr);
        out.stdout
    }

    /// Registers a client through the CLI; returns its secret for confidential clients.
    pub async fn client(&self, id: &str, extra: &[&str]) -> Option<String> {
        let mut args = vec![
            "client",
            "add",
            id,
            "--redirect-uri",
            REDIRECT_URI,
            "--post-logout-redirect-uri",
            POST_LOGOUT_URI,
        ];
        args.extend_from_slice(extra);
        let out = self.cli_ok(&args, "").await;
        let last = out.lines().last().unwrap_or("");
        last.contains("client_secret")
            .then(|| last.split_whitespace().last().unwrap_or("").to_string())
    }

    /// A user with TOTP provisioned (through the CLI, as for SSH-only users); returns the
    /// base32 secret read from the otpauth URI it printed. (This inherent method, not
    /// [`Fixtures::totp_user`], is what `server.totp_user(…)` calls.)
    pub async fn totp_user(&self, name: &str) -> (User, String) {
        let user = self.user(name).await;
        let out = self
            .cli_ok(&["user", "enroll-totp", name, "--no-qr"], "")
            .await;
        let uri = Url::parse(out.trim()).expect("otpauth URI");
        let secret = uri
            .query_pairs()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v.into_owned())
            .expect("secret in the URI");
        (user, secret)
    }

    /// The TOTP code for `secret` at the server's clock.
    pub fn totp(&self, secret_base32: &str) -> String {
        let secret = stepgate_tests::fixtures::secret_bytes(secret_base32);
        stepgate_tests::fixtures::totp_at(&secret, self.now())
    }
}

/// Users with [`PHONE`] and a display name, created by an administrator.
impl Fixtures for Server {
    fn core(&self) -> &Core {
        &self.core
    }

    fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn new_user(&self, name: &str) -> NewUser {
        NewUser {
            phone: Some(PHONE.into()),
            display_name: Some(format!("{name} Example")),
            ..stepgate_tests::fixtures::new_user(name)
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub use stepgate_tests::digits_in;

// ---------------------------------------------------------------------------------------------
// The browser

/// A response as a browser sees it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub url: Url,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The text a person reads (tags stripped, whitespace collapsed).
    pub fn text(&self) -> String {
        let doc = Html::parse_document(&self.body);
        let text: Vec<String> = doc
            .root_element()
            .text()
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty())
            .collect();
        text.join(" ")
    }

    pub fn forms(&self) -> Vec<Form> {
        let doc = Html::parse_document(&self.body);
        let form_sel = Selector::parse("form").expect("selector");
        let input_sel = Selector::parse("input").expect("selector");
        doc.select(&form_sel)
            .map(|f| {
                let action = f.value().attr("action").unwrap_or("");
                let action = self.url.join(action).expect("form action");
                let fields = f
                    .select(&input_sel)
                    .filter_map(|i| {
                        let name = i.value().attr("name")?;
                        Some((
                            name.to_string(),
                            i.value().attr("value").unwrap_or("").to_string(),
                        ))
                    })
                    .collect();
                Form {
                    action,
                    method: f.value().attr("method").unwrap_or("get").to_lowercase(),
                    fields,
                }
            })
            .collect()
    }

    /// Whether this is the sign-in page: a 200 with the password form that posts to /login
    /// (wherever it was answered: /authorize shows it directly, other pages redirect to it).
    pub fn is_sign_in(&self) -> bool {
        self.status == StatusCode::OK
            && self.forms().iter().any(|f| {
                f.action.path() == "/login" && f.fields.iter().any(|(n, _)| n == "password")
            })
    }

    /// The form that has an input named `field` (and, when given, with that value).
    pub fn form_with(&self, field: &str, value: Option<&str>) -> Form {
        self.forms()
            .into_iter()
            .find(|f| {
                f.fields
                    .iter()
                    .any(|(n, v)| n == field && value.is_none_or(|want| v == want))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no form with {field}={value:?} on {} ({}): {}",
                    self.url,
                    self.status,
                    self.text()
                )
            })
    }

    /// Links (`href`) on the page, resolved.
    pub fn links(&self) -> Vec<(String, Url)> {
        let doc = Html::parse_document(&self.body);
        let sel = Selector::parse("a[href]").expect("selector");
        doc.select(&sel)
            .filter_map(|a| {
                let href = a.value().attr("href")?;
                Some((a.text().collect::<String>(), self.url.join(href).ok()?))
            })
            .collect()
    }

    /// The query parameters of the redirect this page is.
    pub fn redirect_params(&self) -> Vec<(String, String)> {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("not a redirect: {} {}", self.status, self.text()));
        let url = self.url.join(loc).expect("location");
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn set(mut self, name: &str, value: &str) -> Form {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(f) => f.1 = value.to_string(),
            None => self.fields.push((name.to_string(), value.to_string())),
        }
        self
    }
}

/// A browser: one cookie jar, redirects followed only on the provider's own origin.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }

    /// A browser that trusts the CA at `ca` (for a server speaking TLS itself).
    pub fn trusting(ca: &std::path::Path) -> Browser {
        let pem = std::fs::read(ca).expect("read the CA");
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA pem"))
                .build()
                .expect("http client"),
        }
    }

    /// A browser whose user reads `lang` first (its `Accept-Language`).
    pub fn speaking(lang: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_str(lang).expect("language tag"),
        );
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .expect("http client"),
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        let status = resp.status();
        let url = resp.url().clone();
        let headers = resp.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.text().await.expect("body");
        Page {
            status,
            url,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let resp = self.http.get(url).send().await.expect("GET");
        self.follow(Self::page(resp).await).await
    }

    pub async fn submit(&self, form: Form) -> Page {
        assert_eq!(form.method, "post", "forms that change state use POST");
        let resp = self
            .http
            .post(form.action.clone())
            .form(&form.fields)
            .send()
            .await
            .expect("POST");
        self.follow(Self::page(resp).await).await
    }

    /// Follows redirects that stay on the page's origin; a redirect elsewhere (to the relying
    /// party) is returned as is.
    pub async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(loc) = page.location.clone() else {
                return page;
            };
            let next = page.url.join(&loc).expect("location");
            if next.origin() != page.url.origin() {
                return page;
            }
            let resp = self.http.get(next).send().await.expect("GET");
            page = Self::page(resp).await;
        }
        panic!("too many redirects")
    }
}

// ---------------------------------------------------------------------------------------------
// The relying party

/// (Revocation is called with plain HTTP requests: `oauth2` refuses a non-https revocation
/// endpoint, and the tests serve on loopback http.)
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An HTTP client for the relying party's back channel (no redirects, as OAuth requires).
pub fn rp_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Discovers the provider at `issuer` and builds a relying party for `client_id`.
pub async fn relying_party(
    server: &Server,
    client_id: &str,
    secret: Option<String>,
) -> (Rp, ProviderMetadataWithLogout) {
    let metadata = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(server.issuer.clone()).expect("issuer"),
        &rp_http(),
    )
    .await
    .expect("discovery");
    let rp = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client_id.into()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).expect("redirect"));
    (rp, metadata)
}

/// Our ID tokens are ES256 unless the client asked for RS256.
pub fn es256() -> Vec<CoreJwsSigningAlgorithm> {
    vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256]
}

/// The claims of a JWT, read without verifying (after openidconnect verified it), for the
/// claims `openidconnect`'s types do not expose (`sid`).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// The audit events of one kind, newest first.
pub async fn events(server: &Server, kind: &str) -> Vec<stepgate_core::audit::AuditRecord> {
    stepgate_core::audit::list(
        server.core.db().pool(),
        &stepgate_core::audit::AuditFilter {
            event: Some(kind.into()),
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .expect("read the audit log")
}
