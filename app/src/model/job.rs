//! Training jobs on the wire: what a client asks for, what it reads back, and the typed
//! events that stream while a job runs (DESIGN §3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ml::metrics::Metrics;
use crate::ml::train::TrainSpec;

/// `POST /api/jobs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "JobRequestBody")]
pub struct JobRequest {
    /// One dataset, or several owners' datasets (same columns, same domain and subdomain)
    /// for a collaborative job.
    pub dataset_ids: Vec<String>,
    #[serde(flatten)]
    pub spec: TrainSpec,
}

/// `JobRequest` as it is read: the same fields, spelled out rather than flattened, because a
/// flattened struct is read from a buffer that loses the path of a bad value, and the API
/// names the field (`cv_folds`, `model.kind`) in its 422.
#[derive(Deserialize)]
struct JobRequestBody {
    dataset_ids: Vec<String>,
    target: String,
    #[serde(default)]
    features: Option<Vec<String>>,
    model: crate::ml::train::ModelSpec,
    #[serde(default = "crate::ml::train::default_folds")]
    cv_folds: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    smote: Option<crate::ml::smote::SmoteParams>,
    #[serde(default)]
    privacy: Option<crate::dp::PrivacySpec>,
    #[serde(default)]
    task: Option<crate::ml::train::TaskChoice>,
}

impl From<JobRequestBody> for JobRequest {
    fn from(b: JobRequestBody) -> Self {
        JobRequest {
            dataset_ids: b.dataset_ids,
            spec: TrainSpec {
                target: b.target,
                features: b.features,
                model: b.model,
                cv_folds: b.cv_folds,
                seed: b.seed,
                smote: b.smote,
                privacy: b.privacy,
                task: b.task,
            },
        }
    }
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
    pub const ALL: [JobStatus; 5] = [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Cancelled];

    /// The status stored as `s`; `None` for anything else (the database refuses other values,
    /// so `None` means a damaged record, never a silent default).
    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How the UI names it.
    pub fn label(self) -> &'static str {
        match self {
            JobStatus::Queued => "Queued",
            JobStatus::Running => "Running",
            JobStatus::Succeeded => "Finished",
            JobStatus::Failed => "Failed",
            JobStatus::Cancelled => "Cancelled",
        }
    }

    /// What a job in this status has done, for "the job has already …".
    pub fn done(self) -> &'static str {
        match self {
            JobStatus::Queued => "been queued",
            JobStatus::Running => "started",
            JobStatus::Succeeded => "finished",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "been cancelled",
        }
    }

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

/// A job's title as people see it: "Logistic regression on iris, heart".
pub fn title(kind: crate::ml::model::ModelKind, dataset_names: &[String]) -> String {
    format!("{} on {}", kind.label(), dataset_names.join(", "))
}

impl JobInfo {
    pub fn title(&self) -> String {
        title(self.request.spec.model.kind, &self.dataset_names)
    }
}

/// What happened to a job, in order; `GET /api/jobs/{id}/events` streams them with their
/// sequence number as the event id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    Queued,
    /// A worker claimed the job (`attempt` counts from 1; more than one after a restart).
    Started {
        attempt: u32,
    },
    /// The job went back to the queue: its worker's lease expired (the server stopped).
    Requeued {
        reason: String,
    },
    /// The data is open: rows and encoded features, and the work ahead.
    Loaded {
        rows: usize,
        features: usize,
        datasets: usize,
        task: String,
        candidates: usize,
        folds: usize,
    },
    /// Progress inside one fit: a tree of a forest, an epoch of the DQN (with its loss).
    /// `fold` is `None` for the final fit on all rows.
    Step {
        trial: usize,
        fold: Option<usize>,
        done: usize,
        total: usize,
        loss: Option<f64>,
    },
    /// One cross-validation fold scored (accuracy or R² on its held-out rows).
    Fold {
        trial: usize,
        fold: usize,
        folds: usize,
        score: f64,
    },
    /// One search candidate scored: the mean over folds.
    Trial {
        trial: usize,
        trials: usize,
        /// Keys sorted, as the database gives them back, so a replayed event is the live one
        /// byte for byte.
        params: std::collections::BTreeMap<String, Value>,
        score: f64,
    },
    /// The privacy the final model's training spends at δ: σ found for the target ε (or as
    /// given), the sampling rate and steps the accountant composed.
    Privacy(crate::dp::PrivacySpent),
    Finished {
        metric: String,
        score: f64,
        model_id: String,
    },
    Failed {
        reason: String,
    },
    Cancelled,
}

impl JobEvent {
    /// Every event name, as sent in the SSE `event:` field.
    pub const NAMES: [&'static str; 11] =
        ["queued", "started", "requeued", "loaded", "step", "fold", "trial", "privacy", "finished", "failed", "cancelled"];

    pub fn name(&self) -> &'static str {
        match self {
            JobEvent::Queued => "queued",
            JobEvent::Started { .. } => "started",
            JobEvent::Requeued { .. } => "requeued",
            JobEvent::Loaded { .. } => "loaded",
            JobEvent::Step { .. } => "step",
            JobEvent::Fold { .. } => "fold",
            JobEvent::Trial { .. } => "trial",
            JobEvent::Privacy(_) => "privacy",
            JobEvent::Finished { .. } => "finished",
            JobEvent::Failed { .. } => "failed",
            JobEvent::Cancelled => "cancelled",
        }
    }

    /// The last event a job will have.
    pub fn is_final(&self) -> bool {
        matches!(self, JobEvent::Finished { .. } | JobEvent::Failed { .. } | JobEvent::Cancelled)
    }

    /// The job's status once this event has happened; `None` for progress within a run.
    /// The job page follows the status from the stream, not from its first load.
    pub fn status(&self) -> Option<JobStatus> {
        match self {
            JobEvent::Queued | JobEvent::Requeued { .. } => Some(JobStatus::Queued),
            JobEvent::Started { .. } => Some(JobStatus::Running),
            JobEvent::Finished { .. } => Some(JobStatus::Succeeded),
            JobEvent::Failed { .. } => Some(JobStatus::Failed),
            JobEvent::Cancelled => Some(JobStatus::Cancelled),
            JobEvent::Loaded { .. } | JobEvent::Step { .. } | JobEvent::Fold { .. } | JobEvent::Trial { .. } | JobEvent::Privacy(_) => None,
        }
    }
}

impl From<crate::ml::train::Progress> for JobEvent {
    fn from(p: crate::ml::train::Progress) -> Self {
        use crate::ml::train::Progress;
        match p {
            Progress::Loaded { rows, features, datasets, task, candidates, folds } => {
                JobEvent::Loaded { rows, features, datasets, task, candidates, folds }
            }
            Progress::Step { trial, fold, done, total, loss } => JobEvent::Step { trial, fold, done, total, loss },
            Progress::Fold { trial, fold, folds, score } => JobEvent::Fold { trial, fold, folds, score },
            Progress::Trial { trial, trials, params, score } => {
                JobEvent::Trial { trial, trials, params: params.into_iter().collect(), score }
            }
            Progress::Privacy(spent) => JobEvent::Privacy(spent),
        }
    }
}

/// An event with its place in the job's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEventRecord {
    pub seq: u64,
    pub at: String,
    pub event: JobEvent,
}

/// How far a job is, from its events: work is counted in fold fits (every candidate × every
/// fold, plus the final fit on all rows), and a fit's steps fill in its share.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobProgress {
    folds: usize,
    units: usize,
    done: f64,
    finished: bool,
}

impl JobProgress {
    pub fn update(&mut self, e: &JobEvent) {
        match e {
            JobEvent::Started { .. } => *self = JobProgress::default(),
            JobEvent::Loaded { candidates, folds, .. } => {
                self.folds = *folds;
                self.units = candidates * folds + 1;
            }
            JobEvent::Fold { trial, fold, .. } => self.done = (trial * self.folds + fold + 1) as f64,
            JobEvent::Step { trial, fold, done, total, .. } => {
                let base = match fold {
                    Some(f) => trial * self.folds + f,
                    None => self.units.saturating_sub(1),
                };
                self.done = base as f64 + *done as f64 / (*total).max(1) as f64;
            }
            JobEvent::Finished { .. } => self.finished = true,
            _ => {}
        }
    }

    /// 0 to 1; 1 only once the job has finished.
    pub fn fraction(&self) -> f64 {
        if self.finished {
            1.0
        } else if self.units == 0 {
            0.0
        } else {
            (self.done / self.units as f64).min(0.99)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_fold_fits_and_steps_within_them() {
        let mut p = JobProgress::default();
        p.update(&JobEvent::Loaded { rows: 10, features: 2, datasets: 1, task: "regression".into(), candidates: 2, folds: 2 });
        assert_eq!(p.fraction(), 0.0);
        p.update(&JobEvent::Step { trial: 0, fold: Some(0), done: 1, total: 2, loss: None });
        assert!((p.fraction() - 0.5 / 5.0).abs() < 1e-12);
        p.update(&JobEvent::Fold { trial: 1, fold: 1, folds: 2, score: 0.5 });
        assert!((p.fraction() - 4.0 / 5.0).abs() < 1e-12);
        p.update(&JobEvent::Step { trial: 1, fold: None, done: 1, total: 1, loss: None });
        assert_eq!(p.fraction(), 0.99, "not done until finished");
        p.update(&JobEvent::Finished { metric: "r2".into(), score: 0.5, model_id: "m".into() });
        assert_eq!(p.fraction(), 1.0);
    }

    #[test]
    fn events_move_the_status_and_progress_events_leave_it() {
        let after = |events: &[JobEvent]| events.iter().fold(JobStatus::Queued, |s, e| e.status().unwrap_or(s));
        let step = JobEvent::Step { trial: 0, fold: Some(0), done: 1, total: 2, loss: None };
        assert_eq!(after(&[JobEvent::Queued, JobEvent::Started { attempt: 1 }, step.clone()]), JobStatus::Running);
        assert_eq!(after(&[JobEvent::Started { attempt: 1 }, JobEvent::Requeued { reason: "restart".into() }]), JobStatus::Queued);
        assert_eq!(after(&[JobEvent::Started { attempt: 2 }, step, JobEvent::Cancelled]), JobStatus::Cancelled);
        assert_eq!(after(&[JobEvent::Started { attempt: 1 }, JobEvent::Failed { reason: "x".into() }]), JobStatus::Failed);
        let finished = JobEvent::Finished { metric: "accuracy".into(), score: 1.0, model_id: "m".into() };
        assert_eq!(after(&[JobEvent::Started { attempt: 1 }, finished]), JobStatus::Succeeded);
        for e in [JobEvent::Queued, JobEvent::Cancelled] {
            assert_eq!(e.status().is_some_and(JobStatus::is_final), e.is_final());
        }
    }

    /// Events are stored as JSON and replayed from it: a score must come back as the very
    /// float that was sent live (serde_json's `float_roundtrip`; without it about one in
    /// three such values came back one unit in the last place off).
    #[test]
    fn scores_survive_a_json_round_trip_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for _ in 0..20_000 {
            let score = rng.random::<f64>() * 10f64.powi(rng.random_range(-8..8));
            let e = JobEvent::Fold { trial: 0, fold: 0, folds: 5, score };
            let text = serde_json::to_string(&e).unwrap();
            let back: JobEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, e, "{text}");
        }
    }
}
