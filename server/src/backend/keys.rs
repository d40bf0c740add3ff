//! The trainer's X25519 key pair (what data keys are wrapped to) and owners' public keys with
//! their passphrase-sealed secrets (kept here so any of the owner's browsers can fetch them).

use std::path::Path;

use app::crypto::{b64, key_id, unb64, KeyPair};
use app::model::dataset::{OwnerKey, TrainerKey};
use app::model::ApiError;
use surrealdb::types::SurrealValue;

use super::db::Db;
use super::util::now_rfc3339;
use crate::backend::error::{violated_index, Error, Result};
use crate::error::ServerError;

pub const TRAINER_KEY_FILE: &str = "keys/trainer-x25519.hex";

/// The trainer's key pair. The secret never leaves this process; only `public()` is served.
pub struct TrainerKeys {
    pair: KeyPair,
}

impl TrainerKeys {
    /// From `CIPHERFOLD_TRAINER_KEY` (64 hex digits), else the data directory, else new.
    pub fn load(data_dir: &Path, from_env: Option<&str>) -> Result<Self, ServerError> {
        let secret = super::keyfile::load_or_create(
            data_dir,
            TRAINER_KEY_FILE,
            from_env,
            "CIPHERFOLD_TRAINER_KEY",
            "trainer X25519 private key (32 bytes)",
            |k| k.len() == 32,
            || {
                let pair = KeyPair::generate().expect("the system random number generator works");
                zeroize::Zeroizing::new(pair.secret().to_vec())
            },
        )?;
        let pair = KeyPair::from_secret(&secret.bytes).map_err(|e| ServerError::Config(e.to_string()))?;
        Ok(TrainerKeys { pair })
    }

    pub fn pair(&self) -> &KeyPair {
        &self.pair
    }

    pub fn public(&self) -> TrainerKey {
        TrainerKey { suite: app::crypto::wrap::SUITE.into(), public_key: b64(self.pair.public()), key_id: self.pair.key_id() }
    }
}

#[derive(Debug, Clone, SurrealValue)]
struct OwnerKeyRow {
    user_id: String,
    public_key: String,
    key_id: String,
    sealed_secret: serde_json::Value,
    created_at: String,
}

pub async fn owner_key(db: &Db, user_id: &str) -> Result<Option<OwnerKey>> {
    let mut r = db.query("SELECT * OMIT id FROM owner_key WHERE user_id = $u LIMIT 1").bind(("u", user_id.to_owned())).await?;
    let Some(row) = r.take::<Option<OwnerKeyRow>>(0)? else { return Ok(None) };
    let sealed_secret = serde_json::from_value(row.sealed_secret)?;
    Ok(Some(OwnerKey { public_key: row.public_key, key_id: row.key_id, sealed_secret }))
}

/// Stores an owner's key once. Replacing it would strand every dataset wrapped to the old one,
/// so a second key is a conflict.
pub async fn put_owner_key(db: &Db, user_id: &str, key: &OwnerKey) -> Result<()> {
    let public = unb64("public key", &key.public_key).map_err(|e| ApiError::field("public_key", e.to_string()))?;
    if public.len() != 32 {
        return Err(ApiError::field("public_key", "expected a 32-byte X25519 public key in base64").into());
    }
    if key.key_id != key_id(&public) {
        return Err(ApiError::field("key_id", "does not match the public key").into());
    }
    let s = &key.sealed_secret;
    if s.kdf != "argon2id" || s.m_kib < 8 * 1024 || s.t_cost < 1 {
        return Err(ApiError::field("sealed_secret", "use argon2id with at least 8 MiB of memory").into());
    }
    if owner_key(db, user_id).await?.is_some() {
        return Err(ApiError::Conflict {
            message: "you already have a dataset key; datasets are wrapped to it, so it cannot be replaced".into(),
            field: None,
        }
        .into());
    }
    let row = OwnerKeyRow {
        user_id: user_id.to_owned(),
        public_key: key.public_key.clone(),
        key_id: key.key_id.clone(),
        sealed_secret: serde_json::to_value(s)?,
        created_at: now_rfc3339(),
    };
    db.query("CREATE owner_key CONTENT $row").bind(("row", row)).await.and_then(|r| r.check()).map_err(|e| {
        if violated_index(&e) == Some("owner_key_user") {
            ApiError::Conflict { message: "you already have a dataset key".into(), field: None }.into()
        } else {
            Error::from(e)
        }
    })?;
    Ok(())
}
