//! `/api/jobs*` (see docs/api.md): submit, list, read, cancel, and the live event stream as
//! server-sent events, resumable with `Last-Event-ID`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;

use app::model::job::JobRequest;

use super::api::{ApiJson, ApiResult, Authenticated};
use super::AppState;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list).post(submit))
        .route("/api/jobs/{id}", get(one))
        .route("/api/jobs/{id}/cancel", post(cancel))
        .route("/api/jobs/{id}/events", get(events))
        .route("/api/datasets/{id}/consent", put(consent))
}

async fn submit(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(req): ApiJson<JobRequest>,
) -> ApiResult<impl IntoResponse> {
    let info = b.jobs.submit(&ctx, req).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn list(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.jobs.list(&ctx.actor).await?))
}

async fn one(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.jobs.get(&ctx, &id).await?))
}

async fn cancel(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.jobs.cancel(&ctx, &id).await?))
}

#[derive(Deserialize)]
pub(super) struct After {
    after: Option<u64>,
}

/// Where a resumed event stream starts: the `Last-Event-ID` header, else `?after=`, else 0.
pub(super) fn last_event_id(headers: &HeaderMap, query: &After) -> u64 {
    headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).or(query.after).unwrap_or(0)
}

/// Replays events after `Last-Event-ID` (or `?after=`), then follows the job live; the stream
/// ends after the job's last event.
async fn events(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<After>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let rx = b.jobs.subscribe(&ctx, &id, last_event_id(&headers, &query)).await?;
    Ok(event_stream(rx, |r| (r.seq, r.event.name())))
}

/// Records as server-sent events: each one's `id` its sequence number and `event` its name
/// (`head` says both), `data` the record as JSON; a comment every 15 s keeps proxies from
/// closing a quiet stream.
pub(super) fn event_stream<R: serde::Serialize + Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<R>,
    head: fn(&R) -> (u64, &'static str),
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        let record = rx.recv().await?;
        let data = serde_json::to_string(&record).unwrap_or_else(|_| "{}".into());
        let (seq, name) = head(&record);
        Some((Ok(Event::default().id(seq.to_string()).event(name).data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize)]
struct Consent {
    allow: bool,
}

async fn consent(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Consent>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.datasets.set_consent(&ctx, &id, body.allow).await?))
}
