//! The Cipherfold server as a library, so integration tests start the same server the
//! binary runs.
#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
pub mod error;
pub mod he_predict;
pub mod participant;
pub mod remote;
pub mod routes;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;

use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use backend::Backend;
use config::Config;
use error::ServerError;
use routes::AppState;

/// A server whose socket is bound and whose backend is open: everything that can fail at
/// start has failed or succeeded by the time this exists.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    /// HTTPS when the configuration names a certificate.
    tls: Option<tls::Tls>,
    pub addr: SocketAddr,
    pub backend: Backend,
}

impl Server {
    pub async fn bind(config: &Config) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(config.addr).await.map_err(|e| ServerError::listen(config.addr, &e))?;
        let addr = listener.local_addr()?;
        let tls = config.tls.clone().map(tls::Tls::open).transpose()?;
        let backend = Backend::open(config).await?;
        let pkg = config.site_root.join("pkg");
        if !pkg.join(format!("{}.js", app::ui::OUTPUT_NAME)).exists() {
            tracing::warn!(
                site_root = %config.site_root.display(),
                "browser bundle not found: pages render but will not hydrate; build it with scripts/build-site.sh"
            );
        }
        let leptos_options = LeptosOptions::builder()
            .output_name(app::ui::OUTPUT_NAME)
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .env(Env::PROD)
            .build();
        // Cookies a browser got over HTTPS must never travel over plain HTTP later.
        let secure_cookies = config.secure_cookies || tls.is_some();
        let trusted_proxies = config.trusted_proxies.clone().into();
        let router = routes::router(AppState { leptos_options, backend: backend.clone(), secure_cookies, trusted_proxies });
        Ok(Server { listener, router, tls, addr, backend })
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(version = app::VERSION, "cipherfold listening on {scheme}://{}", self.addr);
        // Background work holds the backend; it ends with the server so the database closes.
        let sweeper = spawn_sweeper(self.backend.clone());
        let mut workers = self.backend.jobs.start();
        workers.push(self.backend.federations.start());
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = match self.tls {
            None => axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await,
            Some(tls) => {
                workers.push(tls.spawn_reloader());
                let handle = axum_server::Handle::new();
                let stopping = handle.clone();
                workers.push(tokio::spawn(async move {
                    shutdown.await;
                    // Requests in flight get as long as a proxy would usually wait.
                    stopping.graceful_shutdown(Some(std::time::Duration::from_secs(30)));
                }));
                axum_server::from_tcp_rustls(self.listener.into_std()?, tls.config)?.handle(handle).serve(service).await
            }
        };
        sweeper.abort();
        let _ = sweeper.await;
        for w in workers {
            w.abort();
            let _ = w.await;
        }
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Removes uploads a crash left unfinished and login limits whose tries are all back: at
/// start, then every ten minutes.
fn spawn_sweeper(backend: Backend) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (pending, uploading) = (backend::datasets::STALE_PENDING_SECS, backend::datasets::STALE_UPLOADING_SECS);
            match backend.datasets.sweep_stale(pending, uploading).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} unfinished dataset uploads"),
                Err(e) => tracing::warn!("sweeping unfinished uploads failed: {e}"),
            }
            if let Err(e) = backend.auth.forget_idle_limits().await {
                tracing::warn!("forgetting idle login limits failed: {e}");
            }
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
