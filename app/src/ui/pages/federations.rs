//! Federations of the caller's area: the list, and one federation: its task, its rounds as
//! they happen (the event stream), joining it, and taking part with a local file.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{federation_round, get_federation, join_federation, list_federations};
use crate::file_worker::{Deferred, WorkerBundle, WorkerReply, WorkerRequest};
use crate::fl::train::{FlModel, FlTask};
use crate::model::auth::Me;
use crate::model::federation::{FederationInfo, FederationStatus, RoundResult, RoundView, Stage};
use crate::model::ApiError;
use crate::ui::chart::{line_chart, score_chart, Series};
use crate::ui::file_worker::{picked_file, use_hydrated, ErrorLine, FileWorker};
use crate::ui::form::{capitalise, count, load_failure, load_failures, not_found, utc};
use crate::ui::pages::account::RequireUser;
use crate::ui::session::action_error;

/// A member's part in the rounds, in the file worker: the file is checked against the task,
/// then, on request, the worker trains on it each round and sends only keys, sealed shares
/// and masked vectors. Leaving (the button, or closing the tab) is a dropout the others'
/// rounds survive.
#[component]
fn TakePart(federation: String, task: FlTask, rounds: u32, local: RwSignal<Vec<(f64, f64)>>) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let hydrated = use_hydrated();
    let (status, error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let fits = RwSignal::new(false);
    let running = RwSignal::new(false);
    let ended = RwSignal::new(false);
    let log = RwSignal::new(Vec::<String>::new());
    let note = move |line: String| {
        log.update(|l| {
            l.push(line);
            if l.len() > 8 {
                l.remove(0);
            }
        })
    };
    let worker = FileWorker::new(WorkerBundle::Federate, move |reply| match reply {
        WorkerReply::TaskChecked { rows } => {
            fits.set(true);
            status.set(format!(
                "Your file fits this federation: {} with a value to learn. Nothing has left this browser.",
                count(rows as u64, "row", "rows")
            ));
        }
        WorkerReply::Round { view } => {
            if let Some(r) = &view.round {
                status.set(format!(
                    "Round {} ({}): {} stage, {} of {} in{}",
                    r.round,
                    r.phase.label(rounds),
                    stage_words(r.stage),
                    r.received,
                    r.expected,
                    if r.sent { ", yours included." } else { "." }
                ));
            }
        }
        WorkerReply::Sent { round, phase, stage, clipped, local: mine } => {
            let mut line = format!("Round {round}: sent your {}", sent_words(stage));
            if clipped > 0 {
                line.push_str(&format!(
                    " ({} outside the encoding's range, clipped to it)",
                    count(clipped as u64, "value was", "values were")
                ));
            }
            if let (Some(m), crate::model::federation::Phase::Train { step }) = (&mine, phase) {
                line.push_str(&format!("; your model on your rows: {} {:.3}", m.score_name(), m.score()));
                local.update(|l| l.push((f64::from(step), m.score())));
            }
            note(format!("{line}."));
        }
        WorkerReply::SatOut { round, reason } => note(format!("Round {round}: this browser sits it out ({reason}).")),
        WorkerReply::FederationEnded { model_id, failure } => {
            running.set(false);
            ended.set(true);
            match (model_id, failure) {
                (_, Some(why)) => error.set(Some(format!("The federation failed: {why}."))),
                _ => status.set("The federation has finished. Its model is linked above.".into()),
            }
        }
        WorkerReply::Cancelled => {
            running.set(false);
            status.set("You left the rounds. The others carry on without you; you can take part again from the next round.".into());
        }
        WorkerReply::Failed { message } => {
            running.set(false);
            if fits.get_untracked() {
                error.set(Some(format!("Taking part stopped: {message}.")));
            } else {
                status.set(String::new());
                error.set(Some(format!("This file does not fit the federation: {message}. Nothing was sent.")));
            }
        }
        _ => {}
    });
    let task = StoredValue::new(task);
    let federation = StoredValue::new(federation);
    let pick = move |_| {
        error.set(None);
        fits.set(false);
        let Some(file) = picked_file(input) else { return };
        status.set(format!("Reading {} in this browser…", file.name()));
        worker.send(&WorkerRequest::CheckTask { task: Deferred::new(task.get_value()) }, Some(&file));
    };
    let start = move |_| {
        let Some(file) = picked_file(input) else { return };
        error.set(None);
        running.set(true);
        status.set("Waiting for the round…".into());
        worker.send(&WorkerRequest::Federate { federation: federation.get_value(), task: Deferred::new(task.get_value()) }, Some(&file));
    };
    let leave = move |_| worker.send(&WorkerRequest::Cancel, None);
    view! {
        <div class="field">
            <label for="f-file">"Your data file, read in this browser and never sent (CSV, JSON or Excel .xlsx)"</label>
            <input id="f-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick disabled=move || running.get() || !hydrated.get()/>
        </div>
        <p id="f-status" role="status" aria-live="polite">{status}</p>
        <ErrorLine id="f-error" message=error/>
        <Show when=move || fits.get() && !running.get() && !ended.get()>
            <button type="button" on:click=start>"Take part in the rounds with this file"</button>
        </Show>
        <Show when=move || running.get()>
            <p>"Keep this tab open while the rounds run; closing it leaves the federation's rounds."</p>
            <button type="button" class="secondary" on:click=leave>"Leave the rounds"</button>
        </Show>
        <Show when=move || !log.get().is_empty()>
            <ul class="log" data-testid="participation-log">
                {move || log.get().into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
            </ul>
        </Show>
    }
}

fn stage_words(stage: Stage) -> &'static str {
    match stage {
        Stage::Keys => "keys",
        Stage::Shares => "shares",
        Stage::Input => "masked updates",
        Stage::Reveal => "unmasking",
    }
}

fn sent_words(stage: Stage) -> &'static str {
    match stage {
        Stage::Keys => "keys",
        Stage::Shares => "sealed shares",
        Stage::Input => "masked update",
        Stage::Reveal => "shares for the unmasking",
    }
}

/// How many training steps the model a result measures had: a step's figures are of the
/// model it started from; the evaluation's of the final one.
fn steps_behind(r: &RoundResult, trained: u32) -> Option<f64> {
    match r.phase {
        crate::model::federation::Phase::Train { step } => Some(f64::from(step - 1)),
        crate::model::federation::Phase::Evaluate => Some(f64::from(trained)),
        crate::model::federation::Phase::Statistics => None,
    }
}

/// The training steps aggregated so far (a private federation may stop before its rounds).
fn trained_steps(results: &[RoundResult]) -> u32 {
    results
        .iter()
        .filter_map(|r| match r.phase {
            crate::model::federation::Phase::Train { step } => Some(step),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The rounds as everyone in the area sees them: the one in progress, each aggregated round,
/// and the global model's score by training step (the participant's own beside it). Follows
/// the federation's event stream and rereads the round view at each event.
#[component]
fn Rounds(f: FederationInfo, info: RwSignal<FederationInfo>, initial: RoundView, local: RwSignal<Vec<(f64, f64)>>) -> impl IntoView {
    let view_now = RwSignal::new(initial);
    let rounds = f.rounds;
    follow_rounds(f.id.clone(), view_now, info);
    let metric = move || view_now.with(|v| v.results.iter().find_map(|r| r.metrics.as_ref().map(|m| m.score_name())).unwrap_or("score"));
    let chart = move || {
        let global: Vec<(f64, f64)> = view_now.with(|v| {
            let trained = trained_steps(&v.results);
            v.results.iter().filter_map(|r| Some((steps_behind(r, trained)?, r.metrics.as_ref()?.score()))).collect()
        });
        let mut series = vec![Series { name: "global model, everyone's rows".into(), points: global }];
        let mine = local.get();
        if !mine.is_empty() {
            series.push(Series { name: "your model, your rows".into(), points: mine });
        }
        score_chart(&format!("{} by training step", capitalise(metric())), "training steps", metric(), &series)
    };
    let current = move || {
        view_now.with(|v| match (&v.round, v.status) {
            (_, FederationStatus::Finished) => "Finished.".to_owned(),
            (_, FederationStatus::Failed) => format!("Failed: {}.", v.failure.clone().unwrap_or_default()),
            (Some(r), _) if r.stage == Stage::Keys && r.received == 0 => {
                format!("Round {} ({}): waiting for members to take part.", r.round, r.phase.label(rounds))
            }
            (Some(r), _) => format!(
                "Round {} ({}): {} stage, {} of {} in.",
                r.round,
                r.phase.label(rounds),
                stage_words(r.stage),
                r.received,
                r.expected
            ),
            (None, _) => "No round is open.".to_owned(),
        })
    };
    let private = f.task.privacy.clone();
    let epsilon_chart = move || {
        let budget = private.as_ref().map_or(0.0, |p| p.epsilon);
        let spent: Vec<(f64, f64)> = view_now.with(|v| {
            v.results
                .iter()
                .filter_map(|r| match (r.phase, r.epsilon) {
                    (crate::model::federation::Phase::Train { step }, Some(e)) => Some((f64::from(step), e)),
                    _ => None,
                })
                .collect()
        });
        let last = spent.last().map_or(1.0, |p| p.0);
        let series = vec![
            Series { name: "ε spent".into(), points: spent },
            Series { name: "budget".into(), points: vec![(1.0, budget), (last.max(2.0), budget)] },
        ];
        line_chart("Privacy spent by training step", "training step", "ε", &series)
    };
    let has_privacy = f.task.privacy.is_some();
    view! {
        <p role="status" aria-live="polite" data-testid="round-status">{current}</p>
        <Show when=move || view_now.with(|v| v.privacy.is_some())>
            <p class="notice" data-testid="privacy-ledger">{move || view_now.with(|v| v.privacy.as_ref().map(ledger_text))}</p>
        </Show>
        <Show when=move || view_now.with(|v| v.model_id.is_some())>
            <p data-testid="federation-model">
                <a href=move || format!("/models/{}", view_now.with(|v| v.model_id.clone().unwrap_or_default()))>"Open the federation's model"</a>
                " (predict with it, or download it)."
            </p>
        </Show>
        <figure class="chart" data-testid="rounds-chart">
            <div role="img" aria-label=move || format!("Chart of the global model's {} by training step", metric()) inner_html=chart></div>
            <figcaption>"Each training step's figures are the global model's on every participant's rows, added up under secure aggregation."</figcaption>
        </figure>
        {has_privacy.then(|| view! {
            <figure class="chart" data-testid="epsilon-chart">
                <div role="img" aria-label="Chart of the privacy spent (ε) after each training step, with the budget" inner_html=epsilon_chart></div>
                <figcaption>"ε grows with every training round; training stops before a round that would pass the budget."</figcaption>
            </figure>
        })}
        <div class="table-scroll">
        <table class="data" data-testid="rounds-table">
            <caption>"Aggregated rounds"</caption>
            <thead><tr>
                <th scope="col">"Round"</th><th scope="col">"Part"</th>
                <th scope="col">{if has_privacy { "Participants" } else { "Participants (rows)" }}</th>
                <th scope="col">{move || capitalise(metric())}</th>
                {has_privacy.then(|| view! { <th scope="col">"ε spent"</th> })}
            </tr></thead>
            <tbody>
                {move || view_now.with(|v| v.results.iter().map(|r| view! {
                    <tr>
                        <td>{r.round}</td>
                        <td>{r.phase.label(rounds)}</td>
                        // A private training round's vectors weigh 1 each: its "rows" count participants.
                        <td>{if r.epsilon.is_some() { r.participants.to_string() } else { format!("{} ({})", r.participants, r.rows) }}</td>
                        <td>{r.metrics.as_ref().map(|m| format!("{:.4}", m.score())).unwrap_or_default()}</td>
                        {has_privacy.then(|| view! { <td>{r.epsilon.map(|e| format!("{e:.3}")).unwrap_or_default()}</td> })}
                    </tr>
                }).collect_view())}
            </tbody>
        </table>
        </div>
    }
}

/// In the browser: rereads the round view (and the federation's status and member count)
/// whenever the federation's event stream says something happened. The EventSource
/// reconnects by itself; it is closed with the page or the federation's end.
#[cfg(feature = "hydrate")]
fn follow_rounds(id: String, view_now: RwSignal<RoundView>, info: RwSignal<FederationInfo>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |_| {
        if view_now.with_untracked(|v| matches!(v.status, FederationStatus::Finished | FederationStatus::Failed)) {
            return;
        }
        let Ok(source) = web_sys::EventSource::new(&format!("/api/federations/{id}/events")) else { return };
        let id = id.clone();
        let closer = source.clone();
        let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            // The stream ends with the federation; without this the browser would reconnect.
            if matches!(ev.type_().as_str(), "finished" | "failed") {
                closer.close();
            }
            let id = id.clone();
            leptos::task::spawn_local(async move {
                if let Ok(v) = federation_round(id.clone()).await {
                    view_now.set(v);
                }
                if let Ok(f) = get_federation(id).await {
                    info.set(f);
                }
            });
        });
        for name in crate::model::federation::FederationEvent::NAMES {
            let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
        }
        on_event.forget();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.close());
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow_rounds(_id: String, _view: RwSignal<RoundView>, _info: RwSignal<FederationInfo>) {}

/// "Logistic regression of species" / "Linear regression of progression".
fn model_title(f: &FederationInfo) -> String {
    match &f.task.model {
        FlModel::Linear => format!("Linear regression of “{}”", f.task.target),
        FlModel::Logistic { .. } => format!("Logistic regression: classify “{}”", f.task.target),
        FlModel::Mlp { hidden, .. } => format!(
            "Neural network ({} hidden {} of {}): classify “{}”",
            hidden.len(),
            if hidden.len() == 1 { "layer" } else { "layers" },
            hidden.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
            f.task.target
        ),
    }
}

/// A private federation's settings and what it has spent.
fn privacy_text(p: &crate::fl::privacy::FlPrivacy, spent: Option<f64>) -> String {
    let who = match p.noise {
        crate::fl::privacy::NoiseMode::Distributed => {
            "each participant adds a share of the noise, so the server never sees a sum without it"
        }
        crate::fl::privacy::NoiseMode::Central => "the server adds the noise after adding the updates up",
    };
    format!(
        "ε spent so far {:.3} of the budget {} at δ = {:e}. Each round samples members with chance {}, clips each update to {} and adds noise σ = {} × that; {who}.",
        spent.unwrap_or(0.0),
        p.epsilon,
        p.delta,
        p.sampling_rate,
        p.clip_norm,
        p.noise_multiplier
    )
}

/// A participant's ledger in words.
fn ledger_text(l: &crate::model::federation::PrivacyLedger) -> String {
    let rounds = match l.contributed.as_slice() {
        [] => "none of its rounds has used your update yet".to_owned(),
        r => format!(
            "your update was in {} ({}), which against someone who knew when you were sampled is ε = {:.3}",
            count(r.len() as u64, "round", "rounds"),
            r.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            l.epsilon_if_known
        ),
    };
    format!(
        "Your privacy in this federation: ε = {:.3} of the budget {} at δ = {:e} after {}; {rounds}.",
        l.epsilon,
        l.budget,
        l.delta,
        count(u64::from(l.rounds), "training round", "training rounds")
    )
}

fn status_text(f: &FederationInfo) -> String {
    match f.status {
        FederationStatus::Open => format!("open: {} of the {} participants a round needs have joined", f.members, f.min_participants),
        FederationStatus::Running => "running".to_owned(),
        FederationStatus::Finished => "finished".to_owned(),
        FederationStatus::Failed => "failed".to_owned(),
    }
}

#[component]
pub fn FederationsPage() -> impl IntoView {
    view! {
        <Title text="Federations"/>
        <section class="page">
            <h1>"Federations"</h1>
            <RequireUser path="/federations" child=|_me: Me| view! { <FederationList/> }/>
        </section>
    }
}

#[component]
fn FederationList() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_federations());
    view! {
        <p>"In a federation the people of your area train one model together. Each participant's rows stay on their "
            "own computer; the server only adds up masked model updates, so it never sees one participant's update."</p>
        <p><a class="button" href="/federations/new">"Declare a federation"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading federations…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let rows = list.await?;
                    Ok::<_, ApiError>(if rows.is_empty() {
                        view! { <p>"No federation in your area yet: declare the first one."</p> }.into_any()
                    } else {
                        view! {
                            <div class="table-scroll"><table class="data" data-testid="federation-table">
                                <caption>{format!("{}, newest first", count(rows.len() as u64, "federation", "federations"))}</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Model"</th><th scope="col">"Status"</th>
                                    <th scope="col">"Members"</th><th scope="col">"Created (UTC)"</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|f| view! {
                                        <tr>
                                            <td><a href=format!("/federations/{}", f.id)>{f.name.clone()}</a></td>
                                            <td>{model_title(&f)}</td>
                                            <td>{f.status.as_str()}</td>
                                            <td>{f.members}</td>
                                            <td>{utc(&f.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any()
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
pub fn FederationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <Title text="Federation"/>
        <section class="page">
            <RequireUser path="/federations" child=move |_me: Me| {
                let info = Resource::new(id, get_federation);
                let round = Resource::new(id, federation_round);
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match (info.await, round.await) {
                                (Ok(f), Ok(initial)) => view! { <FederationDetail f initial/> }.into_any(),
                                (Err(e @ ApiError::Transport { .. }), _) | (_, Err(e @ ApiError::Transport { .. })) => load_failure(e),
                                _ => not_found("Federation not found", "It may belong to another area.".into(), "/federations", "Back to federations"),
                            }
                        })}
                    </Suspense>
                }
            }/>
        </section>
    }
}

#[component]
fn FederationDetail(f: FederationInfo, initial: RoundView) -> impl IntoView {
    let local = RwSignal::new(Vec::<(f64, f64)>::new());
    let current = RwSignal::new(f.clone());
    let join = Action::new(move |id: &String| join_federation(id.clone()));
    Effect::new(move |_| {
        if let Some(Ok(updated)) = join.value().get() {
            current.set(updated);
        }
    });
    let error = move || action_error(join.value().get()).map(|e| e.detail());
    let id = f.id.clone();
    view! {
        <h1>{f.name.clone()}</h1>
        <dl class="facts">
            <dt>"Model"</dt><dd>{model_title(&f)}</dd>
            {f.task.labels.clone().map(|labels| view! { <dt>"Classes"</dt><dd>{labels.join(", ")}</dd> })}
            <dt>"Declared by"</dt><dd>{f.owner.clone()}</dd>
            <dt>"Status"</dt><dd data-testid="federation-status">{move || status_text(&current.get())}</dd>
            <dt>"Rounds"</dt><dd>{f.rounds}</dd>
            <dt>"Secure aggregation"</dt>
            <dd>{format!(
                "a round needs {} participants and finishes if at least {} of them stay to the end; fewer than {} together can learn nothing about anyone's update",
                f.min_participants, f.threshold, f.threshold
            )}</dd>
            {f.task.privacy.clone().map(|p| view! {
                <dt>"Differential privacy"</dt>
                <dd data-testid="federation-privacy">{move || privacy_text(&p, current.with(|c| c.epsilon))}</dd>
            })}
            <dt>"Declared (UTC)"</dt><dd>{utc(&f.created_at)}</dd>
        </dl>
        <h2>"Input columns"</h2>
        <div class="table-scroll"><table class="data">
            <caption>{format!("{} the model learns from; a participant's file needs each with this kind", count(f.task.features.len() as u64, "column", "columns"))}</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Categories"</th></tr></thead>
            <tbody>
                {f.task.features.iter().map(|c| view! {
                    <tr><td>{c.name.clone()}</td><td>{c.kind.as_str()}</td><td>{c.categories.join(", ")}</td></tr>
                }).collect_view()}
            </tbody>
        </table></div>
        <h2>"Rounds"</h2>
        <Rounds f=f.clone() info=current initial local/>
        <h2>"Take part"</h2>
        <p role="status" data-testid="membership">{move || {
            let c = current.get();
            if c.joined && c.members == 1 {
                "You have joined: you are its only member so far.".to_owned()
            } else if c.joined {
                format!("You have joined: you are one of its {} members.", c.members)
            } else {
                format!("{} so far. Members are counted, never named.", count(u64::from(c.members), "member has joined", "members have joined"))
            }
        }}</p>
        <Show when=move || { let c = current.get(); !c.joined && matches!(c.status, FederationStatus::Open | FederationStatus::Running) }>
            <button type="button" disabled=join.pending() on:click={
                let id = id.clone();
                move |_| { join.dispatch(id.clone()); }
            }>"Join this federation"</button>
        </Show>
        <Show when=move || error().is_some()>
            <p class="form-error" role="alert">{error}</p>
        </Show>
        // Open when the page loaded: a participant keeps its log and status after the end.
        <Show when=move || current.get().joined && matches!(f.status, FederationStatus::Open | FederationStatus::Running)>
            <TakePart federation=f.id.clone() task=f.task.clone() rounds=f.rounds local/>
        </Show>
        <p><a href="/federations">"Back to federations"</a></p>
    }
}
