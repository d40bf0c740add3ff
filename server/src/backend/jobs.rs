//! Training jobs (DESIGN §3): requests checked against the datasets' columns and persisted in
//! SurrealDB; workers claim them with a lease they renew by heartbeat; a job whose lease runs
//! out (its worker died) returns to the queue, up to an attempt limit. Every step is a
//! `JobEvent`, persisted with a per-job sequence number and broadcast, so the events stream
//! (server-sent events) can replay what a late subscriber missed and then follow live.
//!
//! Training itself (`app::ml::train`) runs on a blocking thread; the async side forwards its
//! events, renews the lease, and answers a cancel at once: the job is marked cancelled within
//! a second even if the fit needs a moment more to notice and stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use surrealdb::types::SurrealValue;
use tokio::sync::{broadcast, mpsc, Notify};

use app::ml::train::{train, TrainMonitor, Trained};
use app::model::artifact::{ModelArtifact, ARTIFACT_FORMAT, ARTIFACT_VERSION};
use app::model::job::{JobEvent, JobEventRecord, JobInfo, JobProgress, JobRequest, JobStatus};
use app::model::ApiError;
use app::table::Table;

use super::audit::AuditLog;
use super::authz::{Action, Actor};
use super::datasets::Datasets;
use super::db::{retry_conflicts, Db};
use super::models::{ModelOwner, Models};
use super::util::{now_ms, now_rfc3339, now_rfc3339_ms, random_id};
use crate::backend::error::{Error, Result};
use crate::config::JobsConfig;

/// Most datasets one job may combine.
pub const MAX_DATASETS: usize = 20;
/// Step events (a tree, an epoch) are persisted at most once per interval per job, so at most
/// four a second; folds, trials and the end always are.
const STEP_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, SurrealValue)]
struct JobRow {
    uid: String,
    owner_id: String,
    owner: String,
    domain: String,
    subdomain: String,
    request: String,
    dataset_names: String,
    status: String,
    progress: f64,
    attempts: i64,
    lease_owner: Option<String>,
    lease_until: i64,
    cancel_requested: bool,
    metrics: Option<String>,
    error: Option<String>,
    model_id: Option<String>,
    next_seq: i64,
    created_at: String,
    created_ms: i64,
    started_at: Option<String>,
    finished_at: Option<String>,
}

#[derive(Debug, Clone, SurrealValue)]
struct EventRow {
    job: String,
    seq: i64,
    at: String,
    event: String,
}

fn corrupt(what: &str) -> Error {
    Error::internal(format!("the stored job record is unreadable ({what})"))
}

impl JobRow {
    fn read_action(&self) -> Action<'_> {
        Action::ReadJob { owner: &self.owner_id }
    }

    fn info(&self) -> Result<JobInfo> {
        Ok(JobInfo {
            id: self.uid.clone(),
            owner_id: self.owner_id.clone(),
            owner: self.owner.clone(),
            domain: self.domain.clone(),
            subdomain: self.subdomain.clone(),
            request: serde_json::from_str(&self.request).map_err(|_| corrupt("request"))?,
            dataset_names: serde_json::from_str(&self.dataset_names).map_err(|_| corrupt("dataset names"))?,
            status: self.status()?,
            progress: self.progress,
            attempts: self.attempts.max(0) as u32,
            metrics: self.metrics.as_deref().map(serde_json::from_str).transpose().map_err(|_| corrupt("metrics"))?,
            error: self.error.clone(),
            model_id: self.model_id.clone(),
            created_at: self.created_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        })
    }

    fn status(&self) -> Result<JobStatus> {
        JobStatus::parse(&self.status).ok_or_else(|| corrupt("status"))
    }

    fn request(&self) -> Result<JobRequest> {
        serde_json::from_str(&self.request).map_err(|_| corrupt("request"))
    }
}

/// A running job's stop switch, shared by the heartbeat, the cancel API and the fit.
#[derive(Default)]
struct Control {
    cancelled: AtomicBool,
    /// Set when another worker took the job over: stop without writing anything.
    lost: AtomicBool,
    notify: Notify,
}

impl Control {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    async fn wait(&self) {
        while !self.cancelled.load(Ordering::SeqCst) {
            self.notify.notified().await;
        }
    }
}

/// Hands the fit's events to the async forwarder; reads the stop switch.
struct ChannelMonitor {
    tx: mpsc::UnboundedSender<JobEvent>,
    control: Arc<Control>,
}

impl TrainMonitor for ChannelMonitor {
    fn event(&mut self, event: JobEvent) {
        let _ = self.tx.send(event);
    }
    fn cancelled(&self) -> bool {
        self.control.cancelled.load(Ordering::SeqCst)
    }
}

pub struct Jobs {
    db: Db,
    audit: Arc<AuditLog>,
    datasets: Arc<Datasets>,
    models: Arc<Models>,
    metrics: Arc<super::metrics::Metrics>,
    config: JobsConfig,
    /// Embedded storage has one process: at start, every running job is an orphan.
    embedded: bool,
    events: broadcast::Sender<(String, JobEventRecord)>,
    wake: Notify,
    running: Mutex<HashMap<String, Arc<Control>>>,
    /// Serialises sequence numbers and claims within this process.
    seq_lock: tokio::sync::Mutex<()>,
}

impl Jobs {
    pub fn new(
        db: Db,
        audit: Arc<AuditLog>,
        datasets: Arc<Datasets>,
        models: Arc<Models>,
        metrics: Arc<super::metrics::Metrics>,
        config: JobsConfig,
        embedded: bool,
    ) -> Self {
        let (events, _) = broadcast::channel(1024);
        Jobs {
            db,
            audit,
            datasets,
            models,
            metrics,
            config,
            embedded,
            events,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            seq_lock: tokio::sync::Mutex::new(()),
        }
    }

    async fn row(&self, id: &str) -> Result<Option<JobRow>> {
        let mut r = self.db.query("SELECT * OMIT id FROM job WHERE uid = $id LIMIT 1").bind(("id", id.to_owned())).await?;
        Ok(r.take::<Option<JobRow>>(0)?)
    }

    /// The job if the actor may see it; 404 otherwise, so ids cannot be probed.
    async fn authorized_row(&self, actor: &Actor, id: &str, name: &str, action: fn(&JobRow) -> Action<'_>, client: &str) -> Result<JobRow> {
        self.audit.authorized(actor, name, id, client, self.row(id).await?, JobRow::read_action, action).await
    }

    /// Appends an event to a job's history and broadcasts it.
    async fn append(&self, job: &str, event: JobEvent) -> Result<JobEventRecord> {
        let _guard = self.seq_lock.lock().await;
        let mut r = retry_conflicts(|| async move {
            self.db.query("UPDATE job SET next_seq += 1 WHERE uid = $id RETURN VALUE next_seq").bind(("id", job.to_owned())).await?.check()
        })
        .await?;
        let seq: Option<i64> = r.take(0)?;
        let seq = seq.ok_or(ApiError::NotFound)?;
        let record = JobEventRecord { seq: seq as u64, at: now_rfc3339_ms(), event };
        let row = EventRow { job: job.to_owned(), seq, at: record.at.clone(), event: serde_json::to_string(&record.event)? };
        self.db.query("CREATE job_event CONTENT $row").bind(("row", row)).await.and_then(|r| r.check())?;
        let _ = self.events.send((job.to_owned(), record.clone()));
        Ok(record)
    }

    /// Checks a request against the datasets it names and queues it.
    pub async fn submit(&self, actor: &Actor, req: JobRequest, client: &str) -> Result<JobInfo> {
        const ACTION: &str = "job.create";
        match self.plan(actor, &req, client).await {
            Ok(names) => {
                let row = JobRow {
                    uid: random_id(),
                    owner_id: actor.user_id.clone(),
                    owner: actor.username.clone(),
                    domain: actor.domain.clone(),
                    subdomain: actor.subdomain.clone(),
                    request: serde_json::to_string(&req)?,
                    dataset_names: serde_json::to_string(&names)?,
                    status: "queued".into(),
                    progress: 0.0,
                    attempts: 0,
                    lease_owner: None,
                    lease_until: 0,
                    cancel_requested: false,
                    metrics: None,
                    error: None,
                    model_id: None,
                    next_seq: 0,
                    created_at: now_rfc3339(),
                    created_ms: now_ms(),
                    started_at: None,
                    finished_at: None,
                };
                self.db.query("CREATE job CONTENT $row").bind(("row", row.clone())).await.and_then(|r| r.check())?;
                self.append(&row.uid, JobEvent::Queued).await?;
                self.audit.record(&actor.user_id, ACTION, &row.uid, client, "ok").await?;
                self.wake.notify_one();
                row.info()
            }
            Err(e) => self.audit.refuse(&actor.user_id, ACTION, "-", client, e).await,
        }
    }

    /// The datasets' names if the request can run: each readable, ready and in the caller's
    /// area, others' only with their owner's consent, all with the same columns, and the
    /// model spec valid for those columns.
    async fn plan(&self, actor: &Actor, req: &JobRequest, client: &str) -> Result<Vec<String>> {
        let field = |name: &str, message: String| Error::from(ApiError::field(name, message));
        if req.dataset_ids.is_empty() {
            return Err(field("dataset_ids", "choose at least one dataset".into()));
        }
        if req.dataset_ids.len() > MAX_DATASETS {
            return Err(field("dataset_ids", format!("a job may combine at most {MAX_DATASETS} datasets")));
        }
        let mut seen = std::collections::HashSet::new();
        let mut sets = Vec::with_capacity(req.dataset_ids.len());
        for id in &req.dataset_ids {
            if !seen.insert(id) {
                return Err(field("dataset_ids", format!("the dataset {id} is listed twice")));
            }
            let d = match self.datasets.for_job(actor, id, client).await {
                Ok(d) => d,
                Err(Error::Api(ApiError::NotFound)) => {
                    return Err(field("dataset_ids", format!("there is no dataset {id} that you can use")))
                }
                Err(e) => return Err(e),
            };
            if d.domain != actor.domain || d.subdomain != actor.subdomain {
                return Err(field("dataset_ids", format!("“{}” is in {} · {}, not in your area", d.name, d.domain, d.subdomain)));
            }
            if d.owner_id != actor.user_id && d.consent_at.is_none() {
                return Err(field(
                    "dataset_ids",
                    format!("the owner of “{}” has not consented to joint training; ask them to allow it on the dataset's page", d.name),
                ));
            }
            sets.push(d);
        }
        let first = &sets[0];
        if let Some(other) = sets.iter().find(|d| d.schema != first.schema) {
            return Err(field(
                "dataset_ids",
                format!("“{}” has different columns from “{}”; a joint job needs the same columns", other.name, first.name),
            ));
        }
        req.spec.check(&first.schema, sets.len()).map_err(|e| field(&e.field, e.message))?;
        Ok(sets.into_iter().map(|d| d.name).collect())
    }

    pub async fn get(&self, actor: &Actor, id: &str, client: &str) -> Result<JobInfo> {
        self.authorized_row(actor, id, "job.read", JobRow::read_action, client).await?.info()
    }

    /// The caller's jobs, newest first.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<JobInfo>> {
        let mut r = self
            .db
            .query("SELECT * OMIT id FROM job WHERE owner_id = $me ORDER BY created_ms DESC LIMIT 200")
            .bind(("me", actor.user_id.clone()))
            .await?;
        let rows: Vec<JobRow> = r.take(0)?;
        rows.iter().map(JobRow::info).collect()
    }

    /// Stops a job: a queued one at once; a running one is signalled (here, or through the
    /// database for another process's worker), and the answer waits up to a second for it.
    pub async fn cancel(&self, actor: &Actor, id: &str, client: &str) -> Result<JobInfo> {
        const ACTION: &str = "job.cancel";
        let row = self.authorized_row(actor, id, ACTION, |r| Action::CancelJob { owner: &r.owner_id }, client).await?;
        let status = row.status()?;
        if status.is_final() {
            let e = ApiError::Conflict { message: format!("the job has already {}", status.done()), field: None };
            return self.audit.refuse(&actor.user_id, ACTION, id, client, e).await;
        }
        let mut r = retry_conflicts(|| async move {
            self.db
                .query("UPDATE job SET status = 'cancelled', finished_at = $at WHERE uid = $id AND status = 'queued' RETURN AFTER")
                .bind(("id", id.to_owned()))
                .bind(("at", now_rfc3339()))
                .await?
                .check()
        })
        .await?;
        let dequeued: Vec<JobRow> = r.take(0)?;
        if !dequeued.is_empty() {
            self.append(id, JobEvent::Cancelled).await?;
        } else {
            retry_conflicts(|| async move {
                self.db.query("UPDATE job SET cancel_requested = true WHERE uid = $id").bind(("id", id.to_owned())).await?.check()
            })
            .await?;
            let control = self.running.lock().map_err(|_| Error::internal("the running-jobs lock is poisoned"))?.get(id).cloned();
            if let Some(c) = control {
                c.cancel();
            }
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                if self.row(id).await?.is_some_and(|r| r.status().is_ok_and(JobStatus::is_final)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        self.audit.record(&actor.user_id, ACTION, id, client, "ok").await?;
        self.row(id).await?.ok_or(ApiError::NotFound)?.info()
    }

    /// Events after `after`, then live ones until the job's last event; ends when the
    /// receiver is dropped (the client went away).
    pub async fn subscribe(&self, actor: &Actor, id: &str, after: u64, client: &str) -> Result<mpsc::Receiver<JobEventRecord>> {
        self.authorized_row(actor, id, "job.events", JobRow::read_action, client).await?;
        // Subscribe before reading the history, so nothing falls between the two.
        let mut live = self.events.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let db = self.db.clone();
        let job = id.to_owned();
        tokio::spawn(async move {
            let mut last = after;
            let mut replay = match history(&db, &job, last).await {
                Ok(h) => h,
                Err(_) => return,
            };
            // Nothing new and the job has ended (a client resuming after the last event): end
            // the stream instead of holding it open for events that will never come.
            if replay.is_empty() && after > 0 && ended(&db, &job).await {
                return;
            }
            loop {
                for record in replay.drain(..) {
                    last = record.seq;
                    let end = record.event.is_final();
                    if tx.send(record).await.is_err() || end {
                        return;
                    }
                }
                match live.recv().await {
                    Ok((j, record)) if j == job && record.seq > last => replay.push(record),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => match history(&db, &job, last).await {
                        Ok(h) => replay = h,
                        Err(_) => return,
                    },
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(rx)
    }

    /// A job's whole history (for the job page's first draw and for tests).
    pub async fn history(&self, actor: &Actor, id: &str, client: &str) -> Result<Vec<JobEventRecord>> {
        self.authorized_row(actor, id, "job.events", JobRow::read_action, client).await?;
        history(&self.db, id, 0).await
    }

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
            match self.claim(&worker).await {
                Ok(Some(row)) => self.run(row, &worker).await,
                Ok(None) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!("claiming a job failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Returns running jobs to the queue: those whose lease expired (`expired_only`), or all
    /// (at start with embedded storage). A job out of attempts fails instead.
    pub async fn requeue(&self, expired_only: bool) -> Result<usize> {
        let query = if expired_only {
            "SELECT * OMIT id FROM job WHERE status = 'running' AND lease_until < $now"
        } else {
            "SELECT * OMIT id FROM job WHERE status = 'running'"
        };
        let mut r = self.db.query(query).bind(("now", now_ms())).await?;
        let rows: Vec<JobRow> = r.take(0)?;
        let mut n = 0;
        for row in rows {
            let why = if expired_only { "its worker stopped renewing the lease" } else { "the server restarted" };
            let out_of_attempts = row.attempts >= i64::from(self.config.max_attempts);
            let (status, error) = if out_of_attempts || row.cancel_requested {
                let e = if row.cancel_requested { None } else { Some(format!("{why} during attempt {}, the last allowed", row.attempts)) };
                (if row.cancel_requested { "cancelled" } else { "failed" }, e)
            } else {
                ("queued", None)
            };
            let (error_ref, row_ref) = (&error, &row);
            let mut r = retry_conflicts(|| async move {
                self.db
                    .query(
                        "UPDATE job SET status = $status, error = $error, lease_owner = NONE, \
                         finished_at = IF $status = 'queued' THEN NONE ELSE $at END \
                         WHERE uid = $id AND status = 'running' AND lease_owner = $owner RETURN AFTER",
                    )
                    .bind(("status", status.to_owned()))
                    .bind(("error", error_ref.clone()))
                    .bind(("at", now_rfc3339()))
                    .bind(("id", row_ref.uid.clone()))
                    .bind(("owner", row_ref.lease_owner.clone()))
                    .await?
                    .check()
            })
            .await?;
            let moved: Vec<JobRow> = r.take(0)?;
            if moved.is_empty() {
                continue;
            }
            n += 1;
            let event = match (status, error) {
                ("queued", _) => JobEvent::Requeued { reason: format!("{why} during attempt {}", row.attempts) },
                ("cancelled", _) => JobEvent::Cancelled,
                (_, e) => JobEvent::Failed { reason: e.unwrap_or_default() },
            };
            self.append(&row.uid, event).await?;
            tracing::info!(job = row.uid, status, "job recovered from an interrupted attempt");
        }
        if n > 0 {
            self.wake.notify_waiters();
        }
        Ok(n)
    }

    /// Takes the oldest queued job, if any, under a fresh lease.
    async fn claim(&self, worker: &str) -> Result<Option<JobRow>> {
        let _guard = self.seq_lock.lock().await;
        let mut r = self.db.query("SELECT VALUE uid FROM job WHERE status = 'queued' ORDER BY created_ms LIMIT 1").await?;
        let Some(id): Option<String> = r.take(0)? else {
            return Ok(None);
        };
        let id = &id;
        let mut r = retry_conflicts(|| async move {
            self.db
                .query(
                    "UPDATE job SET status = 'running', lease_owner = $w, lease_until = $until, attempts += 1, \
                     started_at = $at, cancel_requested = false WHERE uid = $id AND status = 'queued' RETURN AFTER",
                )
                .bind(("w", worker.to_owned()))
                .bind(("until", now_ms() + self.lease_ms()))
                .bind(("at", now_rfc3339()))
                .bind(("id", id.clone()))
                .await?
                .check()
        })
        .await?;
        Ok(r.take::<Option<JobRow>>(0)?)
    }

    fn lease_ms(&self) -> i64 {
        (self.config.lease_secs * 1000) as i64
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
                let done = self
                    .finish(
                        &id,
                        worker,
                        "succeeded",
                        None,
                        Some(serde_json::to_string(&metrics).unwrap_or_default()),
                        Some(model_id.clone()),
                    )
                    .await;
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

    /// Marks the end of an attempt if this worker still holds the job; false if it does not.
    async fn finish(
        &self,
        id: &str,
        worker: &str,
        status: &str,
        error: Option<String>,
        metrics: Option<String>,
        model_id: Option<String>,
    ) -> Result<bool> {
        let (error, metrics, model_id) = (&error, &metrics, &model_id);
        let mut r = retry_conflicts(|| async move {
            self.db
                .query(
                    "UPDATE job SET status = $status, error = $error, metrics = $metrics, model_id = $model, \
                     progress = IF $status = 'succeeded' THEN 1.0 ELSE progress END, finished_at = $at, lease_owner = NONE \
                     WHERE uid = $id AND status = 'running' AND lease_owner = $w RETURN AFTER",
                )
                .bind(("status", status.to_owned()))
                .bind(("error", error.clone()))
                .bind(("metrics", metrics.clone()))
                .bind(("model", model_id.clone()))
                .bind(("at", now_rfc3339()))
                .bind(("id", id.to_owned()))
                .bind(("w", worker.to_owned()))
                .await?
                .check()
        })
        .await?;
        let rows: Vec<JobRow> = r.take(0)?;
        Ok(!rows.is_empty())
    }

    /// Renews the lease a third of the way through it; notices a cancel requested through the
    /// database (another process's API) and a lease taken over.
    async fn heartbeat(self: Arc<Self>, id: String, worker: String, control: Arc<Control>) {
        let every = Duration::from_millis((self.lease_ms() / 3).max(200) as u64);
        loop {
            tokio::time::sleep(every).await;
            let (this, id, worker) = (&self, &id, &worker);
            let renewed = retry_conflicts(|| async move {
                this.db
                    .query("UPDATE job SET lease_until = $until WHERE uid = $id AND status = 'running' AND lease_owner = $w RETURN AFTER")
                    .bind(("until", now_ms() + this.lease_ms()))
                    .bind(("id", id.clone()))
                    .bind(("w", worker.clone()))
                    .await?
                    .take::<Option<JobRow>>(0)
            })
            .await;
            match renewed {
                Ok(Some(row)) if row.cancel_requested => control.cancel(),
                Ok(Some(_)) => {}
                Ok(None) => {
                    control.lost.store(true, Ordering::SeqCst);
                    control.cancel();
                    return;
                }
                Err(e) => tracing::warn!(job = id, "renewing the lease failed: {e}"),
            }
        }
    }

    /// One attempt: open the data, train on a blocking thread while forwarding its events,
    /// store the model. `Ok(None)` if cancelled; `Err` with the reason a person can act on.
    async fn attempt(
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
            for t in &mut tables {
                t.wipe();
            }
            result
        });
        let trained: Trained = tokio::select! {
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
            kind: req.spec.model.kind,
            target: trained.target.clone(),
            labels: trained.labels.clone(),
            preprocessor: trained.preprocessor.clone(),
            model: trained.model.clone(),
            metrics: trained.metrics.clone(),
            params: trained.params.clone(),
            datasets: req.dataset_ids.clone(),
            rows: trained.rows.clone(),
            created_at: now_rfc3339(),
        };
        let owner = ModelOwner { owner_id: &row.owner_id, owner: &row.owner, domain: &row.domain, subdomain: &row.subdomain };
        let info = self.models.store(&artifact, owner).await.map_err(|e| format!("storing the model failed: {e}"))?;
        Ok(Some((info.id, trained.metrics)))
    }

    /// Persists and broadcasts the fit's events (steps throttled) and keeps `progress` current.
    async fn forward(self: Arc<Self>, id: String, mut rx: mpsc::UnboundedReceiver<JobEvent>, control: Arc<Control>) {
        let mut progress = JobProgress::default();
        let mut last_step: Option<Instant> = None;
        let mut last_saved = 0.0;
        while let Some(event) = rx.recv().await {
            if control.cancelled.load(Ordering::SeqCst) {
                return;
            }
            progress.update(&event);
            // Steps are progress within a fit: at most one per interval reaches the history,
            // the last of a fit included (the fold or trial event after it says it ended).
            if let JobEvent::Step { .. } = &event {
                if last_step.is_some_and(|t| t.elapsed() < STEP_INTERVAL) {
                    continue;
                }
                last_step = Some(Instant::now());
            }
            if let Err(e) = self.append(&id, event).await {
                tracing::warn!(job = id, "recording a job event failed: {e}");
            }
            let p = progress.fraction();
            if p > last_saved {
                last_saved = p;
                let _ = self.db.query("UPDATE job SET progress = $p WHERE uid = $id").bind(("p", p)).bind(("id", id.clone())).await;
            }
        }
    }
}

/// Whether the job has reached a final status.
async fn ended(db: &Db, job: &str) -> bool {
    let r = db.query("SELECT VALUE status FROM job WHERE uid = $id").bind(("id", job.to_owned())).await;
    match r.and_then(|mut r| r.take::<Option<String>>(0)) {
        Ok(Some(s)) => JobStatus::parse(&s).is_none_or(JobStatus::is_final),
        _ => true,
    }
}

async fn history(db: &Db, job: &str, after: u64) -> Result<Vec<JobEventRecord>> {
    let mut r = db
        .query("SELECT * OMIT id FROM job_event WHERE job = $job AND seq > $after ORDER BY seq")
        .bind(("job", job.to_owned()))
        .bind(("after", after as i64))
        .await?;
    let rows: Vec<EventRow> = r.take(0)?;
    rows.into_iter()
        .map(|e| {
            Ok(JobEventRecord { seq: e.seq.max(0) as u64, at: e.at, event: serde_json::from_str(&e.event).map_err(|_| corrupt("event"))? })
        })
        .collect()
}
