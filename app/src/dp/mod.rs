//! Differential privacy: the accountant that says what a sequence of noisy steps costs in
//! (ε, δ), the same in the browser (previews), the CLI and the server, and DP-SGD's mechanism
//! (`sgd`: Poisson sampling, per-row clipping, Gaussian noise).

pub mod accountant;
pub mod sgd;

/// A privacy parameter that cannot work, with the field it came from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DpError {
    field: &'static str,
    message: String,
}

impl DpError {
    pub fn field(field: &'static str, message: impl Into<String>) -> DpError {
        DpError { field, message: message.into() }
    }

    /// The request field to correct (`sampling_rate`, `noise_multiplier`, `delta`, `epsilon`).
    pub fn field_name(&self) -> &'static str {
        self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}
