//! A job's history: appending an event (sequence number, persisted, broadcast), replaying it
//! to a late subscriber and then following live, and forwarding a running fit's events.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use app::model::job::{JobEvent, JobEventRecord, JobProgress};
use app::model::ApiError;

use crate::backend::authz::Ctx;
use crate::backend::db::retry_conflicts;
use crate::backend::error::Result;
use crate::backend::events::follow;
use crate::backend::util::now_rfc3339_ms;

use super::rows::{ended, history, EventRow, JobRow};
use super::worker::Control;
use super::Jobs;

/// Step events (a tree, an epoch) are persisted at most once per interval per job, so at most
/// four a second; folds, trials and the end always are.
const STEP_INTERVAL: Duration = Duration::from_millis(250);

impl Jobs {
    /// Appends an event to a job's history and broadcasts it.
    pub(super) async fn append(&self, job: &str, event: JobEvent) -> Result<JobEventRecord> {
        let _guard = self.seq_lock.lock().await;
        let mut r = retry_conflicts(|| async move {
            self.db.query("UPDATE job SET next_seq += 1 WHERE uid = $id RETURN VALUE next_seq").bind(("id", job.to_owned())).await?.check()
        })
        .await?;
        let seq: Option<i64> = r.take(0)?;
        let seq = seq.ok_or(ApiError::NotFound)?;
        let record = JobEventRecord { seq: seq as u64, at: now_rfc3339_ms(), event };
        let row = EventRow { job: job.to_owned(), seq, at: record.at.clone(), event: serde_json::to_value(&record.event)? };
        self.db.query("CREATE job_event CONTENT $row").bind(("row", row)).await.and_then(|r| r.check())?;
        let _ = self.events.send((job.to_owned(), record.clone()));
        Ok(record)
    }

    /// Events after `after`, then live ones until the job's last event; ends when the
    /// receiver is dropped (the client went away).
    pub async fn subscribe(&self, ctx: &Ctx, id: &str, after: u64) -> Result<mpsc::Receiver<JobEventRecord>> {
        self.authorized_row(ctx, id, "job.events", JobRow::read_action).await?;
        let (db, job) = (self.db.clone(), id.to_owned());
        let ended_db = db.clone();
        let ended_job = job.clone();
        Ok(follow(
            self.events.subscribe(),
            job.clone(),
            after,
            move |after| {
                let (db, job) = (db.clone(), job.clone());
                async move { history(&db, &job, after).await }
            },
            move || async move { ended(&ended_db, &ended_job).await },
        ))
    }

    /// A job's whole history (for the job page's first draw and for tests).
    pub async fn history(&self, ctx: &Ctx, id: &str) -> Result<Vec<JobEventRecord>> {
        self.authorized_row(ctx, id, "job.events", JobRow::read_action).await?;
        history(&self.db, id, 0).await
    }

    /// Persists and broadcasts the fit's events (steps throttled) and keeps `progress` current.
    pub(super) async fn forward(self: Arc<Self>, id: String, mut rx: mpsc::UnboundedReceiver<JobEvent>, control: Arc<Control>) {
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
