//! The model registry: versions grouped by task (best marked), and a model's page with its
//! metrics and charts, a form to test one row, batch prediction from a file (read in the
//! browser by `app::table` in the file worker), the artifact download and deletion.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::Rows;
use crate::api::{delete_model, get_model, he_offer, list_datasets, list_models, predict_rows};
use crate::file_worker::{Deferred, WorkerBundle, WorkerReply, WorkerRequest};
use crate::he::{HeOffer, HeResult};
use crate::ml::model::ModelKind;
use crate::model::artifact::{InputField, ModelInfo, Prediction, PredictionTable, MAX_PREDICT_ROWS};
use crate::model::auth::{Me, Role};
use crate::model::ApiError;
use crate::table::ColumnKind;
use crate::ui::file_worker::{picked_file, use_hydrated, ErrorLine, FileWorker};
use crate::ui::form::{load_failure, load_failures, not_found, utc};
use crate::ui::metrics_view::MetricsView;
use crate::ui::pages::account::RequireUser;
use crate::ui::session::action_error;

fn score(m: &ModelInfo) -> String {
    m.metrics.describe()
}

fn task_title(m: &ModelInfo) -> String {
    let what = if m.labels.is_some() { "classify" } else { "predict" };
    format!("{what} “{}” from {}", m.target, m.features.join(", "))
}

#[component]
pub fn ModelsPage() -> impl IntoView {
    view! {
        <Title text="Models"/>
        <section class="page">
            <h1>"Models"</h1>
            <RequireUser path="/models" child=|me: Me| view! { <ModelList me/> }/>
        </section>
    }
}

#[component]
fn ModelList(me: Me) -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &'static str| move || query.read().get(k).unwrap_or_default();
    // The models and, for the filter, the datasets by name: one resource, so the page
    // hydrates in one piece.
    let models = Resource::new(
        move || (get("dataset")(), get("kind")(), get("domain")()),
        |(d, k, a)| async move { Ok::<_, ApiError>((list_models(d, k, a).await?, list_datasets().await?)) },
    );
    let admin = me.role == Role::Admin;
    view! {
        <p>"Every finished training job is a model version. Versions that predict the same target from "
            "the same inputs are grouped; the best by its main metric is marked."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading models…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let (value, datasets) = models.await?;
                    let filters = view! {
                        <Form method="GET" action="" attr:class="filters">
                            <div class="field">
                                <label for="m-dataset">"Trained on"</label>
                                <select id="m-dataset" name="dataset" prop:value=get("dataset")>
                                    <option value="">"Any dataset"</option>
                                    {datasets.iter().map(|d| view! {
                                        <option value=d.id.clone()>{format!("{} ({})", d.name, d.owner)}</option>
                                    }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for="m-kind">"Model kind"</label>
                                <select id="m-kind" name="kind" prop:value=get("kind")>
                                    <option value="">"Any"</option>
                                    {ModelKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                                </select>
                            </div>
                            {admin.then(|| view! {
                                <div class="field">
                                    <label for="m-domain">"Domain"</label>
                                    <select id="m-domain" name="domain" prop:value=get("domain")>
                                        <option value="">"Any"</option>
                                        {crate::model::catalog::CATALOG.iter().map(|d| view! { <option value=d.id>{d.name}</option> }).collect_view()}
                                    </select>
                                </div>
                            })}
                            <button type="submit">"Filter"</button>
                        </Form>
                    };
                    Ok::<_, ApiError>(view! { {filters} {match value {
                        rows if rows.is_empty() => view! {
                            <p>"No models match. "<a href="/jobs/new">"Train one"</a>"."</p>
                        }.into_any(),
                        rows => {
                            let mut groups: Vec<(String, Vec<ModelInfo>)> = Vec::new();
                            for m in rows {
                                match groups.iter_mut().find(|(t, _)| *t == m.task) {
                                    Some((_, v)) => v.push(m),
                                    None => groups.push((m.task.clone(), vec![m])),
                                }
                            }
                            groups.into_iter().map(|(_, versions)| {
                                let title = task_title(&versions[0]);
                                view! {
                                    <h2>{title.clone()}</h2>
                                    <div class="table-scroll"><table class="data" data-testid="model-table">
                                        <caption>{format!("{}, newest first", crate::ui::form::count(versions.len() as u64, "version", "versions"))}</caption>
                                        <thead><tr>
                                            <th scope="col">"Version"</th><th scope="col">"Model"</th><th scope="col">"Score (cross-validated)"</th>
                                            <th scope="col">"Owner"</th><th scope="col">"Datasets"</th><th scope="col">"Created (UTC)"</th>
                                        </tr></thead>
                                        <tbody>
                                            {versions.iter().enumerate().map(|(i, m)| view! {
                                                <tr>
                                                    <td>
                                                        <a href=format!("/models/{}", m.id)>{format!("v{}", versions.len() - i)}</a>
                                                        {m.best.then(|| view! { " " <span class="field-tag" data-testid="best">"best"</span> })}
                                                    </td>
                                                    <td>{m.kind.label()}</td>
                                                    <td>{score(m)}</td>
                                                    <td>{m.owner.clone()}</td>
                                                    <td>{m.datasets.len()}</td>
                                                    <td>{utc(&m.created_at)}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table></div>
                                }
                            }).collect_view().into_any()
                        }
                    }} })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <Title text="Model"/>
        <section class="page">
            <RequireUser path="/models" child=move |me: Me| {
                let model = Resource::new(id, get_model);
                // Loaded beside the model (not in a nested Suspense), so the page hydrates in
                // one piece; a model without encrypted prediction answers why not.
                let offer = Resource::new(id, he_offer);
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {let me = me.clone(); move || { let me = me.clone(); Suspend::new(async move {
                            let (model, offer) = (model.await, offer.await);
                            match model {
                                Ok(m) => view! { <ModelDetail m me offer/> }.into_any(),
                                Err(ApiError::NotFound) => not_found("Model not found", "It may have been deleted, or it belongs to another area.".into(), "/models", "Back to models"),
                                Err(e) => load_failure(e),
                            }
                        })}}
                    </Suspense>
                }
            }/>
        </section>
    }
}

#[component]
fn ModelDetail(m: ModelInfo, me: Me, offer: Result<Result<HeOffer, String>, ApiError>) -> impl IntoView {
    let owner = m.owner_id == me.id || me.role == Role::Admin;
    let id = m.id.clone();
    view! {
        <h1>{format!("{}: {}", m.kind.label(), task_title(&m))}</h1>
        <dl class="facts">
            <dt>"Owner"</dt><dd>{m.owner.clone()}</dd>
            {match m.federation.clone() {
                // A federation's model: trained where the rows are, scored on all of them under
                // secure aggregation; no dataset and no job on this server.
                Some(f) => view! {
                    <dt>"Score (on every participant's rows)"</dt><dd>{score(&m)}{m.best.then_some(" (best version of this task)")}</dd>
                    <dt>"Trained by"</dt><dd><a href=format!("/federations/{f}")>"a federation"</a>" (the rows never left their owners)"</dd>
                }.into_any(),
                None => view! {
                    <dt>"Score (cross-validated)"</dt><dd>{score(&m)}{m.best.then_some(" (best version of this task)")}</dd>
                    <dt>"Datasets"</dt><dd>{m.datasets.len()}</dd>
                    <dt>"Training job"</dt><dd><a href=format!("/jobs/{}", m.job_id) data-testid="model-job">
                        {if m.job_title.is_empty() { "The job that trained it".to_owned() } else { m.job_title.clone() }}
                    </a></dd>
                }.into_any(),
            }}
            {m.privacy.as_ref().map(|p| view! {
                <dt>"Differential privacy"</dt><dd data-testid="model-privacy">{crate::ui::privacy::describe_spent(p)}</dd>
            })}
            <dt>"Created (UTC)"</dt><dd>{utc(&m.created_at)}</dd>
        </dl>
        <MetricsView m=m.metrics.clone()/>
        <TestRow id=m.id.clone() inputs=m.inputs.clone()/>
        <PredictFile id=m.id.clone() columns=m.features.clone()/>
        {matches!(m.kind, ModelKind::Linear | ModelKind::Logistic).then(|| view! {
            <EncryptedPrediction offer=offer.map_err(|e| e.detail()).and_then(|o| o) inputs=m.inputs.clone() columns=m.features.clone()/>
        })}
        {owner.then(|| view! {
            <h2>"Download"</h2>
            <p><a href=format!("/api/models/{}/artifact", m.id) rel="external" download="">"Download the model"</a>
                " as one JSON file: how it turns a row into numbers (the preprocessing), the fitted weights or trees, "
                "its scores and, for encrypted prediction, its quantised quality. Any program can read it: "
                <a href="/docs/model-format.md" rel="external">"the format, described"</a>"."</p>
            <DeleteModel id=id.clone()/>
        })}
        <p><a href="/models">"Back to models"</a></p>
    }
}

/// Batch prediction: the file worker reads the picked file into rows (in this browser), the
/// rows go to the model, and the answers become a table and a CSV download. Nothing is stored.
#[component]
fn PredictFile(id: String, columns: Vec<String>) -> impl IntoView {
    /// Rows the page draws; the download has them all.
    const SHOWN: usize = 200;
    let input = NodeRef::<leptos::html::Input>::new();
    let hydrated = use_hydrated();
    let (status, error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let rows = StoredValue::new(Vec::new());
    let table = RwSignal::new(None::<PredictionTable>);
    let download = RwSignal::new(None::<String>);
    let columns = StoredValue::new(columns);
    let predict = Action::new(move |rows: &Rows| predict_rows(id.clone(), rows.clone()));
    let worker = FileWorker::new(WorkerBundle::Files, move |reply| match reply {
        WorkerReply::Rows { rows: read } => {
            status.set(format!("Predicting {} rows…", read.len()));
            rows.set_value(read.clone());
            predict.dispatch(read);
        }
        WorkerReply::Failed { message } => {
            status.set(String::new());
            error.set(Some(format!("This file cannot be used: {message}.")));
        }
        _ => {}
    });
    Effect::new(move |_| match predict.value().get() {
        Some(Ok(predictions)) => {
            let t = rows.with_value(|r| columns.with_value(|c| PredictionTable::new(c, r, &predictions)));
            status.set(format!("Predicted {} rows.", t.rows.len()));
            let url = t.to_csv().ok().and_then(|csv| object_url(&csv, "text/csv"));
            if let Some(old) = download.get_untracked() {
                let _ = leptos::web_sys::Url::revoke_object_url(&old);
            }
            download.set(url);
            table.set(Some(t));
        }
        Some(Err(e)) => {
            status.set(String::new());
            let expected = columns.with_value(|c| c.join(", "));
            error.set(Some(format!("{}. Check that the file has the model's input columns ({expected}).", e.detail())));
        }
        None => {}
    });
    let pick = move |_| {
        error.set(None);
        table.set(None);
        download.set(None);
        let Some(file) = picked_file(input) else { return };
        status.set(format!("Reading {} in this browser…", file.name()));
        worker.send(&WorkerRequest::Rows { limit: MAX_PREDICT_ROWS }, Some(&file));
    };
    view! {
        <section id="batch">
            <h2>"Predict a file"</h2>
            <p>"The file is read in this browser; only the rows are sent for prediction, never stored."</p>
            <div class="field">
                <label for="b-file">"Rows to predict (CSV, JSON or Excel .xlsx, with the model's input columns)"</label>
                <input id="b-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick
                    disabled=move || predict.pending().get() || !hydrated.get()/>
            </div>
            <p id="b-status" role="status" aria-live="polite">{status}</p>
            <ErrorLine id="b-error" message=error/>
            {move || download.get().map(|href| view! {
                <p><a id="b-download" class="button" download="predictions.csv" href=href>"Download the predictions (CSV)"</a></p>
            })}
            <div id="b-table" class="table-scroll">
                {move || table.get().map(|t| prediction_table(&t, SHOWN))}
            </div>
        </section>
    }
}

/// Encrypted prediction (docs/he.md): the row or file is quantised and encrypted in the file
/// worker under a key made there and kept only while the page is open; the server scores the
/// ciphertexts and the worker decrypts the answers. The plaintext never leaves the browser.
#[component]
fn EncryptedPrediction(offer: Result<HeOffer, String>, inputs: Vec<InputField>, columns: Vec<String>) -> impl IntoView {
    let (status, error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let result = RwSignal::new(None::<HeResult>);
    let busy = RwSignal::new(false);
    // Whose key encrypts: one made in the worker, or one from a file the person picked; and a
    // link to save it once they ask.
    let key_source = RwSignal::new(None::<String>);
    let key_link = RwSignal::new(None::<String>);
    // What a failure interrupted, for its message; and how many inputs of a typed row were empty.
    let doing = RwSignal::new("The encrypted prediction failed");
    let typed_empty = RwSignal::new(0usize);
    let worker = FileWorker::new(WorkerBundle::He, move |reply| match reply {
        WorkerReply::Status { message } => status.set(message),
        WorkerReply::HePredicted(r) => {
            busy.set(false);
            status.set(String::new());
            result.set(Some(*r));
        }
        WorkerReply::HeKeyInUse { name } => {
            busy.set(false);
            status.set(format!("Using the key in {name}."));
            key_source.set(Some(name));
            key_link.set(None);
        }
        WorkerReply::HeKeyExported { bytes } => {
            busy.set(false);
            status.set(String::new());
            key_link.set(bytes_url(&bytes, "application/octet-stream"));
        }
        WorkerReply::Failed { message } => {
            busy.set(false);
            status.set(String::new());
            error.set(Some(format!("{}: {message}.", doing.get_untracked())));
        }
        _ => {}
    });
    let worker = StoredValue::new(worker);
    let fields = StoredValue::new(inputs.clone());
    let columns = StoredValue::new(columns);
    let input = NodeRef::<leptos::html::Input>::new();
    let key_input = NodeRef::<leptos::html::Input>::new();
    let hydrated = use_hydrated();
    let use_key = move |_| {
        if let Some(file) = picked_file(key_input) {
            error.set(None);
            busy.set(true);
            doing.set("The key file was not used");
            worker.with_value(|w| w.send(&WorkerRequest::HeUseKey, Some(&file)));
        }
    };
    let save_key = move |_| {
        error.set(None);
        busy.set(true);
        doing.set("The key could not be saved");
        worker.with_value(|w| w.send(&WorkerRequest::HeExportKey, None));
    };
    let key_note = move || {
        match key_source.get() {
        Some(name) => format!("Your values are encrypted in this browser under the key in {name}, kept in this page's memory while it is open. "),
        None => "Your values are encrypted in this browser under a key made here and kept only while this page is open (save it below to use it again, or with the CLI). ".to_owned(),
    }
    };
    let send = move |offer: HeOffer, rows: Option<Rows>, file: Option<leptos::web_sys::File>| {
        error.set(None);
        doing.set("The encrypted prediction failed");
        result.set(None);
        busy.set(true);
        worker.with_value(|w| w.send(&WorkerRequest::HePredict { offer: Deferred::new(offer), rows }, file.as_ref()));
    };
    let answer = move || {
        result.get().map(|r| {
            let n = r.rows.len().max(1);
            let cost = format!(
                "{} row{} encrypted in this browser: {} bytes of ciphertext sent, {} bytes back; {:.2} ms encrypting, {:.2} ms on the server and the network, {:.2} ms decrypting{}.",
                r.rows.len(),
                if r.rows.len() == 1 { "" } else { "s" },
                r.upload_bytes,
                r.answer_bytes,
                r.encrypt_ms,
                r.round_trip_ms,
                r.decrypt_ms,
                if r.clipped > 0 { format!(" ({} values outside ±4 standard deviations were clipped)", r.clipped) } else { String::new() }
            );
            let body = if n == 1 && r.rows.len() == 1 {
                let note = imputed_note(typed_empty.get_untracked(), fields.with_value(Vec::len));
                view! { <p data-testid="he-prediction">{r.predictions.first().map(|p| format!("{}{note}", describe_prediction(p)))}</p> }.into_any()
            } else {
                let t = columns.with_value(|c| PredictionTable::new(c, &r.rows, &r.predictions));
                view! { <div class="table-scroll" data-testid="he-table">{prediction_table(&t, 200)}</div> }.into_any()
            };
            view! { {body}<p class="hint" data-testid="he-cost">{cost}</p> }
        })
    };
    view! {
        <section id="encrypted">
            <h2>"Encrypted prediction"</h2>
            {match offer {
                        Ok(o) => {
                            let quality = o.quality.as_ref().map_or_else(
                                || "Not measured: the rows never reached the server.".to_owned(),
                                |q| {
                                    let name = if q.metric == "r2" { "R²" } else { "accuracy" };
                                    format!("{name} {:.3} quantised, {:.3} as trained, on the {} training rows", q.quantised, q.float, q.rows)
                                },
                            );
                            let o = StoredValue::new(o);
                            let submit = move |ev: leptos::ev::SubmitEvent| {
                                ev.prevent_default();
                                let row = fields.with_value(|fs| read_row("e", fs));
                                match missing_inputs(&row) {
                                    Err(message) => error.set(Some(message)),
                                    Ok(n) => {
                                        typed_empty.set(n);
                                        send(o.get_value(), Some(vec![row]), None);
                                    }
                                }
                            };
                            let pick = move |_| {
                                if let Some(file) = picked_file(input) {
                                    status.set(format!("Reading {} in this browser…", file.name()));
                                    typed_empty.set(0);
                                    send(o.get_value(), None, Some(file));
                                }
                            };
                            view! {
                                <p data-testid="he-key-note">{key_note}
                                    "The server computes the model on the ciphertexts and cannot read them or the answer; this page decrypts it."</p>
                                <dl class="facts" data-testid="he-facts">
                                    <dt>"Quantised model"</dt><dd>{quality}</dd>
                                    <dt>"Precision"</dt><dd>{o.with_value(|o| format!("inputs {} bits (±{} standard deviations), weights {} bits", o.spec.input_bits, o.spec.input_range, o.spec.weight_bits))}</dd>
                                    <dt>"Encryption"</dt><dd>{o.with_value(|o| format!("LWE, dimension {}, 128-bit security (tfhe's parameters)", o.lwe_dimension))}</dd>
                                    <dt>"Per row"</dt><dd>{o.with_value(|o| format!("{} bytes sent, {} bytes back", o.upload_bytes_per_row, o.answer_bytes_per_row))}</dd>
                                    // scripts/bench-he.sh: 0.9 ms (p50) to encrypt iris's 4 features in Chromium's worker, 1.5 ms end to end natively.
                                    <dt>"Expected time"</dt><dd>{o.with_value(|o| format!("about {:.1} ms a row to encrypt in this browser; the server answers in milliseconds", (o.features as f64 * 0.25).max(0.5)))}</dd>
                                </dl>
                                <form class="stack" on:submit=submit novalidate data-testid="he-row">
                                    {row_fields("e", fields.get_value())}
                                    <button type="submit" disabled=move || busy.get()>"Encrypt and predict"</button>
                                </form>
                                <div class="field">
                                    <label for="e-file">"Or a file of rows, encrypted row by row in this browser (CSV, JSON or Excel .xlsx)"</label>
                                    <input id="e-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick
                                        disabled=move || busy.get() || !hydrated.get()/>
                                </div>
                                <fieldset class="stack">
                                    <legend>"Your key"</legend>
                                    <div class="field">
                                        <label for="e-key">"Use a key file instead (one saved here, or the file cipherfold he predict keeps)"</label>
                                        <input id="e-key" type="file" node_ref=key_input on:change=use_key disabled=move || busy.get() || !hydrated.get()/>
                                    </div>
                                    <div>
                                        <button type="button" on:click=save_key disabled=move || busy.get()>"Save the key to a file"</button>
                                    </div>
                                    {move || key_link.get().map(|url| view! {
                                        <p><a href=url download="cipherfold-he.key">"Download cipherfold-he.key"</a>
                                            " (256 bytes). Anyone who has it can read your answers: keep it to yourself."</p>
                                    })}
                                </fieldset>
                            }.into_any()
                        }
                        Err(reason) => view! { <p data-testid="he-unavailable">{format!("Not available for this model: {reason}.")}</p> }.into_any(),
            }}
            <p role="status" aria-live="polite">{status}</p>
            <ErrorLine id="e-error" message=error/>
            {answer}
        </section>
    }
}

/// A `blob:` URL for text the browser should offer as a download.
fn object_url(text: &str, mime: &str) -> Option<String> {
    blob_url(&leptos::web_sys::js_sys::Array::of1(&text.into()), mime)
}

/// A `blob:` URL for bytes the browser should offer as a download.
fn bytes_url(bytes: &[u8], mime: &str) -> Option<String> {
    blob_url(&leptos::web_sys::js_sys::Array::of1(&leptos::web_sys::js_sys::Uint8Array::from(bytes)), mime)
}

fn blob_url(parts: &leptos::web_sys::js_sys::Array, mime: &str) -> Option<String> {
    let options = leptos::web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = leptos::web_sys::Blob::new_with_blob_sequence_and_options(parts, &options).ok()?;
    leptos::web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// A form with one labelled input per model input; the answer shows the prediction.
#[component]
fn TestRow(id: String, inputs: Vec<InputField>) -> impl IntoView {
    let predict = Action::new(move |rows: &Vec<serde_json::Map<String, serde_json::Value>>| predict_rows(id.clone(), rows.clone()));
    let fields = StoredValue::new(inputs.clone());
    let (empty, blank) = (RwSignal::new(0usize), RwSignal::new(None::<String>));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let row = fields.with_value(|fs| read_row("t", fs));
        match missing_inputs(&row) {
            Err(message) => blank.set(Some(message)),
            Ok(n) => {
                blank.set(None);
                empty.set(n);
                predict.dispatch(vec![row]);
            }
        }
    };
    let result = move || match predict.value().get() {
        Some(Ok(p)) if blank.with(Option::is_none) => {
            p.first().map(|p| format!("{}{}", describe_prediction(p), imputed_note(empty.get(), fields.with_value(Vec::len))))
        }
        _ => None,
    };
    let error = move || blank.get().or_else(|| action_error(predict.value().get()).map(|e| e.detail()));
    view! {
        <h2>"Test one row"</h2>
        <form class="stack" on:submit=on_submit novalidate data-testid="test-row">
            {row_fields("t", inputs)}
            <button type="submit" disabled=move || predict.pending().get()>"Predict"</button>
        </form>
        <p role="status" aria-live="polite" data-testid="prediction">{result}</p>
        <Show when=move || error().is_some()>
            <p class="form-error" role="alert">{error}</p>
        </Show>
    }
}

#[component]
fn DeleteModel(id: String) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let delete = Action::new(move |_: &()| delete_model(id.clone()));
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            let _ = window().location().set_href("/models");
        }
    });
    let error = move || action_error(delete.value().get()).map(|e| e.to_string());
    view! {
        <h2>"Delete"</h2>
        <Show when=move || !confirming.get()>
            <button type="button" class="danger" on:click=move |_| confirming.set(true)>"Delete this model version"</button>
        </Show>
        <Show when=move || confirming.get()>
            <p role="alert">"Delete this model version for everyone? Its predictions stop working; this cannot be undone."</p>
            <button type="button" class="danger" on:click=move |_| { delete.dispatch(()); }>"Yes, delete it"</button>
            " "
            <button type="button" on:click=move |_| confirming.set(false)>"Keep it"</button>
        </Show>
        <Show when=move || error().is_some()>
            <p class="form-error" role="alert">{error}</p>
        </Show>
    }
}

/// One labelled field per model input, with ids `{prefix}-{name}`.
fn row_fields(prefix: &'static str, inputs: Vec<InputField>) -> impl IntoView {
    inputs
        .into_iter()
        .map(move |f| {
            let input_id = format!("{prefix}-{}", f.name);
            match f.kind {
                ColumnKind::Numeric => view! {
                    <div class="field">
                        <label for=input_id.clone()>{format!("{} (number; empty if unknown)", f.name)}</label>
                        <input id=input_id type="number" step="any"/>
                    </div>
                }
                .into_any(),
                ColumnKind::Boolean => view! {
                    <div class="field">
                        <label for=input_id.clone()>{f.name.clone()}</label>
                        <select id=input_id>
                            <option value="">"Unknown"</option><option value="true">"Yes"</option><option value="false">"No"</option>
                        </select>
                    </div>
                }
                .into_any(),
                ColumnKind::Categorical => view! {
                    <div class="field">
                        <label for=input_id.clone()>{f.name.clone()}</label>
                        <select id=input_id>
                            <option value="">"Unknown"</option>
                            {f.categories.iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                }
                .into_any(),
            }
        })
        .collect_view()
}

/// The row typed into `row_fields(prefix, inputs)`: numbers as numbers, empty as unknown.
/// How many of a typed row's inputs are empty, or why it cannot be predicted: with none typed
/// the model would answer from its training averages alone, which reads as a real answer.
fn missing_inputs(row: &serde_json::Map<String, serde_json::Value>) -> Result<usize, String> {
    let empty = row.values().filter(|v| v.is_null()).count();
    if empty == row.len() && !row.is_empty() {
        return Err("Type at least one value: with every input empty, the model can only answer from its training averages.".into());
    }
    Ok(empty)
}

/// Said beside an answer when some inputs were empty (the model fills them from its training rows).
fn imputed_note(empty: usize, inputs: usize) -> String {
    match empty {
        0 => String::new(),
        1 => format!(" — 1 of {inputs} inputs was empty and filled in from the training rows (the mean, or the most common value), so the answer is less certain."),
        n => format!(" — {n} of {inputs} inputs were empty and filled in from the training rows (the mean, or the most common value), so the answer is less certain."),
    }
}

fn read_row(prefix: &str, inputs: &[InputField]) -> serde_json::Map<String, serde_json::Value> {
    let mut row = serde_json::Map::new();
    for f in inputs {
        let el = document().get_element_by_id(&format!("{prefix}-{}", f.name));
        let value = el
            .and_then(|e| {
                use leptos::wasm_bindgen::JsCast;
                if let Some(i) = e.dyn_ref::<leptos::web_sys::HtmlInputElement>() {
                    Some(i.value())
                } else {
                    e.dyn_ref::<leptos::web_sys::HtmlSelectElement>().map(|s| s.value())
                }
            })
            .unwrap_or_default();
        let v = match f.kind {
            _ if value.trim().is_empty() => serde_json::Value::Null,
            ColumnKind::Numeric => value.trim().parse::<f64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::String(value)),
            ColumnKind::Boolean => serde_json::Value::Bool(value == "true"),
            ColumnKind::Categorical => serde_json::Value::String(value),
        };
        row.insert(f.name.clone(), v);
    }
    row
}

/// "Prediction: virginica (virginica 97.0 %, …)" or "Prediction: 151.2300".
fn describe_prediction(p: &Prediction) -> String {
    match (&p.label, p.value, &p.probabilities) {
        (Some(l), _, Some(probs)) => {
            let mut probs: Vec<(&String, &f64)> = probs.iter().collect();
            probs.sort_by(|a, b| b.1.total_cmp(a.1));
            let detail = probs.iter().map(|(k, v)| format!("{k} {:.1} %", *v * 100.0)).collect::<Vec<_>>().join(", ");
            format!("Prediction: {l} ({detail})")
        }
        (_, Some(v), _) => format!("Prediction: {v:.4}"),
        _ => "No prediction".to_owned(),
    }
}

/// A table of predictions, the first `shown` rows.
fn prediction_table(t: &PredictionTable, shown: usize) -> impl IntoView {
    let n = t.rows.len();
    let caption = if n > shown {
        format!("Predictions for {n} rows (first {shown} shown; the download has all)")
    } else {
        format!("Predictions for {n} rows")
    };
    view! {
        <div class="table-scroll"><table class="data">
            <caption>{caption}</caption>
            <thead><tr>{t.header.iter().map(|h| view! { <th scope="col">{h.clone()}</th> }).collect_view()}</tr></thead>
            <tbody>
                {t.rows.iter().take(shown).map(|r| view! {
                    <tr>{r.iter().map(|v| view! { <td>{PredictionTable::display(v)}</td> }).collect_view()}</tr>
                }).collect_view()}
            </tbody>
        </table></div>
    }
}
