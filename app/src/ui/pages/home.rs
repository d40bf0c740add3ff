//! The landing page: what Cipherfold does, and the catalog of fields people collaborate in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::model::catalog::{self, CATALOG};

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <section class="hero">
            <h1>"Train better models together, without handing over your data."</h1>
            <p class="lead">
                "Cipherfold lets organisations in the same field build machine-learning models "
                "on their combined data while every file stays encrypted: it is sealed in your "
                "browser before a byte leaves your device, only the trainer can open it, and "
                "federated participants share nothing but masked model updates."
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
                    <p>"Federated rounds combine participants' masked, optionally differentially private updates, so no one, including us, sees another participant's update."</p>
                </li>
                <li>
                    <h3>"Predict privately"</h3>
                    <p>"Homomorphic inference evaluates a model on features encrypted under your own key; only you can read the prediction."</p>
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
