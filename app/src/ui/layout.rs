//! The frame every page shares: skip link, navigation (with who is logged in), main landmark, footer.
//! On a narrow screen the navigation folds behind a "Menu" button (a disclosure: the button
//! says whether it is open and which list it controls; Escape closes it and so does following a link in it).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::model::auth::Role;
use crate::model::catalog;
use crate::ui::session::use_session;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let open = RwSignal::new(false);
    // Following a link in the menu closes it (also when the link is the page already shown).
    let on_menu_click = move |ev: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        let in_link =
            ev.target().and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok()).and_then(|e| e.closest("a").ok().flatten()).is_some();
        // After the click has been handled: the router must see the link while it is shown.
        if in_link {
            request_animation_frame(move || open.set(false));
        }
    };
    let button = NodeRef::<leptos::html::Button>::new();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(b) = button.get_untracked() {
                let _ = b.focus();
            }
        }
    };
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <nav class="nav" class:open=move || open.get() aria-label="Main" on:keydown=on_keydown>
                <A href="/" attr:class="brand">
                    <img src="/icons/icon-192.png" alt="" width="28" height="28"/>
                    <span>"Cipherfold"</span>
                </A>
                <button type="button" class="menu-button" node_ref=button aria-controls="site-menu"
                    aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    "Menu"
                </button>
                <div id="site-menu" class="nav-menu" on:click=on_menu_click>
                    <AccountNav/>
                </div>
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
                        let field = catalog::area_name(&me.domain, &me.subdomain);
                        view! {
                            <ul class="nav-links">
                                <li><A href="/datasets">"Datasets"</A></li>
                                <li><A href="/jobs">"Training"</A></li>
                                <li><A href="/models">"Models"</A></li>
                                <li><A href="/federations">"Federations"</A></li>
                                <li><A href="/analytics">"Analytics"</A></li>
                                {(me.role == Role::Admin).then(|| view! { <li><A href="/audit">"Audit log"</A></li> })}
                            </ul>
                            <ul class="nav-links nav-account">
                                <li class="who" data-testid="who">
                                    <span class="visually-hidden">"Signed in as "</span><A href="/profile" attr:class="who-name">{me.username.clone()}</A>
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
                    Err(crate::model::ApiError::Transport { .. }) => view! {
                        <ul class="nav-links nav-account nav-guest">
                            <li class="who" data-testid="who">"Offline: your session is kept"</li>
                        </ul>
                    }.into_any(),
                    _ => view! {
                        <ul class="nav-links nav-account nav-guest">
                            <li><A href="/login">"Log in"</A></li>
                            <li><A href="/register">"Create account"</A></li>
                        </ul>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
