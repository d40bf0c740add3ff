//! Random forests: trees grown on bootstrap samples, each split choosing among a random subset
//! of features (√d for classification, all for regression, as scikit-learn's defaults), and
//! predictions averaged. Seeded, so a job's forest is reproducible.

use linfa::ParamGuard;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::model::{each_monitored, Monitor, Quiet};
use super::task::Task;
use super::tree::{check_depth, check_leaf_and_features, Tree, TreeParams};
use super::MlError;

/// Below this many rows a prediction stays on one thread: a second costs more than it saves.
const PARALLEL_ROWS: usize = 2048;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: Option<usize>,
    pub min_samples_leaf: usize,
    /// `None`: √features for classification, all features for regression.
    pub max_features: Option<usize>,
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { trees: 100, max_depth: None, min_samples_leaf: 1, max_features: None, seed: 0 }
    }
}

/// Most trees one forest may grow: beyond this a forest is slower and larger, not better.
pub const MAX_TREES: usize = 5_000;

super::param_guard!(ForestParams, |p| {
    if !(1..=MAX_TREES).contains(&p.trees) {
        return Err(MlError::param("trees", format!("must be between 1 and {MAX_TREES}, got {}", p.trees)));
    }
    check_depth(p.max_depth)?;
    check_leaf_and_features(p.min_samples_leaf, p.max_features)?;
});

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub task: Task,
    pub trees: Vec<Tree>,
}

impl Forest {
    pub fn fit(x: &Array2<f64>, y: &[f64], task: Task, params: &ForestParams) -> Result<Forest, MlError> {
        Forest::fit_monitored(x, y, task, params, &mut Quiet)
    }

    /// As `fit`, reporting each tree to `monitor` and stopping between trees when it cancels.
    pub fn fit_monitored(
        x: &Array2<f64>,
        y: &[f64],
        task: Task,
        params: &ForestParams,
        monitor: &mut dyn Monitor,
    ) -> Result<Forest, MlError> {
        Forest::fit_on(x, y, task, params, monitor, crate::cores())
    }

    /// As `fit_monitored`, growing trees on up to `workers` threads (the same forest for any).
    fn fit_on(
        x: &Array2<f64>,
        y: &[f64],
        task: Task,
        params: &ForestParams,
        monitor: &mut dyn Monitor,
        workers: usize,
    ) -> Result<Forest, MlError> {
        params.check_ref()?;
        let d = x.ncols();
        let max_features = params.max_features.unwrap_or(match task {
            Task::Classification { .. } => ((d as f64).sqrt().floor() as usize).max(1),
            Task::Regression => d,
        });
        let tree_params = TreeParams {
            max_depth: params.max_depth,
            min_samples_split: 2,
            min_samples_leaf: params.min_samples_leaf,
            max_features: Some(max_features),
            seed: params.seed,
        };
        // Each tree draws from its own generator, seeded in order from the forest's seed: the
        // forest is the same whichever thread grows which tree, and however many there are.
        let mut seeds = StdRng::seed_from_u64(params.seed);
        let seeds: Vec<u64> = (0..params.trees).map(|_| seeds.random()).collect();
        let grow = |t: usize| {
            let mut rng = StdRng::seed_from_u64(seeds[t]);
            let n = x.nrows();
            let sample: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            Tree::fit(x, y, sample, task, &tree_params, &mut rng)
        };
        let trees = each_monitored(params.trees, workers, grow, monitor)?;
        Ok(Forest { task, trees })
    }

    /// Averaged leaf values: class probabilities (one column per class) or the mean (one column).
    pub fn predict_proba(&self, x: &Array2<f64>) -> Array2<f64> {
        let width = match self.task {
            Task::Classification { classes } => classes,
            Task::Regression => 1,
        };
        let mut out = Array2::zeros((x.nrows(), width));
        let parts = if x.nrows() >= PARALLEL_ROWS { crate::cores() } else { 1 };
        let per_part = x.nrows().div_ceil(parts).max(1);
        let chunks = x.axis_chunks_iter(Axis(0), per_part).zip(out.axis_chunks_iter_mut(Axis(0), per_part));
        if parts == 1 {
            chunks.for_each(|(x, out)| self.add_leaves(x, out));
        } else {
            std::thread::scope(|s| {
                for (x, out) in chunks {
                    s.spawn(move || self.add_leaves(x, out));
                }
            });
        }
        out
    }

    /// Adds every tree's leaf for each row of `x` to `out`, tree by tree: one tree's nodes stay
    /// in cache while all the rows walk it (row by row, every tree's nodes were fetched again
    /// for each row; 10,000 rows of a 100-tree forest took 0.9 s). Each cell still sums the
    /// trees in their order, so the result is the same to the bit.
    fn add_leaves(&self, x: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
        let n = self.trees.len() as f64;
        for t in &self.trees {
            for (row, mut o) in x.outer_iter().zip(out.outer_iter_mut()) {
                for (o, v) in o.iter_mut().zip(t.leaf(row)) {
                    *o += v / n;
                }
            }
        }
    }

    /// The most probable class index (as f64), or the regression value.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        self.read_off(&self.predict_proba(x))
    }

    /// `predict` from `predict_proba`'s answer.
    pub fn read_off(&self, p: &Array2<f64>) -> Vec<f64> {
        match self.task {
            Task::Regression => p.column(0).to_vec(),
            Task::Classification { .. } => p.outer_iter().map(|r| super::argmax(r.iter().copied()) as f64).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many rows are predicted in parts on several threads, tree by tree; each row's answer
    /// must be what it gets alone, to the bit, for classification and regression.
    #[test]
    fn many_rows_at_once_answer_as_each_row_alone() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = PARALLEL_ROWS * 2 + 17;
        let x = Array2::from_shape_fn((n, 4), |_| rng.random_range(-1.0..1.0));
        let classes: Vec<f64> = x.outer_iter().map(|r| if r[0] + r[1] * r[2] > 0.0 { 1.0 } else { 0.0 }).collect();
        let values: Vec<f64> = x.outer_iter().map(|r| r[0] * 2.0 - r[3]).collect();
        let params = ForestParams { trees: 7, ..ForestParams::default() };
        for (y, task) in [(&classes, Task::Classification { classes: 2 }), (&values, Task::Regression)] {
            let f = Forest::fit(&x, y, task, &params).unwrap();
            let all = f.predict_proba(&x);
            for (i, row) in x.outer_iter().enumerate() {
                let alone = f.predict_proba(&row.to_owned().insert_axis(Axis(0)));
                assert_eq!(all.row(i), alone.row(0), "row {i}");
            }
            assert_eq!(f.predict(&x), f.read_off(&all));
        }
    }

    /// Trees are grown on several threads, each from its own seed: the forest (every node of
    /// every tree, in order) is the one a single thread grows, and progress counts every tree.
    #[test]
    fn a_forest_grown_on_two_threads_is_the_one_grown_on_one() {
        struct Count(Vec<usize>);
        impl Monitor for Count {
            fn step(&mut self, done: usize, total: usize, _: Option<f64>) {
                assert_eq!(total, 9);
                self.0.push(done);
            }
        }
        let mut rng = StdRng::seed_from_u64(5);
        let x = Array2::from_shape_fn((300, 5), |_| rng.random_range(-1.0..1.0));
        let y: Vec<f64> = x.outer_iter().map(|r| if r[0] - r[4] > 0.1 { 1.0 } else { 0.0 }).collect();
        let params = ForestParams { trees: 9, seed: 11, ..ForestParams::default() };
        let task = Task::Classification { classes: 2 };
        let one = Forest::fit_on(&x, &y, task, &params, &mut Quiet, 1).unwrap();
        let mut count = Count(Vec::new());
        let two = Forest::fit_on(&x, &y, task, &params, &mut count, 2).unwrap();
        assert_eq!(one, two);
        assert_eq!(count.0, (1..=9).collect::<Vec<_>>());
        // Different seeds give different trees (the seeds reach the trees).
        assert_ne!(one.trees[0], one.trees[1]);
    }

    /// A cancelled fit stops between trees on any number of threads and says so.
    #[test]
    fn a_cancelled_forest_stops_with_cancelled() {
        struct CancelAfter(usize);
        impl Monitor for CancelAfter {
            fn step(&mut self, done: usize, _: usize, _: Option<f64>) {
                self.0 = self.0.saturating_sub(usize::from(done > 0));
            }
            fn cancelled(&self) -> bool {
                self.0 == 0
            }
        }
        let x = Array2::from_shape_fn((50, 2), |(i, j)| (i * (j + 1)) as f64);
        let y: Vec<f64> = (0..50).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let params = ForestParams { trees: 40, ..ForestParams::default() };
        for workers in [1, 2] {
            let err = Forest::fit_on(&x, &y, Task::Classification { classes: 2 }, &params, &mut CancelAfter(3), workers).unwrap_err();
            assert!(matches!(err, MlError::Cancelled), "{workers} workers: {err:?}");
        }
    }
}
