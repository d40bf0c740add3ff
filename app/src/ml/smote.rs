//! SMOTE (Chawla et al. 2002): synthetic rows for the rarer classes, each on the segment
//! between a real row and one of its k nearest neighbours of the same class. Applied to the
//! training rows of a fold after preprocessing, never to the rows a model is scored on.
//! Written here because the Rust crates for it are unmaintained or tied to other array types;
//! it is twenty lines of nearest neighbours and interpolation.

use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::MlError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmoteParams {
    /// Neighbours to interpolate towards.
    pub k: usize,
    /// Each class is filled up to `ratio` × the largest class's count.
    pub ratio: f64,
}

impl Default for SmoteParams {
    fn default() -> Self {
        SmoteParams { k: 5, ratio: 1.0 }
    }
}

/// The rows of `x` followed by the synthetic ones, and their classes.
pub fn oversample(
    x: &Array2<f64>,
    y: &[usize],
    classes: usize,
    params: &SmoteParams,
    seed: u64,
) -> Result<(Array2<f64>, Vec<usize>), MlError> {
    if params.k == 0 || !(params.ratio > 0.0 && params.ratio <= 1.0) {
        return Err(MlError::Parameter("smote needs k ≥ 1 and 0 < ratio ≤ 1".into()));
    }
    if x.nrows() != y.len() {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let members: Vec<Vec<usize>> = (0..classes).map(|c| (0..y.len()).filter(|i| y[*i] == c).collect()).collect();
    let largest = members.iter().map(Vec::len).max().unwrap_or(0);
    let goal = (params.ratio * largest as f64).ceil() as usize;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut labels = Vec::new();
    for (c, idx) in members.iter().enumerate() {
        if idx.is_empty() || idx.len() >= goal {
            continue;
        }
        let neighbours: Vec<Vec<usize>> = idx.iter().map(|a| nearest(x, *a, idx, params.k)).collect();
        for _ in 0..goal - idx.len() {
            let pick = rng.random_range(0..idx.len());
            let a = x.row(idx[pick]);
            let b = match neighbours[pick].len() {
                0 => a,
                m => x.row(neighbours[pick][rng.random_range(0..m)]),
            };
            let u: f64 = rng.random();
            rows.push(a.iter().zip(b.iter()).map(|(p, q)| p + u * (q - p)).collect());
            labels.push(c);
        }
    }
    let extra = Array2::from_shape_vec((rows.len(), x.ncols()), rows.concat()).map_err(|e| MlError::Shape(e.to_string()))?;
    let all = ndarray::concatenate(Axis(0), &[x.view(), extra.view()]).map_err(|e| MlError::Shape(e.to_string()))?;
    Ok((all, y.iter().copied().chain(labels).collect()))
}

/// The `k` rows of `among` nearest to row `a` (Euclidean), `a` itself excluded.
fn nearest(x: &Array2<f64>, a: usize, among: &[usize], k: usize) -> Vec<usize> {
    let mut d: Vec<(f64, usize)> = among
        .iter()
        .filter(|b| **b != a)
        .map(|b| (x.row(a).iter().zip(x.row(*b).iter()).map(|(p, q)| (p - q).powi(2)).sum(), *b))
        .collect();
    d.sort_by(|p, q| p.0.total_cmp(&q.0));
    d.into_iter().take(k).map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn synthetic_rows_lie_between_minority_neighbours_and_fill_the_class() {
        // Majority at x≈10, two minority rows at (0,0) and (1,1).
        let x = array![[10.0, 10.0], [10.5, 10.0], [11.0, 10.0], [10.0, 11.0], [10.2, 10.4], [0.0, 0.0], [1.0, 1.0]];
        let y = [0, 0, 0, 0, 0, 1, 1];
        let (xs, ys) = oversample(&x, &y, 2, &SmoteParams::default(), 0).unwrap();
        assert_eq!(ys.iter().filter(|c| **c == 1).count(), 5);
        assert_eq!(xs.nrows(), 10);
        assert_eq!(xs.slice_axis(Axis(0), ndarray::Slice::from(..7)), x, "the real rows come first, unchanged");
        for r in 7..10 {
            let (a, b) = (xs[[r, 0]], xs[[r, 1]]);
            assert!((0.0..=1.0).contains(&a) && (a - b).abs() < 1e-12, "row {r} ({a}, {b}) is on the segment");
        }
        let half = SmoteParams { ratio: 0.6, ..SmoteParams::default() };
        assert_eq!(oversample(&x, &y, 2, &half, 0).unwrap().1.len(), 8);
        assert!(oversample(&x, &y, 2, &SmoteParams { k: 0, ..SmoteParams::default() }, 0).is_err());
    }
}
