//! Declaring a federation: its columns come from a sample file read in this browser (never
//! sent), the person picks the inputs and the target, the model and the rounds; every problem
//! comes back named by its field (`NewFederation::check`, the same on the server).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use crate::api::create_federation;
use crate::file_worker::{WorkerReply, WorkerRequest};
use crate::fl::train::{Feature, FlModel, FlTask};
use crate::model::auth::Me;
use crate::model::federation::NewFederation;
use crate::model::{ApiError, FieldErrors};
use crate::table::ColumnKind;
use crate::table::ColumnStats;
use crate::ui::file_worker::{picked_file, ErrorLine, FileWorker};
use crate::ui::form::FormError;
use crate::ui::pages::account::RequireUser;

/// A column of the sample file as the form edits it.
#[derive(Clone, Debug, PartialEq)]
struct Draft {
    name: String,
    kind: ColumnKind,
    /// Comma-separated, for a categorical column.
    categories: String,
    input: bool,
}

#[component]
pub fn NewFederationPage() -> impl IntoView {
    view! {
        <Title text="Declare a federation"/>
        <section class="page">
            <h1>"Declare a federation"</h1>
            <RequireUser path="/federations/new" child=|_me: Me| view! { <NewFederationForm/> }/>
        </section>
    }
}

/// A text input bound to `value`, with its label and the server's message for `field`.
#[component]
fn Input(
    id: &'static str,
    field: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.field_message(field).map(str::to_owned));
    let hint_id = format!("{id}-hint");
    let err_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <input id=id type=kind step="any" prop:value=value on:input=move |e| value.set(event_target_value(&e))
                aria-describedby=format!("{hint_id} {err_id}") aria-invalid=move || if message().is_some() { "true" } else { "false" }/>
            <p class="field-error" id=err_id role="alert">{message}</p>
        </div>
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    let mut fields = FieldErrors::new();
    fields.insert(field.to_owned(), message.to_owned());
    ApiError::Validation { fields }
}

fn number<T: std::str::FromStr>(value: &str, field: &str, what: &str) -> Result<T, ApiError> {
    value.trim().parse().map_err(|_| invalid(field, &format!("enter {what}")))
}

fn categories(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

#[component]
fn NewFederationForm() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let columns = RwSignal::new(Vec::<Draft>::new());
    let target = RwSignal::new(String::new());
    let model = RwSignal::new("logistic".to_owned());
    let labels = RwSignal::new(String::new());
    let rounds = RwSignal::new("10".to_owned());
    let min = RwSignal::new("3".to_owned());
    let threshold = RwSignal::new("2".to_owned());
    let timeout = RwSignal::new("120".to_owned());
    let epochs = RwSignal::new("5".to_owned());
    let rate = RwSignal::new("0.5".to_owned());
    let batch = RwSignal::new("32".to_owned());
    let alpha = RwSignal::new("1".to_owned());
    let mu = RwSignal::new("0".to_owned());
    let hidden = RwSignal::new("16".to_owned());
    let error = RwSignal::new(None::<ApiError>);
    let (status, file_error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let input = NodeRef::<leptos::html::Input>::new();

    // The target's categories become the classes; a numeric target suggests linear regression.
    let choose_target = move |t: String| {
        columns.with_untracked(|cs| {
            if let Some(c) = cs.iter().find(|c| c.name == t) {
                let classify = c.kind != ColumnKind::Numeric;
                model.set(if classify { "logistic" } else { "linear" }.into());
                if classify {
                    labels.set(c.categories.clone());
                } else {
                    rounds.set("1".into());
                }
            }
        });
        target.set(t);
    };
    let worker = FileWorker::new(move |reply| match reply {
        WorkerReply::Parsed { scan } => {
            let drafts: Vec<Draft> = scan
                .summaries
                .iter()
                .map(|s| Draft {
                    name: s.name.clone(),
                    kind: s.kind,
                    categories: match &s.stats {
                        ColumnStats::Categorical { top, .. } => top.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>().join(", "),
                        _ => String::new(),
                    },
                    input: true,
                })
                .collect();
            status.set(format!("{} columns read from the sample; nothing left this browser.", drafts.len()));
            let last = drafts.last().map(|d| d.name.clone()).unwrap_or_default();
            columns.set(drafts);
            choose_target(last);
        }
        WorkerReply::Failed { message } => {
            status.set(String::new());
            file_error.set(Some(format!("This file cannot be read: {message}")));
        }
        _ => {}
    });
    let pick = move |_| {
        file_error.set(None);
        let Some(file) = picked_file(input) else { return };
        status.set(format!("Reading {} in this browser…", file.name()));
        worker.send(&WorkerRequest::Parse { sheet: None }, Some(&file));
    };

    let build = move || -> Result<NewFederation, ApiError> {
        let t = target.get_untracked();
        let features: Vec<Feature> = columns
            .get_untracked()
            .into_iter()
            .filter(|c| c.input && c.name != t)
            .map(|c| Feature {
                categories: if c.kind == ColumnKind::Categorical { categories(&c.categories) } else { vec![] },
                name: c.name,
                kind: c.kind,
            })
            .collect();
        let kind = model.get_untracked();
        let epochs = || number(&epochs.get_untracked(), "task.model.epochs", "a whole number of passes");
        let rate = || number(&rate.get_untracked(), "task.model.learning_rate", "a number above 0");
        let batch = || number(&batch.get_untracked(), "task.model.batch_size", "a whole number of rows");
        let mu = || number(&mu.get_untracked(), "task.model.mu", "a number, 0 or more");
        let model = match kind.as_str() {
            "logistic" => FlModel::Logistic {
                alpha: number(&alpha.get_untracked(), "task.model.alpha", "a number, 0 or more")?,
                epochs: epochs()?,
                learning_rate: rate()?,
                batch_size: batch()?,
                mu: mu()?,
            },
            "mlp" => FlModel::Mlp {
                hidden: hidden
                    .get_untracked()
                    .split(',')
                    .map(|h| number(h, "task.model.hidden", "layer widths as whole numbers, comma-separated (16 or 32, 16)"))
                    .collect::<Result<_, _>>()?,
                epochs: epochs()?,
                learning_rate: rate()?,
                batch_size: batch()?,
                mu: mu()?,
            },
            _ => FlModel::Linear,
        };
        let logistic = kind != "linear";
        Ok(NewFederation {
            name: name.get_untracked(),
            task: FlTask { features, target: t, labels: logistic.then(|| categories(&labels.get_untracked())), model, privacy: None },
            rounds: number(&rounds.get_untracked(), "rounds", "a whole number of rounds")?,
            min_participants: number(&min.get_untracked(), "min_participants", "a whole number of participants")?,
            threshold: number(&threshold.get_untracked(), "threshold", "a whole number of participants")?,
            round_timeout_secs: number(&timeout.get_untracked(), "round_timeout_secs", "a whole number of seconds")?,
        })
    };
    let create = Action::new(move |req: &NewFederation| create_federation(req.clone()));
    let navigate = use_navigate();
    Effect::new(move |_| match create.value().get() {
        Some(Ok(f)) => navigate(&format!("/federations/{}", f.id), Default::default()),
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match build() {
            Ok(req) => {
                error.set(None);
                create.dispatch(req);
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let err = Signal::derive(move || error.get());
    let field_message = move |f: &'static str| move || error.get().and_then(|e| e.field_message(f).map(str::to_owned));
    let logistic = move || model.get() != "linear";
    let network = move || model.get() == "mlp";
    view! {
        <p>"Everyone in your area can see the federation and join it with their own rows. Its columns come from a sample file you pick below: "
            "it is read in this browser and never sent (a file with the header and a few rows is enough)."</p>
        <form on:submit=submit novalidate>
            <FormError error=err/>
            <Input id="fed-name" field="name" label="Name" value=name error=err/>
            <div class="field">
                <label for="fed-sample">"Sample file with the columns (CSV, JSON or Excel .xlsx)"</label>
                <input id="fed-sample" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick/>
                <p role="status" aria-live="polite">{status}</p>
                <ErrorLine id="fed-sample-error" message=file_error/>
                <p class="field-error" role="alert">{field_message("task.features")}</p>
            </div>
            <Show when=move || !columns.get().is_empty()>
                <div class="field">
                    <label for="fed-target">"Column to predict (the target)"</label>
                    <select id="fed-target" on:change=move |e| choose_target(event_target_value(&e))>
                        {move || columns.get().into_iter().map(|c| {
                            let selected = c.name == target.get();
                            view! { <option value=c.name.clone() selected=selected>{c.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                    <p class="field-error" role="alert">{field_message("task.target")}</p>
                </div>
                <table class="data columns" data-testid="fed-columns">
                    <caption>"Input columns: each participant's file needs every ticked column with this kind"</caption>
                    <thead><tr><th scope="col">"Use as input"</th><th scope="col">"Kind"</th><th scope="col">"Categories (comma-separated)"</th></tr></thead>
                    <tbody>
                        {move || columns.get().into_iter().enumerate().filter(|(_, c)| c.name != target.get()).map(|(i, c)| {
                            let id = format!("fed-col-{i}");
                            let cat_id = format!("fed-cat-{i}");
                            view! {
                                <tr>
                                    <td class="check">
                                        <input id=id.clone() type="checkbox" prop:checked=c.input
                                            on:change=move |e| { let on = event_target_checked(&e); columns.update(|cs| cs[i].input = on); }/>
                                        <label for=id>{c.name.clone()}</label>
                                    </td>
                                    <td>{c.kind.as_str()}</td>
                                    <td>{(c.kind == ColumnKind::Categorical).then(|| view! {
                                        <label class="visually-hidden" for=cat_id.clone()>{format!("Categories of {}", c.name)}</label>
                                        <input id=cat_id type="text" prop:value=c.categories.clone()
                                            on:change=move |e| { let v = event_target_value(&e); columns.update(|cs| cs[i].categories = v); }/>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </Show>
            <div class="field">
                <label for="fed-model">"Model"</label>
                <select id="fed-model" on:change=move |e| model.set(event_target_value(&e))>
                    <option value="logistic" selected=move || model.get() == "logistic">"Logistic regression (classify the target)"</option>
                    <option value="mlp" selected=move || model.get() == "mlp">"Small neural network (classify the target)"</option>
                    <option value="linear" selected=move || model.get() == "linear">"Linear regression (predict a number; exact in one round)"</option>
                </select>
            </div>
            <Show when=logistic>
                <Input id="fed-labels" field="task.labels" label="Classes of the target (comma-separated)" value=labels error=err/>
                <Show when=network>
                    <Input id="fed-hidden" field="task.model.hidden" label="Hidden layer widths (comma-separated)" value=hidden error=err
                        hint="One to three layers of 1 to 256 units, e.g. 16 or 32, 16."/>
                </Show>
                <Input id="fed-epochs" field="task.model.epochs" label="Local passes over the rows per round" value=epochs error=err kind="number"/>
                <Input id="fed-rate" field="task.model.learning_rate" label="Learning rate" value=rate error=err kind="number"/>
                <Input id="fed-batch" field="task.model.batch_size" label="Batch size (rows)" value=batch error=err kind="number"/>
                <Show when=move || !network()>
                    <Input id="fed-alpha" field="task.model.alpha" label="L2 penalty" value=alpha error=err kind="number"/>
                </Show>
                <Input id="fed-mu" field="task.model.mu" label="FedProx μ (0 for FedAvg)" value=mu error=err kind="number"
                    hint="Above 0 pulls each participant's steps toward the global model, which helps when participants' rows differ."/>
            </Show>
            <Input id="fed-rounds" field="rounds" label="Training rounds" value=rounds error=err kind="number"/>
            <Input id="fed-min" field="min_participants" label="Participants a round waits for" value=min error=err kind="number"/>
            <Input id="fed-threshold" field="threshold" label="Secure-aggregation threshold" value=threshold error=err kind="number"
                hint="Participants who must stay to the end of a round for it to count; fewer than this, colluding with the server, learn nothing about anyone's update. More than half of the participants."/>
            <Input id="fed-timeout" field="round_timeout_secs" label="Seconds each stage of a round waits for late participants" value=timeout error=err kind="number"/>
            <button type="submit" disabled=create.pending()>"Declare the federation"</button>
        </form>
    }
}
