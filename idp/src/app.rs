//! Assembling and running the server: [`App::new`] checks the settings and makes sure signing
//! keys exist; [`App::router`] is the whole HTTP surface; [`App::serve`] runs it on a listener
//! until the shutdown future completes, finishing in-flight requests first.

use crate::error::Error;
use crate::oidc::{authorize, device, discovery, end_session, revocation, token, userinfo};
use crate::state::{AppState, Settings, SettingsError};
use crate::web::{account, headers, home, second_factor, sign_in};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use stepgate_core::Core;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Core(#[from] stepgate_core::Error),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// How often expired codes, tokens, sessions and requests are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(300);

/// How often audit events past `[audit] retain_days` are deleted (also once at start).
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How often readiness is measured. Short enough that a load balancer stops sending logins
/// within seconds of the disk filling up; each probe is one small committed write.
const PROBE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct App {
    state: AppState,
    probe_every: Duration,
}

impl App {
    /// Checks `[server]`, and creates the signing keys on first start.
    pub async fn new(core: Core) -> Result<App, StartError> {
        let settings = Settings::from_config(&core.config().server)?;
        // Checked when the configuration was loaded; the file may have gone since.
        core.config()
            .branding
            .read_logo()
            .map_err(|message| SettingsError {
                key: "branding.logo".into(),
                message,
            })?;
        let state = AppState::new(core, settings);
        state.keys.ensure().await?;
        record_readiness(&state, probe(&state).await);
        Ok(App {
            state,
            probe_every: PROBE_EVERY,
        })
    }

    /// Measures readiness this often instead of every 5 s (tests that fill a disk).
    pub fn probe_every(mut self, every: Duration) -> App {
        self.probe_every = every;
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route. The account page, the admin console and the REST API are merged
    /// in as routers of their own modules, behind the same security headers.
    pub fn router(&self) -> Router {
        // Endpoints that browser apps (public clients) call with fetch: any origin may, since
        // they use no cookies, only client credentials or bearer tokens.
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
        let api = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(discovery::openid_configuration),
            )
            .route("/jwks", get(discovery::jwks))
            .route("/token", post(token::token))
            .route("/device_authorization", post(device::device_authorization))
            .route(
                "/userinfo",
                get(userinfo::userinfo_get).post(userinfo::userinfo_post),
            )
            .route("/revoke", post(revocation::revoke))
            .route("/introspect", post(revocation::introspect))
            .layer(cors);
        let oidc = Router::new()
            .route(
                "/authorize",
                get(authorize::authorize_get).post(authorize::authorize_post),
            )
            .route(
                "/end_session",
                get(end_session::end_session_get).post(end_session::end_session_post),
            )
            .merge(api);
        let pages = Router::new()
            .route("/", get(home::home))
            .route("/login", get(sign_in::login_get).post(sign_in::login_post))
            .route(
                "/login/2fa",
                get(second_factor::page_get).post(second_factor::verify_post),
            )
            .route("/login/2fa/send", post(second_factor::send_post))
            .route("/logout", post(home::logout_post))
            .route(
                "/device",
                get(crate::web::device::code_get).post(crate::web::device::code_post),
            )
            .route(
                "/device/approve",
                get(crate::web::device::approve_get).post(crate::web::device::approve_post),
            )
            .route("/static/style.css", get(stylesheet))
            .route("/static/print.js", get(print_script))
            .route("/static/passkey.js", get(passkey_script))
            .route("/branding/logo", get(logo))
            .route(
                "/login/passkey/options",
                post(sign_in::passwordless_options),
            )
            .route("/login/passkey", post(sign_in::passwordless_post))
            .route(
                "/login/2fa/passkey/options",
                post(second_factor::passkey_options),
            )
            .route("/login/2fa/passkey", post(second_factor::passkey_post))
            .merge(account::routes())
            .merge(crate::web::admin::routes())
            .merge(crate::api::routes())
            .merge(crate::host_protocol::routes());
        let ops = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics));
        let mut router = oidc
            .merge(pages)
            .merge(ops)
            .fallback(not_found)
            .with_state(self.state.clone());
        for layer in headers::layers() {
            router = router.layer(layer);
        }
        router
            .layer(middleware::from_fn(crate::error::log_failures))
            .layer(middleware::from_fn_with_state(
                self.state.clone(),
                crate::i18n::layer,
            ))
            .layer(middleware::from_fn_with_state(
                self.state.clone(),
                count_requests,
            ))
            .layer(axum::Extension(self.state.settings.trusted_proxies.clone()))
            // The span names the path only: a query can hold a code (`/device?user_code=`)
            // or a user's name (`login_hint`), which never go to the logs.
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                }),
            )
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        #[allow(unused_mut)] // the SIGHUP task is Unix-only
        let mut background = self.spawn_background();
        // `systemctl reload` (SIGHUP) must not end a server that has nothing to reload.
        #[cfg(unix)]
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            background.push(tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: nothing to reload ([server] tls_cert is not set)");
                }
            }));
        }
        let service = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        background.iter().for_each(|t| t.abort());
        result?;
        Ok(())
    }

    /// [`App::serve`] over HTTPS (HTTP/2 or HTTP/1.1, as ALPN agrees), reloading the
    /// certificate on SIGHUP.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        tls: crate::tls::Tls,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        #[cfg(unix)]
        let reload = tokio::spawn(tls.reload_on_sighup()?);
        let mut background = self.spawn_background();
        #[cfg(unix)]
        background.push(reload);
        let handle = axum_server::Handle::<SocketAddr>::new();
        let stop = handle.clone();
        background.push(tokio::spawn(async move {
            shutdown.await;
            stop.graceful_shutdown(None);
        }));
        let service = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum_server::Server::from_listener(listener)
            // TCP_NODELAY: without it a TLS response written as two
            // records waits for the peer's delayed ACK (tens of milliseconds per PAM call).
            .acceptor(
                axum_server::tls_rustls::RustlsAcceptor::new(tls.rustls_config())
                    .acceptor(axum_server::accept::NoDelayAcceptor::new()),
            )
            .handle(handle)
            .serve(service)
            .await;
        background.iter().for_each(|t| t.abort());
        result?;
        Ok(())
    }

    /// The purge, audit-prune and readiness loops, aborted when serving ends.
    fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(purge_loop(self.state.clone())),
            tokio::spawn(audit_prune_loop(self.state.clone())),
            tokio::spawn(probe_loop(self.state.clone(), self.probe_every)),
        ]
    }
}

/// Opens the core from `config` and serves on `listener` until `shutdown`.
pub async fn run(
    config: stepgate_core::config::Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let core = Core::open(config).await?;
    App::new(core).await?.serve(listener, shutdown).await
}

async fn purge_loop(st: AppState) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = crate::store::purge_expired(st.core.db(), st.now()).await {
            tracing::warn!(error = %e, "could not purge expired OIDC state");
        }
        if let Err(e) = st.core.purge_device_authorizations().await {
            tracing::warn!(error = %e, "could not purge expired device authorizations");
        }
        if let Err(e) = st.core.purge_finished_challenges().await {
            tracing::warn!(error = %e, "could not purge finished challenges");
        }
    }
}

/// Deletes expired audit events on its own task, in small batches (see
/// [`stepgate_core::audit::prune`]), so a large backlog never holds up a login.
async fn audit_prune_loop(st: AppState) {
    let mut tick = tokio::time::interval(AUDIT_PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match stepgate_core::audit::prune(&st.core).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned audit events past retention"),
            Err(e) => tracing::warn!(error = %e, "could not prune audit events"),
        }
    }
}

/// Re-measures readiness every `every`; `/readyz` answers the last finding.
async fn probe_loop(st: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let found = probe(&st).await;
        record_readiness(&st, found);
    }
}

/// Whether logins can be served: the database takes a write, the stored platform settings can
/// be read (otherwise every check is refused), and a signing key exists.
async fn probe(st: &AppState) -> Result<(), &'static str> {
    if let Err(e) = st.core.db().write_probe(st.now()).await {
        tracing::error!(error = %e, "readiness: the database cannot be written");
        return Err("database cannot be written");
    }
    // The core has logged why, once per reread.
    if st.core.twofa_settings().await.is_err() {
        return Err("stored 2FA settings are unreadable; second-factor checks are refused");
    }
    match sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) FROM oidc_signing_keys WHERE retired_at IS NULL",
    )
    .fetch_one(st.core.db().pool())
    .await
    {
        Ok((n,)) if n > 0 => Ok(()),
        Ok(_) => Err("no signing key"),
        Err(e) => {
            tracing::error!(error = %e, "readiness: the database cannot be read");
            Err("database unavailable")
        }
    }
}

fn record_readiness(st: &AppState, found: Result<(), &'static str>) {
    let mut now = st.readiness.lock().unwrap_or_else(|e| e.into_inner());
    if *now != found {
        match found {
            Ok(()) => tracing::info!("ready"),
            Err(reason) => tracing::error!(reason, "not ready"),
        }
    }
    *now = found;
}

async fn count_requests(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    st.metrics
        .http_requests
        .with_label_values(&[&method, &route, resp.status().as_str()])
        .inc();
    resp
}

async fn not_found() -> Error {
    Error::page(
        StatusCode::NOT_FOUND,
        crate::i18n::t("err-not-found-title"),
        crate::i18n::t("err-not-found"),
    )
}

async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        crate::templates::STYLESHEET,
    )
        .into_response()
}

/// `[branding] logo`, read at start; 404 when none is set.
async fn logo(State(st): State<AppState>) -> Response {
    let Some((kind, bytes)) = st.brand.logo.clone() else {
        return not_found().await.into_response();
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        bytes,
    )
        .into_response();
    if kind == "image/svg+xml" {
        // An SVG opened on its own is a document: no script, no loads, in a sandbox.
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
        );
    }
    resp
}

async fn print_script() -> Response {
    script(crate::templates::PRINT_SCRIPT)
}

async fn passkey_script() -> Response {
    script(crate::templates::PASSKEY_SCRIPT)
}

fn script(body: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness, as the last probe found it (see [`probe`]).
async fn readyz(State(st): State<AppState>) -> Response {
    let found = *st.readiness.lock().unwrap_or_else(|e| e.into_inner());
    match found {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        st.metrics.render(),
    )
        .into_response()
}
