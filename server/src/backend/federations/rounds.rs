//! The server's side of the round protocol (`docs/federated.md`, "Rounds"): it relays keys
//! and envelopes, keeps the masked vectors, closes each stage when everyone expected has sent
//! or its deadline passes, and unmasks the sum with the survivors' reveals. Every message and
//! every stage lives in SurrealDB, so a restarted server carries on where it stopped (the
//! deadlines are absolute times); participants keep their secrets and retry.
//!
//! One lock serialises the changes to round state in this process: a message and the stage
//! it may close must not interleave with another. (Several nodes would need the database to
//! serialise them; that is the scale-out issue's.)

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use surrealdb::types::SurrealValue;

use app::fl::masks::{Advertised, RoundContext};
use app::fl::plan::{self, Known, Outcome};
use app::fl::round::Unmasker;
use app::fl::train::{FlModel, GlobalModel};
use app::fl::{wire, FlError};
use app::ml::dqn::{DqnModel, DqnParams};
use app::ml::model::{AnyModel, LinearModel, LogisticModel, LogisticParams, ModelKind};
use app::model::artifact::{ModelArtifact, ARTIFACT_FORMAT, ARTIFACT_VERSION};
use app::model::federation::{
    ActiveRound, Envelope, FederationEvent, FederationStatus, InputMessage, KeysMessage, Phase, PrivacyLedger, RevealMessage, RosterEntry,
    RoundResult, RoundView, SharesMessage, Stage,
};
use app::model::{ApiError, FieldErrors};

use super::{corrupt, FederationRow, Federations};
use crate::backend::authz::Ctx;
use crate::backend::db::{committed, retry_conflicts};
use crate::backend::error::{violated_index, Error, Result};
use crate::backend::models::ModelOwner;
use crate::backend::util::{now_ms, now_rfc3339, random_id};

/// A round's end (`$state` `done` or `abandoned`): its messages go, since nothing needs them
/// once the round is over (the masked vectors least of all). Callers run it inside
/// `BEGIN; … COMMIT;` with the rest of the change it belongs to: statements sent together are
/// otherwise separate transactions, and a view taken between them would show half the change.
/// Each such write goes through `retry_conflicts` and `committed`: nodes sharing a SurrealDB
/// server each run their own deadline sweep, and a transaction the store refuses must not
/// leave a round waiting for its deadline.
const END_ROUND: &str = "UPDATE fl_round SET state = $state WHERE federation = $id AND round = $r;
    DELETE fl_message WHERE federation = $id AND round = $r;";

/// The federation `$id`'s open round, if any.
const OPEN_ROUND: &str = "SELECT * OMIT id FROM fl_round WHERE federation = $id AND state = 'open' ORDER BY round DESC LIMIT 1;";

/// Consecutive abandoned rounds after which a federation fails instead of trying again.
const MAX_ABANDONED: i64 = 5;

/// A message for the current stage, as the routes parse it.
pub enum Incoming {
    Keys(KeysMessage),
    Shares(SharesMessage),
    Input(InputMessage),
    Reveal(RevealMessage),
}

impl Incoming {
    fn stage(&self) -> Stage {
        match self {
            Incoming::Keys(_) => Stage::Keys,
            Incoming::Shares(_) => Stage::Shares,
            Incoming::Input(_) => Stage::Input,
            Incoming::Reveal(_) => Stage::Reveal,
        }
    }
}

/// How far the stage is, for the sender's answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Receipt {
    pub round: u32,
    pub stage: Stage,
    pub received: u32,
    pub expected: u32,
}

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct RoundRow {
    pub federation: String,
    pub round: i64,
    pub phase: serde_json::Value,
    pub stage: String,
    /// `open`, `done` or `abandoned`.
    pub state: String,
    pub opened_ms: i64,
    pub deadline_ms: i64,
    /// `U1` with what each advertised, from the shares stage on.
    pub roster: serde_json::Value,
    /// `U2`: who sent their envelopes.
    pub sharers: Vec<i64>,
    /// `U3` and `D`, from the reveal stage on.
    pub survivors: Vec<i64>,
    pub dropped: Vec<i64>,
    /// A private federation's training round: the members sampled (only they take part), and
    /// how many members there were to sample from.
    pub sampled: Option<Vec<i64>>,
    pub population: Option<i64>,
}

#[derive(Debug, Clone, SurrealValue)]
struct MessageRow {
    federation: String,
    round: i64,
    stage: String,
    sender: i64,
    body: String,
    at_ms: i64,
}

#[derive(Debug, Clone, SurrealValue)]
pub(super) struct ResultRow {
    pub federation: String,
    pub round: i64,
    pub phase: serde_json::Value,
    pub participants: i64,
    pub rows: i64,
    pub metrics: Option<serde_json::Value>,
    /// The participants whose inputs the sum holds (a private federation's ledger reads it).
    pub contributors: Option<Vec<i64>>,
    /// A private federation's training round: ε spent once it is counted.
    pub epsilon: Option<f64>,
    pub at: String,
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::Conflict { message: message.into(), field: None }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    let mut fields = FieldErrors::new();
    fields.insert(field.to_owned(), message.to_string());
    ApiError::Validation { fields }
}

fn numbers(v: &[i64]) -> BTreeSet<u16> {
    v.iter().filter_map(|n| u16::try_from(*n).ok()).collect()
}

impl RoundRow {
    fn phase(&self) -> Result<Phase> {
        Phase::deserialize(&self.phase).map_err(|_| corrupt("round phase"))
    }

    fn stage(&self) -> Result<Stage> {
        Stage::parse(&self.stage).ok_or_else(|| corrupt("round stage"))
    }

    fn number(&self) -> Result<u32> {
        u32::try_from(self.round).map_err(|_| corrupt("round number"))
    }

    fn roster(&self) -> Result<Vec<RosterEntry>> {
        Vec::<RosterEntry>::deserialize(&self.roster).map_err(|_| corrupt("round roster"))
    }

    fn advertised(&self) -> Result<Vec<(u16, Advertised)>> {
        self.roster()?.iter().map(|e| Ok((e.number, wire::advertised(&e.keys).map_err(|_| corrupt("roster keys"))?))).collect()
    }
}

impl FederationRow {
    /// What the federation knows, without a round's particulars.
    fn known(&self) -> Known {
        Known { means: self.means.clone(), params: self.params.clone(), threshold: 0, population: 0 }
    }

    /// What round `r`'s outcome is made with: the threshold and the members it sampled from.
    fn known_in(&self, r: &RoundRow) -> Known {
        Known {
            threshold: u16::try_from(self.threshold).unwrap_or(u16::MAX),
            population: r.population.unwrap_or(0).max(0) as u32,
            ..self.known()
        }
    }

    fn context(&self, round: u32) -> RoundContext {
        RoundContext { federation: self.uid.clone(), round }
    }
}

impl Federations {
    /// The next round number of a federation.
    async fn next_round_number(&self, id: &str) -> Result<i64> {
        let mut r = self
            .db
            .query("UPDATE federation SET next_round += 1 WHERE uid = $id RETURN VALUE next_round")
            .bind(("id", id.to_owned()))
            .await?;
        let round: Option<i64> = r.take(0)?;
        Ok(round.ok_or(ApiError::NotFound)?)
    }

    /// Opens the next round (`phase`) of a federation: its keys stage. A private federation's
    /// training round first asks the accountant whether the budget allows it (if not, training
    /// ends and the evaluation opens) and samples its members; a sample smaller than the
    /// threshold is a skipped round, counted, and the next step is tried.
    pub(super) async fn open_round(&self, fed: &FederationRow, phase: Phase) -> Result<()> {
        let id = fed.uid.as_str();
        let mut phase = phase;
        let (mut sampled, mut population) = (None, None);
        if let Some(privacy) = fed.task()?.privacy {
            let mut counted = fed.dp_rounds();
            while let Phase::Train { .. } = phase {
                if !privacy.budget_allows(counted)? {
                    let epsilon = privacy.epsilon_after(counted)?;
                    let event = FederationEvent::BudgetReached { epsilon, budget: privacy.epsilon, rounds: counted as u32 };
                    self.publish(id, event).await?;
                    phase = Phase::Evaluate;
                    break;
                }
                let members = self.member_numbers(id).await?;
                let sample = privacy.sample(&members).map_err(|e| Error::internal(e.to_string()))?;
                if sample.len() >= fed.threshold as usize {
                    sampled = Some(sample.iter().map(|n| i64::from(*n)).collect::<Vec<_>>());
                    population = Some(members.len() as i64);
                    break;
                }
                let round = self.next_round_number(id).await?;
                counted += 1;
                self.db
                    .query("UPDATE federation SET dp_rounds = $n WHERE uid = $id")
                    .bind(("n", counted as i64))
                    .bind(("id", id.to_owned()))
                    .await?
                    .check()?;
                let epsilon = privacy.epsilon_after(counted)?;
                let needed = fed.threshold as u32;
                self.publish(id, FederationEvent::Skipped { round: round as u32, sampled: sample.len() as u32, needed, epsilon }).await?;
                phase = phase.next(fed.rounds as u32).unwrap_or(Phase::Evaluate);
            }
        }
        let round = self.next_round_number(id).await?;
        let now = now_ms();
        let row = RoundRow {
            federation: fed.uid.clone(),
            round,
            phase: serde_json::to_value(phase)?,
            stage: Stage::Keys.as_str().into(),
            state: "open".into(),
            opened_ms: now,
            deadline_ms: now + fed.round_timeout_secs * 1000,
            roster: serde_json::json!([]),
            sharers: vec![],
            survivors: vec![],
            dropped: vec![],
            sampled,
            population,
        };
        self.db.query("CREATE fl_round CONTENT $row").bind(("row", row)).await?.check()?;
        self.publish(&fed.uid, FederationEvent::RoundOpened { round: round as u32, phase }).await
    }

    async fn current_round(&self, id: &str) -> Result<Option<RoundRow>> {
        let mut r = self.db.query(OPEN_ROUND).bind(("id", id.to_owned())).await?;
        Ok(r.take::<Option<RoundRow>>(0)?)
    }

    async fn messages(&self, id: &str, round: i64, stage: Stage) -> Result<Vec<MessageRow>> {
        let mut r = self
            .db
            .query("SELECT * OMIT id FROM fl_message WHERE federation = $id AND round = $round AND stage = $stage ORDER BY sender")
            .bind(("id", id.to_owned()))
            .bind(("round", round))
            .bind(("stage", stage.as_str()))
            .await?;
        Ok(r.take(0)?)
    }

    async fn senders(&self, id: &str, round: i64, stage: Stage) -> Result<BTreeSet<u16>> {
        let mut r = self
            .db
            .query("SELECT VALUE sender FROM fl_message WHERE federation = $id AND round = $round AND stage = $stage")
            .bind(("id", id.to_owned()))
            .bind(("round", round))
            .bind(("stage", stage.as_str()))
            .await?;
        let v: Vec<i64> = r.take(0)?;
        Ok(numbers(&v))
    }

    /// Who may send in the round's current stage.
    async fn expected(&self, fed: &FederationRow, round: &RoundRow) -> Result<BTreeSet<u16>> {
        let members = match (round.stage()?, &round.sampled) {
            (Stage::Keys, None) => self.member_numbers(&fed.uid).await?,
            _ => vec![],
        };
        expected_of(round, &members)
    }

    /// What `ctx`'s participant sees of the federation's rounds, all from one `snapshot`.
    pub async fn round_view(&self, ctx: &Ctx, id: &str) -> Result<RoundView> {
        let snap = self.snapshot(id).await?;
        let fed = self
            .audit
            .authorized(ctx, "federation.round", id, snap.fed.clone(), FederationRow::read_action, FederationRow::read_action)
            .await?;
        let you = snap.members.iter().find(|m| m.user_id == ctx.actor.user_id).map(|m| fed.small(m.number, "member number")).transpose()?;
        let round = snap.round.as_ref().map(|r| active(&fed, r, you, &snap)).transpose()?;
        let privacy = match you {
            Some(me) => ledger_of(&fed, me, &snap.results)?,
            None => None,
        };
        let results = results_of(snap.results)?;
        Ok(RoundView {
            status: fed.status()?,
            you,
            means: fed.means.clone(),
            params: fed.params.clone(),
            round,
            results,
            model_id: fed.model_id.clone(),
            failure: fed.failure.clone(),
            privacy,
        })
    }

    /// Participant `me`'s ledger in a private federation (`None` without privacy).
    pub(super) async fn ledger(&self, fed: &FederationRow, me: u16) -> Result<Option<PrivacyLedger>> {
        if fed.task()?.privacy.is_none() {
            return Ok(None);
        }
        let mut r =
            self.db.query("SELECT * OMIT id FROM fl_result WHERE federation = $id ORDER BY round").bind(("id", fed.uid.clone())).await?;
        ledger_of(fed, me, &r.take::<Vec<ResultRow>>(0)?)
    }

    /// Everything a round view shows, read in one transaction. A round's end writes its
    /// result and the federation's means together and deletes the round's messages, so a
    /// view read in parts could pair a result with the means from before it, or show an open
    /// round with nothing sent (its messages just deleted): a participant would then compute
    /// on old means, or send again into a round that has closed.
    async fn snapshot(&self, id: &str) -> Result<Snapshot> {
        let mut r = self
            .db
            .query(format!(
                "BEGIN;
                SELECT * OMIT id FROM federation WHERE uid = $id LIMIT 1;
                {OPEN_ROUND}
                SELECT * OMIT id FROM fl_result WHERE federation = $id ORDER BY round;
                SELECT * OMIT id FROM federation_member WHERE federation = $id ORDER BY number;
                SELECT round, stage, sender FROM fl_message WHERE federation = $id;
                SELECT * OMIT id FROM fl_message WHERE federation = $id AND stage = 'shares'
                    AND round IN (SELECT VALUE round FROM fl_round WHERE federation = $id AND state = 'open' AND stage = 'input')
                    ORDER BY sender;
                COMMIT;"
            ))
            .bind(("id", id.to_owned()))
            .await?;
        // `BEGIN` and `COMMIT` have a (empty) response each: the selects are 1 to 6.
        Ok(Snapshot { fed: r.take(1)?, round: r.take(2)?, results: r.take(3)?, members: r.take(4)?, sent: r.take(5)?, shares: r.take(6)? })
    }

    /// A participant's message for round `round`'s current stage. Refusals say what is wrong
    /// (409 for the wrong round, stage or a second message; 422 for a malformed one; 403 for
    /// a non-member) and change nothing.
    pub async fn receive(&self, ctx: &Ctx, id: &str, round: u32, incoming: Incoming) -> Result<Receipt> {
        let stage = incoming.stage();
        let action = format!("federation.round.{}", stage.as_str());
        let (actor, client) = (&ctx.actor, ctx.client.as_str());
        let _serial = self.rounds_lock.lock().await;
        let fed = self.readable(ctx, &action, id).await?;
        let checked = self.check(&fed, &actor.user_id, round, incoming).await;
        let (me, r, body) = match checked {
            Ok(v) => v,
            Err(e) => return self.audit.refuse(&actor.user_id, &action, id, client, e).await,
        };
        let row = MessageRow {
            federation: id.to_owned(),
            round: r.round,
            stage: stage.as_str().into(),
            sender: i64::from(me),
            body,
            at_ms: now_ms(),
        };
        match self.db.query("CREATE fl_message CONTENT $row").bind(("row", row)).await.and_then(|r| r.check()) {
            Ok(_) => {}
            Err(e) if violated_index(&e) == Some("fl_message_once") => {
                let e = conflict(format!("participant {me} already sent its {} for round {round}", stage.as_str()));
                return self.audit.refuse(&actor.user_id, &action, id, client, e).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.record(&actor.user_id, &action, id, client, &format!("ok: round {round}, participant {me}")).await?;
        let received = self.senders(id, r.round, stage).await?;
        let expected = self.expected(&fed, &r).await?;
        let receipt = Receipt { round, stage, received: received.len() as u32, expected: expected.len() as u32 };
        self.publish(id, FederationEvent::Received { round, stage, received: receipt.received, expected: receipt.expected }).await?;
        if expected.is_subset(&received) {
            self.advance(&fed, &r, false).await?;
        }
        Ok(receipt)
    }

    /// The sender's number, the open round and the body to store, or why not.
    async fn check(&self, fed: &FederationRow, user: &str, round: u32, incoming: Incoming) -> Result<(u16, RoundRow, String)> {
        let me = self.member_number(&fed.uid, user).await?.ok_or(ApiError::Forbidden)?;
        let stage = incoming.stage();
        let r = self.current_round(&fed.uid).await?.ok_or_else(|| match fed.status() {
            Ok(s @ (FederationStatus::Finished | FederationStatus::Failed)) => {
                conflict(format!("the federation has {}; no round is open", s.as_str()))
            }
            _ => conflict("no round is open"),
        })?;
        let open = r.number()?;
        if open != round {
            return Err(conflict(format!("round {round} is not open; round {open} is")).into());
        }
        let at = r.stage()?;
        if at != stage {
            return Err(conflict(format!("round {round} is at its {} stage, not {}", at.as_str(), stage.as_str())).into());
        }
        let not_in = |what: &str| conflict(format!("participant {me} {what} in round {round}; it takes part from the next round"));
        let body = match incoming {
            Incoming::Keys(m) => {
                if r.sampled.as_ref().is_some_and(|s| !s.contains(&i64::from(me))) {
                    return Err(conflict(format!("participant {me} was not sampled for round {round}; it waits for the next")).into());
                }
                wire::advertised(&m).map_err(|e| invalid("keys", e))?;
                serde_json::to_string(&m)?
            }
            Incoming::Shares(m) => {
                let roster: BTreeSet<u16> = r.roster()?.iter().map(|e| e.number).collect();
                if !roster.contains(&me) {
                    return Err(not_in("did not advertise keys").into());
                }
                let others: BTreeSet<u16> = roster.iter().copied().filter(|v| *v != me).collect();
                let to: Vec<u16> = m.envelopes.iter().map(|e| e.peer).collect();
                if to.len() != others.len() || to.iter().copied().collect::<BTreeSet<u16>>() != others {
                    let list: Vec<String> = others.iter().map(u16::to_string).collect();
                    return Err(invalid(
                        "envelopes",
                        format!("send one envelope to each other member of the roster ({}), each once", list.join(", ")),
                    )
                    .into());
                }
                for (i, e) in m.envelopes.iter().enumerate() {
                    wire::envelope(&format!("envelopes[{i}].sealed"), &e.sealed)
                        .map_err(|err| invalid(&format!("envelopes[{i}].sealed"), err))?;
                }
                serde_json::to_string(&m)?
            }
            Incoming::Input(m) => {
                if !numbers(&r.sharers).contains(&me) {
                    return Err(not_in("sent no shares").into());
                }
                let len = plan::vector_len(&fed.task()?, r.phase()?, &fed.known()).map_err(|e| Error::internal(e.to_string()))?;
                wire::words("masked", &m.masked, len).map_err(|e| invalid("masked", e))?;
                m.masked
            }
            Incoming::Reveal(m) => {
                let survivors = numbers(&r.survivors);
                if !survivors.contains(&me) {
                    return Err(not_in("is not among the survivors").into());
                }
                let reveals = wire::reveals("shares", &m.shares).map_err(|e| invalid("shares", e))?;
                // `add` checks that these are exactly the shares asked of `me`; it never reads
                // the inputs, so empty stand-ins keep this check from loading the vectors.
                let stand_ins = survivors.iter().map(|u| (*u, vec![])).collect();
                let mut unmasker =
                    Unmasker::new(fed.context(open), fed.threshold as usize, &r.advertised()?, &numbers(&r.sharers), stand_ins)
                        .map_err(|e| Error::internal(e.to_string()))?;
                unmasker.add(me, &reveals).map_err(|e| invalid("shares", e))?;
                m.shares
            }
        };
        Ok((me, r, body))
    }

    /// Closes stages whose deadline has passed (the ticker calls this every second).
    pub async fn tick(&self) -> Result<()> {
        let _serial = self.rounds_lock.lock().await;
        let mut r =
            self.db.query("SELECT * OMIT id FROM fl_round WHERE state = 'open' AND deadline_ms <= $now").bind(("now", now_ms())).await?;
        let due: Vec<RoundRow> = r.take(0)?;
        for round in due {
            let Some(fed) = self.row(&round.federation).await? else { continue };
            if let Err(e) = self.advance(&fed, &round, true).await {
                tracing::warn!(federation = round.federation, round = round.round, "closing a round's stage failed: {e}");
            }
        }
        Ok(())
    }

    /// Moves the round on after its stage: everyone expected has sent, or `late` (the
    /// deadline passed). Called with the rounds lock held.
    async fn advance(&self, fed: &FederationRow, r: &RoundRow, late: bool) -> Result<()> {
        let id = fed.uid.as_str();
        let t = fed.threshold as usize;
        let stage = r.stage()?;
        let round = r.number()?;
        let sent = self.senders(id, r.round, stage).await?;
        let deadline = now_ms() + fed.round_timeout_secs * 1000;
        match stage {
            Stage::Keys => {
                // A sampled round needs the threshold; the others wait for the declared number.
                let need = if r.sampled.is_some() { t } else { (fed.min_participants as usize).max(t) };
                if sent.len() < need {
                    // Nobody has committed anything yet: wait for enough participants.
                    if late {
                        self.db
                            .query("UPDATE fl_round SET deadline_ms = $d WHERE federation = $id AND round = $r")
                            .bind(("d", deadline))
                            .bind(("id", id.to_owned()))
                            .bind(("r", r.round))
                            .await?
                            .check()?;
                    }
                    return Ok(());
                }
                let mut roster = vec![];
                for m in self.messages(id, r.round, Stage::Keys).await? {
                    let keys: KeysMessage = serde_json::from_str(&m.body).map_err(|_| corrupt("stored keys"))?;
                    roster.push(RosterEntry { number: u16::try_from(m.sender).map_err(|_| corrupt("sender"))?, keys });
                }
                let roster = serde_json::to_value(&roster)?;
                retry_conflicts(|| {
                    let roster = roster.clone();
                    async move {
                        self.db
                            .query(
                                "BEGIN;
                            UPDATE fl_round SET stage = 'shares', roster = $roster, deadline_ms = $d WHERE federation = $id AND round = $r;
                            UPDATE federation SET status = 'running' WHERE uid = $id AND status = 'open';
                            COMMIT;",
                            )
                            .bind(("roster", roster))
                            .bind(("d", deadline))
                            .bind(("id", id.to_owned()))
                            .bind(("r", r.round))
                            .await
                            .and_then(committed)
                    }
                })
                .await?;
                self.publish(id, FederationEvent::StageClosed { round, stage, participants: sent.len() as u32, dropped: 0 }).await
            }
            Stage::Shares => {
                let roster = r.roster()?.len();
                if sent.len() < t {
                    return self
                        .abandon(fed, r, format!("{} of {roster} participants sent their shares; {t} are needed", sent.len()))
                        .await;
                }
                let sharers: Vec<i64> = sent.iter().map(|v| i64::from(*v)).collect();
                self.db
                    .query("UPDATE fl_round SET stage = 'input', sharers = $s, deadline_ms = $d WHERE federation = $id AND round = $r")
                    .bind(("s", sharers))
                    .bind(("d", deadline))
                    .bind(("id", id.to_owned()))
                    .bind(("r", r.round))
                    .await?
                    .check()?;
                let event =
                    FederationEvent::StageClosed { round, stage, participants: sent.len() as u32, dropped: (roster - sent.len()) as u32 };
                self.publish(id, event).await
            }
            Stage::Input => {
                let sharers = numbers(&r.sharers);
                if sent.len() < t {
                    return self
                        .abandon(fed, r, format!("{} of {} participants sent their input; {t} are needed", sent.len(), sharers.len()))
                        .await;
                }
                let survivors: Vec<i64> = sent.iter().map(|v| i64::from(*v)).collect();
                let dropped: Vec<i64> = sharers.difference(&sent).map(|v| i64::from(*v)).collect();
                let event = FederationEvent::StageClosed { round, stage, participants: sent.len() as u32, dropped: dropped.len() as u32 };
                self.db.query("UPDATE fl_round SET stage = 'reveal', survivors = $s, dropped = $x, deadline_ms = $d WHERE federation = $id AND round = $r")
                    .bind(("s", survivors)).bind(("x", dropped)).bind(("d", deadline)).bind(("id", id.to_owned())).bind(("r", r.round)).await?.check()?;
                self.publish(id, event).await
            }
            Stage::Reveal => self.unmask(fed, r).await,
        }
    }

    async fn unmask(&self, fed: &FederationRow, r: &RoundRow) -> Result<()> {
        let (id, round, phase) = (fed.uid.as_str(), r.number()?, r.phase()?);
        let task = fed.task()?;
        let known = fed.known_in(r);
        let len = plan::vector_len(&task, phase, &known).map_err(|e| Error::internal(e.to_string()))?;
        let mut inputs = BTreeMap::new();
        for m in self.messages(id, r.round, Stage::Input).await? {
            let words = wire::words("masked", &m.body, len).map_err(|_| corrupt("stored input"))?;
            inputs.insert(u16::try_from(m.sender).map_err(|_| corrupt("sender"))?, words);
        }
        let survivors = inputs.len();
        let contributors: Vec<i64> = inputs.keys().map(|n| i64::from(*n)).collect();
        let unmasked = Unmasker::new(fed.context(round), fed.threshold as usize, &r.advertised()?, &numbers(&r.sharers), inputs);
        let mut unmasker = match unmasked {
            Ok(u) => u,
            Err(e) => return self.abandon(fed, r, e.to_string()).await,
        };
        for m in self.messages(id, r.round, Stage::Reveal).await? {
            let from = u16::try_from(m.sender).map_err(|_| corrupt("sender"))?;
            let reveals = wire::reveals("shares", &m.body).map_err(|_| corrupt("stored reveal"))?;
            // Checked when it arrived; a refusal now would be a bug, and the round is then
            // abandoned below rather than unmasked with it.
            if let Err(e) = unmasker.add(from, &reveals) {
                tracing::warn!(federation = id, round, "a stored reveal was refused: {e}");
            }
        }
        if !unmasker.ready() {
            return self
                .abandon(fed, r, format!("too few of the {survivors} survivors revealed their shares; {} are needed", fed.threshold))
                .await;
        }
        let sum = match unmasker.finish() {
            Ok(s) => s,
            Err(e) => return self.abandon(fed, r, e.to_string()).await,
        };
        let decoded = plan::encoding(&task, phase).decode(&sum);
        let outcome = decoded.and_then(|(means, rows)| Ok((plan::outcome(&task, phase, &known, means, rows)?, rows)));
        let (outcome, rows) = match outcome {
            Ok(o) => o,
            // The sum is right but the model cannot be made from it (linear equations that do not
            // solve): another round would give the same, so the federation fails.
            Err(e) => {
                self.end_round(id, r, "abandoned").await?;
                return self.fail(fed, format!("the aggregate of round {round} gives no model: {e}")).await;
            }
        };
        let metrics = match &outcome {
            Outcome::Params { before, .. } => before.clone(),
            Outcome::Evaluated(m) => Some(m.clone()),
            Outcome::Means { .. } => None,
        };
        // A private federation's training round is one more use of the mechanism.
        let counted = fed.dp_rounds() + u64::from(task.privacy.is_some() && matches!(phase, Phase::Train { .. }));
        let epsilon = match (&task.privacy, phase) {
            (Some(p), Phase::Train { .. }) => Some(p.epsilon_after(counted).map_err(|e| Error::internal(e.to_string()))?),
            _ => None,
        };
        let result = RoundResult { round, phase, participants: survivors as u32, rows, metrics: metrics.clone(), epsilon };
        let row = ResultRow {
            federation: id.to_owned(),
            round: r.round,
            phase: serde_json::to_value(phase)?,
            participants: survivors as i64,
            rows: rows as i64,
            metrics: metrics.as_ref().map(serde_json::to_value).transpose()?,
            contributors: Some(contributors),
            epsilon,
            at: now_rfc3339(),
        };
        let (means, params) = match &outcome {
            // A network's first step starts from the weights drawn with the statistics.
            Outcome::Means { means, start } => (Some(means.clone()), start.clone()),
            Outcome::Params { params, .. } => (fed.means.clone(), Some(params.clone())),
            Outcome::Evaluated(_) => (fed.means.clone(), fed.params.clone()),
        };
        // One transaction with the round's end: the result, the means it yields and the
        // round's state are seen together or not at all (`snapshot`).
        retry_conflicts(|| {
            let (row, means, params) = (row.clone(), means.clone(), params.clone());
            async move {
                self.db
                    .query(format!(
                        "BEGIN;
                    CREATE fl_result CONTENT $row;
                    UPDATE federation SET means = $means, params = $params, abandoned = 0, dp_rounds = $counted WHERE uid = $id;
                    {END_ROUND}
                    COMMIT;"
                    ))
                    .bind(("row", row))
                    .bind(("id", id.to_owned()))
                    .bind(("r", r.round))
                    .bind(("state", "done"))
                    .bind(("means", means))
                    .bind(("params", params))
                    .bind(("counted", counted as i64))
                    .await
                    .and_then(committed)
            }
        })
        .await?;
        self.publish(id, FederationEvent::Aggregated { result }).await?;
        let mut fed = fed.clone();
        fed.means = means;
        fed.params = params;
        fed.dp_rounds = Some(counted as i64);
        match (phase.next(fed.rounds as u32), outcome) {
            (Some(next), _) => self.open_round(&fed, next).await,
            (None, Outcome::Evaluated(m)) => self.finish(&fed, m, rows).await,
            (None, _) => Err(Error::internal("the last phase of a federation is its evaluation")),
        }
    }

    /// Ends a round on its own (`END_ROUND`).
    async fn end_round(&self, id: &str, r: &RoundRow, state: &'static str) -> Result<()> {
        retry_conflicts(|| async move {
            self.db
                .query(format!("BEGIN; {END_ROUND} COMMIT;"))
                .bind(("state", state))
                .bind(("id", id.to_owned()))
                .bind(("r", r.round))
                .await
                .and_then(committed)
        })
        .await?;
        Ok(())
    }

    async fn abandon(&self, fed: &FederationRow, r: &RoundRow, reason: String) -> Result<()> {
        let id = fed.uid.as_str();
        let round = r.number()?;
        let mut q = retry_conflicts(|| async move {
            self.db
                .query(format!("BEGIN; {END_ROUND} UPDATE federation SET abandoned += 1 WHERE uid = $id RETURN VALUE abandoned; COMMIT;"))
                .bind(("state", "abandoned"))
                .bind(("id", id.to_owned()))
                .bind(("r", r.round))
                .await
                .and_then(committed)
        })
        .await?;
        let abandoned: Option<i64> = q.take(3)?; // after `BEGIN` and `END_ROUND`'s two
        tracing::info!(federation = id, round, "round abandoned: {reason}");
        self.publish(id, FederationEvent::Abandoned { round, reason: reason.clone() }).await?;
        if abandoned.unwrap_or(0) >= MAX_ABANDONED {
            return self.fail(fed, format!("{MAX_ABANDONED} rounds in a row were abandoned; the last because {reason}")).await;
        }
        self.open_round(fed, r.phase()?).await
    }

    /// Ends the federation as failed (its last round already ended).
    async fn fail(&self, fed: &FederationRow, reason: String) -> Result<()> {
        let id = fed.uid.as_str();
        self.db
            .query("UPDATE federation SET status = 'failed', failure = $why WHERE uid = $id")
            .bind(("id", id.to_owned()))
            .bind(("why", reason.clone()))
            .await?
            .check()?;
        self.audit.record(&fed.owner_id, "federation.fail", id, "server", &format!("failed: {reason}")).await?;
        self.publish(id, FederationEvent::Failed { reason }).await
    }

    /// The final global model becomes a model version owned by the federation's creator,
    /// with the federation named as its source and the federated evaluation as its figures.
    async fn finish(&self, fed: &FederationRow, metrics: app::ml::metrics::Metrics, rows: u64) -> Result<()> {
        let id = fed.uid.as_str();
        let task = fed.task()?;
        let made = (|| -> std::result::Result<_, FlError> {
            let pre = plan::preprocessor(&task, &fed.known())?;
            let fitted =
                plan::global_model(&task, &fed.known(), pre.width())?.ok_or_else(|| FlError::Protocol("no model was trained".into()))?;
            Ok((pre, fitted))
        })();
        let (preprocessor, fitted) = made.map_err(|e| Error::internal(e.to_string()))?;
        let (kind, model) = match (&task.model, fitted) {
            (FlModel::Linear, GlobalModel::Fitted(f)) => {
                (ModelKind::Linear, AnyModel::Linear(LinearModel { params: Default::default(), fitted: Some(f) }))
            }
            (FlModel::Logistic { alpha, .. }, GlobalModel::Fitted(f)) => (
                ModelKind::Logistic,
                AnyModel::Logistic(LogisticModel { params: LogisticParams { alpha: *alpha, ..Default::default() }, fitted: Some(f) }),
            ),
            // The DQN's network, trained here as a classifier (see `params.model`).
            (FlModel::Mlp { hidden, epochs, learning_rate, batch_size, .. }, GlobalModel::Mlp(net)) => {
                let params = DqnParams {
                    hidden: hidden.clone(),
                    epochs: *epochs as usize,
                    learning_rate: learning_rate.min(0.999),
                    batch_size: *batch_size,
                    ..Default::default()
                };
                (ModelKind::Dqn, AnyModel::Dqn(DqnModel { params, network: Some(net) }))
            }
            _ => return Err(Error::internal("the global model does not match the federation's model kind")),
        };
        let mut params = serde_json::Map::new();
        params.insert("federation".into(), serde_json::json!(id));
        params.insert("rounds".into(), serde_json::json!(fed.rounds));
        params.insert("model".into(), serde_json::to_value(&task.model)?);
        let artifact = ModelArtifact {
            format: ARTIFACT_FORMAT.into(),
            version: ARTIFACT_VERSION,
            id: random_id(),
            job_id: String::new(),
            federation: Some(id.to_owned()),
            kind,
            target: task.target.clone(),
            labels: task.labels.clone(),
            preprocessor,
            model,
            metrics,
            params,
            datasets: vec![],
            rows: vec![rows as usize],
            privacy: task.privacy.as_ref().map(|p| p.spent(fed.dp_rounds())).transpose().map_err(|e| Error::internal(e.to_string()))?,
            // The rows stayed with the participants: no score of the quantised model.
            he: None,
            created_at: now_rfc3339(),
        };
        let owner =
            ModelOwner { job_title: "", owner_id: &fed.owner_id, owner: &fed.owner, domain: &fed.domain, subdomain: &fed.subdomain };
        let info = self.models.store(&artifact, owner).await?;
        self.db
            .query("UPDATE federation SET status = 'finished', model_id = $m WHERE uid = $id")
            .bind(("m", info.id.clone()))
            .bind(("id", id.to_owned()))
            .await?
            .check()?;
        self.audit.record(&fed.owner_id, "federation.finish", id, "server", &format!("ok: model {}", info.id)).await?;
        self.publish(id, FederationEvent::Finished { model_id: info.id }).await
    }
}

/// Stored results as the API shows them.
/// One state of a federation (`Federations::snapshot`).
struct Snapshot {
    fed: Option<FederationRow>,
    /// The open round, if any.
    round: Option<RoundRow>,
    results: Vec<ResultRow>,
    members: Vec<super::MemberRow>,
    /// Who has sent what: the messages of the open round (an ended round's are deleted with
    /// its end).
    sent: Vec<SentRow>,
    /// The shares stage's messages, when the open round is at its input stage.
    shares: Vec<MessageRow>,
}

#[derive(Debug, Clone, SurrealValue)]
struct SentRow {
    round: i64,
    stage: String,
    sender: i64,
}

/// Who may send in `round`'s current stage, given every member's number (only read for an
/// unsampled keys stage).
fn expected_of(round: &RoundRow, members: &[u16]) -> Result<BTreeSet<u16>> {
    Ok(match round.stage()? {
        Stage::Keys => match &round.sampled {
            Some(s) => numbers(s),
            None => members.iter().copied().collect(),
        },
        Stage::Shares => round.roster()?.iter().map(|e| e.number).collect(),
        Stage::Input => numbers(&round.sharers),
        Stage::Reveal => numbers(&round.survivors),
    })
}

/// The open round `r` as participant `you` sees it in `snap`.
fn active(fed: &FederationRow, r: &RoundRow, you: Option<u16>, snap: &Snapshot) -> Result<ActiveRound> {
    let stage = r.stage()?;
    let phase = r.phase()?;
    let sent = numbers(&snap.sent.iter().filter(|m| m.round == r.round && m.stage == stage.as_str()).map(|m| m.sender).collect::<Vec<_>>());
    let mut envelopes = vec![];
    if let (Stage::Input, Some(me)) = (stage, you) {
        let sharers = numbers(&r.sharers);
        if sharers.contains(&me) {
            for m in snap.shares.iter().filter(|m| m.round == r.round) {
                let Ok(from) = u16::try_from(m.sender) else { continue };
                if !sharers.contains(&from) {
                    continue;
                }
                let msg: SharesMessage = serde_json::from_str(&m.body).map_err(|_| corrupt("stored shares"))?;
                envelopes.extend(msg.envelopes.into_iter().filter(|e| e.peer == me).map(|e| Envelope { peer: from, sealed: e.sealed }));
            }
        }
    }
    let (survivors, dropped) = if stage == Stage::Reveal {
        (numbers(&r.survivors).into_iter().collect(), numbers(&r.dropped).into_iter().collect())
    } else {
        (vec![], vec![])
    };
    let members: Vec<u16> = snap.members.iter().filter_map(|m| u16::try_from(m.number).ok()).collect();
    Ok(ActiveRound {
        round: r.number()?,
        phase,
        stage,
        deadline_ms: r.deadline_ms.max(0) as u64,
        threshold: fed.small(fed.threshold, "threshold")?,
        vector_len: plan::vector_len(&fed.task()?, phase, &fed.known()).map_err(|e| Error::internal(e.to_string()))? as u32,
        received: sent.len() as u32,
        expected: expected_of(r, &members)?.len() as u32,
        sent: you.is_some_and(|me| sent.contains(&me)),
        roster: if stage == Stage::Keys { vec![] } else { r.roster()? },
        envelopes,
        survivors,
        dropped,
        sampled: r.sampled.as_deref().map(|s| numbers(s).into_iter().collect()),
    })
}

/// Participant `me`'s ledger in a private federation (`None` without privacy), from the
/// federation's results: the counted training rounds whose sum holds `me`'s input.
fn ledger_of(fed: &FederationRow, me: u16, results: &[ResultRow]) -> Result<Option<PrivacyLedger>> {
    let Some(privacy) = fed.task()?.privacy else { return Ok(None) };
    let contributed: Vec<u32> = results
        .iter()
        .filter(|r| r.epsilon.is_some() && r.contributors.as_ref().is_some_and(|c| c.contains(&i64::from(me))))
        .filter_map(|r| u32::try_from(r.round).ok())
        .collect();
    Ok(Some(PrivacyLedger {
        federation: fed.uid.clone(),
        name: fed.name.clone(),
        status: fed.status()?,
        budget: privacy.epsilon,
        delta: privacy.delta,
        rounds: fed.dp_rounds() as u32,
        epsilon: privacy.epsilon_after(fed.dp_rounds())?,
        epsilon_if_known: privacy.epsilon_known_sampled(contributed.len() as u64)?,
        contributed,
    }))
}

fn results_of(rows: Vec<ResultRow>) -> Result<Vec<RoundResult>> {
    rows.into_iter()
        .map(|r| {
            Ok(RoundResult {
                round: u32::try_from(r.round).map_err(|_| corrupt("result round"))?,
                phase: Phase::deserialize(&r.phase).map_err(|_| corrupt("result phase"))?,
                participants: r.participants.max(0) as u32,
                rows: r.rows.max(0) as u64,
                metrics: r.metrics.as_ref().map(Deserialize::deserialize).transpose().map_err(|_| corrupt("result metrics"))?,
                epsilon: r.epsilon,
            })
        })
        .collect()
}
