//! Hyperparameter search spaces: a grid (every combination of the listed values) or random
//! draws from declared distributions. Each candidate is the model's base parameters with the
//! searched ones replaced; the trainer scores every candidate by cross-validation.
//!
//! ```json
//! {"grid": {"trees": [50, 100], "max_depth": [3, null]}}
//! {"random": {"trials": 8, "params": {"alpha": {"log_uniform": [0.001, 10]}, "max_iterations": {"int": [50, 300]}}}}
//! ```

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::MlError;

/// The most candidates one search may try, so a typo in a grid cannot queue a week of work.
pub const MAX_CANDIDATES: usize = 200;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SearchSpace {
    Grid(BTreeMap<String, Vec<Value>>),
    Random { trials: usize, params: BTreeMap<String, Distribution> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Uniform on [low, high].
    Uniform([f64; 2]),
    /// Uniform in log space on [low, high], both > 0: for penalties and learning rates.
    LogUniform([f64; 2]),
    /// A whole number in [low, high].
    Int([i64; 2]),
    Choice(Vec<Value>),
}

impl Distribution {
    fn check(&self, name: &str) -> Result<(), MlError> {
        let bad = |why: &str| Err(MlError::Parameter(format!("search parameter “{name}”: {why}")));
        match self {
            Distribution::Uniform([a, b]) if !(a.is_finite() && b.is_finite() && a <= b) => bad("needs finite low ≤ high"),
            Distribution::LogUniform([a, b]) if !(*a > 0.0 && a <= b && b.is_finite()) => bad("needs 0 < low ≤ high"),
            Distribution::Int([a, b]) if a > b => bad("needs low ≤ high"),
            Distribution::Choice(v) if v.is_empty() => bad("needs at least one choice"),
            _ => Ok(()),
        }
    }

    fn draw(&self, rng: &mut StdRng) -> Value {
        match self {
            Distribution::Uniform([a, b]) => Value::from(a + (b - a) * rng.random::<f64>()),
            Distribution::LogUniform([a, b]) => Value::from((a.ln() + (b.ln() - a.ln()) * rng.random::<f64>()).exp()),
            Distribution::Int([a, b]) => Value::from(rng.random_range(*a..=*b)),
            Distribution::Choice(v) => v[rng.random_range(0..v.len())].clone(),
        }
    }
}

impl SearchSpace {
    /// The candidates: `base` with the searched parameters set. `seed` drives random draws.
    pub fn candidates(&self, base: &Map<String, Value>, seed: u64) -> Result<Vec<Map<String, Value>>, MlError> {
        let empty = || MlError::Parameter("the search space is empty; list at least one parameter with at least one value".into());
        match self {
            SearchSpace::Grid(grid) => {
                if grid.is_empty() || grid.values().any(Vec::is_empty) {
                    return Err(empty());
                }
                let total = grid.values().try_fold(1usize, |n, v| n.checked_mul(v.len())).unwrap_or(usize::MAX);
                if total > MAX_CANDIDATES {
                    return Err(too_many(total));
                }
                let mut out = vec![base.clone()];
                for (name, values) in grid {
                    out = out
                        .into_iter()
                        .flat_map(|c| {
                            values.iter().map(move |v| {
                                let mut c = c.clone();
                                c.insert(name.clone(), v.clone());
                                c
                            })
                        })
                        .collect();
                }
                Ok(out)
            }
            SearchSpace::Random { trials, params } => {
                if params.is_empty() || *trials == 0 {
                    return Err(empty());
                }
                if *trials > MAX_CANDIDATES {
                    return Err(too_many(*trials));
                }
                for (name, d) in params {
                    d.check(name)?;
                }
                let mut rng = StdRng::seed_from_u64(seed);
                Ok((0..*trials)
                    .map(|_| {
                        let mut c = base.clone();
                        for (name, d) in params {
                            c.insert(name.clone(), d.draw(&mut rng));
                        }
                        c
                    })
                    .collect())
            }
        }
    }
}

fn too_many(n: usize) -> MlError {
    MlError::Parameter(format!("the search space has {n} candidates; at most {MAX_CANDIDATES} are allowed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(json: &str) -> SearchSpace {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_grid_is_every_combination_over_the_base() {
        let base: Map<String, Value> = serde_json::from_str(r#"{"min_samples_leaf": 2}"#).unwrap();
        let c = space(r#"{"grid": {"trees": [10, 20, 30], "max_depth": [3, null]}}"#).candidates(&base, 0).unwrap();
        assert_eq!(c.len(), 6);
        assert!(c.iter().all(|m| m["min_samples_leaf"] == 2));
        let mut pairs: Vec<String> = c.iter().map(|m| format!("{}/{}", m["trees"], m["max_depth"])).collect();
        pairs.sort();
        assert_eq!(pairs, ["10/3", "10/null", "20/3", "20/null", "30/3", "30/null"]);
    }

    #[test]
    fn random_draws_stay_in_range_and_repeat_with_the_seed() {
        let s = space(r#"{"random": {"trials": 50, "params": {"alpha": {"log_uniform": [0.01, 10]}, "trees": {"int": [5, 7]}}}}"#);
        let c = s.candidates(&Map::new(), 3).unwrap();
        assert_eq!(c.len(), 50);
        for m in &c {
            let a = m["alpha"].as_f64().unwrap();
            assert!((0.01..=10.0).contains(&a));
            assert!((5..=7).contains(&m["trees"].as_i64().unwrap()));
        }
        assert_eq!(c, s.candidates(&Map::new(), 3).unwrap());
    }

    #[test]
    fn empty_and_oversized_spaces_are_refused() {
        for bad in [r#"{"grid": {}}"#, r#"{"grid": {"trees": []}}"#, r#"{"random": {"trials": 0, "params": {"a": {"int": [1, 2]}}}}"#] {
            assert!(space(bad).candidates(&Map::new(), 0).unwrap_err().to_string().contains("empty"), "{bad}");
        }
        let big = format!(r#"{{"grid": {{"a": {:?}, "b": {:?}}}}}"#, (0..20).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        assert!(space(&big).candidates(&Map::new(), 0).unwrap_err().to_string().contains("400 candidates"));
        let inverted = space(r#"{"random": {"trials": 2, "params": {"alpha": {"log_uniform": [0, 1]}}}}"#);
        assert!(inverted.candidates(&Map::new(), 0).is_err());
    }
}
