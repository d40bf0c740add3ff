//! Per-column summaries for the preview and the dataset page.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{ColumnKind, Table, Values};

/// How many categories a summary lists; the rest are counted in `distinct`.
const TOP: usize = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnSummary {
    pub name: String,
    pub kind: ColumnKind,
    pub missing: usize,
    pub stats: ColumnStats,
}

/// Externally tagged (`{"numeric": {…}}`): it travels only between the upload page and its
/// worker, both Rust, and an internally tagged enum is read through serde's buffered
/// `Content` (about 12 kB of code in the files' worker before wasm-opt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnStats {
    /// `None` when every value is missing.
    Numeric {
        min: Option<f64>,
        max: Option<f64>,
        mean: Option<f64>,
    },
    Categorical {
        distinct: usize,
        top: Vec<(String, usize)>,
    },
    Boolean {
        true_count: usize,
        false_count: usize,
    },
}

impl ColumnSummary {
    /// One line for the upload preview: "age (numeric): 0 missing; min 21, max 81, mean 33.241".
    pub fn describe(&self) -> String {
        let stats = match &self.stats {
            ColumnStats::Numeric { min: Some(min), max: Some(max), mean: Some(mean) } => format!("min {min}, max {max}, mean {mean:.3}"),
            ColumnStats::Numeric { .. } => "no values".to_owned(),
            ColumnStats::Boolean { true_count, false_count } => format!("{true_count} true, {false_count} false"),
            ColumnStats::Categorical { distinct, top } => {
                let top = top.iter().map(|(k, n)| format!("{k} ({n})")).collect::<Vec<_>>().join(", ");
                format!("{distinct} categories; top: {top}")
            }
        };
        format!("{} ({}): {} missing; {stats}", self.name, self.kind.as_str(), self.missing)
    }
}

pub(crate) fn summarise(table: &Table) -> Vec<ColumnSummary> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let (missing, stats) = match table.values(i) {
                Values::Numbers(v) => {
                    let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
                    for &v in v.iter().filter(|v| !v.is_nan()) {
                        min = min.min(v);
                        max = max.max(v);
                        sum += v;
                        n += 1;
                    }
                    let some = |x: f64| (n > 0).then_some(x);
                    (v.len() - n, ColumnStats::Numeric { min: some(min), max: some(max), mean: some(sum / n.max(1) as f64) })
                }
                Values::Bools(v) => {
                    let true_count = v.iter().filter(|b| **b == Some(true)).count();
                    let false_count = v.iter().filter(|b| **b == Some(false)).count();
                    (v.len() - true_count - false_count, ColumnStats::Boolean { true_count, false_count })
                }
                Values::Texts(v) => {
                    let mut counts: HashMap<&str, usize> = HashMap::new();
                    for s in v.iter().flatten() {
                        *counts.entry(s.as_str()).or_default() += 1;
                    }
                    let missing = v.len() - counts.values().sum::<usize>();
                    let distinct = counts.len();
                    let top = top_categories(counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
                    (missing, ColumnStats::Categorical { distinct, top })
                }
            };
            ColumnSummary { name: col.name.clone(), kind: col.kind, missing, stats }
        })
        .collect()
}

/// The `TOP` most frequent of a column's categories and their counts, most frequent first and
/// ties by name, so the preview is stable: for the whole-file summary and the browser's scan
/// alike (one sort, which the worker's bundle then carries once).
pub(crate) fn top_categories(mut counts: Vec<(String, usize)>) -> Vec<(String, usize)> {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts.truncate(TOP);
    counts
}
