//! CART decision trees for classification (Gini) and regression (squared error), the base of
//! the random forest. Written here rather than taken from linfa-trees because that crate grows
//! classification trees only, and the forest needs regression trees too.

use std::collections::HashMap;

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use linfa::ParamGuard;

use super::task::Task;
use super::MlError;

/// A decision tree's hyperparameters, for a tree on its own (`kind: "tree"`) and for each tree
/// of a forest (which sets `max_features` and draws from its own generator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TreeParams {
    /// `None`: grow until leaves are pure or too small.
    pub max_depth: Option<usize>,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features tried at each split; `None` tries all (a plain tree).
    pub max_features: Option<usize>,
    /// Breaks ties between equally good splits reproducibly.
    pub seed: u64,
}

impl Default for TreeParams {
    fn default() -> Self {
        TreeParams { max_depth: None, min_samples_split: 2, min_samples_leaf: 1, max_features: None, seed: 0 }
    }
}

super::param_guard!(TreeParams, |p| {
    check_depth(p.max_depth)?;
    if p.min_samples_split < 2 {
        return Err(MlError::param("min_samples_split", format!("must be at least 2, got {}", p.min_samples_split)));
    }
    check_leaf_and_features(p.min_samples_leaf, p.max_features)?;
});

/// A depth limit of 0 would be a tree without splits; absent means no limit.
pub(crate) fn check_depth(max_depth: Option<usize>) -> Result<(), MlError> {
    match max_depth {
        Some(0) => Err(MlError::param("max_depth", "must be at least 1, or left out for no limit")),
        _ => Ok(()),
    }
}

pub(crate) fn check_leaf_and_features(min_samples_leaf: usize, max_features: Option<usize>) -> Result<(), MlError> {
    if min_samples_leaf == 0 {
        return Err(MlError::param("min_samples_leaf", "must be at least 1"));
    }
    if max_features == Some(0) {
        return Err(MlError::param("max_features", "must be at least 1, or left out for the default"));
    }
    Ok(())
}

/// A node as the model format writes it (`docs/model-format.md`): a tree's `nodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum Node {
    /// Class probabilities (classification) or the mean (regression, one value).
    Leaf { value: Vec<f64> },
    /// Rows with `x[feature] <= threshold` go left.
    Split { feature: usize, threshold: f64, left: usize, right: usize },
}

/// A fitted tree, held compactly: a fully grown forest's trees, not its data, are most of its
/// memory (100 trees on 1M rows held 8.4 times the rows' 160 MB as `Node`s: 40 bytes a node,
/// and a leaf's own allocation for its values). Only splits are nodes here, 20 bytes each in
/// depth-first order; a child is a split's index or, tagged with `LEAF`, a row of one table of
/// leaf values in which equal values are kept once (a fully grown classification tree's
/// leaves are mostly pure: a handful of distinct rows). A fully grown tree has one leaf more
/// than it has splits, so this is 10 bytes per model-format node where 16-byte nodes with
/// leaves among them took 16. Read and written as the model format's `Node`s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "TreeNodes", try_from = "TreeNodes")]
pub struct Tree {
    pub task: Task,
    /// The root: a split's index, or a leaf (a tree of one leaf).
    root: u32,
    splits: Vec<Split>,
    /// Leaf values, `width` (classes, or 1) each.
    values: Vec<f64>,
}

/// One split: rows with `x[feature] <= threshold` go to `left`, the others to `right`. Packed
/// to 4-byte alignment, 20 bytes rather than 24: the threshold is read by value (an unaligned
/// load costs nothing on x86-64 or wasm), never by reference.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C, packed(4))]
struct Split {
    threshold: f64,
    feature: u32,
    left: u32,
    right: u32,
}

const _: () = assert!(std::mem::size_of::<Split>() == 20);

/// The tag of a child that is a leaf; the other bits are its row of leaf values.
const LEAF: u32 = 1 << 31;

/// The model format's form of a tree.
#[derive(Serialize, Deserialize)]
struct TreeNodes {
    task: Task,
    nodes: Vec<Node>,
}

/// Values per leaf.
fn width(task: Task) -> usize {
    match task {
        Task::Classification { classes } => classes,
        Task::Regression => 1,
    }
}

/// A tree being built: splits appended depth-first, leaf values kept once each.
struct Builder {
    width: usize,
    splits: Vec<Split>,
    values: Vec<f64>,
    seen: HashMap<Vec<u64>, u32>,
}

/// Which child of a split a node is.
#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
}

impl Builder {
    fn new(task: Task) -> Builder {
        Builder { width: width(task), splits: Vec::new(), values: Vec::new(), seen: HashMap::new() }
    }

    /// Appends a split (its children set later by `link`) and gives its reference.
    fn split(&mut self, feature: usize, threshold: f64) -> Result<u32, MlError> {
        let feature = u32::try_from(feature).map_err(|_| MlError::Shape(format!("feature {feature}")))?;
        let at = u32::try_from(self.splits.len())
            .ok()
            .filter(|at| at & LEAF == 0)
            .ok_or_else(|| MlError::Shape("more than 2^31 splits in one tree".into()))?;
        self.splits.push(Split { threshold, feature, left: 0, right: 0 });
        Ok(at)
    }

    /// Makes `child` (a reference from `split` or `leaf`) the `side` child of split `at`. A
    /// left child that is a split must be the split appended right after `at` (depth-first,
    /// left first), as `Tree::leaf` relies on.
    fn link(&mut self, at: u32, side: Side, child: u32) -> Result<(), MlError> {
        let split = &mut self.splits[at as usize];
        match side {
            Side::Left if child & LEAF == 0 && child != at + 1 => {
                return Err(MlError::Shape(format!("split {at}'s left child is split {child}, not the next one")))
            }
            Side::Left => split.left = child,
            Side::Right => split.right = child,
        }
        Ok(())
    }

    /// The reference of a leaf holding `value`, its values stored once per distinct value.
    fn leaf(&mut self, value: &[f64]) -> Result<u32, MlError> {
        if value.len() != self.width {
            return Err(MlError::Shape(format!("a leaf of {} values in a tree of {}", value.len(), self.width)));
        }
        let key: Vec<u64> = value.iter().map(|v| v.to_bits()).collect();
        let row = match self.seen.get(&key) {
            Some(row) => *row,
            None => {
                let row = u32::try_from(self.values.len() / self.width.max(1))
                    .ok()
                    .filter(|row| row & LEAF == 0)
                    .ok_or_else(|| MlError::Shape("more than 2^31 distinct leaves in one tree".into()))?;
                self.values.extend_from_slice(value);
                self.seen.insert(key, row);
                row
            }
        };
        Ok(row | LEAF)
    }

    fn finish(mut self, task: Task, root: u32) -> Tree {
        self.splits.shrink_to_fit();
        self.values.shrink_to_fit();
        Tree { task, root, splits: self.splits, values: self.values }
    }
}

impl From<Tree> for TreeNodes {
    fn from(tree: Tree) -> TreeNodes {
        let nodes = tree.nodes();
        TreeNodes { task: tree.task, nodes }
    }
}

impl TryFrom<TreeNodes> for Tree {
    type Error = MlError;

    /// The nodes reached from node 0, depth-first (a tree this trainer wrote is already in
    /// that order); an index past the end, a node reached twice or a leaf of the wrong width
    /// is an error, not a tree that loops or panics when it predicts. A stack, not recursion:
    /// a model file's tree may be as deep as it has nodes.
    fn try_from(wire: TreeNodes) -> Result<Tree, MlError> {
        let mut tree = Builder::new(wire.task);
        let mut seen = vec![false; wire.nodes.len()];
        let mut root = None;
        // (node, the split it is a child of and which child)
        let mut stack = vec![(0, None)];
        while let Some((i, parent)) = stack.pop() {
            let node = wire.nodes.get(i).ok_or_else(|| MlError::Shape(format!("tree node {i} does not exist")))?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(MlError::Shape(format!("tree node {i} is reached twice")));
            }
            let this = match node {
                Node::Leaf { value } => tree.leaf(value)?,
                Node::Split { feature, threshold, left, right } => {
                    let at = tree.split(*feature, *threshold)?;
                    stack.push((*right, Some((at, Side::Right))));
                    stack.push((*left, Some((at, Side::Left))));
                    at
                }
            };
            match parent {
                Some((at, side)) => tree.link(at, side, this)?,
                None => root = Some(this),
            }
        }
        let root = root.ok_or_else(|| MlError::Shape("tree node 0 does not exist".into()))?;
        Ok(tree.finish(wire.task, root))
    }
}

/// Targets as the tree sees them: class indices or values, as f64 either way.
struct Fit<'a> {
    x: &'a Array2<f64>,
    y: &'a [f64],
    task: Task,
    params: &'a TreeParams,
    tree: Builder,
}

impl Fit<'_> {
    fn leaf_value(&self, rows: &[usize]) -> Vec<f64> {
        match self.task {
            Task::Classification { classes } => {
                let mut counts = vec![0.0; classes];
                for r in rows {
                    counts[self.y[*r] as usize] += 1.0;
                }
                counts.iter().map(|c| c / rows.len() as f64).collect()
            }
            Task::Regression => vec![rows.iter().map(|r| self.y[*r]).sum::<f64>() / rows.len() as f64],
        }
    }

    /// Impurity × count (Gini or sum of squared deviations), from running sums.
    fn cost(&self, counts: &[f64], n: f64, sum: f64, sum_sq: f64) -> f64 {
        match self.task {
            Task::Classification { .. } => n - counts.iter().map(|c| c * c).sum::<f64>() / n,
            Task::Regression => sum_sq - sum * sum / n,
        }
    }

    /// The best (feature, threshold, cost) over `features`, or None if no split is allowed.
    fn best_split(&self, rows: &[usize], features: &[usize]) -> Option<(usize, f64, f64)> {
        let k = match self.task {
            Task::Classification { classes } => classes,
            Task::Regression => 0,
        };
        let min_leaf = self.params.min_samples_leaf.max(1);
        let mut best: Option<(usize, f64, f64)> = None;
        // Each feature's (value, target) pairs side by side, sorted by value: a contiguous sort
        // instead of one that reads the matrix at two random rows per comparison. Ties need no
        // order: splits fall only between different values.
        let mut sorted: Vec<(f64, f64)> = Vec::with_capacity(rows.len());
        for &f in features {
            sorted.clear();
            sorted.extend(rows.iter().map(|&r| (self.x[[r, f]], self.y[r])));
            sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let (mut lc, mut rc) = (vec![0.0; k], vec![0.0; k]);
            let (mut ls, mut lss, mut rs, mut rss) = (0.0, 0.0, 0.0, 0.0);
            for &(_, y) in &sorted {
                if k > 0 {
                    rc[y as usize] += 1.0;
                }
                rs += y;
                rss += y * y;
            }
            let n = sorted.len();
            for i in 0..n - 1 {
                let y = sorted[i].1;
                if k > 0 {
                    lc[y as usize] += 1.0;
                    rc[y as usize] -= 1.0;
                }
                ls += y;
                lss += y * y;
                rs -= y;
                rss -= y * y;
                let (a, b) = (sorted[i].0, sorted[i + 1].0);
                if a == b || i + 1 < min_leaf || n - i - 1 < min_leaf {
                    continue;
                }
                let cost = self.cost(&lc, (i + 1) as f64, ls, lss) + self.cost(&rc, (n - i - 1) as f64, rs, rss);
                if best.is_none_or(|(_, _, c)| cost < c - 1e-12) {
                    best = Some((f, a + (b - a) / 2.0, cost));
                }
            }
        }
        best
    }

    /// The node for `rows` and, after it, its subtree; gives the node's reference.
    fn grow(&mut self, rows: Vec<usize>, depth: usize, rng: &mut StdRng) -> Result<u32, MlError> {
        let pure = rows.iter().all(|r| self.y[*r] == self.y[rows[0]]);
        if pure || rows.len() < self.params.min_samples_split.max(2) || self.params.max_depth.is_some_and(|d| depth >= d) {
            return self.tree.leaf(&self.leaf_value(&rows));
        }
        let mut features: Vec<usize> = (0..self.x.ncols()).collect();
        if let Some(m) = self.params.max_features {
            features.shuffle(rng);
            features.truncate(m.clamp(1, self.x.ncols()));
        }
        let Some((feature, threshold, _)) = self.best_split(&rows, &features) else { return self.tree.leaf(&self.leaf_value(&rows)) };
        let (l, r): (Vec<usize>, Vec<usize>) = rows.into_iter().partition(|i| self.x[[*i, feature]] <= threshold);
        let at = self.tree.split(feature, threshold)?;
        let left = self.grow(l, depth + 1, rng)?;
        self.tree.link(at, Side::Left, left)?;
        let right = self.grow(r, depth + 1, rng)?;
        self.tree.link(at, Side::Right, right)?;
        Ok(at)
    }
}

impl Tree {
    /// Grows a tree on `rows` of `x` (all rows when `rows` is None); `y` holds class indices
    /// (as f64) for classification.
    pub fn fit(x: &Array2<f64>, y: &[f64], rows: Vec<usize>, task: Task, params: &TreeParams, rng: &mut StdRng) -> Result<Tree, MlError> {
        params.check_ref()?;
        if x.nrows() != y.len() {
            return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
        }
        if rows.is_empty() || x.ncols() == 0 {
            return Err(MlError::Shape("a tree needs at least one row and one feature".into()));
        }
        if let Task::Classification { classes } = task {
            if let Some(bad) = y.iter().find(|v| **v < 0.0 || **v as usize >= classes || v.fract() != 0.0) {
                return Err(MlError::Shape(format!("class {bad} outside 0..{classes}")));
            }
        }
        let mut fit = Fit { x, y, task, params, tree: Builder::new(task) };
        let root = fit.grow(rows, 0, rng)?;
        Ok(fit.tree.finish(task, root))
    }

    /// The leaf value for one row: class probabilities, or `[mean]`.
    pub fn leaf(&self, row: ndarray::ArrayView1<f64>) -> &[f64] {
        let mut at = self.root;
        while at & LEAF == 0 {
            let split = self.splits[at as usize];
            // A left child that is a split is the next split: going left, the walk knows where
            // it goes before the node's `left` is read, and the processor fetches ahead.
            // Written as `<=`, not `>`: a missing value (NaN) goes right, as it always has.
            at = if row[split.feature as usize] <= split.threshold {
                if split.left & LEAF == 0 {
                    at + 1
                } else {
                    split.left
                }
            } else {
                split.right
            };
        }
        self.leaf_values(at & !LEAF)
    }

    /// Row `row` of the leaf values table.
    fn leaf_values(&self, row: u32) -> &[f64] {
        let w = width(self.task);
        &self.values[row as usize * w..][..w]
    }

    /// The nodes in the model format's form: depth-first, a split's left child the next node.
    pub fn nodes(&self) -> Vec<Node> {
        let mut nodes = Vec::with_capacity(self.splits.len() * 2 + 1);
        // (reference, the split node whose right child it is)
        let mut stack = vec![(self.root, None)];
        while let Some((at, right_of)) = stack.pop() {
            let i = nodes.len();
            if let Some(Node::Split { right, .. }) = right_of.and_then(|s: usize| nodes.get_mut(s)) {
                *right = i;
            }
            if at & LEAF != 0 {
                nodes.push(Node::Leaf { value: self.leaf_values(at & !LEAF).to_vec() });
            } else {
                let split = self.splits[at as usize];
                nodes.push(Node::Split { feature: split.feature as usize, threshold: split.threshold, left: i + 1, right: 0 });
                stack.push((split.right, Some(i)));
                stack.push((split.left, None));
            }
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;

    #[test]
    fn a_tree_separates_what_one_threshold_separates() {
        let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [10.0, 5.0], [11.0, 5.0]];
        let y = [0.0, 0.0, 0.0, 1.0, 1.0];
        let t =
            Tree::fit(&x, &y, (0..5).collect(), Task::Classification { classes: 2 }, &TreeParams::default(), &mut StdRng::seed_from_u64(0))
                .unwrap();
        let nodes = t.nodes();
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0], Node::Split { feature: 0, threshold: 6.5, left: 1, right: 2 });
        assert_eq!(t.leaf(array![2.5, 0.0].view()), &[1.0, 0.0]);
        assert_eq!(t.leaf(array![7.0, 0.0].view()), &[0.0, 1.0]);
        assert_eq!(t.leaf(array![f64::NAN, 0.0].view()), &[0.0, 1.0], "a missing value goes right");
    }

    /// The model format's nodes in any order are read depth-first (the order this trainer
    /// writes), predict as written, and are written back in that order; nodes that loop, do
    /// not exist or hold the wrong count of values are refused.
    #[test]
    fn trees_are_read_and_written_as_the_model_format_says() {
        let task = serde_json::json!({"classification": {"classes": 2}});
        let leaf = |p: f64| serde_json::json!({"node": "leaf", "value": [p, 1.0 - p]});
        let split = |feature: usize, threshold: f64, left: usize, right: usize| serde_json::json!({"node": "split", "feature": feature, "threshold": threshold, "left": left, "right": right});
        // Root's right subtree first in the array, and a leaf value used twice.
        let scrambled =
            serde_json::json!({"task": task, "nodes": [split(1, 0.5, 4, 1), split(0, 2.0, 2, 3), leaf(0.25), leaf(1.0), leaf(1.0)]});
        let t: Tree = serde_json::from_value(scrambled).unwrap();
        assert_eq!(t.leaf(array![0.0, 0.0].view()), &[1.0, 0.0]);
        assert_eq!(t.leaf(array![1.0, 1.0].view()), &[0.25, 0.75]);
        assert_eq!(t.leaf(array![3.0, 1.0].view()), &[1.0, 0.0]);
        assert_eq!((t.splits.len(), t.values.len()), (2, 4), "splits are the only nodes; the equal leaves share their values");
        let written =
            serde_json::json!({"task": task, "nodes": [split(1, 0.5, 1, 2), leaf(1.0), split(0, 2.0, 3, 4), leaf(0.25), leaf(1.0)]});
        assert_eq!(serde_json::to_value(&t).unwrap(), written);
        assert_eq!(serde_json::from_value::<Tree>(written).unwrap(), t);

        for (nodes, message) in [
            (serde_json::json!([split(0, 1.0, 1, 0), leaf(1.0)]), "tree node 0 is reached twice"),
            (serde_json::json!([split(0, 1.0, 1, 2), leaf(1.0)]), "tree node 2 does not exist"),
            (serde_json::json!([]), "tree node 0 does not exist"),
            (serde_json::json!([{"node": "leaf", "value": [1.0]}]), "a leaf of 1 values in a tree of 2"),
        ] {
            let err = serde_json::from_value::<Tree>(serde_json::json!({"task": task, "nodes": nodes})).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }

    /// Regression: y = 1 for x < 3, 5 for x ≥ 3; depth 1 finds it and predicts the means.
    #[test]
    fn a_regression_stump_predicts_the_means_on_each_side() {
        let x = array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]];
        let y = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0];
        let params = TreeParams { max_depth: Some(1), ..TreeParams::default() };
        let t = Tree::fit(&x, &y, (0..6).collect(), Task::Regression, &params, &mut StdRng::seed_from_u64(0)).unwrap();
        assert_eq!(t.leaf(array![0.5].view()), &[1.0]);
        assert_eq!(t.leaf(array![4.5].view()), &[5.0]);
        let deep = Tree::fit(
            &x,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            (0..6).collect(),
            Task::Regression,
            &TreeParams::default(),
            &mut StdRng::seed_from_u64(0),
        )
        .unwrap();
        assert_eq!(deep.leaf(array![2.0].view()), &[3.0], "an unlimited tree fits every training row");
    }

    #[test]
    fn min_samples_leaf_and_bad_classes_are_respected() {
        let x = array![[1.0], [2.0], [3.0], [4.0]];
        let params = TreeParams { min_samples_leaf: 2, ..TreeParams::default() };
        let t = Tree::fit(
            &x,
            &[0.0, 1.0, 0.0, 1.0],
            (0..4).collect(),
            Task::Classification { classes: 2 },
            &params,
            &mut StdRng::seed_from_u64(0),
        )
        .unwrap();
        for n in t.nodes() {
            if let Node::Leaf { value } = n {
                assert!(value.iter().any(|v| *v < 1.0), "no leaf of one row");
            }
        }
        assert!(Tree::fit(
            &x,
            &[0.0, 2.0, 0.0, 1.0],
            (0..4).collect(),
            Task::Classification { classes: 2 },
            &params,
            &mut StdRng::seed_from_u64(0)
        )
        .is_err());
    }
}
