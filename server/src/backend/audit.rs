//! The append-only, hash-chained audit log.
//!
//! Entry n stores `hash_n = SHA-256(hash_{n-1} || "\n" || JSON[seq, at, actor, action, target,
//! client, outcome])` (hex; `hash_0` is 64 zeros; the JSON is compact, an array so that field
//! order is fixed). Changing, removing or reordering any stored entry breaks every hash after
//! it; `verify` finds the first break.

use app::model::audit::{AuditEntry, AuditQuery};
use app::model::ApiError;
use surrealdb::types::SurrealValue;
use tokio::sync::{mpsc, oneshot};

use super::authz::{authorize, Action, Ctx};
use super::db::Db;
use super::util::{now_rfc3339, sha256_hex};
use crate::backend::error::{Error, Result};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, SurrealValue)]
struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    client: String,
    outcome: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            seq: r.seq.max(0) as u64,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            client: r.client,
            outcome: r.outcome,
            prev_hash: r.prev_hash,
            hash: r.hash,
            actor_name: None,
            target_name: None,
        }
    }
}

#[derive(Debug, Clone, SurrealValue)]
struct NameRow {
    uid: String,
    name: String,
}

/// What a caller records; the log adds the sequence number, time and hashes.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub client: &'a str,
    pub outcome: &'a str,
}

pub fn entry_hash(prev_hash: &str, seq: u64, e: &Event<'_>, at: &str) -> String {
    let body = serde_json::json!([seq, at, e.actor, e.action, e.target, e.client, e.outcome]);
    let mut input = String::with_capacity(prev_hash.len() + 256);
    input.push_str(prev_hash);
    input.push('\n');
    input.push_str(&body.to_string());
    sha256_hex(input.as_bytes())
}

/// An entry waiting to be written, owned (it waits in a queue past its caller's borrow), with
/// the channel its caller waits on.
struct Pending {
    actor: String,
    action: String,
    target: String,
    client: String,
    outcome: String,
    done: oneshot::Sender<Result<AuditEntry>>,
}

/// Entries per INSERT: the most one database round trip carries.
const BATCH: usize = 256;

/// Appends go through one writer task per process (group commit): it takes every entry queued
/// while it was writing the previous batch and stores them in one INSERT. Under load one round
/// trip then carries many entries instead of one each, and two nodes contend for the chain's
/// tip once per batch, not once per entry. A task rather than a lock the callers share, so a
/// request dropped half-way (its client gone) cannot leave other callers' entries unwritten.
pub struct AuditLog {
    db: Db,
    queue: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the writer (needs the Tokio runtime); it stops when the log is dropped.
    pub fn new(db: Db) -> Self {
        let (queue, waiting) = mpsc::channel(4 * BATCH);
        tokio::spawn(Writer { db: db.clone(), last: None }.run(waiting));
        AuditLog { db, queue }
    }

    /// Appends an entry from its parts; what backend operations call after acting.
    pub async fn record(&self, actor: &str, action: &str, target: &str, client: &str, outcome: &str) -> Result<()> {
        self.append(Event { actor, action, target, client, outcome }).await.map(|_| ())
    }

    /// Records a refusal (`denied: …`) or failure (`failed: …`), then returns it; the audit
    /// write's own failure wins if there is one. A failure that is not a refusal (the
    /// database, say) is recorded without its details, which stay in the server's log.
    pub async fn refuse<T>(&self, actor: &str, action: &str, target: &str, client: &str, err: impl Into<Error>) -> Result<T> {
        let err = err.into();
        let outcome = match err.api() {
            Some(e @ (ApiError::Forbidden | ApiError::Unauthorized { .. } | ApiError::RateLimited { .. })) => format!("denied: {e}"),
            Some(e) => format!("failed: {e}"),
            None => "failed: internal error".to_owned(),
        };
        self.record(actor, action, target, client, &outcome).await?;
        Err(err)
    }

    /// The access check every per-record operation makes: a record the actor may not `read`
    /// is a 404 (its existence is not disclosed), then `action` decides; refusals are audited
    /// under `name`.
    pub async fn authorized<R>(
        &self,
        ctx: &Ctx,
        name: &str,
        id: &str,
        row: Option<R>,
        read: fn(&R) -> Action<'_>,
        action: fn(&R) -> Action<'_>,
    ) -> Result<R> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        let Some(row) = row else {
            return self.refuse(&actor.user_id, name, id, client, ApiError::NotFound).await;
        };
        if authorize(actor, read(&row)).is_err() {
            return self.refuse(&actor.user_id, name, id, client, ApiError::NotFound).await;
        }
        if let Err(e) = authorize(actor, action(&row)) {
            return self.refuse(&actor.user_id, name, id, client, e).await;
        }
        Ok(row)
    }

    /// Appends `e` and returns it once it is stored.
    pub async fn append(&self, e: Event<'_>) -> Result<AuditEntry> {
        let (done, answer) = oneshot::channel();
        let p = Pending {
            actor: e.actor.to_owned(),
            action: e.action.to_owned(),
            target: e.target.to_owned(),
            client: e.client.to_owned(),
            outcome: e.outcome.to_owned(),
            done,
        };
        let stopped = || Error::internal("the audit writer has stopped");
        self.queue.send(p).await.map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    pub async fn list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut cond = Vec::new();
        if q.actor.as_deref().is_some_and(|s| !s.is_empty()) {
            // A user id, or a username (as the page shows them).
            cond.push("(actor = $actor OR actor IN (SELECT VALUE uid FROM account WHERE username = $actor))");
        }
        if q.action.as_deref().is_some_and(|s| !s.is_empty()) {
            cond.push("string::starts_with(action, $action)");
        }
        if q.outcome.as_deref().is_some_and(|s| !s.is_empty()) {
            cond.push("string::starts_with(outcome, $outcome)");
        }
        let filter = if cond.is_empty() { String::new() } else { format!("WHERE {}", cond.join(" AND ")) };
        let limit = q.limit.unwrap_or(100).clamp(1, 1000) as i64;
        let sql = format!("SELECT * OMIT id FROM audit {filter} ORDER BY seq DESC LIMIT $limit");
        let mut r = self
            .db
            .query(sql)
            .bind(("actor", q.actor.clone().unwrap_or_default()))
            .bind(("action", q.action.clone().unwrap_or_default()))
            .bind(("outcome", q.outcome.clone().unwrap_or_default()))
            .bind(("limit", limit))
            .await?;
        let rows: Vec<AuditRow> = r.take(0)?;
        let mut entries: Vec<AuditEntry> = rows.into_iter().map(AuditEntry::from).collect();
        self.name(&mut entries).await?;
        Ok(entries)
    }

    /// Puts the names of the accounts, datasets and federations the entries point at beside
    /// their ids (one query per table, whatever the number of entries).
    async fn name(&self, entries: &mut [AuditEntry]) -> Result<()> {
        let mut ids: Vec<String> = entries.iter().flat_map(|e| [e.actor.clone(), e.target.clone()]).collect();
        ids.sort();
        ids.dedup();
        let mut r = self
            .db
            .query("SELECT uid, username AS name FROM account WHERE uid IN $ids")
            .query("SELECT uid, name FROM dataset WHERE uid IN $ids")
            .query("SELECT uid, name FROM federation WHERE uid IN $ids")
            .bind(("ids", ids))
            .await?;
        let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for table in 0..3 {
            let rows: Vec<NameRow> = r.take(table)?;
            names.extend(rows.into_iter().map(|n| (n.uid, n.name)));
        }
        for e in entries {
            e.actor_name = names.get(&e.actor).cloned();
            e.target_name = names.get(&e.target).cloned();
        }
        Ok(())
    }
}

/// Where the chain is broken, described for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit log broken at entry {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: u64,
    pub reason: String,
}

/// The one task that writes this process's audit entries (see [`AuditLog`]).
struct Writer {
    db: Db,
    /// The last (seq, hash) written, so appends need not read it back. Across processes, the
    /// unique index on `seq` rejects a fork and we retry.
    last: Option<(u64, String)>,
}

impl Writer {
    async fn run(mut self, mut waiting: mpsc::Receiver<Pending>) {
        let mut part = Vec::with_capacity(BATCH);
        while waiting.recv_many(&mut part, BATCH).await > 0 {
            match self.write(&part).await {
                Ok(rows) => {
                    for (p, row) in part.drain(..).zip(rows) {
                        let _ = p.done.send(Ok(row.into()));
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    for p in part.drain(..) {
                        let _ = p.done.send(Err(Error::internal(format!("writing the audit log: {message}"))));
                    }
                }
            }
        }
    }

    /// Chains `part` onto the tip and stores it in one statement (one transaction), re-reading
    /// the tip and chaining again when another node appended first.
    async fn write(&mut self, part: &[Pending]) -> Result<Vec<AuditRow>> {
        for _ in 0..16 {
            let (mut seq, mut prev) = match self.last.take() {
                Some(l) => l,
                None => read_last(&self.db).await?,
            };
            let mut rows = Vec::with_capacity(part.len());
            for p in part {
                seq += 1;
                let at = now_rfc3339();
                let e = Event { actor: &p.actor, action: &p.action, target: &p.target, client: &p.client, outcome: &p.outcome };
                let hash = entry_hash(&prev, seq, &e, &at);
                rows.push(AuditRow {
                    seq: seq as i64,
                    at,
                    actor: p.actor.clone(),
                    action: p.action.clone(),
                    target: p.target.clone(),
                    client: p.client.clone(),
                    outcome: p.outcome.clone(),
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                });
            }
            let res = self.db.query("INSERT INTO audit $rows RETURN NONE").bind(("rows", rows.clone())).await.and_then(|r| r.check());
            match res {
                Ok(_) => {
                    self.last = Some((seq, prev));
                    return Ok(rows);
                }
                Err(err) if super::error::violated_index(&err) == Some("audit_seq") || super::db::is_conflict(&err) => {
                    // Another node appended first (its entry holds one of these sequence
                    // numbers, or its write conflicted with ours): after a short random wait,
                    // so that two nodes do not collide again, re-read the tip and chain onto it.
                    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(1..=20))).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::internal("the audit log stayed contended through every retry"))
    }
}

/// The stored tip: the last (seq, hash), or (0, genesis) for an empty log.
async fn read_last(db: &Db) -> Result<(u64, String)> {
    let mut r = db.query("SELECT * OMIT id FROM audit ORDER BY seq DESC LIMIT 1").await?;
    let row: Option<AuditRow> = r.take(0)?;
    Ok(row.map(|r| (r.seq.max(0) as u64, r.hash)).unwrap_or((0, GENESIS.to_owned())))
}

/// Walks the whole log in order, page by page, and checks every link. Returns the number of
/// entries when the chain is intact.
pub async fn verify(db: &Db) -> Result<Result<u64, ChainBreak>, surrealdb::Error> {
    let mut prev = GENESIS.to_owned();
    let mut expected_seq: u64 = 1;
    loop {
        let mut r = db
            .query("SELECT * OMIT id FROM audit WHERE seq >= $from ORDER BY seq ASC LIMIT 1000")
            .bind(("from", expected_seq as i64))
            .await?;
        let rows: Vec<AuditRow> = r.take(0)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let seq = row.seq.max(0) as u64;
            if seq != expected_seq {
                return Ok(Err(ChainBreak { seq: expected_seq, reason: format!("entry missing (next stored is {seq})") }));
            }
            if row.prev_hash != prev {
                return Ok(Err(ChainBreak { seq, reason: "does not link to the entry before it".into() }));
            }
            let e = Event { actor: &row.actor, action: &row.action, target: &row.target, client: &row.client, outcome: &row.outcome };
            if entry_hash(&prev, seq, &e, &row.at) != row.hash {
                return Ok(Err(ChainBreak { seq, reason: "its contents do not match its hash (modified)".into() }));
            }
            prev = row.hash;
            expected_seq += 1;
        }
    }
    // A removed tail is invisible to the chain itself; the count is printed so it can be compared.
    Ok(Ok(expected_seq - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_of_the_documented_bytes() {
        let e = Event { actor: "u1", action: "auth.login", target: "alice", client: "127.0.0.1", outcome: "ok" };
        let h = entry_hash(GENESIS, 1, &e, "2026-01-01T00:00:00Z");
        let input = format!("{GENESIS}\n[1,\"2026-01-01T00:00:00Z\",\"u1\",\"auth.login\",\"alice\",\"127.0.0.1\",\"ok\"]");
        assert_eq!(h, sha256_hex(input.as_bytes()));
        // Any field changes the hash.
        let e2 = Event { outcome: "denied: x", ..e.clone() };
        assert_ne!(h, entry_hash(GENESIS, 1, &e2, "2026-01-01T00:00:00Z"));
        assert_ne!(h, entry_hash(GENESIS, 2, &e, "2026-01-01T00:00:00Z"));
    }
}
