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
