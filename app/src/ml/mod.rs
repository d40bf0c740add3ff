//! Machine learning that runs the same in the trainer and in the browser (federated clients).
//! Every model kind behind one `Model` trait (`model`), preprocessing fitted on training rows
//! (`prep`), SMOTE, cross-validation splits, search spaces, metrics, combining several owners'
//! fits (`combine`), and `train`, the whole run from tables to a fitted model.

pub mod combine;
pub mod dqn;
pub mod ensemble;
pub mod forest;
pub mod metrics;
pub mod model;
pub mod models;
pub mod prep;
pub mod search;
pub mod smote;
pub mod split;
pub mod train;
pub mod tree;

/// Why training or scoring could not proceed; messages name the parameter or the shape.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MlError {
    #[error("mismatched data: {0}")]
    Shape(String),
    #[error("invalid parameter: {0}")]
    Parameter(String),
    #[error("cancelled")]
    Cancelled,
}

/// Index of the largest value (the first on ties): the predicted class from probabilities.
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().enumerate().fold((0, f64::MIN), |best, (i, v)| if v > best.1 { (i, v) } else { best }).0
}
