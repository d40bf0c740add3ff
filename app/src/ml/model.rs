//! One `Model` trait over every kind the trainer offers, and `AnyModel`, the serialisable
//! choice among them. A model holds its hyperparameters and, once fitted, its parameters; a
//! second `fit` continues from them where the kind allows (logistic regression, DQN), which
//! is what a federated round needs.

use linfa::ParamGuard;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::dqn::DqnModel;
use super::ensemble::EnsembleModel;
use super::forest::{Forest, ForestParams};
use super::linear::{fit_linear, fit_logistic, Fitted};
use super::task::{Target, Task};
use super::tree::{Tree, TreeParams};
use super::MlError;

/// Where a long fit reports progress and learns that it should stop.
pub trait Monitor {
    /// One step of an iterative fit: an epoch of the DQN, a tree of a forest. `loss` when the
    /// step has one.
    fn step(&mut self, _done: usize, _total: usize, _loss: Option<f64>) {}
    fn cancelled(&self) -> bool {
        false
    }
}

/// A monitor that hears nothing and never cancels.
pub struct Quiet;
impl Monitor for Quiet {}

/// Fails with `Cancelled` when the monitor says so; fits call it between steps.
pub fn check_cancel(monitor: &dyn Monitor) -> Result<(), MlError> {
    if monitor.cancelled() {
        Err(MlError::Cancelled)
    } else {
        Ok(())
    }
}

/// `job(0..count)` on up to `workers` threads, the results in order, reporting each finished
/// one to `monitor` and stopping (between jobs) when it cancels or a job fails. The jobs must
/// not depend on which thread runs them (a forest seeds each tree on its own), so the result
/// is the same for any number of workers; one worker (always in wasm) starts no thread.
pub fn each_monitored<T: Send>(
    count: usize,
    workers: usize,
    job: impl Fn(usize) -> Result<T, MlError> + Sync,
    monitor: &mut dyn Monitor,
) -> Result<Vec<T>, MlError> {
    let workers = workers.min(count);
    if workers <= 1 {
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            check_cancel(monitor)?;
            out.push(job(i)?);
            monitor.step(i + 1, count, None);
        }
        return Ok(out);
    }
    // Workers take the next number until none is left or `stop` is set; this thread keeps the
    // monitor (it is not `Send`) and puts the results in order.
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut slots: Vec<Option<T>> = (0..count).map(|_| None).collect();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..workers {
            let (tx, next, stop, job) = (tx.clone(), &next, &stop, &job);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || stop.load(Ordering::Relaxed) || tx.send((i, job(i))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (done, (i, result)) in rx.into_iter().enumerate() {
            match result.and_then(|v| check_cancel(monitor).map(|()| v)) {
                Ok(v) => {
                    slots[i] = Some(v);
                    monitor.step(done + 1, count, None);
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    })?;
    // Every number was taken and sent unless a job failed or the fit was cancelled (both
    // returned above), so every slot is full.
    slots.into_iter().map(|v| v.ok_or(MlError::Cancelled)).collect()
}

pub trait Model {
    /// Fits to `x`, `y`; continues from the current parameters where the kind allows it.
    fn fit(&mut self, x: &Array2<f64>, y: &Target, monitor: &mut dyn Monitor) -> Result<(), MlError>;
    /// Regression values, or class indices (as f64).
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError>;
    /// Class probabilities (one column per class) for classifiers; `None` for regression.
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError>;
    /// Both at once. A kind whose prediction is read off its probabilities (a forest)
    /// overrides it to walk the model once instead of twice.
    fn predict_with_proba(&self, x: &Array2<f64>) -> Result<(Vec<f64>, Option<Array2<f64>>), MlError> {
        Ok((self.predict(x)?, self.predict_proba(x)?))
    }
    /// Hyperparameters and fitted parameters as JSON (the model artifact's `model` field).
    fn serialize(&self) -> Result<Value, MlError>;
}

/// The model kinds of DESIGN §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Linear,
    Logistic,
    Tree,
    Forest,
    Ensemble,
    Dqn,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] =
        [ModelKind::Linear, ModelKind::Logistic, ModelKind::Tree, ModelKind::Forest, ModelKind::Ensemble, ModelKind::Dqn];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Linear => "linear",
            ModelKind::Logistic => "logistic",
            ModelKind::Tree => "tree",
            ModelKind::Forest => "forest",
            ModelKind::Ensemble => "ensemble",
            ModelKind::Dqn => "dqn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Linear => "Linear regression",
            ModelKind::Logistic => "Logistic regression",
            ModelKind::Tree => "Decision tree",
            ModelKind::Forest => "Random forest",
            ModelKind::Ensemble => "Ensemble (voting or stacking)",
            ModelKind::Dqn => "DQN classifier (imbalanced classes)",
        }
    }

    /// What the kind does, in a sentence for someone who is not an ML engineer.
    pub fn explain(self) -> &'static str {
        match self {
            ModelKind::Linear => "Predicts a number as a weighted sum of the inputs: fast, easy to read, and the baseline to beat.",
            ModelKind::Logistic => {
                "Predicts a category from a weighted sum of the inputs, with a probability for each: fast and easy to read."
            }
            ModelKind::Tree => "Asks a few yes/no questions about the inputs to reach an answer: readable, but it can overfit.",
            ModelKind::Forest => "Many decision trees vote: usually the most accurate choice for tables, at some cost in speed.",
            ModelKind::Ensemble => "Combines several kinds of model by vote or by stacking: for squeezing out the last points.",
            ModelKind::Dqn => "A small neural network trained to find rare categories (fraud, faults) that other models miss.",
        }
    }

    /// True for kinds that predict numbers; the others predict categories.
    pub fn predicts_numbers(self) -> bool {
        matches!(self, ModelKind::Linear)
    }

    pub fn parse(s: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether this kind can learn `task`; the message says what to choose instead.
    pub fn check_task(self, task: Task) -> Result<(), MlError> {
        match (self, task) {
            (ModelKind::Linear, Task::Classification { .. }) => Err(MlError::param(
                "kind",
                "linear regression predicts numbers, and the target is categorical; choose logistic regression, a tree or a forest",
            )),
            (ModelKind::Logistic | ModelKind::Dqn, Task::Regression) => Err(MlError::param(
                "kind",
                format!(
                    "{} is a classifier, and the target is numeric; choose linear regression, a tree or a forest",
                    self.label().to_lowercase()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Kinds whose fit draws random numbers, so a job's seed is passed to them.
    fn seeded(self) -> bool {
        matches!(self, ModelKind::Tree | ModelKind::Forest | ModelKind::Dqn | ModelKind::Ensemble)
    }
}

/// Any model, tagged by kind in its JSON form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnyModel {
    Linear(LinearModel),
    Logistic(LogisticModel),
    Tree(TreeModel),
    Forest(ForestModel),
    Ensemble(EnsembleModel),
    Dqn(DqnModel),
}

impl AnyModel {
    /// An unfitted model of `kind` from its hyperparameters (`{}` for the defaults), checked
    /// against the task. `seed` is used unless the parameters name one. A refusal names its
    /// place in the model spec: `kind`, `params`, or `params.NAME`.
    pub fn build(kind: ModelKind, params: &Map<String, Value>, task: Task, seed: u64) -> Result<AnyModel, MlError> {
        kind.check_task(task)?;
        let mut params = params.clone();
        if kind.seeded() && !params.contains_key("seed") {
            params.insert("seed".into(), Value::from(seed));
        }
        let mut json = Map::new();
        json.insert("kind".into(), Value::from(kind.as_str()));
        json.insert("params".into(), Value::Object(params));
        let model: AnyModel = serde_json::from_value(Value::Object(json))
            .map_err(|e| MlError::param("params", format!("{} parameters: {e}", kind.as_str())))?;
        model.check_params(task).map_err(|e| e.within("params"))?;
        Ok(model)
    }

    /// Every hyperparameter in range (linfa's `ParamGuard` of each kind), and an ensemble's
    /// members able to learn `task`: what a job submission checks before queueing.
    fn check_params(&self, task: Task) -> Result<(), MlError> {
        match self {
            AnyModel::Linear(_) => Ok(()),
            AnyModel::Logistic(m) => m.params.check_ref().map(drop),
            AnyModel::Tree(m) => m.params.check_ref().map(drop),
            AnyModel::Forest(m) => m.params.check_ref().map(drop),
            AnyModel::Ensemble(m) => m.check(task),
            AnyModel::Dqn(m) => m.params.check_ref().map(drop),
        }
    }

    pub fn kind(&self) -> ModelKind {
        match self {
            AnyModel::Linear(_) => ModelKind::Linear,
            AnyModel::Logistic(_) => ModelKind::Logistic,
            AnyModel::Tree(_) => ModelKind::Tree,
            AnyModel::Forest(_) => ModelKind::Forest,
            AnyModel::Ensemble(_) => ModelKind::Ensemble,
            AnyModel::Dqn(_) => ModelKind::Dqn,
        }
    }

    fn inner(&self) -> &dyn Model {
        match self {
            AnyModel::Linear(m) => m,
            AnyModel::Logistic(m) => m,
            AnyModel::Tree(m) => m,
            AnyModel::Forest(m) => m,
            AnyModel::Ensemble(m) => m,
            AnyModel::Dqn(m) => m,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Model {
        match self {
            AnyModel::Linear(m) => m,
            AnyModel::Logistic(m) => m,
            AnyModel::Tree(m) => m,
            AnyModel::Forest(m) => m,
            AnyModel::Ensemble(m) => m,
            AnyModel::Dqn(m) => m,
        }
    }

    /// The parameters as one flat vector, for the kinds that have one (federated averaging,
    /// quantisation): linear and logistic regression and the DQN's network.
    pub fn flat_params(&self) -> Option<Vec<f64>> {
        match self {
            AnyModel::Linear(LinearModel { fitted: Some(f), .. }) | AnyModel::Logistic(LogisticModel { fitted: Some(f), .. }) => {
                Some(f.params())
            }
            AnyModel::Dqn(m) => m.flat_params(),
            _ => None,
        }
    }
}

impl Model for AnyModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, monitor: &mut dyn Monitor) -> Result<(), MlError> {
        self.kind().check_task(y.task())?;
        self.inner_mut().fit(x, y, monitor)
    }
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        self.inner().predict(x)
    }
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        self.inner().predict_proba(x)
    }
    fn predict_with_proba(&self, x: &Array2<f64>) -> Result<(Vec<f64>, Option<Array2<f64>>), MlError> {
        self.inner().predict_with_proba(x)
    }
    fn serialize(&self) -> Result<Value, MlError> {
        serde_json::to_value(self).map_err(|e| MlError::Shape(format!("cannot serialise the model: {e}")))
    }
}

fn not_fitted() -> MlError {
    MlError::Shape("the model has not been fitted".into())
}

fn values(y: &Target) -> Result<&[f64], MlError> {
    match y {
        Target::Values(v) => Ok(v),
        Target::Classes { .. } => Err(MlError::Parameter("this model needs a numeric target".into())),
    }
}

fn classes(y: &Target) -> Result<(&[usize], usize), MlError> {
    match y {
        Target::Classes { y, classes } => Ok((y, *classes)),
        Target::Values(_) => Err(MlError::Parameter("this model needs a categorical target".into())),
    }
}

/// Linear regression has no hyperparameters; the struct exists so unknown ones are refused.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearParams {}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    #[serde(default)]
    pub params: LinearParams,
    #[serde(default)]
    pub fitted: Option<Fitted>,
}

impl Model for LinearModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, _: &mut dyn Monitor) -> Result<(), MlError> {
        self.fitted = Some(fit_linear(x.clone(), values(y)?.to_vec())?);
        Ok(())
    }
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        Ok(self.fitted.as_ref().ok_or_else(not_fitted)?.predict(x))
    }
    fn predict_proba(&self, _: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        Ok(None)
    }
    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Linear(self.clone()))
    }
}

/// How classes are weighted in the loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    #[default]
    None,
    /// scikit-learn's "balanced": class c weighs n / (classes · n_c).
    Balanced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// L2 penalty strength.
    pub alpha: f64,
    pub max_iterations: u64,
    pub class_weight: ClassWeight,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams { alpha: 1.0, max_iterations: 200, class_weight: ClassWeight::None }
    }
}

super::param_guard!(LogisticParams, |p| {
    if !(p.alpha.is_finite() && p.alpha >= 0.0) {
        return Err(MlError::param("alpha", format!("must be a number ≥ 0, got {}", p.alpha)));
    }
    if p.max_iterations == 0 {
        return Err(MlError::param("max_iterations", "must be at least 1"));
    }
});

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    #[serde(default)]
    pub params: LogisticParams,
    #[serde(default)]
    pub fitted: Option<Fitted>,
}

impl Model for LogisticModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, _: &mut dyn Monitor) -> Result<(), MlError> {
        let (y, k) = classes(y)?;
        let p = self.params.check_ref()?;
        let fitted = match p.class_weight {
            ClassWeight::None => fit_logistic(x.clone(), y, k, p.alpha, p.max_iterations, self.fitted.as_ref())?,
            ClassWeight::Balanced => {
                let rows = balanced_replication(y, k);
                let xw = x.select(ndarray::Axis(0), &rows);
                let yw: Vec<usize> = rows.iter().map(|i| y[*i]).collect();
                fit_logistic(xw, &yw, k, p.alpha, p.max_iterations, self.fitted.as_ref())?
            }
        };
        self.fitted = Some(fitted);
        Ok(())
    }
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        Ok(self.fitted.as_ref().ok_or_else(not_fitted)?.predict(x))
    }
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        Ok(Some(self.fitted.as_ref().ok_or_else(not_fitted)?.predict_proba(x)))
    }
    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Logistic(self.clone()))
    }
}

/// Rows repeated so that each class carries about the same total weight as with scikit-learn's
/// "balanced" weights (n / (k · n_c)), rounded to whole copies relative to the lightest class.
/// linfa's logistic regression takes no sample weights; repeating rows is the same loss for
/// integer weights (up to the penalty's scale).
pub fn balanced_replication(y: &[usize], classes: usize) -> Vec<usize> {
    let mut counts = vec![0usize; classes];
    for c in y {
        counts[*c] += 1;
    }
    let largest = counts.iter().copied().max().unwrap_or(1).max(1);
    let copies: Vec<usize> =
        counts.iter().map(|n| if *n == 0 { 0 } else { (largest as f64 / *n as f64).round().max(1.0) as usize }).collect();
    (0..y.len()).flat_map(|i| std::iter::repeat_n(i, copies[y[i]])).collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeModel {
    #[serde(default)]
    pub params: TreeParams,
    #[serde(default)]
    pub fitted: Option<Tree>,
}

impl Model for TreeModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, _: &mut dyn Monitor) -> Result<(), MlError> {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.params.seed);
        self.fitted = Some(Tree::fit(x, &y.as_f64(), (0..x.nrows()).collect(), y.task(), &self.params, &mut rng)?);
        Ok(())
    }
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        let t = self.fitted.as_ref().ok_or_else(not_fitted)?;
        Ok(leaf_predictions(t.task, x, |row| t.leaf(row).to_vec()))
    }
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        let t = self.fitted.as_ref().ok_or_else(not_fitted)?;
        Ok(match t.task {
            Task::Regression => None,
            Task::Classification { classes } => {
                let mut out = Array2::zeros((x.nrows(), classes));
                for (i, row) in x.outer_iter().enumerate() {
                    for (k, v) in t.leaf(row).iter().enumerate() {
                        out[[i, k]] = *v;
                    }
                }
                Some(out)
            }
        })
    }
    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Tree(self.clone()))
    }
}

fn leaf_predictions(task: Task, x: &Array2<f64>, leaf: impl Fn(ndarray::ArrayView1<f64>) -> Vec<f64>) -> Vec<f64> {
    x.outer_iter()
        .map(|row| {
            let v = leaf(row);
            match task {
                Task::Regression => v[0],
                Task::Classification { .. } => super::argmax(v) as f64,
            }
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    #[serde(default)]
    pub params: ForestParams,
    #[serde(default)]
    pub fitted: Option<Forest>,
}

impl Model for ForestModel {
    fn fit(&mut self, x: &Array2<f64>, y: &Target, monitor: &mut dyn Monitor) -> Result<(), MlError> {
        self.fitted = Some(Forest::fit_monitored(x, &y.as_f64(), y.task(), &self.params, monitor)?);
        Ok(())
    }
    fn predict(&self, x: &Array2<f64>) -> Result<Vec<f64>, MlError> {
        Ok(self.fitted.as_ref().ok_or_else(not_fitted)?.predict(x))
    }
    fn predict_proba(&self, x: &Array2<f64>) -> Result<Option<Array2<f64>>, MlError> {
        let f = self.fitted.as_ref().ok_or_else(not_fitted)?;
        Ok(match f.task {
            Task::Regression => None,
            Task::Classification { .. } => Some(f.predict_proba(x)),
        })
    }
    fn predict_with_proba(&self, x: &Array2<f64>) -> Result<(Vec<f64>, Option<Array2<f64>>), MlError> {
        let f = self.fitted.as_ref().ok_or_else(not_fitted)?;
        let p = f.predict_proba(x);
        let values = f.read_off(&p);
        Ok((values, matches!(f.task, Task::Classification { .. }).then_some(p)))
    }
    fn serialize(&self) -> Result<Value, MlError> {
        Model::serialize(&AnyModel::Forest(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn build_refuses_unknown_parameters_and_the_wrong_task() {
        let params: Map<String, Value> = serde_json::from_str(r#"{"trees": 10}"#).unwrap();
        let err = AnyModel::build(ModelKind::Logistic, &params, Task::Classification { classes: 2 }, 0).unwrap_err();
        assert!(err.to_string().contains("unknown field `trees`"), "{err}");
        let err = AnyModel::build(ModelKind::Linear, &Map::new(), Task::Classification { classes: 2 }, 0).unwrap_err();
        assert!(err.to_string().contains("choose logistic regression"), "{err}");
        let forest = AnyModel::build(ModelKind::Forest, &params, Task::Regression, 7).unwrap();
        match forest {
            AnyModel::Forest(f) => assert_eq!((f.params.trees, f.params.seed), (10, 7)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_kind_fits_predicts_and_round_trips_through_json() {
        // Two separable classes on the first feature.
        let x = array![[0.0, 1.0], [0.2, 0.0], [0.1, 0.5], [0.3, 0.2], [2.0, 0.9], [2.2, 0.1], [2.1, 0.4], [1.9, 0.6]];
        let y = Target::Classes { y: vec![0, 0, 0, 0, 1, 1, 1, 1], classes: 2 };
        for kind in [ModelKind::Logistic, ModelKind::Tree, ModelKind::Forest, ModelKind::Ensemble, ModelKind::Dqn] {
            let mut m = AnyModel::build(kind, &Map::new(), y.task(), 0).unwrap();
            assert!(m.predict(&x).is_err(), "{kind:?} predicts before fitting");
            m.fit(&x, &y, &mut Quiet).unwrap();
            assert_eq!(m.predict(&x).unwrap(), vec![0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], "{kind:?}");
            let p = m.predict_proba(&x).unwrap().unwrap();
            assert_eq!(p.dim(), (8, 2));
            let back: AnyModel = serde_json::from_value(Model::serialize(&m).unwrap()).unwrap();
            assert_eq!(back.predict(&x).unwrap(), m.predict(&x).unwrap(), "{kind:?} after a JSON round trip");
        }
        let yv = Target::Values(vec![1.0, 1.2, 1.1, 1.3, 5.0, 5.2, 5.1, 4.9]);
        for kind in [ModelKind::Linear, ModelKind::Tree, ModelKind::Forest, ModelKind::Ensemble] {
            let mut m = AnyModel::build(kind, &Map::new(), yv.task(), 0).unwrap();
            m.fit(&x, &yv, &mut Quiet).unwrap();
            let pred = m.predict(&x).unwrap();
            let err: f64 = pred.iter().zip(yv.as_f64()).map(|(p, t)| (p - t).abs()).sum::<f64>() / 8.0;
            assert!(err < 0.6, "{kind:?} mean error {err}");
            assert!(m.predict_proba(&x).unwrap().is_none());
        }
    }

    #[test]
    fn balanced_replication_evens_the_classes() {
        let y = [0, 0, 0, 0, 0, 0, 1, 1, 2];
        let rows = balanced_replication(&y, 3);
        let count = |c| rows.iter().filter(|i| y[**i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (6, 6, 6));
    }
}
