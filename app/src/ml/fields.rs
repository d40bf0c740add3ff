//! Each model kind's hyperparameters as a form shows them (a label, the default, the range) and
//! its search presets, so that someone who is not an ML engineer can set them without JSON.
//! The rules themselves stay in each kind's `ParamGuard`; a test checks that these defaults are
//! the structs' own and that every preset is a search the trainer accepts.

use serde_json::Value;

use super::model::ModelKind;

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldKind {
    /// A whole number from `min` to `max` (no upper bound when `None`).
    Whole { min: u64, max: Option<u64> },
    /// A number from `min` to `max`.
    Number { min: f64, max: Option<f64> },
    /// One of these `(value, label)` pairs.
    Choice(&'static [(&'static str, &'static str)]),
}

/// One hyperparameter of a kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamField {
    /// The key in `model.params`.
    pub name: &'static str,
    pub label: &'static str,
    /// What changing it does, in a few words.
    pub help: &'static str,
    pub kind: FieldKind,
    /// The default as written in the field's hint; `None` when the default is "no limit" or
    /// "chosen from the data" (`absent` says which), and leaving the field empty keeps it.
    pub default: Option<&'static str>,
    /// What an empty field means when there is no fixed default.
    pub absent: &'static str,
}

impl ParamField {
    /// "default 100; 1 to 5000" — the hint under the field.
    pub fn hint(&self) -> String {
        let default = match self.default {
            Some(d) => format!("Default {d}"),
            None => format!("Empty: {}", self.absent),
        };
        let range = match self.kind {
            FieldKind::Whole { min, max: Some(max) } => format!("; a whole number from {min} to {max}"),
            FieldKind::Whole { min, max: None } => format!("; a whole number, at least {min}"),
            FieldKind::Number { min, max: Some(max) } => format!("; from {min} to {max}"),
            FieldKind::Number { min, max: None } => format!("; at least {min}"),
            FieldKind::Choice(_) => String::new(),
        };
        format!("{}. {default}{range}.", self.help)
    }

    /// The JSON value of what was typed, or why it does not read; `Ok(None)` for an empty
    /// field (the default). Ranges are checked by the trainer's own rules on submit.
    pub fn read(&self, typed: &str) -> Result<Option<Value>, String> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Ok(None);
        }
        match self.kind {
            FieldKind::Whole { .. } => typed.parse::<u64>().map(|v| Some(v.into())).map_err(|_| "enter a whole number".to_owned()),
            FieldKind::Number { .. } => match typed.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v.into())),
                _ => Err("enter a number".to_owned()),
            },
            FieldKind::Choice(options) => match options.iter().find(|(v, _)| *v == typed) {
                Some((v, _)) => Ok(Some(Value::from(*v))),
                None => Err("choose one of the options".to_owned()),
            },
        }
    }
}

const MAX_DEPTH: ParamField = ParamField {
    name: "max_depth",
    label: "Maximum depth",
    help: "How many questions a tree may ask in a row: deeper fits more detail, and overfits sooner",
    kind: FieldKind::Whole { min: 1, max: None },
    default: None,
    absent: "no limit",
};
const MIN_LEAF: ParamField = ParamField {
    name: "min_samples_leaf",
    label: "Smallest leaf (rows)",
    help: "The fewest rows an answer may rest on: larger is smoother",
    kind: FieldKind::Whole { min: 1, max: None },
    default: Some("1"),
    absent: "",
};

impl ModelKind {
    /// The hyperparameters a form offers for this kind (the rest stay at their defaults and can
    /// be set as JSON).
    pub fn fields(self) -> &'static [ParamField] {
        match self {
            ModelKind::Linear => &[],
            ModelKind::Logistic => &[
                ParamField {
                    name: "alpha",
                    label: "Regularisation (alpha)",
                    help: "How strongly weights are kept small: larger is simpler and steadier",
                    kind: FieldKind::Number { min: 0.0, max: None },
                    default: Some("1"),
                    absent: "",
                },
                ParamField {
                    name: "max_iterations",
                    label: "Most iterations",
                    help: "Steps of the optimiser before it stops",
                    kind: FieldKind::Whole { min: 1, max: None },
                    default: Some("200"),
                    absent: "",
                },
                ParamField {
                    name: "class_weight",
                    label: "Class weights",
                    help: "Balanced gives rare classes as much weight as common ones",
                    kind: FieldKind::Choice(&[("none", "None (every row counts once)"), ("balanced", "Balanced")]),
                    default: Some("none"),
                    absent: "",
                },
            ],
            ModelKind::Tree => &[
                MAX_DEPTH,
                ParamField {
                    name: "min_samples_split",
                    label: "Smallest split (rows)",
                    help: "The fewest rows a question may split",
                    kind: FieldKind::Whole { min: 2, max: None },
                    default: Some("2"),
                    absent: "",
                },
                MIN_LEAF,
            ],
            ModelKind::Forest => &[
                ParamField {
                    name: "trees",
                    label: "Trees",
                    help: "How many trees vote: more is steadier and slower",
                    kind: FieldKind::Whole { min: 1, max: Some(super::forest::MAX_TREES as u64) },
                    default: Some("100"),
                    absent: "",
                },
                MAX_DEPTH,
                MIN_LEAF,
                ParamField {
                    name: "max_features",
                    label: "Inputs tried per question",
                    help: "Fewer makes the trees differ more",
                    kind: FieldKind::Whole { min: 1, max: None },
                    default: None,
                    absent: "√inputs for categories, all inputs for numbers",
                },
            ],
            ModelKind::Ensemble => &[ParamField {
                name: "method",
                label: "How members combine",
                help: "Voting averages the members' answers; stacking learns how much to trust each",
                kind: FieldKind::Choice(&[("soft_voting", "Soft voting"), ("stacking", "Stacking")]),
                default: Some("soft_voting"),
                absent: "",
            }],
            ModelKind::Dqn => &[
                ParamField {
                    name: "epochs",
                    label: "Epochs",
                    help: "Passes over the training rows",
                    kind: FieldKind::Whole { min: 1, max: None },
                    default: Some("15"),
                    absent: "",
                },
                ParamField {
                    name: "learning_rate",
                    label: "Learning rate",
                    help: "Step size of each update: too large and training is unstable",
                    kind: FieldKind::Number { min: 0.0, max: Some(1.0) },
                    default: Some("0.001"),
                    absent: "",
                },
            ],
        }
    }

    /// Search presets: `(name, label, search space as JSON)`, cheapest first; none for a kind
    /// without parameters to tune.
    pub fn presets(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            ModelKind::Linear => &[],
            ModelKind::Logistic => &[
                ("quick", "Quick: 3 candidates", r#"{"grid": {"alpha": [0.1, 1, 10]}}"#),
                (
                    "thorough",
                    "Thorough: 12 candidates",
                    r#"{"random": {"trials": 12, "params": {"alpha": {"log_uniform": [0.001, 100]}}}}"#,
                ),
            ],
            ModelKind::Tree => &[
                ("quick", "Quick: 3 candidates", r#"{"grid": {"max_depth": [3, 5, 8]}}"#),
                ("thorough", "Thorough: 12 candidates", r#"{"grid": {"max_depth": [2, 4, 6, 8, 12, null], "min_samples_leaf": [1, 5]}}"#),
            ],
            ModelKind::Forest => &[
                ("quick", "Quick: 2 candidates", r#"{"grid": {"max_depth": [6, null]}}"#),
                (
                    "thorough",
                    "Thorough: 8 candidates",
                    r#"{"grid": {"trees": [100, 300], "max_depth": [6, null], "min_samples_leaf": [1, 5]}}"#,
                ),
            ],
            ModelKind::Ensemble => &[("quick", "Quick: 2 candidates", r#"{"grid": {"method": ["soft_voting", "stacking"]}}"#)],
            ModelKind::Dqn => &[
                ("quick", "Quick: 2 candidates", r#"{"grid": {"learning_rate": [0.001, 0.003]}}"#),
                ("thorough", "Thorough: 6 candidates", r#"{"grid": {"learning_rate": [0.0003, 0.001, 0.003], "epochs": [15, 30]}}"#),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::model::AnyModel;
    use crate::ml::search::SearchSpace;
    use crate::ml::task::Task;
    use serde_json::Map;

    fn task(kind: ModelKind) -> Task {
        if kind.predicts_numbers() {
            Task::Regression
        } else {
            Task::Classification { classes: 2 }
        }
    }

    /// A field's stated default is the kind's own (what an empty field gives), and its name is
    /// one the kind takes.
    #[test]
    fn every_field_default_is_the_kinds_own() {
        for kind in ModelKind::ALL {
            let built = AnyModel::build(kind, &Map::new(), task(kind), 0).unwrap();
            let model = serde_json::to_value(&built).unwrap();
            let params = &model["params"];
            for f in kind.fields() {
                let own = params.get(f.name).unwrap_or_else(|| panic!("{kind:?} has no parameter {}", f.name));
                match f.default {
                    Some(d) => {
                        let typed = f.read(d).unwrap().unwrap();
                        let same = match (typed.as_f64(), own.as_f64()) {
                            (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                            _ => &typed == own,
                        };
                        assert!(same, "{kind:?}.{}: the form says {d}, the kind has {own}", f.name);
                    }
                    None => assert!(own.is_null(), "{kind:?}.{}: no fixed default, yet {own}", f.name),
                }
            }
        }
    }

    #[test]
    fn every_preset_is_a_search_the_trainer_accepts() {
        for kind in ModelKind::ALL {
            for (name, label, json) in kind.presets() {
                let space: SearchSpace = serde_json::from_str(json).unwrap_or_else(|e| panic!("{kind:?} {name}: {e}"));
                let candidates = space.candidates(&Map::new(), 0).unwrap();
                assert!(label.contains(&format!("{} candidates", candidates.len())), "{kind:?} {name}: {label} but {}", candidates.len());
                for c in candidates {
                    AnyModel::build(kind, &c, task(kind), 0).unwrap_or_else(|e| panic!("{kind:?} {name} {c:?}: {e}"));
                }
            }
        }
    }

    #[test]
    fn typed_values_read_or_say_what_to_enter() {
        let trees = ModelKind::Forest.fields()[0];
        assert_eq!(trees.read(" 250 "), Ok(Some(Value::from(250u64))));
        assert_eq!(trees.read(""), Ok(None));
        assert_eq!(trees.read("many"), Err("enter a whole number".to_owned()));
        assert!(trees.hint().contains("Default 100; a whole number from 1 to 5000"), "{}", trees.hint());
        let depth = ModelKind::Forest.fields()[1];
        assert!(depth.hint().contains("Empty: no limit"), "{}", depth.hint());
        let alpha = ModelKind::Logistic.fields()[0];
        assert_eq!(alpha.read("1e400"), Err("enter a number".to_owned()));
    }
}
