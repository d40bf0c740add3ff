//! The SurrealDB connection. One code path for the embedded default (`surrealkv://`),
//! tests (`mem://`) and a SurrealDB server (`ws://`), through the SDK's `engine::any`.

use surrealdb::engine::any::Any;
use surrealdb::Surreal;

use crate::config::DatabaseUrl;
use crate::error::ServerError;

pub type Db = Surreal<Any>;

pub const NAMESPACE: &str = "cipherfold";
pub const DATABASE: &str = "main";

pub async fn connect(url: &DatabaseUrl) -> Result<Db, ServerError> {
    let endpoint = url.endpoint();
    let fail = |reason: String| ServerError::Database { endpoint: endpoint.clone(), reason };
    if let DatabaseUrl::SurrealKv(path) = url {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
    }
    let db = surrealdb::engine::any::connect(endpoint.as_str()).await.map_err(|e| fail(e.to_string()))?;
    db.use_ns(NAMESPACE).use_db(DATABASE).await.map_err(|e| fail(e.to_string()))?;
    Ok(db)
}

/// A write and a read: catches a read-only or full disk, which a ping would not.
pub async fn check(db: &Db) -> Result<(), ServerError> {
    let fail = |e: surrealdb::Error| ServerError::Database { endpoint: "health".into(), reason: e.to_string() };
    db.query("UPSERT health:probe SET checked_at = time::now()").await.map_err(fail)?.check().map_err(fail)?;
    Ok(())
}
