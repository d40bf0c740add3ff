//! `cipherfold federate`: a participant on its own machine. It reads its data file, checks it
//! against the federation's task, and takes part in the rounds with `app::fl::client` (the
//! same protocol code as the browser's worker); only keys, sealed shares and masked vectors
//! leave the machine. It waits out a server restart, refreshes its session when it expires,
//! and prints each step on the terminal.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use url::Url;

use app::fl::client::Client;
use app::fl::plan;
use app::model::federation::{FederationInfo, FederationStatus, RoundResult, RoundView};

use crate::remote::{Login, RemoteError, Session};

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
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("the federation failed: {0}")]
    Failed(String),
}

type Result<T> = std::result::Result<T, ParticipantError>;

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
    let login =
        Login { server: &args.server, token: args.token.as_deref(), username: args.username.as_deref(), offline_secs: args.offline_secs };
    let mut session = Session::open(login).await?;
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
                    Err(RemoteError::Refused { status: 409, message }) => println!("round {}: {message}", out.round),
                    Err(e) => return Err(e.into()),
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
