//! `GET /api/privacy/epsilon` (docs/api.md): the accountant's answer before anything is
//! spent, for the forms' previews and for API clients.

use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use app::dp::accountant::{epsilon, noise_for};
use app::dp::DpError;
use app::model::{ApiError, FieldErrors};

use super::api::{ApiResult, Authenticated};
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/privacy/epsilon", get(preview))
}

#[derive(Deserialize)]
struct Preview {
    #[serde(default = "one")]
    sampling_rate: f64,
    noise_multiplier: Option<f64>,
    epsilon: Option<f64>,
    steps: u64,
    #[serde(default = "default_delta")]
    delta: f64,
}

fn one() -> f64 {
    1.0
}

fn default_delta() -> f64 {
    1e-5
}

#[derive(Serialize)]
struct Answer {
    sampling_rate: f64,
    noise_multiplier: f64,
    steps: u64,
    delta: f64,
    epsilon: f64,
}

fn invalid(e: DpError) -> ApiError {
    let mut fields = FieldErrors::new();
    fields.insert(e.field_name().to_owned(), e.message().to_owned());
    ApiError::Validation { fields }
}

/// ε for `noise_multiplier`, or (given `epsilon`) the smallest noise multiplier meeting it.
async fn preview(Authenticated(_ctx): Authenticated, Query(p): Query<Preview>) -> ApiResult<impl IntoResponse> {
    let sigma = match (p.noise_multiplier, p.epsilon) {
        (Some(sigma), _) => sigma,
        (None, Some(target)) => noise_for(p.sampling_rate, p.steps, p.delta, target).map_err(invalid)?,
        (None, None) => return Err(invalid(DpError::field("noise_multiplier", "give noise_multiplier or epsilon")).into()),
    };
    let spent = epsilon(p.sampling_rate, sigma, p.steps, p.delta).map_err(invalid)?;
    Ok(Json(Answer { sampling_rate: p.sampling_rate, noise_multiplier: sigma, steps: p.steps, delta: p.delta, epsilon: spent }))
}
