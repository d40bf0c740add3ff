use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Shown for any path no route matches; answers 404 when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="page narrow">
            <h1>"Page not found"</h1>
            <p>"There is no page at this address. Check the link, or go back to the start."</p>
            <p><A href="/">"Go to the home page"</A></p>
        </section>
    }
}
