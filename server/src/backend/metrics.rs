//! `GET /metrics` in the Prometheus text format: HTTP requests by route and status with a
//! latency histogram, training durations (kept as they happen), and, read from the database at
//! each scrape, jobs by status and the dataset bytes stored.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use surrealdb::types::SurrealValue;

use super::db::Db;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    training: HistogramVec,
    jobs: IntGaugeVec,
    dataset_bytes: IntGaugeVec,
    /// SHA-256 of the scrape token, if one is required: compared in constant time, and
    /// digests are of equal length whatever the token's.
    token: Option<[u8; 32]>,
}

#[derive(Debug, Clone, SurrealValue)]
struct Count {
    status: String,
    n: i64,
}

impl Metrics {
    pub fn new(token: Option<&str>) -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("cipherfold".into()), None)?;
        let requests = IntCounterVec::new(Opts::new("http_requests_total", "HTTP requests by route and status"), &["route", "status"])?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route"],
        )?;
        let training = HistogramVec::new(
            HistogramOpts::new("training_duration_seconds", "Wall time of finished training attempts by model kind and outcome")
                .buckets(vec![0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0]),
            &["kind", "outcome"],
        )?;
        let jobs = IntGaugeVec::new(Opts::new("jobs", "Training jobs by status"), &["status"])?;
        let dataset_bytes = IntGaugeVec::new(Opts::new("dataset_bytes_stored", "Ciphertext bytes of ready datasets"), &["kind"])?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(training.clone()))?;
        registry.register(Box::new(jobs.clone()))?;
        registry.register(Box::new(dataset_bytes.clone()))?;
        let token = token.map(|t| Sha256::digest(t.as_bytes()).into());
        Ok(Metrics { registry, requests, latency, training, jobs, dataset_bytes, token })
    }

    /// Whether a scrape with this `Authorization` header may read the metrics.
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(want) = &self.token else { return true };
        let given = authorization.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or_default();
        Sha256::digest(given.as_bytes()).as_slice().ct_eq(want).into()
    }

    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[route, &status.to_string()]).inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    pub fn observe_training(&self, kind: &str, outcome: &str, seconds: f64) {
        self.training.with_label_values(&[kind, outcome]).observe(seconds);
    }

    /// Refreshes the database-backed gauges and renders everything.
    pub async fn render(&self, db: &Db) -> String {
        let counts = db.query("SELECT status, count() AS n FROM job GROUP BY status").await.and_then(|mut r| r.take::<Vec<Count>>(0));
        match counts {
            Ok(counts) => {
                for s in ["queued", "running", "succeeded", "failed", "cancelled"] {
                    let n = counts.iter().find(|c| c.status == s).map_or(0, |c| c.n);
                    self.jobs.with_label_values(&[s]).set(n);
                }
            }
            Err(e) => tracing::warn!("metrics: counting jobs failed: {e}"),
        }
        let bytes = db
            .query("SELECT VALUE math::sum(ciphertext_size) FROM dataset WHERE status = 'ready' GROUP ALL")
            .await
            .and_then(|mut r| r.take::<Option<i64>>(0));
        match bytes {
            Ok(b) => self.dataset_bytes.with_label_values(&["ciphertext"]).set(b.unwrap_or(0)),
            Err(e) => tracing::warn!("metrics: summing dataset sizes failed: {e}"),
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("metrics: encoding failed: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
