//! What a participant computes on its own rows, and how the averaged result becomes the
//! global model. Every quantity a participant sends is a row-weighted mean (`fixed` encodes
//! it with its row count), so the secure sum gives the mean over everyone's rows:
//!
//! - **Round 0, statistics** (`Encoding::MOMENTS`): per numeric feature the means of `x`, of
//!   `x²` and of "present"; per boolean feature the means of "true" and of "present". From
//!   their global means every participant builds the same preprocessor (standardisation and
//!   imputation exactly as if one party held all rows; one-hot over the declared categories).
//! - **Linear regression**, one round, exact: the means of `AᵀA` (upper triangle) and `Aᵀy`,
//!   `A` the standardised features with a column of ones. Their global means are the normal
//!   equations of least squares on all rows together.
//! - **Logistic regression**, FedAvg (FedProx with μ > 0): each participant continues from the
//!   global parameters for some epochs of mini-batch gradient descent on its rows and sends the
//!   parameters; their row-weighted mean is the next global model.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::fixed::Encoding;
use super::mlp::LocalSgd;
use super::FlError;
use crate::ml::combine::{normal_equations, solve_linear};
use crate::ml::dqn::Network;
use crate::ml::linear::Fitted;
use crate::ml::metrics::{from_confusion, regression_from_sums, Metrics};
use crate::ml::prep::{Coding, Preprocessor};
use crate::ml::task::Target;
use crate::table::{Cell, ColumnKind, Table};

/// One input of a federation's task, typed as a dataset declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub kind: ColumnKind,
    /// The categories a categorical input may take (others count as unknown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

/// The model a federation trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlModel {
    Linear,
    /// Multinomial logistic regression by local mini-batch gradient descent.
    Logistic {
        /// L2 penalty on the coefficients, as for central training (scikit-learn's `1/C`,
        /// the loss summed over rows).
        alpha: f64,
        /// Passes over a participant's rows per round.
        epochs: u32,
        learning_rate: f64,
        batch_size: usize,
        /// FedProx's proximal weight μ (0 is FedAvg): pulls local steps toward the global
        /// model, which steadies rounds when participants' rows differ (non-IID).
        #[serde(default)]
        mu: f64,
    },
    /// A small neural network classifier (the DQN's network: ReLU hidden layers of these
    /// widths, one output per class) by local mini-batch gradient descent on the softmax
    /// cross-entropy.
    Mlp {
        hidden: Vec<usize>,
        epochs: u32,
        learning_rate: f64,
        batch_size: usize,
        #[serde(default)]
        mu: f64,
    },
}

/// A federation's global model, as participants evaluate and continue it.
#[derive(Clone, Debug, PartialEq)]
pub enum GlobalModel {
    /// Linear or logistic regression.
    Fitted(Fitted),
    Mlp(Network),
}

impl GlobalModel {
    /// Predicted values (regression) or class indices.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        match self {
            GlobalModel::Fitted(f) => f.predict(x),
            GlobalModel::Mlp(net) => net.forward(x).outer_iter().map(|r| crate::ml::argmax(r.iter().copied()) as f64).collect(),
        }
    }

    /// The parameters in the order a training step sends them.
    pub fn params(&self) -> Vec<f64> {
        match self {
            GlobalModel::Fitted(f) => f.params(),
            GlobalModel::Mlp(net) => net.flat(),
        }
    }
}

/// What every participant of a federation agrees to learn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlTask {
    pub features: Vec<Feature>,
    pub target: String,
    /// The classes, for logistic regression; a row with another label is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    pub model: FlModel,
    /// Participant-level differential privacy for the training rounds (`fl::privacy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<super::privacy::FlPrivacy>,
}

fn bad(message: impl Into<String>) -> FlError {
    FlError::Data(message.into())
}

/// A participant's rows as the task sees them: the table checked against the task.
pub struct LocalData<'a> {
    table: &'a Table,
    /// Rows with a target.
    rows: Vec<usize>,
    /// Their target, checked once here: class indices into the task's labels, or numbers.
    target: Target,
}

impl LocalData<'_> {
    /// The rows that have a target: what this participant trains on.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }
}

impl FlTask {
    /// Reads a participant's file (CSV, JSON or Excel, by its name) for this task. A column
    /// the task declares categorical keeps its values as text even where they look like
    /// numbers or booleans (`1` is the category "1"), as a dataset's declaration does.
    pub fn read_table(&self, bytes: &[u8], file_name: &str) -> Result<Table, FlError> {
        let mut table = crate::table::file::read_table(bytes, file_name).map_err(bad)?;
        for f in self.features.iter().filter(|f| f.kind == ColumnKind::Categorical) {
            if let Some(c) = table.column_index(&f.name) {
                table.make_categorical(c);
            }
        }
        Ok(table)
    }

    /// Checks `table` against the task (every feature and the target present with the declared
    /// kind) and keeps the rows that have a target.
    pub fn local<'a>(&self, table: &'a Table) -> Result<LocalData<'a>, FlError> {
        for f in &self.features {
            let c = table.column_index(&f.name).ok_or_else(|| bad(format!("the file has no column “{}”", f.name)))?;
            if table.columns[c].kind != f.kind {
                return Err(bad(format!(
                    "column “{}” reads as {} but the federation declares it {}",
                    f.name,
                    table.columns[c].kind.as_str(),
                    f.kind.as_str()
                )));
            }
        }
        let t = table.column_index(&self.target).ok_or_else(|| bad(format!("the file has no target column “{}”", self.target)))?;
        let values = table.values(t);
        let rows: Vec<usize> = (0..table.len()).filter(|&r| !values.is_missing(r)).collect();
        if rows.is_empty() {
            return Err(bad(format!("no row has a value in the target column “{}”", self.target)));
        }
        let target = match &self.labels {
            Some(labels) => {
                let y = rows
                    .iter()
                    .map(|&r| {
                        let label = values.label(r).unwrap_or_default();
                        labels.iter().position(|l| *l == label).ok_or_else(|| {
                            bad(format!(
                                "the target “{}” has the value “{label}”, which is not one of the federation's classes",
                                self.target
                            ))
                        })
                    })
                    .collect::<Result<Vec<usize>, FlError>>()?;
                Target::Classes { y, classes: labels.len() }
            }
            None => Target::Values(
                rows.iter()
                    .map(|&r| values.number(r))
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| bad(format!("the target “{}” must be numeric for linear regression", self.target)))?,
            ),
        };
        Ok(LocalData { table, rows, target })
    }

    /// The length of round 0's vector.
    pub fn moments_len(&self) -> usize {
        self.features
            .iter()
            .map(|f| match f.kind {
                ColumnKind::Numeric => 3,
                ColumnKind::Boolean => 2,
                ColumnKind::Categorical => 0,
            })
            .sum()
    }

    /// Round 0: this participant's means (see the module's note) and its row count.
    pub fn moments(&self, data: &LocalData) -> Result<(Vec<f64>, u64), FlError> {
        let n = data.rows.len() as f64;
        let mut out = Vec::with_capacity(self.moments_len());
        for f in &self.features {
            let c = data.table.column_index(&f.name).ok_or_else(|| bad(format!("the file has no column “{}”", f.name)))?;
            let values = data.table.values(c);
            match f.kind {
                ColumnKind::Numeric => {
                    let numbers = data.rows.iter().filter_map(|&r| values.number(r));
                    let (s, s2, k) = numbers.fold((0.0, 0.0, 0.0), |(s, s2, k), v| (s + v, s2 + v * v, k + 1.0));
                    out.extend([s / n, s2 / n, k / n]);
                }
                ColumnKind::Boolean => {
                    let (t, k) = data.rows.iter().fold((0.0, 0.0), |(t, k), &r| match values.get(r) {
                        Cell::Bool(b) => (t + f64::from(u8::from(b)), k + 1.0),
                        _ => (t, k),
                    });
                    out.extend([t / n, k / n]);
                }
                ColumnKind::Categorical => {}
            }
        }
        Ok((out, data.rows.len() as u64))
    }

    /// The preprocessor every participant and the server build from round 0's global means.
    pub fn preprocessor(&self, means: &[f64]) -> Result<Preprocessor, FlError> {
        if means.len() != self.moments_len() {
            return Err(bad(format!("round 0 has {} values, not {}", means.len(), self.moments_len())));
        }
        let mut at = 0;
        let codings = self
            .features
            .iter()
            .map(|f| match f.kind {
                ColumnKind::Numeric => {
                    let (s, s2, k) = (means[at], means[at + 1], means[at + 2]);
                    at += 3;
                    let mean = if k > 0.0 { s / k } else { 0.0 };
                    // Population standard deviation of the present values, as central training.
                    let var = if k > 0.0 { (s2 / k - mean * mean).max(0.0) } else { 0.0 };
                    let std = var.sqrt();
                    Coding::Standardised { column: f.name.clone(), mean, std: if std > 0.0 { std } else { 1.0 } }
                }
                ColumnKind::Boolean => {
                    let (t, k) = (means[at], means[at + 1]);
                    at += 2;
                    Coding::Boolean { column: f.name.clone(), share_true: if k > 0.0 { t / k } else { 0.0 } }
                }
                ColumnKind::Categorical => {
                    let mut categories = f.categories.clone();
                    categories.sort();
                    categories.dedup();
                    Coding::OneHot { column: f.name.clone(), categories }
                }
            })
            .collect();
        Ok(Preprocessor { codings })
    }

    /// The length of a training round's vector for a model on `width` features.
    pub fn update_len(&self, width: usize) -> usize {
        match &self.model {
            FlModel::Linear => {
                let d = width + 1;
                d * (d + 1) / 2 + d
            }
            FlModel::Logistic { .. } => (width + 1) * self.classes(),
            FlModel::Mlp { .. } => Network::size(&self.layer_sizes(width)),
        }
    }

    /// The network's layer widths for `width` encoded features: inputs, hidden, classes.
    pub fn layer_sizes(&self, width: usize) -> Vec<usize> {
        let hidden = match &self.model {
            FlModel::Mlp { hidden, .. } => hidden.clone(),
            _ => vec![],
        };
        std::iter::once(width).chain(hidden).chain(std::iter::once(self.classes())).collect()
    }

    /// The parameters the first training step starts from, when they are not all zero: a
    /// network needs random weights (He initialisation), and every participant the same
    /// ones, so the server draws them and publishes them before the first step.
    pub fn initial_params(&self, width: usize) -> Result<Option<Vec<f64>>, FlError> {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| FlError::Random(e.to_string()))?;
        Ok(self.initial_params_from(width, u64::from_le_bytes(seed)))
    }

    /// `initial_params` drawn from `seed` (reproducible, for tests and benchmarks).
    pub fn initial_params_from(&self, width: usize, seed: u64) -> Option<Vec<f64>> {
        match self.model {
            FlModel::Mlp { .. } => Some(Network::initial(&self.layer_sizes(width), seed).flat()),
            _ => None,
        }
    }

    fn classes(&self) -> usize {
        self.labels.as_ref().map_or(0, Vec::len)
    }

    /// A training round: from the global model (`None` in the first round), this
    /// participant's vector and row count.
    /// `seed` orders the local mini-batches (a participant varies it by round).
    pub fn update(
        &self,
        data: &LocalData,
        pre: &Preprocessor,
        global: Option<&GlobalModel>,
        seed: u64,
    ) -> Result<(Vec<f64>, u64), FlError> {
        let x = pre.transform(data.table, &data.rows).map_err(|e| bad(e.to_string()))?;
        let n = data.rows.len();
        let vector = match &self.model {
            FlModel::Linear => {
                let Target::Values(y) = &data.target else { return Err(bad("linear regression needs a numeric target")) };
                let (xtx, xty) = normal_equations(&x, y);
                let d = xty.len();
                let mut v = Vec::with_capacity(self.update_len(x.ncols()));
                for i in 0..d {
                    for j in i..d {
                        v.push(xtx[[i, j]] / n as f64);
                    }
                }
                v.extend(xty.iter().map(|s| s / n as f64));
                v
            }
            FlModel::Logistic { alpha, epochs, learning_rate, batch_size, mu } => {
                let Target::Classes { y, classes } = &data.target else {
                    return Err(bad("logistic regression needs the target's classes"));
                };
                let start = match global {
                    Some(g) => g.params(),
                    None => vec![0.0; (x.ncols() + 1) * classes],
                };
                let step = Sgd { alpha: *alpha, epochs: *epochs, learning_rate: *learning_rate, batch_size: *batch_size, mu: *mu };
                step.run(&x, y, *classes, start, seed)?
            }
            FlModel::Mlp { epochs, learning_rate, batch_size, mu, .. } => {
                let Target::Classes { y, .. } = &data.target else {
                    return Err(bad("a classifier needs the target's classes"));
                };
                let start = global.ok_or_else(|| bad("the network's initial parameters have not been published"))?.params();
                let sizes = self.layer_sizes(x.ncols());
                let step = LocalSgd { sizes: &sizes, epochs: *epochs, learning_rate: *learning_rate, batch_size: *batch_size, mu: *mu };
                step.run(&x, y, &start, seed)?
            }
        };
        Ok((vector, n as u64))
    }

    /// The next global model from a training round's global means.
    pub fn global_model(&self, width: usize, means: &[f64]) -> Result<GlobalModel, FlError> {
        if means.len() != self.update_len(width) {
            return Err(bad(format!("a round of this task has {} values, not {}", self.update_len(width), means.len())));
        }
        match &self.model {
            FlModel::Linear => {
                let d = width + 1;
                let mut xtx = Array2::<f64>::zeros((d, d));
                let mut at = 0;
                for i in 0..d {
                    for j in i..d {
                        xtx[[i, j]] = means[at];
                        xtx[[j, i]] = means[at];
                        at += 1;
                    }
                }
                solve_linear(xtx, means[at..].to_vec()).map(GlobalModel::Fitted).map_err(|e| bad(e.to_string()))
            }
            FlModel::Logistic { .. } => {
                let classes = self.classes();
                Ok(GlobalModel::Fitted(Fitted::Logistic { classes, intercept: means[..classes].to_vec(), coef: means[classes..].to_vec() }))
            }
            FlModel::Mlp { .. } => Network::from_flat(&self.layer_sizes(width), means)
                .map(GlobalModel::Mlp)
                .ok_or_else(|| bad("the network's parameters do not fit its layers")),
        }
    }
}

impl FlTask {
    /// The encoding of an evaluation vector: class shares stay within ±1, but regression
    /// sums of squared targets need the wider range.
    pub fn evaluation_encoding(&self) -> Encoding {
        match self.model {
            FlModel::Linear => Encoding::MOMENTS,
            FlModel::Logistic { .. } | FlModel::Mlp { .. } => Encoding::WEIGHTS,
        }
    }

    /// After the last round: how the global model does on this participant's rows, as
    /// row-weighted means that add up. Classification: the confusion matrix divided by the
    /// rows (`C × C`, row-major, true class first). Regression: the means of the squared and
    /// absolute errors, of `y` and of `y²`.
    pub fn evaluation(&self, data: &LocalData, pre: &Preprocessor, model: &GlobalModel) -> Result<(Vec<f64>, u64), FlError> {
        let x = pre.transform(data.table, &data.rows).map_err(|e| bad(e.to_string()))?;
        let n = data.rows.len() as f64;
        let pred = model.predict(&x);
        let v = match &data.target {
            Target::Classes { y, classes: k } => {
                let mut confusion = vec![0.0; k * k];
                for (t, p) in y.iter().zip(&pred) {
                    confusion[t * k + (*p as usize).min(k - 1)] += 1.0 / n;
                }
                confusion
            }
            Target::Values(y) => {
                let (mut se, mut ae, mut s, mut s2) = (0.0, 0.0, 0.0, 0.0);
                for (t, p) in y.iter().zip(&pred) {
                    se += (t - p).powi(2);
                    ae += (t - p).abs();
                    s += t;
                    s2 += t * t;
                }
                vec![se / n, ae / n, s / n, s2 / n]
            }
        };
        Ok((v, data.rows.len() as u64))
    }

    /// The global model's figures from the evaluation's global means over `rows` rows. ROC-AUC
    /// needs every score's rank and is not aggregated.
    pub fn metrics(&self, means: &[f64], rows: u64) -> Result<Metrics, FlError> {
        let n = rows as f64;
        match &self.labels {
            Some(labels) => {
                let k = labels.len();
                if means.len() != k * k {
                    return Err(bad(format!("an evaluation of {k} classes has {} values, not {}", k * k, means.len())));
                }
                let confusion = (0..k).map(|t| (0..k).map(|p| (means[t * k + p] * n).round().max(0.0) as usize).collect()).collect();
                Ok(Metrics::Classification(from_confusion(labels, confusion, None).map_err(|e| bad(e.to_string()))?))
            }
            None => {
                let [se, ae, s, s2] = means else {
                    return Err(bad(format!("a regression evaluation has 4 values, not {}", means.len())));
                };
                Ok(Metrics::Regression(regression_from_sums(n, se * n, ((s2 - s * s) * n).max(0.0), *ae)))
            }
        }
    }
}

/// Local mini-batch gradient descent for multinomial logistic regression on the flat
/// parameters of `Fitted::Logistic` (intercepts, then coefficients feature-major). Written here
/// rather than with linfa's L-BFGS because a participant may hold only some of the classes
/// (non-IID data), which linfa refuses, and because FedAvg's local step is plain SGD.
struct Sgd {
    alpha: f64,
    epochs: u32,
    learning_rate: f64,
    batch_size: usize,
    mu: f64,
}

impl Sgd {
    fn run(&self, x: &Array2<f64>, y: &[usize], classes: usize, start: Vec<f64>, seed: u64) -> Result<Vec<f64>, FlError> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let (n, d) = (x.nrows(), x.ncols());
        if start.len() != (d + 1) * classes || classes < 2 {
            return Err(bad("the global model does not fit this task's features and classes"));
        }
        let global = start.clone();
        let mut w = start;
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let batch = self.batch_size.clamp(1, n);
        let mut grad = vec![0.0; w.len()];
        let mut z = vec![0.0; classes];
        for _ in 0..self.epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(batch) {
                grad.iter_mut().for_each(|g| *g = 0.0);
                for &i in chunk {
                    let row = x.row(i);
                    for (c, zc) in z.iter_mut().enumerate() {
                        *zc = w[c] + row.iter().enumerate().map(|(j, v)| v * w[classes + j * classes + c]).sum::<f64>();
                    }
                    let max = z.iter().copied().fold(f64::MIN, f64::max);
                    let total: f64 = z.iter().map(|v| (v - max).exp()).sum();
                    for c in 0..classes {
                        let err = (z[c] - max).exp() / total - f64::from(u8::from(y[i] == c));
                        grad[c] += err;
                        for (j, v) in row.iter().enumerate() {
                            grad[classes + j * classes + c] += err * v;
                        }
                    }
                }
                let scale = 1.0 / chunk.len() as f64;
                for k in 0..w.len() {
                    // The penalty is on coefficients only, spread over the rows as in the summed loss.
                    let penalty = if k >= classes { self.alpha * w[k] / n as f64 } else { 0.0 };
                    w[k] -= self.learning_rate * (grad[k] * scale + penalty + self.mu * (w[k] - global[k]));
                }
            }
        }
        if w.iter().any(|v| !v.is_finite()) {
            return Err(bad("local training diverged; lower the federation's learning rate"));
        }
        Ok(w)
    }
}
