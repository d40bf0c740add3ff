//! The home page: for a signed-in person, their recent work and what to do next (a new user
//! lands here after registering); for a visitor, what Cipherfold does, with the way in, and
//! the catalog of fields people collaborate in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{list_datasets, list_federations, list_jobs, list_models};
use crate::model::auth::Me;
use crate::model::catalog::{self, CATALOG};
use crate::model::ApiError;
use crate::ui::form::load_failure;
use crate::ui::session::use_session;

/// A signed-in person's recent work, loaded for their home page (serialised into the page
/// for hydration, like any resource).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Work {
    me: Me,
    datasets: Vec<crate::model::dataset::DatasetInfo>,
    jobs: Vec<crate::model::job::JobInfo>,
    models: Vec<crate::model::artifact::ModelInfo>,
    federations: Vec<crate::model::federation::FederationInfo>,
}

async fn load_work() -> Result<Option<Work>, ApiError> {
    let Some(me) = crate::api::current_user().await? else { return Ok(None) };
    Ok(Some(Work {
        me,
        datasets: list_datasets().await?,
        jobs: list_jobs().await?,
        models: list_models(String::new(), String::new(), String::new()).await?,
        federations: list_federations().await?,
    }))
}

#[component]
pub fn HomePage() -> impl IntoView {
    let session = use_session();
    // One resource at the page's level (a resource made inside another one's Suspend breaks
    // hydration), loaded again when someone logs in or out on this page. The route renders
    // in `SsrMode::Async`, so the page arrives with the work in place: it reads without
    // scripts (and without a flash).
    let work = Resource::new_blocking(
        move || (session.login.version().get(), session.logout.version().get(), session.register.version().get()),
        |_| load_work(),
    );
    view! {
        <Title text=""/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match work.await {
                    Ok(Some(w)) => view! { <Dashboard w/> }.into_any(),
                    Err(e @ ApiError::Transport { .. }) => load_failure(e),
                    _ => view! { <Welcome/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A signed-in person's start: the next steps (done ones ticked) and the last few datasets,
/// jobs and models.
#[component]
fn Dashboard(w: Work) -> impl IntoView {
    let Work { me, datasets, jobs, models, federations } = w;
    let mine = datasets.iter().filter(|d| d.owner_id == me.id).count();
    let new_user = mine == 0 && jobs.is_empty();
    let open_federations = federations
        .iter()
        .filter(|f| {
            !matches!(f.status, crate::model::federation::FederationStatus::Finished | crate::model::federation::FederationStatus::Failed)
        })
        .count();
    view! {
        <section class="page">
            <h1>{if new_user { format!("Welcome, {}", me.username) } else { format!("Welcome back, {}", me.username) }}</h1>
            <section aria-labelledby="next-heading" data-testid="what-next">
                <h2 id="next-heading">"What next"</h2>
                <ol class="next-steps">
                    <li class:done={mine > 0}>
                        <a href="/datasets/new">"Upload a dataset"</a>
                        " — it is encrypted in this browser before it is sent; the server keeps only ciphertext."
                    </li>
                    <li class:done=!jobs.is_empty()>
                        <a href="/jobs/new">"Train a model"</a>
                        " on your datasets (and those shared in your area), with live progress."
                    </li>
                    <li>
                        <a href="/federations">"Join your area's work"</a>
                        {format!(" — {} federation{} open in your area: train together while your rows stay with you.",
                            open_federations, if open_federations == 1 { " is" } else { "s are" })}
                    </li>
                </ol>
            </section>
            {(!new_user).then(|| view! {
                <div class="recent">
                    <section aria-labelledby="recent-datasets">
                        <h2 id="recent-datasets">"Datasets"</h2>
                        <ul>{datasets.iter().take(3).map(|d| view! {
                            <li><a href=format!("/datasets/{}", d.id)>{d.name.clone()}</a>{format!(" · {} rows", d.rows)}</li>
                        }).collect_view()}</ul>
                        <p><a href="/datasets">"All datasets"</a></p>
                    </section>
                    <section aria-labelledby="recent-jobs">
                        <h2 id="recent-jobs">"Training"</h2>
                        <ul>{jobs.iter().take(3).map(|j| view! {
                            <li><a href=format!("/jobs/{}", j.id)>{j.title()}</a>{format!(" · {}", j.status.label())}</li>
                        }).collect_view()}</ul>
                        <p><a href="/jobs">"All training jobs"</a></p>
                    </section>
                    <section aria-labelledby="recent-models">
                        <h2 id="recent-models">"Models"</h2>
                        <ul>{models.iter().take(3).map(|m| view! {
                            <li><a href=format!("/models/{}", m.id)>{format!("{} → {}", m.kind.label(), m.target)}</a>{format!(" · {}", m.metrics.describe())}</li>
                        }).collect_view()}</ul>
                        <p><a href="/models">"All models"</a></p>
                    </section>
                </div>
            })}
        </section>
    }
}

/// What a visitor reads: what the product does, and the way in.
#[component]
fn Welcome() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Train better models together, without handing over your data."</h1>
            <p class="lead">
                "Cipherfold lets organisations in the same field build machine-learning models "
                "on their combined data while every file stays encrypted: it is sealed in your "
                "browser before a byte leaves your device, only the trainer can open it, and "
                "federated participants share nothing but masked model updates."
            </p>
            <p class="actions">
                <a class="button" href="/register">"Create an account"</a>
                <a href="/login">"Log in"</a>
            </p>
        </section>
        <section class="steps" aria-labelledby="how-heading">
            <h2 id="how-heading">"How it works"</h2>
            <ol class="step-list">
                <li>
                    <h3>"Seal your dataset"</h3>
                    <p>"CSV, JSON or Excel files are parsed and previewed in your browser, then encrypted with AES-256-GCM. The server and its storage only ever hold ciphertext."</p>
                </li>
                <li>
                    <h3>"Train on encrypted data"</h3>
                    <p>"The embedded trainer opens data only in memory for a job: linear and logistic regression, trees and forests, ensembles and a reinforcement-learning classifier for rare classes, with cross-validation and live progress."</p>
                </li>
                <li>
                    <h3>"Collaborate without pooling"</h3>
                    <p>"Federated rounds combine participants' masked, optionally differentially private updates, so no one, including us, sees another participant's update. "
                        "Members join from a browser tab or the command line: "<a href="/federations">"federations"</a>"."</p>
                </li>
                <li>
                    <h3>"Predict privately"</h3>
                    <p>"Homomorphic inference evaluates a linear or logistic model on features encrypted under your own key; only you can read the prediction. "
                        "It is on every such model's page: "<a href="/models">"models"</a>"."</p>
                </li>
            </ol>
        </section>
        <DomainExplorer/>
    }
}

/// Lets a visitor see which subdomains a field has. Changing the selection needs the
/// hydrated page, which makes it the page's proof that hydration happened.
#[component]
fn DomainExplorer() -> impl IntoView {
    let (selected, set_selected) = signal(CATALOG[0].id.to_owned());
    let subdomains = move || selected.with(|id| catalog::domain(id).map(|d| d.subdomains).unwrap_or_default());
    view! {
        <section class="explorer" aria-labelledby="fields-heading">
            <h2 id="fields-heading">"Fields you can collaborate in"</h2>
            <p>"Every member picks a domain and a subdomain; datasets and models are shared within them."</p>
            <label for="domain-select">"Domain"</label>
            <select
                id="domain-select"
                on:change=move |ev| set_selected.set(event_target_value(&ev))
                prop:value=move || selected.get()
            >
                {CATALOG
                    .iter()
                    .map(|d| view! { <option value=d.id>{d.name}</option> })
                    .collect_view()}
            </select>
            <ul class="chips" aria-live="polite" data-testid="subdomains">
                {move || {
                    subdomains()
                        .iter()
                        .map(|s| view! { <li>{s.name}</li> })
                        .collect_view()
                }}
            </ul>
        </section>
    }
}
