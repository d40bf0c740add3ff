//! Encrypted datasets: metadata in SurrealDB, the envelope in the object store under
//! `datasets/{id}`. The server checks shape (length, header) but cannot read a byte of it;
//! only [`Datasets::open_for_training`] can, with the trainer's key, and every call is audited.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path as StorePath;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};
use serde::Deserialize;
use surrealdb::types::SurrealValue;
use tokio_util::io::{StreamReader, SyncIoBridge};
use zeroize::Zeroizing;

use app::crypto::envelope::{Header, StreamOpener, HEADER_LEN, MAX_CHUNK_SIZE};
use app::crypto::{dataset_id_bytes, unb64, wrap, Recipient, WrappedKey};
use app::model::dataset::{DatasetInfo, DatasetStatus, NewDataset};
use app::model::ApiError;
use app::table::{Format, ParseOptions, Table, TableError};

use super::audit::AuditLog;
use super::authz::{authorize, Action, Actor, Ctx};
use super::db::Db;
use super::keys::{owner_key, TrainerKeys};
use super::timing::Stopwatch;
use super::util::{now_ms, now_rfc3339};
use crate::backend::error::{violated_index, Error, Result};

/// Declarations whose upload never began are removed after this long.
pub const STALE_PENDING_SECS: i64 = 60 * 60;
/// Uploads that began but never finished (the server died mid-upload) are removed after this
/// long; generous, so that a slow link sending a large file is never swept from under itself.
pub const STALE_UPLOADING_SECS: i64 = 24 * 60 * 60;
/// Parts in flight per upload: enough to keep S3 busy, little enough memory (5 MiB each).
const UPLOAD_CONCURRENCY: usize = 4;

#[derive(Debug, Clone, SurrealValue)]
struct DatasetRow {
    uid: String,
    name: String,
    owner_id: String,
    owner: String,
    domain: String,
    subdomain: String,
    format: String,
    parse_options: serde_json::Value,
    schema: serde_json::Value,
    rows: i64,
    plaintext_size: i64,
    ciphertext_size: i64,
    wrapped_keys: serde_json::Value,
    envelope_header: String,
    shared: bool,
    target: Option<String>,
    status: String,
    created_at: String,
    created_ms: i64,
    /// When the owner agreed that other people's jobs in the area may train on this dataset.
    consent_at: Option<String>,
}

/// What the trainer needs to know of a dataset to plan a job, after authorisation.
#[derive(Debug, Clone)]
pub struct JobDataset {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub domain: String,
    pub subdomain: String,
    pub schema: Vec<app::table::Column>,
    /// Rows as declared at upload (the privacy checks compare δ with 1/rows).
    pub rows: u64,
    pub consent_at: Option<String>,
}

fn corrupt(what: &str) -> Error {
    Error::internal(format!("the stored dataset record is unreadable ({what})"))
}

impl DatasetRow {
    fn wrapped_keys(&self) -> Result<Vec<WrappedKey>> {
        Deserialize::deserialize(&self.wrapped_keys).map_err(|_| corrupt("wrapped keys"))
    }

    fn parse_options(&self) -> Result<ParseOptions> {
        ParseOptions::deserialize(&self.parse_options).map_err(|_| corrupt("parse options"))
    }

    fn schema(&self) -> Result<Vec<app::table::Column>> {
        Deserialize::deserialize(&self.schema).map_err(|_| corrupt("schema"))
    }

    fn format(&self) -> Result<Format> {
        Format::parse_name(&self.format).ok_or_else(|| corrupt("format"))
    }

    fn info(&self, viewer: &Actor) -> Result<DatasetInfo> {
        let owner_view = viewer.user_id == self.owner_id;
        Ok(DatasetInfo {
            id: self.uid.clone(),
            name: self.name.clone(),
            owner_id: self.owner_id.clone(),
            owner: self.owner.clone(),
            domain: self.domain.clone(),
            subdomain: self.subdomain.clone(),
            format: self.format()?,
            parse_options: self.parse_options()?,
            schema: self.schema()?,
            rows: self.rows.max(0) as u64,
            plaintext_size: self.plaintext_size.max(0) as u64,
            ciphertext_size: self.ciphertext_size.max(0) as u64,
            shared: self.shared,
            target: self.target.clone(),
            status: match self.status.as_str() {
                "ready" => DatasetStatus::Ready,
                "uploading" => DatasetStatus::Uploading,
                "pending" => DatasetStatus::Pending,
                _ => return Err(corrupt("status")),
            },
            consent_at: self.consent_at.clone(),
            created_at: self.created_at.clone(),
            owner_wrapped_key: if owner_view { self.wrapped_keys()?.into_iter().find(|w| w.recipient == Recipient::Owner) } else { None },
            wrapped_keys: if owner_view { self.wrapped_keys()? } else { Vec::new() },
        })
    }

    fn read_action(&self) -> Action<'_> {
        Action::ReadDataset { owner: &self.owner_id, domain: &self.domain, subdomain: &self.subdomain, shared: self.shared }
    }
}

pub fn blob_path(id: &str) -> StorePath {
    StorePath::from(format!("datasets/{id}"))
}

/// Why an upload was refused; the record is removed, so the client starts again from `POST`.
fn upload_error(message: impl Into<String>) -> Error {
    ApiError::field("body", message).into()
}

/// Removes a dataset's blob (if any) and its record, logging what fails.
async fn remove(db: &Db, store: &dyn ObjectStore, id: &str) {
    match store.delete(&blob_path(id)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => tracing::warn!(dataset = id, "could not delete the blob: {e}"),
    }
    if let Err(e) = db.query("DELETE dataset WHERE uid = $id").bind(("id", id.to_owned())).await {
        tracing::warn!(dataset = id, "could not delete the record: {e}");
    }
}

pub struct Datasets {
    db: Db,
    store: Arc<dyn ObjectStore>,
    audit: Arc<AuditLog>,
    trainer: Arc<TrainerKeys>,
    max_bytes: u64,
}

impl Datasets {
    pub fn new(db: Db, store: Arc<dyn ObjectStore>, audit: Arc<AuditLog>, trainer: Arc<TrainerKeys>, max_bytes: u64) -> Self {
        Datasets { db, store, audit, trainer, max_bytes }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Moves a dataset from status `from` to `to` if it is still in `from`; false if it was not.
    /// Atomic in the database, so two uploads of one dataset cannot both claim it.
    async fn transition(&self, id: &str, from: &str, to: &str) -> Result<bool> {
        let mut r = self
            .db
            .query("UPDATE dataset SET status = $to WHERE uid = $id AND status = $from RETURN AFTER")
            .bind(("id", id.to_owned()))
            .bind(("from", from.to_owned()))
            .bind(("to", to.to_owned()))
            .await?;
        let moved: Vec<DatasetRow> = r.take(0)?;
        Ok(!moved.is_empty())
    }

    async fn row(&self, id: &str) -> Result<Option<DatasetRow>> {
        let mut r = self.db.query("SELECT * OMIT id FROM dataset WHERE uid = $id LIMIT 1").bind(("id", id.to_owned())).await?;
        Ok(r.take::<Option<DatasetRow>>(0)?)
    }

    /// The row if the actor may do `action` to it. Someone who may not even read it gets 404,
    /// so ids of other people's datasets cannot be probed.
    async fn authorized_row(&self, ctx: &Ctx, id: &str, name: &str, action: fn(&DatasetRow) -> Action<'_>) -> Result<DatasetRow> {
        self.audit.authorized(ctx, name, id, self.row(id).await?, DatasetRow::read_action, action).await
    }

    pub async fn create(&self, ctx: &Ctx, req: NewDataset) -> Result<DatasetInfo> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "dataset.create";
        let header = match req.validate(self.max_bytes) {
            Ok(h) => h,
            Err(e) => return self.audit.refuse(&actor.user_id, ACTION, &req.id, client, e).await,
        };
        if req.domain != actor.domain || req.subdomain != actor.subdomain {
            let e = ApiError::field(
                "domain",
                format!("datasets go in your own area ({} · {}); change it on your profile first", actor.domain, actor.subdomain),
            );
            return self.audit.refuse(&actor.user_id, ACTION, &req.id, client, e).await;
        }
        if let Err(e) = authorize(actor, Action::CreateDataset { domain: &req.domain, subdomain: &req.subdomain }) {
            return self.audit.refuse(&actor.user_id, ACTION, &req.id, client, e).await;
        }
        // The key ids must be the current ones, or the trainer (or the owner) could never open it.
        let trainer_id = self.trainer.pair().key_id();
        let owner = owner_key(&self.db, &actor.user_id).await?;
        for w in &req.wrapped_keys {
            let expected = match w.recipient {
                Recipient::Trainer => Some(trainer_id.clone()),
                Recipient::Owner => owner.as_ref().map(|k| k.key_id.clone()),
            };
            if expected.as_deref() != Some(w.key_id.as_str()) {
                let e = ApiError::field(
                    "wrapped_keys",
                    "a data key is wrapped to a key this server does not know; fetch /api/keys/trainer and /api/keys/me again",
                );
                return self.audit.refuse(&actor.user_id, ACTION, &req.id, client, e).await;
            }
        }
        let row = DatasetRow {
            uid: req.id.clone(),
            name: req.name.trim().to_owned(),
            owner_id: actor.user_id.clone(),
            owner: actor.username.clone(),
            domain: req.domain.clone(),
            subdomain: req.subdomain.clone(),
            format: req.format.as_str().to_owned(),
            parse_options: serde_json::to_value(&req.parse_options)?,
            schema: serde_json::to_value(&req.schema)?,
            rows: req.rows as i64,
            plaintext_size: req.plaintext_size as i64,
            ciphertext_size: header.envelope_len(req.plaintext_size) as i64,
            wrapped_keys: serde_json::to_value(&req.wrapped_keys)?,
            envelope_header: req.envelope_header.clone(),
            shared: req.shared,
            target: req.target.clone(),
            status: "pending".into(),
            created_at: now_rfc3339(),
            created_ms: now_ms(),
            consent_at: None,
        };
        let created = self.db.query("CREATE dataset CONTENT $row").bind(("row", row.clone())).await.and_then(|r| r.check());
        if let Err(e) = created {
            if violated_index(&e) == Some("dataset_uid") {
                let e = ApiError::Conflict {
                    message: "a dataset with this id exists; seal again with a new id".into(),
                    field: Some("id".into()),
                };
                return self.audit.refuse(&actor.user_id, ACTION, &req.id, client, e).await;
            }
            return Err(e.into());
        }
        self.audit.record(&actor.user_id, ACTION, &row.uid, client, "ok").await?;
        row.info(actor)
    }

    /// Streams the envelope into the object store as a multipart upload. It becomes `ready`
    /// only if exactly the declared length arrives and starts with the declared header;
    /// anything else aborts the upload and removes the record.
    pub async fn upload<S, E>(&self, ctx: &Ctx, id: &str, mut body: S) -> Result<DatasetInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "dataset.upload";
        let row = self.authorized_row(ctx, id, ACTION, |r| Action::UploadDataset { owner: &r.owner_id }).await?;
        // Claim the upload, so two concurrent PUTs cannot interleave.
        if !self.transition(id, "pending", "uploading").await? {
            let e = ApiError::Conflict { message: "this dataset is already uploaded or being uploaded".into(), field: None };
            return self.audit.refuse(&actor.user_id, ACTION, id, client, e).await;
        }
        // If the client goes away mid-upload the server may drop this request's future instead
        // of reporting a broken body; the claim then removes what the upload left, as the
        // error path below does (a local staging file also removes itself with the future).
        let mut claim = UploadClaim { db: self.db.clone(), store: self.store.clone(), id: id.to_owned(), armed: true };
        let expected = row.ciphertext_size.max(0) as u64;
        let header =
            unb64("envelope header", &row.envelope_header).map_err(|e| Error::internal(format!("the stored envelope header: {e}")))?;
        let path = blob_path(id);
        let result: Result<()> = async {
            let upload = self.store.put_multipart(&path).await?;
            let mut writer = WriteMultipart::new(upload);
            let mut received: u64 = 0;
            let mut head: Vec<u8> = Vec::with_capacity(HEADER_LEN);
            let outcome = loop {
                let chunk = match body.next().await {
                    None => break Ok(()),
                    Some(Err(e)) => break Err(upload_error(format!("the upload was interrupted ({e}); declare and send the file again"))),
                    Some(Ok(c)) => c,
                };
                received += chunk.len() as u64;
                if received > expected {
                    break Err(upload_error(format!("the upload is longer than the {expected} bytes the envelope's metadata describes")));
                }
                if head.len() < HEADER_LEN {
                    let take = (HEADER_LEN - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                    if head.len() == HEADER_LEN && head != header {
                        break Err(upload_error("the upload does not start with the declared envelope header"));
                    }
                }
                if let Err(e) = writer.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                    break Err(Error::from(e));
                }
                writer.write(&chunk);
            };
            let outcome = outcome.and_then(|()| {
                if received == expected {
                    Ok(())
                } else {
                    Err(upload_error(format!("the upload ended after {received} of {expected} bytes")))
                }
            });
            match outcome {
                Ok(()) => writer.finish().await.map(|_| ()).map_err(Error::from),
                Err(e) => {
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(dataset = id, "aborting the multipart upload failed: {abort}");
                    }
                    Err(e)
                }
            }
        }
        .await;
        claim.armed = false;
        match result {
            Ok(()) => {
                if !self.transition(id, "uploading", "ready").await? {
                    // Deleted (or swept) while the bytes were arriving: do not leave them behind.
                    self.remove(id).await;
                    return self.audit.refuse(&actor.user_id, ACTION, id, client, ApiError::NotFound).await;
                }
                self.audit.record(&actor.user_id, ACTION, id, client, &format!("ok ({expected} bytes)")).await?;
                let row = self.row(id).await?.ok_or(ApiError::NotFound)?;
                row.info(actor)
            }
            Err(e) => {
                self.remove(id).await;
                self.audit.refuse(&actor.user_id, ACTION, id, client, e).await
            }
        }
    }

    /// At start with embedded storage this process is the only one, so an upload left
    /// `uploading` was broken off by a crash: removed now, as any broken-off upload is (the
    /// owner declares and sends it again), instead of a day later by the sweeper.
    pub async fn recover_interrupted_uploads(&self) -> Result<usize> {
        let mut r = self.db.query("SELECT * OMIT id FROM dataset WHERE status = 'uploading'").await?;
        let rows: Vec<DatasetRow> = r.take(0)?;
        for row in &rows {
            self.remove(&row.uid).await;
            self.audit.record("system", "dataset.upload", &row.uid, "-", "failed: interrupted by a restart; removed").await?;
        }
        Ok(rows.len())
    }

    /// Removes the blob (if any) and the record; used for failed uploads and stale ones.
    async fn remove(&self, id: &str) {
        remove(&self.db, self.store.as_ref(), id).await
    }

    pub async fn owner_key(&self, actor: &Actor) -> Result<Option<app::model::dataset::OwnerKey>> {
        owner_key(&self.db, &actor.user_id).await
    }

    /// Stores the caller's key pair (public half, passphrase-sealed secret half), once.
    pub async fn set_owner_key(&self, ctx: &Ctx, key: &app::model::dataset::OwnerKey) -> Result<()> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "key.owner.create";
        match super::keys::put_owner_key(&self.db, &actor.user_id, key).await {
            Ok(()) => self.audit.record(&actor.user_id, ACTION, &key.key_id, client, "ok").await,
            Err(e) => self.audit.refuse(&actor.user_id, ACTION, &key.key_id, client, e).await,
        }
    }

    /// Own datasets (any status but mid-upload) and ready ones shared into the caller's area.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<DatasetInfo>> {
        let mut r = self
            .db
            .query(
                "SELECT * OMIT id FROM dataset WHERE status = 'ready' AND (owner_id = $me OR \
                 (shared = true AND domain = $d AND subdomain = $s)) ORDER BY created_ms DESC, uid",
            )
            .bind(("me", actor.user_id.clone()))
            .bind(("d", actor.domain.clone()))
            .bind(("s", actor.subdomain.clone()))
            .await?;
        let rows: Vec<DatasetRow> = r.take(0)?;
        rows.iter().map(|row| row.info(actor)).collect()
    }

    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<DatasetInfo> {
        let actor = &ctx.actor;
        let row = self.authorized_row(ctx, id, "dataset.read", DatasetRow::read_action).await?;
        row.info(actor)
    }

    /// The ciphertext, streamed from the store, for the owner to open in their browser.
    pub async fn blob(&self, ctx: &Ctx, id: &str) -> Result<(u64, impl Stream<Item = Result<Bytes, object_store::Error>> + use<>)> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "dataset.download";
        let row = self.authorized_row(ctx, id, ACTION, |r| Action::DownloadDataset { owner: &r.owner_id }).await?;
        if row.status != "ready" {
            return self.audit.refuse(&actor.user_id, ACTION, id, client, ApiError::NotFound).await;
        }
        let got = self.store.get(&blob_path(id)).await?;
        let size = got.meta.size;
        self.audit.record(&actor.user_id, ACTION, id, client, "ok").await?;
        Ok((size, got.into_stream()))
    }

    pub async fn delete(&self, ctx: &Ctx, id: &str) -> Result<()> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "dataset.delete";
        self.authorized_row(ctx, id, ACTION, |r| Action::DeleteDataset { owner: &r.owner_id }).await?;
        match self.store.delete(&blob_path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.db.query("DELETE dataset WHERE uid = $id").bind(("id", id.to_owned())).await.and_then(|r| r.check())?;
        self.audit.record(&actor.user_id, ACTION, id, client, "ok").await
    }

    /// Records (or withdraws) the owner's consent to joint training on this dataset.
    pub async fn set_consent(&self, ctx: &Ctx, id: &str, allow: bool) -> Result<DatasetInfo> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "dataset.consent";
        self.authorized_row(ctx, id, ACTION, |r| Action::UploadDataset { owner: &r.owner_id }).await?;
        let at = allow.then(now_rfc3339);
        self.db
            .query("UPDATE dataset SET consent_at = $at WHERE uid = $id")
            .bind(("at", at))
            .bind(("id", id.to_owned()))
            .await
            .and_then(|r| r.check())?;
        self.audit.record(&actor.user_id, ACTION, id, client, if allow { "ok (granted)" } else { "ok (withdrawn)" }).await?;
        self.row(id).await?.ok_or(ApiError::NotFound)?.info(actor)
    }

    /// A ready dataset the actor may read, described for planning a job; someone who may not
    /// read it gets 404 (audited, like every refusal).
    pub async fn for_job(&self, ctx: &Ctx, id: &str) -> Result<JobDataset> {
        let row = self.authorized_row(ctx, id, "dataset.read", DatasetRow::read_action).await?;
        if row.status != "ready" {
            return Err(ApiError::NotFound.into());
        }
        Ok(JobDataset {
            id: row.uid.clone(),
            name: row.name.clone(),
            owner_id: row.owner_id.clone(),
            domain: row.domain.clone(),
            subdomain: row.subdomain.clone(),
            schema: row.schema()?,
            rows: row.rows.max(0) as u64,
            consent_at: row.consent_at.clone(),
        })
    }

    /// Removes declarations never uploaded within `pending_secs`, and uploads never finished
    /// within `uploading_secs` (a crash mid-upload).
    pub async fn sweep_stale(&self, pending_secs: i64, uploading_secs: i64) -> Result<usize> {
        let mut r = self
            .db
            .query(
                "SELECT * OMIT id FROM dataset WHERE (status = 'pending' AND created_ms < $p) \
                 OR (status = 'uploading' AND created_ms < $u)",
            )
            .bind(("p", now_ms() - pending_secs * 1000))
            .bind(("u", now_ms() - uploading_secs * 1000))
            .await?;
        let rows: Vec<DatasetRow> = r.take(0)?;
        for row in &rows {
            self.remove(&row.uid).await;
            self.audit.record("system", "dataset.sweep", &row.uid, "-", "removed an unfinished upload").await?;
        }
        Ok(rows.len())
    }

    /// The trainer's door to plaintext: unwraps the data key with the trainer's private key,
    /// verifies and decrypts the envelope as it streams in, parses it with `app::table` as it
    /// is decrypted (a CSV a window of lines at a time, so memory holds the table, not the file
    /// as well), and checks it against the recorded schema. Decrypted bytes are zeroized once
    /// parsed; a chunk that fails authentication, or a stream that ends early, fails the open
    /// whatever the parser made of the bytes before it.
    /// `purpose` names the job (or test) on whose behalf this runs, for the audit log.
    pub async fn open_for_training(&self, id: &str, purpose: &str) -> Result<Table> {
        Ok(self.open_timed(id, purpose).await?.0)
    }

    /// As `open_for_training`, with the time of each phase: `key` (the record and the data
    /// key's unwrapping) and `read` (fetching, decrypting and parsing, which stream together).
    pub async fn open_timed(&self, id: &str, purpose: &str) -> Result<(Table, Stopwatch)> {
        const ACTION: &str = "dataset.open";
        let result = self.open_inner(id).await;
        let outcome = match &result {
            Ok((t, _)) => format!("ok ({purpose}; {} rows)", t.len()),
            Err(e) => format!("failed ({purpose}): {e}"),
        };
        self.audit.record("trainer", ACTION, id, "-", &outcome).await?;
        if let Ok((_, watch)) = &result {
            tracing::info!(dataset = id, phases = watch.header_value(), "opened for training");
        }
        result
    }

    async fn open_inner(&self, id: &str) -> Result<(Table, Stopwatch)> {
        let mut watch = Stopwatch::default();
        let row = self.row(id).await?.filter(|r| r.status == "ready").ok_or(ApiError::NotFound)?;
        let dataset_id = dataset_id_bytes(id)?;
        let wrapped =
            row.wrapped_keys()?.into_iter().find(|w| w.recipient == Recipient::Trainer).ok_or_else(|| corrupt("no trainer key"))?;
        let key = wrap::unwrap(&wrapped, self.trainer.pair(), &dataset_id)?;
        watch.lap("key");
        let got = self.store.get(&blob_path(id)).await?;
        let opener = StreamOpener::new(key, dataset_id, got.meta.size);
        let (format, options, schema) = (row.format()?, row.parse_options()?, row.schema()?);
        let (rows, bytes) = (row.rows.max(0) as usize, row.plaintext_size.max(0) as usize);
        let parse = move |cipher: Box<dyn Read + Send>| {
            let mut plain = Plaintext::new(cipher, opener, bytes);
            let table = Table::read_declared(&mut plain, format, &options, &schema, rows, bytes);
            plain.finish().map(|()| table)
        };
        let table = match got.payload {
            // A local file is read in 1 MiB pieces on the parsing thread: the store's own
            // stream reads 8 KiB per trip to the blocking pool, 12,800 trips for 100 MB, which
            // made decryption 3.7× slower than reading and decrypting alone
            // (`scripts/bench-open.sh`).
            GetResultPayload::File(mut file, _) => {
                let start = got.range.start;
                tokio::task::spawn_blocking(move || {
                    file.seek(SeekFrom::Start(start)).map_err(|e| Error::internal(format!("reading the stored dataset: {e}")))?;
                    parse(Box::new(file))
                })
                .await
            }
            // Another store's stream is pulled by the parsing thread itself, one piece per
            // read, so nothing waits in memory and a reader that stops stops the fetch.
            GetResultPayload::Stream(stream) => {
                let reader = SyncIoBridge::new(StreamReader::new(stream.map(|piece| piece.map_err(std::io::Error::other))));
                tokio::task::spawn_blocking(move || parse(Box::new(reader))).await
            }
        }
        .map_err(|e| Error::internal(format!("the dataset's reader stopped: {e}")))??;
        watch.lap("read");
        let table = match table {
            Ok(t) if t.len() as i64 != row.rows => Err(format!("the dataset has {} rows but was declared with {}", t.len(), row.rows)),
            Ok(t) => Ok(t),
            Err(e @ TableError::Declaration { .. }) => Err(e.to_string()),
            Err(e) => Err(format!("the dataset no longer parses as declared: {e}")),
        };
        let table = table.map_err(|problem| ApiError::field("schema", problem))?;
        Ok((table, watch))
    }

    /// The parsed header of a stored dataset, for tests and diagnostics.
    pub async fn header(&self, id: &str) -> Result<Header> {
        let row = self.row(id).await?.ok_or(ApiError::NotFound)?;
        let bytes =
            unb64("envelope header", &row.envelope_header).map_err(|e| Error::internal(format!("the stored envelope header: {e}")))?;
        Ok(Header::parse(&bytes)?)
    }
}

/// The plaintext of a stored envelope as a `Read`: ciphertext is read from `cipher` in 1 MiB
/// pieces and decrypted as the parser asks for more. A failure (a read, a chunk's
/// authentication, an early end) is kept to be reported by `finish` in its own words: the
/// parser only sees an I/O error.
struct Plaintext {
    cipher: Box<dyn Read + Send>,
    piece: Vec<u8>,
    /// `None` once the ciphertext ended and the envelope was found whole.
    opener: Option<StreamOpener>,
    plain: Zeroizing<Vec<u8>>,
    at: usize,
    failure: Option<Error>,
}

impl Plaintext {
    /// `size`: the declared plaintext size. A piece completes at most one chunk more than
    /// itself, so `plain` never grows past its first allocation (a grown vector would leave
    /// plaintext behind in freed memory).
    fn new(cipher: Box<dyn Read + Send>, opener: StreamOpener, size: usize) -> Self {
        const PIECE: usize = 1 << 20;
        let plain = Zeroizing::new(Vec::with_capacity(size.min(PIECE + MAX_CHUNK_SIZE as usize)));
        Plaintext { cipher, piece: vec![0; PIECE], opener: Some(opener), plain, at: 0, failure: None }
    }

    /// Decrypts the next piece into `plain`; `Ok(false)` at the envelope's verified end.
    fn refill(&mut self) -> Result<bool> {
        let Some(opener) = self.opener.as_mut() else { return Ok(false) };
        self.plain.clear();
        self.at = 0;
        let n = loop {
            match self.cipher.read(&mut self.piece) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::internal(format!("reading the stored dataset: {e}"))),
            }
        };
        if n == 0 {
            self.opener.take().map(StreamOpener::finish).transpose()?;
            return Ok(false);
        }
        opener.feed(&self.piece[..n], &mut self.plain)?;
        Ok(true)
    }

    /// Reads what the parser left (a parser that stopped at an error), then reports a failure
    /// of the envelope, which comes before anything the parser found.
    fn finish(mut self) -> Result<()> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        while self.refill()? {}
        Ok(())
    }
}

impl Read for Plaintext {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.plain.len() {
            if self.failure.is_some() {
                return Err(std::io::Error::other("the stored dataset could not be read"));
            }
            match self.refill() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(e) => self.failure = Some(e),
            }
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A claimed upload (`uploading`) whose request may be dropped before the upload ends: then
/// what it left is removed, as on any broken-off upload. Disarmed once the outcome is handled.
struct UploadClaim {
    db: Db,
    store: Arc<dyn ObjectStore>,
    id: String,
    armed: bool,
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (db, store, id) = (self.db.clone(), self.store.clone(), std::mem::take(&mut self.id));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                remove(&db, store.as_ref(), &id).await;
                tracing::info!(dataset = id, "upload broken off; removed what it left");
            });
        }
    }
}
