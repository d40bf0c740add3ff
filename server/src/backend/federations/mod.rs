//! Federations: declared in an area, seen and joined by the people of that area (admins see
//! all); their rounds of secure aggregation (`rounds`) and their event stream (`events`).

mod events;
mod rounds;

pub use rounds::{Incoming, Receipt};

use serde::Deserialize;
use surrealdb::types::SurrealValue;

use app::fl::train::FlTask;
use std::sync::Arc;

use app::model::federation::{FederationEventRecord, FederationInfo, FederationStatus, NewFederation, Phase};
use app::model::ApiError;

use super::audit::AuditLog;
use super::authz::{authorize, Action, Actor, Ctx};
use super::db::Db;
use super::models::Models;
use super::util::{now_ms, now_rfc3339, random_id};
use crate::backend::error::{violated_index, Error, Result};

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct FederationRow {
    uid: String,
    name: String,
    owner_id: String,
    owner: String,
    domain: String,
    subdomain: String,
    task: serde_json::Value,
    rounds: i64,
    min_participants: i64,
    threshold: i64,
    round_timeout_secs: i64,
    status: String,
    created_at: String,
    created_ms: i64,
    /// The number the next opened round gets, and the next event's sequence number.
    next_round: i64,
    next_seq: i64,
    /// Rounds abandoned in a row (reset by an aggregated one).
    abandoned: i64,
    /// The statistics' global means and the latest global model's (`app::fl::plan::Known`).
    means: Option<Vec<f64>>,
    params: Option<Vec<f64>>,
    model_id: Option<String>,
    failure: Option<String>,
    /// A private federation's training rounds counted by the accountant (skipped ones too).
    dp_rounds: Option<i64>,
}

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct MemberRow {
    federation: String,
    user_id: String,
    /// The participant's number in every round (1, 2, … in the order of joining).
    number: i64,
    joined_at: String,
}

fn corrupt(what: &str) -> Error {
    Error::internal(format!("the stored federation record is unreadable ({what})"))
}

impl FederationRow {
    fn read_action(&self) -> Action<'_> {
        Action::ReadFederation { domain: &self.domain, subdomain: &self.subdomain }
    }

    fn join_action(&self) -> Action<'_> {
        Action::JoinFederation { domain: &self.domain, subdomain: &self.subdomain }
    }

    fn small(&self, v: i64, what: &str) -> Result<u16> {
        u16::try_from(v).map_err(|_| corrupt(what))
    }

    fn status(&self) -> Result<FederationStatus> {
        FederationStatus::parse(&self.status).ok_or_else(|| corrupt("status"))
    }

    fn task(&self) -> Result<FlTask> {
        FlTask::deserialize(&self.task).map_err(|_| corrupt("task"))
    }

    fn dp_rounds(&self) -> u64 {
        self.dp_rounds.unwrap_or(0).max(0) as u64
    }

    /// ε spent so far, for a private federation.
    fn epsilon(&self) -> Result<Option<f64>> {
        match self.task()?.privacy {
            Some(p) => Ok(Some(p.epsilon_after(self.dp_rounds()).map_err(|e| Error::internal(e.to_string()))?)),
            None => Ok(None),
        }
    }

    fn info(&self, members: u32, joined: bool) -> Result<FederationInfo> {
        let small = |v: i64, what: &str| self.small(v, what);
        Ok(FederationInfo {
            id: self.uid.clone(),
            name: self.name.clone(),
            owner_id: self.owner_id.clone(),
            owner: self.owner.clone(),
            domain: self.domain.clone(),
            subdomain: self.subdomain.clone(),
            task: self.task()?,
            rounds: u32::try_from(self.rounds).map_err(|_| corrupt("rounds"))?,
            min_participants: small(self.min_participants, "min_participants")?,
            threshold: small(self.threshold, "threshold")?,
            round_timeout_secs: u32::try_from(self.round_timeout_secs).map_err(|_| corrupt("round timeout"))?,
            status: self.status()?,
            model_id: self.model_id.clone(),
            failure: self.failure.clone(),
            members,
            joined,
            epsilon: self.epsilon()?,
            created_at: self.created_at.clone(),
        })
    }
}

pub struct Federations {
    db: Db,
    audit: Arc<AuditLog>,
    models: Arc<Models>,
    /// Serialises changes to round state in this process (see `rounds`).
    rounds_lock: tokio::sync::Mutex<()>,
    /// Every federation's new events, for the live streams.
    events: tokio::sync::broadcast::Sender<(String, FederationEventRecord)>,
}

impl Federations {
    pub fn new(db: Db, audit: Arc<AuditLog>, models: Arc<Models>) -> Self {
        let (events, _) = tokio::sync::broadcast::channel(256);
        Federations { db, audit, models, rounds_lock: tokio::sync::Mutex::new(()), events }
    }

    /// Closes the stages whose deadline has passed, now (a restarted server catches up at
    /// once) and then every second, until the task is aborted.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                if let Err(e) = this.tick().await {
                    tracing::warn!("closing federation rounds failed: {e}");
                }
            }
        })
    }

    /// Declares a federation in the caller's area; 422 names every field to correct.
    pub async fn create(&self, ctx: &Ctx, req: NewFederation) -> Result<FederationInfo> {
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        const ACTION: &str = "federation.create";
        let checked =
            authorize(actor, Action::CreateFederation { domain: &actor.domain, subdomain: &actor.subdomain }).and_then(|()| req.check());
        if let Err(e) = checked {
            return self.audit.refuse(&actor.user_id, ACTION, "-", client, e).await;
        }
        let row = FederationRow {
            uid: random_id(),
            name: req.name.trim().to_owned(),
            owner_id: actor.user_id.clone(),
            owner: actor.username.clone(),
            domain: actor.domain.clone(),
            subdomain: actor.subdomain.clone(),
            task: serde_json::to_value(&req.task)?,
            rounds: i64::from(req.rounds),
            min_participants: i64::from(req.min_participants),
            threshold: i64::from(req.threshold),
            round_timeout_secs: i64::from(req.round_timeout_secs),
            status: FederationStatus::Open.as_str().to_owned(),
            created_at: now_rfc3339(),
            created_ms: now_ms(),
            next_round: 0,
            next_seq: 0,
            abandoned: 0,
            means: None,
            params: None,
            model_id: None,
            failure: None,
            dp_rounds: Some(0),
        };
        self.db.query("CREATE federation CONTENT $row").bind(("row", row.clone())).await?.check()?;
        self.audit.record(&actor.user_id, ACTION, &row.uid, client, "ok").await?;
        // The first round waits for its participants from now on.
        let _serial = self.rounds_lock.lock().await;
        self.open_round(&row, Phase::Statistics).await?;
        row.info(0, false)
    }

    /// The federations the actor may see (their area's; admins all), newest first.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<FederationInfo>> {
        let mut r = self
            .db
            .query("SELECT * OMIT id FROM federation WHERE $admin OR (domain = $d AND subdomain = $s) ORDER BY created_ms DESC, uid")
            .bind(("admin", actor.is_admin()))
            .bind(("d", actor.domain.clone()))
            .bind(("s", actor.subdomain.clone()))
            .await?;
        let rows: Vec<FederationRow> = r.take(0)?;
        // Every listed federation's members in one query, not one query per federation.
        let ids: Vec<String> = rows.iter().map(|f| f.uid.clone()).collect();
        let mut r = self.db.query("SELECT * OMIT id FROM federation_member WHERE federation IN $ids").bind(("ids", ids)).await?;
        let members: Vec<MemberRow> = r.take(0)?;
        rows.iter()
            .map(|f| {
                let of = members.iter().filter(|m| m.federation == f.uid);
                let joined = of.clone().any(|m| m.user_id == actor.user_id);
                f.info(of.count() as u32, joined)
            })
            .collect()
    }

    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<FederationInfo> {
        let row = self.readable(ctx, "federation.read", id).await?;
        let (members, joined) = self.membership(id, &ctx.actor.user_id).await?;
        row.info(members, joined)
    }

    /// Joins the caller to a federation of their area. Joining twice is no error (the answer
    /// says `joined`); a federation that has ended takes nobody (409).
    pub async fn join(&self, ctx: &Ctx, id: &str) -> Result<FederationInfo> {
        const ACTION: &str = "federation.join";
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        let row =
            self.audit.authorized(ctx, ACTION, id, self.row(id).await?, FederationRow::read_action, FederationRow::join_action).await?;
        let status = FederationStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?;
        if matches!(status, FederationStatus::Finished | FederationStatus::Failed) {
            let e = ApiError::Conflict { message: format!("the federation has {}; it takes no new members", status.as_str()), field: None };
            return self.audit.refuse(&actor.user_id, ACTION, id, client, e).await;
        }
        // Numbers follow the order of joining. Joins are serialised in this process (the rounds'
        // lock); the unique index still guards the number, and a loser takes the next.
        let _serial = self.rounds_lock.lock().await;
        for _ in 0..8 {
            let number = self.member_numbers(id).await?.last().map_or(1, |n| i64::from(*n) + 1);
            let member = MemberRow { federation: id.to_owned(), user_id: actor.user_id.clone(), number, joined_at: now_rfc3339() };
            match self.db.query("CREATE federation_member CONTENT $row").bind(("row", member)).await.and_then(|r| r.check()) {
                Ok(_) => {
                    self.audit.record(&actor.user_id, ACTION, id, client, &format!("ok: participant {number}")).await?;
                    break;
                }
                // Already a member: the unique index says so; nothing changes.
                Err(e) if violated_index(&e) == Some("federation_member_pair") => break,
                Err(e) if violated_index(&e) == Some("federation_member_number") => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let (members, joined) = self.membership(id, &actor.user_id).await?;
        row.info(members, joined)
    }

    /// The federation if the caller may see it (404 otherwise, audited under `action`).
    async fn readable(&self, ctx: &Ctx, action: &str, id: &str) -> Result<FederationRow> {
        self.audit.authorized(ctx, action, id, self.row(id).await?, FederationRow::read_action, FederationRow::read_action).await
    }

    /// `user`'s participant number in the federation, if a member.
    async fn member_number(&self, id: &str, user: &str) -> Result<Option<u16>> {
        let mut r = self
            .db
            .query("SELECT VALUE number FROM federation_member WHERE federation = $id AND user_id = $user")
            .bind(("id", id.to_owned()))
            .bind(("user", user.to_owned()))
            .await?;
        let n: Option<i64> = r.take(0)?;
        n.map(|n| u16::try_from(n).map_err(|_| corrupt("member number"))).transpose()
    }

    /// Every member's number, ascending.
    async fn member_numbers(&self, id: &str) -> Result<Vec<u16>> {
        let mut r = self
            .db
            .query("SELECT VALUE number FROM federation_member WHERE federation = $id ORDER BY number")
            .bind(("id", id.to_owned()))
            .await?;
        let v: Vec<i64> = r.take(0)?;
        Ok(v.into_iter().filter_map(|n| u16::try_from(n).ok()).collect())
    }

    async fn row(&self, id: &str) -> Result<Option<FederationRow>> {
        let mut r = self.db.query("SELECT * OMIT id FROM federation WHERE uid = $id LIMIT 1").bind(("id", id.to_owned())).await?;
        Ok(r.take::<Option<FederationRow>>(0)?)
    }

    /// The caller's ledger in every private federation they have joined (their profile shows
    /// them), newest federation first.
    pub async fn ledgers(&self, ctx: &Ctx) -> Result<Vec<app::model::federation::PrivacyLedger>> {
        let mut r =
            self.db.query("SELECT * OMIT id FROM federation_member WHERE user_id = $me").bind(("me", ctx.actor.user_id.clone())).await?;
        let memberships: Vec<MemberRow> = r.take(0)?;
        let mut out = vec![];
        for m in memberships {
            let Some(fed) = self.row(&m.federation).await? else { continue };
            let number = fed.small(m.number, "member number")?;
            if let Some(ledger) = self.ledger(&fed, number).await? {
                out.push((fed.created_ms, ledger));
            }
        }
        out.sort_by_key(|l| std::cmp::Reverse(l.0));
        Ok(out.into_iter().map(|(_, l)| l).collect())
    }

    /// How many have joined, and whether `user` is among them.
    async fn membership(&self, id: &str, user: &str) -> Result<(u32, bool)> {
        let mut r = self.db.query("SELECT VALUE user_id FROM federation_member WHERE federation = $id").bind(("id", id.to_owned())).await?;
        let members: Vec<String> = r.take(0)?;
        Ok((members.len() as u32, members.iter().any(|m| m == user)))
    }
}
