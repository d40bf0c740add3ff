//! Linear regression on linfa and logistic regression by argmin's L-BFGS (the optimiser linfa
//! uses), kept as plain parameter vectors so that a fitted model serialises, predicts without
//! either, and can later be averaged (federated rounds) and quantised for encrypted prediction
//! (`he::quant`).

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use linfa_linalg::qr::{LeastSquaresQrInto, QRInto};
use linfa_linalg::LinalgError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, ShapeBuilder};
use serde::{Deserialize, Serialize};

use super::model::{each_monitored, Quiet};
use super::MlError;

/// A fitted model's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    /// y = intercept + coef · x
    Linear { intercept: f64, coef: Vec<f64> },
    /// P(class c | x) = softmax_c(intercept_c + Σ_j x_j · coef[j · classes + c])
    Logistic { classes: usize, intercept: Vec<f64>, coef: Vec<f64> },
}

impl Fitted {
    /// Every parameter in one vector: intercept(s) first, then coefficients (row-major).
    pub fn params(&self) -> Vec<f64> {
        match self {
            Fitted::Linear { intercept, coef } => std::iter::once(*intercept).chain(coef.iter().copied()).collect(),
            Fitted::Logistic { intercept, coef, .. } => intercept.iter().chain(coef).copied().collect(),
        }
    }

    /// Regression output, or for a classifier the most probable class index.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<f64> {
        match self {
            Fitted::Linear { intercept, coef } => {
                x.outer_iter().map(|row| intercept + row.iter().zip(coef).map(|(a, b)| a * b).sum::<f64>()).collect()
            }
            Fitted::Logistic { .. } => self.predict_proba(x).outer_iter().map(|p| super::argmax(p.iter().copied()) as f64).collect(),
        }
    }

    /// Class probabilities, one row per input row (classifiers only; a regression gets one column).
    pub fn predict_proba(&self, x: &Array2<f64>) -> Array2<f64> {
        match self {
            Fitted::Linear { .. } => Array2::from_shape_vec((x.nrows(), 1), self.predict(x)).unwrap_or_default(),
            Fitted::Logistic { classes, intercept, coef } => {
                let mut out = Array2::zeros((x.nrows(), *classes));
                for (i, row) in x.outer_iter().enumerate() {
                    let z: Vec<f64> = (0..*classes)
                        .map(|c| intercept[c] + row.iter().enumerate().map(|(j, v)| v * coef[j * classes + c]).sum::<f64>())
                        .collect();
                    let max = z.iter().copied().fold(f64::MIN, f64::max);
                    let exp: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
                    let sum: f64 = exp.iter().sum();
                    for c in 0..*classes {
                        out[[i, c]] = exp[c] / sum;
                    }
                }
                out
            }
        }
    }
}

/// Ordinary least squares with an intercept, by Householder QR as linfa-linear does, but in
/// blocks (tall-skinny QR): each block of `BLOCK_ROWS` rows `[x 1 y]` is reduced to its
/// triangular R, on all cores, and the stacked Rs (a few rows per block) are solved as one
/// small least-squares problem. Since `[x 1 y] = Q·R` with Q's columns orthonormal, a block's
/// residual `‖x·β + c - y‖` is `‖R·[β; c; -1]‖`, so the small problem has the same solution.
/// Through linfa-linear (one QR of a row-major copy of all rows, on one core) a 200,000 × 19
/// fit took 1.75× scikit-learn's time; now 0.43×.
pub fn fit_linear(x: Array2<f64>, y: Vec<f64>) -> Result<Fitted, MlError> {
    if x.nrows() != y.len() || x.nrows() == 0 {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    let (rows, features) = x.dim();
    let failed = |e: LinalgError| MlError::Parameter(format!("linear regression failed: {e}"));
    let reduce = |block: std::ops::Range<usize>| {
        let mut a = Array2::ones((block.len(), features + 2).f());
        a.slice_axis_mut(Axis(1), (..features).into()).assign(&x.slice_axis(Axis(0), block.clone().into()));
        a.column_mut(features + 1).assign(&ArrayView1::from(&y[block]));
        // A block no taller than it is wide is its own R.
        if a.nrows() <= a.ncols() {
            return Ok(a);
        }
        // `into_r` is a slice of the block's own buffer: copied out, the block is freed.
        Ok(a.qr_into().map_err(failed)?.into_r().to_owned())
    };
    let parts = each_block(rows, crate::cores(), reduce)?;
    let views: Vec<_> = parts.iter().map(Array2::view).collect();
    let stacked = ndarray::concatenate(Axis(0), &views).map_err(|e| MlError::Shape(e.to_string()))?;
    let (a, b) = stacked.view().split_at(Axis(1), features + 1);
    let solution = a.to_owned().least_squares_into(b.to_owned()).map_err(failed)?;
    let (coef, intercept) = solution.column(0).split_at(Axis(0), features);
    if solution.iter().any(|v| !v.is_finite()) {
        return Err(MlError::Parameter("linear regression failed: a coefficient is not finite".into()));
    }
    Ok(Fitted::Linear { intercept: intercept[0], coef: coef.to_vec() })
}

/// Logistic regression (multinomial, also for two classes) with L2 penalty `alpha`, by L-BFGS,
/// starting from `init` when given (a federated round continues from the global model).
/// Every one of `classes` must occur in `y`.
///
/// The objective is scikit-learn's: Σ log-loss + alpha/2 · ‖W‖² (intercepts not penalised),
/// minimised here in its per-row form (divided by the number of rows), as scikit-learn does
/// since 1.1. Not through linfa-logistic: it minimises the sum itself, whose gradient grows with
/// the rows, so L-BFGS's first unit step lands far off and its line search gave up early on
/// 4 of 5 cross-validation folds of the 8×8 digits (loss 6–9× the optimum, 0.909 accuracy
/// against scikit-learn's 0.969; `tests/ml_quality.rs`). The minimiser is the same.
pub fn fit_logistic(
    x: Array2<f64>,
    y: &[usize],
    classes: usize,
    alpha: f64,
    max_iterations: u64,
    init: Option<&Fitted>,
) -> Result<Fitted, MlError> {
    if x.nrows() != y.len() || x.nrows() == 0 {
        return Err(MlError::Shape(format!("{} rows of features, {} targets", x.nrows(), y.len())));
    }
    if (0..classes).any(|c| !y.contains(&c)) {
        return Err(MlError::Shape("a class has no training rows".into()));
    }
    if let Some(bad) = y.iter().find(|c| **c >= classes) {
        return Err(MlError::Shape(format!("class {bad} of {classes}")));
    }
    let features = x.ncols();
    let start = match init {
        Some(start) => initial_params(start, features, classes)?,
        None => Array2::zeros((features + 1, classes)),
    };
    let problem = Softmax { x: &x, y, classes, alpha, workers: crate::cores(), last: RefCell::new(None) };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRADIENT_TOLERANCE)
        .map_err(|e| MlError::Parameter(format!("logistic regression: {e}")))?;
    let start = Array1::from_iter(start.iter().copied());
    let done = Executor::new(problem, solver)
        .configure(|state| state.param(start).max_iters(max_iterations))
        .run()
        .map_err(|e| MlError::Parameter(format!("logistic regression failed: {e}")))?;
    let best = done.state().get_best_param().ok_or_else(|| MlError::Parameter("logistic regression found no parameters".into()))?;
    if best.iter().any(|v| !v.is_finite()) {
        return Err(MlError::Parameter("logistic regression diverged (a weight is not finite)".into()));
    }
    let (w, b) = split(best.view(), features, classes);
    Ok(Fitted::Logistic { classes, intercept: b.to_vec(), coef: w.iter().copied().collect() })
}

/// L-BFGS stops once the per-row gradient's length is below this: scikit-learn's default
/// `tol` (1e-4, on the largest component) is looser.
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// The multinomial logistic objective per row, for argmin. Parameters are one flat vector:
/// `features` rows of `classes` weights, then the `classes` intercepts (as [`initial_params`]).
struct Softmax<'a> {
    x: &'a Array2<f64>,
    y: &'a [usize],
    classes: usize,
    alpha: f64,
    /// Threads for the pass over the rows (`crate::cores()`; tests vary it).
    workers: usize,
    /// The last parameters evaluated, with what they gave: the line search asks for the cost
    /// and then the gradient at the same point, and both come from one pass over the rows.
    last: RefCell<Option<(Array1<f64>, Evaluated)>>,
}

/// At some parameters: the summed log-loss, and the sums over rows of `x_iᵀ r_i` and of `r_i`
/// (the residual `r_i`: row i's class probabilities minus its one-hot truth), from which the
/// gradient follows.
struct Evaluated {
    loss: f64,
    xtr: Array2<f64>,
    r: Array1<f64>,
}

/// Rows per block of the logistic objective's pass and of the linear fit's QR. The rows are cut
/// into blocks of this size whatever the cores, the blocks spread over the cores, and their
/// results combined in block order: so the fitted model is the same to the bit on one core or
/// many.
const BLOCK_ROWS: usize = 16_384;

/// `job` of each block of `rows` rows (its range of rows) on up to `workers` threads, the
/// results in block order (`each_monitored`).
fn each_block<T: Send>(
    rows: usize,
    workers: usize,
    job: impl Fn(std::ops::Range<usize>) -> Result<T, MlError> + Sync,
) -> Result<Vec<T>, MlError> {
    each_monitored(rows.div_ceil(BLOCK_ROWS), workers, |i| job(i * BLOCK_ROWS..((i + 1) * BLOCK_ROWS).min(rows)), &mut Quiet)
}

/// The weights (features × classes) and intercepts of a flat parameter vector.
fn split(p: ArrayView1<'_, f64>, features: usize, classes: usize) -> (ArrayView2<'_, f64>, ArrayView1<'_, f64>) {
    // The length is ours (the solver keeps the start's shape), so the reshape cannot fail.
    let all = p.into_shape_with_order((features + 1, classes)).expect("(features + 1) × classes parameters");
    let (w, b) = all.split_at(Axis(0), features);
    (w, b.index_axis_move(Axis(0), 0))
}

impl Softmax<'_> {
    /// The objective's sums at `p`: every block of rows, on all cores once there are several
    /// (`each_block`, which gives the blocks' sums in order, so the total is the same for any
    /// number of workers).
    fn evaluate(&self, p: &Array1<f64>) -> Result<Evaluated, MlError> {
        let (w, b) = split(p.view(), self.x.ncols(), self.classes);
        // Not a method: `self` holds a `RefCell`, which threads cannot share.
        let (x, y, classes) = (self.x.view(), self.y, self.classes);
        let block = move |rows: std::ops::Range<usize>| {
            let x = x.slice_axis(Axis(0), rows.clone().into());
            Ok(match classes {
                2 if x.ncols() > 0 => binary_block(x, &y[rows], w, b),
                _ => block(x, &y[rows], classes, w, b),
            })
        };
        let parts = each_block(self.x.nrows(), self.workers, block)?;
        let zero = Evaluated { loss: 0.0, xtr: Array2::zeros((self.x.ncols(), self.classes)), r: Array1::zeros(self.classes) };
        Ok(parts.into_iter().fold(zero, |mut total, part| {
            total.loss += part.loss;
            total.xtr += &part.xtr;
            total.r += &part.r;
            total
        }))
    }

    /// `use_it` on the sums at `p`, computed once per point.
    fn with_evaluated<T>(&self, p: &Array1<f64>, use_it: impl FnOnce(&Evaluated) -> T) -> Result<T, MlError> {
        let mut last = self.last.borrow_mut();
        if let Some((_, e)) = last.as_ref().filter(|(seen, _)| seen == p) {
            return Ok(use_it(e));
        }
        let e = self.evaluate(p)?;
        Ok(use_it(&last.insert((p.clone(), e)).1))
    }
}

/// The objective's sums over the rows `x` with classes `y`.
fn block(x: ArrayView2<f64>, y: &[usize], classes: usize, w: ArrayView2<f64>, b: ArrayView1<f64>) -> Evaluated {
    // Scores written into an array of ours, row-major, so each row is a plain slice: the
    // loop then costs a few nanoseconds a row, where ndarray's per-row views and whole-row
    // operations cost more than the row's arithmetic (two classes).
    let mut h = Array2::zeros((x.nrows(), classes));
    ndarray::linalg::general_mat_mul(1.0, &x, &w, 0.0, &mut h);
    let mut loss = 0.0;
    let mut r = Array1::zeros(classes);
    let scores = h.as_slice_mut().expect("a new array is contiguous");
    for (row, &truth) in scores.chunks_exact_mut(classes).zip(y) {
        let mut max = f64::NEG_INFINITY;
        for (v, b) in row.iter_mut().zip(&b) {
            *v += b;
            max = max.max(*v);
        }
        let picked = row[truth];
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        loss += max + sum.ln() - picked;
        for v in row.iter_mut() {
            *v /= sum;
        }
        row[truth] -= 1.0;
        for (t, v) in r.iter_mut().zip(row.iter()) {
            *t += v;
        }
    }
    Evaluated { loss, xtr: x.t().dot(&h), r }
}

/// `block` for two classes, in one pass over each row while it is in cache. Two classes'
/// softmax depends only on the difference of their scores `d = z₁ - z₀`: row i's loss is
/// `softplus(±d)`, its residuals are `(-r, r)` with `r = σ(d) - [y = 1]`, and the sums of
/// `x_iᵀ r_i` are one column and its negative. So a row costs one dot product, one `exp`, one
/// multiply and one scaled add, where the general pass makes two matrix products (copying the
/// block into the library's packed layout for each) and a softmax over a row of two: at 1M
/// rows × 20 features it took 60 ms a pass on one core (`scripts/bench-scaling.sh`).
fn binary_block(x: ArrayView2<f64>, y: &[usize], w: ArrayView2<f64>, b: ArrayView1<f64>) -> Evaluated {
    let features = x.ncols();
    let v: Vec<f64> = w.outer_iter().map(|wj| wj[1] - wj[0]).collect();
    let c = b[1] - b[0];
    let (mut loss, mut sum_r) = (0.0, 0.0);
    // softplus(s) = max(s, 0) + ln(1 + e): the logarithms are taken of products of up to
    // `LN_ROWS` factors 1 + e, each in (1, 2], so the product stays below 2^256. One `ln` per
    // 256 rows instead of an `ln_1p` per row, which was a third of a pass (1M × 20, one core:
    // 32 ms a pass against 21 without it). Each product's rounding adds at most one ulp a
    // factor, as summing the rows' logarithms would.
    let (mut product, mut factors) = (1.0f64, 0);
    let mut g = vec![0.0; features];
    // The rows as one slice: `fit_logistic`'s rows are in standard layout, another is copied.
    let standard = x.as_standard_layout();
    let rows = standard.as_slice().expect("a standard-layout array is one slice");
    for (row, &truth) in rows.chunks_exact(features.max(1)).zip(y) {
        // ndarray's dot of two slices: eight running sums, which the compiler vectorises.
        let d = c + ArrayView1::from(row).dot(&ArrayView1::from(&v[..]));
        // σ(d) and softplus(±d) from one exp(-|d|), neither overflowing.
        let e = (-d.abs()).exp();
        let p = if d >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
        let s = if truth == 1 { -d } else { d };
        loss += s.max(0.0);
        product *= 1.0 + e;
        factors += 1;
        if factors == LN_ROWS {
            loss += product.ln();
            (product, factors) = (1.0, 0);
        }
        let r = p - if truth == 1 { 1.0 } else { 0.0 };
        sum_r += r;
        for (gj, xj) in g.iter_mut().zip(row) {
            *gj += xj * r;
        }
    }
    loss += product.ln();
    Evaluated {
        loss,
        xtr: Array2::from_shape_fn((features, 2), |(j, k)| if k == 1 { g[j] } else { -g[j] }),
        r: Array1::from(vec![-sum_r, sum_r]),
    }
}

/// Rows whose factors `1 + e` (each at most 2) `binary_block` multiplies before one logarithm.
const LN_ROWS: usize = 256;

impl CostFunction for Softmax<'_> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, p: &Array1<f64>) -> Result<f64, argmin::core::Error> {
        let n = self.x.nrows() as f64;
        let loss = self.with_evaluated(p, |e| e.loss)? / n;
        let (w, _) = split(p.view(), self.x.ncols(), self.classes);
        Ok(loss + 0.5 * self.alpha / n * w.iter().map(|v| v * v).sum::<f64>())
    }
}

impl Gradient for Softmax<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(&self, p: &Array1<f64>) -> Result<Array1<f64>, argmin::core::Error> {
        let n = self.x.nrows() as f64;
        let (w, _) = split(p.view(), self.x.ncols(), self.classes);
        let (gw, gb) = self.with_evaluated(p, |e| ((&e.xtr + &(&w * self.alpha)) / n, &e.r / n))?;
        Ok(gw.iter().chain(gb.iter()).copied().collect())
    }
}

/// The solver's starting point: one row per feature, then the intercepts, one column per class.
fn initial_params(start: &Fitted, features: usize, classes: usize) -> Result<Array2<f64>, MlError> {
    match start {
        Fitted::Logistic { classes: c, intercept, coef } if *c == classes && coef.len() == features * classes => {
            let mut w = Array2::zeros((features + 1, classes));
            for j in 0..features {
                for k in 0..classes {
                    w[[j, k]] = coef[j * classes + k];
                }
            }
            for k in 0..classes {
                w[[features, k]] = intercept[k];
            }
            Ok(w)
        }
        _ => Err(MlError::Shape(format!("the starting model does not fit {features} features and {classes} classes"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The blocked least squares (two full blocks and a last one shorter than it is wide) is
    /// the least-squares solution of the whole matrix at once, to rounding.
    #[test]
    fn linear_regression_in_blocks_is_the_least_squares_of_all_rows() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (rows, features) = (2 * BLOCK_ROWS + 3, 5);
        let x = Array2::from_shape_fn((rows, features), |_| rng.random_range(-3.0..3.0) + 100.0);
        let y: Vec<f64> = x
            .outer_iter()
            .map(|r| 7.0 + r.iter().enumerate().map(|(j, v)| (j as f64 - 2.0) * v).sum::<f64>() + rng.random_range(-1.0..1.0))
            .collect();
        let Fitted::Linear { intercept, coef } = fit_linear(x.clone(), y.clone()).unwrap() else { panic!("a linear model") };
        let mut whole = Array2::ones((rows, features + 1));
        whole.slice_axis_mut(Axis(1), (..features).into()).assign(&x);
        let direct = whole.least_squares_into(Array2::from_shape_vec((rows, 1), y).unwrap()).unwrap();
        for (ours, direct) in coef.iter().chain([&intercept]).zip(direct.column(0)) {
            assert!((ours - direct).abs() <= 1e-9 * (1.0 + direct.abs()), "{ours} against {direct}");
        }
        assert!((coef[4] - 2.0).abs() < 0.01, "{coef:?}");
    }

    /// The pass over the rows gives the same sums to the bit on one thread or several (the
    /// blocks are fixed, their sums added in order), and they are the objective's: the loss
    /// and gradient match a direct row-by-row computation.
    #[test]
    fn the_logistic_objective_is_the_same_on_any_number_of_threads() {
        for classes in [2, 3] {
            objective_on_threads(classes);
        }
    }

    fn objective_on_threads(classes: usize) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (rows, features) = (3 * BLOCK_ROWS + 123, 6);
        let x = Array2::from_shape_fn((rows, features), |_| rng.random_range(-2.0..2.0));
        let y: Vec<usize> = (0..rows).map(|_| rng.random_range(0..classes)).collect();
        let p = Array1::from_shape_fn((features + 1) * classes, |_| rng.random_range(-1.0..1.0));
        let at = |workers| {
            let e = Softmax { x: &x, y: &y, classes, alpha: 0.5, workers, last: RefCell::new(None) }.evaluate(&p).unwrap();
            (e.loss.to_bits(), e.xtr.mapv(f64::to_bits), e.r.mapv(f64::to_bits))
        };
        let one = at(1);
        assert_eq!(one, at(2));
        assert_eq!(one, at(3));

        let (w, b) = split(p.view(), features, classes);
        let (mut loss, mut xtr, mut r) = (0.0, Array2::<f64>::zeros((features, classes)), Array1::<f64>::zeros(classes));
        for (row, &truth) in x.outer_iter().zip(&y) {
            let scores = row.dot(&w) + b;
            let z: f64 = scores.iter().map(|s| s.exp()).sum();
            loss += z.ln() - scores[truth];
            let mut residual = scores.mapv(|s| s.exp() / z);
            residual[truth] -= 1.0;
            r += &residual;
            for j in 0..features {
                for c in 0..classes {
                    xtr[[j, c]] += row[j] * residual[c];
                }
            }
        }
        let e = Softmax { x: &x, y: &y, classes, alpha: 0.5, workers: 2, last: RefCell::new(None) }.evaluate(&p).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
        assert!(close(e.loss, loss), "{} against {loss}", e.loss);
        assert!(e.xtr.iter().zip(&xtr).all(|(a, b)| close(*a, *b)), "{} against {xtr}", e.xtr);
        assert!(e.r.iter().zip(&r).all(|(a, b)| close(*a, *b)), "{} against {r}", e.r);
    }
}
