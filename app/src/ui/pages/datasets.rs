//! Dataset pages: the list (own and shared, by area), upload, and one dataset's detail.
//! The file work (parse, seal, upload, open) runs in `public/seal-worker.js` on the Rust code
//! in wasm; `public/datasets.js` connects these pages to it once they are hydrated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{get_dataset, list_datasets, set_consent};
use crate::model::auth::Me;
use crate::model::catalog::domain;
use crate::model::dataset::{human_bytes, DatasetInfo};
use crate::ui::form::{load_failure, not_found, utc};
use crate::ui::pages::account::RequireUser;
use crate::ui::session::action_error;

fn area_name(d: &str, s: &str) -> String {
    domain(d)
        .map(|dom| {
            let sub = dom.subdomains.iter().find(|x| x.id == s).map_or(s, |x| x.name);
            format!("{} · {}", dom.name, sub)
        })
        .unwrap_or_else(|| format!("{d} · {s}"))
}

#[component]
pub fn DatasetsPage() -> impl IntoView {
    view! {
        <Title text="Datasets"/>
        <section class="page">
            <h1>"Datasets"</h1>
            <RequireUser path="/datasets" child=|_me: Me| view! { <DatasetList/> }/>
        </section>
    }
}

#[component]
fn DatasetList() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_datasets());
    view! {
        <p>
            <a class="button" href="/datasets/new" rel="external">"Upload a dataset"</a>
        </p>
        <Suspense fallback=|| view! { <p class="loading">"Loading datasets…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p>"No datasets yet. Upload one: it is encrypted in your browser before it is sent."</p>
                    }.into_any(),
                    Ok(rows) => {
                        let mut areas: Vec<(String, Vec<DatasetInfo>)> = Vec::new();
                        for d in rows {
                            let area = area_name(&d.domain, &d.subdomain);
                            match areas.iter_mut().find(|(a, _)| *a == area) {
                                Some((_, v)) => v.push(d),
                                None => areas.push((area, vec![d])),
                            }
                        }
                        areas.into_iter().map(|(area, ds)| view! {
                            <h2>{area.clone()}</h2>
                            <table class="data" data-testid="dataset-table">
                                <caption>{format!("{} {} in {area}", ds.len(), if ds.len() == 1 { "dataset" } else { "datasets" })}</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Owner"</th><th scope="col">"Format"</th>
                                    <th scope="col">"Rows"</th><th scope="col">"Columns"</th><th scope="col">"Size"</th>
                                    <th scope="col">"Shared"</th><th scope="col">"Uploaded (UTC)"</th>
                                </tr></thead>
                                <tbody>
                                    {ds.into_iter().map(|d| view! {
                                        <tr>
                                            <td><a href=format!("/datasets/{}", d.id) rel="external">{d.name.clone()}</a></td>
                                            <td>{d.owner.clone()}</td>
                                            <td>{d.format.as_str().to_uppercase()}</td>
                                            <td>{d.rows}</td>
                                            <td>{d.schema.len()}</td>
                                            <td>{human_bytes(d.plaintext_size)}</td>
                                            <td>{if d.shared { "Yes" } else { "No" }}</td>
                                            <td>{utc(&d.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }).collect_view().into_any()
                    }
                    Err(e) => load_failure(e),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn UploadPage() -> impl IntoView {
    view! {
        <Title text="Upload a dataset"/>
        <section class="page">
            <h1>"Upload a dataset"</h1>
            <RequireUser path="/datasets/new" child=|me: Me| view! { <UploadForm me/> }/>
        </section>
    }
}

#[component]
fn UploadForm(me: Me) -> impl IntoView {
    let area = area_name(&me.domain, &me.subdomain);
    view! {
        <p>"Your file is read and encrypted in this browser (AES-256-GCM). The server stores only ciphertext; "
            "the key is wrapped so that only the trainer and you can open it."</p>
        <form id="upload-form" class="stack" novalidate data-domain=me.domain.clone() data-subdomain=me.subdomain.clone()>
            <div class="field">
                <label for="u-file">"Data file (CSV, JSON or Excel .xlsx)"</label>
                <input id="u-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx"/>
            </div>
            <div class="field">
                <label for="u-sheet">"Excel sheet (leave empty for the first sheet)"</label>
                <input id="u-sheet" type="text"/>
            </div>
            <div id="u-parse" class="field" hidden>
                <label for="p-parse">"Reading and checking the file"</label>
                <progress id="p-parse" max="100" value="0"></progress>
            </div>
            <p id="u-status" role="status" aria-live="polite"></p>
            <p id="u-error" class="form-error" role="alert" tabindex="-1" hidden></p>
            <div id="u-preview" hidden>
                <h2>"Preview"</h2>
                <div id="u-table" class="table-scroll"></div>
                <h3>"Columns"</h3>
                <ul id="u-summaries"></ul>
            </div>
            <fieldset id="u-details" disabled>
                <legend>"Details"</legend>
                <div class="field">
                    <label for="u-name">"Dataset name"</label>
                    <input id="u-name" type="text" maxlength="120"/>
                </div>
                <div class="field">
                    <label for="u-target">"Target column (what models will learn to predict)"</label>
                    <select id="u-target"><option value="">"Choose later"</option></select>
                </div>
                <div class="field checkbox">
                    <input id="u-shared" type="checkbox"/>
                    <label for="u-shared">{format!("Let people in {area} see this dataset's name and columns (never its rows)")}</label>
                </div>
                <div id="u-key" hidden>
                    <p>"This is your first upload: choose a passphrase for your dataset key. It lets you open your "
                        "datasets in any browser. We cannot recover it; without it only the trainer can read your data."</p>
                    <div class="field">
                        <label for="u-pass">"Dataset key passphrase (at least 10 characters)"</label>
                        <input id="u-pass" type="password" autocomplete="new-password"/>
                    </div>
                    <div class="field">
                        <label for="u-pass2">"The same passphrase again"</label>
                        <input id="u-pass2" type="password" autocomplete="new-password"/>
                    </div>
                </div>
                <button type="submit" id="u-submit">"Seal and upload"</button>
            </fieldset>
            <button type="button" id="u-cancel" hidden>"Cancel"</button>
            <div id="u-progress" hidden>
                <div class="field">
                    <label for="p-seal">"Sealing"</label>
                    <progress id="p-seal" max="100" value="0"></progress>
                </div>
                <div class="field">
                    <label for="p-upload">"Uploading"</label>
                    <progress id="p-upload" max="100" value="0"></progress>
                </div>
            </div>
            <p id="u-done" hidden>"Done. "<a id="u-done-link" href="/datasets" rel="external">"View the dataset"</a></p>
        </form>
        <script type="module" src="/datasets.js"></script>
    }
}

#[component]
pub fn DatasetPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    view! {
        <Title text="Dataset"/>
        <section class="page">
            <RequireUser path="/datasets" child=move |me: Me| {
                let info = Resource::new(id, get_dataset);
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {let me = me.clone(); move || { let me = me.clone(); Suspend::new(async move {
                            match info.await {
                                Ok(d) => view! { <DatasetDetail d me/> }.into_any(),
                                Err(e @ crate::model::ApiError::Transport { .. }) => load_failure(e),
                                Err(e) => not_found("Dataset not found", format!("{e}. It may have been deleted, or it is not shared with you."), "/datasets", "Back to datasets"),
                            }
                        })}}
                    </Suspense>
                }
            }/>
        </section>
    }
}

#[component]
fn DatasetDetail(d: DatasetInfo, me: Me) -> impl IntoView {
    let owner = d.owner_id == me.id;
    let wrapped = d.owner_wrapped_key.as_ref().and_then(|w| serde_json::to_string(w).ok());
    let options = serde_json::to_string(&d.parse_options).unwrap_or_else(|_| "{}".into());
    view! {
        <h1>{d.name.clone()}</h1>
        <dl class="facts">
            <dt>"Owner"</dt><dd>{d.owner.clone()}</dd>
            <dt>"Area"</dt><dd>{area_name(&d.domain, &d.subdomain)}</dd>
            <dt>"Format"</dt><dd>{d.format.as_str().to_uppercase()}</dd>
            <dt>"Rows"</dt><dd>{d.rows}</dd>
            <dt>"Size"</dt><dd>{format!("{} (ciphertext {})", human_bytes(d.plaintext_size), human_bytes(d.ciphertext_size))}</dd>
            <dt>"Target"</dt><dd>{d.target.clone().unwrap_or_else(|| "not chosen".into())}</dd>
            <dt>"Shared in its area"</dt><dd>{if d.shared { "yes" } else { "no" }}</dd>
            <dt>"Uploaded (UTC)"</dt><dd>{utc(&d.created_at)}</dd>
        </dl>
        <h2>"Columns"</h2>
        <table class="data">
            <caption>{format!("{} columns", d.schema.len())}</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Type"</th></tr></thead>
            <tbody>
                {d.schema.iter().map(|c| view! { <tr><td>{c.name.clone()}</td><td>{format!("{:?}", c.kind).to_lowercase()}</td></tr> }).collect_view()}
            </tbody>
        </table>
        {(owner && wrapped.is_some()).then(|| view! {
            <section id="owner-open" data-id=d.id.clone() data-format=d.format.as_str() data-parse-options=options.clone()
                data-wrapped=wrapped.clone().unwrap_or_default()>
                <h2>"Open in this browser"</h2>
                <p>"Downloads the ciphertext and decrypts it here with your dataset key."</p>
                <form id="o-form" class="stack">
                    <div class="field">
                        <label for="o-pass">"Dataset key passphrase"</label>
                        <input id="o-pass" type="password" autocomplete="current-password"/>
                    </div>
                    <button type="submit" id="o-submit">"Download and open"</button>
                </form>
                <p id="o-status" role="status" aria-live="polite"></p>
                <p id="o-error" class="form-error" role="alert" tabindex="-1" hidden></p>
                <div id="o-table" class="table-scroll"></div>
            </section>
        })}
        {(owner && d.shared).then(|| view! { <Consent id=d.id.clone() consent_at=d.consent_at.clone()/> })}
        {owner.then(|| view! {
            <h2>"Delete"</h2>
            <p id="d-error" class="form-error" role="alert" tabindex="-1" hidden></p>
            <button type="button" id="d-delete" class="danger" data-id=d.id.clone() data-name=d.name.clone()>"Delete this dataset"</button>
        })}
        <p><a href="/datasets" rel="external">"Back to datasets"</a></p>
        <script type="module" src="/datasets.js"></script>
    }
}

/// The owner's consent to joint training: others in the area may then include this dataset in
/// their jobs (trained per owner and combined; the rows never leave the trainer).
#[component]
fn Consent(id: String, consent_at: Option<String>) -> impl IntoView {
    let given = RwSignal::new(consent_at);
    let change = Action::new(move |allow: &bool| set_consent(id.clone(), *allow));
    let error = move || action_error(change.value().get()).map(|e| e.to_string());
    Effect::new(move |_| {
        if let Some(Ok(d)) = change.value().get() {
            given.set(d.consent_at);
        }
    });
    view! {
        <h2>"Joint training"</h2>
        <p data-testid="consent-status" role="status">{move || match given.get() {
            Some(at) => format!("You allowed joint training on {} (UTC): people in this area may include this dataset in their training jobs. The trainer trains on it separately and combines the results; nobody sees its rows.", utc(&at)),
            None => "Only you can train on this dataset. Allow joint training to let people in this area include it in their jobs (it is trained separately and combined; nobody sees its rows).".to_owned(),
        }}</p>
        <button type="button" disabled=move || change.pending().get()
            on:click=move |_| { change.dispatch(given.get_untracked().is_none()); }>
            {move || if given.get().is_some() { "Withdraw consent to joint training" } else { "Allow joint training" }}
        </button>
        <Show when=move || error().is_some()>
            <p class="form-error" role="alert">{error}</p>
        </Show>
    }
}
