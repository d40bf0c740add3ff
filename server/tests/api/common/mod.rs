//! Starts a real server (real router, real database engine, real object-store directory)
//! on an ephemeral port for a test.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use server::config::Config;
use server::Server;
use tokio::sync::oneshot;

pub mod nodes;
pub mod sealed;
pub mod training;

/// A running server reached over HTTP only: in this process or a spawned binary.
pub struct Remote {
    pub addr: SocketAddr,
}

impl Remote {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

pub struct TestServer {
    pub remote: Remote,
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
        TestServer { remote: Remote { addr }, addr, backend, stop: Some(tx), handle: Some(handle) }
    }

    /// In-memory database, objects in `dir`.
    pub async fn in_memory(dir: &Path) -> TestServer {
        TestServer::start(Config::for_tests(dir)).await
    }

    /// A node as deployed: the embedded database on disk (SurrealKV) under `dir`.
    pub async fn on_disk(dir: &Path) -> TestServer {
        let mut config = Config::for_tests(dir);
        config.database = server::config::DatabaseUrl::SurrealKv(dir.join("db"));
        TestServer::start(config).await
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

/// The `p` quantile (0 to 1) of `v`, by the nearest rank: the benchmarks' p50 and p99.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds since `t`.
pub fn ms(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// A registered user with a live session.
pub struct User {
    pub id: String,
    pub username: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl std::ops::Deref for TestServer {
    type Target = Remote;
    fn deref(&self) -> &Remote {
        &self.remote
    }
}

impl Remote {
    pub async fn register(&self, username: &str, domain: &str, subdomain: &str) -> reqwest::Response {
        client()
            .post(self.url("/api/auth/register"))
            .json(&serde_json::json!({
                "username": username,
                "email": format!("{username}@example.org"),
                "password": "correct horse battery",
                "domain": domain,
                "subdomain": subdomain,
            }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        client()
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Registers and logs in; panics if either fails, since the test is about something else.
    pub async fn user(&self, username: &str) -> User {
        let r = self.register(username, "healthcare", "oncology").await;
        assert_eq!(r.status(), 201, "register {username}: {}", r.text().await.unwrap());
        let id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let r = self.login(username, "correct horse battery").await;
        assert_eq!(r.status(), 200, "login {username}");
        let t: serde_json::Value = r.json().await.unwrap();
        User {
            id,
            username: username.to_owned(),
            password: "correct horse battery".to_owned(),
            access: t["access_token"].as_str().unwrap().to_owned(),
            refresh: t["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        client().get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }
}

/// Every file below `dir` (none if it does not exist).
pub fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
