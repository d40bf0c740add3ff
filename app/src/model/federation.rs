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
            (FlModel::Logistic { .. }, None) => {
                f.insert("task.labels".into(), "list the target's classes (at least two)".into());
            }
            (FlModel::Logistic { .. }, Some(labels)) => {
                let mut distinct = labels.clone();
                distinct.sort();
                distinct.dedup();
                if distinct.len() < 2 || distinct.len() != labels.len() {
                    f.insert("task.labels".into(), "list at least two classes, each once".into());
                }
            }
            (FlModel::Linear, None) => {}
        }
        if let FlModel::Logistic { alpha, epochs, learning_rate, batch_size, mu } = t.model {
            let mut param = |name: &str, ok: bool, rule: &str| {
                if !ok {
                    f.insert(format!("task.model.{name}"), rule.into());
                }
            };
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
    /// How many have joined (names are not shown).
    pub members: u32,
    /// Whether the caller has joined.
    pub joined: bool,
    pub created_at: String,
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
}
