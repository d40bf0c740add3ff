//! `GET /api/analytics` (an area's dashboard) and `GET /api/health/system` (admins).

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::api::{ApiFailure, Authenticated};
use super::AppState;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/analytics", get(dashboard)).route("/api/health/system", get(system))
}

#[derive(Deserialize)]
struct Area {
    domain: Option<String>,
    subdomain: Option<String>,
}

async fn dashboard(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Query(area): Query<Area>,
) -> Result<impl IntoResponse, ApiFailure> {
    let area = area.domain.zip(area.subdomain);
    Ok(Json(b.analytics.dashboard(&ctx.actor, area).await?))
}

async fn system(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> Result<impl IntoResponse, ApiFailure> {
    Ok(Json(b.analytics.health(&ctx.actor).await?))
}
