//! From a [`Table`] to numbers: a preprocessor fitted on the training rows only (means,
//! standard deviations, categories), then applied unchanged to the rows it scores, so nothing
//! about a test fold leaks into its model.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::MlError;
use crate::table::{ColumnKind, Table, Values};

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
}

/// Count, mean and sum of squared deviations of one part's values, combined across parts
/// with Chan et al.'s pairwise update, so several owners' statistics give exactly the
/// figures of their rows together without the rows ever meeting.
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn of(values: impl Iterator<Item = f64>) -> Moments {
        let values: Vec<f64> = values.collect();
        let n = values.len() as f64;
        if n == 0.0 {
            return Moments::default();
        }
        let mean = values.iter().sum::<f64>() / n;
        Moments { n, mean, m2: values.iter().map(|v| (v - mean).powi(2)).sum() }
    }

    fn merge(self, o: Moments) -> Moments {
        let n = self.n + o.n;
        if n == 0.0 {
            return self;
        }
        let delta = o.mean - self.mean;
        Moments { n, mean: self.mean + delta * o.n / n, m2: self.m2 + o.m2 + delta * delta * self.n * o.n / n }
    }
}

impl Preprocessor {
    /// Fits on `rows` of `table`, for the columns named in `features`.
    pub fn fit(table: &Table, rows: &[usize], features: &[String]) -> Result<Preprocessor, MlError> {
        Preprocessor::fit_parts(&[(table, rows)], features)
    }

    /// Fits on several tables' rows at once (several owners' data, same columns) from per-part
    /// statistics: the same result as one table holding all the rows.
    pub fn fit_parts(parts: &[(&Table, &[usize])], features: &[String]) -> Result<Preprocessor, MlError> {
        if parts.iter().all(|(_, rows)| rows.is_empty()) {
            return Err(MlError::Shape("no training rows".into()));
        }
        let mut codings = Vec::with_capacity(features.len());
        for name in features {
            let mut columns = Vec::with_capacity(parts.len());
            for (table, rows) in parts {
                let c = table.column_index(name).ok_or_else(|| MlError::Parameter(format!("no column named “{name}”")))?;
                columns.push((table.columns[c].kind, table.values(c), *rows));
            }
            let kind = columns[0].0;
            if columns.iter().any(|(k, ..)| *k != kind) {
                return Err(MlError::Parameter(format!("the column “{name}” has different kinds in different datasets")));
            }
            // A column of a kind holds values of that kind (`Table`'s promise).
            codings.push(match kind {
                ColumnKind::Numeric => {
                    let m = columns
                        .iter()
                        .map(|(_, values, rows)| Moments::of(rows.iter().filter_map(|&r| values.number(r))))
                        .fold(Moments::default(), Moments::merge);
                    // Population standard deviation, as scikit-learn's StandardScaler.
                    let std = (m.m2 / m.n.max(1.0)).sqrt();
                    Coding::Standardised { column: name.clone(), mean: m.mean, std: if std > 0.0 { std } else { 1.0 } }
                }
                ColumnKind::Boolean => {
                    let (t, n) = columns
                        .iter()
                        .filter_map(|(_, values, rows)| match values {
                            Values::Bools(v) => Some((v, rows)),
                            _ => None,
                        })
                        .flat_map(|(v, rows)| rows.iter().filter_map(move |&r| v[r]))
                        .fold((0usize, 0usize), |(t, n), b| (t + usize::from(b), n + 1));
                    Coding::Boolean { column: name.clone(), share_true: t as f64 / n.max(1) as f64 }
                }
                ColumnKind::Categorical => {
                    // Borrowed while counted: one copy per category, not per row.
                    let distinct: std::collections::BTreeSet<&str> = columns
                        .iter()
                        .filter_map(|(_, values, rows)| match values {
                            Values::Texts(v) => Some((v, rows)),
                            _ => None,
                        })
                        .flat_map(|(v, rows)| rows.iter().filter_map(move |&r| v[r].as_deref()))
                        .collect();
                    let categories = distinct.into_iter().map(str::to_owned).collect();
                    Coding::OneHot { column: name.clone(), categories }
                }
            });
        }
        Ok(Preprocessor { codings })
    }

    /// The input columns, in order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.codings.iter().map(|c| match c {
            Coding::Standardised { column, .. } | Coding::Boolean { column, .. } | Coding::OneHot { column, .. } => column.as_str(),
        })
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

    /// Encodes `rows` of `table` (any table with the fitted columns, found by name).
    pub fn transform(&self, table: &Table, rows: &[usize]) -> Result<Array2<f64>, MlError> {
        let indices = self
            .columns()
            .map(|name| table.column_index(name).ok_or_else(|| MlError::Parameter(format!("no column named “{name}”"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut x = Array2::zeros((rows.len(), self.width()));
        // Column by column, as the table stores them; a value of another kind than the
        // coding's (a table of other columns under the same name) is coded as missing.
        let mut j = 0;
        for (coding, &c) in self.codings.iter().zip(&indices) {
            let values = table.values(c);
            match coding {
                Coding::Standardised { mean, std, .. } => {
                    for (i, &r) in rows.iter().enumerate() {
                        x[[i, j]] = values.number(r).map_or(0.0, |v| (v - mean) / std);
                    }
                    j += 1;
                }
                Coding::Boolean { share_true, .. } => {
                    for (i, &r) in rows.iter().enumerate() {
                        x[[i, j]] = match values {
                            Values::Bools(v) => v[r].map_or(*share_true, |b| f64::from(u8::from(b))),
                            _ => *share_true,
                        };
                    }
                    j += 1;
                }
                Coding::OneHot { categories, .. } => {
                    if let Values::Texts(v) = values {
                        for (i, &r) in rows.iter().enumerate() {
                            if let Some(k) = v[r].as_ref().and_then(|s| categories.binary_search(s).ok()) {
                                x[[i, j + k]] = 1.0;
                            }
                        }
                    }
                    j += categories.len();
                }
            }
        }
        Ok(x)
    }
}
