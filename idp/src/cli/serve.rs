//! `stepgate serve`: works out of the box. Without a configuration file it writes a
//! development one (SQLite and the secrets key under `./data/`); on an empty database it
//! creates the `admin` user, printing its one-time password once (or taking
//! `STEPGATE_ADMIN_PASSWORD`). Stops gracefully on SIGTERM or Ctrl-C.

use super::{admin_ctx, load_config, CliResult, Io};
use crate::app::{App, StartError};
use crate::state::Settings;
use crate::tls::Tls;
use rand::distributions::{Alphanumeric, DistString};
use std::io::Write;
use std::path::Path;
use stepgate_core::users::{NewUser, Role};
use stepgate_core::Core;

pub const DEV_CONFIG: &str = r#"# Stepgate development configuration, written by `stepgate serve` because no
# configuration file existed. Paths are relative to this file. See docs/configuration.md.

[server]
listen = "127.0.0.1:8080"
issuer = "http://127.0.0.1:8080"

[database]
url = "sqlite://data/stepgate.db"

[secrets]
key_file = "data/secrets.key"

[twofa]
providers = ["TOTP", "BACKUP_CODE"]

# To try SMS codes without a provider, uncomment: codes are appended to data/sms.log.
# [sms]
# kind = "file"
# path = "data/sms.log"
# and add "SMS" to [twofa] providers.
"#;

const ADMIN: &str = "admin";
const ADMIN_PASSWORD_ENV: &str = "STEPGATE_ADMIN_PASSWORD";

/// Writes the development configuration; never overwrites a file.
fn write_dev_config(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(DEV_CONFIG.as_bytes())?;
    f.sync_all()
}

/// Creates the `admin` user when the database has no user at all (first start).
async fn bootstrap_admin(core: &Core, io: &mut Io<'_>) -> CliResult {
    if core.has_users().await? {
        return Ok(());
    }
    let (password, generated) = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (Alphanumeric.sample_string(&mut rand::rngs::OsRng, 20), true),
    };
    core.create_user(
        &admin_ctx(),
        NewUser {
            username: ADMIN.into(),
            email: "admin@localhost.localdomain".into(),
            phone: None,
            display_name: Some("Administrator".into()),
            role: Role::Admin,
            password: Some(password.clone()),
        },
    )
    .await?;
    // Printed, never logged: the logs may be shipped elsewhere.
    if generated {
        writeln!(
            io.stdout,
            "Created the user \"{ADMIN}\" with the one-time password: {password}\n\
             (shown only now; change it with `stepgate user set-password {ADMIN} --password-stdin`)"
        )?;
    } else {
        writeln!(
            io.stdout,
            "Created the user \"{ADMIN}\" with the password from {ADMIN_PASSWORD_ENV}."
        )?;
    }
    io.stdout.flush()?;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

pub async fn serve(path: &Path, io: &mut Io<'_>) -> CliResult {
    let started = std::time::Instant::now();
    if !path.exists() {
        write_dev_config(path)?;
        tracing::info!(path = %path.display(), "wrote a development configuration");
    }
    let config = load_config(path)?;
    let listen = config.server.listen.clone();
    // Before anything is opened or created: a `[server]` value or a certificate that cannot be
    // used stops start-up.
    Settings::from_config(&config.server).map_err(StartError::from)?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(Tls::load(cert, key).map_err(StartError::from)?),
        _ => None,
    };
    let core = Core::open(config).await?;
    bootstrap_admin(&core, io).await?;
    let app = App::new(core).await?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let issuer = app.state().settings.issuer.clone();
    let ready_ms = started.elapsed().as_millis();
    tracing::info!(
        %issuer,
        %listen,
        tls = tls.is_some(),
        ready_ms,
        "Stepgate is ready in {ready_ms} ms; sign in at {issuer}/login"
    );
    match tls {
        Some(tls) => app.serve_tls(listener, tls, shutdown_signal()).await?,
        None => app.serve(listener, shutdown_signal()).await?,
    }
    tracing::info!("stopped");
    Ok(())
}
