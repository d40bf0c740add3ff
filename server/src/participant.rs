//! `cipherfold federate`: a participant on its own machine. It reads its data file, checks it
//! against the federation's task, and takes part in the rounds with `app::fl::client` (the
//! same protocol code as the browser's worker); only keys, sealed shares and masked vectors
//! leave the machine. It waits out a server restart, refreshes its session when it expires,
//! and prints each step on the terminal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde::de::DeserializeOwned;
use url::Url;

use app::fl::client::Client;
use app::fl::plan;
use app::model::auth::TokenResponse;
use app::model::federation::{FederationInfo, FederationStatus, RoundResult, RoundView};

/// `cipherfold federate`'s options.
#[derive(Debug, Clone, Args)]
pub struct FederateArgs {
    /// The Cipherfold server, e.g. `https://cipherfold.example.org`.
    #[arg(long, env = "CIPHERFOLD_SERVER")]
    pub server: Url,
    /// The federation's id (on its page, and in `GET /api/federations`).
    #[arg(long)]
    pub federation: String,
    /// Your rows: a .csv, .tsv, .json, .jsonl or .xlsx file. It is read here and never sent.
    #[arg(long)]
    pub data: PathBuf,
    /// An access token (`POST /api/auth/login`); otherwise log in with --username.
    #[arg(long, env = "CIPHERFOLD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Log in as this user; the password comes from CIPHERFOLD_PASSWORD or a prompt.
    #[arg(long, env = "CIPHERFOLD_USERNAME")]
    pub username: Option<String>,
    /// How often to ask the server for the round's state, in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(20..=60_000))]
    pub poll_ms: u64,
    /// How long to wait for an unreachable server before giving up, in seconds.
    #[arg(long, default_value_t = 600)]
    pub offline_secs: u64,
}

/// Why taking part stopped.
#[derive(Debug, thiserror::Error)]
pub enum ParticipantError {
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Data(String),
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
    #[error("the federation failed: {0}")]
    Failed(String),
}

type Result<T> = std::result::Result<T, ParticipantError>;

/// The HTTP side: one session, re-established with the refresh token when it expires, and
/// patient with a server that is restarting.
struct Session {
    http: reqwest::Client,
    base: Url,
    access: String,
    refresh: Option<String>,
    offline: Duration,
}

impl Session {
    async fn open(args: &FederateArgs) -> Result<Session> {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| ParticipantError::Answer(e.to_string()))?;
        let mut s = Session {
            http,
            base: args.server.clone(),
            access: String::new(),
            refresh: None,
            offline: Duration::from_secs(args.offline_secs),
        };
        match (&args.token, &args.username) {
            (Some(token), _) => s.access = token.clone(),
            (None, Some(user)) => {
                let password = match std::env::var("CIPHERFOLD_PASSWORD") {
                    Ok(p) => p,
                    Err(_) => rpassword::prompt_password(format!("password for {user}: "))
                        .map_err(|e| ParticipantError::Password(e.to_string()))?,
                };
                let body = serde_json::json!({"username": user, "password": password});
                let t: TokenResponse = s.call(reqwest::Method::POST, "/api/auth/login", Some(body.to_string()), false).await?;
                s.access = t.access_token;
                s.refresh = t.refresh_token;
            }
            (None, None) => return Err(ParticipantError::NoCredentials),
        }
        Ok(s)
    }

    async fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        self.call(reqwest::Method::GET, path, None, true).await
    }

    async fn post<T: DeserializeOwned>(&mut self, path: &str, body: String) -> Result<T> {
        self.call(reqwest::Method::POST, path, Some(body), true).await
    }

    /// One request; retried while the server is unreachable (up to `offline`), and once
    /// after refreshing an expired session.
    async fn call<T: DeserializeOwned>(&mut self, method: reqwest::Method, path: &str, body: Option<String>, auth: bool) -> Result<T> {
        let url = self.base.join(path).map_err(|e| ParticipantError::Answer(e.to_string()))?;
        let since = Instant::now();
        let mut refreshed = false;
        loop {
            let mut req = self.http.request(method.clone(), url.clone()).header("content-type", "application/json");
            if auth {
                req = req.bearer_auth(&self.access);
            }
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    if since.elapsed() > self.offline {
                        return Err(ParticipantError::Unreachable {
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
                Err(e) => return Err(ParticipantError::Answer(e.to_string())),
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
            let text = resp.text().await.map_err(|e| ParticipantError::Answer(e.to_string()))?;
            if !(200..300).contains(&status) {
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        let fields = v.get("fields").map(|f| format!(" {f}")).unwrap_or_default();
                        v.get("message").and_then(|m| m.as_str()).map(|m| format!("{m}{fields}"))
                    })
                    .unwrap_or(text);
                return Err(ParticipantError::Refused { status, message });
            }
            return serde_json::from_str(&text).map_err(|e| ParticipantError::Answer(format!("{path}: {e}")));
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

fn describe(result: &RoundResult, rounds: u32) -> String {
    let mut line = format!(
        "round {} ({}) aggregated: {} participants, {} rows",
        result.round,
        result.phase.label(rounds),
        result.participants,
        result.rows
    );
    if let Some(m) = &result.metrics {
        line.push_str(&format!(", global {} {:.4}", m.score_name(), m.score()));
    }
    if let Some(e) = result.epsilon {
        line.push_str(&format!(", privacy spent ε = {e:.4}"));
    }
    line
}

/// A participant's privacy ledger in one line.
fn describe_ledger(l: &app::model::federation::PrivacyLedger) -> String {
    let rounds: Vec<String> = l.contributed.iter().map(u32::to_string).collect();
    format!(
        "your privacy: ε = {:.4} of the budget {} at δ = {:e} after {} training rounds; your update was in rounds [{}] (ε = {:.4} against those who knew when you were sampled)",
        l.epsilon,
        l.budget,
        l.delta,
        l.rounds,
        rounds.join(", "),
        l.epsilon_if_known
    )
}

/// Takes part in the federation until it finishes (`Ok` with the model's id) or fails.
pub async fn federate(args: FederateArgs) -> Result<String> {
    let path = args.data.display().to_string();
    let bytes = std::fs::read(&args.data).map_err(|e| ParticipantError::File { path: path.clone(), reason: e.to_string() })?;
    let mut session = Session::open(&args).await?;
    let id = args.federation.as_str();
    let info: FederationInfo = session.get(&format!("/api/federations/{id}")).await?;
    let task = info.task.clone();
    let name = args.data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.clone());
    let table = task.read_table(&bytes, &name).map_err(|e| ParticipantError::Data(format!("{path}: {e}")))?;
    let data = task.local(&table).map_err(|e| ParticipantError::Data(format!("{path}: {e}")))?;
    println!("{}: {} rows fit the task of “{}” (kept on this machine)", name, data.rows(), info.name);
    if !info.joined {
        let joined: FederationInfo = session.post(&format!("/api/federations/{id}/join"), "{}".into()).await?;
        println!("joined “{}” ({} members)", joined.name, joined.members);
    }
    let mut client = Client::new(id, task).map_err(|e| ParticipantError::Data(e.to_string()))?;
    let mut shown_results = 0;
    let mut sat_out = None;
    let mut waiting = None;
    loop {
        let view: RoundView = session.get(&format!("/api/federations/{id}/round")).await?;
        for r in view.results.iter().skip(shown_results) {
            println!("{}", describe(r, info.rounds));
        }
        shown_results = view.results.len();
        match view.status {
            FederationStatus::Finished => {
                if let Some(l) = &view.privacy {
                    println!("{}", describe_ledger(l));
                }
                let model = view.model_id.unwrap_or_default();
                println!("the federation has finished: model {model}");
                return Ok(model);
            }
            FederationStatus::Failed => return Err(ParticipantError::Failed(view.failure.unwrap_or_default())),
            _ => {}
        }
        if let Some(r) = &view.round {
            let state = (r.round, r.stage);
            if waiting != Some(state) {
                waiting = Some(state);
                let left_out = match (&r.sampled, view.you) {
                    (Some(s), Some(me)) if !s.contains(&me) => " (not sampled for this round: waiting for the next)",
                    _ => "",
                };
                println!(
                    "round {} ({}): {} stage, {} of {} in{left_out}",
                    r.round,
                    r.phase.label(info.rounds),
                    r.stage.as_str(),
                    r.received,
                    r.expected
                );
            }
        }
        match client.next(&view, &data) {
            Ok(Some(out)) => {
                let path = format!("/api/federations/{id}/rounds/{}/{}", out.round, out.stage.as_str());
                let body = out.body().map_err(|e| ParticipantError::Data(e.to_string()))?;
                match session.post::<serde_json::Value>(&path, body).await {
                    Ok(_) => {
                        let mut line = format!("round {}: sent {}", out.round, out.stage.as_str());
                        if out.clipped > 0 {
                            line.push_str(&format!(
                                " ({} values were outside ±{} and were clipped to it)",
                                out.clipped,
                                plan::encoding(&info.task, out.phase).clip
                            ));
                        }
                        if let Some(m) = &out.local {
                            line.push_str(&format!("; local model on local rows: {} {:.4}", m.score_name(), m.score()));
                        }
                        println!("{line}");
                    }
                    // The stage moved on (a deadline passed) or the message was already
                    // taken: the next view says where things are.
                    Err(ParticipantError::Refused { status: 409, message }) => println!("round {}: {message}", out.round),
                    Err(e) => return Err(e),
                }
            }
            Ok(None) => {}
            Err(e) => {
                let round = view.round.as_ref().map(|r| r.round);
                if sat_out != round {
                    sat_out = round;
                    println!("sitting round {} out: {e}", round.unwrap_or_default());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(args.poll_ms)).await;
    }
}
