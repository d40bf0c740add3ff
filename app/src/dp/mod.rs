//! Differential privacy: the accountant that says what a sequence of noisy steps costs in
//! (ε, δ), the same in the browser (previews), the CLI and the server, and DP-SGD's mechanism
//! (`sgd`: Poisson sampling, per-row clipping, Gaussian noise).

use serde::{Deserialize, Serialize};

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

impl From<DpError> for crate::ml::MlError {
    fn from(e: DpError) -> Self {
        crate::ml::MlError::param(format!("privacy.{}", e.field), e.message)
    }
}

/// Record-level differential privacy for a training job (`TrainSpec.privacy`): DP-SGD with
/// this schedule, and either the noise multiplier to use or the ε to meet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySpec {
    /// The ε to meet: the trainer uses the smallest σ (to 1e-4) that keeps ε at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// σ itself, instead of `epsilon`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_multiplier: Option<f64>,
    /// δ; by default 10⁻⁵, or 1/(10·rows) when that is smaller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// Per-row gradient norm bound `C`.
    #[serde(default = "default_clip_norm")]
    pub clip_norm: f64,
    /// Expected rows per step (Poisson sampling at rate batch_size / rows).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
}

fn default_clip_norm() -> f64 {
    1.0
}
fn default_batch_size() -> usize {
    32
}
fn default_epochs() -> usize {
    20
}
fn default_learning_rate() -> f64 {
    0.5
}

/// What a DP fit spent and how: kept on the job's events and the model's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrivacySpent {
    pub epsilon: f64,
    pub delta: f64,
    pub noise_multiplier: f64,
    pub clip_norm: f64,
    pub sampling_rate: f64,
    pub steps: u64,
    /// Whether σ was found for a target ε (rather than given).
    pub searched: bool,
}

impl PrivacySpec {
    /// δ on `rows` rows: the one given, or the default.
    pub fn delta_for(&self, rows: usize) -> f64 {
        self.delta.unwrap_or_else(|| 1e-5f64.min(1.0 / (10.0 * rows.max(1) as f64)))
    }

    /// The sampling rate and steps on `rows` rows.
    pub fn schedule(&self, rows: usize) -> (f64, u64) {
        self.sgd(1.0, 0).schedule(rows)
    }

    /// Checks what can be checked without the data, naming the field.
    pub fn check(&self) -> Result<(), DpError> {
        match (self.epsilon, self.noise_multiplier) {
            (Some(_), Some(_)) => {
                return Err(DpError::field("noise_multiplier", "give either a target epsilon or a noise multiplier, not both"))
            }
            (None, None) => return Err(DpError::field("epsilon", "give a target epsilon (or a noise multiplier)")),
            (Some(e), None) if !(e.is_finite() && e > 0.0) => return Err(DpError::field("epsilon", format!("must be above 0, not {e}"))),
            (None, Some(s)) if !(s.is_finite() && s > 0.0) => {
                return Err(DpError::field(
                    "noise_multiplier",
                    format!("must be above 0, not {s}; leave privacy out to train without noise"),
                ))
            }
            _ => {}
        }
        if let Some(d) = self.delta {
            accountant::check_delta(d)?;
        }
        self.sgd(1.0, 0).check()
    }

    /// The checks that need the number of rows: δ below 1/rows (above it, a mechanism that
    /// publishes one row outright would meet the guarantee), and a batch no larger than the rows.
    pub fn check_rows(&self, rows: usize) -> Result<(), DpError> {
        self.check()?;
        let delta = self.delta_for(rows);
        if delta >= 1.0 / rows.max(1) as f64 {
            return Err(DpError::field(
                "delta",
                format!(
                    "{delta} is not below 1/rows = 1/{rows}; with δ that large one row could be published outright. Choose δ below {:.2e}",
                    1.0 / rows.max(1) as f64
                ),
            ));
        }
        if self.batch_size > rows {
            return Err(DpError::field("batch_size", format!("{} is more than the {rows} rows", self.batch_size)));
        }
        Ok(())
    }

    /// The DP-SGD settings and what they spend on `rows` rows: σ as given, or the smallest
    /// that meets the target ε.
    pub fn resolve(&self, rows: usize, seed: u64) -> Result<(sgd::DpSgd, PrivacySpent), DpError> {
        self.check_rows(rows)?;
        let delta = self.delta_for(rows);
        let (q, steps) = self.schedule(rows);
        // `check_rows` made sure exactly one of σ and the target ε is given.
        let p = EpsilonPreview::compute(q, self.noise_multiplier, self.epsilon, steps, delta)?;
        let spent = PrivacySpent {
            epsilon: p.epsilon,
            delta,
            noise_multiplier: p.noise_multiplier,
            clip_norm: self.clip_norm,
            sampling_rate: q,
            steps,
            searched: self.noise_multiplier.is_none(),
        };
        Ok((self.sgd(p.noise_multiplier, seed), spent))
    }

    fn sgd(&self, noise_multiplier: f64, seed: u64) -> sgd::DpSgd {
        sgd::DpSgd {
            clip_norm: self.clip_norm,
            noise_multiplier,
            batch: self.batch_size,
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            seed,
        }
    }
}

/// The accountant's answer before anything is spent (`GET /api/privacy/epsilon`, the forms'
/// previews): ε for a noise multiplier, or the smallest noise multiplier meeting a target ε.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpsilonPreview {
    pub sampling_rate: f64,
    pub noise_multiplier: f64,
    pub steps: u64,
    pub delta: f64,
    pub epsilon: f64,
}

impl EpsilonPreview {
    pub fn compute(
        sampling_rate: f64,
        noise_multiplier: Option<f64>,
        target: Option<f64>,
        steps: u64,
        delta: f64,
    ) -> Result<Self, DpError> {
        let sigma = match (noise_multiplier, target) {
            (Some(sigma), _) => sigma,
            (None, Some(target)) => accountant::noise_for(sampling_rate, steps, delta, target)?,
            (None, None) => return Err(DpError::field("noise_multiplier", "give noise_multiplier or epsilon")),
        };
        let epsilon = accountant::epsilon(sampling_rate, sigma, steps, delta)?;
        Ok(EpsilonPreview { sampling_rate, noise_multiplier: sigma, steps, delta, epsilon })
    }
}
