//! The analytics dashboard of an area (domain · subdomain), and system health for admins.

use serde::{Deserialize, Serialize};

/// Jobs that ended (or were created, for queued and running ones) on one day, by status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub status: String,
    pub jobs: u64,
}

/// One model version's main metric, for "quality over time" and the performance table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPoint {
    pub model_id: String,
    pub created_at: String,
    pub kind: String,
    pub target: String,
    pub datasets: Vec<String>,
    pub owner: String,
    /// `accuracy` or `r2`.
    pub metric: String,
    pub score: f64,
    /// ε spent by its training under differential privacy; absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// What one person brought to the area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub user: String,
    pub datasets: u64,
    pub rows: u64,
    pub jobs: u64,
    pub models: u64,
}

/// A job that trained on more than one owner's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collaboration {
    pub job_id: String,
    pub created_at: String,
    pub status: String,
    pub started_by: String,
    pub participants: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub domain: String,
    pub subdomain: String,
    pub history: Vec<DayCount>,
    pub models: Vec<ModelPoint>,
    pub contributions: Vec<Contribution>,
    pub collaborations: Vec<Collaboration>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemHealth {
    pub cpu_percent: f64,
    pub memory_used: u64,
    pub memory_total: u64,
    /// Of the file system holding the data directory.
    pub disk_free: u64,
    pub disk_total: u64,
    pub queued_jobs: u64,
    pub running_jobs: u64,
    pub workers: u16,
    /// Jobs that ended in the last hour.
    pub finished_last_hour: u64,
    pub checked_at: String,
}
