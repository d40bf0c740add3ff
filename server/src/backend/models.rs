//! Trained models at rest: the artifact (JSON) sealed in the dataset envelope format under a
//! fresh data key, stored at `models/{id}`, the key wrapped to the trainer; the database holds
//! what lists and authorisation need. The model registry (prediction, download) builds on this.

use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Deserialize;
use surrealdb::types::SurrealValue;

use app::crypto::envelope::{self, Header, DEFAULT_CHUNK_SIZE};
use app::crypto::{dataset_id_bytes, wrap, DataKey, Recipient, WrappedKey};
use app::model::artifact::{ModelArtifact, ModelInfo, Prediction};
use app::model::ApiError;

use super::audit::AuditLog;
use super::authz::{Action, Actor, Ctx};
use super::db::Db;
use super::keys::TrainerKeys;
use super::timing::Stopwatch;
use super::util::now_ms;
use crate::backend::error::{Error, Result};

#[derive(Debug, Clone, SurrealValue)]
struct ModelRow {
    uid: String,
    job_id: String,
    owner_id: String,
    owner: String,
    domain: String,
    subdomain: String,
    kind: String,
    target: String,
    summary: serde_json::Value,
    wrapped_key: serde_json::Value,
    size: i64,
    created_at: String,
    created_ms: i64,
}

pub fn model_path(id: &str) -> StorePath {
    StorePath::from(format!("models/{id}"))
}

/// Who a model belongs to: the job's owner and area.
pub struct ModelOwner<'a> {
    /// The training job's title (empty for a federation).
    pub job_title: &'a str,
    pub owner_id: &'a str,
    pub owner: &'a str,
    pub domain: &'a str,
    pub subdomain: &'a str,
}

pub struct Models {
    db: Db,
    store: Arc<dyn ObjectStore>,
    trainer: Arc<TrainerKeys>,
    audit: Arc<AuditLog>,
    /// Opened artifacts by model id: a prediction would otherwise fetch, unwrap, decrypt and
    /// parse the artifact on every request. Artifacts never change; deletion evicts.
    opened: quick_cache::sync::Cache<String, Arc<ModelArtifact>>,
}

/// Opened artifacts kept in memory; a forest of 100 trees is about a megabyte.
const OPENED_CAPACITY: usize = 32;

/// `GET /api/models` filters; all optional.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ModelFilter {
    pub dataset: Option<String>,
    pub kind: Option<String>,
    pub domain: Option<String>,
}

fn internal(message: impl std::fmt::Display) -> Error {
    Error::internal(message.to_string())
}

impl Models {
    pub fn new(db: Db, store: Arc<dyn ObjectStore>, trainer: Arc<TrainerKeys>, audit: Arc<AuditLog>) -> Self {
        Models { db, store, trainer, audit, opened: quick_cache::sync::Cache::new(OPENED_CAPACITY) }
    }

    /// Seals and stores the artifact, then records it. The object is written first, so a
    /// record never points at nothing; a failed record write removes the object.
    pub async fn store(&self, artifact: &ModelArtifact, owner: ModelOwner<'_>) -> Result<ModelInfo> {
        let id_bytes = dataset_id_bytes(&artifact.id).map_err(internal)?;
        let key = DataKey::generate().map_err(internal)?;
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(artifact).map_err(internal)?);
        let sealed = envelope::seal(&key, Header::new(id_bytes, DEFAULT_CHUNK_SIZE).map_err(internal)?, &plain).map_err(internal)?;
        let wrapped = wrap::wrap(&key, self.trainer.pair().public(), &id_bytes, Recipient::Trainer).map_err(internal)?;
        let info = ModelInfo {
            id: artifact.id.clone(),
            task: artifact.task_key(),
            best: false,
            job_id: artifact.job_id.clone(),
            job_title: owner.job_title.to_owned(),
            federation: artifact.federation.clone(),
            kind: artifact.kind,
            target: artifact.target.clone(),
            features: artifact.preprocessor.columns().map(str::to_owned).collect(),
            inputs: artifact.inputs(),
            labels: artifact.labels.clone(),
            metrics: artifact.metrics.clone(),
            privacy: artifact.privacy.clone(),
            datasets: artifact.datasets.clone(),
            owner_id: owner.owner_id.to_owned(),
            owner: owner.owner.to_owned(),
            domain: owner.domain.to_owned(),
            subdomain: owner.subdomain.to_owned(),
            created_at: artifact.created_at.clone(),
        };
        let size = sealed.len() as i64;
        let path = model_path(&artifact.id);
        self.store.put(&path, PutPayload::from(sealed)).await.map_err(|e| internal(format!("storing the model failed: {e}")))?;
        let row = ModelRow {
            uid: info.id.clone(),
            job_id: info.job_id.clone(),
            owner_id: info.owner_id.clone(),
            owner: info.owner.clone(),
            domain: info.domain.clone(),
            subdomain: info.subdomain.clone(),
            kind: info.kind.as_str().to_owned(),
            target: info.target.clone(),
            summary: serde_json::to_value(&info).map_err(internal)?,
            wrapped_key: serde_json::to_value(&wrapped).map_err(internal)?,
            size,
            created_at: info.created_at.clone(),
            created_ms: now_ms(),
        };
        let created = self.db.query("CREATE model CONTENT $row").bind(("row", row)).await.and_then(|r| r.check());
        if let Err(e) = created {
            let _ = self.store.delete(&path).await;
            return Err(e.into());
        }
        Ok(info)
    }

    async fn row(&self, id: &str) -> Result<Option<ModelRow>> {
        let mut r = self.db.query("SELECT * OMIT id FROM model WHERE uid = $id LIMIT 1").bind(("id", id.to_owned())).await?;
        Ok(r.take::<Option<ModelRow>>(0)?)
    }

    fn summary(row: &ModelRow) -> Result<ModelInfo> {
        ModelInfo::deserialize(&row.summary).map_err(|_| internal("the stored model record is unreadable"))
    }

    /// The row if the actor may do `action` to it; 404 for someone who may not even see it.
    async fn authorized_row(&self, ctx: &Ctx, id: &str, name: &str, action: fn(&ModelRow) -> Action<'_>) -> Result<ModelRow> {
        self.audit.authorized(ctx, name, id, self.row(id).await?, Self::read_action, action).await
    }

    fn read_action(row: &ModelRow) -> Action<'_> {
        Action::ReadModel { owner: &row.owner_id, domain: &row.domain, subdomain: &row.subdomain }
    }

    /// Models the actor may see (own and their area's; admins all), newest first, each
    /// version marked `best` if it has the top main metric of its task.
    pub async fn list(&self, actor: &Actor, filter: &ModelFilter) -> Result<Vec<ModelInfo>> {
        let mut r = self
            .db
            .query(
                "SELECT * OMIT id FROM model WHERE $admin OR owner_id = $me OR (domain = $d AND subdomain = $s) \
                 ORDER BY created_ms DESC, uid",
            )
            .bind(("admin", actor.is_admin()))
            .bind(("me", actor.user_id.clone()))
            .bind(("d", actor.domain.clone()))
            .bind(("s", actor.subdomain.clone()))
            .await?;
        let rows: Vec<ModelRow> = r.take(0)?;
        let mut out: Vec<ModelInfo> = rows
            .iter()
            .map(Self::summary)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|m| filter.dataset.as_ref().is_none_or(|d| m.datasets.contains(d)))
            .filter(|m| filter.kind.as_ref().is_none_or(|k| m.kind.as_str() == k))
            .filter(|m| filter.domain.as_ref().is_none_or(|d| &m.domain == d))
            .collect();
        let mut best: std::collections::HashMap<String, (f64, String)> = std::collections::HashMap::new();
        for m in &out {
            let score = m.metrics.score();
            let entry = best.entry(m.task.clone()).or_insert((f64::MIN, String::new()));
            if score > entry.0 {
                *entry = (score, m.id.clone());
            }
        }
        for m in &mut out {
            m.best = best.get(&m.task).is_some_and(|(_, id)| *id == m.id);
        }
        Ok(out)
    }

    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<ModelInfo> {
        let row = self.authorized_row(ctx, id, "model.read", Self::read_action).await?;
        Self::summary(&row)
    }

    /// Predictions for rows given as `{feature: value}` objects, checked against the feature
    /// schema first (422 naming the row and field), with the time each step took. The model
    /// runs off the async threads: 10,000 rows of a large forest take long enough to stall
    /// every other request on a worker thread.
    pub async fn predict(
        &self,
        ctx: &Ctx,
        id: &str,
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<(Vec<Prediction>, Stopwatch)> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "model.predict";
        let mut watch = Stopwatch::default();
        let row = self.authorized_row(ctx, id, ACTION, Self::read_action).await?;
        watch.lap("authz");
        let artifact = self.opened(&row).await?;
        watch.lap("open");
        let done = tokio::task::spawn_blocking(move || artifact.predict_rows(&rows))
            .await
            .map_err(|e| Error::internal(format!("the prediction thread failed: {e}")))?;
        match done {
            Ok(p) => {
                watch.lap("model");
                self.audit.record(&actor.user_id, ACTION, id, client, &format!("ok ({} rows)", p.len())).await?;
                watch.lap("audit");
                Ok((p, watch))
            }
            Err(e) => self.audit.refuse(&actor.user_id, ACTION, id, client, e).await,
        }
    }

    /// What a client needs to encrypt rows for the model (docs/he.md), for whoever may predict.
    pub async fn he_offer(&self, ctx: &Ctx, id: &str) -> Result<app::he::HeOffer> {
        let row = self.authorized_row(ctx, id, "model.he_offer", Self::read_action).await?;
        let artifact = self.opened(&row).await?;
        Ok(super::he::offer(&artifact)?)
    }

    /// Scores encrypted rows (docs/he.md) off the async threads; the audit log gets the row
    /// count, never the body.
    pub async fn predict_encrypted(&self, ctx: &Ctx, id: &str, body: bytes::Bytes) -> Result<Vec<u8>> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "model.predict_encrypted";
        let row = self.authorized_row(ctx, id, ACTION, Self::read_action).await?;
        let artifact = self.opened(&row).await?;
        let done = tokio::task::spawn_blocking(move || super::he::predict(&artifact, &body))
            .await
            .map_err(|e| Error::internal(format!("the evaluation thread failed: {e}")))?;
        match done {
            Ok((answer, rows)) => {
                self.audit.record(&actor.user_id, ACTION, id, client, &format!("ok ({rows} rows)")).await?;
                Ok(answer)
            }
            Err(e) => self.audit.refuse(&actor.user_id, ACTION, id, client, e).await,
        }
    }

    /// The artifact as JSON (docs/model-format.md), for the owner and admins.
    pub async fn artifact(&self, ctx: &Ctx, id: &str) -> Result<Arc<ModelArtifact>> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "model.download";
        let row = self.authorized_row(ctx, id, ACTION, |r| Action::DownloadModel { owner: &r.owner_id }).await?;
        let a = self.opened(&row).await?;
        self.audit.record(&actor.user_id, ACTION, id, client, "ok").await?;
        Ok(a)
    }

    pub async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "model.delete";
        self.authorized_row(ctx, id, ACTION, |r| Action::DeleteModel { owner: &r.owner_id }).await?;
        self.db.query("DELETE model WHERE uid = $id").bind(("id", id.to_owned())).await.and_then(|r| r.check())?;
        self.opened.remove(id);
        match self.store.delete(&model_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(model = id, "the model's object could not be deleted: {e}"),
        }
        self.audit.record(&actor.user_id, ACTION, id, client, "ok").await
    }

    /// Opens a stored model with the trainer's key.
    pub async fn load(&self, id: &str) -> Result<Arc<ModelArtifact>> {
        let row = self.row(id).await?.ok_or(ApiError::NotFound)?;
        self.opened(&row).await
    }

    /// The artifact of `row`, from memory when it was opened before.
    async fn opened(&self, row: &ModelRow) -> Result<Arc<ModelArtifact>> {
        if let Some(a) = self.opened.get(&row.uid) {
            return Ok(a);
        }
        let a = Arc::new(self.open(row).await?);
        self.opened.insert(row.uid.clone(), a.clone());
        Ok(a)
    }

    async fn open(&self, row: &ModelRow) -> Result<ModelArtifact> {
        let id = row.uid.as_str();
        let wrapped = WrappedKey::deserialize(&row.wrapped_key).map_err(|_| internal("the model's key record is unreadable"))?;
        let id_bytes = dataset_id_bytes(id).map_err(internal)?;
        let key = wrap::unwrap(&wrapped, self.trainer.pair(), &id_bytes).map_err(internal)?;
        let sealed = self.store.get(&model_path(id)).await.map_err(|e| internal(format!("reading the model failed: {e}")))?;
        let bytes = sealed.bytes().await.map_err(|e| internal(format!("reading the model failed: {e}")))?;
        let plain = envelope::open(&key, &id_bytes, &bytes).map_err(|e| internal(format!("the stored model could not be opened: {e}")))?;
        Ok(serde_json::from_slice(&plain)?)
    }
}
