//! TLS for a node that faces the network itself: rustls with HTTP/2 and HTTP/1.1 offered by
//! ALPN, and the certificate reloaded when its files change (a renewal by certbot or an
//! operator), without a restart and without dropping connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::error::ServerError;

/// How often the certificate files are looked at. Polling two `stat`s is cheaper than a file
/// watcher and also sees a renewal that swaps a symlink (what certbot does), which inotify on
/// the link's target misses.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// The certificate chain and private key files `--tls-cert` and `--tls-key` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks both files: a chain of one or more PEM certificates and one PEM private
    /// key (PKCS#8, PKCS#1 or SEC1) that belongs to the first certificate.
    pub fn load(&self) -> Result<ServerConfig, ServerError> {
        let bad = |path: &Path, why: String| ServerError::Config(format!("TLS file {}: {why}", path.display()));
        let cert_pem = std::fs::read(&self.cert).map_err(|e| bad(&self.cert, e.to_string()))?;
        let key_pem = std::fs::read(&self.key).map_err(|e| bad(&self.key, e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&self.cert, format!("is not PEM certificates ({e})")))?;
        if chain.is_empty() {
            return Err(bad(&self.cert, "holds no certificate (expected -----BEGIN CERTIFICATE-----)".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| bad(&self.key, format!("holds no PEM private key ({e}); expected PKCS#8, PKCS#1 or SEC1")))?;
        // The provider is named rather than taken from the process default: the tree builds
        // rustls with both ring and aws-lc, and then rustls cannot pick one by itself.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Config(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| bad(&self.key, format!("does not fit the certificate in {} ({e})", self.cert.display())))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// When either file last changed (and how long it is), to notice a renewal.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let one = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        Some([one(&self.cert)?, one(&self.key)?])
    }
}

/// The live configuration and the task that reloads it; the task ends with the server.
pub struct Tls {
    pub config: RustlsConfig,
    pub files: TlsFiles,
}

impl Tls {
    pub fn open(files: TlsFiles) -> Result<Self, ServerError> {
        let config = RustlsConfig::from_config(Arc::new(files.load()?));
        Ok(Tls { config, files })
    }

    /// Swaps in the files' new certificate each time they change. A half-written or broken
    /// pair is logged and the certificate in use stays: a renewal must never take a node down.
    pub fn spawn_reloader(&self) -> tokio::task::JoinHandle<()> {
        let (config, files) = (self.config.clone(), self.files.clone());
        tokio::spawn(async move {
            let mut seen = files.stamp();
            loop {
                tokio::time::sleep(RELOAD_POLL).await;
                let now = files.stamp();
                if now == seen {
                    continue;
                }
                seen = now;
                let loading = files.clone();
                match tokio::task::spawn_blocking(move || loading.load()).await {
                    Ok(Ok(new)) => {
                        config.reload_from_config(Arc::new(new));
                        tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                    }
                    Ok(Err(e)) => tracing::warn!("TLS certificate not reloaded, the one in use stays: {e}"),
                    Err(e) => tracing::warn!("TLS certificate reload failed: {e}"),
                }
            }
        })
    }
}
