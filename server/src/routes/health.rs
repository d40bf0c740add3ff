use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use app::model::HealthReport;

use crate::backend::Backend;

/// `GET /api/health`: 200 when the database and the store both pass a round trip, 503 naming
/// the failing part otherwise, so a load balancer and a person read the same answer.
pub async fn get(State(backend): State<Backend>) -> (StatusCode, Json<HealthReport>) {
    let report = backend.health().await;
    let status = if report.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    if !report.is_ok() {
        tracing::warn!(db = ?report.db, store = ?report.store, "health check failed");
    }
    (status, Json(report))
}
