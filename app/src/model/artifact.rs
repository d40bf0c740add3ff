//! A trained model as the trainer stores it (sealed in the object store) and as it will be
//! downloaded: everything needed to reproduce its predictions on new rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ml::metrics::Metrics;
use crate::ml::model::{AnyModel, Model, ModelKind};
use crate::ml::prep::{Coding, Preprocessor};
use crate::model::ApiError;
use crate::table::{Cell, Column, ColumnKind, Table};

pub const ARTIFACT_FORMAT: &str = "cipherfold-model";
pub const ARTIFACT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format: String,
    pub version: u32,
    pub id: String,
    /// The training job that made it (empty for a federation's model).
    pub job_id: String,
    /// The federation whose rounds made it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<String>,
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
    /// What the model's training spent in differential privacy; absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::dp::PrivacySpent>,
    /// The quantised model's score beside the float one (linear and logistic regression from a
    /// job; docs/he.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub he: Option<crate::he::HeQuality>,
    pub created_at: String,
}

/// `POST /api/models/{id}/predict`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictRequest {
    pub rows: Vec<Map<String, Value>>,
}

/// One row's prediction: a value (regression), or a label with every class's probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub probabilities: Option<BTreeMap<String, f64>>,
}

/// Rows beside their predictions, as batch prediction shows and downloads them: the input
/// columns, `prediction`, then `p(label) %` for each class when the model gives probabilities
/// (percentages to one decimal: what people read, in the page and in the CSV alike).
#[derive(Clone, Debug, PartialEq)]
pub struct PredictionTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl PredictionTable {
    pub fn new(columns: &[String], rows: &[Map<String, Value>], predictions: &[Prediction]) -> Self {
        let labels: Vec<String> =
            predictions.first().and_then(|p| p.probabilities.as_ref()).map(|p| p.keys().cloned().collect()).unwrap_or_default();
        let header = columns.iter().cloned().chain(["prediction".to_owned()]).chain(labels.iter().map(|l| format!("p({l}) %"))).collect();
        let rows = rows
            .iter()
            .zip(predictions)
            .map(|(row, p)| {
                let answer = match (&p.label, p.value) {
                    (Some(label), _) => Value::from(label.as_str()),
                    (None, Some(v)) => Value::from(v),
                    (None, None) => Value::Null,
                };
                let probability = |l: &String| {
                    p.probabilities.as_ref().and_then(|ps| ps.get(l)).map_or(Value::Null, |&v| Value::from((v * 1000.0).round() / 10.0))
                };
                columns
                    .iter()
                    .map(|c| row.get(c).cloned().unwrap_or(Value::Null))
                    .chain([answer])
                    .chain(labels.iter().map(probability))
                    .collect()
            })
            .collect();
        PredictionTable { header, rows }
    }

    /// A cell for people: numbers to six decimals, nothing for a missing value.
    pub fn display(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |v| ((v * 1e6).round() / 1e6).to_string()),
            other => other.to_string(),
        }
    }

    /// The whole table as CSV (RFC 4180 quoting by the `csv` crate), numbers unrounded.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.write_record(&self.header)?;
        for row in &self.rows {
            out.write_record(row.iter().map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }))?;
        }
        let bytes = out.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Most rows one prediction request may carry.
pub const MAX_PREDICT_ROWS: usize = 10_000;

/// Largest prediction request body, in bytes: room for `MAX_PREDICT_ROWS` rows of about 3 KB
/// of JSON each (some 150 numeric features), where the server's default JSON limit (2 MiB)
/// refused 10,000 rows of 20 features.
pub const MAX_PREDICT_BODY: usize = 32 << 20;

/// The input columns a preprocessor needs, with their kinds.
pub fn feature_schema(preprocessor: &Preprocessor) -> Vec<Column> {
    preprocessor
        .codings
        .iter()
        .map(|c| match c {
            Coding::Standardised { column, .. } => Column { name: column.clone(), kind: ColumnKind::Numeric },
            Coding::Boolean { column, .. } => Column { name: column.clone(), kind: ColumnKind::Boolean },
            Coding::OneHot { column, .. } => Column { name: column.clone(), kind: ColumnKind::Categorical },
        })
        .collect()
}

/// Rows to predict as a table of the columns `preprocessor` needs, every value checked. A
/// missing feature, a value of the wrong type or a category the model never saw is an error
/// whose field is `rows[N].feature` with N counted from 0, as a JSON index (the message says
/// "row N+1" for people); `null` is a missing value, imputed as in training. Fields the model
/// does not use (the target, an id) are ignored. Plaintext and encrypted prediction read rows
/// alike.
pub fn rows_table(preprocessor: &Preprocessor, rows: &[Map<String, Value>]) -> Result<Table, ApiError> {
    if rows.is_empty() {
        return Err(ApiError::field("rows", "send at least one row"));
    }
    if rows.len() > MAX_PREDICT_ROWS {
        return Err(ApiError::field("rows", format!("at most {MAX_PREDICT_ROWS} rows per request; split the file")));
    }
    let schema = feature_schema(preprocessor);
    let mut cells_of_rows = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let mut cells = Vec::with_capacity(schema.len());
        for (col, coding) in schema.iter().zip(&preprocessor.codings) {
            let at = format!("rows[{i}].{}", col.name);
            let bad = |m: String| ApiError::field(&at, format!("row {}, field “{}”: {m}", i + 1, col.name));
            let value =
                row.get(&col.name).ok_or_else(|| bad("missing; the model needs this field (send null for an unknown value)".into()))?;
            cells.push(match (value, col.kind) {
                (Value::Null, _) => Cell::Missing,
                (Value::Number(n), ColumnKind::Numeric) => Cell::Number(n.as_f64().ok_or_else(|| bad("not a finite number".into()))?),
                (Value::String(s), ColumnKind::Numeric) => match s.trim().parse::<f64>() {
                    Ok(n) if n.is_finite() => Cell::Number(n),
                    _ if crate::table::is_missing_text(s) => Cell::Missing,
                    _ => return Err(bad(format!("expected a number, found “{s}”"))),
                },
                (Value::Bool(b), ColumnKind::Boolean) => Cell::Bool(*b),
                (Value::String(s), ColumnKind::Boolean) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                    Cell::Bool(s.eq_ignore_ascii_case("true"))
                }
                (v, ColumnKind::Categorical) if !v.is_object() && !v.is_array() => {
                    let text = match v {
                        Value::String(s) => s.trim().to_owned(),
                        other => other.to_string(),
                    };
                    let Coding::OneHot { categories, .. } = coding else { unreachable!("categorical columns are one-hot coded") };
                    if categories.binary_search(&text).is_err() {
                        return Err(bad(format!("unknown category “{text}”; the model knows {}", categories.join(", "))));
                    }
                    Cell::Text(text)
                }
                (v, kind) => {
                    let want = match kind {
                        ColumnKind::Numeric => "a number",
                        ColumnKind::Boolean => "true or false",
                        ColumnKind::Categorical => "a category (text)",
                    };
                    return Err(bad(format!("expected {want}, found {v}")));
                }
            });
        }
        cells_of_rows.push(cells);
    }
    Ok(Table::from_rows(schema, cells_of_rows))
}

impl ModelArtifact {
    /// The input columns the model needs, with their kinds.
    pub fn feature_schema(&self) -> Vec<Column> {
        feature_schema(&self.preprocessor)
    }

    /// Checks every row (`rows_table`), then predicts.
    pub fn predict_rows(&self, rows: &[Map<String, Value>]) -> Result<Vec<Prediction>, ApiError> {
        let table = rows_table(&self.preprocessor, rows)?;
        let all: Vec<usize> = (0..table.len()).collect();
        let x = self.preprocessor.transform(&table, &all).map_err(|e| ApiError::Internal { message: e.to_string() })?;
        let internal = |e: crate::ml::MlError| ApiError::Internal { message: format!("prediction failed: {e}") };
        let (values, proba) = self.model.predict_with_proba(&x).map_err(internal)?;
        Ok(values
            .iter()
            .enumerate()
            .map(|(i, v)| match (&self.labels, &proba) {
                (Some(labels), Some(p)) => Prediction {
                    value: None,
                    label: labels.get(*v as usize).cloned(),
                    probabilities: Some(labels.iter().enumerate().map(|(k, l)| (l.clone(), p[[i, k]])).collect()),
                },
                _ => Prediction { value: Some(*v), label: None, probabilities: None },
            })
            .collect())
    }

    /// Models of the same task (target, task and input columns) are versions of each other.
    pub fn task_key(&self) -> String {
        task_key(&self.target, self.labels.is_some(), &self.feature_schema())
    }
}

/// A stable name for a task: what is predicted, from what.
pub fn task_key(target: &str, classification: bool, features: &[Column]) -> String {
    use sha2::Digest;
    let text = serde_json::json!({"target": target, "classification": classification, "features": features}).to_string();
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
}

/// One input a model needs, for forms that ask for a row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputField {
    pub name: String,
    pub kind: ColumnKind,
    /// The categories a categorical input knows (sorted).
    #[serde(default)]
    pub categories: Vec<String>,
}

impl ModelArtifact {
    pub fn inputs(&self) -> Vec<InputField> {
        self.feature_schema()
            .into_iter()
            .zip(&self.preprocessor.codings)
            .map(|(c, coding)| InputField {
                name: c.name,
                kind: c.kind,
                categories: match coding {
                    Coding::OneHot { categories, .. } => categories.clone(),
                    _ => Vec::new(),
                },
            })
            .collect()
    }
}

/// A stored model as listed (no parameters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    /// Versions of one task share this (see `task_key`).
    #[serde(default)]
    pub task: String,
    /// The best version of its task by the main metric (set when listed).
    #[serde(default)]
    pub best: bool,
    pub job_id: String,
    /// The job's title as its page shows it ("Logistic regression on iris"); empty for a
    /// federation's model and for models stored before it was recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_title: String,
    /// The federation that made it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation: Option<String>,
    pub kind: ModelKind,
    pub target: String,
    pub features: Vec<String>,
    #[serde(default)]
    pub inputs: Vec<InputField>,
    pub labels: Option<Vec<String>>,
    pub metrics: Metrics,
    /// What its training spent in differential privacy (ε at δ); absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::dp::PrivacySpent>,
    pub datasets: Vec<String>,
    pub owner_id: String,
    pub owner: String,
    pub domain: String,
    pub subdomain: String,
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prediction_table_lists_inputs_answer_and_probabilities_and_quotes_its_csv() {
        let rows: Vec<Map<String, Value>> = vec![
            serde_json::from_str(r#"{"size": 1.25, "note": "a, \"b\""}"#).unwrap(),
            serde_json::from_str(r#"{"size": null, "note": "c"}"#).unwrap(),
        ];
        let p = |label: &str, yes: f64| Prediction {
            value: None,
            label: Some(label.into()),
            probabilities: Some(BTreeMap::from([("no".into(), 1.0 - yes), ("yes".into(), yes)])),
        };
        let table = PredictionTable::new(&["size".into(), "note".into()], &rows, &[p("yes", 0.625), p("no", 0.25)]);
        assert_eq!(table.header, ["size", "note", "prediction", "p(no) %", "p(yes) %"]);
        assert_eq!(PredictionTable::display(&Value::from(2.0 / 3.0)), "0.666667");
        assert_eq!(PredictionTable::display(&table.rows[1][0]), "");
        let csv = table.to_csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "size,note,prediction,p(no) %,p(yes) %");
        assert_eq!(lines[1], "1.25,\"a, \"\"b\"\"\",yes,37.5,62.5");
        assert_eq!(lines[2], ",c,no,75.0,25.0");
    }
}
