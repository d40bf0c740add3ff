//! The SurrealDB connection. One code path for the embedded default (`surrealkv://`),
//! tests (`mem://`) and a SurrealDB server (`ws://`), through the SDK's `engine::any`.

use surrealdb::engine::any::Any;
use surrealdb::Surreal;

use crate::config::DatabaseUrl;
use crate::error::ServerError;

/// One SDK handle shared by the whole process. Behind an `Arc` because cloning a `Surreal`
/// opens a new session on the server (SDK 3), set up asynchronously from its parent's: a query
/// on a fresh clone can reach a SurrealDB server before the session has its sign-in and
/// namespace, and is refused ("Method not allowed"). A request's copy of the backend must not
/// open sessions; sharing one is what the embedded engine did all along.
pub type Db = std::sync::Arc<Surreal<Any>>;

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
    if let DatabaseUrl::Remote(_, Some(login)) = url {
        let root = surrealdb::opt::auth::Root { username: login.user.clone(), password: login.pass.clone() };
        db.signin(root).await.map_err(|e| fail(format!("signing in as {} failed: {e}", login.user)))?;
    }
    db.use_ns(NAMESPACE).use_db(DATABASE).await.map_err(|e| fail(e.to_string()))?;
    Ok(std::sync::Arc::new(db))
}

/// A write and a read: catches a read-only or full disk, which a ping would not.
pub async fn check(db: &Db) -> Result<(), ServerError> {
    let fail = |e: surrealdb::Error| ServerError::Database { endpoint: "health".into(), reason: e.to_string() };
    db.query("UPSERT health:probe SET checked_at = time::now()").await.map_err(fail)?.check().map_err(fail)?;
    Ok(())
}

/// Runs a write again when the store reports a transaction conflict: SurrealKV refuses the
/// second of two transactions that touch one record at once (a job's heartbeat and its cancel,
/// say) and leaves the retry to the caller. Short, jittered waits (up to about 256 ms each)
/// for as long as `CONFLICT_BUDGET` lasts: a budget in time rather than a count of attempts,
/// because how many conflicts in a row a write meets depends on how many writers share the
/// record and how busy the cores are, and a count tuned on a quiet machine runs out on a busy
/// one. The conflict that outlasts the budget stands.
pub async fn retry_conflicts<T, Fut>(mut op: impl FnMut() -> Fut) -> Result<T, surrealdb::Error>
where
    Fut: std::future::Future<Output = Result<T, surrealdb::Error>>,
{
    let deadline = tokio::time::Instant::now() + CONFLICT_BUDGET;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match op().await {
            Err(e) if is_conflict(&e) && tokio::time::Instant::now() < deadline => {
                let wait = 2u64 << attempt.min(7);
                tokio::time::sleep(std::time::Duration::from_millis(wait / 2 + rand::random_range(0..=wait / 2))).await;
            }
            other => return other,
        }
    }
}

/// A `BEGIN; … COMMIT;` query's response, or its error: the conflict if the commit met one.
/// `Response::check` returns the first statement's error, and when a transaction fails every
/// statement before the `COMMIT` says only that it "was not executed due to a failed
/// transaction", which `is_conflict` (and so `retry_conflicts`) cannot recognise.
pub fn committed(mut r: surrealdb::IndexedResults) -> Result<surrealdb::IndexedResults, surrealdb::Error> {
    let mut errors: Vec<(usize, surrealdb::Error)> = r.take_errors().into_iter().collect();
    if errors.is_empty() {
        return Ok(r);
    }
    errors.sort_by_key(|(i, _)| *i);
    let at = errors.iter().position(|(_, e)| is_conflict(e)).unwrap_or(0);
    Err(errors.swap_remove(at).1)
}

/// How long `retry_conflicts` keeps trying one write.
pub const CONFLICT_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// The SDK has a typed kind for remote servers; the embedded store says so in its message.
pub fn is_conflict(e: &surrealdb::Error) -> bool {
    matches!(e.query_details(), Some(surrealdb::types::QueryError::TransactionConflict)) || e.to_string().contains("can be retried")
}
