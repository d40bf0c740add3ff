//! From a [`Table`] to numbers: a preprocessor fitted on the training rows only (means,
//! standard deviations, categories), then applied unchanged to the rows it scores, so nothing
//! about a test fold leaks into its model.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::MlError;
use crate::table::{Cell, ColumnKind, Table};

/// How one input column becomes one or more features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "coding", rename_all = "snake_case")]
pub enum Coding {
    /// `(x − mean) / std`; a missing value becomes the mean (0 after scaling).
    Standardised { column: String, mean: f64, std: f64 },
    /// 1 / 0; a missing value becomes the training share of `true`.
    Boolean { column: String, share_true: f64 },
    /// One feature per training category; unknown or missing values are all zeros.
    OneHot { column: String, categories: Vec<String> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    pub codings: Vec<Coding>,
    #[serde(skip)]
    indices: Vec<usize>,
}

impl Preprocessor {
    /// Fits on `rows` of `table`, for the columns named in `features`.
    pub fn fit(table: &Table, rows: &[usize], features: &[String]) -> Result<Preprocessor, MlError> {
        if rows.is_empty() {
            return Err(MlError::Shape("no training rows".into()));
        }
        let mut codings = Vec::with_capacity(features.len());
        let mut indices = Vec::with_capacity(features.len());
        for name in features {
            let c = table.column_index(name).ok_or_else(|| MlError::Parameter(format!("no column named “{name}”")))?;
            indices.push(c);
            let cells = rows.iter().map(|r| &table.rows[*r][c]);
            codings.push(match table.columns[c].kind {
                ColumnKind::Numeric => {
                    let values: Vec<f64> = cells.filter_map(Cell::as_f64).collect();
                    let n = values.len().max(1) as f64;
                    let mean = values.iter().sum::<f64>() / n;
                    // Population standard deviation, as scikit-learn's StandardScaler.
                    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                    Coding::Standardised { column: name.clone(), mean, std: if std > 0.0 { std } else { 1.0 } }
                }
                ColumnKind::Boolean => {
                    let (t, n) = cells.fold((0usize, 0usize), |(t, n), c| match c {
                        Cell::Bool(b) => (t + usize::from(*b), n + 1),
                        _ => (t, n),
                    });
                    Coding::Boolean { column: name.clone(), share_true: t as f64 / n.max(1) as f64 }
                }
                ColumnKind::Categorical => {
                    let mut categories: Vec<String> = cells
                        .filter_map(|c| match c {
                            Cell::Text(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    categories.sort();
                    categories.dedup();
                    Coding::OneHot { column: name.clone(), categories }
                }
            });
        }
        Ok(Preprocessor { codings, indices })
    }

    /// Number of features after encoding.
    pub fn width(&self) -> usize {
        self.codings
            .iter()
            .map(|c| match c {
                Coding::OneHot { categories, .. } => categories.len(),
                _ => 1,
            })
            .sum()
    }

    pub fn transform(&self, table: &Table, rows: &[usize]) -> Array2<f64> {
        let mut x = Array2::zeros((rows.len(), self.width()));
        for (i, r) in rows.iter().enumerate() {
            let mut j = 0;
            for (coding, c) in self.codings.iter().zip(&self.indices) {
                let cell = &table.rows[*r][*c];
                match coding {
                    Coding::Standardised { mean, std, .. } => {
                        x[[i, j]] = cell.as_f64().map_or(0.0, |v| (v - mean) / std);
                        j += 1;
                    }
                    Coding::Boolean { share_true, .. } => {
                        x[[i, j]] = match cell {
                            Cell::Bool(b) => f64::from(u8::from(*b)),
                            _ => *share_true,
                        };
                        j += 1;
                    }
                    Coding::OneHot { categories, .. } => {
                        if let Cell::Text(s) = cell {
                            if let Ok(k) = categories.binary_search(s) {
                                x[[i, j + k]] = 1.0;
                            }
                        }
                        j += categories.len();
                    }
                }
            }
        }
        x
    }
}

/// A classification target: each row's class index into `labels` (sorted), or `None` if missing.
pub fn class_target(table: &Table, target: &str) -> Result<(Vec<String>, Vec<Option<usize>>), MlError> {
    let c = table.column_index(target).ok_or_else(|| MlError::Parameter(format!("no column named “{target}”")))?;
    let text = |cell: &Cell| match cell {
        Cell::Missing => None,
        other => Some(other.to_string()),
    };
    let mut labels: Vec<String> = table.rows.iter().filter_map(|r| text(&r[c])).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(MlError::Parameter(format!("the target “{target}” needs at least two classes")));
    }
    let classes = table.rows.iter().map(|r| text(&r[c]).and_then(|v| labels.binary_search(&v).ok())).collect();
    Ok((labels, classes))
}

/// A regression target: each row's value, or `None` if missing.
pub fn numeric_target(table: &Table, target: &str) -> Result<Vec<Option<f64>>, MlError> {
    let c = table.column_index(target).ok_or_else(|| MlError::Parameter(format!("no column named “{target}”")))?;
    if table.columns[c].kind != ColumnKind::Numeric {
        return Err(MlError::Parameter(format!("the target “{target}” is not numeric; choose a classifier")));
    }
    Ok(table.rows.iter().map(|r| r[c].as_f64()).collect())
}
