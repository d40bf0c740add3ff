//! `/api/federations*` (see docs/api.md): declare, list, read and join federations. The round
//! protocol of secure aggregation joins these routes as it is built (docs/federated.md).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use app::model::federation::NewFederation;

use super::api::{ApiJson, ApiResult, Authenticated};
use super::AppState;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/federations", get(list).post(create))
        .route("/api/federations/{id}", get(one))
        .route("/api/federations/{id}/join", post(join))
}

async fn list(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.list(&ctx.actor).await?))
}

async fn create(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(req): ApiJson<NewFederation>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(b.federations.create(&ctx, req).await?)))
}

async fn one(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.get(&ctx, &id).await?))
}

async fn join(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.join(&ctx, &id).await?))
}
