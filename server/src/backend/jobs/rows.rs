//! The job and event records as SurrealDB holds them, and reading them back.

use serde::Deserialize;
use surrealdb::types::SurrealValue;

use app::model::job::{JobEventRecord, JobInfo, JobRequest, JobStatus};

use crate::backend::authz::Action;
use crate::backend::db::Db;
use crate::backend::error::{Error, Result};

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct JobRow {
    pub(super) uid: String,
    pub(super) owner_id: String,
    pub(super) owner: String,
    pub(super) domain: String,
    pub(super) subdomain: String,
    pub(super) request: serde_json::Value,
    pub(super) dataset_names: serde_json::Value,
    pub(super) status: String,
    pub(super) progress: f64,
    pub(super) attempts: i64,
    pub(super) lease_owner: Option<String>,
    pub(super) lease_until: i64,
    pub(super) cancel_requested: bool,
    pub(super) metrics: Option<serde_json::Value>,
    pub(super) error: Option<String>,
    pub(super) model_id: Option<String>,
    pub(super) next_seq: i64,
    pub(super) created_at: String,
    pub(super) created_ms: i64,
    pub(super) started_at: Option<String>,
    pub(super) finished_at: Option<String>,
}

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct EventRow {
    pub(super) job: String,
    pub(super) seq: i64,
    pub(super) at: String,
    pub(super) event: serde_json::Value,
}

pub(super) fn corrupt(what: &str) -> Error {
    Error::internal(format!("the stored job record is unreadable ({what})"))
}

impl JobRow {
    pub(super) fn read_action(&self) -> Action<'_> {
        Action::ReadJob { owner: &self.owner_id }
    }

    pub(super) fn info(&self) -> Result<JobInfo> {
        Ok(JobInfo {
            id: self.uid.clone(),
            owner_id: self.owner_id.clone(),
            owner: self.owner.clone(),
            domain: self.domain.clone(),
            subdomain: self.subdomain.clone(),
            request: self.request()?,
            dataset_names: Deserialize::deserialize(&self.dataset_names).map_err(|_| corrupt("dataset names"))?,
            status: self.status()?,
            progress: self.progress,
            attempts: self.attempts.max(0) as u32,
            metrics: self.metrics.as_ref().map(Deserialize::deserialize).transpose().map_err(|_| corrupt("metrics"))?,
            error: self.error.clone(),
            model_id: self.model_id.clone(),
            created_at: self.created_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        })
    }

    pub(super) fn status(&self) -> Result<JobStatus> {
        JobStatus::parse(&self.status).ok_or_else(|| corrupt("status"))
    }

    pub(super) fn request(&self) -> Result<JobRequest> {
        JobRequest::deserialize(&self.request).map_err(|_| corrupt("request"))
    }
}

/// Whether the job has reached a final status.
pub(super) async fn ended(db: &Db, job: &str) -> bool {
    let r = db.query("SELECT VALUE status FROM job WHERE uid = $id").bind(("id", job.to_owned())).await;
    match r.and_then(|mut r| r.take::<Option<String>>(0)) {
        Ok(Some(s)) => JobStatus::parse(&s).is_none_or(JobStatus::is_final),
        _ => true,
    }
}

pub(super) async fn history(db: &Db, job: &str, after: u64) -> Result<Vec<JobEventRecord>> {
    let mut r = db
        .query("SELECT * OMIT id FROM job_event WHERE job = $job AND seq > $after ORDER BY seq")
        .bind(("job", job.to_owned()))
        .bind(("after", after as i64))
        .await?;
    let rows: Vec<EventRow> = r.take(0)?;
    rows.into_iter()
        .map(|e| {
            Ok(JobEventRecord {
                seq: e.seq.max(0) as u64,
                at: e.at,
                event: Deserialize::deserialize(&e.event).map_err(|_| corrupt("event"))?,
            })
        })
        .collect()
}
