//! Federations: the area's list, one federation, and joining it.

use leptos::prelude::*;

use crate::model::federation::FederationInfo;
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "federations")]
pub async fn list_federations() -> Result<Vec<FederationInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.federations(&ctx).await }).await
}

#[server(prefix = "/api/ui", endpoint = "federation")]
pub async fn get_federation(id: String) -> Result<FederationInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.federation(&ctx, id).await }).await
}

#[server(prefix = "/api/ui", endpoint = "join_federation")]
pub async fn join_federation(id: String) -> Result<FederationInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.join_federation(&ctx, id).await }).await
}
