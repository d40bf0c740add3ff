//! A federation's history as events: appended with a sequence number, persisted, broadcast,
//! replayed to a late subscriber and then followed live (like a job's).

use serde::Deserialize;
use surrealdb::types::SurrealValue;
use tokio::sync::mpsc;

use app::model::federation::{FederationEvent, FederationEventRecord};
use app::model::ApiError;

use super::{corrupt, Federations};
use crate::backend::authz::Ctx;
use crate::backend::error::Result;
use crate::backend::events::follow;
use crate::backend::util::now_rfc3339_ms;

#[derive(Debug, Clone, SurrealValue)]
struct EventRow {
    federation: String,
    seq: i64,
    at: String,
    event: serde_json::Value,
}

impl Federations {
    /// Appends an event to a federation's history and broadcasts it.
    pub(super) async fn publish(&self, id: &str, event: FederationEvent) -> Result<()> {
        let mut r = self
            .db
            .query("UPDATE federation SET next_seq += 1 WHERE uid = $id RETURN VALUE next_seq")
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        let seq: Option<i64> = r.take(0)?;
        let seq = seq.ok_or(ApiError::NotFound)?;
        let record = FederationEventRecord { seq: seq as u64, at: now_rfc3339_ms(), event };
        let row = EventRow { federation: id.to_owned(), seq, at: record.at.clone(), event: serde_json::to_value(&record.event)? };
        self.db.query("CREATE federation_event CONTENT $row").bind(("row", row)).await?.check()?;
        let _ = self.events.send((id.to_owned(), record));
        Ok(())
    }

    /// Events after `after`, then live ones until the federation's last.
    pub async fn subscribe(&self, ctx: &Ctx, id: &str, after: u64) -> Result<mpsc::Receiver<FederationEventRecord>> {
        self.readable(ctx, "federation.events", id).await?;
        let (db, key) = (self.db.clone(), id.to_owned());
        let (ended_db, ended_key) = (db.clone(), key.clone());
        Ok(follow(
            self.events.subscribe(),
            key.clone(),
            after,
            move |after| {
                let (db, key) = (db.clone(), key.clone());
                async move { history(&db, &key, after).await }
            },
            move || async move { ended(&ended_db, &ended_key).await },
        ))
    }
}

async fn ended(db: &crate::backend::db::Db, id: &str) -> bool {
    let r = db.query("SELECT VALUE status FROM federation WHERE uid = $id").bind(("id", id.to_owned())).await;
    match r.and_then(|mut r| r.take::<Option<String>>(0)) {
        Ok(Some(s)) => matches!(s.as_str(), "finished" | "failed"),
        _ => true,
    }
}

async fn history(db: &crate::backend::db::Db, id: &str, after: u64) -> Result<Vec<FederationEventRecord>> {
    let mut r = db
        .query("SELECT * OMIT id FROM federation_event WHERE federation = $id AND seq > $after ORDER BY seq")
        .bind(("id", id.to_owned()))
        .bind(("after", after as i64))
        .await?;
    let rows: Vec<EventRow> = r.take(0)?;
    rows.into_iter()
        .map(|e| {
            Ok(FederationEventRecord {
                seq: e.seq.max(0) as u64,
                at: e.at,
                event: FederationEvent::deserialize(&e.event).map_err(|_| corrupt("event"))?,
            })
        })
        .collect()
}
