//! `/api/models*` (see docs/api.md): the model registry: list, read, predict, download the
//! artifact (docs/model-format.md), delete.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use app::model::artifact::PredictRequest;

use super::api::{ApiJson, ApiResult, Authenticated};
use super::AppState;
use crate::backend::models::ModelFilter;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/models", get(list))
        .route("/api/models/{id}", get(one).delete(remove))
        .route("/api/models/{id}/predict", post(predict))
        .route("/api/models/{id}/artifact", get(artifact))
}

async fn list(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Query(filter): Query<ModelFilter>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.models.list(&ctx.actor, &filter).await?))
}

async fn one(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.models.get(&ctx, &id).await?))
}

async fn predict(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PredictRequest>,
) -> ApiResult<impl IntoResponse> {
    let predictions = b.models.predict(&ctx, &id, &req.rows).await?;
    Ok(Json(serde_json::json!({ "predictions": predictions })))
}

async fn artifact(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<Response> {
    let a = b.models.artifact(&ctx, &id).await?;
    let mut res = Json(&*a).into_response();
    let disposition = format!("attachment; filename=\"cipherfold-model-{id}.json\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn remove(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.models.delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
