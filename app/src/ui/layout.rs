//! The frame every page shares: skip link, navigation (with who is logged in), main landmark, footer.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::model::auth::Role;
use crate::model::catalog;
use crate::ui::session::use_session;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <nav class="nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <img src="/icons/icon-192.png" alt="" width="28" height="28"/>
                    <span>"Cipherfold"</span>
                </A>
                <ul class="nav-links">
                    <li><A href="/">"Home"</A></li>
                </ul>
                <AccountNav/>
            </nav>
        </header>
        <main id="main" tabindex="-1">{children()}</main>
        <footer class="site-footer">
            <p>
                "Cipherfold " <span class="version" data-testid="version">{format!("v{}", crate::VERSION)}</span>
                " · Your data is encrypted in your browser before it is uploaded."
            </p>
        </footer>
    }
}

#[component]
fn AccountNav() -> impl IntoView {
    let session = use_session();
    let logout = session.logout;
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            navigate("/", Default::default());
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match session.user.await {
                    Ok(Some(me)) => {
                        let field = catalog::domain(&me.domain)
                            .and_then(|d| d.subdomains.iter().find(|s| s.id == me.subdomain).map(|s| format!("{} · {}", d.name, s.name)))
                            .unwrap_or_default();
                        view! {
                            <ul class="nav-links nav-account">
                                {(me.role == Role::Admin).then(|| view! { <li><A href="/audit">"Audit log"</A></li> })}
                                <li><A href="/datasets">"Datasets"</A></li>
                                <li><A href="/jobs">"Training"</A></li>
                                <li><A href="/models">"Models"</A></li>
                                <li><A href="/federations">"Federations"</A></li>
                                <li><A href="/analytics">"Analytics"</A></li>
                                <li><A href="/profile">"Profile"</A></li>
                                <li class="who" data-testid="who">
                                    "Signed in as " <strong>{me.username.clone()}</strong>
                                    <span class="field-tag">{field}</span>
                                </li>
                                <li>
                                    <ActionForm action=logout attr:class="inline">
                                        <button type="submit" class="link-button">"Log out"</button>
                                    </ActionForm>
                                </li>
                            </ul>
                        }.into_any()
                    }
                    _ => view! {
                        <ul class="nav-links nav-account">
                            <li><A href="/login">"Log in"</A></li>
                            <li><A href="/register">"Create account"</A></li>
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
