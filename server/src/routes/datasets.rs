//! `/api/keys/*` and `/api/datasets*`: see docs/api.md. Uploads and downloads stream; the
//! server never holds a whole dataset in memory.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};

use app::model::dataset::{NewDataset, OwnerKey};

use super::api::{ApiJson, ApiResult, Authenticated};
use super::AppState;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/keys/trainer", get(trainer_key))
        .route("/api/keys/me", get(my_key).put(put_my_key))
        .route("/api/datasets", get(list).post(create))
        .route("/api/datasets/{id}", get(one).delete(remove))
        .route("/api/datasets/{id}/blob", put(upload).get(download))
}

/// Public: anyone may wrap a key to the trainer; only the trainer can unwrap it.
async fn trainer_key(State(b): State<Backend>) -> Response {
    Json(b.trainer_keys.public()).into_response()
}

/// 204 before the first upload: "no key yet" is a normal state, not a missing resource.
async fn my_key(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    Ok(match b.datasets.owner_key(&ctx.actor).await? {
        Some(k) => Json(k).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn put_my_key(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(key): ApiJson<OwnerKey>,
) -> ApiResult<impl IntoResponse> {
    b.datasets.set_owner_key(&ctx, &key).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

async fn create(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(req): ApiJson<NewDataset>,
) -> ApiResult<impl IntoResponse> {
    let info = b.datasets.create(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn list(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.datasets.list(&ctx.actor).await?))
}

async fn one(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.datasets.get(&ctx, &id).await?))
}

async fn upload(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<impl IntoResponse> {
    let info = b.datasets.upload(&ctx, &id, body.into_data_stream()).await?;
    Ok(Json(info))
}

async fn download(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<Response> {
    let (size, stream) = b.datasets.blob(&ctx, &id).await?;
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn remove(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.datasets.delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
