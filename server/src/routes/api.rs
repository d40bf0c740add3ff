//! Plumbing shared by the JSON API routes: the error response, the JSON body extractor that
//! reports bad bodies as field errors, the client address, and authentication from a Bearer
//! header or the session cookie.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use app::model::ApiError;

use app::model::auth::{Caller, Ctx};

pub const ACCESS_COOKIE: &str = "cf_access";
pub const REFRESH_COOKIE: &str = "cf_refresh";

/// `ApiError` as an HTTP response: its status, a JSON body with a `message` a person can
/// read, and `Retry-After` for rate limits.
#[derive(Debug)]
pub struct ApiFailure(pub ApiError);

impl From<ApiError> for ApiFailure {
    fn from(e: ApiError) -> Self {
        ApiFailure(e)
    }
}

/// A backend failure: its refusal, or (logged) an opaque 500.
impl From<crate::backend::error::Error> for ApiFailure {
    fn from(e: crate::backend::error::Error) -> Self {
        ApiFailure(e.into())
    }
}

/// What every route answers.
pub type ApiResult<T> = Result<T, ApiFailure>;

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = serde_json::to_value(&e).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = body.as_object_mut() {
            obj.insert("message".into(), e.to_string().into());
        }
        let mut res = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after } = e {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// A JSON body whose problems (not JSON, wrong shape, missing field) come back as a 422 in
/// the same shape as every other validation error, naming the field by its path in the body
/// (`rows`, `model.kind`, `model.params.trees`) and saying what was expected.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        if !is_json {
            return Err(ApiError::field("body", "send the body as JSON, with Content-Type: application/json").into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| match rej.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::TooLarge { message: "the body is larger than this request accepts (docs/api.md gives its limit)".into() }
            }
            _ => ApiError::field("body", rej.body_text()),
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de).map(ApiJson).map_err(|e| body_error(&e).into())
    }
}

/// A body that did not deserialise, as the field it concerns and a message without serde's
/// Rust type names or byte positions.
fn body_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if !inner.is_data() {
        return ApiError::field("body", format!("the body is not valid JSON ({})", without_position(inner)));
    }
    let path = e.path().to_string();
    let message = without_position(inner);
    // serde reports a missing field at the object that lacks it: name the field itself.
    let (field, message) = match message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        Some(name) if path == "." => (name.to_owned(), "this field is required".to_owned()),
        Some(name) => (format!("{path}.{name}"), "this field is required".to_owned()),
        None if path == "." => ("body".to_owned(), message),
        None => (path, message),
    };
    ApiError::field(&field, plain_types(&message))
}

fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rsplit_once(" at line ") {
        Some((message, _)) if e.line() > 0 => message.to_owned(),
        _ => s,
    }
}

/// serde's expectations in words a client's author reads without knowing Rust.
fn plain_types(message: &str) -> String {
    const WORDS: [(&str, &str); 9] = [
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("expected a boolean", "expected true or false"),
        ("expected struct ", "expected an object "),
    ];
    WORDS.iter().fold(message.to_owned(), |m, (from, to)| m.replace(from, to))
}

/// The client's address, for rate limits and the audit log.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The access token from `Authorization: Bearer …`, else from the session cookie.
pub fn access_token(parts: &Parts) -> Option<String> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| cookie_value(parts, ACCESS_COOKIE))
}

/// An authenticated caller's context (who and from where), as the session layer
/// (`session::session`) found it; a route that takes one answers 401 (with the reason) to
/// everybody else.
pub struct Authenticated(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let caller = parts.extensions.get::<Caller>().ok_or_else(|| ApiError::unauthorized("log in first"))?;
        Ok(Authenticated(caller.ctx()?))
    }
}

/// Whether cookies must be `Secure`: configured, or the request came through HTTPS.
pub fn wants_secure(parts_headers: &axum::http::HeaderMap, configured: bool) -> bool {
    configured || parts_headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// An HttpOnly, SameSite=Strict cookie on `/`. `max_age = 0` clears it.
fn session_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
        .to_string()
}

/// The two cookies of a browser session. The refresh cookie is on `/` too, so that a page
/// load with an expired access cookie can renew the session without a round trip.
pub fn session_cookies(s: &crate::backend::auth::Session, secure: bool) -> Vec<String> {
    vec![
        session_cookie(ACCESS_COOKIE, &s.access_token, s.access_expires_in as i64, secure),
        session_cookie(REFRESH_COOKIE, &s.refresh_token, s.refresh_expires_in as i64, secure),
    ]
}

pub fn cleared_cookies(secure: bool) -> Vec<String> {
    vec![session_cookie(ACCESS_COOKIE, "", 0, secure), session_cookie(REFRESH_COOKIE, "", 0, secure)]
}

pub fn set_cookies(res: &mut Response, cookies: Vec<String>) {
    for v in cookie_headers(cookies) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Adds `Server-Timing` entries (backend::timing) to an answer; several such headers are one
/// list to a reader, so each layer appends its own.
pub fn append_server_timing(res: &mut Response, entries: &str) {
    if let Ok(v) = HeaderValue::from_str(entries) {
        res.headers_mut().append(HeaderName::from_static("server-timing"), v);
    }
}

/// Cookies as `Set-Cookie` header values (ours always are; one that is not is skipped).
pub fn cookie_headers(cookies: Vec<String>) -> impl Iterator<Item = HeaderValue> {
    cookies.into_iter().filter_map(|c| HeaderValue::from_str(&c).ok())
}

/// The client address from a request's parts (see `ClientAddr`): the one `client_ip::resolve`
/// worked out behind trusted proxies, else the connection's peer.
pub fn client_addr(parts: &Parts) -> String {
    if let Some(super::client_ip::ClientIp(ip)) = parts.extensions.get() {
        return ip.to_string();
    }
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_else(|| "unknown".to_owned())
}
