//! Form pieces every page uses: a labelled field with its inline error, the error banner.

use leptos::prelude::*;

use crate::model::ApiError;

/// A label, an input and the message for that field, tied together for screen readers.
#[component]
pub fn Field(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] minlength: Option<usize>,
    #[prop(into)] error: Signal<Option<ApiError>>,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.field_message(name).map(str::to_owned));
    let err_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = if hint.is_some() { format!("{hint_id} {err_id}") } else { err_id.clone() };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <input
                id=id
                name=name
                type=kind
                required
                autocomplete=autocomplete
                minlength=minlength
                aria-describedby=described
                aria-invalid=move || if message().is_some() { "true" } else { "false" }
            />
            <p class="field-error" id=err_id role="alert">{message}</p>
        </div>
    }
}

/// The part of an error that belongs to no one field (wrong password, rate limit, outage).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let text = move || {
        error.get().and_then(|e| match e {
            ApiError::Validation { .. } => Some("Please correct the fields marked below.".to_owned()),
            ApiError::Conflict { field: Some(_), .. } => None,
            other => Some(other.to_string()),
        })
    };
    view! {
        <Show when=move || text().is_some()>
            <p class="form-error" role="alert">{move || text().map(|t| capitalise(&t))}</p>
        </Show>
    }
}

pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Domain and subdomain selects; the subdomain list follows the chosen domain.
#[component]
pub fn DomainPicker(
    #[prop(into)] initial_domain: String,
    #[prop(into)] initial_subdomain: String,
    #[prop(into)] error: Signal<Option<ApiError>>,
) -> impl IntoView {
    use crate::model::catalog::{self, CATALOG};
    let (domain, set_domain) = signal(initial_domain);
    let subdomains = move || domain.with(|d| catalog::domain(d).map(|d| d.subdomains).unwrap_or_default());
    let msg = move |f: &'static str| move || error.get().and_then(|e| e.field_message(f).map(str::to_owned));
    view! {
        <div class="field">
            <label for="domain">"Domain"</label>
            <select id="domain" name="domain" aria-describedby="domain-error"
                on:change=move |ev| set_domain.set(event_target_value(&ev))>
                {CATALOG.iter().map(|d| {
                    let selected = domain.get_untracked() == d.id;
                    view! { <option value=d.id selected=selected>{d.name}</option> }
                }).collect_view()}
            </select>
            <p class="field-error" id="domain-error" role="alert">{msg("domain")}</p>
        </div>
        <div class="field">
            <label for="subdomain">"Subdomain"</label>
            <select id="subdomain" name="subdomain" aria-describedby="subdomain-error">
                {move || subdomains().iter().map(|s| {
                    let selected = s.id == initial_subdomain;
                    view! { <option value=s.id selected=selected>{s.name}</option> }
                }).collect_view()}
            </select>
            <p class="field-error" id="subdomain-error" role="alert">{msg("subdomain")}</p>
        </div>
    }
}

/// What a page shows when its data did not come: the server's refusal, or no answer at all
/// (`ApiError::Transport`). One wording everywhere, so people learn what each means.
pub fn load_failure(e: ApiError) -> AnyView {
    match e {
        // Offline (or the server is down): say so, keep the session, offer to try again.
        ApiError::Transport { message } => view! {
            <div class="form-error" role="alert" data-testid="offline">
                <p>{format!("You are offline, or the server cannot be reached ({message}): this page needs a connection. You are not signed out.")}</p>
                <p><button type="button" on:click=|_| { let _ = window().location().reload(); }>"Try again"</button></p>
            </div>
        }
        .into_any(),
        e => view! { <p class="form-error" role="alert">{capitalise(&e.to_string())}</p> }.into_any(),
    }
}

/// `<ErrorBoundary>`'s fallback on pages that load data: each error in `load_failure`'s words.
pub fn load_failures(errors: ArcRwSignal<leptos::error::Errors>) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .map(|(_, e)| {
                let e = e.downcast_ref::<ApiError>().cloned().unwrap_or_else(|| ApiError::Internal { message: e.to_string() });
                load_failure(e)
            })
            .collect_view()
    }
}

/// `n` and the noun, plural unless `n` is 1: "1 worker", "3 workers".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An RFC 3339 UTC time as people read it: `2026-11-28 21:00:00`.
pub fn utc(at: &str) -> String {
    at.replace('T', " ").trim_end_matches('Z').to_owned()
}

/// The page for something that is not there (or not the reader's to see): what, why, and
/// the way back.
pub fn not_found(title: &'static str, message: String, back: &'static str, back_label: &'static str) -> AnyView {
    view! {
        <h1>{title}</h1>
        <p class="form-error" role="alert">{message}</p>
        <p><a href=back>{back_label}</a></p>
    }
    .into_any()
}

/// A text input bound to `value`, with its label and the server's message for `field`.
#[component]
pub fn Input(
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
