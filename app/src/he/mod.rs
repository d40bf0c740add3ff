//! Encrypted prediction (docs/he.md): a client encrypts its quantised features under its own
//! LWE key, the server evaluates a linear or logistic model on the ciphertexts with plaintext
//! integer weights (no server key, no bootstrapping: an LWE ciphertext times a cleartext plus
//! another is an encryption of the same combination), and only the client decrypts the scores.
//! The same code runs in the browser's worker (wasm), the CLI and the server.
//!
//! - `quant`: the integer model and the noise budget that makes decryption exact;
//! - `lwe`: keys, encryption and evaluation with tfhe's `core_crypto`;
//! - `wire`: the request and answer bodies of `POST /api/models/{id}/predict-encrypted`.

#[cfg(feature = "he")]
pub mod lwe;
pub mod quant;
pub mod wire;

use serde::{Deserialize, Serialize};

use crate::ml::model::ModelKind;
use crate::ml::prep::Preprocessor;
use quant::QuantSpec;

/// The parameter set's number on the wire (docs/he.md, "Parameters").
pub const PARAMETER_SET: u8 = 1;
/// LWE dimension `n`: the big LWE key of tfhe's `PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128`
/// (GLWE dimension 1 × polynomial size 2048), which tfhe publishes as 128-bit secure with the
/// noise below.
pub const LWE_DIMENSION: usize = 2048;
/// The encryption noise is TUniform with bound `2^17`: every error is an integer in
/// `[-2^17, 2^17]` (that parameter set's GLWE noise).
pub const NOISE_BOUND_LOG2: u32 = 17;
/// The message space is the integers modulo `2^32`, placed in the top 32 bits of the 64-bit
/// torus: `Δ = 2^32`.
pub const MESSAGE_BITS: u32 = 32;

/// `Δ`, the scale of a message in a ciphertext.
pub const fn delta() -> u64 {
    1u64 << (64 - MESSAGE_BITS)
}

/// Why an encrypted prediction cannot be made, in words for the person or the API's 422.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeError {
    /// The model cannot be evaluated on ciphertexts (its kind, or its weights over the budget).
    #[error("{0}")]
    Model(String),
    /// A request or answer body that does not follow docs/he.md; `field` names the part.
    #[error("{field}: {message}")]
    Format { field: &'static str, message: String },
    /// Rows that do not fit the model.
    #[error("{0}")]
    Data(String),
    /// The platform's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

impl HeError {
    pub fn format(field: &'static str, message: impl Into<String>) -> HeError {
        HeError::Format { field, message: message.into() }
    }
}

/// The quantised model beside the float one on the same rows (the training rows, scored by
/// the trainer; a federation's model has none, its rows never reached the server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeQuality {
    /// `accuracy` or `r2`.
    pub metric: String,
    pub float: f64,
    pub quantised: f64,
    pub rows: usize,
}

/// `GET /api/models/{id}/he`: what a client needs to encrypt rows for a model, and what to
/// expect (docs/he.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeOffer {
    pub model_id: String,
    pub kind: ModelKind,
    pub target: String,
    /// Classes in the order of the outputs; absent for regression.
    pub labels: Option<Vec<String>>,
    /// How a row's columns become the encoded features the client quantises.
    pub preprocessor: Preprocessor,
    pub parameter_set: u8,
    pub lwe_dimension: usize,
    pub noise_bound_log2: u32,
    pub message_bits: u32,
    pub spec: QuantSpec,
    /// `s_w`, and the scores' scale `s_w · s_x` a client divides by.
    pub weight_scale: f64,
    pub score_scale: f64,
    pub features: usize,
    pub outputs: usize,
    /// The largest `Σ_j |w_jk|` of the quantised model, and the budget it must stay under.
    pub weight_sum: i64,
    pub max_weight_sum: i64,
    pub upload_bytes_per_row: usize,
    pub answer_bytes_per_row: usize,
    pub quality: Option<HeQuality>,
}

/// Encrypted predictions as the browser's worker returns them to the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeResult {
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub predictions: Vec<crate::model::artifact::Prediction>,
    /// Bytes sent and received.
    pub upload_bytes: usize,
    pub answer_bytes: usize,
    /// Milliseconds: quantising and encrypting, the request, decrypting.
    pub encrypt_ms: f64,
    pub round_trip_ms: f64,
    pub decrypt_ms: f64,
    /// Encoded values outside the input range, clipped to it.
    pub clipped: usize,
}

impl HeOffer {
    /// Rows to predict (as `POST /api/models/{id}/predict` takes them) as quantised encoded
    /// features, with the number of values clipped to the input range; a row that does not fit
    /// is refused as plaintext prediction refuses it.
    pub fn quantise_rows(
        &self,
        rows: &[serde_json::Map<String, serde_json::Value>],
    ) -> Result<(Vec<Vec<i64>>, usize), crate::model::ApiError> {
        use crate::model::ApiError;
        let table = crate::model::artifact::rows_table(&self.preprocessor, rows)?;
        let all: Vec<usize> = (0..table.len()).collect();
        let x = self.preprocessor.transform(&table, &all).map_err(|e| ApiError::field("rows", e.to_string()))?;
        let mut clipped = 0;
        let mut out = Vec::with_capacity(all.len());
        for row in x.outer_iter() {
            let values: Vec<f64> = row.iter().copied().collect();
            let (q, c) = self.spec.quantise(&values).map_err(|e| ApiError::field("rows", e.to_string()))?;
            clipped += c;
            out.push(q);
        }
        Ok((out, clipped))
    }

    /// A prediction from one row's decrypted scores: the class with its probabilities (the
    /// softmax of the scores at the float scale), or the value.
    pub fn prediction(&self, scores: &[i64]) -> crate::model::artifact::Prediction {
        use crate::model::artifact::Prediction;
        let floats: Vec<f64> = scores.iter().map(|s| *s as f64 / self.score_scale).collect();
        match &self.labels {
            Some(labels) => {
                let top = floats.iter().copied().fold(f64::MIN, f64::max);
                let exp: Vec<f64> = floats.iter().map(|v| (v - top).exp()).collect();
                let total: f64 = exp.iter().sum();
                let best = crate::ml::argmax(floats.iter().copied());
                Prediction {
                    value: None,
                    label: labels.get(best).cloned(),
                    probabilities: Some(labels.iter().zip(&exp).map(|(l, e)| (l.clone(), e / total)).collect()),
                }
            }
            None => Prediction { value: floats.first().copied(), label: None, probabilities: None },
        }
    }
}
