//! What a model learns and is fitted to, shared by every kind.

use serde::{Deserialize, Serialize};

/// What a model learns: classes (how many) or values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Classification { classes: usize },
    Regression,
}

/// What a model is fitted to: class indices (with the number of classes) or values.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Classes { y: Vec<usize>, classes: usize },
    Values(Vec<f64>),
}

impl Target {
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { y, .. } => y.len(),
            Target::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn task(&self) -> Task {
        match self {
            Target::Classes { classes, .. } => Task::Classification { classes: *classes },
            Target::Values(_) => Task::Regression,
        }
    }

    /// The rows `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> Target {
        match self {
            Target::Classes { y, classes } => Target::Classes { y: rows.iter().map(|i| y[*i]).collect(), classes: *classes },
            Target::Values(v) => Target::Values(rows.iter().map(|i| v[*i]).collect()),
        }
    }

    /// Class indices as f64 (what trees take), or the values.
    pub fn as_f64(&self) -> Vec<f64> {
        match self {
            Target::Classes { y, .. } => y.iter().map(|c| *c as f64).collect(),
            Target::Values(v) => v.clone(),
        }
    }
}
