//! A federation's participant in the browser tab: the federations page's bundle
//! (`pkg/cipherfold_worker_federate.js`, `--features worker-federate`), so the other pages'
//! workers do not carry the trainer and the secure-aggregation crypto.

use app::file_worker::WorkerReply;
use app::fl::client::Client;
use app::fl::train::FlTask;
use app::model::federation::{FederationStatus, RoundView};
use app::table::Table;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::{fetch, json, ok, post, read_whole, scope, Result, State};

/// What a participant with a larger file can do.
const USE_THE_CLI: &str = "; take part with `cipherfold federate` on your own machine instead";

/// Checks the picked file against the federation's task (the participant's first step): the
/// rows it would train on.
pub(super) async fn check_task(file: &File, task: &FlTask) -> Result<WorkerReply> {
    let table = task_table(file, task).await?;
    Ok(WorkerReply::TaskChecked { rows: task.local(&table).map_err(|e| e.to_string())?.rows() })
}

/// `file` read whole, as the task reads it (here, in the tab: the rows never leave it).
async fn task_table(file: &File, task: &FlTask) -> Result<Table> {
    Ok(task.read_table(&read_whole(file, USE_THE_CLI).await?, &file.name()).map_err(|e| e.to_string())?)
}

/// The secure-aggregation pair mask of `n` words between `secret` and `peer_public` in round
/// `round` of `federation` (`app::fl::masks::pair_mask`), for checking this wasm build's masks
/// against the native build's known answer.
#[wasm_bindgen]
pub fn secagg_pair_mask(
    secret: &[u8],
    peer_public: &[u8],
    federation: &str,
    round: u32,
    n: usize,
) -> std::result::Result<Vec<u64>, JsError> {
    let key = |b: &[u8]| <[u8; 32]>::try_from(b).map_err(|_| JsError::new("keys are 32 bytes"));
    let context = app::fl::masks::RoundContext { federation: federation.to_owned(), round };
    app::fl::masks::pair_mask(key(secret)?, key(peer_public)?, &context, n).map_err(|e| JsError::new(&e.to_string()))
}

/// How often a participant asks for the round's state.
const POLL_MS: i32 = 250;
/// How long a participant keeps trying an unreachable server before it gives up.
const OFFLINE_MS: f64 = 120_000.0;

/// Takes part in a federation's rounds with `file` (read here, never sent) until the
/// federation ends or the page cancels: the same loop as `cipherfold federate`, on
/// `app::fl::client`. Each change of the round and each message sent is reported.
pub(super) async fn federate(state: &State, file: &File, federation: String, task: FlTask) -> Result<WorkerReply> {
    let table = task_table(file, &task).await?;
    let data = task.local(&table).map_err(|e| e.to_string())?;
    let mut client = Client::new(federation.clone(), task).map_err(|e| e.to_string())?;
    let round_url = format!("/api/federations/{federation}/round");
    let mut last: Option<RoundView> = None;
    let mut sat_out = None;
    let mut offline_since: Option<f64> = None;
    loop {
        state.check()?;
        let view: RoundView = match fetch("GET", &round_url, None).await {
            Ok(res) => {
                offline_since = None;
                json(ok(res).await?).await?
            }
            Err(e) => {
                let now = js_sys::Date::now();
                if now - *offline_since.get_or_insert(now) > OFFLINE_MS {
                    return Err(e);
                }
                sleep(1000).await;
                continue;
            }
        };
        let mut shown = view.clone();
        if let Some(r) = shown.round.as_mut() {
            r.roster.clear();
            r.envelopes.clear();
        }
        if last.as_ref() != Some(&shown) {
            post(&WorkerReply::Round { view: Box::new(shown.clone()) });
            last = Some(shown);
        }
        match view.status {
            FederationStatus::Finished | FederationStatus::Failed => {
                return Ok(WorkerReply::FederationEnded { model_id: view.model_id, failure: view.failure });
            }
            _ => {}
        }
        match client.next(&view, &data) {
            Ok(Some(out)) => {
                let url = format!("/api/federations/{federation}/rounds/{}/{}", out.round, out.stage.as_str());
                let res = fetch("POST", &url, Some(&out.body().map_err(|e| e.to_string())?)).await?;
                // 409: the stage moved on meanwhile (a deadline); the next view says where to.
                if res.status() != 409 {
                    ok(res).await?;
                    post(&WorkerReply::Sent {
                        round: out.round,
                        phase: out.phase,
                        stage: out.stage,
                        clipped: out.clipped,
                        local: out.local,
                    });
                }
            }
            Ok(None) => {}
            Err(e) => {
                let round = view.round.as_ref().map_or(0, |r| r.round);
                if sat_out != Some(round) {
                    sat_out = Some(round);
                    post(&WorkerReply::SatOut { round, reason: e.to_string() });
                }
            }
        }
        sleep(POLL_MS).await;
    }
}

/// Resolves after `ms` milliseconds (the worker's `setTimeout`).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}
