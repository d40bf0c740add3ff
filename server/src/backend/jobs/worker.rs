//! The workers: each takes the next queued job and runs one attempt of it (open the data,
//! train on a blocking thread while forwarding events, store the model), then the next.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use app::ml::train::{train, Progress, TrainMonitor, Trained};
use app::model::artifact::{ModelArtifact, ARTIFACT_FORMAT, ARTIFACT_VERSION};
use app::model::job::JobEvent;
use app::model::ApiError;
use app::table::Table;

use crate::backend::error::Result;
use crate::backend::models::ModelOwner;
use crate::backend::util::{now_rfc3339, random_id};

use super::rows::JobRow;
use super::Jobs;

/// A running job's stop switch, shared by the heartbeat, the cancel API and the fit.
#[derive(Default)]
pub(super) struct Control {
    pub(super) cancelled: AtomicBool,
    /// Set when another worker took the job over: stop without writing anything.
    pub(super) lost: AtomicBool,
    pub(super) notify: Notify,
}

impl Control {
    pub(super) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    pub(super) async fn wait(&self) {
        while !self.cancelled.load(Ordering::SeqCst) {
            self.notify.notified().await;
        }
    }
}

/// Hands the fit's events to the async forwarder; reads the stop switch.
pub(super) struct ChannelMonitor {
    tx: mpsc::UnboundedSender<JobEvent>,
    control: Arc<Control>,
}

impl TrainMonitor for ChannelMonitor {
    fn event(&mut self, event: Progress) {
        let _ = self.tx.send(event.into());
    }
    fn cancelled(&self) -> bool {
        self.control.cancelled.load(Ordering::SeqCst)
    }
}

/// What one step of a worker did (zero2prod's `try_execute_task`), so tests can drive the
/// queue one job at a time instead of waiting on a background worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was queued.
    Empty,
    /// A job was claimed and its attempt ran to an end (or was lost to another worker).
    Ran { job: String },
}

impl Jobs {
    /// Starts the workers. With embedded storage this process is the only one, so jobs left
    /// running by a previous process (killed, crashed) go back to the queue first.
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let jobs = self.clone();
        let mut handles = vec![tokio::spawn(async move {
            if jobs.embedded {
                if let Err(e) = jobs.requeue(false).await {
                    tracing::warn!("requeueing interrupted jobs failed: {e}");
                }
            }
            jobs.wake.notify_waiters();
        })];
        for w in 0..self.config.workers {
            let jobs = self.clone();
            let worker = format!("{}-{w}", random_id());
            handles.push(tokio::spawn(async move { jobs.work(worker).await }));
        }
        handles
    }

    async fn work(self: Arc<Self>, worker: String) {
        loop {
            if let Err(e) = self.requeue(true).await {
                tracing::warn!("checking job leases failed: {e}");
            }
            match self.run_next(&worker).await {
                Ok(Outcome::Ran { .. }) => {}
                Ok(Outcome::Empty) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!("claiming a job failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// One step of a worker: claims the oldest queued job under a fresh lease for `worker` and
    /// runs one attempt of it to its end. What the background workers loop on; tests call it
    /// to run a queued job at once (with `--workers 0`, nothing else takes it).
    pub async fn run_next(self: &Arc<Self>, worker: &str) -> Result<Outcome> {
        match self.claim(worker).await? {
            Some(row) => {
                let job = row.uid.clone();
                self.run(row, worker).await;
                Ok(Outcome::Ran { job })
            }
            None => Ok(Outcome::Empty),
        }
    }

    async fn run(self: &Arc<Self>, row: JobRow, worker: &str) {
        let id = row.uid.clone();
        let control = Arc::new(Control::default());
        if let Ok(mut running) = self.running.lock() {
            running.insert(id.clone(), control.clone());
        }
        let heartbeat = tokio::spawn(self.clone().heartbeat(id.clone(), worker.to_owned(), control.clone()));
        let began = Instant::now();
        let outcome = self.attempt(&row, &control).await;
        let kind = row.request().map(|r| r.spec.model.kind.as_str()).unwrap_or("unknown");
        let label = match &outcome {
            Ok(Some(_)) => "succeeded",
            Ok(None) => "cancelled",
            Err(_) => "failed",
        };
        self.metrics.observe_training(kind, label, began.elapsed().as_secs_f64());
        heartbeat.abort();
        if let Ok(mut running) = self.running.lock() {
            running.remove(&id);
        }
        if control.lost.load(Ordering::SeqCst) {
            tracing::warn!(job = id, "lost the lease; another worker has the job");
            return;
        }
        let result = match outcome {
            Ok(Some((model_id, metrics))) => {
                let score = metrics.score();
                let name = metrics.score_name().to_owned();
                let done = self.finish(&id, worker, "succeeded", None, serde_json::to_value(&metrics).ok(), Some(model_id.clone())).await;
                match done {
                    Ok(true) => self.append(&id, JobEvent::Finished { metric: name.clone(), score, model_id }).await.map(|_| ()),
                    other => other.map(|_| ()),
                }
                .and(Ok(format!("ok ({name} {score:.4})")))
            }
            Ok(None) => match self.finish(&id, worker, "cancelled", None, None, None).await {
                Ok(true) => self.append(&id, JobEvent::Cancelled).await.map(|_| "cancelled".to_owned()),
                other => other.map(|_| "cancelled".to_owned()),
            },
            Err(reason) => match self.finish(&id, worker, "failed", Some(reason.clone()), None, None).await {
                Ok(true) => self.append(&id, JobEvent::Failed { reason: reason.clone() }).await.map(|_| format!("failed: {reason}")),
                other => other.map(|_| format!("failed: {reason}")),
            },
        };
        match result {
            Ok(outcome) => {
                let _ = self.audit.record("trainer", "job.run", &id, "-", &outcome).await;
            }
            Err(e) => tracing::error!(job = id, "recording the job's end failed: {e}"),
        }
    }

    /// One attempt: open the data, train on a blocking thread while forwarding its events,
    /// store the model. `Ok(None)` if cancelled; `Err` with the reason a person can act on.
    pub(super) async fn attempt(
        self: &Arc<Self>,
        row: &JobRow,
        control: &Arc<Control>,
    ) -> Result<Option<(String, app::ml::metrics::Metrics)>, String> {
        let id = &row.uid;
        self.append(id, JobEvent::Started { attempt: row.attempts.max(1) as u32 }).await.map_err(|e| e.to_string())?;
        let req = row.request().map_err(|e| e.to_string())?;
        let mut tables = Vec::with_capacity(req.dataset_ids.len());
        for d in &req.dataset_ids {
            if control.cancelled.load(Ordering::SeqCst) {
                return Ok(None);
            }
            // The reason is shown on the job's page: a refusal in its own words, anything else
            // (logged in full) without the internals.
            let table = self.datasets.open_for_training(d, &format!("job {id}")).await.map_err(|e| match ApiError::from(e) {
                ApiError::NotFound => format!("the dataset {d} was deleted before the job ran"),
                ApiError::Validation { fields } => {
                    format!("the dataset {d} cannot be used: {}", fields.into_values().collect::<Vec<_>>().join("; "))
                }
                other => format!("opening the dataset {d} failed: {other}"),
            })?;
            tables.push(table);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(self.clone().forward(id.clone(), rx, control.clone()));
        let spec = req.spec.clone();
        let monitor_control = control.clone();
        let mut fit = tokio::task::spawn_blocking(move || {
            let mut monitor = ChannelMonitor { tx, control: monitor_control };
            let refs: Vec<&Table> = tables.iter().collect();
            let result = train(&refs, &spec, &mut monitor);
            // The quantised model's score for encrypted prediction, on the same rows (docs/he.md).
            let he = result.as_ref().ok().and_then(|t| app::he::quant::quality(t, &refs, app::he::quant::QuantSpec::DEFAULT));
            for t in &mut tables {
                t.wipe();
            }
            result.map(|t| (t, he))
        });
        let (trained, he): (Trained, _) = tokio::select! {
            joined = &mut fit => {
                // The fit ended: let the forwarder write its last events before the final one.
                let _ = forwarder.await;
                match joined {
                    Ok(Ok(t)) => t,
                    Ok(Err(app::ml::MlError::Cancelled)) => return Ok(None),
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(e) => return Err(format!("the training thread failed: {e}")),
                }
            }
            _ = control.wait() => {
                // The fit stops at its next check; the job is cancelled now.
                forwarder.abort();
                return Ok(None);
            }
        };
        if control.cancelled.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let artifact = ModelArtifact {
            format: ARTIFACT_FORMAT.into(),
            version: ARTIFACT_VERSION,
            id: random_id(),
            job_id: id.clone(),
            federation: None,
            kind: req.spec.model.kind,
            target: trained.target.clone(),
            labels: trained.labels.clone(),
            preprocessor: trained.preprocessor.clone(),
            model: trained.model.clone(),
            metrics: trained.metrics.clone(),
            params: trained.params.clone(),
            datasets: req.dataset_ids.clone(),
            rows: trained.rows.clone(),
            privacy: trained.privacy.clone(),
            he,
            created_at: now_rfc3339(),
        };
        let names: Vec<String> = serde_json::from_value(row.dataset_names.clone()).unwrap_or_default();
        let job_title = app::model::job::title(req.spec.model.kind, &names);
        let owner = ModelOwner {
            job_title: &job_title,
            owner_id: &row.owner_id,
            owner: &row.owner,
            domain: &row.domain,
            subdomain: &row.subdomain,
        };
        let info = self.models.store(&artifact, owner).await.map_err(|e| format!("storing the model failed: {e}"))?;
        Ok(Some((info.id, trained.metrics)))
    }
}
