//! `/api/federations*` (see docs/api.md and docs/federated.md): declare, list, read and join
//! federations; the round protocol (the round view and one route per stage's message); the
//! live event stream as server-sent events, resumable with `Last-Event-ID`.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;

use app::model::federation::{InputMessage, KeysMessage, NewFederation, RevealMessage, SharesMessage};

use super::api::{ApiJson, ApiResult, Authenticated};
use super::jobs::{event_stream, last_event_id, After};
use super::AppState;
use crate::backend::federations::Incoming;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/federations", get(list).post(create))
        .route("/api/federations/{id}", get(one))
        .route("/api/federations/{id}/join", post(join))
        .route("/api/federations/{id}/round", get(round))
        .route("/api/federations/{id}/events", get(events))
        .route("/api/federations/{id}/rounds/{round}/keys", post(keys))
        .route("/api/federations/{id}/rounds/{round}/shares", post(shares))
        .route("/api/federations/{id}/rounds/{round}/input", post(input))
        .route("/api/federations/{id}/rounds/{round}/reveal", post(reveal))
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

async fn round(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.round_view(&ctx, &id).await?))
}

async fn keys(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path((id, round)): Path<(String, u32)>,
    ApiJson(m): ApiJson<KeysMessage>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.receive(&ctx, &id, round, Incoming::Keys(m)).await?))
}

async fn shares(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path((id, round)): Path<(String, u32)>,
    ApiJson(m): ApiJson<SharesMessage>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.receive(&ctx, &id, round, Incoming::Shares(m)).await?))
}

async fn input(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path((id, round)): Path<(String, u32)>,
    ApiJson(m): ApiJson<InputMessage>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.receive(&ctx, &id, round, Incoming::Input(m)).await?))
}

async fn reveal(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path((id, round)): Path<(String, u32)>,
    ApiJson(m): ApiJson<RevealMessage>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.federations.receive(&ctx, &id, round, Incoming::Reveal(m)).await?))
}

/// Replays events after `Last-Event-ID` (or `?after=`), then follows the federation live;
/// the stream ends after `finished` or `failed`.
async fn events(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<After>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let rx = b.federations.subscribe(&ctx, &id, last_event_id(&headers, &query)).await?;
    Ok(event_stream(rx, |r| (r.seq, r.event.name())))
}
