//! The Leptos UI: rendered on the server, hydrated in the browser by the same code.

pub mod chart;
pub mod file_worker;
mod form;
mod layout;
pub mod metrics_view;
pub mod pages;
pub mod privacy;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

use layout::Layout;
use pages::account::{LoginPage, ProfilePage, RegisterPage};
use pages::analytics::AnalyticsPage;
use pages::audit::AuditPage;
use pages::datasets::{DatasetPage, DatasetsPage, UploadPage};
use pages::federation_new::NewFederationPage;
use pages::federations::{FederationPage, FederationsPage};
use pages::jobs::{JobPage, JobsPage, NewJobPage};
use pages::models::{ModelPage, ModelsPage};
use pages::{home::HomePage, not_found::NotFound};

/// The name wasm-bindgen gives the browser bundle; `pkg/{OUTPUT_NAME}.js`, `_bg.wasm` and `.css`.
pub const OUTPUT_NAME: &str = "cipherfold";

/// The HTML document around every page. Only the server calls this.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Cipherfold: train better models together on data that stays encrypted."/>
                <meta name="theme-color" content="#0f5f59"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" href="/icons/icon-192.png" type="image/png"/>
                <link rel="apple-touch-icon" href="/icons/icon-192.png"/>
                <script src="/sw-register.js" defer></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();
    // Effects run only in the browser, after hydration: a marker tests (and curious people) can
    // wait for, and the signal file inputs wait for (`file_worker::use_hydrated`).
    let hydrated = RwSignal::new(false);
    provide_context(file_worker::Hydrated(hydrated.read_only()));
    Effect::new(move || {
        hydrated.set(true);
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href=format!("/pkg/{OUTPUT_NAME}.css")/>
        <Title formatter=|page: String| if page.is_empty() { "Cipherfold".to_owned() } else { format!("{page} · Cipherfold") }/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    // Every page renders completely before answering. Out-of-order streaming
                    // would send a Suspense's fallback whenever its resource had not resolved
                    // at the instant the body was drawn (a blocking resource only holds the
                    // stream back, it does not put its content in place), leaving the content in
                    // a template only a script swaps in: a page read without scripts, or the
                    // navigation bar of any page, then depended on a race. Protected pages also
                    // need it so that a logged-out visitor gets a real redirect to the login page.
                    <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("audit") view=AuditPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("datasets") view=DatasetsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("datasets"), StaticSegment("new")) view=UploadPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("datasets"), ParamSegment("id")) view=DatasetPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("jobs") view=JobsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("jobs"), StaticSegment("new")) view=NewJobPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("jobs"), ParamSegment("id")) view=JobPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("models") view=ModelsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("analytics") view=AnalyticsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("federations") view=FederationsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("federations"), StaticSegment("new")) view=NewFederationPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("federations"), ParamSegment("id")) view=FederationPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("models"), ParamSegment("id")) view=ModelPage ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}
