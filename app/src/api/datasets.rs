//! Datasets: the list, one dataset, and the owner's consent to joint training. Uploads go
//! through the REST API (a streaming body), not a server function.

use leptos::prelude::*;

use crate::model::dataset::DatasetInfo;
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "datasets")]
pub async fn list_datasets() -> Result<Vec<DatasetInfo>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.datasets(&ctx).await }).await
}

#[server(prefix = "/api/ui", endpoint = "dataset")]
pub async fn get_dataset(id: String) -> Result<DatasetInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.dataset(&ctx, id).await }).await
}

/// Records (or withdraws) the owner's consent to joint training on a dataset.
#[server(prefix = "/api/ui", endpoint = "set_consent")]
pub async fn set_consent(id: String, allow: bool) -> Result<DatasetInfo, ApiError> {
    super::with_ctx(|b, ctx| async move { b.set_consent(&ctx, id, allow).await }).await
}
