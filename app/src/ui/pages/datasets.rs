//! Dataset pages: the list (own and shared, by area), upload, and one dataset's detail.
//! The file work (parse, seal, upload, open) runs in the file worker (`crate::file_worker`),
//! off the page's thread; these components hold the page's state in signals.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{delete_dataset, get_dataset, list_datasets, my_owner_key, set_consent};
use crate::file_worker::{OpenRequest, OpenedTable, Phase, UploadRequest, WorkerBundle, WorkerReply, WorkerRequest};
use crate::model::auth::Me;
use crate::model::catalog::area_name;
use crate::model::dataset::{human_bytes, DatasetInfo};
use crate::model::ApiError;
use crate::table::scan::Scan;
use crate::ui::file_worker::{picked_file, use_hydrated, CellTable, ErrorLine, FileWorker, KeptFile};
use crate::ui::form::{load_failure, load_failures, not_found, utc};
use crate::ui::pages::account::RequireUser;
use crate::ui::session::action_error;
use send_wrapper::SendWrapper;

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
            <a class="button" href="/datasets/new">"Upload a dataset"</a>
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading datasets…"</p> }>
            <ErrorBoundary fallback=load_failures>
                {move || Suspend::new(async move {
                    let value = list.await?;
                    Ok::<_, ApiError>(match value {
                        rows if rows.is_empty() => view! {
                            <p>"No datasets yet. Upload one: it is encrypted in your browser before it is sent."</p>
                        }.into_any(),
                        rows => {
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
                                <div class="table-scroll"><table class="data" data-testid="dataset-table">
                                    <caption>{format!("{} {} in {area}", ds.len(), if ds.len() == 1 { "dataset" } else { "datasets" })}</caption>
                                    <thead><tr>
                                        <th scope="col">"Name"</th><th scope="col">"Owner"</th><th scope="col">"Format"</th>
                                        <th scope="col">"Rows"</th><th scope="col">"Columns"</th><th scope="col">"Size"</th>
                                        <th scope="col">"Shared"</th><th scope="col">"Uploaded (UTC)"</th>
                                    </tr></thead>
                                    <tbody>
                                        {ds.into_iter().map(|d| view! {
                                            <tr>
                                                <td><a href=format!("/datasets/{}", d.id)>{d.name.clone()}</a></td>
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
                                </table></div>
                            }).collect_view().into_any()
                        }
                    })
                })}
            </ErrorBoundary>
        </Transition>
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

/// The upload form. The file never leaves the browser in the clear: the file worker reads it
/// for the preview, then seals and uploads it; this component only keeps the page's state.
#[component]
fn UploadForm(me: Me) -> impl IntoView {
    let area = area_name(&me.domain, &me.subdomain);
    let key = Resource::new(|| (), |_| my_owner_key());
    let file_input = NodeRef::<leptos::html::Input>::new();
    let hydrated = use_hydrated();
    let file: KeptFile = StoredValue::new(None);
    let scan = RwSignal::new(None::<Scan>);
    let (sheet, name, target, shared) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(false));
    let (pass, pass2) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let status = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // What is running: reading the file (the parse bar), or sealing and uploading.
    let (parsing, uploading) = (RwSignal::new(false), RwSignal::new(false));
    let (parse_pct, seal_pct, upload_pct) = (RwSignal::new(0.0), RwSignal::new(0.0), RwSignal::new(0.0));
    // Bytes sent of the ciphertext's size, shown beside the upload bar.
    let upload_bytes = RwSignal::new((0.0, 0.0));
    let uploaded = RwSignal::new(None::<String>);
    let done_link = NodeRef::<leptos::html::A>::new();
    // The owner's datasets, to warn before storing the same file twice; and the (name, size)
    // already warned about, so pressing the button again uploads.
    let mine = Resource::new(|| (), |_| list_datasets());
    let warned = RwSignal::new(None::<(String, u64)>);
    // The sheet field is for Excel workbooks only.
    let is_excel = RwSignal::new(false);
    let warning = RwSignal::new(None::<(String, String)>);
    let needs_key = move || matches!(key.get_untracked(), Some(Ok(None)));

    let worker = FileWorker::new(WorkerBundle::Files, move |reply| match reply {
        WorkerReply::Progress { phase, done, total } => {
            let pct = (100.0 * done / total.max(1.0)).round();
            match phase {
                Phase::Parse => parse_pct.set(pct),
                Phase::Seal => seal_pct.set(pct),
                Phase::Upload => {
                    upload_pct.set(pct);
                    upload_bytes.set((done, total));
                }
            }
        }
        WorkerReply::Status { message } => status.set(message),
        WorkerReply::Parsed { scan: s } => {
            parsing.set(false);
            let file_name = file.with_value(|f| f.as_ref().map(|f| f.name())).unwrap_or_default();
            status.set(format!("{} rows and {} columns read from {file_name}. Nothing has left this browser.", s.rows, s.columns.len()));
            target.set(s.columns.last().map(|c| c.name.clone()).unwrap_or_default());
            scan.set(Some(s));
        }
        WorkerReply::Uploaded { id } => {
            uploading.set(false);
            mine.refetch();
            status.set("Uploaded: only ciphertext left this browser.".into());
            uploaded.set(Some(id));
            request_animation_frame(move || {
                if let Some(a) = done_link.get_untracked() {
                    let _ = a.focus();
                }
            });
        }
        WorkerReply::Cancelled => {
            parsing.set(false);
            uploading.set(false);
            status.set("Cancelled; nothing was kept on the server.".into());
        }
        WorkerReply::Failed { message } => {
            let upload_failed = uploading.get_untracked();
            parsing.set(false);
            uploading.set(false);
            status.set(String::new());
            error.set(Some(if upload_failed {
                format!("The upload failed: {message}. Try again; nothing was kept on the server.")
            } else {
                format!("This file cannot be used: {message}. Fix it and pick it again; nothing was uploaded.")
            }));
        }
        // Replies to other pages' requests.
        _ => {}
    });
    // In the browser only (effects do not run on the server): the worker is ready by the time
    // a file is picked.
    Effect::new(move |_| worker.start_early());

    let read_file = move || {
        scan.set(None);
        error.set(None);
        uploaded.set(None);
        warning.set(None);
        let picked = picked_file(file_input);
        file.set_value(picked.clone().map(SendWrapper::new));
        let Some(picked) = picked else { return };
        is_excel.set(picked.name().to_lowercase().ends_with(".xlsx"));
        status.set(format!("Reading {} in this browser…", picked.name()));
        let file_name = picked.name();
        name.set(file_name.rsplit_once('.').map_or(file_name.as_str(), |(stem, _)| stem).to_owned());
        parse_pct.set(0.0);
        parsing.set(true);
        let sheet = Some(sheet.get_untracked()).filter(|s| !s.trim().is_empty());
        worker.send(&WorkerRequest::Parse { sheet, seal_ahead: true }, Some(&picked));
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(parsed) = scan.get_untracked() else { return };
        error.set(None);
        let passphrase = needs_key().then(|| pass.get_untracked());
        let problem = match &passphrase {
            Some(p) if p.chars().count() < 10 => Some("Your passphrase needs at least 10 characters."),
            Some(p) if *p != pass2.get_untracked() => Some("The two passphrases differ; type the same one twice."),
            _ if name.get_untracked().trim().is_empty() => Some("Give the dataset a name."),
            _ => None,
        };
        if let Some(problem) = problem {
            error.set(Some(problem.to_owned()));
            return;
        }
        // The same name and size from this owner in the last 15 minutes: say so once (the
        // person may mean it), and upload when they press again.
        let size = file.with_value(|f| f.as_ref().map_or(0, |f| f.size() as u64));
        let this = (name.get_untracked().trim().to_owned(), size);
        if warned.get_untracked().as_ref() != Some(&this) {
            let now = leptos::web_sys::js_sys::Date::now();
            let twin = mine.get_untracked().and_then(Result::ok).and_then(|list| {
                list.into_iter().find(|d| {
                    let age_ms = now - leptos::web_sys::js_sys::Date::parse(&d.created_at);
                    d.owner_id == me.id && d.name == this.0 && d.plaintext_size == this.1 && (0.0..15.0 * 60_000.0).contains(&age_ms)
                })
            });
            if let Some(d) = twin {
                let minutes = ((now - leptos::web_sys::js_sys::Date::parse(&d.created_at)) / 60_000.0).floor();
                let when = if minutes < 1.0 { "less than a minute ago".to_owned() } else { format!("{minutes} minutes ago") };
                warning.set(Some((
                    format!(
                        "You uploaded “{}” ({}) {when}. Press “Seal and upload” again to store a second copy, or ",
                        d.name,
                        human_bytes(d.plaintext_size)
                    ),
                    d.id,
                )));
                warned.set(Some(this));
                return;
            }
        }
        warning.set(None);
        uploading.set(true);
        seal_pct.set(0.0);
        upload_pct.set(0.0);
        upload_bytes.set((0.0, 0.0));
        status.set("Sealing in this browser, then uploading the ciphertext…".into());
        let request = UploadRequest {
            scan: parsed,
            name: name.get_untracked().trim().to_owned(),
            domain: me.domain.clone(),
            subdomain: me.subdomain.clone(),
            shared: shared.get_untracked(),
            target: Some(target.get_untracked()).filter(|t| !t.is_empty()),
            passphrase,
        };
        file.with_value(|f| worker.send(&WorkerRequest::Upload(Box::new(request)), f.as_deref()));
    };

    // Back to an empty form for the next file (the finished one is not sent again).
    let upload_another = move || {
        uploaded.set(None);
        scan.set(None);
        is_excel.set(false);
        status.set(String::new());
        name.set(String::new());
        warned.set(None);
        file.set_value(None);
        if let Some(input) = file_input.get_untracked() {
            input.set_value("");
        }
        // Once the form is shown again.
        request_animation_frame(move || {
            if let Some(input) = file_input.get_untracked() {
                let _ = input.focus();
            }
        });
    };
    let busy = move || parsing.get() || uploading.get();
    view! {
        <p>"Your file is read and encrypted in this browser (AES-256-GCM). The server stores only ciphertext; "
            "the key is wrapped so that only the trainer and you can open it."</p>
        <form id="upload-form" class="stack" novalidate on:submit=submit hidden=move || uploaded.with(Option::is_some)>
            <div class="field">
                <label for="u-file">"Data file (CSV, JSON or Excel .xlsx)"</label>
                <input id="u-file" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=file_input
                    disabled=move || busy() || !hydrated.get() on:change=move |_| read_file()/>
            </div>
            <div class="field" hidden=move || !is_excel.get()>
                <label for="u-sheet">"Excel sheet (leave empty for the first sheet)"</label>
                <input id="u-sheet" type="text" bind:value=sheet
                    on:change=move |_| if file.with_value(Option::is_some) { read_file() }/>
            </div>
            <div id="u-parse" class="field" hidden=move || !parsing.get()>
                <label for="p-parse">"Reading and checking the file"</label>
                <progress id="p-parse" max="100" prop:value=parse_pct></progress>
            </div>
            <p id="u-status" role="status" aria-live="polite">{status}</p>
            <ErrorLine id="u-error" message=error/>
            {move || warning.get().map(|(text, id)| view! {
                <p id="u-warning" class="warning" role="status">{text}<a href=format!("/datasets/{id}")>"open the one you uploaded"</a>"."</p>
            })}
            {move || scan.get().map(|s| view! {
                <div id="u-preview">
                    <h2>"Preview"</h2>
                    <div id="u-table" class="table-scroll">
                        <CellTable columns=s.columns.clone() rows=s.preview.clone()
                            caption=format!("First {} of {} rows", s.preview.len(), s.rows)/>
                    </div>
                    <h3>"Columns"</h3>
                    <ul id="u-summaries">{s.summaries.iter().map(|c| view! { <li>{c.describe()}</li> }).collect_view()}</ul>
                </div>
            })}
            <fieldset id="u-details" disabled=move || busy() || scan.with(Option::is_none)>
                <legend>"Details"</legend>
                <div class="field">
                    <label for="u-name">"Dataset name"</label>
                    <input id="u-name" type="text" maxlength="120" bind:value=name/>
                </div>
                <div class="field">
                    <label for="u-target">"Target column (what models will learn to predict)"</label>
                    <select id="u-target" prop:value=target on:change=move |ev| target.set(event_target_value(&ev))>
                        <option value="">"Choose later"</option>
                        {move || scan.with(|s| s.iter().flat_map(|s| &s.columns).map(|c| {
                            let label = c.label();
                            view! { <option value=c.name.clone() selected=target.get_untracked() == c.name>{label}</option> }
                        }).collect_view())}
                    </select>
                </div>
                <div class="field checkbox">
                    <input id="u-shared" type="checkbox" aria-describedby="u-shared-hint" bind:checked=shared/>
                    <label for="u-shared">{format!("Let people in {area} see this dataset's name and columns (never its rows)")}</label>
                </div>
                <p class="hint" id="u-shared-hint" data-testid="sharing-explained">
                    "Shared: people in your area see its name, your name, its columns and row count, and, once you allow joint training, "
                    "may include it in their training jobs (the trainer fits it separately; nobody sees a row). Not shared: only you and the administrators see it. "
                    "Either way, models trained on it are seen by your area: their kind, target, inputs and scores, and anyone there may predict with them; "
                    "only you may download a model's weights."
                </p>
                // The key question is settled on the server (SSR waits for it), so the page
                // arrives with the passphrase fields already shown or hidden.
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let needs = matches!(key.await, Ok(None));
                        view! {
                        <div id="u-key" hidden=!needs>
                            <p>"This is your first upload: choose a passphrase for your dataset key. It lets you open your "
                                "datasets in any browser. We cannot recover it; without it only the trainer can read your data."</p>
                            <div class="field">
                                <label for="u-pass">"Dataset key passphrase (at least 10 characters)"</label>
                                <input id="u-pass" type="password" autocomplete="new-password" bind:value=pass/>
                            </div>
                            <div class="field">
                                <label for="u-pass2">"The same passphrase again"</label>
                                <input id="u-pass2" type="password" autocomplete="new-password" bind:value=pass2/>
                            </div>
                        </div>
                        }
                    })}
                </Suspense>
                <button type="submit" id="u-submit">"Seal and upload"</button>
            </fieldset>
            <button type="button" id="u-cancel" hidden=move || !busy() on:click=move |_| worker.send(&WorkerRequest::Cancel, None)>
                "Cancel"
            </button>
            <div id="u-progress" hidden=move || !uploading.get()>
                <div class="field">
                    <label for="p-seal">"Sealing"</label>
                    <progress id="p-seal" max="100" prop:value=seal_pct></progress>
                </div>
                <div class="field">
                    <label for="p-upload">{move || {
                        let (done, total) = upload_bytes.get();
                        if total > 0.0 {
                            format!("Uploading: {} of {}", human_bytes(done as u64), human_bytes(total as u64))
                        } else {
                            "Uploading (after sealing)".to_owned()
                        }
                    }}</label>
                    <progress id="p-upload" max="100" prop:value=upload_pct></progress>
                </div>
            </div>
        </form>
        {move || uploaded.get().map(|id| view! {
            <div id="u-done" class="stack">
                <p role="status">{format!("Uploaded “{}”: only ciphertext left this browser.", name.get_untracked().trim())}</p>
                <p class="actions">
                    <a id="u-done-link" class="button" node_ref=done_link href=format!("/datasets/{id}")>"View the dataset"</a>
                    <button type="button" class="secondary" on:click=move |_| upload_another()>"Upload another"</button>
                </p>
            </div>
        })}
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
                                Err(e @ ApiError::Transport { .. }) => load_failure(e),
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
    let open = d.owner_wrapped_key.clone().filter(|_| owner).map(|wrapped| OpenRequest {
        id: d.id.clone(),
        passphrase: String::new(),
        format: d.format,
        parse_options: d.parse_options.clone(),
        wrapped,
    });
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
        <div class="table-scroll"><table class="data">
            <caption>{format!("{} columns", d.schema.len())}</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Type"</th></tr></thead>
            <tbody>
                {d.schema.iter().map(|c| view! { <tr><td>{c.name.clone()}</td><td>{c.kind.as_str()}</td></tr> }).collect_view()}
            </tbody>
        </table></div>
        <p><a class="button" href=format!("/jobs/new?dataset={}", d.id) data-testid="train-on">"Train a model on this dataset"</a></p>
        {open.map(|request| view! { <OpenInBrowser request/> })}
        {(owner && d.shared).then(|| view! { <Consent id=d.id.clone() consent_at=d.consent_at.clone()/> })}
        {owner.then(|| view! { <DeleteDataset id=d.id.clone() name=d.name.clone()/> })}
        <p><a href="/datasets">"Back to datasets"</a></p>
    }
}

/// Rows per page of the owner's view (as many as the upload's preview).
const OPEN_PAGE: usize = 20;

/// The owner's view of their rows: the file worker downloads the ciphertext and opens it with
/// their key, unlocked by the passphrase typed here; nothing decrypted leaves the browser.
#[component]
fn OpenInBrowser(request: OpenRequest) -> impl IntoView {
    let passphrase = RwSignal::new(String::new());
    let (status, error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let opening = RwSignal::new(false);
    let opened = RwSignal::new(None::<OpenedTable>);
    let page = RwSignal::new(0usize);
    let worker = FileWorker::new(WorkerBundle::Files, move |reply| match reply {
        WorkerReply::Status { message } => status.set(message),
        WorkerReply::Opened { table } => {
            opening.set(false);
            status.set(format!("Opened in this browser: {} rows.", table.row_count));
            page.set(0);
            opened.set(Some(table));
        }
        WorkerReply::Failed { message } => {
            opening.set(false);
            status.set(String::new());
            error.set(Some(format!("Could not open the dataset: {message}.")));
        }
        _ => {}
    });
    let request = StoredValue::new(request);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        opening.set(true);
        let open = OpenRequest { passphrase: passphrase.get_untracked(), ..request.get_value() };
        worker.send(&WorkerRequest::Open(open), None);
    };
    view! {
        <section id="owner-open">
            <h2>"Open in this browser"</h2>
            <p>"Downloads the ciphertext and decrypts it here with your dataset key."</p>
            <form id="o-form" class="stack" on:submit=submit>
                <div class="field">
                    <label for="o-pass">"Dataset key passphrase"</label>
                    <input id="o-pass" type="password" autocomplete="current-password" bind:value=passphrase/>
                </div>
                <button type="submit" id="o-submit" disabled=opening>"Download and open"</button>
            </form>
            <p id="o-status" role="status" aria-live="polite">{status}</p>
            <ErrorLine id="o-error" message=error/>
            <div id="o-table" class="table-scroll">
                {move || opened.get().map(|t| {
                    let (from, to) = (page.get() * OPEN_PAGE, ((page.get() + 1) * OPEN_PAGE).min(t.rows.len()));
                    let kept = if t.rows.len() < t.row_count { format!(" (the first {} are kept here)", t.rows.len()) } else { String::new() };
                    let caption = format!("Rows {}–{to} of {}{kept}, decrypted in this browser", from + 1, t.row_count);
                    view! { <CellTable columns=t.columns rows=t.rows.get(from..to).map(<[_]>::to_vec).unwrap_or_default() caption/> }
                })}
            </div>
            <Show when=move || opened.with(|t| t.as_ref().is_some_and(|t| t.rows.len() > OPEN_PAGE))>
                <p class="pager">
                    <button type="button" disabled=move || page.get() == 0 on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>
                        {format!("Previous {OPEN_PAGE} rows")}
                    </button>
                    " "
                    <button type="button" disabled=move || opened.with(|t| t.as_ref().is_none_or(|t| (page.get() + 1) * OPEN_PAGE >= t.rows.len()))
                        on:click=move |_| page.update(|p| *p += 1)>
                        {format!("Next {OPEN_PAGE} rows")}
                    </button>
                </p>
            </Show>
        </section>
    }
}

/// Deletion, confirmed in the page (a second button), then back to the list.
#[component]
fn DeleteDataset(id: String, name: String) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let delete = Action::new(move |_: &()| delete_dataset(id.clone()));
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/datasets", Default::default());
        }
    });
    let error = Signal::derive(move || action_error(delete.value().get()).map(|e| format!("Deleting failed: {}. Try again.", e.detail())));
    view! {
        <h2>"Delete"</h2>
        <Show when=move || !confirming.get()>
            <button type="button" id="d-delete" class="danger" on:click=move |_| confirming.set(true)>"Delete this dataset"</button>
        </Show>
        <Show when=move || confirming.get()>
            <p role="alert">{format!("Delete “{name}” and its ciphertext for good? Jobs and models trained on it keep their results; this cannot be undone.")}</p>
            <button type="button" class="danger" disabled=delete.pending() on:click=move |_| { delete.dispatch(()); }>"Yes, delete it"</button>
            " "
            <button type="button" on:click=move |_| confirming.set(false)>"Keep it"</button>
        </Show>
        <ErrorLine id="d-error" message=error/>
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
