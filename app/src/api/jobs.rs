//! Training jobs: list, one job with its history, submit, cancel. The live events come over
//! the REST event stream (`EventSource`), not a server function.

use leptos::prelude::*;

use crate::model::job::{JobEventRecord, JobInfo, JobRequest};
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "jobs", output = crate::api::codec::JsonText)]
pub async fn list_jobs() -> Result<Vec<JobInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.jobs(&ctx).await }).await
}

/// A job and its history so far (the job page draws from it, then follows the live events).
#[server(prefix = "/api/ui", endpoint = "job", output = crate::api::codec::JsonText)]
pub async fn get_job(id: String) -> Result<(JobInfo, Vec<JobEventRecord>), ApiError> {
    super::with_ctx(|b, ctx| async move { b.job(&ctx, id).await }).await
}

/// The same request as `POST /api/jobs`, typed (sent as JSON).
#[server(prefix = "/api/ui", endpoint = "submit_job", input = leptos::server_fn::codec::Json, output = crate::api::codec::JsonText)]
pub async fn submit_job(request: JobRequest) -> Result<JobInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.submit_job(&ctx, request).await }).await
}

#[server(prefix = "/api/ui", endpoint = "cancel_job", output = crate::api::codec::JsonText)]
pub async fn cancel_job(id: String) -> Result<JobInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.cancel_job(&ctx, id).await }).await
}
