//! Training jobs (DESIGN §3): requests checked against the datasets' columns and persisted in
//! SurrealDB; workers claim them with a lease they renew by heartbeat; a job whose lease runs
//! out (its worker died) returns to the queue, up to an attempt limit. Every step is a
//! `JobEvent`, persisted with a per-job sequence number and broadcast, so the events stream
//! (server-sent events) can replay what a late subscriber missed and then follow live.
//!
//! Training itself (`app::ml::train`) runs on a blocking thread; the async side forwards its
//! events, renews the lease, and answers a cancel at once: the job is marked cancelled within
//! a second even if the fit needs a moment more to notice and stop.

//!
//! Here: the operations people call (submit, read, list, cancel); `rows` (the records),
//! `events` (history and the live stream), `lease` (claims, heartbeats, requeueing) and
//! `worker` (running an attempt).

mod events;
mod lease;
mod rows;
mod worker;

pub use worker::Outcome;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};

use app::model::job::{JobEvent, JobEventRecord, JobInfo, JobRequest, JobStatus};
use app::model::ApiError;

use crate::backend::audit::AuditLog;
use crate::backend::authz::{Action, Actor, Ctx};
use crate::backend::datasets::Datasets;
use crate::backend::db::{retry_conflicts, Db};
use crate::backend::error::{Error, Result};
use crate::backend::models::Models;
use crate::backend::util::{now_ms, now_rfc3339, random_id};
use crate::config::JobsConfig;

use rows::JobRow;
use worker::Control;

/// Most datasets one job may combine.
pub const MAX_DATASETS: usize = 20;

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
    async fn authorized_row(&self, ctx: &Ctx, id: &str, name: &str, action: fn(&JobRow) -> Action<'_>) -> Result<JobRow> {
        self.audit.authorized(ctx, name, id, self.row(id).await?, JobRow::read_action, action).await
    }

    /// Checks a request against the datasets it names and queues it.
    pub async fn submit(&self, ctx: &Ctx, req: JobRequest) -> Result<JobInfo> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "job.create";
        match self.plan(ctx, &req).await {
            Ok(names) => {
                let row = JobRow {
                    uid: random_id(),
                    owner_id: actor.user_id.clone(),
                    owner: actor.username.clone(),
                    domain: actor.domain.clone(),
                    subdomain: actor.subdomain.clone(),
                    request: serde_json::to_value(&req)?,
                    dataset_names: serde_json::to_value(&names)?,
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
    async fn plan(&self, ctx: &Ctx, req: &JobRequest) -> Result<Vec<String>> {
        let actor = &ctx.actor;
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
            let d = match self.datasets.for_job(ctx, id).await {
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
        req.spec.check_rows(first.rows as usize).map_err(|e| field(&e.field, e.message))?;
        Ok(sets.into_iter().map(|d| d.name).collect())
    }

    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<JobInfo> {
        self.authorized_row(ctx, id, "job.read", JobRow::read_action).await?.info()
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
    pub async fn cancel(&self, ctx: &Ctx, id: &str) -> Result<JobInfo> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "job.cancel";
        let row = self.authorized_row(ctx, id, ACTION, |r| Action::CancelJob { owner: &r.owner_id }).await?;
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
}
