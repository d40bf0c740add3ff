//! Machine learning that runs the same in the trainer and in the browser (federated clients):
//! metrics and cross-validation splits so far; the models of DESIGN §3 build on these.

pub mod metrics;
pub mod split;

/// Why training or scoring could not proceed; messages name the parameter or the shape.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MlError {
    #[error("mismatched data: {0}")]
    Shape(String),
    #[error("invalid parameter: {0}")]
    Parameter(String),
}
