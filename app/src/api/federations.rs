//! Federations: the area's list, declaring one, one federation, joining it, and its rounds.

use leptos::prelude::*;

use crate::model::federation::{FederationInfo, NewFederation, RoundView};
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "federations", output = crate::api::codec::JsonText)]
pub async fn list_federations() -> Result<Vec<FederationInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.federations(&ctx).await }).await
}

#[server(prefix = "/api/ui", endpoint = "federation", output = crate::api::codec::JsonText)]
pub async fn get_federation(id: String) -> Result<FederationInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.federation(&ctx, id).await }).await
}

#[server(prefix = "/api/ui", endpoint = "join_federation", output = crate::api::codec::JsonText)]
pub async fn join_federation(id: String) -> Result<FederationInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.join_federation(&ctx, id).await }).await
}

#[server(prefix = "/api/ui", endpoint = "create_federation", input = leptos::server_fn::codec::Json, output = crate::api::codec::JsonText)]
pub async fn create_federation(req: NewFederation) -> Result<FederationInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.create_federation(&ctx, req).await }).await
}

/// The caller's view of the rounds (the page's first paint; the event stream follows).
#[server(prefix = "/api/ui", endpoint = "federation_round", output = crate::api::codec::JsonText)]
pub async fn federation_round(id: String) -> Result<RoundView, ApiError> {
    super::with_ctx(|b, ctx| async move { b.federation_round(&ctx, id).await }).await
}
