//! The integer model encrypted prediction evaluates, and its noise budget.
//!
//! A row's encoded features `x` (the model's preprocessing: standardised numbers, one-hot
//! categories) are clipped to `±input_range` and scaled to integers of `input_bits` bits:
//! `x_q = round(clip(x) · s_x)`, `s_x = (2^(input_bits−1) − 1) / input_range`. The weights are
//! scaled to `weight_bits` bits with one scale for the whole model,
//! `s_w = (2^(weight_bits−1) − 1) / max |w|`, and the intercepts to the scores' scale
//! `s_w · s_x`. The integer score of output `k` is `b_k + Σ_j w_jk · x_j`; dividing it by
//! `s_w · s_x` gives the float score (up to the rounding). Decryption is exact when
//! (docs/he.md, "Noise budget"):
//!
//! - every score fits the message space: `|b_k| + Σ_j |w_jk| · (2^(input_bits−1) − 1) < 2^31`;
//! - the noise fits under half a step: each input's error is at most `2^17` in magnitude, the
//!   score's at most `Σ_j |w_jk| · 2^17`, which must stay below `Δ/2 = 2^31`, so
//!   `Σ_j |w_jk| < 2^14`. The bound is absolute (TUniform noise is bounded), so a model within
//!   it never decrypts wrongly: the failure probability is 0, not merely small.

use serde::{Deserialize, Serialize};

use super::{HeError, HeQuality, MESSAGE_BITS, NOISE_BOUND_LOG2};
use crate::ml::linear::Fitted;
use crate::ml::model::AnyModel;
use crate::ml::train::{target_of, Trained};
use crate::table::Table;

/// How features and weights become integers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantSpec {
    pub input_bits: u8,
    pub weight_bits: u8,
    /// Encoded features are clipped to `±input_range` (standardised values rarely pass 4).
    pub input_range: f64,
}

impl QuantSpec {
    /// What the server offers: 8-bit inputs over ±4 standard deviations, 10-bit weights.
    pub const DEFAULT: QuantSpec = QuantSpec { input_bits: 8, weight_bits: 10, input_range: 4.0 };

    pub fn input_max(&self) -> i64 {
        (1i64 << (self.input_bits - 1)) - 1
    }

    pub fn input_scale(&self) -> f64 {
        self.input_max() as f64 / self.input_range
    }

    /// Encoded features as integers (`round(clamp(x) · s_x)`), and how many were clipped.
    pub fn quantise(&self, x: &[f64]) -> Result<(Vec<i64>, usize), HeError> {
        let (range, scale) = (self.input_range, self.input_scale());
        let mut clipped = 0;
        let q = x
            .iter()
            .map(|v| {
                if !v.is_finite() {
                    return Err(HeError::Data("a feature is not a finite number".into()));
                }
                clipped += usize::from(v.abs() > range);
                Ok((v.clamp(-range, range) * scale).round() as i64)
            })
            .collect::<Result<_, _>>()?;
        Ok((q, clipped))
    }

    fn check(&self) -> Result<(), HeError> {
        if !(2..=16).contains(&self.input_bits) || !(2..=16).contains(&self.weight_bits) {
            return Err(HeError::Model(format!("input and weight bits must be 2 to 16, not {} and {}", self.input_bits, self.weight_bits)));
        }
        if !(self.input_range.is_finite() && self.input_range > 0.0) {
            return Err(HeError::Model(format!("the input range must be above 0, not {}", self.input_range)));
        }
        Ok(())
    }
}

/// A linear or logistic model with integer parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantModel {
    pub spec: QuantSpec,
    /// `s_w`: integer weight per unit of float weight.
    pub weight_scale: f64,
    pub features: usize,
    /// One for linear regression, the classes for logistic regression.
    pub outputs: usize,
    /// Per output, at the scores' scale `s_w · s_x`.
    pub intercept: Vec<i64>,
    /// Feature-major: feature `j`, output `k` at `j · outputs + k`.
    pub coef: Vec<i64>,
}

/// The largest `Σ_j |w_jk|` the noise allows: `2^(63 − MESSAGE_BITS − NOISE_BOUND_LOG2)`,
/// exclusive.
pub const MAX_WEIGHT_SUM: i64 = 1i64 << (63 - MESSAGE_BITS - NOISE_BOUND_LOG2);

impl QuantModel {
    /// Quantises a fitted linear or logistic model and checks the budget.
    pub fn new(fitted: &Fitted, features: usize, spec: QuantSpec) -> Result<QuantModel, HeError> {
        spec.check()?;
        let (outputs, intercept, coef) = match fitted {
            Fitted::Linear { intercept, coef } => (1, vec![*intercept], coef.clone()),
            Fitted::Logistic { classes, intercept, coef } => (*classes, intercept.clone(), coef.clone()),
        };
        if coef.len() != features * outputs || intercept.len() != outputs {
            return Err(HeError::Model(format!("a model of {} coefficients does not fit {features} features", coef.len())));
        }
        if coef.iter().chain(&intercept).any(|v| !v.is_finite()) {
            return Err(HeError::Model("the model has a parameter that is not a finite number".into()));
        }
        let largest = coef.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let weight_scale = if largest > 0.0 { ((1i64 << (spec.weight_bits - 1)) - 1) as f64 / largest } else { 1.0 };
        let score_scale = weight_scale * spec.input_scale();
        let round = |v: f64, what: &str| -> Result<i64, HeError> {
            let r = v.round();
            if r.abs() >= (1i64 << 62) as f64 {
                return Err(HeError::Model(format!("the {what} {v} is too large to quantise")));
            }
            Ok(r as i64)
        };
        let model = QuantModel {
            spec,
            weight_scale,
            features,
            outputs,
            intercept: intercept.iter().map(|b| round(b * score_scale, "intercept")).collect::<Result<_, _>>()?,
            coef: coef.iter().map(|w| round(w * weight_scale, "weight")).collect::<Result<_, _>>()?,
        };
        model.check_budget()?;
        Ok(model)
    }

    /// The noise budget and the message space (module docs), for every output.
    pub fn check_budget(&self) -> Result<(), HeError> {
        self.spec.check()?;
        if self.coef.len() != self.features * self.outputs || self.intercept.len() != self.outputs {
            return Err(HeError::Model("the quantised model's shape is inconsistent".into()));
        }
        let half_space = 1i128 << (MESSAGE_BITS - 1);
        for k in 0..self.outputs {
            let sum: i128 = (0..self.features).map(|j| i128::from(self.coef[j * self.outputs + k]).abs()).sum();
            if sum >= i128::from(MAX_WEIGHT_SUM) {
                return Err(HeError::Model(format!(
                    "output {k}'s weights add up to {sum} in magnitude; the noise budget allows less than {MAX_WEIGHT_SUM} \
                     ({} features at {} weight bits may not fit: see docs/he.md)",
                    self.features, self.spec.weight_bits
                )));
            }
            let reach = i128::from(self.intercept[k]).abs() + sum * i128::from(self.spec.input_max());
            if reach >= half_space {
                return Err(HeError::Model(format!("output {k}'s scores can reach {reach}, beyond the message space (±2^31)")));
            }
        }
        Ok(())
    }

    /// A row of encoded features as integers, and how many were clipped to the range.
    pub fn quantise_row(&self, x: &[f64]) -> Result<(Vec<i64>, usize), HeError> {
        if x.len() != self.features {
            return Err(HeError::Data(format!("a row of {} encoded features for a model of {}", x.len(), self.features)));
        }
        self.spec.quantise(x)
    }

    /// The integer scores of a quantised row, in the clear: what decryption must give.
    pub fn scores(&self, xq: &[i64]) -> Vec<i64> {
        (0..self.outputs)
            .map(|k| {
                let s = i128::from(self.intercept[k])
                    + xq.iter().enumerate().map(|(j, x)| i128::from(*x) * i128::from(self.coef[j * self.outputs + k])).sum::<i128>();
                // Within the budget the score fits 32 bits; outside it, the wrap is what the
                // ciphertext would hold too.
                ((s as i64) << 32) >> 32
            })
            .collect()
    }

    /// The largest `Σ_j |w_jk|` over the outputs (what the noise budget bounds).
    pub fn weight_sum(&self) -> i64 {
        (0..self.outputs).map(|k| (0..self.features).map(|j| self.coef[j * self.outputs + k].abs()).sum::<i64>()).max().unwrap_or(0)
    }

    /// The prediction from decrypted scores: the class index (the largest score) or the value.
    pub fn predict(&self, scores: &[i64]) -> f64 {
        if self.outputs == 1 {
            self.dequantise(scores.first().copied().unwrap_or(0))
        } else {
            crate::ml::argmax(scores.iter().map(|s| *s as f64)) as f64
        }
    }

    /// A score back at the float model's scale.
    pub fn dequantise(&self, score: i64) -> f64 {
        score as f64 / (self.weight_scale * self.spec.input_scale())
    }
}

/// The linear or logistic parameters of a trained model, if it has them.
pub fn fitted(model: &AnyModel) -> Option<&Fitted> {
    match model {
        AnyModel::Linear(m) => m.fitted.as_ref(),
        AnyModel::Logistic(m) => m.fitted.as_ref(),
        _ => None,
    }
}

/// The quantised model's score beside the float model's on the same rows of `tables` (the
/// ones `trained` used): accuracy for classes, R² for numbers. `None` for other kinds or a
/// model over the budget.
pub fn quality(trained: &Trained, tables: &[&Table], spec: QuantSpec) -> Option<HeQuality> {
    let fitted = fitted(&trained.model)?;
    let model = QuantModel::new(fitted, trained.preprocessor.width(), spec).ok()?;
    let target = tables.first()?.column_index(&trained.target)?;
    let (mut truth, mut float, mut quantised) = (vec![], vec![], vec![]);
    for t in tables {
        let (rows, y) = target_of(t, target, trained.labels.as_deref());
        let x = trained.preprocessor.transform(t, &rows).ok()?;
        truth.extend(y.as_f64());
        float.extend(fitted.predict(&x));
        for row in x.outer_iter() {
            let (q, _) = model.quantise_row(row.as_slice()?).ok()?;
            quantised.push(model.predict(&model.scores(&q)));
        }
    }
    let score = |pred: &[f64]| -> Option<f64> {
        match &trained.labels {
            Some(_) => Some(truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len().max(1) as f64),
            None => crate::ml::metrics::regression(&truth, pred).ok().map(|r| r.r2),
        }
    };
    Some(HeQuality {
        metric: if trained.labels.is_some() { "accuracy" } else { "r2" }.into(),
        float: score(&float)?,
        quantised: score(&quantised)?,
        rows: truth.len(),
    })
}
