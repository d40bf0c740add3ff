//! Register, log in, profile: the account pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::model::auth::{Me, PASSWORD_MIN};
use crate::model::catalog;
use crate::model::ApiError;
use crate::ui::form::{load_failure, DomainPicker, Field, FormError};
use crate::ui::session::{action_error, safe_next, use_session};

#[component]
pub fn RegisterPage() -> impl IntoView {
    let session = use_session();
    let action = session.register;
    let error = Signal::derive(move || action_error(action.value().get()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        // Home greets a new user with what to do next.
        if let Some(Ok(_)) = action.value().get() {
            navigate("/", Default::default());
        }
    });
    view! {
        <Title text="Create an account"/>
        <section class="page narrow">
            <h1>"Create an account"</h1>
            <p>"Pick the field you work in; you will see datasets and models shared in it."</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormError error/>
                <Field id="reg-username" name="username" label="Username" autocomplete="username"
                    hint="3 to 32 lowercase letters, digits, '_', '-' or '.'" error/>
                <Field id="reg-email" name="email" label="Email" kind="email" autocomplete="email" error/>
                <Field id="reg-password" name="password" label="Password" kind="password" autocomplete="new-password"
                    hint="At least 10 characters; a passphrase of several words is best." minlength=PASSWORD_MIN error/>
                <DomainPicker initial_domain=catalog::CATALOG[0].id initial_subdomain="" error/>
                <button type="submit" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Creating your account…" } else { "Create account" }}
                </button>
            </ActionForm>
            <p>"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let action = session.login;
    let error = Signal::derive(move || action_error(action.value().get()));
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next"));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            navigate(&next(), Default::default());
        }
    });
    view! {
        <Title text="Log in"/>
        <section class="page narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <FormError error/>
                <Field id="login-username" name="username" label="Username" autocomplete="username" error/>
                <Field id="login-password" name="password" label="Password" kind="password" autocomplete="current-password" error/>
                <button type="submit" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </ActionForm>
            <p>"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

/// Renders `child` for a logged-in user, or sends the visitor to the login page and back.
#[component]
pub fn RequireUser<F, V>(path: &'static str, child: F) -> impl IntoView
where
    F: Fn(Me) -> V + Send + Sync + Clone + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    let body = move || {
        let child = child.clone();
        Suspend::new(async move {
            match session.user.await {
                Ok(Some(me)) => child(me).into_any(),
                // Offline is not signed out: no redirect to the login page.
                Err(e @ ApiError::Transport { .. }) => load_failure(e),
                _ => view! { <Redirect path=format!("/login?next={path}")/> }.into_any(),
            }
        })
    };
    // The server draws the page once, from one body. Given the closure, its rendering called
    // it two to four times per request (measured on the models page), and each call built the
    // page and its resources anew with new serialisation ids, while the browser hydrates once
    // and reads the first call's: when that one's data was not in the page, hydration found a
    // placeholder where the server had drawn the page, and panicked (flaky browser tests).
    // The browser keeps the closure, so a page follows the user after a login or logout.
    #[cfg(feature = "ssr")]
    let body = body();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {body}
        </Suspense>
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your profile"/>
        <section class="page narrow">
            <h1>"Your profile"</h1>
            <RequireUser path="/profile" child=|me: Me| view! { <ProfileForms me/> }/>
        </section>
    }
}

#[component]
fn ProfileForms(me: Me) -> impl IntoView {
    let session = use_session();
    let profile = session.update_profile;
    let password = session.change_password;
    let profile_error = Signal::derive(move || action_error(profile.value().get()));
    let password_error = Signal::derive(move || action_error(password.value().get()));
    let saved = move || matches!(profile.value().get(), Some(Ok(_)));
    let changed = move || matches!(password.value().get(), Some(Ok(_)));
    let role = if me.role == crate::model::auth::Role::Admin { "administrator" } else { "member" };
    view! {
        <dl class="facts">
            <dt>"Username"</dt><dd data-testid="profile-username">{me.username.clone()}</dd>
            <dt>"Email"</dt><dd>{me.email.clone()}</dd>
            <dt>"Role"</dt><dd>{role}</dd>
            <dt>"Member since"</dt><dd>{me.created_at.get(..10).unwrap_or_default().to_owned()}</dd>
        </dl>
        <PrivacyLedgers/>
        <h2>"Your field"</h2>
        <ActionForm action=profile attr:class="form">
            <FormError error=profile_error/>
            <DomainPicker initial_domain=me.domain.clone() initial_subdomain=me.subdomain.clone() error=profile_error/>
            <button type="submit" disabled=move || profile.pending().get()>"Save field"</button>
            <Show when=saved>
                <p class="success" role="status">"Saved. Your field is now shown in the navigation."</p>
            </Show>
        </ActionForm>
        <h2>"Change password"</h2>
        <ActionForm action=password attr:class="form" attr:novalidate=true>
            <FormError error=password_error/>
            <Field id="current-password" name="current_password" label="Current password" kind="password"
                autocomplete="current-password" error=password_error/>
            <Field id="new-password" name="new_password" label="New password" kind="password"
                autocomplete="new-password" hint="At least 10 characters." minlength=PASSWORD_MIN error=password_error/>
            <button type="submit" disabled=move || password.pending().get()>"Change password"</button>
            <Show when=changed>
                <p class="success" role="status">"Password changed. Your other sessions have been logged out."</p>
            </Show>
        </ActionForm>
    }
}

/// The privacy the person has spent in every private federation they joined: the figure
/// each federation's page shows them, gathered in one place.
#[component]
fn PrivacyLedgers() -> impl IntoView {
    let ledgers = Resource::new(|| (), |_| crate::api::my_privacy());
    view! {
        <h2>"Your privacy budget"</h2>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match ledgers.await {
                    Ok(list) if list.is_empty() => view! {
                        <p>"You have not taken part in a federation with differential privacy. When you do, what each has spent of your privacy (ε) is listed here."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-scroll">
                        <table class="data" data-testid="privacy-ledgers">
                            <caption>"ε spent in each private federation you joined (smaller is more private)"</caption>
                            <thead><tr>
                                <th scope="col">"Federation"</th><th scope="col">"ε spent"</th><th scope="col">"Budget"</th>
                                <th scope="col">"δ"</th><th scope="col">"Rounds with your update"</th><th scope="col">"Status"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|l| view! {
                                    <tr>
                                        <td><a href=format!("/federations/{}", l.federation)>{l.name.clone()}</a></td>
                                        <td>{format!("{:.3}", l.epsilon)}</td>
                                        <td>{l.budget}</td>
                                        <td>{format!("{:e}", l.delta)}</td>
                                        <td>{format!("{} of {}", l.contributed.len(), l.rounds)}</td>
                                        <td>{l.status.as_str()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{format!("Your privacy ledger could not be loaded: {e}")}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
