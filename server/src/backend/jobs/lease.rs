//! The queue's leases: claiming the oldest queued job, renewing the claim by heartbeat,
//! finishing an attempt only while holding it, and returning expired claims to the queue.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use app::model::job::JobEvent;

use crate::backend::db::retry_conflicts;
use crate::backend::error::Result;
use crate::backend::util::{now_ms, now_rfc3339};

use super::rows::JobRow;
use super::worker::Control;
use super::Jobs;

impl Jobs {
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
    pub(super) async fn claim(&self, worker: &str) -> Result<Option<JobRow>> {
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

    pub(super) fn lease_ms(&self) -> i64 {
        (self.config.lease_secs * 1000) as i64
    }

    /// Marks the end of an attempt if this worker still holds the job; false if it does not.
    pub(super) async fn finish(
        &self,
        id: &str,
        worker: &str,
        status: &str,
        error: Option<String>,
        metrics: Option<serde_json::Value>,
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
    pub(super) async fn heartbeat(self: Arc<Self>, id: String, worker: String, control: Arc<Control>) {
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
}
