//! The object store: a local directory by default, S3 when configured. Only ciphertext and
//! encrypted artifacts are ever written here.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::ObjectStoreUrl;
use crate::error::ServerError;

pub fn open(url: &ObjectStoreUrl) -> Result<Arc<dyn ObjectStore>, ServerError> {
    match url {
        ObjectStoreUrl::Local(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| ServerError::Store(format!("cannot create {}: {e}", dir.display())))?;
            let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| ServerError::Store(format!("{}: {e}", dir.display())))?;
            Ok(Arc::new(fs))
        }
        ObjectStoreUrl::S3 { bucket, prefix } => {
            // Credentials, region and endpoint come from the standard AWS_* variables.
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| ServerError::Store(format!("s3://{bucket}: {e}")))?;
            if prefix.is_empty() {
                Ok(Arc::new(s3))
            } else {
                Ok(Arc::new(PrefixStore::new(s3, prefix.as_str())))
            }
        }
    }
}

/// Removes the staging files that a local multipart upload leaves when its process is killed
/// (`NAME#N` beside where `NAME` would be). object_store removes them itself when an upload is
/// dropped or aborted, and lists around them, so only a crash leaves them, and only a process
/// that knows it is the store's only user (embedded mode, at start) may remove them.
pub fn remove_staged_uploads(root: &std::path::Path) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_string_lossy().contains('#') {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Writes, reads back and deletes a small object, so a store that accepts connections but
/// not writes (full disk, wrong permissions, missing bucket) is reported.
pub async fn check(store: &dyn ObjectStore) -> Result<(), ServerError> {
    let fail = |e: object_store::Error| ServerError::Store(e.to_string());
    let path = Path::from(format!("_health/{}", rand::random::<u64>()));
    let probe: [u8; 16] = rand::random();
    store.put(&path, PutPayload::from(probe.to_vec())).await.map_err(fail)?;
    let back = store.get(&path).await.map_err(fail)?.bytes().await.map_err(fail)?;
    store.delete(&path).await.map_err(fail)?;
    if back.as_ref() != probe {
        return Err(ServerError::Store("read back different bytes than were written".into()));
    }
    Ok(())
}
