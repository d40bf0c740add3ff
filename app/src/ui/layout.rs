//! The frame every page shares: skip link, navigation, main landmark, footer.

use leptos::prelude::*;
use leptos_router::components::A;

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
