//! HTTPS without a reverse proxy: `[server] tls_cert` / `tls_key`, served by rustls (ring)
//! with ALPN `h2` and `http/1.1`. SIGHUP re-reads both files, so a renewed certificate is
//! picked up by new connections without a restart; a pair that does not load is reported
//! and the certificate in use stays.

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate or key could not be used; names the key and the file, never the
/// file's contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("configuration: {key}: cannot read {}: {source}", path.display())]
    Read {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration: {key}: {} {problem}", path.display())]
    Invalid {
        key: &'static str,
        path: PathBuf,
        problem: String,
    },
}

const CERT_KEY: &str = "server.tls_cert";
const KEY_KEY: &str = "server.tls_key";

/// The certificate and key files and the configuration loaded from them, shared with the
/// acceptor so that a reload reaches the next handshake.
#[derive(Clone, Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RustlsConfig,
}

impl Tls {
    /// Loads both files now, so a bad pair stops start-up.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let config = server_config(cert, key)?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            config: RustlsConfig::from_config(config),
        })
    }

    /// What the acceptor reads at each handshake.
    pub fn rustls_config(&self) -> RustlsConfig {
        self.config.clone()
    }

    /// Re-reads both files; on failure the current certificate stays.
    pub async fn reload(&self) -> Result<(), TlsError> {
        let (cert, key) = (self.cert.clone(), self.key.clone());
        let loaded = tokio::task::spawn_blocking(move || server_config(&cert, &key))
            .await
            .map_err(|e| TlsError::Invalid {
                key: CERT_KEY,
                path: self.cert.clone(),
                problem: format!("could not be loaded: {e}"),
            })??;
        self.config.reload_from_config(loaded);
        Ok(())
    }

    /// Listens for SIGHUP from now on (so the signal no longer ends the process) and reloads
    /// on each one.
    #[cfg(unix)]
    pub fn reload_on_sighup(&self) -> std::io::Result<impl std::future::Future<Output = ()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let tls = self.clone();
        Ok(async move {
            while hup.recv().await.is_some() {
                match tls.reload().await {
                    Ok(()) => tracing::info!(
                        cert = %tls.cert.display(),
                        "SIGHUP: reloaded the TLS certificate; new connections use it"
                    ),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "SIGHUP: the TLS certificate was not reloaded; the previous one stays"
                    ),
                }
            }
        })
    }
}

/// A rustls server configuration from PEM files: the certificate chain (leaf first) and its
/// private key (PKCS#8, PKCS#1 or SEC1).
fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |name: &'static str, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            key: name,
            path: path.to_path_buf(),
            source,
        })
    };
    let invalid = |name: &'static str, path: &Path, problem: String| TlsError::Invalid {
        key: name,
        path: path.to_path_buf(),
        problem,
    };
    let cert_pem = read(CERT_KEY, cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(CERT_KEY, cert, format!("is not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid(
            CERT_KEY,
            cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let key_pem = read(KEY_KEY, key)?;
    // The parser's message could quote the file; the key's is never repeated.
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        invalid(
            KEY_KEY,
            key,
            "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(CERT_KEY, cert, format!("cannot be used: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            invalid(
                KEY_KEY,
                key,
                format!("cannot be used with {}: {e}", cert.display()),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
