//! Model versions: the list with its filters, one version, prediction, deletion.

use leptos::prelude::*;

use crate::model::artifact::{ModelInfo, Prediction};
use crate::model::ApiError;

/// Models the caller may see, newest first; empty filters are ignored.
#[server(prefix = "/api/ui", endpoint = "models", output = crate::api::codec::JsonText)]
pub async fn list_models(dataset: String, kind: String, domain: String) -> Result<Vec<ModelInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move {
        let some = |s: String| if s.trim().is_empty() { None } else { Some(s) };
        b.models(&ctx, some(dataset), some(kind), some(domain)).await
    })
    .await
}

#[server(prefix = "/api/ui", endpoint = "model", output = crate::api::codec::JsonText)]
pub async fn get_model(id: String) -> Result<ModelInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.model(&ctx, id).await }).await
}

/// Rows as `{feature: value}` objects (sent as JSON).
#[server(prefix = "/api/ui", endpoint = "predict", input = leptos::server_fn::codec::Json, output = crate::api::codec::JsonText)]
pub async fn predict_rows(id: String, rows: super::Rows) -> Result<Vec<Prediction>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.predict(&ctx, id, rows).await }).await
}

/// What the browser needs to encrypt rows for a model (docs/he.md), or why the model has no
/// encrypted prediction (its kind, its budget): an answer, not a failed request, since the
/// model page asks for every model.
#[server(prefix = "/api/ui", endpoint = "he_offer", output = crate::api::codec::JsonText)]
pub async fn he_offer(id: String) -> Result<Result<crate::he::HeOffer, String>, ApiError> {
    super::with_ctx(|b, ctx| async move {
        match b.he_offer(&ctx, id).await {
            Ok(offer) => Ok(Ok(offer)),
            Err(e @ ApiError::Validation { .. }) => Ok(Err(e.detail())),
            Err(e) => Err(e),
        }
    })
    .await
}

#[server(prefix = "/api/ui", endpoint = "delete_model", output = crate::api::codec::JsonText)]
pub async fn delete_model(id: String) -> Result<(), ApiError> {
    super::with_ctx(|b, ctx| async move { b.delete_model(&ctx, id).await }).await
}
