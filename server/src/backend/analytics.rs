//! The area dashboard (training history, model quality over time, contributions per user,
//! joint jobs) from the job, model and dataset tables, and system health for admins.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Deserialize;
use surrealdb::types::SurrealValue;

use app::model::analytics::{Collaboration, Contribution, Dashboard, DayCount, ModelPoint, SystemHealth};
use app::model::artifact::ModelInfo;

use super::authz::{authorize, Action, Actor};
use super::db::Db;
use super::util::{now_rfc3339, rfc3339};
use crate::backend::error::{Error, Result};

#[derive(Debug, Clone, SurrealValue)]
struct JobLine {
    uid: String,
    owner: String,
    status: String,
    /// The request's `dataset_ids`, read inside the stored request object.
    dataset_ids: Vec<String>,
    created_at: String,
    finished_at: Option<String>,
}

#[derive(Debug, Clone, SurrealValue)]
struct StatusCount {
    status: String,
    n: i64,
}

#[derive(Debug, Clone, SurrealValue)]
struct Total {
    n: i64,
}

#[derive(Debug, Clone, SurrealValue)]
struct DatasetLine {
    uid: String,
    name: String,
    owner: String,
    rows: i64,
}

pub struct Analytics {
    db: Db,
    data_dir: PathBuf,
    workers: u16,
    /// `None` where the platform gives no system figures; health then reports zeros.
    system: Mutex<Option<sysinfo::System>>,
}

impl Analytics {
    pub fn new(db: Db, data_dir: PathBuf, workers: u16) -> Self {
        Analytics { db, data_dir, workers, system: Mutex::new(sysinfo::System::new().ok()) }
    }

    /// The dashboard of the actor's area (admins may name another).
    pub async fn dashboard(&self, actor: &Actor, area: Option<(String, String)>) -> Result<Dashboard> {
        let (domain, subdomain) = area.unwrap_or_else(|| (actor.domain.clone(), actor.subdomain.clone()));
        authorize(actor, Action::ReadAnalytics { domain: &domain, subdomain: &subdomain })?;
        let bind = |q: &'static str| self.db.query(q).bind(("d", domain.clone())).bind(("s", subdomain.clone()));
        let jobs: Vec<JobLine> =
            bind("SELECT uid, owner, status, request.dataset_ids AS dataset_ids, created_at, finished_at FROM job WHERE domain = $d AND subdomain = $s")
                .await
                .and_then(|mut r| r.take(0))?;
        let models: Vec<serde_json::Value> =
            bind("SELECT VALUE summary FROM model WHERE domain = $d AND subdomain = $s ORDER BY created_ms")
                .await
                .and_then(|mut r| r.take(0))?;
        let datasets: Vec<DatasetLine> =
            bind("SELECT uid, name, owner, rows FROM dataset WHERE domain = $d AND subdomain = $s AND status = 'ready'")
                .await
                .and_then(|mut r| r.take(0))?;
        let models: Vec<ModelInfo> = models.iter().filter_map(|s| ModelInfo::deserialize(s).ok()).collect();
        let by_id: HashMap<&str, &DatasetLine> = datasets.iter().map(|d| (d.uid.as_str(), d)).collect();

        let mut days: BTreeMap<(String, String), u64> = BTreeMap::new();
        for j in &jobs {
            let when = j.finished_at.as_deref().unwrap_or(&j.created_at);
            *days.entry((when.chars().take(10).collect(), j.status.clone())).or_default() += 1;
        }
        let history = days.into_iter().map(|((day, status), jobs)| DayCount { day, status, jobs }).collect();

        let points = models
            .iter()
            .map(|m| ModelPoint {
                model_id: m.id.clone(),
                created_at: m.created_at.clone(),
                kind: m.kind.as_str().to_owned(),
                target: m.target.clone(),
                datasets: m
                    .datasets
                    .iter()
                    .map(|d| by_id.get(d.as_str()).map_or_else(|| "(deleted)".to_owned(), |x| x.name.clone()))
                    .collect(),
                owner: m.owner.clone(),
                metric: m.metrics.score_name().to_owned(),
                score: m.metrics.score(),
                epsilon: m.privacy.as_ref().map(|p| p.epsilon),
            })
            .collect();

        let mut people: BTreeMap<String, Contribution> = BTreeMap::new();
        fn person<'a>(people: &'a mut BTreeMap<String, Contribution>, name: &str) -> &'a mut Contribution {
            people.entry(name.to_owned()).or_insert_with(|| Contribution {
                user: name.to_owned(),
                datasets: 0,
                rows: 0,
                jobs: 0,
                models: 0,
            })
        }
        for d in &datasets {
            let c = person(&mut people, &d.owner);
            c.datasets += 1;
            c.rows += d.rows.max(0) as u64;
        }
        for j in &jobs {
            person(&mut people, &j.owner).jobs += 1;
        }
        for m in &models {
            person(&mut people, &m.owner).models += 1;
        }

        let mut collaborations = Vec::new();
        for j in &jobs {
            let owners: Vec<String> = j
                .dataset_ids
                .iter()
                .filter_map(|id| by_id.get(id.as_str()).map(|d| d.owner.clone()))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if owners.len() > 1 {
                let mut participants = owners;
                participants.sort();
                collaborations.push(Collaboration {
                    job_id: j.uid.clone(),
                    created_at: j.created_at.clone(),
                    status: j.status.clone(),
                    started_by: j.owner.clone(),
                    participants,
                });
            }
        }
        collaborations.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(Dashboard { domain, subdomain, history, models: points, contributions: people.into_values().collect(), collaborations })
    }

    /// CPU, memory, the data directory's disk, and the queue (admins only).
    pub async fn health(&self, actor: &Actor) -> Result<SystemHealth> {
        authorize(actor, Action::ReadSystemHealth)?;
        let (cpu_percent, memory_used, memory_total) = {
            let mut guard = self.system.lock().map_err(|_| Error::internal("the system-metrics lock is poisoned"))?;
            match guard.as_mut() {
                Some(sys) => {
                    sys.refresh_cpu_usage();
                    sys.refresh_memory();
                    (f64::from(sys.global_cpu_usage()), sys.used_memory(), sys.total_memory())
                }
                None => (0.0, 0, 0),
            }
        };
        let dir = std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        let (disk_free, disk_total) = match sysinfo::Disks::new_with_refreshed_list() {
            Ok(disks) => disks
                .iter()
                .filter(|d| dir.starts_with(d.mount_point()))
                .max_by_key(|d| d.mount_point().as_os_str().len())
                .map_or((0, 0), |d| (d.available_space(), d.total_space())),
            Err(_) => (0, 0),
        };
        let by_status: Vec<StatusCount> =
            self.db.query("SELECT status, count() AS n FROM job GROUP BY status").await.and_then(|mut r| r.take(0))?;
        let of = |s: &str| by_status.iter().find(|c| c.status == s).map_or(0, |c| c.n.max(0) as u64);
        let recent: Vec<Total> = self
            .db
            .query("SELECT count() AS n FROM job WHERE finished_at > $since GROUP ALL")
            .bind(("since", rfc3339(time::OffsetDateTime::now_utc() - time::Duration::hours(1))))
            .await
            .and_then(|mut r| r.take(0))?;
        Ok(SystemHealth {
            cpu_percent,
            memory_used,
            memory_total,
            disk_free,
            disk_total,
            queued_jobs: of("queued"),
            running_jobs: of("running"),
            workers: self.workers,
            finished_last_hour: recent.first().map_or(0, |c| c.n.max(0) as u64),
            checked_at: now_rfc3339(),
        })
    }
}
