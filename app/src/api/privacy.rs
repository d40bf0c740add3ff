//! The accountant's preview for the job and federation forms, as the user types. The
//! accountant is pure (`dp::accountant`); it runs on the server so that the forms show exactly
//! what `GET /api/privacy/epsilon` answers.

use leptos::prelude::*;

use crate::dp::EpsilonPreview;
use crate::model::ApiError;

#[server(prefix = "/api/ui", endpoint = "privacy_preview", output = crate::api::codec::JsonText)]
pub async fn privacy_preview(
    sampling_rate: f64,
    noise_multiplier: Option<f64>,
    epsilon: Option<f64>,
    steps: u64,
    delta: f64,
) -> Result<EpsilonPreview, ApiError> {
    // Through the session like every call (logged in, as `GET /api/privacy/epsilon`), which
    // also answers a refusal with its status (422) rather than 500.
    super::with_ctx(|_, _| async move {
        EpsilonPreview::compute(sampling_rate, noise_multiplier, epsilon, steps, delta).map_err(|e| {
            let mut fields = crate::model::FieldErrors::new();
            fields.insert(e.field_name().to_owned(), e.message().to_owned());
            ApiError::Validation { fields }
        })
    })
    .await
}

/// The caller's privacy ledger in every private federation they joined (the profile page).
#[server(prefix = "/api/ui", endpoint = "my_privacy", output = crate::api::codec::JsonText)]
pub async fn my_privacy() -> Result<Vec<crate::model::federation::PrivacyLedger>, ApiError> {
    super::with_ctx(|b, ctx| async move { b.privacy_ledgers(&ctx).await }).await
}
