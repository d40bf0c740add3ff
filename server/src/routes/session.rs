//! The session layer: one middleware before every routed request (REST routes, pages and
//! server functions alike) that works out who is calling, renews an expired browser session
//! from its refresh cookie, and puts the answer (`Caller`) in the request's extensions. The
//! renewed cookies go on the response here, so no route and no server function handles the
//! refresh-cookie dance (Lemmy's Leptos UI keeps its cookie handling in one middleware too).
//!
//! Renewal happens only for a browser session (no `Authorization` header) and never on
//! `/api/auth/*` or the UI's logout, which read the refresh token themselves: rotating it first would
//! make their own use of it look like a replay. Static files are not routed, so a page's
//! parallel asset requests do not race to rotate one refresh token.

use axum::extract::{Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use app::model::auth::{Actor, Caller};
use app::model::ApiError;

use super::api::{
    access_token, append_server_timing, cleared_cookies, client_addr, cookie_value, session_cookies, set_cookies, wants_secure,
    REFRESH_COOKIE,
};
use super::AppState;
use crate::backend::auth::Session;
use crate::backend::timing::Stopwatch;
use crate::backend::Backend;

/// The UI's logout server function revokes the refresh token it was sent, unrotated.
const LOGOUT_FN: &str = <app::api::Logout as leptos::server_fn::ServerFn>::PATH;

pub async fn session(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let secure_cookies = wants_secure(&parts.headers, state.secure_cookies);
    let client = client_addr(&parts);
    let mut watch = Stopwatch::default();
    let (identity, cookies) = identify(&state.backend, &parts, &client, secure_cookies).await;
    watch.lap("auth");
    parts.extensions.insert(Caller { client, secure_cookies, identity });
    let mut res = next.run(Request::from_parts(parts, body)).await;
    set_cookies(&mut res, cookies);
    append_server_timing(&mut res, &watch.header_value());
    res
}

/// The caller from the access token (Bearer header or cookie); for a browser whose access
/// cookie has expired, a refresh-cookie rotation, with the cookies the response must carry.
async fn identify(b: &Backend, parts: &Parts, client: &str, secure: bool) -> (Result<Actor, ApiError>, Vec<String>) {
    let first = match access_token(parts) {
        Some(token) => b.auth.authenticate(&token).await.map_err(ApiError::from),
        None => Err(ApiError::unauthorized("log in first")),
    };
    let api_client = parts.headers.contains_key(header::AUTHORIZATION);
    let path = parts.uri.path();
    if first.is_ok() || api_client || path.starts_with("/api/auth/") || path == LOGOUT_FN {
        return (first, Vec::new());
    }
    let Some(refresh) = cookie_value(parts, REFRESH_COOKIE) else {
        return (first, Vec::new());
    };
    match renew(b, &refresh, client).await {
        Ok((actor, session)) => (Ok(actor), session_cookies(&session, secure)),
        // A dead session: clear its cookies so the browser stops sending them.
        Err(e) => (Err(e), cleared_cookies(secure)),
    }
}

async fn renew(b: &Backend, refresh: &str, client: &str) -> Result<(Actor, Session), ApiError> {
    let session = b.auth.refresh(refresh, client).await?;
    let actor = b.auth.authenticate(&session.access_token).await?;
    Ok((actor, session))
}
