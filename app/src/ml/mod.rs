//! Machine learning that runs the same in the trainer and in the browser (federated clients).
//! So far: preprocessing fitted on training rows, linear and logistic regression, CART trees and
//! random forests, metrics and cross-validation splits. The rest of DESIGN §3 (ensembles, DQN,
//! search, the `Model` trait over all of them) builds on these.

pub mod forest;
pub mod metrics;
pub mod models;
pub mod prep;
pub mod split;
pub mod tree;

/// Why training or scoring could not proceed; messages name the parameter or the shape.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MlError {
    #[error("mismatched data: {0}")]
    Shape(String),
    #[error("invalid parameter: {0}")]
    Parameter(String),
}

/// Index of the largest value (the first on ties): the predicted class from probabilities.
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().enumerate().fold((0, f64::MIN), |best, (i, v)| if v > best.1 { (i, v) } else { best }).0
}
