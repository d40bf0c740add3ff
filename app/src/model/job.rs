//! Training jobs on the wire: what a client asks for, what it reads back, and the typed
//! events that stream while a job runs (DESIGN §3).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ml::metrics::Metrics;
use crate::ml::train::TrainSpec;

/// `POST /api/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// One dataset, or several owners' datasets (same columns, same domain and subdomain)
    /// for a collaborative job.
    pub dataset_ids: Vec<String>,
    #[serde(flatten)]
    pub spec: TrainSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled)
    }
}

/// `GET /api/jobs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: String,
    pub owner_id: String,
    pub owner: String,
    pub domain: String,
    pub subdomain: String,
    pub request: JobRequest,
    pub dataset_names: Vec<String>,
    pub status: JobStatus,
    /// 0 to 1.
    pub progress: f64,
    pub attempts: u32,
    pub metrics: Option<Metrics>,
    pub error: Option<String>,
    /// The stored model, once the job succeeded.
    pub model_id: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

/// What happened to a job, in order; `GET /api/jobs/{id}/events` streams them with their
/// sequence number as the event id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    Queued,
    /// A worker claimed the job (`attempt` counts from 1; more than one after a restart).
    Started { attempt: u32 },
    /// The job went back to the queue: its worker's lease expired (the server stopped).
    Requeued { reason: String },
    /// The data is open: rows and encoded features, and the work ahead.
    Loaded { rows: usize, features: usize, datasets: usize, task: String, candidates: usize, folds: usize },
    /// Progress inside one fit: a tree of a forest, an epoch of the DQN (with its loss).
    /// `fold` is `None` for the final fit on all rows.
    Step { trial: usize, fold: Option<usize>, done: usize, total: usize, loss: Option<f64> },
    /// One cross-validation fold scored (accuracy or R² on its held-out rows).
    Fold { trial: usize, fold: usize, folds: usize, score: f64 },
    /// One search candidate scored: the mean over folds.
    Trial { trial: usize, trials: usize, params: Map<String, Value>, score: f64 },
    Finished { metric: String, score: f64, model_id: String },
    Failed { reason: String },
    Cancelled,
}

impl JobEvent {
    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Queued => "queued",
            JobEvent::Started { .. } => "started",
            JobEvent::Requeued { .. } => "requeued",
            JobEvent::Loaded { .. } => "loaded",
            JobEvent::Step { .. } => "step",
            JobEvent::Fold { .. } => "fold",
            JobEvent::Trial { .. } => "trial",
            JobEvent::Finished { .. } => "finished",
            JobEvent::Failed { .. } => "failed",
            JobEvent::Cancelled => "cancelled",
        }
    }

    /// The last event a job will have.
    pub fn is_final(&self) -> bool {
        matches!(self, JobEvent::Finished { .. } | JobEvent::Failed { .. } | JobEvent::Cancelled)
    }
}

/// An event with its place in the job's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEventRecord {
    pub seq: u64,
    pub at: String,
    pub event: JobEvent,
}
