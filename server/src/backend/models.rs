//! Trained models at rest: the artifact (JSON) sealed in the dataset envelope format under a
//! fresh data key, stored at `models/{id}`, the key wrapped to the trainer; the database holds
//! what lists and authorisation need. The model registry (prediction, download) builds on this.

use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use surrealdb::types::SurrealValue;

use app::crypto::envelope::{self, Header, DEFAULT_CHUNK_SIZE};
use app::crypto::{dataset_id_bytes, wrap, DataKey, Recipient, WrappedKey};
use app::model::artifact::{ModelArtifact, ModelInfo};
use app::model::ApiError;

use super::db::Db;
use super::keys::TrainerKeys;
use super::util::{db_error, now_unix};

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
    summary: String,
    wrapped_key: String,
    size: i64,
    created_at: String,
    created_unix: i64,
}

pub fn model_path(id: &str) -> StorePath {
    StorePath::from(format!("models/{id}"))
}

/// Who a model belongs to: the job's owner and area.
pub struct ModelOwner<'a> {
    pub owner_id: &'a str,
    pub owner: &'a str,
    pub domain: &'a str,
    pub subdomain: &'a str,
}

pub struct Models {
    db: Db,
    store: Arc<dyn ObjectStore>,
    trainer: Arc<TrainerKeys>,
}

fn internal(message: impl std::fmt::Display) -> ApiError {
    ApiError::Internal { message: message.to_string() }
}

impl Models {
    pub fn new(db: Db, store: Arc<dyn ObjectStore>, trainer: Arc<TrainerKeys>) -> Self {
        Models { db, store, trainer }
    }

    /// Seals and stores the artifact, then records it. The object is written first, so a
    /// record never points at nothing; a failed record write removes the object.
    pub async fn store(&self, artifact: &ModelArtifact, owner: ModelOwner<'_>) -> Result<ModelInfo, ApiError> {
        let id_bytes = dataset_id_bytes(&artifact.id).map_err(internal)?;
        let key = DataKey::generate().map_err(internal)?;
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(artifact).map_err(internal)?);
        let sealed = envelope::seal(&key, Header::new(id_bytes, DEFAULT_CHUNK_SIZE).map_err(internal)?, &plain).map_err(internal)?;
        let wrapped = wrap::wrap(&key, self.trainer.pair().public(), &id_bytes, Recipient::Trainer).map_err(internal)?;
        let info = ModelInfo {
            id: artifact.id.clone(),
            job_id: artifact.job_id.clone(),
            kind: artifact.kind,
            target: artifact.target.clone(),
            features: artifact.preprocessor.columns().map(str::to_owned).collect(),
            labels: artifact.labels.clone(),
            metrics: artifact.metrics.clone(),
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
            summary: serde_json::to_string(&info).map_err(internal)?,
            wrapped_key: serde_json::to_string(&wrapped).map_err(internal)?,
            size,
            created_at: info.created_at.clone(),
            created_unix: now_unix(),
        };
        let created = self.db.query("CREATE model CONTENT $row").bind(("row", row)).await.and_then(|r| r.check());
        if let Err(e) = created {
            let _ = self.store.delete(&path).await;
            return Err(db_error(e));
        }
        Ok(info)
    }

    async fn row(&self, id: &str) -> Result<Option<ModelRow>, ApiError> {
        let mut r = self.db.query("SELECT * OMIT id FROM model WHERE uid = $id LIMIT 1").bind(("id", id.to_owned())).await.map_err(db_error)?;
        r.take::<Option<ModelRow>>(0).map_err(db_error)
    }

    pub async fn info(&self, id: &str) -> Result<ModelInfo, ApiError> {
        let row = self.row(id).await?.ok_or(ApiError::NotFound)?;
        serde_json::from_str(&row.summary).map_err(|_| internal("the stored model record is unreadable"))
    }

    /// Opens a stored model with the trainer's key (the registry's predictions use this).
    pub async fn load(&self, id: &str) -> Result<ModelArtifact, ApiError> {
        let row = self.row(id).await?.ok_or(ApiError::NotFound)?;
        let wrapped: WrappedKey = serde_json::from_str(&row.wrapped_key).map_err(|_| internal("the model's key record is unreadable"))?;
        let id_bytes = dataset_id_bytes(id).map_err(internal)?;
        let key = wrap::unwrap(&wrapped, self.trainer.pair(), &id_bytes).map_err(internal)?;
        let sealed = self.store.get(&model_path(id)).await.map_err(|e| internal(format!("reading the model failed: {e}")))?;
        let bytes = sealed.bytes().await.map_err(|e| internal(format!("reading the model failed: {e}")))?;
        let plain = envelope::open(&key, &id_bytes, &bytes).map_err(|e| internal(format!("the stored model could not be opened: {e}")))?;
        serde_json::from_slice(&plain).map_err(|e| internal(format!("the stored model is unreadable: {e}")))
    }
}
