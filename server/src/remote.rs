//! A session with a Cipherfold server for the CLI's client commands (`cipherfold federate`,
//! `cipherfold he predict`): it logs in (or takes a token), re-establishes itself with the
//! refresh token when the access token expires, and is patient with a server that is
//! restarting. JSON both ways, or bytes for encrypted prediction.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use url::Url;

use app::model::auth::TokenResponse;

/// Why a request to the server did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("give --token (or CIPHERFOLD_TOKEN), or --username to log in")]
    NoCredentials,
    #[error("cannot read the password: {0}")]
    Password(String),
    #[error("the server at {server} has been unreachable for {secs} s: {reason}")]
    Unreachable { server: String, secs: u64, reason: String },
    #[error("the server refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the server's answer was not understood: {0}")]
    Answer(String),
}

type Result<T> = std::result::Result<T, RemoteError>;

/// Where and as whom: `--server`, `--token` or `--username` (the password from
/// CIPHERFOLD_PASSWORD or a prompt), and how long to wait for an unreachable server.
pub struct Login<'a> {
    pub server: &'a Url,
    pub token: Option<&'a str>,
    pub username: Option<&'a str>,
    pub offline_secs: u64,
}

/// The HTTP side: one session, re-established with the refresh token when it expires, and
/// patient with a server that is restarting.
pub struct Session {
    http: reqwest::Client,
    base: Url,
    access: String,
    refresh: Option<String>,
    offline: Duration,
}

impl Session {
    pub async fn open(login: Login<'_>) -> Result<Session> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| RemoteError::Answer(e.to_string()))?;
        let mut s = Session {
            http,
            base: login.server.clone(),
            access: String::new(),
            refresh: None,
            offline: Duration::from_secs(login.offline_secs),
        };
        match (login.token, login.username) {
            (Some(token), _) => s.access = token.to_owned(),
            (None, Some(user)) => {
                let password = match std::env::var("CIPHERFOLD_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => {
                        rpassword::prompt_password(format!("password for {user}: ")).map_err(|e| RemoteError::Password(e.to_string()))?
                    }
                };
                let body = serde_json::json!({"username": user, "password": password});
                let t: TokenResponse = s.call(reqwest::Method::POST, "/api/auth/login", Some(body.to_string()), false).await?;
                s.access = t.access_token;
                s.refresh = t.refresh_token;
            }
            (None, None) => return Err(RemoteError::NoCredentials),
        }
        Ok(s)
    }

    pub async fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        self.call(reqwest::Method::GET, path, None, true).await
    }

    pub async fn post<T: DeserializeOwned>(&mut self, path: &str, body: String) -> Result<T> {
        self.call(reqwest::Method::POST, path, Some(body), true).await
    }

    /// One request; retried while the server is unreachable (up to `offline`), and once
    /// after refreshing an expired session.
    async fn call<T: DeserializeOwned>(&mut self, method: reqwest::Method, path: &str, body: Option<String>, auth: bool) -> Result<T> {
        let bytes = self.exchange(method, path, body.map(|b| (b.into_bytes(), "application/json")), auth).await?;
        serde_json::from_slice(&bytes).map_err(|e| RemoteError::Answer(format!("{path}: {e}")))
    }

    /// A binary body in, the answer's bytes out (docs/he.md).
    pub async fn post_bytes(&mut self, path: &str, body: Vec<u8>) -> Result<Vec<u8>> {
        self.exchange(reqwest::Method::POST, path, Some((body, "application/octet-stream")), true).await
    }

    async fn exchange(&mut self, method: reqwest::Method, path: &str, body: Option<(Vec<u8>, &str)>, auth: bool) -> Result<Vec<u8>> {
        let url = self.base.join(path).map_err(|e| RemoteError::Answer(e.to_string()))?;
        let since = Instant::now();
        let mut refreshed = false;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if auth {
                req = req.bearer_auth(&self.access);
            }
            if let Some((b, kind)) = &body {
                req = req.header("content-type", *kind).body(b.clone());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    if since.elapsed() > self.offline {
                        return Err(RemoteError::Unreachable {
                            server: self.base.to_string(),
                            secs: since.elapsed().as_secs(),
                            reason: e.to_string(),
                        });
                    }
                    if since.elapsed() < Duration::from_secs(1) {
                        eprintln!("the server is unreachable; trying again");
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(e) => return Err(RemoteError::Answer(e.to_string())),
            };
            let status = resp.status().as_u16();
            if status == 401 && auth && !refreshed && self.refresh.is_some() {
                refreshed = true;
                self.renew().await?;
                continue;
            }
            // A restarting server answers 502/503 behind a proxy: wait like for no answer.
            if matches!(status, 502..=504) && since.elapsed() <= self.offline {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let bytes = resp.bytes().await.map_err(|e| RemoteError::Answer(e.to_string()))?;
            if !(200..300).contains(&status) {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        let fields = v.get("fields").map(|f| format!(" {f}")).unwrap_or_default();
                        v.get("message").and_then(|m| m.as_str()).map(|m| format!("{m}{fields}"))
                    })
                    .unwrap_or(text);
                return Err(RemoteError::Refused { status, message });
            }
            return Ok(bytes.to_vec());
        }
    }

    async fn renew(&mut self) -> Result<()> {
        let body = serde_json::json!({"refresh_token": self.refresh}).to_string();
        let t: TokenResponse = Box::pin(self.call(reqwest::Method::POST, "/api/auth/refresh", Some(body), false)).await?;
        self.access = t.access_token;
        if t.refresh_token.is_some() {
            self.refresh = t.refresh_token;
        }
        Ok(())
    }
}
