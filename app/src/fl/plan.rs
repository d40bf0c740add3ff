//! A federation's rounds, phase by phase: what vector each phase sums (its length and
//! fixed-point encoding), what a participant puts in it, and what the server makes of the
//! global means. The server and every participant call the same functions, so they cannot
//! disagree about a vector's layout.

use super::fixed::Encoding;
use super::train::{FlModel, FlTask, GlobalModel, LocalData};
use super::FlError;
use crate::ml::linear::Fitted;
use crate::ml::metrics::Metrics;
use crate::ml::prep::Preprocessor;
use crate::model::federation::Phase;

/// What the federation knows before a round: the statistics' global means (once summed) and
/// the latest training step's global means (the global model); for a private federation's
/// training round, its threshold (participants share the noise among `t`) and the members it
/// sampled from (the server divides by the expected `q·N`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Known {
    pub means: Option<Vec<f64>>,
    pub params: Option<Vec<f64>>,
    pub threshold: u16,
    pub population: u32,
}

/// What a participant sends in one phase, before encoding.
#[derive(Clone, Debug, PartialEq)]
pub struct Contribution {
    pub values: Vec<f64>,
    pub rows: u64,
    pub encoding: Encoding,
    /// How the participant's own model does on its own rows (a training step of logistic
    /// regression): shown to the participant, never sent.
    pub local: Option<Metrics>,
}

/// What the server learns from a phase's global means.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The statistics, which fix the preprocessing, and the parameters the first training
    /// step starts from when they are not zeros (a network's, drawn here, published by the
    /// server with the statistics).
    Means { means: Vec<f64>, start: Option<Vec<f64>> },
    /// A training step: the next global model's means, and the figures of the model the step
    /// started from (logistic regression only).
    Params { params: Vec<f64>, before: Option<Metrics> },
    /// The final figures.
    Evaluated(Metrics),
}

fn missing(what: &str) -> FlError {
    FlError::Protocol(format!("the round needs the {what}, which the federation does not have yet"))
}

/// The preprocessor from the statistics.
pub fn preprocessor(task: &FlTask, known: &Known) -> Result<Preprocessor, FlError> {
    task.preprocessor(known.means.as_deref().ok_or_else(|| missing("statistics"))?)
}

/// The global model as of `known` on `width` encoded features (`None` before the first
/// training step of a model that starts from zeros).
pub fn global_model(task: &FlTask, known: &Known, width: usize) -> Result<Option<GlobalModel>, FlError> {
    known.params.as_deref().map(|p| task.global_model(width, p)).transpose()
}

/// The figures of a model that has not learned anything: where logistic regression starts.
fn zero_model(task: &FlTask, width: usize) -> GlobalModel {
    let classes = task.labels.as_ref().map_or(0, Vec::len);
    GlobalModel::Fitted(Fitted::Logistic { classes, intercept: vec![0.0; classes], coef: vec![0.0; width * classes] })
}

/// Whether a training step also sums the starting model's confusion matrix. Not in a private
/// federation: there every participant's vector weighs 1, not its rows, and carries only its
/// clipped update.
fn evaluates_each_step(task: &FlTask) -> bool {
    matches!(task.model, FlModel::Logistic { .. } | FlModel::Mlp { .. }) && task.privacy.is_none()
}

/// The parameters a training step starts from: the global model's, or zeros before the first.
fn start_params(task: &FlTask, global: Option<&GlobalModel>, width: usize) -> Vec<f64> {
    global.map_or_else(|| vec![0.0; task.update_len(width)], GlobalModel::params)
}

fn evaluation_len(task: &FlTask) -> usize {
    match &task.labels {
        Some(labels) => labels.len() * labels.len(),
        None => 4,
    }
}

/// The fixed-point encoding of a phase's vector.
pub fn encoding(task: &FlTask, phase: Phase) -> Encoding {
    match phase {
        Phase::Statistics => Encoding::MOMENTS,
        Phase::Train { .. } => Encoding::WEIGHTS,
        Phase::Evaluate => task.evaluation_encoding(),
    }
}

/// The number of 64-bit words of a phase's masked vector: its values and the row count.
pub fn vector_len(task: &FlTask, phase: Phase, known: &Known) -> Result<usize, FlError> {
    let values = match phase {
        Phase::Statistics => task.moments_len(),
        Phase::Train { .. } => {
            task.update_len(preprocessor(task, known)?.width()) + if evaluates_each_step(task) { evaluation_len(task) } else { 0 }
        }
        Phase::Evaluate => evaluation_len(task),
    };
    Ok(values + 1)
}

/// A participant's values for `phase`. A training step of logistic regression appends the
/// confusion matrix of the model it started from, so each step also measures the global model
/// at no extra round; `seed` orders the local mini-batches.
pub fn contribution(task: &FlTask, phase: Phase, known: &Known, data: &LocalData, seed: u64) -> Result<Contribution, FlError> {
    let encoding = encoding(task, phase);
    match phase {
        Phase::Statistics => {
            let (values, rows) = task.moments(data)?;
            Ok(Contribution { values, rows, encoding, local: None })
        }
        Phase::Train { step } => {
            let pre = preprocessor(task, known)?;
            let width = pre.width();
            let global = global_model(task, known, width)?;
            let (mut values, rows) = task.update(data, &pre, global.as_ref(), seed ^ u64::from(step))?;
            if let Some(privacy) = &task.privacy {
                let own = task.global_model(width, &values)?;
                let (mine, n) = task.evaluation(data, &pre, &own)?;
                let update = privacy.participant_update(&values, &start_params(task, global.as_ref(), width), known.threshold)?;
                // Weight 1: the sum counts participants, and one participant moves it by at most C.
                return Ok(Contribution { values: update, rows: 1, encoding, local: Some(task.metrics(&mine, n)?) });
            }
            let mut local = None;
            if evaluates_each_step(task) {
                let own = task.global_model(width, &values)?;
                let (mine, n) = task.evaluation(data, &pre, &own)?;
                local = Some(task.metrics(&mine, n)?);
                let start = global.unwrap_or_else(|| zero_model(task, width));
                values.extend(task.evaluation(data, &pre, &start)?.0);
            }
            Ok(Contribution { values, rows, encoding, local })
        }
        Phase::Evaluate => {
            let pre = preprocessor(task, known)?;
            let model = global_model(task, known, pre.width())?.ok_or_else(|| missing("trained model"))?;
            let (values, rows) = task.evaluation(data, &pre, &model)?;
            Ok(Contribution { values, rows, encoding, local: None })
        }
    }
}

/// What a phase's global means over `rows` rows amount to.
pub fn outcome(task: &FlTask, phase: Phase, known: &Known, means: Vec<f64>, rows: u64) -> Result<Outcome, FlError> {
    match phase {
        Phase::Statistics => {
            let start = task.initial_params(task.preprocessor(&means)?.width())?;
            Ok(Outcome::Means { means, start })
        }
        Phase::Train { .. } => {
            let width = preprocessor(task, known)?.width();
            let len = task.update_len(width);
            if means.len() < len {
                return Err(FlError::Protocol(format!("a training step has {len} values or more, not {}", means.len())));
            }
            let (params, rest) = means.split_at(len);
            if let Some(privacy) = &task.privacy {
                // `rows` counts participants here: the mean times it is the sum of their updates.
                let sum: Vec<f64> = params.iter().map(|m| m * rows as f64).collect();
                let global = global_model(task, known, width)?;
                let next = privacy.next_params(&start_params(task, global.as_ref(), width), sum, known.population)?;
                task.global_model(width, &next)?;
                return Ok(Outcome::Params { params: next, before: None });
            }
            // The next global model must exist (linear regression: the equations solve).
            task.global_model(width, params)?;
            let before = if evaluates_each_step(task) { Some(task.metrics(rest, rows)?) } else { None };
            Ok(Outcome::Params { params: params.to_vec(), before })
        }
        Phase::Evaluate => Ok(Outcome::Evaluated(task.metrics(&means, rows)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::fixed::MAX_ROWS;
    use crate::fl::masks::sum;
    use crate::fl::train::Feature;
    use crate::table::{ColumnKind, Format, ParseOptions, Table};

    fn task() -> FlTask {
        let numeric = |name: &str| Feature { name: name.into(), kind: ColumnKind::Numeric, categories: vec![] };
        FlTask {
            features: vec![numeric("a"), numeric("b")],
            target: "y".into(),
            labels: Some(vec!["no".into(), "yes".into()]),
            model: FlModel::Logistic { alpha: 0.0, epochs: 5, learning_rate: 0.5, batch_size: 8, mu: 0.0 },
            privacy: None,
        }
    }

    fn table(rows: &[(f64, f64, &str)]) -> Table {
        let mut csv = String::from("a,b,y\n");
        for (a, b, y) in rows {
            csv.push_str(&format!("{a},{b},{y}\n"));
        }
        Table::parse(csv.as_bytes(), Format::Csv, &ParseOptions::default()).unwrap()
    }

    /// Two participants through every phase, summing their encodings in the clear: each
    /// phase's vector has the length the server expects and the outcomes chain.
    #[test]
    fn every_phase_has_the_announced_length_and_the_outcomes_chain() {
        let task = task();
        let a = table(&[(0.0, 1.0, "no"), (0.2, 0.8, "no"), (3.0, 0.1, "yes"), (2.5, 0.0, "yes")]);
        let b = table(&[(0.1, 0.9, "no"), (2.9, 0.2, "yes"), (3.1, 0.3, "yes")]);
        let (a, b) = (task.local(&a).unwrap(), task.local(&b).unwrap());
        let mut known = Known::default();
        let mut phase = Phase::Statistics;
        let mut last = None;
        loop {
            let len = vector_len(&task, phase, &known).unwrap();
            let mut encoded = vec![];
            for (i, data) in [&a, &b].into_iter().enumerate() {
                let c = contribution(&task, phase, &known, data, i as u64).unwrap();
                let e = c.encoding.encode(&c.values, c.rows).unwrap();
                assert_eq!(e.values.len(), len, "{phase:?}");
                encoded.push(e.values);
            }
            let (means, rows) = encoding(&task, phase).decode(&sum(&encoded)).unwrap();
            assert!(rows == 7 && rows < MAX_ROWS);
            match outcome(&task, phase, &known, means, rows).unwrap() {
                Outcome::Means { means, start } => {
                    known.means = Some(means);
                    known.params = start;
                }
                Outcome::Params { params, before } => {
                    assert!(before.is_some());
                    known.params = Some(params);
                }
                Outcome::Evaluated(m) => last = Some(m),
            }
            match phase.next(3) {
                Some(p) => phase = p,
                None => break,
            }
        }
        let Some(Metrics::Classification(c)) = last else { panic!("classification figures") };
        assert_eq!(c.accuracy, 1.0, "separable rows");
    }

    #[test]
    fn a_training_step_needs_the_statistics_first() {
        let e = vector_len(&task(), Phase::Train { step: 1 }, &Known::default()).unwrap_err();
        assert!(e.to_string().contains("statistics"), "{e}");
    }
}
