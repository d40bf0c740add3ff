//! Privacy pieces the job and federation pages share: the accountant's preview beside the
//! privacy fields, and how what was spent is written.

use leptos::prelude::*;

use crate::api::privacy_preview;
use crate::dp::{EpsilonPreview, PrivacySpent};

/// What to ask the accountant; `None` from the form while a field does not read as a number.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewQuery {
    pub sampling_rate: f64,
    pub noise_multiplier: Option<f64>,
    pub epsilon: Option<f64>,
    pub steps: u64,
    pub delta: f64,
}

/// The accountant's answer as the user types: the σ a target ε needs, or the ε a σ spends,
/// with the sampling rate and steps it composed; the refusal, naming what to change.
#[component]
pub fn PrivacyPreview(#[prop(into)] query: Signal<Option<PreviewQuery>>) -> impl IntoView {
    let answer = Resource::new(
        move || query.get(),
        |q| async move {
            match q {
                Some(q) => Some(privacy_preview(q.sampling_rate, q.noise_multiplier, q.epsilon, q.steps, q.delta).await),
                None => None,
            }
        },
    );
    view! {
        <p class="hint" role="status" aria-live="polite" data-testid="privacy-preview">
            <Transition fallback=|| "Asking the accountant…">
                {move || Suspend::new(async move {
                    match answer.await {
                        Some(Ok(p)) => describe_preview(&p),
                        Some(Err(e)) => format!("The accountant cannot answer: {}.", e.detail()),
                        None => "Fill in the numbers to see what this spends.".to_owned(),
                    }
                })}
            </Transition>
        </p>
    }
}

/// "σ = 1.23 keeps ε at 1.99 (δ = 1e-5) over 95 steps sampling 21.3 % of the rows each".
pub fn describe_preview(p: &EpsilonPreview) -> String {
    format!(
        "Noise multiplier σ = {:.3}: ε = {:.3} at δ = {:.0e}, over {} steps, each using {:.1} % of the rows (sampled at random).",
        p.noise_multiplier,
        p.epsilon,
        p.delta,
        p.steps,
        p.sampling_rate * 100.0
    )
}

/// "ε = 1.99 at δ = 1e-5 (σ = 1.23 …)" for a job's or model's page.
pub fn describe_spent(s: &PrivacySpent) -> String {
    format!(
        "ε = {:.3} at δ = {:.0e}: DP-SGD with noise multiplier σ = {:.3}{}, gradients clipped to {}, {} steps sampling {:.1} % of the rows each",
        s.epsilon,
        s.delta,
        s.noise_multiplier,
        if s.searched { " (the smallest that meets the target ε)" } else { "" },
        s.clip_norm,
        s.steps,
        s.sampling_rate * 100.0
    )
}
