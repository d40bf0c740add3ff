//! `GET /api/privacy/epsilon` (docs/api.md): the accountant's answer before anything is
//! spent, for the forms' previews and for API clients.

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;

use app::dp::{DpError, EpsilonPreview};
use app::model::{ApiError, FieldErrors};

use super::api::{ApiResult, Authenticated};
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/privacy/epsilon", get(preview)).route("/api/privacy/ledger", get(ledger))
}

/// The query, read field by field so that a missing or malformed value is a 422 naming it.
struct Preview {
    sampling_rate: f64,
    noise_multiplier: Option<f64>,
    epsilon: Option<f64>,
    steps: u64,
    delta: f64,
}

impl Preview {
    fn parse(q: &HashMap<String, String>) -> Result<Preview, ApiError> {
        fn field<T: std::str::FromStr>(q: &HashMap<String, String>, name: &'static str, what: &str) -> Result<Option<T>, ApiError> {
            q.get(name)
                .map(|v| v.trim().parse().map_err(|_| invalid(DpError::field(name, format!("must be {what}, not “{v}”")))))
                .transpose()
        }
        Ok(Preview {
            sampling_rate: field(q, "sampling_rate", "a number")?.unwrap_or(1.0),
            noise_multiplier: field(q, "noise_multiplier", "a number")?,
            epsilon: field(q, "epsilon", "a number")?,
            steps: field(q, "steps", "a whole number")?.ok_or_else(|| invalid(DpError::field("steps", "give the number of steps")))?,
            delta: field(q, "delta", "a number")?.unwrap_or(1e-5),
        })
    }
}

fn invalid(e: DpError) -> ApiError {
    let mut fields = FieldErrors::new();
    fields.insert(e.field_name().to_owned(), e.message().to_owned());
    ApiError::Validation { fields }
}

/// ε for `noise_multiplier`, or (given `epsilon`) the smallest noise multiplier meeting it.
async fn preview(Authenticated(_ctx): Authenticated, Query(q): Query<HashMap<String, String>>) -> ApiResult<impl IntoResponse> {
    let p = Preview::parse(&q)?;
    Ok(Json(EpsilonPreview::compute(p.sampling_rate, p.noise_multiplier, p.epsilon, p.steps, p.delta).map_err(invalid)?))
}

/// The caller's ledger in every private federation they joined.
async fn ledger(State(state): State<AppState>, Authenticated(ctx): Authenticated) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.backend.federations.ledgers(&ctx).await?))
}
