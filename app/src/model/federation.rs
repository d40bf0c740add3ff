//! Federations on the wire: what a creator declares, and what members and their area see.
//! The task (features, target, model) is `crate::fl::train::FlTask`, the same type the
//! participants train with, so the page, the CLI and the server read one definition.

use serde::{Deserialize, Serialize};

use crate::fl::train::{FlModel, FlTask};
use crate::model::{ApiError, FieldErrors};
use crate::table::ColumnKind;

const MAX_NAME_CHARS: usize = 120;
/// Features a federation may declare (the linear model's statistics grow with the square).
pub const MAX_FEATURES: usize = 500;
/// Rounds a federation may run.
pub const MAX_ROUNDS: u32 = 1000;

/// `POST /api/federations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewFederation {
    pub name: String,
    pub task: FlTask,
    /// Training rounds (linear regression needs one).
    pub rounds: u32,
    /// Participants a round waits for before it starts.
    pub min_participants: u16,
    /// Secure aggregation's threshold `t`: survivors needed to finish a round, and the fewest
    /// who must collude to learn anything about one participant's update.
    pub threshold: u16,
    /// How long each stage of a round waits for late participants.
    pub round_timeout_secs: u32,
}

impl NewFederation {
    /// Every problem, by field (`task.features[2].categories`), before anything is stored.
    pub fn check(&self) -> Result<(), ApiError> {
        let mut f = FieldErrors::new();
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            f.insert("name".into(), format!("give the federation a name of 1 to {MAX_NAME_CHARS} characters"));
        }
        let t = &self.task;
        if t.features.is_empty() || t.features.len() > MAX_FEATURES {
            f.insert("task.features".into(), format!("declare 1 to {MAX_FEATURES} input columns"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, feature) in t.features.iter().enumerate() {
            if feature.name.trim().is_empty() || !seen.insert(feature.name.as_str()) {
                f.insert(format!("task.features[{i}].name"), "each input column needs its own, non-empty name".into());
            }
            match feature.kind {
                ColumnKind::Categorical if feature.categories.is_empty() => {
                    f.insert(format!("task.features[{i}].categories"), "list the categories this column may take".into());
                }
                ColumnKind::Numeric | ColumnKind::Boolean if !feature.categories.is_empty() => {
                    f.insert(format!("task.features[{i}].categories"), "only a categorical column has categories".into());
                }
                _ => {}
            }
            if feature.name == t.target {
                f.insert("task.target".into(), "the target cannot also be an input".into());
            }
        }
        if t.target.trim().is_empty() {
            f.insert("task.target".into(), "name the column the model learns to predict".into());
        }
        match (&t.model, &t.labels) {
            (FlModel::Linear, Some(_)) => {
                f.insert("task.labels".into(), "linear regression predicts a number; leave the classes out".into());
            }
            (FlModel::Logistic { .. } | FlModel::Mlp { .. }, None) => {
                f.insert("task.labels".into(), "list the target's classes (at least two)".into());
            }
            (FlModel::Logistic { .. } | FlModel::Mlp { .. }, Some(labels)) => {
                let mut distinct = labels.clone();
                distinct.sort();
                distinct.dedup();
                if distinct.len() < 2 || distinct.len() != labels.len() {
                    f.insert("task.labels".into(), "list at least two classes, each once".into());
                }
            }
            (FlModel::Linear, None) => {}
        }
        let mut param = |name: &str, ok: bool, rule: &str| {
            if !ok {
                f.insert(format!("task.model.{name}"), rule.into());
            }
        };
        if let FlModel::Mlp { hidden, epochs, learning_rate, batch_size, mu } = &t.model {
            param(
                "hidden",
                (1..=3).contains(&hidden.len()) && hidden.iter().all(|h| (1..=256).contains(h)),
                "1 to 3 hidden layers of 1 to 256 units",
            );
            param("epochs", (1..=100).contains(epochs), "1 to 100 passes per round");
            param("learning_rate", learning_rate.is_finite() && *learning_rate > 0.0 && *learning_rate <= 10.0, "above 0 and at most 10");
            param("batch_size", (1..=100_000).contains(batch_size), "1 to 100,000 rows");
            param("mu", mu.is_finite() && *mu >= 0.0, "0 (FedAvg) or more (FedProx)");
        }
        if let FlModel::Logistic { alpha, epochs, learning_rate, batch_size, mu } = t.model {
            param("alpha", alpha.is_finite() && alpha >= 0.0, "a penalty of 0 or more");
            param("epochs", (1..=100).contains(&epochs), "1 to 100 passes per round");
            param("learning_rate", learning_rate.is_finite() && learning_rate > 0.0 && learning_rate <= 10.0, "above 0 and at most 10");
            param("batch_size", (1..=100_000).contains(&batch_size), "1 to 100,000 rows");
            param("mu", mu.is_finite() && mu >= 0.0, "0 (FedAvg) or more (FedProx)");
        }
        if !(1..=MAX_ROUNDS).contains(&self.rounds) {
            f.insert("rounds".into(), format!("1 to {MAX_ROUNDS} rounds"));
        }
        if matches!(t.model, FlModel::Linear) && self.rounds != 1 {
            f.insert("rounds".into(), "linear regression is exact in one round; set rounds to 1".into());
        }
        if !(2..=1000).contains(&self.min_participants) {
            f.insert("min_participants".into(), "2 to 1,000 participants".into());
        }
        // More than half: fewer colluding participants cannot rebuild anyone's secrets.
        let half = self.min_participants / 2;
        if self.threshold <= half || self.threshold > self.min_participants {
            f.insert(
                "threshold".into(),
                format!("more than half of the participants and at most all of them: {} to {}", half + 1, self.min_participants),
            );
        }
        if let Some(p) = &t.privacy {
            for (field, message) in p.problems() {
                f.insert(format!("task.privacy.{field}"), message);
            }
            if p.delta >= 1.0 / f64::from(self.min_participants.max(1)) {
                f.insert(
                    "task.privacy.delta".into(),
                    format!(
                        "must be below 1 / the participants (1/{}): larger, one participant could be exposed outright",
                        self.min_participants
                    ),
                );
            }
            if matches!(t.model, FlModel::Linear) {
                f.insert(
                    "task.privacy".into(),
                    "linear regression is solved exactly in one round and has no private variant here; choose logistic regression or the neural network".into(),
                );
            }
        }
        if !(10..=86_400).contains(&self.round_timeout_secs) {
            f.insert("round_timeout_secs".into(), "10 seconds to a day".into());
        }
        if f.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation { fields: f })
        }
    }
}

/// Where a federation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FederationStatus {
    /// Waiting for enough members to start its first round.
    Open,
    Running,
    Finished,
    Failed,
}

impl FederationStatus {
    pub const ALL: [FederationStatus; 4] = [Self::Open, Self::Running, Self::Finished, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A federation as its area sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FederationInfo {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner: String,
    pub domain: String,
    pub subdomain: String,
    pub task: FlTask,
    pub rounds: u32,
    pub min_participants: u16,
    pub threshold: u16,
    pub round_timeout_secs: u32,
    pub status: FederationStatus,
    /// The model version the federation produced, once finished.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub failure: Option<String>,
    /// How many have joined (names are not shown).
    pub members: u32,
    /// A private federation's ε spent so far (at its δ); absent without privacy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// Whether the caller has joined.
    pub joined: bool,
    pub created_at: String,
}

/// Which part of a federation's work a round does: the statistics that fix the
/// preprocessing, a training step, or the final evaluation of the global model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phase {
    Statistics,
    /// Training step `step` of the federation's `rounds` (from 1).
    Train {
        step: u32,
    },
    Evaluate,
}

impl Phase {
    /// The phase after this one in a federation of `rounds` training steps; `None` after the
    /// evaluation.
    pub fn next(self, rounds: u32) -> Option<Phase> {
        match self {
            Phase::Statistics => Some(Phase::Train { step: 1 }),
            Phase::Train { step } if step < rounds => Some(Phase::Train { step: step + 1 }),
            Phase::Train { .. } => Some(Phase::Evaluate),
            Phase::Evaluate => None,
        }
    }

    pub fn label(self, rounds: u32) -> String {
        match self {
            Phase::Statistics => "statistics".into(),
            Phase::Train { step } => format!("training {step} of {rounds}"),
            Phase::Evaluate => "evaluation".into(),
        }
    }
}

/// The stages of one round of secure aggregation (`docs/federated.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Participants publish their keys.
    Keys,
    /// Participants send their share envelopes.
    Shares,
    /// Participants send their masked vectors.
    Input,
    /// Survivors reveal the shares the unmasking needs.
    Reveal,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Keys, Stage::Shares, Stage::Input, Stage::Reveal];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Keys => "keys",
            Stage::Shares => "shares",
            Stage::Input => "input",
            Stage::Reveal => "reveal",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A roster entry: what participant `number` advertised (each field 32 bytes, base64).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub number: u16,
    #[serde(flatten)]
    pub keys: KeysMessage,
}

/// `POST …/rounds/{round}/keys`: the share key, the masking key and the self-mask commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeysMessage {
    pub share_public: String,
    pub mask_public: String,
    pub commitment: String,
}

/// One share envelope (85 bytes, base64) and the participant at its other end: the
/// recipient in a `SharesMessage`, the sender in a round view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub peer: u16,
    pub sealed: String,
}

/// `POST …/rounds/{round}/shares`: one envelope to every other member of the roster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharesMessage {
    pub envelopes: Vec<Envelope>,
}

/// `POST …/rounds/{round}/input`: the masked vector, its 64-bit words little-endian, base64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    pub masked: String,
}

/// `POST …/rounds/{round}/reveal`: the revealed shares, 37 bytes each, concatenated, base64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevealMessage {
    pub shares: String,
}

/// The round in progress, as one participant sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveRound {
    /// The round's number in the secure-aggregation context: unique within the federation
    /// (a reopened round gets a new one).
    pub round: u32,
    pub phase: Phase,
    pub stage: Stage,
    /// When the stage closes without the late ones (milliseconds since the Unix epoch).
    pub deadline_ms: u64,
    pub threshold: u16,
    /// The vector every input of this round has: its values and the row count.
    pub vector_len: u32,
    /// How many have sent this stage's message, and how many may.
    pub received: u32,
    pub expected: u32,
    /// Whether the caller has sent this stage's message.
    pub sent: bool,
    /// From the shares stage on: everyone who advertised keys (`U1`).
    pub roster: Vec<RosterEntry>,
    /// In the input stage: the envelopes addressed to the caller (`peer` is the sender).
    pub envelopes: Vec<Envelope>,
    /// In the reveal stage: the survivors (`U3`) and the dropped (`D`).
    pub survivors: Vec<u16>,
    pub dropped: Vec<u16>,
    /// A private federation's training round: the members sampled for it; only they may send
    /// keys. Absent when every member may take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<Vec<u16>>,
}

/// A finished round: what the server learned, which is only sums.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundResult {
    pub round: u32,
    pub phase: Phase,
    pub participants: u32,
    pub rows: u64,
    /// The global model's figures on everyone's rows: for a training step, the model that
    /// step started from; for the evaluation, the final model. Absent for the statistics
    /// and linear regression's training step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<crate::ml::metrics::Metrics>,
    /// A private federation's training round: ε spent by the federation once this round is
    /// counted (at its δ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// One participant's privacy in one private federation: what the federation has spent, and
/// the rounds that used this participant's update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacyLedger {
    pub federation: String,
    pub name: String,
    pub status: FederationStatus,
    /// The federation's budget and δ.
    pub budget: f64,
    pub delta: f64,
    /// Training rounds counted so far (sampled rounds that were skipped count too).
    pub rounds: u32,
    /// ε after those rounds, for anyone who sees the global models but not who was sampled:
    /// the guarantee every member has.
    pub epsilon: f64,
    /// The rounds whose sum included this participant's update.
    pub contributed: Vec<u32>,
    /// ε over just those rounds without the amplification by sampling: the guarantee against
    /// someone who knows when this participant was sampled (the others in those rounds).
    pub epsilon_if_known: f64,
}

/// `GET /api/federations/{id}/round`: everything a participant needs for its next step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundView {
    pub status: FederationStatus,
    /// The caller's participant number, if a member.
    pub you: Option<u16>,
    /// The statistics round's global means (they fix the preprocessing), once known.
    pub means: Option<Vec<f64>>,
    /// The latest training step's global means (the global model), once known.
    pub params: Option<Vec<f64>>,
    pub round: Option<ActiveRound>,
    pub results: Vec<RoundResult>,
    /// The registered model, once the federation has finished.
    pub model_id: Option<String>,
    /// Why the federation failed, if it did.
    pub failure: Option<String>,
    /// A private federation: the caller's ledger (absent for non-members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyLedger>,
}

/// What happens in a federation, as its event stream tells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FederationEvent {
    RoundOpened {
        round: u32,
        phase: Phase,
    },
    /// A stage's message arrived: `received` of `expected`.
    Received {
        round: u32,
        stage: Stage,
        received: u32,
        expected: u32,
    },
    /// The keys stage closed with `participants`; the shares stage is open.
    StageClosed {
        round: u32,
        stage: Stage,
        participants: u32,
        dropped: u32,
    },
    Aggregated {
        result: RoundResult,
    },
    /// Too few survivors (or a secret that could not be rebuilt): the round is reopened.
    Abandoned {
        round: u32,
        reason: String,
    },
    /// A private federation's training round sampled fewer members than the threshold: it
    /// is counted by the accountant (the sample was drawn) and the model stays as it was.
    Skipped {
        round: u32,
        sampled: u32,
        needed: u32,
        epsilon: f64,
    },
    /// A private federation stops training: one more round would take ε above the budget.
    BudgetReached {
        epsilon: f64,
        budget: f64,
        rounds: u32,
    },
    Finished {
        model_id: String,
    },
    Failed {
        reason: String,
    },
}

impl FederationEvent {
    /// Every event's name on the stream (`event:` lines), for listeners.
    pub const NAMES: [&'static str; 9] =
        ["round_opened", "received", "stage_closed", "aggregated", "abandoned", "skipped", "budget_reached", "finished", "failed"];

    pub fn name(&self) -> &'static str {
        match self {
            Self::RoundOpened { .. } => "round_opened",
            Self::Received { .. } => "received",
            Self::StageClosed { .. } => "stage_closed",
            Self::Aggregated { .. } => "aggregated",
            Self::Abandoned { .. } => "abandoned",
            Self::Skipped { .. } => "skipped",
            Self::BudgetReached { .. } => "budget_reached",
            Self::Finished { .. } => "finished",
            Self::Failed { .. } => "failed",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(self, Self::Finished { .. } | Self::Failed { .. })
    }
}

/// One event with its place in the federation's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FederationEventRecord {
    pub seq: u64,
    pub at: String,
    pub event: FederationEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::train::Feature;

    fn iris() -> NewFederation {
        let numeric = |name: &str| Feature { name: name.into(), kind: ColumnKind::Numeric, categories: vec![] };
        NewFederation {
            name: "iris across three labs".into(),
            task: FlTask {
                features: vec![numeric("sepal_length_cm"), numeric("petal_length_cm")],
                target: "species".into(),
                labels: Some(vec!["setosa".into(), "versicolor".into(), "virginica".into()]),
                model: FlModel::Logistic { alpha: 1.0, epochs: 1, learning_rate: 1.0, batch_size: 1024, mu: 0.0 },
                privacy: None,
            },
            rounds: 50,
            min_participants: 3,
            threshold: 2,
            round_timeout_secs: 120,
        }
    }

    #[test]
    fn a_sound_federation_passes_and_each_problem_names_its_field() {
        assert_eq!(iris().check(), Ok(()));
        let mut bad = iris();
        bad.threshold = 1;
        bad.task.features[1].name = "sepal_length_cm".into();
        bad.task.labels = Some(vec!["setosa".into()]);
        bad.task.model = FlModel::Logistic { alpha: -1.0, epochs: 0, learning_rate: 0.0, batch_size: 8, mu: 0.0 };
        let Err(ApiError::Validation { fields }) = bad.check() else { panic!("refused") };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["task.features[1].name", "task.labels", "task.model.alpha", "task.model.epochs", "task.model.learning_rate", "threshold"]
        );
        assert_eq!(fields["threshold"], "more than half of the participants and at most all of them: 2 to 3");
        let mut linear = iris();
        linear.task.model = FlModel::Linear;
        let Err(ApiError::Validation { fields }) = linear.check() else { panic!("refused") };
        assert!(fields.contains_key("task.labels") && fields.contains_key("rounds"), "{fields:?}");
    }

    #[test]
    fn privacy_settings_that_cannot_work_name_their_field() {
        use crate::fl::privacy::{FlPrivacy, NoiseMode};
        let good = FlPrivacy {
            clip_norm: 1.0,
            noise_multiplier: 1.0,
            noise: NoiseMode::Distributed,
            sampling_rate: 1.0,
            epsilon: 10.0,
            delta: 1e-5,
        };
        let mut fed = iris();
        fed.task.privacy = Some(good.clone());
        assert_eq!(fed.check(), Ok(()));
        for (bad, field) in [
            (FlPrivacy { epsilon: 0.0, ..good.clone() }, "task.privacy.epsilon"),
            (FlPrivacy { epsilon: 0.5, ..good.clone() }, "task.privacy.epsilon"),
            (FlPrivacy { delta: 1.0, ..good.clone() }, "task.privacy.delta"),
            (FlPrivacy { noise_multiplier: 0.0, ..good.clone() }, "task.privacy.noise_multiplier"),
            (FlPrivacy { clip_norm: -1.0, ..good.clone() }, "task.privacy.clip_norm"),
            (FlPrivacy { sampling_rate: 0.0, ..good.clone() }, "task.privacy.sampling_rate"),
        ] {
            fed.task.privacy = Some(bad);
            let Err(ApiError::Validation { fields }) = fed.check() else { panic!("refused") };
            assert!(fields.contains_key(field), "{field}: {fields:?}");
        }
    }
}
