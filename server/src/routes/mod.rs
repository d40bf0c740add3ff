//! The axum router: API routes that are not server functions, the Leptos pages, and the
//! static site (wasm bundle, CSS, icons, manifest, service worker).

pub mod api;
pub mod auth;
pub mod datasets;
pub mod health;
pub mod jobs;
pub mod ui;

use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;

use std::sync::Arc;

use app::api::UiBackend;
use app::ui::{shell, App};
use leptos::prelude::provide_context;

use crate::backend::Backend;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub backend: Backend,
    pub secure_cookies: bool,
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let ui: Arc<dyn UiBackend> =
        Arc::new(ui::UiAdapter { backend: state.backend.clone(), secure_cookies: state.secure_cookies });
    let context = move || provide_context(ui.clone());
    Router::new()
        .route("/api/health", get(health::get))
        .merge(auth::routes())
        .merge(datasets::routes())
        .merge(jobs::routes())
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
