//! Machine learning that runs the same in the trainer and in the browser (federated clients).
//! Every model kind behind one `Model` trait (`model`), preprocessing fitted on training rows
//! (`prep`), SMOTE, cross-validation splits, search spaces, metrics, combining several owners'
//! fits (`combine`), and `train`, the whole run from tables to a fitted model.

/// Why training or scoring could not proceed; messages name the parameter or the shape.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MlError {
    #[error("mismatched data: {0}")]
    Shape(String),
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// One hyperparameter is out of range; `name` is its path within the model's parameters
    /// (`trees`, `members[1].params.max_depth`), so the API can name the field.
    #[error("{name}: {message}")]
    Param { name: String, message: String },
    #[error("cancelled")]
    Cancelled,
}

impl MlError {
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        MlError::Param { name: name.into(), message: message.into() }
    }

    /// The same error with its parameter path under `prefix` (an ensemble member's).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            MlError::Param { name, message } => MlError::Param { name: format!("{prefix}.{name}"), message },
            MlError::Parameter(message) => MlError::Param { name: prefix.to_owned(), message },
            other => other,
        }
    }
}

/// linfa's `ParamGuard` for a hyperparameter type that is its own checked form (the types are
/// plain serde structs, so there is no separate unchecked builder): the block returns the
/// first rule broken, naming the parameter; fits call `check_ref` and job submission calls it
/// too, so a bad value is a 422 before anything is queued.
macro_rules! param_guard {
    ($ty:ty, |$p:ident| $rules:block) => {
        impl linfa::ParamGuard for $ty {
            type Checked = $ty;
            type Error = $crate::ml::MlError;
            fn check_ref(&self) -> Result<&$ty, $crate::ml::MlError> {
                let $p = self;
                $rules
                Ok(self)
            }
            fn check(self) -> Result<$ty, $crate::ml::MlError> {
                self.check_ref()?;
                Ok(self)
            }
        }
    };
}
pub(crate) use param_guard;

/// Index of the largest value (the first on ties): the predicted class from probabilities.
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().enumerate().fold((0, f64::MIN), |best, (i, v)| if v > best.1 { (i, v) } else { best }).0
}

pub mod combine;
pub mod dqn;
pub mod ensemble;
pub mod fields;
pub mod forest;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod prep;
pub mod search;
pub mod smote;
pub mod split;
pub mod task;
pub mod train;
pub mod tree;
