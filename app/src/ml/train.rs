//! A training run from tables to a fitted model: check the request against the columns,
//! cross-validate every search candidate (preprocessing and SMOTE fitted on each training fold
//! only), pick the best, refit it on all rows. Several tables are several owners' data: they
//! are split, encoded and fitted part by part and combined (`combine`), never concatenated.
//! Pure: the trainer runs it on a worker thread, and it reports through a `TrainMonitor`.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::combine::{check_combinable, fit_parts};
use super::metrics::{self, regression, Metrics, RegressionFit};
use super::model::{AnyModel, Model, ModelKind, Monitor};
use super::prep::Preprocessor;
use super::search::SearchSpace;
use super::smote::{oversample, SmoteParams};
use super::split::{k_fold, stratified_k_fold, Fold};
use super::task::{Target, Task};
use super::MlError;
use crate::dp::sgd::{self as dp_sgd, DpSgd};
use crate::dp::{PrivacySpec, PrivacySpent};
use crate::table::{Column, ColumnKind, Table};

pub const DEFAULT_FOLDS: usize = 5;
pub const MAX_FOLDS: usize = 20;

pub fn default_folds() -> usize {
    DEFAULT_FOLDS
}

/// The model to train: a kind with hyperparameters, and optionally a space to search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub kind: ModelKind,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub search: Option<SearchSpace>,
}

/// What to learn from the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub target: String,
    /// Input columns; all but the target when absent.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    pub model: ModelSpec,
    #[serde(default = "default_folds")]
    pub cv_folds: usize,
    #[serde(default)]
    pub seed: u64,
    /// Oversample the rarer classes of each training fold (classification only).
    #[serde(default)]
    pub smote: Option<SmoteParams>,
    /// Train by DP-SGD with these settings (logistic regression or the `dqn` network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacySpec>,
    /// What a numeric target is, said by the person: class codes (digits 0–9) or amounts. When
    /// absent, the column's kind and the model kind decide ([`TrainSpec::is_classification`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskChoice>,
}

/// Classification or regression, as a request asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChoice {
    Classification,
    Regression,
}

/// A request that does not fit the data, with the request field to correct.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The request field, dotted and indexed as in the JSON body (`model.params.trees`).
    pub field: String,
    pub message: String,
}

fn spec_error(field: &str, message: impl Into<String>) -> SpecError {
    SpecError { field: field.to_owned(), message: message.into() }
}

/// A privacy setting that cannot work, at its field under `privacy`.
fn privacy_error(e: crate::dp::DpError) -> SpecError {
    spec_error(&format!("privacy.{}", e.field_name()), e.message())
}

/// A model-building refusal as a field of the request: a named parameter under `model`, else
/// `fallback`.
fn model_error(fallback: &str, e: MlError) -> SpecError {
    match e {
        MlError::Param { name, message } if fallback == "model" => SpecError { field: format!("model.{name}"), message },
        other => spec_error(fallback, other.to_string()),
    }
}

impl TrainSpec {
    /// The input columns this spec uses.
    pub fn feature_names(&self, columns: &[Column]) -> Vec<String> {
        match &self.features {
            Some(f) => f.clone(),
            None => columns.iter().map(|c| c.name.clone()).filter(|n| *n != self.target).collect(),
        }
    }

    /// Whether this is classification: as the request's `task` says, else a categorical or
    /// boolean target, or a classifier asked for on a numeric one (its distinct values become
    /// the classes).
    pub fn is_classification(&self, target: &Column) -> bool {
        match self.task {
            Some(t) => t == TaskChoice::Classification,
            None => target.kind != ColumnKind::Numeric || matches!(self.model.kind, ModelKind::Logistic | ModelKind::Dqn),
        }
    }

    /// Checks everything that can be checked from the columns alone, so a bad request is
    /// refused before it is queued, with the field to correct. `owners` is the number of
    /// datasets: above one, the model must be one `combine` can fit part by part.
    pub fn check(&self, columns: &[Column], owners: usize) -> Result<(), SpecError> {
        let names = || columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
        let target = columns
            .iter()
            .find(|c| c.name == self.target)
            .ok_or_else(|| spec_error("target", format!("no column named “{}”; the columns are {}", self.target, names())))?;
        let features = self.feature_names(columns);
        if features.is_empty() {
            return Err(spec_error("features", "choose at least one input column besides the target"));
        }
        for f in &features {
            if f == &self.target {
                return Err(spec_error("features", format!("“{f}” is the target; it cannot also be an input")));
            }
            if !columns.iter().any(|c| &c.name == f) {
                return Err(spec_error("features", format!("no column named “{f}”; the columns are {}", names())));
            }
        }
        if !(2..=MAX_FOLDS).contains(&self.cv_folds) {
            return Err(spec_error("cv_folds", format!("cross-validation needs 2 to {MAX_FOLDS} folds, got {}", self.cv_folds)));
        }
        let classification = self.is_classification(target);
        match (self.task, self.model.kind) {
            (Some(TaskChoice::Regression), _) if target.kind != ColumnKind::Numeric => {
                return Err(spec_error("task", format!("“{}” is not numeric: it can only be classified", self.target)));
            }
            (Some(TaskChoice::Regression), ModelKind::Logistic | ModelKind::Dqn) => {
                return Err(spec_error(
                    "task",
                    format!(
                        "{} predicts classes; choose a tree, a forest, an ensemble or linear regression for numbers",
                        self.model.kind.label()
                    ),
                ));
            }
            (Some(TaskChoice::Classification), ModelKind::Linear) => {
                return Err(spec_error(
                    "task",
                    "linear regression predicts numbers; choose logistic regression, a tree or a forest for classes",
                ));
            }
            _ => {}
        }
        let task = if classification { Task::Classification { classes: 2 } } else { Task::Regression };
        if target.kind != ColumnKind::Numeric && self.model.kind == ModelKind::Linear {
            return Err(spec_error(
                "model.kind",
                format!(
                    "“{}” is categorical, and linear regression predicts numbers; choose logistic regression, a tree or a forest",
                    self.target
                ),
            ));
        }
        let model = AnyModel::build(self.model.kind, &self.model.params, task, self.seed).map_err(|e| model_error("model", e))?;
        if owners > 1 {
            check_combinable(&model, task).map_err(|e| model_error("model", e))?;
        }
        if let Some(space) = &self.model.search {
            for c in space.candidates(&self.model.params, self.seed).map_err(|e| spec_error("model.search", e.to_string()))? {
                AnyModel::build(self.model.kind, &c, task, self.seed).map_err(|e| model_error("model.search", e))?;
            }
        }
        if let Some(s) = &self.smote {
            if !classification {
                return Err(spec_error("smote", "SMOTE oversamples classes; the target is numeric"));
            }
            if s.k == 0 || !(s.ratio > 0.0 && s.ratio <= 1.0) {
                return Err(spec_error("smote", "k must be ≥ 1 and ratio in (0, 1]"));
            }
        }
        if let Some(p) = &self.privacy {
            self.check_privacy(p, classification, owners)?;
        }
        Ok(())
    }

    /// What differential privacy allows: one owner's rows, a classifier DP-SGD can fit, and no
    /// search or SMOTE (a search would spend ε on every candidate; SMOTE writes rows made from
    /// neighbours, so one row would reach several gradients).
    fn check_privacy(&self, p: &PrivacySpec, classification: bool, owners: usize) -> Result<(), SpecError> {
        p.check().map_err(privacy_error)?;
        if !classification {
            return Err(spec_error("privacy", "differential privacy trains classifiers here; the target is numeric"));
        }
        if !matches!(self.model.kind, ModelKind::Logistic | ModelKind::Dqn) {
            return Err(spec_error(
                "model.kind",
                format!(
                    "{} has no differentially private training; choose logistic regression or the DQN network",
                    self.model.kind.label()
                ),
            ));
        }
        if self.model.search.is_some() {
            return Err(spec_error(
                "model.search",
                "a search would spend the privacy budget once per candidate; choose one set of parameters",
            ));
        }
        if self.smote.is_some() {
            return Err(spec_error("smote", "SMOTE makes rows from neighbouring rows, which breaks the per-row guarantee; leave it out"));
        }
        if owners > 1 {
            return Err(spec_error(
                "privacy",
                "differential privacy applies to one dataset; for several owners declare a federation with privacy",
            ));
        }
        Ok(())
    }

    /// The checks that need the number of rows (δ against 1/rows, the batch size).
    pub fn check_rows(&self, rows: usize) -> Result<(), SpecError> {
        match &self.privacy {
            Some(p) => p.check_rows(rows).map_err(privacy_error),
            None => Ok(()),
        }
    }
}

/// How far a run is, as the trainer reports it. The job's events (`model::job::JobEvent`)
/// carry these; the trainer knows nothing of jobs.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// The data is open: rows and encoded features, and the work ahead.
    Loaded { rows: usize, features: usize, datasets: usize, task: String, candidates: usize, folds: usize },
    /// Progress inside one fit (`fold` is `None` for the final fit on all rows).
    Step { trial: usize, fold: Option<usize>, done: usize, total: usize, loss: Option<f64> },
    /// One cross-validation fold scored.
    Fold { trial: usize, fold: usize, folds: usize, score: f64 },
    /// One search candidate scored: the mean over folds.
    Trial { trial: usize, trials: usize, params: Map<String, Value>, score: f64 },
    /// The privacy the final model's training spends (σ found for a target ε, or as given).
    Privacy(PrivacySpent),
}

/// Where a run reports and learns that it should stop.
pub trait TrainMonitor {
    fn event(&mut self, event: Progress);
    fn cancelled(&self) -> bool;
}

/// A run nobody watches (tests, benchmarks, the authz harness) reports nowhere and never stops.
impl TrainMonitor for super::model::Quiet {
    fn event(&mut self, _: Progress) {}
    fn cancelled(&self) -> bool {
        false
    }
}

/// A fitted model with everything needed to use it on new rows and to judge it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub model: AnyModel,
    pub preprocessor: Preprocessor,
    pub target: String,
    /// Classes in the order of the model's outputs; `None` for regression.
    pub labels: Option<Vec<String>>,
    /// Cross-validated metrics of the chosen parameters (pooled out-of-fold predictions).
    pub metrics: Metrics,
    /// The hyperparameters the model was fitted with, in full (the search's choice, defaults, seed).
    pub params: Map<String, Value>,
    /// Every search candidate with its mean fold score.
    pub trials: Vec<(Map<String, Value>, f64)>,
    /// Rows used from each table (rows with a missing target are left out).
    pub rows: Vec<usize>,
    /// What training the model by DP-SGD spent; `None` without privacy.
    #[serde(default)]
    pub privacy: Option<PrivacySpent>,
}

/// One owner's table, with the rows that have a target and their targets.
struct Part<'a> {
    table: &'a Table,
    rows: Vec<usize>,
    target: Target,
    folds: Vec<Fold>,
}

/// Passes a fit's steps on as `Step` events.
struct Steps<'a> {
    monitor: &'a mut dyn TrainMonitor,
    trial: usize,
    fold: Option<usize>,
}

impl Monitor for Steps<'_> {
    fn step(&mut self, done: usize, total: usize, loss: Option<f64>) {
        self.monitor.event(Progress::Step { trial: self.trial, fold: self.fold, done, total, loss });
    }
    fn cancelled(&self) -> bool {
        self.monitor.cancelled()
    }
}

pub fn train(tables: &[&Table], spec: &TrainSpec, monitor: &mut dyn TrainMonitor) -> Result<Trained, MlError> {
    let first = tables.first().ok_or_else(|| MlError::Shape("no data".into()))?;
    spec.check(&first.columns, tables.len()).map_err(|e| MlError::Parameter(e.to_string()))?;
    for (i, t) in tables.iter().enumerate().skip(1) {
        let same = t.columns.len() == first.columns.len()
            && t.columns.iter().zip(&first.columns).all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if !same {
            return Err(MlError::Parameter(format!(
                "dataset {} has different columns from the first; a joint job needs the same columns",
                i + 1
            )));
        }
    }
    let features = spec.feature_names(&first.columns);
    let target_col = first.column_index(&spec.target).ok_or_else(|| MlError::Parameter("no target".into()))?;
    let classification = spec.is_classification(&first.columns[target_col]);
    let labels = target_labels(tables, target_col, classification, &spec.target)?;
    let task = match &labels {
        Some(l) => Task::Classification { classes: l.len() },
        None => Task::Regression,
    };
    let mut parts = Vec::with_capacity(tables.len());
    for (p, table) in tables.iter().enumerate() {
        let (rows, target) = target_of(table, target_col, labels.as_deref());
        let seed = spec.seed.wrapping_add(p as u64);
        let folds = match &target {
            Target::Classes { y, .. } => stratified_k_fold(y, spec.cv_folds, seed),
            Target::Values(v) => k_fold(v.len(), spec.cv_folds, seed),
        }
        .map_err(|e| if tables.len() > 1 { MlError::Parameter(format!("dataset {}: {e}", p + 1)) } else { e })?;
        parts.push(Part { table, rows, target, folds });
    }
    let candidates = match &spec.model.search {
        Some(space) => space.candidates(&spec.model.params, spec.seed)?,
        None => vec![spec.model.params.clone()],
    };
    let total_rows: usize = parts.iter().map(|p| p.rows.len()).sum();
    // σ is settled on the final fit's rows; the folds' fits use the same σ (on fewer rows, so
    // they spend a little more, but only the final model is published).
    let privacy = match &spec.privacy {
        Some(p) => Some(p.resolve(total_rows, spec.seed).map_err(MlError::from)?),
        None => None,
    };
    let dp = privacy.as_ref().map(|(sgd, _)| sgd);
    let width = Preprocessor::fit_parts(&parts.iter().map(|p| (p.table, &p.rows[..])).collect::<Vec<_>>(), &features)?.width();
    monitor.event(Progress::Loaded {
        rows: total_rows,
        features: width,
        datasets: tables.len(),
        task: if classification { "classification" } else { "regression" }.into(),
        candidates: candidates.len(),
        folds: spec.cv_folds,
    });
    if let Some((_, spent)) = &privacy {
        monitor.event(Progress::Privacy(spent.clone()));
    }

    let mut trials = Vec::with_capacity(candidates.len());
    let mut best: Option<(usize, f64, Metrics)> = None;
    for (t, params) in candidates.iter().enumerate() {
        // Out-of-fold predictions and positive-class scores, per part, in `rows` order.
        let mut pred: Vec<Vec<f64>> = parts.iter().map(|p| vec![0.0; p.rows.len()]).collect();
        let mut score: Vec<Vec<f64>> = parts.iter().map(|p| vec![0.0; p.rows.len()]).collect();
        let mut fold_scores = Vec::with_capacity(spec.cv_folds);
        for f in 0..spec.cv_folds {
            let train_positions: Vec<Vec<usize>> = parts.iter().map(|p| p.folds[f].train.clone()).collect();
            let mut steps = Steps { monitor: &mut *monitor, trial: t, fold: Some(f) };
            let (model, prep) = fit_on(&parts, &train_positions, &features, spec, params, task, dp, &mut steps)?;
            let (mut fold_truth, mut fold_pred) = (Vec::new(), Vec::new());
            for (pi, part) in parts.iter().enumerate() {
                let test = &part.folds[f].test;
                let table_rows: Vec<usize> = test.iter().map(|i| part.rows[*i]).collect();
                let x = prep.transform(part.table, &table_rows)?;
                let out = model.predict(&x)?;
                let proba = model.predict_proba(&x)?;
                for (j, i) in test.iter().enumerate() {
                    pred[pi][*i] = out[j];
                    score[pi][*i] = proba.as_ref().filter(|p| p.ncols() == 2).map_or(0.0, |p| p[[j, 1]]);
                }
                fold_truth.extend(part.target.subset(test).as_f64());
                fold_pred.extend(out);
            }
            let s = main_score(&labels, &fold_truth, &fold_pred)?;
            fold_scores.push(s);
            monitor.event(Progress::Fold { trial: t, fold: f, folds: spec.cv_folds, score: s });
        }
        let mean = fold_scores.iter().sum::<f64>() / fold_scores.len() as f64;
        monitor.event(Progress::Trial { trial: t, trials: candidates.len(), params: params.clone(), score: mean });
        trials.push((params.clone(), mean));
        if best.as_ref().is_none_or(|(_, b, _)| mean > *b) {
            let truth: Vec<f64> = parts.iter().flat_map(|p| p.target.as_f64()).collect();
            let pred: Vec<f64> = pred.concat();
            let metrics = match &labels {
                Some(l) => {
                    let idx = |v: &[f64]| v.iter().map(|c| *c as usize).collect::<Vec<_>>();
                    let scores = score.concat();
                    Metrics::Classification(metrics::classification(l, &idx(&truth), &idx(&pred), (l.len() == 2).then_some(&scores[..]))?)
                }
                None => {
                    let mut report = regression(&truth, &pred)?;
                    // Counts of where rows fell would not be covered by the privacy guarantee.
                    report.fit = if dp.is_none() { RegressionFit::of(&truth, &pred) } else { None };
                    Metrics::Regression(report)
                }
            };
            best = Some((t, mean, metrics));
        }
    }
    let (best_index, _, metrics) = best.ok_or_else(|| MlError::Parameter("no candidates".into()))?;
    let params = candidates[best_index].clone();
    let every: Vec<Vec<usize>> = parts.iter().map(|p| (0..p.rows.len()).collect()).collect();
    let mut steps = Steps { monitor: &mut *monitor, trial: best_index, fold: None };
    let (model, preprocessor) = fit_on(&parts, &every, &features, spec, &params, task, dp, &mut steps)?;
    Ok(Trained {
        params: effective_params(&model).unwrap_or(params),
        model,
        preprocessor,
        target: spec.target.clone(),
        labels,
        metrics,
        trials,
        rows: parts.iter().map(|p| p.rows.len()).collect(),
        privacy: privacy.map(|(_, spent)| spent),
    })
}

/// A classification target's classes across every table, sorted (at least two); `None` for
/// regression. The one rule for what the classes are, shared by training and its tests.
pub fn target_labels(tables: &[&Table], target_col: usize, classification: bool, name: &str) -> Result<Option<Vec<String>>, MlError> {
    if !classification {
        return Ok(None);
    }
    let distinct: std::collections::BTreeSet<std::borrow::Cow<'_, str>> =
        tables.iter().flat_map(|t| (0..t.len()).filter_map(|r| t.values(target_col).label(r))).collect();
    let l: Vec<String> = distinct.into_iter().map(|c| c.into_owned()).collect();
    if l.len() < 2 {
        return Err(MlError::Parameter(format!("the target “{name}” needs at least two classes")));
    }
    Ok(Some(l))
}

/// One table's rows that have a target value, and the target: class indices into `labels`, or
/// the numbers for regression (`labels` is `None`).
pub fn target_of(table: &Table, target_col: usize, labels: Option<&[String]>) -> (Vec<usize>, Target) {
    match labels {
        Some(l) => {
            let values = table.values(target_col);
            let (rows, y): (Vec<usize>, Vec<usize>) = (0..table.len())
                .filter_map(|i| values.label(i).and_then(|v| l.binary_search_by(|x| x.as_str().cmp(&v)).ok()).map(|c| (i, c)))
                .unzip();
            (rows, Target::Classes { y, classes: l.len() })
        }
        None => {
            let values = table.values(target_col);
            let (rows, y): (Vec<usize>, Vec<f64>) = (0..table.len()).filter_map(|i| values.number(i).map(|v| (i, v))).unzip();
            (rows, Target::Values(y))
        }
    }
}

/// The hyperparameters a model was built with, in full: what the search chose, the defaults
/// it left, and the seed (the request may have said only `{}`).
fn effective_params(model: &AnyModel) -> Option<Map<String, Value>> {
    match serde_json::to_value(model).ok()? {
        Value::Object(mut m) => match m.remove("params")? {
            Value::Object(p) => Some(p),
            _ => None,
        },
        _ => None,
    }
}

/// Fits preprocessing and a model on some rows of each part: `positions[p]` index the part's
/// `rows` (and its target). With `dp`, by DP-SGD (one part: `check_privacy` refuses more).
#[allow(clippy::too_many_arguments)]
fn fit_on(
    parts: &[Part],
    positions: &[Vec<usize>],
    features: &[String],
    spec: &TrainSpec,
    params: &Map<String, Value>,
    task: Task,
    dp: Option<&DpSgd>,
    monitor: &mut dyn Monitor,
) -> Result<(AnyModel, Preprocessor), MlError> {
    let table_rows: Vec<Vec<usize>> = parts.iter().zip(positions).map(|(p, pos)| pos.iter().map(|i| p.rows[*i]).collect()).collect();
    let prep = Preprocessor::fit_parts(&parts.iter().zip(&table_rows).map(|(p, r)| (p.table, &r[..])).collect::<Vec<_>>(), features)?;
    let mut data: Vec<(Array2<f64>, Target)> = Vec::with_capacity(parts.len());
    for ((p, rows), pos) in parts.iter().zip(&table_rows).zip(positions) {
        let x = prep.transform(p.table, rows)?;
        let y = p.target.subset(pos);
        data.push(match (&spec.smote, &y) {
            (Some(s), Target::Classes { y, classes }) => {
                let (x, y) = oversample(&x, y, *classes, s, spec.seed)?;
                (x, Target::Classes { y, classes: *classes })
            }
            _ => (x, y),
        });
    }
    let mut model = AnyModel::build(spec.model.kind, params, task, spec.seed)?;
    match (dp, &data[..]) {
        (Some(sgd), [(x, y)]) => dp_sgd::fit(&mut model, x, y, sgd, monitor)?,
        _ => fit_parts(&mut model, &data, monitor)?,
    }
    Ok((model, prep))
}

/// Accuracy for classification, R² for regression: what folds and trials are ranked by.
fn main_score(labels: &Option<Vec<String>>, truth: &[f64], pred: &[f64]) -> Result<f64, MlError> {
    Ok(match labels {
        Some(_) => {
            if truth.is_empty() {
                return Err(MlError::Shape("no rows to score".into()));
            }
            truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
        }
        None => regression(truth, pred)?.r2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Format, ParseOptions};

    struct Record(Vec<Progress>);
    impl TrainMonitor for Record {
        fn event(&mut self, e: Progress) {
            self.0.push(e);
        }
        fn cancelled(&self) -> bool {
            false
        }
    }

    fn table(csv: &str) -> Table {
        Table::parse(csv.as_bytes(), Format::Csv, &ParseOptions::default()).unwrap()
    }

    fn spec(json: &str) -> TrainSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn requests_that_do_not_fit_the_columns_name_the_field() {
        let t = table("a,b,label\n1,2,x\n2,3,y\n3,4,x\n4,5,y\n");
        let field = |json: &str| spec(json).check(&t.columns, 1).unwrap_err().field;
        assert_eq!(field(r#"{"target": "nope", "model": {"kind": "forest"}}"#), "target");
        assert_eq!(field(r#"{"target": "label", "model": {"kind": "linear"}}"#), "model.kind");
        assert_eq!(field(r#"{"target": "label", "features": ["zz"], "model": {"kind": "tree"}}"#), "features");
        assert_eq!(field(r#"{"target": "label", "model": {"kind": "tree", "params": {"depth": 3}}}"#), "model.params");
        assert_eq!(field(r#"{"target": "label", "model": {"kind": "tree", "search": {"grid": {}}}}"#), "model.search");
        assert_eq!(field(r#"{"target": "label", "cv_folds": 1, "model": {"kind": "tree"}}"#), "cv_folds");
        assert_eq!(field(r#"{"target": "a", "smote": {}, "model": {"kind": "forest"}}"#), "smote");
        assert!(spec(r#"{"target": "label", "model": {"kind": "forest"}}"#).check(&t.columns, 1).is_ok());
    }

    /// Hyperparameters out of range are refused at submission with their path in the request,
    /// not accepted and failed in the worker.
    #[test]
    fn hyperparameters_out_of_range_name_their_field() {
        let t = table("a,b,label\n1,2,x\n2,3,y\n3,4,x\n4,5,y\n");
        let refusal = |json: &str| spec(json).check(&t.columns, 1).unwrap_err();
        let cases = [
            (r#"{"kind": "forest", "params": {"trees": 0}}"#, "model.params.trees"),
            (r#"{"kind": "forest", "params": {"max_depth": 0}}"#, "model.params.max_depth"),
            (r#"{"kind": "tree", "params": {"max_depth": 0}}"#, "model.params.max_depth"),
            (r#"{"kind": "tree", "params": {"min_samples_split": 1}}"#, "model.params.min_samples_split"),
            (r#"{"kind": "tree", "params": {"min_samples_leaf": 0}}"#, "model.params.min_samples_leaf"),
            (r#"{"kind": "dqn", "params": {"epochs": 0}}"#, "model.params.epochs"),
            (r#"{"kind": "dqn", "params": {"learning_rate": 2.0}}"#, "model.params.learning_rate"),
            (r#"{"kind": "logistic", "params": {"alpha": -1}}"#, "model.params.alpha"),
            (r#"{"kind": "logistic", "params": {"max_iterations": 0}}"#, "model.params.max_iterations"),
            (r#"{"kind": "ensemble", "params": {"method": "stacking", "folds": 1}}"#, "model.params.folds"),
            (
                r#"{"kind": "ensemble", "params": {"members": [{"kind": "logistic"}, {"kind": "forest", "params": {"trees": 0}}]}}"#,
                "model.params.members[1].params.trees",
            ),
            (r#"{"kind": "ensemble", "params": {"members": [{"kind": "linear"}]}}"#, "model.params.members[0].kind"),
        ];
        for (model, field) in cases {
            let e = refusal(&format!(r#"{{"target": "label", "model": {model}}}"#));
            assert_eq!(e.field, field, "{model}: {}", e.message);
            assert!(!e.message.is_empty());
        }
        let e = refusal(r#"{"target": "label", "model": {"kind": "forest", "params": {"trees": 0}}}"#);
        assert!(e.message.contains("between 1 and"), "{}", e.message);
        // A search candidate out of range is refused too.
        let e = refusal(r#"{"target": "label", "model": {"kind": "forest", "search": {"grid": {"trees": [10, 0]}}}}"#);
        assert_eq!(e.field, "model.search", "{}", e.message);
        assert!(e.message.contains("trees"), "{}", e.message);
    }

    /// Several owners' datasets need a model `combine` can fit part by part; what cannot be is
    /// refused at submission, naming the part of the spec to change.
    #[test]
    fn models_that_cannot_be_combined_across_owners_are_refused_for_joint_jobs() {
        let t = table("a,b,label\n1,2,x\n2,3,y\n3,4,x\n4,5,y\n");
        let joint = |model: &str| spec(&format!(r#"{{"target": "label", "model": {model}}}"#)).check(&t.columns, 2);
        let field = |model: &str| joint(model).unwrap_err().field;
        assert_eq!(field(r#"{"kind": "tree"}"#), "model.kind");
        assert_eq!(field(r#"{"kind": "ensemble", "params": {"method": "stacking"}}"#), "model.params.method");
        assert_eq!(field(r#"{"kind": "ensemble"}"#), "model.params.members", "the default members include a tree");
        assert_eq!(
            field(r#"{"kind": "ensemble", "params": {"members": [{"kind": "logistic"}, {"kind": "tree"}]}}"#),
            "model.params.members[1].kind"
        );
        let e = joint(r#"{"kind": "ensemble"}"#).unwrap_err();
        assert!(e.message.contains("decision tree"), "{}", e.message);
        for ok in [
            r#"{"kind": "forest"}"#,
            r#"{"kind": "logistic"}"#,
            r#"{"kind": "dqn"}"#,
            r#"{"kind": "ensemble", "params": {"members": [{"kind": "logistic"}, {"kind": "forest"}]}}"#,
        ] {
            assert!(joint(ok).is_ok(), "{ok}: {:?}", joint(ok));
        }
        // One owner: the same models are fine.
        assert!(spec(r#"{"target": "label", "model": {"kind": "tree"}}"#).check(&t.columns, 1).is_ok());
    }

    /// A grid search reports every fold and trial, keeps the best, and the events add up.
    #[test]
    fn a_search_scores_every_candidate_by_cross_validation() {
        let mut csv = String::from("x,noise,y\n");
        for i in 0..60 {
            csv.push_str(&format!("{},{},{}\n", i % 20, (i * 7) % 5, if i % 20 < 10 { "lo" } else { "hi" }));
        }
        let t = table(&csv);
        let s = spec(r#"{"target": "y", "cv_folds": 3, "model": {"kind": "tree", "search": {"grid": {"max_depth": [1, 3]}}}}"#);
        let mut rec = Record(Vec::new());
        let out = train(&[&t], &s, &mut rec).unwrap();
        assert_eq!(out.trials.len(), 2);
        assert_eq!(rec.0.iter().filter(|e| matches!(e, Progress::Fold { .. })).count(), 6);
        assert_eq!(rec.0.iter().filter(|e| matches!(e, Progress::Trial { .. })).count(), 2);
        let Metrics::Classification(m) = &out.metrics else { panic!() };
        assert_eq!(m.accuracy, 1.0, "one split on x separates the classes");
        assert_eq!(out.labels.as_deref(), Some(&["hi".to_string(), "lo".to_string()][..]));
        // The model records the hyperparameters it was fitted with in full: the winner's
        // depth, the defaults the request left out, and the seed.
        let best = out.trials.iter().map(|t| t.1).fold(f64::MIN, f64::max);
        let winner = &out.trials.iter().find(|t| t.1 == best).unwrap().0; // the first best wins ties
        assert_eq!(out.params.get("max_depth"), winner.get("max_depth"));
        assert_eq!(out.params.get("min_samples_split"), Some(&Value::from(2)));
        assert!(out.params.contains_key("seed"), "{:?}", out.params);
        assert_eq!(out.rows, vec![60]);
    }

    /// Class codes (a digit 0–2 as the target) are classified when the request says so, and
    /// regressed otherwise, with the counts of where predictions fell for the charts.
    #[test]
    fn a_numeric_target_is_classified_when_the_request_says_it_holds_classes() {
        let mut csv = String::from("x,code\n");
        for i in 0..60 {
            csv.push_str(&format!("{},{}\n", i % 30, (i % 30) / 10));
        }
        let t = table(&csv);
        let classes =
            spec(r#"{"target": "code", "cv_folds": 3, "task": "classification", "model": {"kind": "forest", "params": {"trees": 5}}}"#);
        let out = train(&[&t], &classes, &mut Record(Vec::new())).unwrap();
        assert_eq!(out.labels.as_deref().map(<[String]>::len), Some(3), "three classes: 0, 1 and 2");
        assert!(matches!(out.metrics, Metrics::Classification(_)));
        let amounts = spec(r#"{"target": "code", "cv_folds": 3, "model": {"kind": "forest", "params": {"trees": 5}}}"#);
        let out = train(&[&t], &amounts, &mut Record(Vec::new())).unwrap();
        let Metrics::Regression(r) = &out.metrics else { panic!("a forest regresses a numeric target by default") };
        let fit = r.fit.as_ref().expect("a regression keeps the bins of its out-of-fold predictions");
        assert_eq!(fit.counts.iter().flatten().sum::<u64>(), 60);
        // What cannot be: regression of categories, regression by a classifier, classes by linear regression.
        let t2 = table("a,label\n1,x\n2,y\n3,x\n4,y\n");
        let field = |json: &str, t: &Table| spec(json).check(&t.columns, 1).unwrap_err().field;
        assert_eq!(field(r#"{"target": "label", "task": "regression", "model": {"kind": "forest"}}"#, &t2), "task");
        assert_eq!(field(r#"{"target": "code", "task": "regression", "model": {"kind": "logistic"}}"#, &t), "task");
        assert_eq!(field(r#"{"target": "code", "task": "classification", "model": {"kind": "linear"}}"#, &t), "task");
    }
}
