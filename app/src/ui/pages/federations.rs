//! Federations of the caller's area: the list, and one federation's task with a button to
//! join it. (Declaring one is `POST /api/federations`, docs/api.md.)

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_federation, join_federation, list_federations};
use crate::file_worker::{WorkerReply, WorkerRequest};
use crate::fl::train::{FlModel, FlTask};
use crate::model::auth::Me;
use crate::model::federation::{FederationInfo, FederationStatus};
use crate::model::ApiError;
use crate::ui::file_worker::{picked_file, ErrorLine, FileWorker};
use crate::ui::form::{count, load_failure, load_failures, not_found, utc};
use crate::ui::pages::account::RequireUser;
use crate::ui::session::action_error;

/// A member's check of their data file against the task, in the file worker: the file is read
/// in this browser and never sent; a column that is missing or of another kind is named.
#[component]
fn CheckFile(task: FlTask) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let (status, error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let worker = FileWorker::new(move |reply| match reply {
        WorkerReply::TaskChecked { rows } => {
            status.set(format!(
                "Your file fits this federation: {} with a value to learn. Nothing has left this browser.",
                count(rows as u64, "row", "rows")
            ));
        }
        WorkerReply::Failed { message } => {
            status.set(String::new());
            error.set(Some(format!("This file does not fit the federation: {message}. Nothing was sent.")));
        }
        _ => {}
    });
    let task = StoredValue::new(task);
    let pick = move |_| {
        error.set(None);
        let Some(file) = picked_file(input) else { return };
        status.set(format!("Reading {} in this browser…", file.name()));
        worker.send(&WorkerRequest::CheckTask { task: task.get_value() }, Some(&file));
    };
    view! {
        <div class="field">
            <label for="f-file">"Your data file, checked in this browser against the input columns (CSV, JSON or Excel .xlsx)"</label>
            <input id="f-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick/>
        </div>
        <p id="f-status" role="status" aria-live="polite">{status}</p>
        <ErrorLine id="f-error" message=error/>
    }
}

/// "Logistic regression of species" / "Linear regression of progression".
fn model_title(f: &FederationInfo) -> String {
    match f.task.model {
        FlModel::Linear => format!("Linear regression of “{}”", f.task.target),
        FlModel::Logistic { .. } => format!("Logistic regression: classify “{}”", f.task.target),
    }
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
        <Transition fallback=|| view! { <p class="loading">"Loading federations…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let rows = list.await?;
                    Ok::<_, ApiError>(if rows.is_empty() {
                        view! { <p>"No federation in your area yet. One is declared with POST /api/federations (see the API documentation)."</p> }.into_any()
                    } else {
                        view! {
                            <table class="data" data-testid="federation-table">
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
                            </table>
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
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match info.await {
                                Ok(f) => view! { <FederationDetail f/> }.into_any(),
                                Err(e @ ApiError::Transport { .. }) => load_failure(e),
                                Err(_) => not_found("Federation not found", "It may belong to another area.".into(), "/federations", "Back to federations"),
                            }
                        })}
                    </Suspense>
                }
            }/>
        </section>
    }
}

#[component]
fn FederationDetail(f: FederationInfo) -> impl IntoView {
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
            <dt>"Declared (UTC)"</dt><dd>{utc(&f.created_at)}</dd>
        </dl>
        <h2>"Input columns"</h2>
        <table class="data">
            <caption>{format!("{} the model learns from; a participant's file needs each with this kind", count(f.task.features.len() as u64, "column", "columns"))}</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Categories"</th></tr></thead>
            <tbody>
                {f.task.features.iter().map(|c| view! {
                    <tr><td>{c.name.clone()}</td><td>{c.kind.as_str()}</td><td>{c.categories.join(", ")}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
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
        <Show when=move || current.get().joined>
            <CheckFile task=f.task.clone()/>
        </Show>
        <p><a href="/federations">"Back to federations"</a></p>
    }
}
