//! The area's dashboard and, for admins, the machine's health.

use leptos::prelude::*;

use crate::model::analytics::{Dashboard, SystemHealth};
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "dashboard", output = crate::api::codec::JsonText)]
pub async fn get_dashboard() -> Result<Dashboard, ApiError> {
    super::with_ctx(|b, ctx| async move { b.dashboard(&ctx).await }).await
}

#[server(prefix = "/api/ui", endpoint = "system_health", output = crate::api::codec::JsonText)]
pub async fn get_system_health() -> Result<SystemHealth, ApiError> {
    super::with_ctx(|b, ctx| async move { b.system_health(&ctx).await }).await
}
