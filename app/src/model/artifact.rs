//! A trained model as the trainer stores it (sealed in the object store) and as it will be
//! downloaded: everything needed to reproduce its predictions on new rows.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ml::metrics::Metrics;
use crate::ml::model::{AnyModel, ModelKind};
use crate::ml::prep::Preprocessor;

pub const ARTIFACT_FORMAT: &str = "cipherfold-model";
pub const ARTIFACT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format: String,
    pub version: u32,
    pub id: String,
    pub job_id: String,
    pub kind: ModelKind,
    pub target: String,
    /// Classes in the order of the model's outputs; absent for regression.
    pub labels: Option<Vec<String>>,
    /// How input columns become features (fitted on the training rows).
    pub preprocessor: Preprocessor,
    pub model: AnyModel,
    /// Cross-validated figures of these parameters.
    pub metrics: Metrics,
    pub params: Map<String, Value>,
    pub datasets: Vec<String>,
    pub rows: Vec<usize>,
    pub created_at: String,
}

/// A stored model as listed (no parameters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    pub job_id: String,
    pub kind: ModelKind,
    pub target: String,
    pub features: Vec<String>,
    pub labels: Option<Vec<String>>,
    pub metrics: Metrics,
    pub datasets: Vec<String>,
    pub owner_id: String,
    pub owner: String,
    pub domain: String,
    pub subdomain: String,
    pub created_at: String,
}
