//! Fitting one model on several owners' rows without putting them in one matrix (DESIGN §3,
//! collaborative jobs): each owner's part is fitted on its own and the results are combined in
//! the way that fits the model.
//! - Linear regression: the parts' sufficient statistics XᵀX and Xᵀy are summed and solved,
//!   which is exactly least squares on all rows.
//! - Logistic regression and the DQN: rounds of federated averaging (FedAvg): every part
//!   continues from the shared parameters, and the results are averaged, weighted by rows.
//! - Random forest: each part grows its share of the trees; the forest is their union.
//! - Soft-voting ensembles combine each member by its own rule.
//!   A single decision tree and stacking cannot be combined and are refused.

use ndarray::Array2;

use super::dqn::Network;
use super::ensemble::Combine;
use super::forest::Forest;
use super::linear::Fitted;
use super::model::{check_cancel, AnyModel, Model, Monitor, Quiet};
use super::task::{Target, Task};
use super::MlError;

/// Averaging rounds for the kinds combined by FedAvg.
pub const ROUNDS: usize = 5;

/// Fits `model` on `parts`, one (features, target) pair per owner.
pub fn fit_parts(model: &mut AnyModel, parts: &[(Array2<f64>, Target)], monitor: &mut dyn Monitor) -> Result<(), MlError> {
    match parts {
        [] => Err(MlError::Shape("no data to fit".into())),
        [(x, y)] => model.fit(x, y, monitor),
        _ => combine(model, parts, monitor),
    }
}

fn weights(parts: &[(Array2<f64>, Target)]) -> Vec<f64> {
    let n: usize = parts.iter().map(|(x, _)| x.nrows()).sum();
    parts.iter().map(|(x, _)| x.nrows() as f64 / n.max(1) as f64).collect()
}

/// What to choose instead of a kind that cannot be combined.
const COMBINABLE: &str = "choose a random forest, linear or logistic regression, the DQN, or a soft-voting ensemble of those";

/// Whether `model` can be fitted on several owners' parts by `fit_parts`, checked before a
/// joint job is queued. A refusal names its place in the model spec (`kind`, `params.method`,
/// `params.members[1].kind`).
pub fn check_combinable(model: &AnyModel, task: Task) -> Result<(), MlError> {
    match model {
        AnyModel::Tree(_) => Err(MlError::param("kind", format!("a single decision tree cannot be combined across owners; {COMBINABLE}"))),
        AnyModel::Ensemble(e) if e.params.method == Combine::Stacking => {
            Err(MlError::param("params.method", format!("a stacking ensemble cannot be combined across owners; {COMBINABLE}")))
        }
        AnyModel::Ensemble(e) => {
            for (i, m) in e.build_members(task)?.iter().enumerate() {
                check_combinable(m, task).map_err(|err| match (err, e.params.members.is_empty()) {
                    (_, true) => MlError::param(
                        "params.members",
                        format!("the default members include a decision tree, which cannot be combined across owners; list the members ({COMBINABLE})"),
                    ),
                    (err, false) => err.within(&format!("params.members[{i}]")),
                })?;
            }
            Ok(())
        }
        AnyModel::Linear(_) | AnyModel::Logistic(_) | AnyModel::Forest(_) | AnyModel::Dqn(_) => Ok(()),
    }
}

fn combine(model: &mut AnyModel, parts: &[(Array2<f64>, Target)], monitor: &mut dyn Monitor) -> Result<(), MlError> {
    check_combinable(model, parts[0].1.task())?;
    match model {
        AnyModel::Linear(m) => {
            m.fitted = Some(least_squares(parts)?);
            Ok(())
        }
        AnyModel::Logistic(_) | AnyModel::Dqn(_) => fed_avg(model, parts, monitor),
        AnyModel::Forest(m) => {
            let total: usize = parts.iter().map(|(x, _)| x.nrows()).sum();
            let mut trees = Vec::new();
            let mut task = None;
            for (i, (x, y)) in parts.iter().enumerate() {
                check_cancel(monitor)?;
                let mut params = m.params.clone();
                params.trees = ((m.params.trees * x.nrows()) as f64 / total as f64).round().max(1.0) as usize;
                params.seed = m.params.seed.wrapping_add(i as u64);
                let f = Forest::fit(x, &y.as_f64(), y.task(), &params)?;
                task = Some(f.task);
                trees.extend(f.trees);
                monitor.step(i + 1, parts.len(), None);
            }
            m.fitted = task.map(|task| Forest { task, trees });
            Ok(())
        }
        AnyModel::Ensemble(e) => {
            let task = parts[0].1.task();
            let mut members = e.build_members(task)?;
            for m in &mut members {
                combine(m, parts, &mut Quiet)?;
            }
            e.members = members;
            e.task = Some(task);
            e.meta = None;
            Ok(())
        }
        // Refused above; asked again rather than assumed, so no arm can fit it by mistake.
        AnyModel::Tree(_) => check_combinable(model, parts[0].1.task()),
    }
}

/// Least squares from summed per-part XᵀX and Xᵀy (with an intercept column).
fn least_squares(parts: &[(Array2<f64>, Target)]) -> Result<Fitted, MlError> {
    let d = parts[0].0.ncols() + 1;
    let mut xtx = Array2::<f64>::zeros((d, d));
    let mut xty = vec![0.0; d];
    for (x, y) in parts {
        let Target::Values(y) = y else {
            return Err(MlError::Parameter("linear regression needs a numeric target".into()));
        };
        let (a, b) = normal_equations(x, y);
        xtx += &a;
        xty.iter_mut().zip(b).for_each(|(s, v)| *s += v);
    }
    solve_linear(xtx, xty)
}

/// `AᵀA` and `Aᵀy` for `A` = `x` with a leading column of ones (the intercept): the
/// sufficient statistics of least squares, which add up across parts.
pub(crate) fn normal_equations(x: &Array2<f64>, y: &[f64]) -> (Array2<f64>, Vec<f64>) {
    let d = x.ncols() + 1;
    let mut xtx = Array2::<f64>::zeros((d, d));
    let mut xty = vec![0.0; d];
    for (row, t) in x.outer_iter().zip(y) {
        let aug: Vec<f64> = std::iter::once(1.0).chain(row.iter().copied()).collect();
        for i in 0..d {
            xty[i] += aug[i] * t;
            for j in 0..d {
                xtx[[i, j]] += aug[i] * aug[j];
            }
        }
    }
    (xtx, xty)
}

/// The linear model that solves the normal equations (summed, or averaged: the same model).
pub(crate) fn solve_linear(xtx: Array2<f64>, xty: Vec<f64>) -> Result<Fitted, MlError> {
    let w = solve(xtx, xty)?;
    Ok(Fitted::Linear { intercept: w[0], coef: w[1..].to_vec() })
}

/// Solves `a · w = b` by Gaussian elimination with partial pivoting. Written here because the
/// ndarray linear-algebra crates need a system BLAS/LAPACK, which the browser build lacks.
/// A column that is a combination of others (one-hot columns beside the intercept) gets a
/// tiny ridge so the system stays solvable; the fit is unchanged to ~1e-9.
fn solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Result<Vec<f64>, MlError> {
    let n = b.len();
    let ridge = 1e-10 * (0..n).map(|i| a[[i, i]]).sum::<f64>().max(1.0) / n as f64;
    for i in 1..n {
        a[[i, i]] += ridge;
    }
    for c in 0..n {
        let p = (c..n).max_by(|i, j| a[[*i, c]].abs().total_cmp(&a[[*j, c]].abs())).unwrap_or(c);
        if a[[p, c]].abs() < 1e-300 {
            return Err(MlError::Shape("the features are linearly dependent; drop a duplicated column".into()));
        }
        if p != c {
            for k in 0..n {
                a.swap([p, k], [c, k]);
            }
            b.swap(p, c);
        }
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            for k in c..n {
                a[[r, k]] -= f * a[[c, k]];
            }
            b[r] -= f * b[c];
        }
    }
    let mut w = vec![0.0; n];
    for r in (0..n).rev() {
        w[r] = (b[r] - (r + 1..n).map(|k| a[[r, k]] * w[k]).sum::<f64>()) / a[[r, r]];
    }
    Ok(w)
}

/// Rounds of: every part continues from the shared model; the shared model becomes the
/// row-weighted mean of their parameters.
fn fed_avg(model: &mut AnyModel, parts: &[(Array2<f64>, Target)], monitor: &mut dyn Monitor) -> Result<(), MlError> {
    let w = weights(parts);
    let mut round_model = model.clone();
    if let AnyModel::Dqn(m) = &mut round_model {
        m.params.epochs = m.params.epochs.div_ceil(ROUNDS);
    }
    for round in 0..ROUNDS {
        let start = round_model.clone();
        let mut mean: Option<Vec<f64>> = None;
        let mut shaped = None;
        for ((x, y), share) in parts.iter().zip(&w) {
            check_cancel(monitor)?;
            let mut local = start.clone();
            local.fit(x, y, &mut Quiet)?;
            let p = local.flat_params().ok_or_else(|| MlError::Shape("no parameters after fitting".into()))?;
            let acc = mean.get_or_insert_with(|| vec![0.0; p.len()]);
            if acc.len() != p.len() {
                return Err(MlError::Shape("the parts' models have different shapes".into()));
            }
            for (a, v) in acc.iter_mut().zip(&p) {
                *a += share * v;
            }
            shaped.get_or_insert(local);
        }
        let (Some(mean), Some(shaped)) = (mean, shaped) else {
            return Err(MlError::Shape("no parts".into()));
        };
        round_model = shaped;
        set_flat_params(&mut round_model, &mean)?;
        monitor.step(round + 1, ROUNDS, None);
    }
    if let (AnyModel::Dqn(out), AnyModel::Dqn(done)) = (&mut *model, &round_model) {
        out.network = done.network.clone();
    } else {
        *model = round_model;
    }
    Ok(())
}

/// Puts a flat parameter vector (as `AnyModel::flat_params` gives) back into a fitted model.
pub fn set_flat_params(model: &mut AnyModel, flat: &[f64]) -> Result<(), MlError> {
    let wrong = || MlError::Shape(format!("{} parameters do not fit this model", flat.len()));
    match model {
        AnyModel::Logistic(m) => match &mut m.fitted {
            Some(Fitted::Logistic { classes, intercept, coef }) if flat.len() == intercept.len() + coef.len() => {
                let k = *classes;
                intercept.copy_from_slice(&flat[..k]);
                coef.copy_from_slice(&flat[k..]);
                Ok(())
            }
            _ => Err(wrong()),
        },
        AnyModel::Linear(m) => match &mut m.fitted {
            Some(Fitted::Linear { intercept, coef }) if flat.len() == coef.len() + 1 => {
                *intercept = flat[0];
                coef.copy_from_slice(&flat[1..]);
                Ok(())
            }
            _ => Err(wrong()),
        },
        AnyModel::Dqn(m) => {
            let net: &mut Network = m.network.as_mut().ok_or_else(wrong)?;
            let len: usize = net.layers.iter().map(|l| l.w.len() + l.b.len()).sum();
            if len != flat.len() {
                return Err(wrong());
            }
            let mut values = flat.iter();
            for l in &mut net.layers {
                for v in l.w.iter_mut().chain(l.b.iter_mut()) {
                    *v = *values.next().ok_or_else(wrong)?;
                }
            }
            Ok(())
        }
        _ => Err(MlError::Parameter("this kind has no flat parameter vector".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::model::ModelKind;
    use crate::ml::task::Task;
    use serde_json::Map;

    /// Two parts' summed statistics give the same least squares as all rows in one matrix.
    #[test]
    fn least_squares_over_parts_equals_least_squares_over_all_rows() {
        let x = Array2::from_shape_fn((30, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + (i as f64) * 0.1 * j as f64);
        let y: Vec<f64> = (0..30).map(|i| 2.0 + x[[i, 0]] - 0.5 * x[[i, 1]] + 0.25 * x[[i, 2]] + ((i % 3) as f64 - 1.0) * 0.1).collect();
        let mut whole = AnyModel::build(ModelKind::Linear, &Map::new(), Task::Regression, 0).unwrap();
        whole.fit(&x, &Target::Values(y.clone()), &mut Quiet).unwrap();
        let parts = vec![
            (x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(..12)).to_owned(), Target::Values(y[..12].to_vec())),
            (x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(12..)).to_owned(), Target::Values(y[12..].to_vec())),
        ];
        let mut split = AnyModel::build(ModelKind::Linear, &Map::new(), Task::Regression, 0).unwrap();
        fit_parts(&mut split, &parts, &mut Quiet).unwrap();
        for (a, b) in whole.flat_params().unwrap().iter().zip(split.flat_params().unwrap()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn a_forest_is_the_union_of_the_parts_trees_and_a_tree_is_refused() {
        let x = Array2::from_shape_fn((40, 2), |(i, j)| (i + j) as f64);
        let y = Target::Classes { y: (0..40).map(|i| usize::from(i >= 20)).collect(), classes: 2 };
        let parts = vec![
            (x.clone(), y.clone()),
            (x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(..10)).to_owned(), y.subset(&(0..10).collect::<Vec<_>>())),
        ];
        let params: Map<String, serde_json::Value> = serde_json::from_str(r#"{"trees": 10}"#).unwrap();
        let mut f = AnyModel::build(ModelKind::Forest, &params, y.task(), 0).unwrap();
        fit_parts(&mut f, &parts, &mut Quiet).unwrap();
        let AnyModel::Forest(inner) = &f else { panic!() };
        assert_eq!(inner.fitted.as_ref().unwrap().trees.len(), 8 + 2, "trees shared by rows: 40 and 10 of 50");
        let mut t = AnyModel::build(ModelKind::Tree, &Map::new(), y.task(), 0).unwrap();
        assert!(fit_parts(&mut t, &parts, &mut Quiet).unwrap_err().to_string().contains("cannot be combined"));
    }
}
