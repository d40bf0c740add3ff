//! The server's side of the UI's server functions (`app::api::Backend`): the same backend
//! calls as the JSON API. The session layer has already identified the caller; only the
//! operations that start or end a session touch cookies, through `start_session`/`end_session`.

use app::api::{Backend as UiBackend, Rows};
use app::model::analytics::{Dashboard, SystemHealth};
use app::model::artifact::{ModelInfo, Prediction};
use app::model::audit::{AuditEntry, AuditQuery};
use app::model::auth::{Caller, Ctx, Me, PasswordChange, ProfileUpdate, RegisterRequest};
use app::model::dataset::{DatasetInfo, OwnerKey};
use app::model::federation::{FederationInfo, NewFederation, PrivacyLedger, RoundView};
use app::model::job::{JobEventRecord, JobInfo, JobRequest};
use app::model::ApiError;

use super::api::{cleared_cookies, cookie_headers, cookie_value, session_cookies, REFRESH_COOKIE};
use crate::backend::auth::Session;
use crate::backend::Backend;

/// Sets the session cookies on the server function's response.
fn set_cookies(cookies: Vec<String>) {
    if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        for v in cookie_headers(cookies) {
            res.append_header(axum::http::header::SET_COOKIE, v);
        }
    }
}

fn start_session(caller: &Caller, session: &Session) {
    set_cookies(session_cookies(session, caller.secure_cookies));
}

#[async_trait::async_trait]
impl UiBackend for Backend {
    async fn me(&self, ctx: &Ctx) -> Result<Me, ApiError> {
        Ok(self.auth.me(&ctx.actor).await?)
    }

    async fn register(&self, caller: &Caller, req: RegisterRequest) -> Result<Me, ApiError> {
        let (username, password) = (req.username.clone(), req.password.clone());
        self.auth.register(req, &caller.client).await?;
        Ok(self.login(caller, username, password).await?)
    }

    async fn login(&self, caller: &Caller, username: String, password: String) -> Result<Me, ApiError> {
        let session = self.auth.login(&username, password, &caller.client).await?;
        start_session(caller, &session);
        Ok(session.me)
    }

    async fn logout(&self, caller: &Caller) {
        // The session layer leaves this request's refresh cookie unrotated, so it names the
        // family to revoke.
        let refresh = leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| cookie_value(&p, REFRESH_COOKIE));
        if let Err(e) = self.auth.logout(caller.identity.as_ref().ok(), refresh.as_deref(), &caller.client).await {
            tracing::warn!("logout: {e}");
        }
        set_cookies(cleared_cookies(caller.secure_cookies));
    }

    async fn update_profile(&self, ctx: &Ctx, update: ProfileUpdate) -> Result<Me, ApiError> {
        Ok(self.auth.update_profile(ctx, &ctx.actor.user_id, update).await?)
    }

    async fn change_password(&self, caller: &Caller, change: PasswordChange) -> Result<(), ApiError> {
        let ctx = caller.ctx()?;
        self.auth.change_password(&ctx, change).await?;
        // Every session ended with the change, this one included: start a fresh one.
        let session = self.auth.session_for(&ctx.actor.user_id).await?;
        start_session(caller, &session);
        Ok(())
    }

    async fn audit(&self, ctx: &Ctx, q: AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
        Ok(self.auth.audit_list(ctx, &q).await?)
    }

    async fn datasets(&self, ctx: &Ctx) -> Result<Vec<DatasetInfo>, ApiError> {
        Ok(self.datasets.list(&ctx.actor).await?)
    }

    async fn dataset(&self, ctx: &Ctx, id: String) -> Result<DatasetInfo, ApiError> {
        Ok(self.datasets.get(ctx, &id).await?)
    }

    async fn set_consent(&self, ctx: &Ctx, id: String, allow: bool) -> Result<DatasetInfo, ApiError> {
        Ok(self.datasets.set_consent(ctx, &id, allow).await?)
    }

    async fn delete_dataset(&self, ctx: &Ctx, id: String) -> Result<(), ApiError> {
        Ok(self.datasets.delete(ctx, &id).await?)
    }

    async fn owner_key(&self, ctx: &Ctx) -> Result<Option<OwnerKey>, ApiError> {
        Ok(self.datasets.owner_key(&ctx.actor).await?)
    }

    async fn federations(&self, ctx: &Ctx) -> Result<Vec<FederationInfo>, ApiError> {
        Ok(self.federations.list(&ctx.actor).await?)
    }

    async fn federation(&self, ctx: &Ctx, id: String) -> Result<FederationInfo, ApiError> {
        Ok(self.federations.get(ctx, &id).await?)
    }

    async fn join_federation(&self, ctx: &Ctx, id: String) -> Result<FederationInfo, ApiError> {
        Ok(self.federations.join(ctx, &id).await?)
    }

    async fn create_federation(&self, ctx: &Ctx, req: NewFederation) -> Result<FederationInfo, ApiError> {
        Ok(self.federations.create(ctx, req).await?)
    }

    async fn federation_round(&self, ctx: &Ctx, id: String) -> Result<RoundView, ApiError> {
        Ok(self.federations.round_view(ctx, &id).await?)
    }

    async fn privacy_ledgers(&self, ctx: &Ctx) -> Result<Vec<PrivacyLedger>, ApiError> {
        Ok(self.federations.ledgers(ctx).await?)
    }

    async fn models(
        &self,
        ctx: &Ctx,
        dataset: Option<String>,
        kind: Option<String>,
        domain: Option<String>,
    ) -> Result<Vec<ModelInfo>, ApiError> {
        Ok(self.models.list(&ctx.actor, &crate::backend::models::ModelFilter { dataset, kind, domain }).await?)
    }

    async fn model(&self, ctx: &Ctx, id: String) -> Result<ModelInfo, ApiError> {
        Ok(self.models.get(ctx, &id).await?)
    }

    async fn predict(&self, ctx: &Ctx, id: String, rows: Rows) -> Result<Vec<Prediction>, ApiError> {
        Ok(self.models.predict(ctx, &id, rows).await?.0)
    }

    async fn he_offer(&self, ctx: &Ctx, id: String) -> Result<app::he::HeOffer, ApiError> {
        Ok(self.models.he_offer(ctx, &id).await?)
    }

    async fn delete_model(&self, ctx: &Ctx, id: String) -> Result<(), ApiError> {
        Ok(self.models.delete(ctx, &id).await?)
    }

    async fn dashboard(&self, ctx: &Ctx) -> Result<Dashboard, ApiError> {
        Ok(self.analytics.dashboard(&ctx.actor, None).await?)
    }

    async fn system_health(&self, ctx: &Ctx) -> Result<SystemHealth, ApiError> {
        Ok(self.analytics.health(&ctx.actor).await?)
    }

    async fn jobs(&self, ctx: &Ctx) -> Result<Vec<JobInfo>, ApiError> {
        Ok(self.jobs.list(&ctx.actor).await?)
    }

    async fn job(&self, ctx: &Ctx, id: String) -> Result<(JobInfo, Vec<JobEventRecord>), ApiError> {
        let info = self.jobs.get(ctx, &id).await?;
        let history = self.jobs.history(ctx, &id).await?;
        Ok((info, history))
    }

    async fn submit_job(&self, ctx: &Ctx, request: JobRequest) -> Result<JobInfo, ApiError> {
        Ok(self.jobs.submit(ctx, request).await?)
    }

    async fn cancel_job(&self, ctx: &Ctx, id: String) -> Result<JobInfo, ApiError> {
        Ok(self.jobs.cancel(ctx, &id).await?)
    }
}
