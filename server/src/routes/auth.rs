//! `/api/auth/*`, `/api/me`, `/api/users/{id}`, `/api/audit`, `/api/domains`: see docs/api.md.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;

use app::model::audit::AuditQuery;
use app::model::auth::{LoginRequest, PasswordChange, ProfileUpdate, RegisterRequest, TokenResponse};
use app::model::{ApiError, CATALOG};

use super::api::{
    access_token, cleared_cookies, cookie_value, session_cookies, set_cookies, wants_secure, ApiJson, ApiResult, Authenticated, ClientAddr,
    REFRESH_COOKIE,
};
use super::AppState;
use crate::backend::auth::Session;
use crate::backend::Backend;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
        .route("/api/me", get(me).patch(update_me))
        .route("/api/me/password", post(change_password))
        .route("/api/users/{id}", delete(delete_user))
        .route("/api/audit", get(audit))
        .route("/api/domains", get(domains))
}

async fn register(
    State(b): State<Backend>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    let user = b.auth.register(req, &client).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The token body plus both session cookies.
fn session_response(session: Session, secure: bool, include_refresh: bool) -> Response {
    let body = TokenResponse {
        access_token: session.access_token.clone(),
        token_type: "Bearer".into(),
        expires_in: session.access_expires_in,
        refresh_token: include_refresh.then(|| session.refresh_token.clone()),
    };
    let mut res = Json(body).into_response();
    set_cookies(&mut res, session_cookies(&session, secure));
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    res
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let session = state.backend.auth.login(&req.username, req.password, &client).await?;
    Ok(session_response(session, wants_secure(&headers, state.secure_cookies), true))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(State(state): State<AppState>, ClientAddr(client): ClientAddr, req: axum::extract::Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 64 * 1024).await.map_err(|_| ApiError::field("body", "the body is too large"))?;
    let (token, from_body) = if bytes.iter().any(|b| !b.is_ascii_whitespace()) {
        let b: RefreshBody = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::field("refresh_token", format!("send {{\"refresh_token\": \"…\"}} ({e})")))?;
        (b.refresh_token, true)
    } else {
        let t = cookie_value(&parts, REFRESH_COOKIE).ok_or_else(|| ApiError::unauthorized("no session to refresh; log in"))?;
        (t, false)
    };
    let session = state.backend.auth.refresh(&token, &client).await?;
    Ok(session_response(session, wants_secure(&parts.headers, state.secure_cookies), from_body))
}

/// Ends the session whatever state it is in: a missing or expired access token still lets
/// the refresh token be revoked, and the cookies are cleared either way.
async fn logout(State(state): State<AppState>, ClientAddr(client): ClientAddr, req: axum::extract::Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let body_token = serde_json::from_slice::<RefreshBody>(&bytes).ok().map(|b| b.refresh_token);
    let refresh = body_token.or_else(|| cookie_value(&parts, REFRESH_COOKIE));
    let actor = match access_token(&parts) {
        Some(t) => state.backend.auth.authenticate(&t).await.ok(),
        None => None,
    };
    state.backend.auth.logout(actor.as_ref(), refresh.as_deref(), &client).await?;
    let secure = wants_secure(&parts.headers, state.secure_cookies);
    let mut res = StatusCode::NO_CONTENT.into_response();
    set_cookies(&mut res, cleared_cookies(secure));
    Ok(res)
}

async fn me(State(b): State<Backend>, Authenticated(ctx): Authenticated) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.auth.me(&ctx.actor).await?))
}

async fn update_me(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(update): ApiJson<ProfileUpdate>,
) -> ApiResult<impl IntoResponse> {
    let owner = ctx.actor.user_id.clone();
    Ok(Json(b.auth.update_profile(&ctx, &owner, update).await?))
}

async fn change_password(
    State(b): State<Backend>,
    Authenticated(ctx): Authenticated,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    b.auth.change_password(&ctx, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_user(State(b): State<Backend>, Authenticated(ctx): Authenticated, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.auth.delete_account(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(State(b): State<Backend>, Authenticated(ctx): Authenticated, Query(q): Query<AuditQuery>) -> ApiResult<impl IntoResponse> {
    Ok(Json(b.auth.audit_list(&ctx, &q).await?))
}

async fn domains() -> impl IntoResponse {
    Json(CATALOG)
}
