//! Server functions the UI calls, one file per resource. Each is thin: it reads the caller
//! that the server's session layer put in the request (`Caller`, see `server::routes::session`)
//! and hands the call to the server's `Backend`, the same code the JSON API runs. Session
//! renewal and cookies are the session layer's business, so no function here touches them
//! (logging in and out start and end a session, which the backend does).
//!
//! Each returns `Result<T, ApiError>`: the server's refusal, or `ApiError::Transport` when no
//! answer came.

mod accounts;
mod analytics;
pub mod codec;
mod datasets;
mod federations;
mod jobs;
mod models;
mod privacy;

pub use accounts::*;
pub use analytics::*;
pub use datasets::*;
pub use federations::*;
pub use jobs::*;
pub use models::*;
pub use privacy::*;

#[cfg(feature = "ssr")]
pub use backend::*;

/// Rows to predict: `{feature: value}` objects.
pub type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

#[cfg(feature = "ssr")]
mod backend {
    use std::sync::Arc;

    use leptos::prelude::use_context;

    use super::Rows;
    use crate::model::analytics::{Dashboard, SystemHealth};
    use crate::model::artifact::{ModelInfo, Prediction};
    use crate::model::audit::{AuditEntry, AuditQuery};
    use crate::model::auth::{Caller, Ctx, Me, PasswordChange, ProfileUpdate, RegisterRequest};
    use crate::model::dataset::{DatasetInfo, OwnerKey};
    use crate::model::federation::{FederationInfo, NewFederation, PrivacyLedger, RoundView};
    use crate::model::job::{JobEventRecord, JobInfo, JobRequest};
    use crate::model::ApiError;

    /// What the server provides to server functions (as context). Operations on someone's
    /// behalf take their `Ctx`; those that start or end a session take the `Caller`, since
    /// there may be nobody logged in yet, and set or clear the session cookies themselves.
    #[async_trait::async_trait]
    pub trait Backend: Send + Sync + 'static {
        async fn me(&self, ctx: &Ctx) -> Result<Me, ApiError>;
        async fn register(&self, caller: &Caller, req: RegisterRequest) -> Result<Me, ApiError>;
        async fn login(&self, caller: &Caller, username: String, password: String) -> Result<Me, ApiError>;
        async fn logout(&self, caller: &Caller);
        async fn update_profile(&self, ctx: &Ctx, update: ProfileUpdate) -> Result<Me, ApiError>;
        async fn change_password(&self, caller: &Caller, change: PasswordChange) -> Result<(), ApiError>;
        async fn audit(&self, ctx: &Ctx, q: AuditQuery) -> Result<Vec<AuditEntry>, ApiError>;
        async fn datasets(&self, ctx: &Ctx) -> Result<Vec<DatasetInfo>, ApiError>;
        async fn dataset(&self, ctx: &Ctx, id: String) -> Result<DatasetInfo, ApiError>;
        async fn set_consent(&self, ctx: &Ctx, id: String, allow: bool) -> Result<DatasetInfo, ApiError>;
        async fn delete_dataset(&self, ctx: &Ctx, id: String) -> Result<(), ApiError>;
        async fn owner_key(&self, ctx: &Ctx) -> Result<Option<OwnerKey>, ApiError>;
        async fn federations(&self, ctx: &Ctx) -> Result<Vec<FederationInfo>, ApiError>;
        async fn federation(&self, ctx: &Ctx, id: String) -> Result<FederationInfo, ApiError>;
        async fn join_federation(&self, ctx: &Ctx, id: String) -> Result<FederationInfo, ApiError>;
        async fn create_federation(&self, ctx: &Ctx, req: NewFederation) -> Result<FederationInfo, ApiError>;
        async fn federation_round(&self, ctx: &Ctx, id: String) -> Result<RoundView, ApiError>;
        async fn privacy_ledgers(&self, ctx: &Ctx) -> Result<Vec<PrivacyLedger>, ApiError>;
        async fn models(
            &self,
            ctx: &Ctx,
            dataset: Option<String>,
            kind: Option<String>,
            domain: Option<String>,
        ) -> Result<Vec<ModelInfo>, ApiError>;
        async fn model(&self, ctx: &Ctx, id: String) -> Result<ModelInfo, ApiError>;
        async fn predict(&self, ctx: &Ctx, id: String, rows: Rows) -> Result<Vec<Prediction>, ApiError>;
        async fn he_offer(&self, ctx: &Ctx, id: String) -> Result<crate::he::HeOffer, ApiError>;
        async fn delete_model(&self, ctx: &Ctx, id: String) -> Result<(), ApiError>;
        async fn dashboard(&self, ctx: &Ctx) -> Result<Dashboard, ApiError>;
        async fn system_health(&self, ctx: &Ctx) -> Result<SystemHealth, ApiError>;
        async fn jobs(&self, ctx: &Ctx) -> Result<Vec<JobInfo>, ApiError>;
        async fn job(&self, ctx: &Ctx, id: String) -> Result<(JobInfo, Vec<JobEventRecord>), ApiError>;
        async fn submit_job(&self, ctx: &Ctx, request: JobRequest) -> Result<JobInfo, ApiError>;
        async fn cancel_job(&self, ctx: &Ctx, id: String) -> Result<JobInfo, ApiError>;
    }

    fn missing(what: &str) -> ApiError {
        ApiError::Internal { message: format!("the server did not provide {what} to the page") }
    }

    /// The server's backend and what the session layer learned about this request.
    fn caller() -> Result<(Arc<dyn Backend>, Caller), ApiError> {
        let backend = use_context::<Arc<dyn Backend>>().ok_or_else(|| missing("its backend"))?;
        let parts = use_context::<http::request::Parts>().ok_or_else(|| missing("the request"))?;
        // Pages rendered outside the routes (the 404 fallback) have no session layer in front:
        // they are drawn for nobody in particular.
        let caller = parts.extensions.get::<Caller>().cloned().unwrap_or_else(|| Caller {
            client: "unknown".into(),
            secure_cookies: false,
            identity: Err(ApiError::unauthorized("log in first")),
        });
        Ok((backend, caller))
    }

    /// Runs a server function's body for the logged-in caller (401 for anyone else) and
    /// answers with the error's own HTTP status: a refusal is a 4xx, not the framework's 500.
    pub async fn with_ctx<T, F>(body: impl FnOnce(Arc<dyn Backend>, Ctx) -> F) -> Result<T, ApiError>
    where
        F: std::future::Future<Output = Result<T, ApiError>>,
    {
        with_caller(|backend, caller| async move { body(backend, caller.ctx()?).await }).await
    }

    /// As `with_ctx`, for the operations that anyone may call (logging in) or that start or
    /// end a session.
    pub async fn with_caller<T, F>(body: impl FnOnce(Arc<dyn Backend>, Caller) -> F) -> Result<T, ApiError>
    where
        F: std::future::Future<Output = Result<T, ApiError>>,
    {
        let response = use_context::<leptos_axum::ResponseOptions>();
        let result = match caller() {
            Ok((backend, caller)) => body(backend, caller).await,
            Err(e) => Err(e),
        };
        if let (Err(e), Some(response)) = (&result, response) {
            response.set_status(http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
        result
    }
}
