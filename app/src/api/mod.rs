//! Server functions the UI calls. They are thin: they hand the request to the server's
//! `UiBackend` (provided as context), which authenticates and authorises through the same
//! code as the JSON API, then they set the cookies it returns.
//!
//! Each returns `Result<Result<T, ApiError>, ServerFnError>`: the outer error is transport
//! (the server could not be reached), the inner one is the answer a form shows next to its
//! fields.

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use std::sync::Arc;

use crate::model::analytics::{Dashboard, SystemHealth};
use crate::model::artifact::{ModelInfo, Prediction};
use crate::model::audit::{AuditEntry, AuditQuery};
use crate::model::auth::Me;
#[cfg(feature = "ssr")]
use crate::model::auth::{PasswordChange, ProfileUpdate, RegisterRequest};
use crate::model::dataset::DatasetInfo;
use crate::model::job::{JobEventRecord, JobInfo};
use crate::model::ApiError;

/// Set-Cookie header values to send with the response.
pub type Cookies = Vec<String>;

/// What the server provides to server functions. `parts` is the request (cookies, client
/// address); returned cookies are set on the response.
#[cfg(feature = "ssr")]
#[async_trait::async_trait]
pub trait UiBackend: Send + Sync + 'static {
    /// The logged-in user, refreshing an expired access cookie from the refresh cookie.
    async fn current_user(&self, parts: &http::request::Parts) -> (Option<Me>, Cookies);
    async fn register(&self, parts: &http::request::Parts, req: RegisterRequest) -> Result<(Me, Cookies), ApiError>;
    async fn login(&self, parts: &http::request::Parts, username: String, password: String) -> Result<(Me, Cookies), ApiError>;
    async fn logout(&self, parts: &http::request::Parts) -> Cookies;
    async fn update_profile(&self, parts: &http::request::Parts, update: ProfileUpdate) -> Result<(Me, Cookies), ApiError>;
    async fn change_password(&self, parts: &http::request::Parts, change: PasswordChange) -> Result<Cookies, ApiError>;
    async fn audit(&self, parts: &http::request::Parts, q: AuditQuery) -> Result<(Vec<AuditEntry>, Cookies), ApiError>;
    async fn datasets(&self, parts: &http::request::Parts) -> Result<(Vec<DatasetInfo>, Cookies), ApiError>;
    async fn dataset(&self, parts: &http::request::Parts, id: String) -> Result<(DatasetInfo, Cookies), ApiError>;
    async fn set_consent(&self, parts: &http::request::Parts, id: String, allow: bool) -> Result<(DatasetInfo, Cookies), ApiError>;
    async fn models(
        &self,
        parts: &http::request::Parts,
        dataset: Option<String>,
        kind: Option<String>,
        domain: Option<String>,
    ) -> Result<(Vec<ModelInfo>, Cookies), ApiError>;
    async fn model(&self, parts: &http::request::Parts, id: String) -> Result<(ModelInfo, Cookies), ApiError>;
    async fn predict(
        &self,
        parts: &http::request::Parts,
        id: String,
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(Vec<Prediction>, Cookies), ApiError>;
    async fn delete_model(&self, parts: &http::request::Parts, id: String) -> Result<Cookies, ApiError>;
    async fn dashboard(&self, parts: &http::request::Parts) -> Result<(Dashboard, Cookies), ApiError>;
    async fn system_health(&self, parts: &http::request::Parts) -> Result<(SystemHealth, Cookies), ApiError>;
    async fn jobs(&self, parts: &http::request::Parts) -> Result<(Vec<JobInfo>, Cookies), ApiError>;
    async fn job(&self, parts: &http::request::Parts, id: String) -> Result<((JobInfo, Vec<JobEventRecord>), Cookies), ApiError>;
    async fn submit_job(
        &self,
        parts: &http::request::Parts,
        request: crate::model::job::JobRequest,
    ) -> Result<(JobInfo, Cookies), ApiError>;
    async fn cancel_job(&self, parts: &http::request::Parts, id: String) -> Result<(JobInfo, Cookies), ApiError>;
}

#[cfg(feature = "ssr")]
fn context() -> Result<(Arc<dyn UiBackend>, http::request::Parts), ServerFnError> {
    let backend = use_context::<Arc<dyn UiBackend>>().ok_or_else(|| ServerFnError::new("server backend missing"))?;
    let parts = use_context::<http::request::Parts>().ok_or_else(|| ServerFnError::new("request missing"))?;
    Ok((backend, parts))
}

#[cfg(feature = "ssr")]
fn set_cookies(cookies: Cookies) {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        for c in cookies {
            if let Ok(v) = http::HeaderValue::from_str(&c) {
                res.append_header(http::header::SET_COOKIE, v);
            }
        }
    }
}

#[cfg(feature = "ssr")]
fn finish<T>(r: Result<(T, Cookies), ApiError>) -> Result<Result<T, ApiError>, ServerFnError> {
    Ok(r.map(|(v, cookies)| {
        set_cookies(cookies);
        v
    }))
}

#[server(prefix = "/api/ui", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, ServerFnError> {
    let (b, parts) = context()?;
    let (me, cookies) = b.current_user(&parts).await;
    set_cookies(cookies);
    Ok(me)
}

#[server(prefix = "/api/ui", endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    password: String,
    domain: String,
    subdomain: String,
) -> Result<Result<Me, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.register(&parts, RegisterRequest { username, email, password, domain, subdomain }).await)
}

#[server(prefix = "/api/ui", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<Result<Me, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.login(&parts, username, password).await)
}

#[server(prefix = "/api/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let (b, parts) = context()?;
    set_cookies(b.logout(&parts).await);
    Ok(())
}

#[server(prefix = "/api/ui", endpoint = "update_profile")]
pub async fn update_profile(domain: String, subdomain: String) -> Result<Result<Me, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.update_profile(&parts, ProfileUpdate { domain, subdomain }).await)
}

#[server(prefix = "/api/ui", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<Result<(), ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.change_password(&parts, PasswordChange { current_password, new_password }).await.map(|c| ((), c)))
}

#[server(prefix = "/api/ui", endpoint = "audit_log")]
pub async fn audit_log(query: AuditQuery) -> Result<Result<Vec<AuditEntry>, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.audit(&parts, query).await)
}

#[server(prefix = "/api/ui", endpoint = "datasets")]
pub async fn list_datasets() -> Result<Result<Vec<DatasetInfo>, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.datasets(&parts).await)
}

#[server(prefix = "/api/ui", endpoint = "dataset")]
pub async fn get_dataset(id: String) -> Result<Result<DatasetInfo, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.dataset(&parts, id).await)
}

#[server(prefix = "/api/ui", endpoint = "jobs")]
pub async fn list_jobs() -> Result<Result<Vec<JobInfo>, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.jobs(&parts).await)
}

/// A job and its history so far (the job page draws from it, then follows the live events).
#[server(prefix = "/api/ui", endpoint = "job")]
pub async fn get_job(id: String) -> Result<Result<(JobInfo, Vec<JobEventRecord>), ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.job(&parts, id).await)
}

/// `request` is a `JobRequest` as JSON (the same body as `POST /api/jobs`).
#[server(prefix = "/api/ui", endpoint = "submit_job")]
pub async fn submit_job(request: String) -> Result<Result<JobInfo, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    let request = match serde_json::from_str(&request) {
        Ok(r) => r,
        Err(e) => return Ok(Err(ApiError::field("request", format!("the request is not valid: {e}")))),
    };
    finish(b.submit_job(&parts, request).await)
}

#[server(prefix = "/api/ui", endpoint = "cancel_job")]
pub async fn cancel_job(id: String) -> Result<Result<JobInfo, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.cancel_job(&parts, id).await)
}

/// Records (or withdraws) the owner's consent to joint training on a dataset.
#[server(prefix = "/api/ui", endpoint = "set_consent")]
pub async fn set_consent(id: String, allow: bool) -> Result<Result<DatasetInfo, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.set_consent(&parts, id, allow).await)
}

/// Models the caller may see, newest first; empty filters are ignored.
#[server(prefix = "/api/ui", endpoint = "models")]
pub async fn list_models(dataset: String, kind: String, domain: String) -> Result<Result<Vec<ModelInfo>, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    let some = |s: String| if s.trim().is_empty() { None } else { Some(s) };
    finish(b.models(&parts, some(dataset), some(kind), some(domain)).await)
}

#[server(prefix = "/api/ui", endpoint = "model")]
pub async fn get_model(id: String) -> Result<Result<ModelInfo, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.model(&parts, id).await)
}

/// `rows` is a JSON array of `{feature: value}` objects.
#[server(prefix = "/api/ui", endpoint = "predict")]
pub async fn predict_rows(id: String, rows: String) -> Result<Result<Vec<Prediction>, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    let rows = match serde_json::from_str(&rows) {
        Ok(r) => r,
        Err(e) => return Ok(Err(ApiError::field("rows", format!("the rows are not valid JSON: {e}")))),
    };
    finish(b.predict(&parts, id, rows).await)
}

#[server(prefix = "/api/ui", endpoint = "delete_model")]
pub async fn delete_model(id: String) -> Result<Result<(), ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.delete_model(&parts, id).await.map(|c| ((), c)))
}

#[server(prefix = "/api/ui", endpoint = "dashboard")]
pub async fn get_dashboard() -> Result<Result<Dashboard, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.dashboard(&parts).await)
}

#[server(prefix = "/api/ui", endpoint = "system_health")]
pub async fn get_system_health() -> Result<Result<SystemHealth, ApiError>, ServerFnError> {
    let (b, parts) = context()?;
    finish(b.system_health(&parts).await)
}
