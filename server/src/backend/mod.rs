//! The server's side of every operation: database, object store, and on them
//! auth, datasets, jobs and audit. Routes and server functions hold a `Backend` and call it.

pub mod analytics;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod datasets;
pub mod db;
pub mod error;
pub mod events;
pub mod federations;
pub mod he;
pub mod jobs;
pub mod keyfile;
pub mod keys;
pub mod metrics;
pub mod models;
pub mod schema;
pub mod store;
pub mod timing;
pub mod util;

use std::sync::Arc;

use app::model::{ComponentStatus, HealthReport};
use object_store::ObjectStore;

use crate::config::Config;
use crate::error::ServerError;

#[derive(Clone)]
pub struct Backend {
    pub db: db::Db,
    pub store: Arc<dyn ObjectStore>,
    pub audit: Arc<audit::AuditLog>,
    pub auth: Arc<auth::Auth>,
    pub trainer_keys: Arc<keys::TrainerKeys>,
    pub datasets: Arc<datasets::Datasets>,
    pub models: Arc<models::Models>,
    pub jobs: Arc<jobs::Jobs>,
    pub metrics: Arc<metrics::Metrics>,
    pub analytics: Arc<analytics::Analytics>,
    pub federations: Arc<federations::Federations>,
}

impl Backend {
    /// Prepares the data directory, connects the database and opens the object store.
    pub async fn open(config: &Config) -> Result<Self, ServerError> {
        prepare_data_dir(&config.data_dir)?;
        let db = db::connect(&config.database).await?;
        schema::apply(&db).await?;
        let store = store::open(&config.object_store)?;
        let keys = auth::tokens::TokenKeys::load(&config.data_dir, config.jwt_secret.as_deref())?;
        let audit = Arc::new(audit::AuditLog::new(db.clone()));
        let auth = Arc::new(auth::Auth::new(db.clone(), keys, audit.clone(), config.admin.clone(), config.login_limits));
        let trainer_keys = Arc::new(keys::TrainerKeys::load(&config.data_dir, config.trainer_key.as_deref())?);
        let datasets =
            Arc::new(datasets::Datasets::new(db.clone(), store.clone(), audit.clone(), trainer_keys.clone(), config.max_dataset_bytes));
        let models = Arc::new(models::Models::new(db.clone(), store.clone(), trainer_keys.clone(), audit.clone()));
        let embedded = !matches!(config.database, crate::config::DatabaseUrl::Remote(..));
        let metrics =
            Arc::new(metrics::Metrics::new(config.metrics_token.as_deref()).map_err(|e| ServerError::Config(format!("metrics: {e}")))?);
        let jobs =
            Arc::new(jobs::Jobs::new(db.clone(), audit.clone(), datasets.clone(), models.clone(), metrics.clone(), config.jobs, embedded));
        let analytics = Arc::new(analytics::Analytics::new(db.clone(), config.data_dir.clone(), config.jobs.workers));
        if embedded {
            recover_interrupted_uploads(config, &datasets).await;
        }
        let federations = Arc::new(federations::Federations::new(db.clone(), audit.clone(), models.clone()));
        Ok(Backend { db, store, audit, auth, trainer_keys, datasets, models, jobs, metrics, analytics, federations })
    }

    /// Checks each part with a real round trip, not just "is the handle there".
    pub async fn health(&self) -> HealthReport {
        let (db, store) = tokio::join!(db::check(&self.db), store::check(self.store.as_ref()));
        HealthReport::new(to_status(db), to_status(store))
    }
}

/// With embedded storage this process is the only one: an upload a crash broke off goes back
/// to `pending` (its owner may send it again), and the staging files a killed local upload
/// left are removed. Failures are logged, not fatal: the sweeper retries the records later.
async fn recover_interrupted_uploads(config: &Config, datasets: &datasets::Datasets) {
    match datasets.recover_interrupted_uploads().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("{n} uploads broken off by a restart are pending again"),
        Err(e) => tracing::warn!("recovering interrupted uploads failed: {e}"),
    }
    if let crate::config::ObjectStoreUrl::Local(dir) = &config.object_store {
        match store::remove_staged_uploads(dir) {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} partial objects left by interrupted uploads"),
            Err(e) => tracing::warn!("removing partial objects under {} failed: {e}", dir.display()),
        }
    }
}

fn to_status(r: Result<(), ServerError>) -> ComponentStatus {
    match r {
        Ok(()) => ComponentStatus::Ok,
        Err(e) => ComponentStatus::Failed(e.to_string()),
    }
}

/// Creates the data directory and proves it is writable, so that a mistake shows at start
/// with the directory named, not later as an obscure database error.
pub fn prepare_data_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    let fail = |e: std::io::Error| ServerError::DataDir { path: dir.to_path_buf(), reason: e.to_string() };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}
