//! Datasets: the list, one dataset, and the owner's consent to joint training. Uploads go
//! through the REST API (a streaming body), not a server function.

use leptos::prelude::*;

use crate::model::dataset::{DatasetInfo, OwnerKey};
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "datasets", output = crate::api::codec::JsonText)]
pub async fn list_datasets() -> Result<Vec<DatasetInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.datasets(&ctx).await }).await
}

#[server(prefix = "/api/ui", endpoint = "dataset", output = crate::api::codec::JsonText)]
pub async fn get_dataset(id: String) -> Result<DatasetInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.dataset(&ctx, id).await }).await
}

/// Records (or withdraws) the owner's consent to joint training on a dataset.
#[server(prefix = "/api/ui", endpoint = "set_consent", output = crate::api::codec::JsonText)]
pub async fn set_consent(id: String, allow: bool) -> Result<DatasetInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.set_consent(&ctx, id, allow).await }).await
}

/// Deletes one of the caller's datasets and its ciphertext.
#[server(prefix = "/api/ui", endpoint = "delete_dataset", output = crate::api::codec::JsonText)]
pub async fn delete_dataset(id: String) -> Result<(), ApiError> {
    super::with_ctx(|b, ctx| async move { b.delete_dataset(&ctx, id).await }).await
}

/// The caller's dataset key (`None` before their first upload, when the page asks for a passphrase).
#[server(prefix = "/api/ui", endpoint = "my_owner_key", output = crate::api::codec::JsonText)]
pub async fn my_owner_key() -> Result<Option<OwnerKey>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.owner_key(&ctx).await }).await
}
