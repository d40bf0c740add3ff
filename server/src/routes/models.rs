//! `/api/models*` (see docs/api.md): the model registry: list, read, predict, download the
//! artifact (docs/model-format.md), delete.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use app::model::artifact::PredictRequest;
use app::model::ApiError;

use super::api::{ApiJson, ApiResult, Authenticated};
use super::AppState;
use crate::backend::models::ModelFilter;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/models", get(list))
        .route("/api/models/{id}", get(one).delete(remove))
        .route("/api/models/{id}/predict", post(predict).layer(DefaultBodyLimit::max(app::model::artifact::MAX_PREDICT_BODY)))
        .route("/api/models/{id}/artifact", get(artifact))
        .route("/api/models/{id}/he", get(he_offer))
        // The raw body, read by the handler up to its own limit (413 past it).
        .route("/api/models/{id}/predict-encrypted", post(predict_encrypted))
}

async fn he_offer(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.models.he_offer(&ctx, &id).await?))
}

/// docs/he.md: a binary body in, a binary answer out.
async fn predict_encrypted(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let limit = crate::backend::he::MAX_BODY;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::TooLarge {
        message: format!("an encrypted request is at most {} MiB; send fewer rows per request", limit >> 20),
    })?;
    let answer = b.models.predict_encrypted(&ctx, &id, bytes).await?;
    let mut res = answer.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    Ok(res)
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
    let (predictions, watch) = b.models.predict(&ctx, &id, req.rows).await?;
    let mut res = Json(serde_json::json!({ "predictions": predictions })).into_response();
    super::api::append_server_timing(&mut res, &watch.header_value());
    Ok(res)
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
