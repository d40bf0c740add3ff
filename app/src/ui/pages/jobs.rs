//! Training pages: the list of one's jobs, the form that starts one, and a job's page with a
//! progress bar, a cancel button and plotters charts redrawn as server-sent events arrive.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::{Map, Value};

use crate::api::{cancel_job, get_job, list_datasets, list_jobs, submit_job};
use crate::ml::fields::{FieldKind, ParamField};
use crate::ml::model::ModelKind;
use crate::ml::train::TaskChoice;
use crate::model::auth::Me;
use crate::model::dataset::DatasetInfo;
use crate::model::job::{JobEventRecord, JobInfo, JobProgress, JobRequest, JobStatus};
use crate::model::ApiError;
use crate::ui::chart::{best_candidate, candidate_scores, candidates_chart, fold_scores, line_chart, losses, score_chart};
use crate::ui::form::{load_failure, load_failures, not_found, utc, Input};
use crate::ui::metrics_view::MetricsView;
use crate::ui::pages::account::RequireUser;
use crate::ui::privacy::{describe_spent, PreviewQuery, PrivacyPreview};
use crate::ui::session::action_error;

fn kind_label(j: &JobInfo) -> &'static str {
    j.request.spec.model.kind.label()
}

#[component]
pub fn JobsPage() -> impl IntoView {
    view! {
        <Title text="Training jobs"/>
        <section class="page">
            <h1>"Training jobs"</h1>
            <RequireUser path="/jobs" child=|_me: Me| view! { <JobList/> }/>
        </section>
    }
}

#[component]
fn JobList() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| list_jobs());
    view! {
        <p><a class="button" href="/jobs/new">"Start a training job"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let value = jobs.await?;
                    Ok::<_, ApiError>(match value {
                        rows if rows.is_empty() => view! { <p>"No training jobs yet."</p> }.into_any(),
                        rows => view! {
                            <div class="table-scroll"><table class="data" data-testid="job-table">
                                <caption>{format!("{} training jobs, newest first", rows.len())}</caption>
                                <thead><tr>
                                    <th scope="col">"Model"</th><th scope="col">"Target"</th><th scope="col">"Datasets"</th>
                                    <th scope="col">"Status"</th><th scope="col">"Score"</th><th scope="col">"Started (UTC)"</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|j| view! {
                                        <tr>
                                            <td><a href=format!("/jobs/{}", j.id)>{kind_label(&j)}</a></td>
                                            <td>{j.request.spec.target.clone()}</td>
                                            <td>{j.dataset_names.join(", ")}</td>
                                            <td>{JobStatus::label(j.status)}</td>
                                            <td>{j.metrics.as_ref().map(|m| format!("{} {:.3}", m.score_name(), m.score())).unwrap_or_default()}</td>
                                            <td>{utc(&j.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
pub fn NewJobPage() -> impl IntoView {
    view! {
        <Title text="Start a training job"/>
        <section class="page">
            <h1>"Start a training job"</h1>
            <RequireUser path="/jobs/new" child=|_me: Me| view! { <NewJob/> }/>
        </section>
    }
}

#[component]
fn NewJob() -> impl IntoView {
    let datasets = Resource::new(|| (), |_| list_datasets());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading datasets…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let value = datasets.await?;
                    Ok::<_, ApiError>(match value {
                        rows if rows.is_empty() => view! {
                            <p>"There is no dataset to train on yet. "<a href="/datasets/new">"Upload one first"</a>"."</p>
                        }.into_any(),
                        rows => view! { <JobForm datasets=rows/> }.into_any(),
                    })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
fn JobForm(datasets: Vec<DatasetInfo>) -> impl IntoView {
    // The dataset the person came from ("Train a model on this dataset"), else the first;
    // the form says which is ticked to start.
    let asked = use_query_map().with_untracked(|q| q.get("dataset")).filter(|id| datasets.iter().any(|d| &d.id == id));
    let came_from = asked.is_some();
    let first = asked.or_else(|| datasets.first().map(|d| d.id.clone()));
    let first_name = datasets.iter().find(|d| Some(&d.id) == first.as_ref()).map(|d| d.name.clone()).unwrap_or_default();
    let selected = RwSignal::new(first.into_iter().collect::<Vec<_>>());
    let all = StoredValue::new(datasets.clone());
    let columns = Memo::new(move |_| {
        let ids = selected.get();
        all.with_value(|ds| ds.iter().find(|d| ids.first() == Some(&d.id)).map(|d| d.schema.clone()).unwrap_or_default())
    });
    let default_target = move || {
        let ids = selected.get();
        all.with_value(|ds| ds.iter().find(|d| ids.first() == Some(&d.id)).and_then(|d| d.target.clone()))
    };
    let target = RwSignal::new(String::new());
    let kind = RwSignal::new(ModelKind::Forest);
    // The parameters as JSON are the one source: the labelled fields read and write their keys.
    let params = RwSignal::new("{}".to_owned());
    let search = RwSignal::new(String::new());
    let task = RwSignal::new(None::<TaskChoice>);
    let folds = RwSignal::new("5".to_owned());
    let seed = RwSignal::new("0".to_owned());
    let dp = DpFields::new();
    // A model that cannot learn the chosen target, said while choosing: linear regression
    // predicts numbers, so a categorical or yes/no target needs a classifier.
    let chosen_target = move || match target.get() {
        t if t.is_empty() => default_target().unwrap_or_default(),
        t => t,
    };
    let numeric_target = move || {
        let name = chosen_target();
        columns.with(|cs| cs.iter().any(|c| c.name == name && c.kind == crate::table::ColumnKind::Numeric))
    };
    // A numeric target with a kind that can both classify and regress: the person says which.
    let asks_task = move || numeric_target() && matches!(kind.get(), ModelKind::Tree | ModelKind::Forest | ModelKind::Ensemble);
    let mismatch = move || {
        let name = chosen_target();
        let column = columns.with(|cs| cs.iter().find(|c| c.name == name).map(|c| c.kind))?;
        (kind.get().predicts_numbers() && column != crate::table::ColumnKind::Numeric).then(|| {
            format!(
                "{} predicts numbers, and “{name}” holds {}: choose logistic regression, a tree or a forest to predict it.",
                kind.get().label(),
                if column == crate::table::ColumnKind::Boolean { "yes/no values" } else { "categories" }
            )
        })
    };
    let rows = move || {
        let ids = selected.get();
        all.with_value(|ds| ds.iter().find(|d| ids.first() == Some(&d.id)).map_or(0, |d| d.rows as usize))
    };
    let error = RwSignal::new(None::<ApiError>);
    let submit = Action::new(|req: &JobRequest| submit_job(req.clone()));
    Effect::new(move |_| {
        let answer = submit.value().get();
        if let Some(Ok(job)) = &answer {
            let _ = window().location().set_href(&format!("/jobs/{}", job.id));
        }
        if let Some(e) = action_error(answer) {
            error.set(Some(e));
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let bad = |f: &str, m: String| error.set(Some(ApiError::field(f, m)));
        let params: Map<String, Value> = match serde_json::from_str(&params.get_untracked()) {
            Ok(p) => p,
            Err(e) => return bad("model.params", format!("write the parameters as a JSON object, like {{\"trees\": 100}} ({e})")),
        };
        let search_text = search.get_untracked();
        let search: Option<Value> = if search_text.trim().is_empty() {
            None
        } else {
            match serde_json::from_str(&search_text) {
                Ok(s) => Some(s),
                Err(e) => {
                    return bad(
                        "model.search",
                        format!("write the search space as JSON, like {{\"grid\": {{\"trees\": [50, 100]}}}} ({e})"),
                    )
                }
            }
        };
        let Ok(cv_folds) = folds.get_untracked().trim().parse::<u64>() else {
            return bad("cv_folds", "enter a whole number of folds from 2 to 20".into());
        };
        let Ok(seed) = seed.get_untracked().trim().parse::<u64>() else {
            return bad("seed", "enter a whole number (any, for example 0)".into());
        };
        let target = chosen_target();
        if asks_task() && task.get_untracked().is_none() {
            return bad("task", format!("say whether “{target}” holds amounts or class codes"));
        }
        let mut model = serde_json::json!({"kind": kind.get_untracked(), "params": params});
        if let Some(s) = search {
            model["search"] = s;
        }
        let mut request = serde_json::json!({
            "dataset_ids": selected.get_untracked(), "target": target, "model": model, "cv_folds": cv_folds, "seed": seed,
        });
        if let Some(t) = task.get_untracked().filter(|_| asks_task()) {
            request["task"] = serde_json::json!(t);
        }
        if dp.on.get_untracked() {
            match dp.spec() {
                Ok(p) => request["privacy"] = p,
                Err((f, m)) => return bad(f, m),
            }
        }
        // The parameters and search space were read as JSON above; what remains to go wrong is
        // the search space's shape.
        let request: JobRequest = match serde_json::from_value(request) {
            Ok(r) => r,
            Err(e) => return bad("model.search", format!("the search space is not one the trainer knows ({e})")),
        };
        error.set(None);
        submit.dispatch(request);
    };
    let msg = move |f: &'static str| move || error.get().and_then(|e| e.field_message(f).map(str::to_owned));
    let general = move || {
        error.get().map(|e| match e {
            ApiError::Validation { .. } => "Please correct the fields marked below.".to_owned(),
            other => other.to_string(),
        })
    };
    view! {
        <p>"The trainer opens the chosen datasets with its key, cross-validates the model, keeps the best "
            "parameters and stores the fitted model encrypted. Progress appears live on the job's page."</p>
        <form class="stack" on:submit=on_submit novalidate>
            <Show when=move || general().is_some()>
                <p class="form-error" role="alert">{general}</p>
            </Show>
            <fieldset aria-describedby="j-datasets-error">
                <legend>"Datasets (several owners' datasets train per owner and are combined)"</legend>
                <p class="hint" data-testid="preselected">{if came_from {
                    format!("“{first_name}”, the dataset you came from, is ticked; tick others to train on them together.")
                } else {
                    format!("“{first_name}” is ticked to start; choose the datasets to train on.")
                }}</p>
                {datasets.iter().map(|d| {
                    let id = d.id.clone();
                    let input_id = format!("ds-{}", d.id);
                    let checked = selected.get_untracked().contains(&d.id);
                    let toggle = {
                        let id = id.clone();
                        move |ev: leptos::ev::Event| {
                            let on = event_target_checked(&ev);
                            selected.update(|s| {
                                s.retain(|x| *x != id);
                                if on {
                                    s.push(id.clone());
                                }
                            });
                            target.set(String::new());
                        }
                    };
                    view! {
                        <div class="field checkbox">
                            <input type="checkbox" id=input_id.clone() checked=checked on:change=toggle/>
                            <label for=input_id>{format!("{} ({}, {} rows, {} columns)", d.name, d.owner, d.rows, d.schema.len())}</label>
                        </div>
                    }
                }).collect_view()}
                <p class="field-error" id="j-datasets-error" role="alert">{msg("dataset_ids")}</p>
            </fieldset>
            <div class="field">
                <label for="j-target">"Target column (what the model learns to predict)"</label>
                <select id="j-target" aria-describedby="j-target-error" on:change=move |ev| target.set(event_target_value(&ev))>
                    {move || {
                        let chosen = default_target();
                        columns.get().into_iter().map(|c| {
                            let selected = chosen.as_deref() == Some(c.name.as_str());
                            view! { <option value=c.name.clone() selected=selected>{c.label()}</option> }
                        }).collect_view()
                    }}
                </select>
                <p class="field-error" id="j-target-error" role="alert">{msg("target")}</p>
            </div>
            <div class="field">
                <label for="j-kind">"Model"</label>
                <select id="j-kind" aria-describedby="j-kind-hint j-kind-warning j-kind-error" on:change=move |ev| {
                    if let Some(k) = ModelKind::parse(&event_target_value(&ev)) {
                        kind.set(k);
                        params.set("{}".to_owned());
                        search.set(String::new());
                    }
                }>
                    {ModelKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=k == ModelKind::Forest>{k.label()}</option>
                    }).collect_view()}
                </select>
                <p class="hint" id="j-kind-hint" data-testid="kind-hint">{move || kind.get().explain()}</p>
                <p class="warning" id="j-kind-warning" role="status" hidden=move || mismatch().is_none()>{mismatch}</p>
                <p class="field-error" id="j-kind-error" role="alert">{msg("model.kind")}</p>
            </div>
            <TaskQuestion target=Signal::derive(chosen_target) numeric=Signal::derive(numeric_target) kind=kind.into() task error=Signal::derive(msg("task"))/>
            <ParamFields kind=kind.into() params error/>
            <div class="field">
                <label for="j-preset">"Search for better parameters"</label>
                <select id="j-preset" aria-describedby="j-preset-hint" on:change=move |ev| {
                    let chosen = event_target_value(&ev);
                    match kind.get_untracked().presets().iter().find(|(name, _, _)| *name == chosen) {
                        Some((_, _, json)) => search.set((*json).to_owned()),
                        None if chosen == "none" => search.set(String::new()),
                        None => {}
                    }
                }>
                    <option value="none" selected=move || search.with(|s| s.trim().is_empty())>"No search: train the parameters above"</option>
                    {move || kind.get().presets().iter().map(|(name, label, json)| view! {
                        <option value=*name selected=move || search.with(|s| s == json)>{*label}</option>
                    }).collect_view()}
                    <option value="custom" selected=move || search.with(|s| !s.trim().is_empty() && !kind.get().presets().iter().any(|p| p.2 == s))>
                        "Custom (the search space under “Advanced”)"
                    </option>
                </select>
                <p class="hint" id="j-preset-hint">{move || if kind.get().presets().is_empty() {
                    format!("{} has no parameters to search.", kind.get().label())
                } else {
                    "Every candidate is cross-validated and the best is refitted on all rows; the job's page compares them.".to_owned()
                }}</p>
            </div>
            <details class="advanced">
                <summary>"Advanced: parameters and search space as JSON"</summary>
                <div class="field">
                    <label for="j-params">"Parameters (JSON)"</label>
                    <p class="hint" id="j-params-hint">"Every parameter of the kind, as in the API (docs/api.md); the fields above write here."</p>
                    <textarea id="j-params" rows="3" aria-describedby="j-params-hint j-params-error" prop:value=move || params.get()
                        on:input=move |ev| params.set(event_target_value(&ev))></textarea>
                    <p class="field-error" id="j-params-error" role="alert">{msg("model.params")}</p>
                </div>
                <div class="field">
                    <label for="j-search">"Search space (JSON, optional)"</label>
                    <p class="hint" id="j-search-hint">"For example {\"grid\": {\"trees\": [50, 100], \"max_depth\": [3, null]}} or "
                        "{\"random\": {\"trials\": 8, \"params\": {\"alpha\": {\"log_uniform\": [0.01, 10]}}}}."</p>
                    <textarea id="j-search" rows="3" aria-describedby="j-search-hint j-search-error" prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))></textarea>
                    <p class="field-error" id="j-search-error" role="alert">{msg("model.search")}</p>
                </div>
            </details>
            <DpFieldset dp rows=Signal::derive(rows) error=Signal::derive(move || error.get())/>
            <div class="field">
                <label for="j-folds">"Cross-validation folds"</label>
                <input id="j-folds" type="number" min="2" max="20" aria-describedby="j-folds-error" prop:value=move || folds.get()
                    on:input=move |ev| folds.set(event_target_value(&ev))/>
                <p class="field-error" id="j-folds-error" role="alert">{msg("cv_folds")}</p>
            </div>
            <div class="field">
                <label for="j-seed">"Seed (the same seed gives the same folds and the same model)"</label>
                <input id="j-seed" type="number" min="0" aria-describedby="j-seed-error" prop:value=move || seed.get()
                    on:input=move |ev| seed.set(event_target_value(&ev))/>
                <p class="field-error" id="j-seed-error" role="alert">{msg("seed")}</p>
            </div>
            <button type="submit" disabled=move || submit.pending().get()>
                {move || if submit.pending().get() { "Starting…" } else { "Start training" }}
            </button>
        </form>
    }
}

/// For a numeric target and a kind that can do both: does the column hold amounts (regress) or
/// class codes such as digits 0–9 (classify)? Asked rather than guessed, since the server
/// never sees the values.
#[component]
fn TaskQuestion(
    target: Signal<String>,
    numeric: Signal<bool>,
    kind: Signal<ModelKind>,
    task: RwSignal<Option<TaskChoice>>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let shown = move || numeric.get() && matches!(kind.get(), ModelKind::Tree | ModelKind::Forest | ModelKind::Ensemble);
    let choice = move |value: TaskChoice, id: &'static str, label: &'static str| {
        view! {
            <div class="field checkbox">
                <input type="radio" id=id name="j-task" checked=move || task.get() == Some(value) on:change=move |_| task.set(Some(value))/>
                <label for=id>{label}</label>
            </div>
        }
    };
    view! {
        <Show when=shown>
            <fieldset aria-describedby="j-task-error" data-testid="task-question">
                <legend>{move || format!("What does “{}” hold?", target.get())}</legend>
                {choice(TaskChoice::Regression, "j-task-regression", "Amounts or measurements: predict a number (regression)")}
                {choice(TaskChoice::Classification, "j-task-classification", "Class codes, such as digits 0–9: predict one of its values (classification)")}
                <p class="field-error" id="j-task-error" role="alert">{move || error.get().filter(|_| task.get().is_none())}</p>
            </fieldset>
        </Show>
    }
}

/// The kind's main hyperparameters as labelled fields with their defaults and ranges; an empty
/// field keeps the default. They read and write their keys of the parameters' JSON.
#[component]
fn ParamFields(kind: Signal<ModelKind>, params: RwSignal<String>, error: RwSignal<Option<ApiError>>) -> impl IntoView {
    let current = move |name: &str| {
        let map: Map<String, Value> = serde_json::from_str(&params.get()).unwrap_or_default();
        match map.get(name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        }
    };
    let set = move |field: ParamField, typed: String| {
        let field_path = format!("model.params.{}", field.name);
        let mut map: Map<String, Value> = match serde_json::from_str(&params.get_untracked()) {
            Ok(m) => m,
            Err(_) => {
                return error.set(Some(ApiError::field(
                    &field_path,
                    "the parameters under “Advanced” are not valid JSON; correct them there first".to_owned(),
                )))
            }
        };
        match field.read(&typed) {
            Ok(Some(v)) => {
                map.insert(field.name.to_owned(), v);
            }
            Ok(None) => {
                map.remove(field.name);
            }
            Err(m) => return error.set(Some(ApiError::field(&field_path, m))),
        }
        params.set(Value::Object(map).to_string());
        if error.with_untracked(|e| e.as_ref().is_some_and(|e| e.field_message(&field_path).is_some())) {
            error.set(None);
        }
    };
    let message = move |name: &str| error.get().and_then(|e| e.field_message(&format!("model.params.{name}")).map(str::to_owned));
    view! {
        <fieldset>
            <legend>"Parameters"</legend>
            {move || {
                let fields = kind.get().fields();
                if fields.is_empty() {
                    return view! { <p class="hint">{format!("{} has no parameters to set.", kind.get().label())}</p> }.into_any();
                }
                fields.iter().map(|f| {
                    let f = *f;
                    let id = format!("j-p-{}", f.name);
                    let described = format!("{id}-hint {id}-error");
                    let input = match f.kind {
                        FieldKind::Choice(options) => view! {
                            <select id=id.clone() aria-describedby=described on:change=move |ev| set(f, event_target_value(&ev))>
                                {options.iter().map(|(value, label)| {
                                    let value = *value;
                                    view! { <option value=value selected=move || { let c = current(f.name); c == value || (c.is_empty() && f.default == Some(value)) }>{*label}</option> }
                                }).collect_view()}
                            </select>
                        }.into_any(),
                        FieldKind::Whole { .. } | FieldKind::Number { .. } => view! {
                            <input id=id.clone() type="text" inputmode=if matches!(f.kind, FieldKind::Whole { .. }) { "numeric" } else { "decimal" }
                                placeholder=f.default.unwrap_or(f.absent) aria-describedby=described
                                prop:value=move || current(f.name) on:change=move |ev| set(f, event_target_value(&ev))/>
                        }.into_any(),
                    };
                    view! {
                        <div class="field">
                            <label for=id.clone()>{f.label}</label>
                            {input}
                            <p class="hint" id=format!("{id}-hint")>{f.hint()}</p>
                            <p class="field-error" id=format!("{id}-error") role="alert">{move || message(f.name)}</p>
                        </div>
                    }
                }).collect_view().into_any()
            }}
        </fieldset>
    }
}

/// The job form's privacy fields, as typed.
#[derive(Clone, Copy)]
struct DpFields {
    on: RwSignal<bool>,
    epsilon: RwSignal<String>,
    delta: RwSignal<String>,
    clip_norm: RwSignal<String>,
    batch_size: RwSignal<String>,
    epochs: RwSignal<String>,
    learning_rate: RwSignal<String>,
}

impl DpFields {
    fn new() -> Self {
        let s = |v: &str| RwSignal::new(v.to_owned());
        DpFields {
            on: RwSignal::new(false),
            epsilon: s("2"),
            delta: s(""),
            clip_norm: s("1"),
            batch_size: s("32"),
            epochs: s("20"),
            learning_rate: s("0.5"),
        }
    }

    /// The request's `privacy` object, or the field that does not read and why.
    fn spec(&self) -> Result<Value, (&'static str, String)> {
        let number =
            |v: RwSignal<String>, f: &'static str| v.get_untracked().trim().parse::<f64>().map_err(|_| (f, "enter a number".to_owned()));
        let whole = |v: RwSignal<String>, f: &'static str| {
            v.get_untracked().trim().parse::<u64>().map_err(|_| (f, "enter a whole number".to_owned()))
        };
        let mut p = serde_json::json!({
            "epsilon": number(self.epsilon, "privacy.epsilon")?,
            "clip_norm": number(self.clip_norm, "privacy.clip_norm")?,
            "batch_size": whole(self.batch_size, "privacy.batch_size")?,
            "epochs": whole(self.epochs, "privacy.epochs")?,
            "learning_rate": number(self.learning_rate, "privacy.learning_rate")?,
        });
        if !self.delta.get_untracked().trim().is_empty() {
            p["delta"] = number(self.delta, "privacy.delta")?.into();
        }
        Ok(p)
    }

    /// What the accountant is asked, on `rows` rows (as the trainer will: q = batch / rows,
    /// steps = ⌈epochs / q⌉, the default δ unless one is given).
    fn query(&self, rows: usize) -> Option<PreviewQuery> {
        let batch: usize = self.batch_size.get().trim().parse().ok()?;
        let epochs: usize = self.epochs.get().trim().parse().ok()?;
        let epsilon: f64 = self.epsilon.get().trim().parse().ok()?;
        let given = self.delta.get();
        let spec = crate::dp::PrivacySpec {
            epsilon: Some(epsilon),
            noise_multiplier: None,
            delta: if given.trim().is_empty() { None } else { Some(given.trim().parse().ok()?) },
            clip_norm: 1.0,
            batch_size: batch,
            epochs,
            learning_rate: 0.5,
        };
        let (q, steps) = spec.schedule(rows);
        Some(PreviewQuery { sampling_rate: q, noise_multiplier: None, epsilon: Some(epsilon), steps, delta: spec.delta_for(rows) })
    }
}

/// Differential privacy for a job: off by default; on, its settings and the accountant's
/// preview on the chosen dataset's rows.
#[component]
fn DpFieldset(dp: DpFields, #[prop(into)] rows: Signal<usize>, #[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let query = Signal::derive(move || if dp.on.get() { dp.query(rows.get()) } else { None });
    let general = move || error.get().and_then(|e| e.field_message("privacy").map(str::to_owned));
    view! {
        <fieldset>
            <legend>"Differential privacy"</legend>
            <div class="field checkbox">
                <input type="checkbox" id="j-dp" prop:checked=move || dp.on.get() on:change=move |ev| dp.on.set(event_target_checked(&ev))/>
                <label for="j-dp">"Train with differential privacy (DP-SGD; logistic regression or the DQN network)"</label>
            </div>
            <p class="field-error" role="alert">{general}</p>
            <Show when=move || dp.on.get()>
                <Input id="j-dp-epsilon" field="privacy.epsilon" label="Target ε (privacy budget)" value=dp.epsilon error kind="number"
                    hint="Smaller is more private and less accurate; the trainer finds the noise that meets it."/>
                <Input id="j-dp-delta" field="privacy.delta" label="δ (optional)" value=dp.delta error
                    hint="The chance the guarantee fails; by default 10⁻⁵, or 1/(10 × rows) when that is smaller. It must be below 1/rows."/>
                <Input id="j-dp-clip" field="privacy.clip_norm" label="Gradient clipping norm C" value=dp.clip_norm error kind="number"
                    hint="Each row's gradient is scaled down to at most this length before noise is added."/>
                <Input id="j-dp-batch" field="privacy.batch_size" label="Expected batch size" value=dp.batch_size error kind="number"
                    hint="Rows per step on average; each row is sampled independently."/>
                <Input id="j-dp-epochs" field="privacy.epochs" label="Epochs (passes over the rows)" value=dp.epochs error kind="number"/>
                <Input id="j-dp-lr" field="privacy.learning_rate" label="Learning rate" value=dp.learning_rate error kind="number"/>
                <PrivacyPreview query/>
            </Show>
        </fieldset>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <Title text="Training job"/>
        <section class="page">
            <RequireUser path="/jobs" child=move |_me: Me| {
                let job = Resource::new(id, get_job);
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            match job.await {
                                Ok((info, history)) => view! { <JobView info history/> }.into_any(),
                                Err(e @ ApiError::Transport { .. }) => load_failure(e),
                                Err(e) => not_found("Job not found", format!("{e}. It may belong to someone else."), "/jobs", "Back to training jobs"),
                            }
                        })}
                    </Suspense>
                }
            }/>
        </section>
    }
}

#[component]
fn JobView(info: JobInfo, history: Vec<JobEventRecord>) -> impl IntoView {
    let id = info.id.clone();
    let job = RwSignal::new(info);
    let events = RwSignal::new(history);
    follow_events(id.clone(), job, events);
    let progress = Memo::new(move |_| {
        let mut p = JobProgress::default();
        events.with(|es| es.iter().for_each(|e| p.update(&e.event)));
        if job.with(|j| j.status == JobStatus::Succeeded) {
            100.0
        } else {
            (p.fraction() * 100.0).round()
        }
    });
    let status = move || job.with(|j| j.status);
    let privacy = move || {
        events.with(|es| {
            es.iter().rev().find_map(|e| match &e.event {
                crate::model::job::JobEvent::Privacy(p) => Some(p.clone()),
                _ => None,
            })
        })
    };
    // The winning candidate of a search (or the one candidate): its parameters and mean score.
    let best_params = move || {
        events.with(|es| {
            es.iter()
                .filter_map(|e| match &e.event {
                    crate::model::job::JobEvent::Trial { params, score, .. } => Some((params.clone(), *score)),
                    _ => None,
                })
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
    };
    let metric = move || {
        events
            .with(|es| {
                es.iter().find_map(|e| match &e.event {
                    crate::model::job::JobEvent::Loaded { task, .. } => Some(if task == "regression" { "R²" } else { "accuracy" }),
                    _ => None,
                })
            })
            .unwrap_or(if job.with(|j| j.request.spec.model.kind == ModelKind::Linear) { "R²" } else { "score" })
    };
    // A search compares its candidates (mean ± spread over the folds); one candidate shows its folds.
    let searched = move || events.with(|es| candidate_scores(es).len() > 1);
    let score_chart = move || {
        events.with(|es| {
            if searched() {
                candidates_chart(metric(), &candidate_scores(es))
            } else {
                score_chart("Score per cross-validation fold", "fold", metric(), &fold_scores(es))
            }
        })
    };
    let loss_series = Memo::new(move |_| events.with(|es| !losses(es).is_empty()));
    let loss_chart = move || events.with(|es| line_chart("Training loss per epoch", "epoch", "loss", &losses(es)));
    let cancel = Action::new(move |_: &()| cancel_job(id.clone()));
    let cancel_error = move || action_error(cancel.value().get()).map(|e| e.to_string());
    Effect::new(move |_| {
        if let Some(Ok(j)) = cancel.value().get() {
            job.set(j);
        }
    });
    let summary = move || {
        events.with(|es| {
            let folds: Vec<f64> = fold_scores(es).iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
            let candidates = candidate_scores(es);
            if candidates.len() > 1 {
                let best = best_candidate(&candidates).unwrap_or(0);
                let so_far = if status().is_final() { "" } else { " so far" };
                return format!(
                    "{} candidates scored{so_far} over {} folds; the best{so_far}, candidate {}, scored {:.3} on average.",
                    candidates.len(),
                    folds.len(),
                    best + 1,
                    candidates[best].mean
                );
            }
            match folds.len() {
                0 => "No folds scored yet.".to_owned(),
                n if status().is_final() => format!("{n} folds scored; the last scored {:.3}.", folds[n - 1]),
                n => format!("{n} folds scored so far; the last scored {:.3}.", folds[n - 1]),
            }
        })
    };
    view! {
        <h1>{move || job.with(JobInfo::title)}</h1>
        <dl class="facts">
            <dt>"Status"</dt><dd data-testid="job-status" role="status" aria-live="polite">{move || JobStatus::label(status())}</dd>
            <dt>"Target"</dt><dd>{move || job.with(|j| j.request.spec.target.clone())}</dd>
            <dt>"Folds"</dt><dd>{move || job.with(|j| j.request.spec.cv_folds)}</dd>
            <dt>"Attempts"</dt><dd>{move || job.with(|j| j.attempts)}</dd>
            {move || job.with(|j| j.model_id.clone()).map(|m| view! {
                <dt>"Model"</dt><dd><a href=format!("/models/{m}") data-testid="job-model">"Open the model it made"</a></dd>
            })}
            {move || best_params().map(|(params, score)| view! {
                <dt>"Parameters"</dt><dd data-testid="job-params">{describe_params(&params, score)}</dd>
            })}
            <Show when=move || privacy().is_some()>
                <dt>"Privacy"</dt><dd data-testid="job-privacy">{move || privacy().map(|p| describe_spent(&p))}</dd>
            </Show>
            <dt>"Created (UTC)"</dt><dd>{move || job.with(|j| utc(&j.created_at))}</dd>
        </dl>
        <div class="field">
            <label for="job-progress">"Progress"</label>
            <progress id="job-progress" max="100" value=move || progress.get()>{move || format!("{}%", progress.get())}</progress>
        </div>
        <Show when=move || !status().is_final()>
            <button type="button" class="danger" on:click=move |_| { cancel.dispatch(()); } disabled=move || cancel.pending().get()>
                "Cancel this job"
            </button>
        </Show>
        <Show when=move || cancel_error().is_some()>
            <p class="form-error" role="alert">{cancel_error}</p>
        </Show>
        <Show when=move || job.with(|j| j.error.is_some())>
            <p class="form-error" role="alert">{move || job.with(|j| format!("The job failed: {}", j.error.clone().unwrap_or_default()))}</p>
        </Show>
        <figure class="chart" data-testid="score-chart">
            <div role="img" aria-label=move || if searched() {
                format!("Chart of each candidate's mean {} over the folds, with its lowest and highest fold; the table below has every figure.", metric())
            } else {
                format!("Chart of the {} of each fold. {}", metric(), summary())
            } inner_html=score_chart></div>
            <figcaption>{summary}</figcaption>
        </figure>
        <Show when=searched>
            <CandidatesTable events metric=Signal::derive(metric)/>
        </Show>
        <Show when=move || loss_series.get()>
            <figure class="chart">
                <div role="img" aria-label="Chart of the DQN's training loss per epoch" inner_html=loss_chart></div>
                <figcaption>"Mean squared temporal-difference error per epoch."</figcaption>
            </figure>
        </Show>
        {move || job.with(|j| j.metrics.clone()).map(|m| view! { <MetricsView m/> })}
        <p><a href="/jobs">"Back to training jobs"</a></p>
    }
}

/// Every candidate of a search: its parameters, mean score and spread over the folds, the best
/// marked (the figures of the candidates chart, readable without it).
#[component]
fn CandidatesTable(events: RwSignal<Vec<JobEventRecord>>, metric: Signal<&'static str>) -> impl IntoView {
    let rows = move || {
        events.with(|es| {
            let scores = candidate_scores(es);
            let best = best_candidate(&scores);
            let params: Vec<Option<String>> = (0..scores.len())
                .map(|t| {
                    es.iter().find_map(|e| match &e.event {
                        crate::model::job::JobEvent::Trial { trial, params, .. } if *trial == t => Some(list_params(params)),
                        _ => None,
                    })
                })
                .collect();
            scores.into_iter().zip(params).enumerate().map(|(i, (s, p))| (i, s, p, Some(i) == best)).collect::<Vec<_>>()
        })
    };
    view! {
        <div class="table-scroll"><table class="data" data-testid="candidates-table">
            <caption>{move || format!("Search candidates: mean {} over the folds; the best is marked", metric.get())}</caption>
            <thead><tr><th scope="col">"Candidate"</th><th scope="col">"Parameters"</th><th scope="col">"Mean"</th><th scope="col">"Lowest – highest fold"</th></tr></thead>
            <tbody>
                {move || rows().into_iter().map(|(i, s, p, best)| view! {
                    <tr class:best=best>
                        <td>{if best { format!("{} (best)", i + 1) } else { (i + 1).to_string() }}</td>
                        <td>{p.unwrap_or_else(|| "being scored…".to_owned())}</td>
                        <td>{format!("{:.3}", s.mean)}</td>
                        <td>{format!("{:.3} – {:.3}", s.low, s.high)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

/// "trees 100, max depth 8"; "the defaults" when none were set.
fn list_params(params: &std::collections::BTreeMap<String, serde_json::Value>) -> String {
    let list = params
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Null => "default".to_owned(),
                Value::String(s) => s.replace('_', " "),
                v => v.to_string(),
            };
            format!("{} {value}", k.replace('_', " "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    if list.is_empty() {
        "the defaults".to_owned()
    } else {
        list
    }
}

/// "trees 100, max depth 8 (mean score 0.953 over the folds)"; defaults when none were set.
fn describe_params(params: &std::collections::BTreeMap<String, serde_json::Value>, score: f64) -> String {
    format!("{} (mean score {score:.3} over the folds)", list_params(params))
}

/// In the browser: follows `/api/jobs/{id}/events` from the last event already shown, adds
/// each event, moves the status with it, and reloads the job when its last event arrives. The browser's EventSource
/// reconnects by itself (sending Last-Event-ID) if the connection drops.
#[cfg(feature = "hydrate")]
fn follow_events(id: String, job: RwSignal<JobInfo>, events: RwSignal<Vec<JobEventRecord>>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |_| {
        if job.with_untracked(|j| j.status.is_final()) {
            return;
        }
        let after = events.with_untracked(|e| e.last().map_or(0, |r| r.seq));
        let Ok(source) = web_sys::EventSource::new(&format!("/api/jobs/{id}/events?after={after}")) else {
            return;
        };
        let id = id.clone();
        let closer = source.clone();
        let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let Some(data) = ev.data().as_string() else { return };
            let Ok(record) = serde_json::from_str::<JobEventRecord>(&data) else { return };
            if events.with_untracked(|v| v.last().is_some_and(|l| record.seq <= l.seq)) {
                return; // already shown (a replay after a reconnect)
            }
            let last = record.event.is_final();
            if let Some(status) = record.event.status() {
                job.update(|j| {
                    j.status = status;
                    if let crate::model::job::JobEvent::Started { attempt } = &record.event {
                        j.attempts = *attempt;
                    }
                });
            }
            events.update(|v| v.push(record));
            if last {
                closer.close();
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok((info, _)) = get_job(id).await {
                        job.set(info);
                    }
                });
            }
        });
        for name in crate::model::job::JobEvent::NAMES {
            let _ = source.add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref());
        }
        // The page lives as long as the listener: leak the closure rather than drop it early.
        on_event.forget();
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow_events(_id: String, _job: RwSignal<JobInfo>, _events: RwSignal<Vec<JobEventRecord>>) {}
