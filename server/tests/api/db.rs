//! The embedded store under concurrent writes to one record, as a job's heartbeat, progress
//! and cancel make them; the audit log appended to by two writers (as two nodes) at once.

use server::backend::audit::{self, AuditLog, Event};
use server::backend::db::{connect, retry_conflicts, Db};
use server::config::DatabaseUrl;

const TASKS: usize = 8;
const WRITES: usize = 40;

/// Each task adds 1 to one counter `WRITES` times; returns the failed writes and the total.
async fn hammer(db: &Db, retry: bool) -> (usize, i64) {
    db.query("UPSERT counter:c SET n = 0").await.unwrap().check().unwrap();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut failed = 0;
                for _ in 0..WRITES {
                    let write = || async { db.query("UPDATE counter:c SET n += 1").await?.check() };
                    let done = if retry { retry_conflicts(write).await } else { write().await };
                    failed += usize::from(done.is_err());
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap();
    }
    let mut r = db.query("SELECT VALUE n FROM counter:c").await.unwrap();
    let n: Option<i64> = r.take(0).unwrap();
    (failed, n.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_to_one_record_all_land_when_conflicts_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(&DatabaseUrl::SurrealKv(dir.path().join("db"))).await.unwrap();
    let (failed_plain, n_plain) = hammer(&db, false).await;
    // The store does refuse concurrent writers (else this test would prove nothing)...
    assert!(failed_plain > 0, "no conflict in {} concurrent writes", TASKS * WRITES);
    assert_eq!(n_plain, (TASKS * WRITES - failed_plain) as i64, "a refused write changes nothing");
    // ...and retried, every write lands exactly once.
    let (failed, n) = hammer(&db, true).await;
    assert_eq!((failed, n), (0, (TASKS * WRITES) as i64));
}

/// Two audit logs on one store, as two nodes have: many callers on each append at once (so
/// each writer batches, and the two batch writers collide over the chain's tip), and the
/// result is one chain with every entry once, no gap and no fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_audit_writers_appending_at_once_leave_one_unbroken_chain() {
    const CALLERS: usize = 24;
    const EACH: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let db = connect(&DatabaseUrl::SurrealKv(dir.path().join("db"))).await.unwrap();
    server::backend::schema::apply(&db).await.unwrap();
    let logs = [std::sync::Arc::new(AuditLog::new(db.clone())), std::sync::Arc::new(AuditLog::new(db.clone()))];
    let tasks: Vec<_> = (0..CALLERS)
        .map(|i| {
            let log = logs[i % 2].clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for j in 0..EACH {
                    let target = format!("{i}-{j}");
                    let e = Event { actor: "u1", action: "test.append", target: &target, client: "127.0.0.1", outcome: "ok" };
                    let entry = log.append(e).await.unwrap();
                    assert_eq!(entry.target, target, "each caller is answered with its own entry");
                    seqs.push(entry.seq);
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=(CALLERS * EACH) as u64).collect::<Vec<_>>(), "every entry once, numbered without a gap");
    assert_eq!(audit::verify(&db).await.unwrap().unwrap(), (CALLERS * EACH) as u64);
}
