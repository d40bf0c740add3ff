//! The server's side of the UI's server functions (`app::api::UiBackend`): the same backend
//! calls as the JSON API, with the browser session kept in cookies.

use axum::http::request::Parts;

use app::api::{Cookies, UiBackend};
use app::model::analytics::{Dashboard, SystemHealth};
use app::model::artifact::{ModelInfo, Prediction};
use app::model::audit::{AuditEntry, AuditQuery};
use app::model::auth::{Me, PasswordChange, ProfileUpdate, RegisterRequest};
use app::model::dataset::DatasetInfo;
use app::model::job::{JobEventRecord, JobInfo, JobRequest};
use app::model::ApiError;

use super::api::{access_token, cleared_cookies, client_addr, cookie_value, session_cookies, wants_secure, REFRESH_COOKIE};
use crate::backend::authz::Actor;
use crate::backend::Backend;

pub struct UiAdapter {
    pub backend: Backend,
    pub secure_cookies: bool,
}

impl UiAdapter {
    fn secure(&self, parts: &Parts) -> bool {
        wants_secure(&parts.headers, self.secure_cookies)
    }

    /// The caller from the access cookie; when that has expired, a refresh-cookie rotation
    /// (whose new cookies the response must carry).
    async fn actor(&self, parts: &Parts) -> Result<(Actor, Cookies), ApiError> {
        let auth = &self.backend.auth;
        if let Some(t) = access_token(parts) {
            if let Ok(a) = auth.authenticate(&t).await {
                return Ok((a, Vec::new()));
            }
        }
        let refresh = cookie_value(parts, REFRESH_COOKIE).ok_or_else(|| ApiError::unauthorized("log in first"))?;
        let session = auth.refresh(&refresh, &client_addr(parts)).await?;
        let actor = auth.authenticate(&session.access_token).await?;
        Ok((actor, session_cookies(&session, self.secure(parts))))
    }
}

#[async_trait::async_trait]
impl UiBackend for UiAdapter {
    async fn current_user(&self, parts: &Parts) -> (Option<Me>, Cookies) {
        match self.actor(parts).await {
            Ok((actor, cookies)) => (self.backend.auth.me(&actor).await.ok(), cookies),
            // A dead session: clear its cookies so the browser stops sending them.
            Err(_) if cookie_value(parts, REFRESH_COOKIE).is_some() => (None, cleared_cookies(self.secure(parts))),
            Err(_) => (None, Vec::new()),
        }
    }

    async fn register(&self, parts: &Parts, req: RegisterRequest) -> Result<(Me, Cookies), ApiError> {
        let (username, password) = (req.username.clone(), req.password.clone());
        self.backend.auth.register(req, &client_addr(parts)).await?;
        self.login(parts, username, password).await
    }

    async fn login(&self, parts: &Parts, username: String, password: String) -> Result<(Me, Cookies), ApiError> {
        let session = self.backend.auth.login(&username, password, &client_addr(parts)).await?;
        let cookies = session_cookies(&session, self.secure(parts));
        Ok((session.me, cookies))
    }

    async fn logout(&self, parts: &Parts) -> Cookies {
        let actor = match access_token(parts) {
            Some(t) => self.backend.auth.authenticate(&t).await.ok(),
            None => None,
        };
        let refresh = cookie_value(parts, REFRESH_COOKIE);
        if let Err(e) = self.backend.auth.logout(actor.as_ref(), refresh.as_deref(), &client_addr(parts)).await {
            tracing::warn!("logout: {e}");
        }
        cleared_cookies(self.secure(parts))
    }

    async fn update_profile(&self, parts: &Parts, update: ProfileUpdate) -> Result<(Me, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        let owner = actor.user_id.clone();
        let me = self.backend.auth.update_profile(&actor, &owner, update, &client_addr(parts)).await?;
        Ok((me, cookies))
    }

    async fn change_password(&self, parts: &Parts, change: PasswordChange) -> Result<Cookies, ApiError> {
        let (actor, _) = self.actor(parts).await?;
        let client = client_addr(parts);
        self.backend.auth.change_password(&actor, change, &client).await?;
        // Every session ended with the change, this one included: start a fresh one.
        let session = self.backend.auth.session_for(&actor.user_id).await?;
        Ok(session_cookies(&session, self.secure(parts)))
    }

    async fn audit(&self, parts: &Parts, q: AuditQuery) -> Result<(Vec<AuditEntry>, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        let entries = self.backend.auth.audit_list(&actor, &q, &client_addr(parts)).await?;
        Ok((entries, cookies))
    }

    async fn datasets(&self, parts: &Parts) -> Result<(Vec<DatasetInfo>, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.datasets.list(&actor).await?, cookies))
    }

    async fn dataset(&self, parts: &Parts, id: String) -> Result<(DatasetInfo, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.datasets.get(&actor, &id, &client_addr(parts)).await?, cookies))
    }

    async fn set_consent(&self, parts: &Parts, id: String, allow: bool) -> Result<(DatasetInfo, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.datasets.set_consent(&actor, &id, allow, &client_addr(parts)).await?, cookies))
    }

    async fn models(
        &self,
        parts: &Parts,
        dataset: Option<String>,
        kind: Option<String>,
        domain: Option<String>,
    ) -> Result<(Vec<ModelInfo>, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        let filter = crate::backend::models::ModelFilter { dataset, kind, domain };
        Ok((self.backend.models.list(&actor, &filter).await?, cookies))
    }

    async fn model(&self, parts: &Parts, id: String) -> Result<(ModelInfo, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.models.get(&actor, &id, &client_addr(parts)).await?, cookies))
    }

    async fn predict(
        &self,
        parts: &Parts,
        id: String,
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(Vec<Prediction>, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.models.predict(&actor, &id, &rows, &client_addr(parts)).await?, cookies))
    }

    async fn delete_model(&self, parts: &Parts, id: String) -> Result<Cookies, ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        self.backend.models.delete(&actor, &id, &client_addr(parts)).await?;
        Ok(cookies)
    }

    async fn dashboard(&self, parts: &Parts) -> Result<(Dashboard, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.analytics.dashboard(&actor, None).await?, cookies))
    }

    async fn system_health(&self, parts: &Parts) -> Result<(SystemHealth, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.analytics.health(&actor).await?, cookies))
    }

    async fn jobs(&self, parts: &Parts) -> Result<(Vec<JobInfo>, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.jobs.list(&actor).await?, cookies))
    }

    async fn job(&self, parts: &Parts, id: String) -> Result<((JobInfo, Vec<JobEventRecord>), Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        let client = client_addr(parts);
        let info = self.backend.jobs.get(&actor, &id, &client).await?;
        let history = self.backend.jobs.history(&actor, &id, &client).await?;
        Ok(((info, history), cookies))
    }

    async fn submit_job(&self, parts: &Parts, request: JobRequest) -> Result<(JobInfo, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.jobs.submit(&actor, request, &client_addr(parts)).await?, cookies))
    }

    async fn cancel_job(&self, parts: &Parts, id: String) -> Result<(JobInfo, Cookies), ApiError> {
        let (actor, cookies) = self.actor(parts).await?;
        Ok((self.backend.jobs.cancel(&actor, &id, &client_addr(parts)).await?, cookies))
    }
}
