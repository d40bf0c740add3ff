//! The axum router: API routes that are not server functions, the Leptos pages, and the
//! static site (wasm bundle, CSS, icons, manifest, service worker).

pub mod analytics;
pub mod api;
pub mod auth;
pub mod client_ip;
pub mod datasets;
pub mod docs;
pub mod federations;
pub mod health;
pub mod jobs;
pub mod models;
pub mod privacy;
pub mod render_owner;
pub mod session;
pub mod ui;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use std::sync::{Arc, OnceLock};

use app::api::Backend as UiBackend;
use app::ui::{shell, App};
use leptos::prelude::provide_context;

use crate::backend::Backend;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub backend: Backend,
    pub secure_cookies: bool,
    pub trusted_proxies: client_ip::TrustedProxies,
}

/// The app's page routes, listed once per process. Listing them runs the whole app with
/// resource loading suppressed through a process-wide flag, and a resource first polled while
/// the flag is up waits forever (leptos-rs/leptos#4773): a page being rendered by one server
/// while another in the same process starts (the API tests run dozens) hung its request.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = page_routes();
    let options = state.leptos_options.clone();
    let ui: Arc<dyn UiBackend> = Arc::new(state.backend.clone());
    let context = move || provide_context(ui.clone());
    Router::new()
        .route("/api/health", get(health::get))
        .merge(auth::routes())
        .merge(datasets::routes())
        .merge(jobs::routes())
        .merge(models::routes())
        .merge(federations::routes())
        .merge(privacy::routes())
        .merge(analytics::routes())
        .merge(docs::routes())
        .route("/metrics", get(metrics))
        // Server functions read their whole body with no limit of their own (server_fn
        // collects it), so their routes get one: the largest any needs, a file's rows for
        // prediction. Past it, 413.
        .merge(
            Router::new()
                .leptos_routes_with_context(&state, routes, context.clone(), move || shell(options.clone()))
                .layer(RequestBodyLimitLayer::new(app::model::artifact::MAX_PREDICT_BODY))
                // Each page render's reactive owner stays with its request across threads, or
                // a lazy route's preload links go missing (render_owner says why). Only here:
                // the REST routes and the fallback (static files, the 404 page, which is not
                // lazy) render no lazy route.
                .layer(axum::middleware::from_fn(render_owner::scope)),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), session::session))
        .route_layer(axum::middleware::from_fn_with_state(state.backend.clone(), track))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(state.trusted_proxies.clone(), client_ip::resolve))
        .with_state(state)
}

/// Counts every routed request by its route template (`/api/jobs/{id}`, not the id) and status.
async fn track(
    axum::extract::State(b): axum::extract::State<Backend>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req.extensions().get::<axum::extract::MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    b.metrics.observe_request(&route, res.status().as_u16(), started.elapsed().as_secs_f64());
    res
}

/// Prometheus scrapes this; it holds counts and durations, no user data. With
/// `--metrics-token`, only a scrape that sends the token gets them.
async fn metrics(axum::extract::State(b): axum::extract::State<Backend>, headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    if !b.metrics.admits(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())) {
        let hint = "send the metrics token (--metrics-token) as Authorization: Bearer TOKEN\n";
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], hint).into_response();
    }
    let body = b.metrics.render(&b.db).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
