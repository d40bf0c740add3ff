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
    Lazy, LazyRoute, ParamSegment, SsrMode, StaticSegment,
};

#[cfg(any(feature = "ssr", feature = "lazy-routes"))]
use leptos_router::lazy_route;

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

/// `lazy_page!(Route, Page)`: a route whose page is compiled into a module of its own, which
/// the browser downloads only for that page (Leptos' `#[lazy_route]`; scripts/build-site.sh
/// splits the bundle there). The first page a visitor opens then does not pay for the code of
/// every other page: the charts, the model tester, the federation screens. The page itself
/// loads its data as before; the route only defers its code.
///
/// Only the page's bundle (`lazy-routes`, from frontend's `page` feature) and the server (which
/// names a rendered route's modules for preloading) make the route lazy. The file worker's
/// builds link this crate without showing any page: there a lazy route's exported entry point
/// would keep every page's code alive in every worker.
macro_rules! lazy_page {
    ($route:ident, $page:ident) => {
        struct $route;

        #[cfg(any(feature = "ssr", feature = "lazy-routes"))]
        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }

        #[cfg(not(any(feature = "ssr", feature = "lazy-routes")))]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            async fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

// The home, sign-in and registration pages stay in the main module: they are small, and the
// service worker's offline copy of the home page hydrates from what it cached.
lazy_page!(ProfileRoute, ProfilePage);
lazy_page!(AuditRoute, AuditPage);
lazy_page!(DatasetsRoute, DatasetsPage);
lazy_page!(UploadRoute, UploadPage);
lazy_page!(DatasetRoute, DatasetPage);
lazy_page!(JobsRoute, JobsPage);
lazy_page!(NewJobRoute, NewJobPage);
lazy_page!(JobRoute, JobPage);
lazy_page!(ModelsRoute, ModelsPage);
lazy_page!(ModelRoute, ModelPage);
lazy_page!(AnalyticsRoute, AnalyticsPage);
lazy_page!(FederationsRoute, FederationsPage);
lazy_page!(NewFederationRoute, NewFederationPage);
lazy_page!(FederationRoute, FederationPage);

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
    // The browser's entry point provides the signal it sets once hydration has ended; the
    // server renders the page as not hydrated yet.
    let hydrated = use_context::<file_worker::Hydrated>().unwrap_or_else(file_worker::Hydrated::pending);
    provide_context(hydrated);
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
                    <Route path=StaticSegment("profile") view={Lazy::<ProfileRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("datasets") view={Lazy::<DatasetsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("datasets"), StaticSegment("new")) view={Lazy::<UploadRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("datasets"), ParamSegment("id")) view={Lazy::<DatasetRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("jobs") view={Lazy::<JobsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("jobs"), StaticSegment("new")) view={Lazy::<NewJobRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("jobs"), ParamSegment("id")) view={Lazy::<JobRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("models") view={Lazy::<ModelsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("analytics") view={Lazy::<AnalyticsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("federations") view={Lazy::<FederationsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("federations"), StaticSegment("new")) view={Lazy::<NewFederationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("federations"), ParamSegment("id")) view={Lazy::<FederationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("models"), ParamSegment("id")) view={Lazy::<ModelRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}
