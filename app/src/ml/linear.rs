//! Linear and logistic regression on linfa, kept as plain parameter vectors so that a fitted
//! model serialises, predicts without linfa, and can later be averaged (federated rounds) and
//! quantised for encrypted prediction (`he::quant`).

use linfa::prelude::*;
use linfa_linear::LinearRegression;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::MlError;

/// A fitted model's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    /// y = intercept + coef · x
    Linear { intercept: f64, coef: Vec<f64> },
    /// P(class c | x) = softmax_c(intercept_c + Σ_j x_j · coef[j · classes + c])
    Logistic { classes: usize, intercept: Vec<f64>, coef: Vec<f64> },
}

impl Fitted {
    /// Every parameter in one vector: intercept(s) first, then coefficients (row-major).
    pub fn params(&self) -> Vec<f64> {
        match self {
            Fitted::Linear { intercept, coef } => std::iter::once(*intercept).chain(coef.iter().copied()).collect(),
            Fitted::Logistic { intercept, coef, .. } => intercept.iter().chain(coef).copied().collect(),
        }
    }

    /// Regression output, or for a classifier the most probable class index.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        match self {
            Fitted::Linear { intercept, coef } => {
                x.outer_iter().map(|row| intercept + row.iter().zip(coef).map(|(a, b)| a * b).sum::<f64>()).collect()
            }
            Fitted::Logistic { .. } => self.predict_proba(x).outer_iter().map(|p| super::argmax(p.iter().copied()) as f64).collect(),
        }
    }

    /// Class probabilities, one row per input row (classifiers only; a regression gets one column).
    pub fn predict_proba(&self, x: &Array2<f64>) -> Array2<f64> {
        match self {
            Fitted::Linear { .. } => Array2::from_shape_vec((x.nrows(), 1), self.predict(x)).unwrap_or_default(),
            Fitted::Logistic { classes, intercept, coef } => {
                let mut out = Array2::zeros((x.nrows(), *classes));
                for (i, row) in x.outer_iter().enumerate() {
                    let z: Vec<f64> = (0..*classes)
                        .map(|c| intercept[c] + row.iter().enumerate().map(|(j, v)| v * coef[j * classes + c]).sum::<f64>())
                        .collect();
                    let max = z.iter().copied().fold(f64::MIN, f64::max);
                    let exp: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = exp.iter().sum();
                    for c in 0..*classes {
                        out[[i, c]] = exp[c] / sum;
                    }
                }
                out
            }
        }
    }
}

/// Ordinary least squares.
pub fn fit_linear(x: Array2<f64>, y: Vec<f64>) -> Result<Fitted, MlError> {
    if x.nrows() != y.len() || x.nrows() == 0 {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    let fitted = LinearRegression::new()
        .fit(&Dataset::new(x, Array1::from(y)))
        .map_err(|e| MlError::Parameter(format!("linear regression failed: {e}")))?;
    Ok(Fitted::Linear { intercept: fitted.intercept(), coef: fitted.params().to_vec() })
}

/// Logistic regression (multinomial, also for two classes) with L2 penalty `alpha`, by L-BFGS,
/// starting from `init` when given (a federated round continues from the global model).
/// Every one of `classes` must occur in `y`.
pub fn fit_logistic(
    x: Array2<f64>,
    y: &[usize],
    classes: usize,
    alpha: f64,
    max_iterations: u64,
    init: Option<&Fitted>,
) -> Result<Fitted, MlError> {
    if x.nrows() != y.len() || x.nrows() == 0 {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    if (0..classes).any(|c| !y.contains(&c)) {
        return Err(MlError::Shape("a class has no training rows".into()));
    }
    let mut params = MultiLogisticRegression::default().alpha(alpha).max_iterations(max_iterations);
    if let Some(start) = init {
        params = params.initial_params(initial_params(start, x.ncols(), classes)?);
    }
    let fitted = params
        .fit(&Dataset::new(x, Array1::from(y.to_vec())))
        .map_err(|e| MlError::Parameter(format!("logistic regression failed: {e}")))?;
    // linfa orders the probability columns by `classes()`; ours are 0..classes in that order.
    let order: Vec<usize> = fitted.classes().to_vec();
    if order != (0..classes).collect::<Vec<_>>() {
        return Err(MlError::Shape(format!("unexpected class order {order:?}")));
    }
    let params = fitted.params();
    let coef = params.index_axis(Axis(1), 0).len();
    let mut flat = Vec::with_capacity(coef * classes);
    for row in params.outer_iter() {
        flat.extend(row.iter().copied());
    }
    Ok(Fitted::Logistic { classes, intercept: fitted.intercept().to_vec(), coef: flat })
}

/// linfa's starting point: one row per feature, then the intercepts, one column per class.
fn initial_params(start: &Fitted, features: usize, classes: usize) -> Result<Array2<f64>, MlError> {
    match start {
        Fitted::Logistic { classes: c, intercept, coef } if *c == classes && coef.len() == features * classes => {
            let mut w = Array2::zeros((features + 1, classes));
            for j in 0..features {
                for k in 0..classes {
                    w[[j, k]] = coef[j * classes + k];
                }
            }
            for k in 0..classes {
                w[[features, k]] = intercept[k];
            }
            Ok(w)
        }
        _ => Err(MlError::Shape(format!("the starting model does not fit {features} features and {classes} classes"))),
    }
}
