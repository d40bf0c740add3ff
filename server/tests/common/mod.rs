//! Starts a real server (real router, real database engine, real object-store directory)
//! on an ephemeral port for a test.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use server::config::Config;
use server::Server;
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    pub backend: server::backend::Backend,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        let server = Server::bind(&config).await.expect("server starts");
        let addr = server.addr;
        let backend = server.backend.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = rx.await;
                })
                .await
                .expect("server runs");
        });
        TestServer { addr, backend, stop: Some(tx), handle: Some(handle) }
    }

    /// In-memory database, objects in `dir`.
    pub async fn in_memory(dir: &Path) -> TestServer {
        TestServer::start(Config::for_tests(dir)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task ends cleanly");
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}
