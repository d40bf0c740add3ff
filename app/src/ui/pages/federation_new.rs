//! Declaring a federation: its columns come from a sample file read in this browser (never
//! sent), the person picks the inputs and the target, the model and the rounds; every problem
//! comes back named by its field (`NewFederation::check`, the same on the server).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

use crate::api::create_federation;
use crate::file_worker::{WorkerBundle, WorkerReply, WorkerRequest};
use crate::fl::privacy::{FlPrivacy, NoiseMode};
use crate::fl::train::{Feature, FlModel, FlTask};
use crate::model::auth::Me;
use crate::model::federation::NewFederation;
use crate::model::{ApiError, FieldErrors};
use crate::table::ColumnKind;
use crate::table::ColumnStats;
use crate::ui::file_worker::{picked_file, use_hydrated, ErrorLine, FileWorker};
use crate::ui::form::{FormError, Input};
use crate::ui::pages::account::RequireUser;
use crate::ui::privacy::{PreviewQuery, PrivacyPreview};

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
    let dp = DpFields::new();
    let error = RwSignal::new(None::<ApiError>);
    let (status, file_error) = (RwSignal::new(String::new()), RwSignal::new(None::<String>));
    let input = NodeRef::<leptos::html::Input>::new();
    let hydrated = use_hydrated();

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
    let worker = FileWorker::new(WorkerBundle::Files, move |reply| match reply {
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
        worker.send(&WorkerRequest::Parse { sheet: None, seal_ahead: false }, Some(&file));
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
        let privacy = if dp.on.get_untracked() { Some(dp.settings()?) } else { None };
        Ok(NewFederation {
            name: name.get_untracked(),
            task: FlTask { features, target: t, labels: logistic.then(|| categories(&labels.get_untracked())), model, privacy },
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
                <input id="fed-sample" type="file" accept=".csv,.tsv,.txt,.json,.jsonl,.ndjson,.xlsx" node_ref=input on:change=pick disabled=move || !hydrated.get()/>
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
            <Show when=logistic>
                <DpFieldset dp rounds=Signal::derive(move || rounds.get().trim().parse::<u32>().unwrap_or(0)) error=err/>
            </Show>
            <button type="submit" disabled=create.pending()>"Declare the federation"</button>
        </form>
    }
}

/// The form's privacy fields, as typed.
#[derive(Clone, Copy)]
struct DpFields {
    on: RwSignal<bool>,
    epsilon: RwSignal<String>,
    delta: RwSignal<String>,
    clip_norm: RwSignal<String>,
    noise_multiplier: RwSignal<String>,
    sampling_rate: RwSignal<String>,
    noise: RwSignal<String>,
}

impl DpFields {
    fn new() -> Self {
        let s = |v: &str| RwSignal::new(v.to_owned());
        DpFields {
            on: RwSignal::new(false),
            epsilon: s("8"),
            delta: s("0.00001"),
            clip_norm: s("1"),
            noise_multiplier: s("1"),
            sampling_rate: s("1"),
            noise: s("distributed"),
        }
    }

    /// The settings, or the field that does not read as a number.
    fn settings(&self) -> Result<FlPrivacy, ApiError> {
        let n = |v: RwSignal<String>, f: &str| number::<f64>(&v.get_untracked(), f, "a number");
        Ok(FlPrivacy {
            clip_norm: n(self.clip_norm, "task.privacy.clip_norm")?,
            noise_multiplier: n(self.noise_multiplier, "task.privacy.noise_multiplier")?,
            noise: if self.noise.get_untracked() == "central" { NoiseMode::Central } else { NoiseMode::Distributed },
            sampling_rate: n(self.sampling_rate, "task.privacy.sampling_rate")?,
            epsilon: n(self.epsilon, "task.privacy.epsilon")?,
            delta: n(self.delta, "task.privacy.delta")?,
        })
    }
}

/// Differential privacy for a federation: off by default; on, its settings, the accountant's
/// preview of ε after every declared round, and how many rounds the budget allows.
#[component]
fn DpFieldset(dp: DpFields, #[prop(into)] rounds: Signal<u32>, #[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let parsed = move || {
        let f = |v: RwSignal<String>| v.get().trim().parse::<f64>().ok();
        Some((f(dp.sampling_rate)?, f(dp.noise_multiplier)?, f(dp.delta)?, f(dp.epsilon)?))
    };
    let query = Signal::derive(move || {
        let (q, sigma, delta, _) = if dp.on.get() { parsed()? } else { None? };
        Some(PreviewQuery { sampling_rate: q, noise_multiplier: Some(sigma), epsilon: None, steps: u64::from(rounds.get()), delta })
    });
    // The same accountant, here in the browser: the rounds the budget allows.
    let allowed = move || {
        let (q, sigma, delta, budget) = parsed()?;
        let p = FlPrivacy { clip_norm: 1.0, noise_multiplier: sigma, noise: NoiseMode::Central, sampling_rate: q, epsilon: budget, delta };
        let n = p.rounds_within_budget(rounds.get()).ok()?;
        Some(if n < rounds.get() {
            format!("The budget ε = {budget} allows {n} of the {} training rounds; training stops there.", rounds.get())
        } else {
            format!("The budget ε = {budget} allows all {} training rounds.", rounds.get())
        })
    };
    let general = move || error.get().and_then(|e| e.field_message("task.privacy").map(str::to_owned));
    view! {
        <fieldset>
            <legend>"Differential privacy"</legend>
            <div class="field checkbox">
                <input type="checkbox" id="fed-dp" prop:checked=move || dp.on.get() on:change=move |ev| dp.on.set(event_target_checked(&ev))/>
                <label for="fed-dp">"Require differential privacy for every participant (DP-FedAvg)"</label>
            </div>
            <p class="field-error" role="alert">{general}</p>
            <Show when=move || dp.on.get()>
                <Input id="fed-dp-epsilon" field="task.privacy.epsilon" label="Privacy budget ε" value=dp.epsilon error kind="number"
                    hint="Training stops before a round that would spend more. Smaller is more private."/>
                <Input id="fed-dp-delta" field="task.privacy.delta" label="δ" value=dp.delta error
                    hint="The chance the guarantee fails; below 1 / the number of participants."/>
                <Input id="fed-dp-clip" field="task.privacy.clip_norm" label="Update clipping norm C" value=dp.clip_norm error kind="number"
                    hint="Each participant's update is scaled down to at most this length."/>
                <Input id="fed-dp-sigma" field="task.privacy.noise_multiplier" label="Noise multiplier σ" value=dp.noise_multiplier error kind="number"
                    hint="The noise on the sum of updates has standard deviation σ × C. The average divides it by the expected participants (q × members), so with few participants the noise dominates."/>
                <Input id="fed-dp-q" field="task.privacy.sampling_rate" label="Participant sampling rate q" value=dp.sampling_rate error kind="number"
                    hint="Each round takes each member with this chance (1: everyone)."/>
                <div class="field">
                    <label for="fed-dp-noise">"Who adds the noise"</label>
                    <select id="fed-dp-noise" on:change=move |e| dp.noise.set(event_target_value(&e))>
                        <option value="distributed" selected=move || dp.noise.get() == "distributed">"The participants, each a share (the server never sees a sum without noise)"</option>
                        <option value="central" selected=move || dp.noise.get() == "central">"The server, after adding up the updates"</option>
                    </select>
                </div>
                <PrivacyPreview query/>
                <p class="hint" role="status" data-testid="privacy-rounds">{allowed}</p>
            </Show>
        </fieldset>
    }
}
